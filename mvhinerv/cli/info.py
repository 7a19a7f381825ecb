"""``mvcodec info OUT.bin [--json]``: what a bitstream holds and where its bytes go.

Reads the header only (no entropy decoding): the sequence, every camera, the architecture config,
the tensors, bytes per component (header, side information, shared weights, grids per view),
parameter counts, bits per parameter, bpp and Mbps (the header table of Cool-chic's
``cc_decode.py --verbosity``, style.md §7 practice 12). A damaged file prints one line, exit 2.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import click

from bitstream import Header, bitstream_summary, read_header
from ctc.errors import MissingFileError
from mvhinerv.cli.group import main


def read_file(path: str | Path) -> bytes:
    """The bytes of a bitstream the user named (:class:`MissingFileError` if there is none)."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(path, "no such bitstream file")
    return path.read_bytes()


def info_report(data: bytes, source: str) -> dict[str, Any]:
    """Header fields and the byte summary of a file, as one JSON-ready dict."""
    header = read_header(data, source=source)
    seq = header.sequence
    return {
        "file": source,
        "sequence": {**seq.scalar_fields(), "coded_views": list(seq.view_names)},
        "cameras": [
            {
                "name": c.name,
                "coded": c.coded,
                "projection": c.projection,
                "resolution": list(c.resolution),
                "position": list(c.position),
                "rotation": list(c.rotation),
                "depth_range": [c.depth_range[0], "inf" if math.isinf(c.depth_range[1]) else c.depth_range[1]],
                "has_invalid_depth": c.has_invalid_depth,
                "intrinsics": list(c.intrinsics),
            }
            for c in seq.cameras
        ],
        "arch": dict(header.arch),
        "tensors": _tensor_rows(header),
        "summary": bitstream_summary(data, source=source),
    }


def _tensor_rows(header: Header) -> list[dict[str, Any]]:
    names = header.sequence.view_names
    return [
        {
            "name": t.name,
            "section": "shared" if t.view is None else names[t.view],
            "shape": list(t.shape),
            "symbols": [t.min_symbol, t.max_symbol],
            "side_shapes": {k: list(getattr(t, k).shape) for k in ("step", "mean", "std")},
        }
        for t in header.tensors
    ]


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]


def format_report(report: dict[str, Any]) -> str:
    seq, s = report["sequence"], report["summary"]
    lines = [
        f"{report['file']}: MV-HiNeRV bitstream, format {s['version']}, {s['file_bytes']} bytes",
        "",
        f"sequence  {seq['name']!r}: {seq['num_frames']} frames from {seq['start_frame']} at "
        f"{seq['fps']:g} fps, texture {seq['texture_bit_depth']}-bit, depth {seq['depth_bit_depth']}-bit",
        "",
    ]
    cam_rows = [["camera", "coded", "projection", "size", "position", "rotation", "depth range", "intrinsics"]]
    for c in report["cameras"]:
        cam_rows.append([
            c["name"], "view " + str(seq["coded_views"].index(c["name"])) if c["coded"] else "-",
            c["projection"], "x".join(map(str, c["resolution"])),
            ", ".join(f"{x:g}" for x in c["position"]), ", ".join(f"{x:g}" for x in c["rotation"]),
            f"{c['depth_range'][0]:g}..{c['depth_range'][1]}" + (" (invalid=0)" if c["has_invalid_depth"] else ""),
            ", ".join(f"{x:g}" for x in c["intrinsics"]),
        ])
    lines += _table(cam_rows)
    lines += ["", "architecture"]
    lines += ["  " + r for r in _table([[k, json.dumps(v)] for k, v in report["arch"].items()] or [["(empty)", ""]])]
    b, p = s["bytes"], s["params"]
    comp = [["component", "bytes", "parameters", "bits/param"]]
    comp.append(["header", str(b["header"]), "", ""])
    comp.append(["side information", str(b["side_info"]), "", ""])
    comp.append(["shared weights", str(b["shared_weights"]), str(p["shared"]), _bpp(b["shared_weights"], p["shared"])])
    for name, n in b["grids"].items():
        comp.append([f"grids {name}", str(n), str(p["grids"][name]), _bpp(n, p["grids"][name])])
    comp.append(["total", str(s["file_bytes"]), str(p["total"]), f"{s['bits_per_param']['total']:.3f}"])
    lines += ["", *_table(comp), ""]
    lines.append(f"{len(report['tensors'])} tensors; payload {s['bits_per_param']['payload']:.3f} bits/param")
    lines.append(f"bpp {s['bpp']:.6f} (over {s['coded_pixels']} coded pixels), {s['mbps']:.4f} Mbps at {seq['fps']:g} fps")
    return "\n".join(lines)


def _bpp(nbytes: int, params: int) -> str:
    return f"{8 * nbytes / params:.3f}" if params else "-"


@main.command("info")
@click.argument("bitstream_file", metavar="OUT.bin", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def info_command(bitstream_file: str, as_json: bool) -> None:
    """Header (sequence, cameras, architecture), bytes per component, bits/param, bpp, Mbps."""
    report = info_report(read_file(bitstream_file), bitstream_file)
    click.echo(json.dumps(report, indent=2) if as_json else format_report(report))
