"""Where the bytes of a file go: header, side information, shared weights, grids per view.

This is what ``mvcodec info`` prints and what the rate figures of ``docs/performance.md`` quote.
Counting needs only the header (section lengths are in the section table), so it decodes nothing.
"""

from __future__ import annotations

from typing import Any

from bitstream.container import read_header


def bitstream_summary(data: bytes | memoryview, *, source: str | None = None) -> dict[str, Any]:
    """Bytes per component, parameter counts, bits per parameter, bpp and Mbps of a file.

    Args:
        data: the whole file.
        source: the file name, prefixed to error messages.

    Returns:
        a JSON-ready dict: ``version``, ``file_bytes``, ``bytes`` (``header`` = preamble + header
        without the tensor records, ``side_info`` = the tensor records, ``shared_weights``,
        ``grids`` per view name), ``params`` (``shared``, ``grids`` per view name, ``total``),
        ``bits_per_param`` (``payload``: section bits / parameters; ``total``: file bits /
        parameters), ``coded_pixels`` (Σ views W·H·frames), ``bpp`` (file bits / coded pixels),
        ``mbps`` (file bits per second of video at the sequence fps, / 10^6).
    """
    header = read_header(data, source=source)
    seq = header.sequence
    names = seq.view_names
    params_shared = sum(t.numel for t in header.tensors if t.view is None)
    params_views = {n: sum(t.numel for t in header.tensors if t.view == v) for v, n in enumerate(names)}
    params_total = params_shared + sum(params_views.values())
    payload = sum(s.length for s in header.sections)
    bits = 8 * header.file_bytes
    duration = seq.num_frames / seq.fps
    return {
        "version": f"{header.version[0]}.{header.version[1]}",
        "file_bytes": header.file_bytes,
        "bytes": {
            "header": header.header_bytes - header.side_info_bytes,
            "side_info": header.side_info_bytes,
            "shared_weights": header.section_of(None).length,
            "grids": {n: header.section_of(v).length for v, n in enumerate(names)},
        },
        "params": {"shared": params_shared, "grids": params_views, "total": params_total},
        "bits_per_param": {
            "payload": 8 * payload / params_total if params_total else 0.0,
            "total": bits / params_total if params_total else 0.0,
        },
        "coded_pixels": seq.coded_pixels,
        "bpp": bits / seq.coded_pixels,
        "mbps": bits / duration / 1e6,
    }
