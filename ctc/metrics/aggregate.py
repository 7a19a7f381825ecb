"""From pictures to the numbers a CTC report holds: per frame, per view, per sequence.

MPEG practice (miv_ctc.md §1.6, §4.2 step 4): a metric is computed per frame, a view's value is the
arithmetic mean of its per-frame values **in dB**, and a sequence's value is the mean over its
views. :func:`frame_metrics` computes one frame, :func:`compare_yuv_files` a pair of raw YUV files
(one view), :func:`aggregate_views` the mean over views.

Result keys (one naming everywhere, also in the harness's result files):
``y_psnr``, ``u_psnr``, ``v_psnr``, ``yuv_psnr`` (6:1:1), ``ws_y_psnr`` … ``ws_yuv_psnr`` (ERP
only), ``ivpsnr``. Luma-only formats (``gray*``) give only the ``y`` keys and IV-PSNR on luma.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ctc.errors import InputError
from ctc.metrics.ivpsnr import IvPsnrSettings, ivpsnr_frame
from ctc.metrics.planes import Planes
from ctc.metrics.psnr import psnr_planes
from ctc.metrics.wspsnr import ErpRange, as_erp, ws_psnr_planes
from ctc.yuv import YuvReader

METRICS = ("psnr", "wspsnr", "ivpsnr")
"""Metric families :func:`frame_metrics` knows."""


def _component_keys(values: Mapping[str, float], prefix: str) -> dict[str, float]:
    names = {"y": "y_psnr", "u": "u_psnr", "v": "v_psnr", "yuv611": "yuv_psnr"}
    return {prefix + names[k]: float(v) for k, v in values.items()}


def frame_metrics(ref: Planes, test: Planes, bits: int, *, metrics: Iterable[str] = ("psnr", "ivpsnr"),
                  erp: ErpRange | Sequence | None = None, mask: np.ndarray | None = None,
                  mask_bits: int | None = None, settings: IvPsnrSettings | None = None,
                  device: str | None = None) -> dict[str, float]:
    """The requested metric families of one frame, as a flat ``{key: dB}`` dict (keys above)."""
    metrics = tuple(metrics)
    unknown = sorted(set(metrics) - set(METRICS))
    if unknown:
        raise InputError("metrics", f"unknown metric(s) {', '.join(unknown)} (known: {', '.join(METRICS)})")
    erp = as_erp(erp)
    out: dict[str, float] = {}
    if "psnr" in metrics:
        out.update(_component_keys(psnr_planes(ref, test, bits, mask=mask, mask_bits=mask_bits), ""))
    if "wspsnr" in metrics:
        if erp is None:
            raise InputError("metrics", "WS-PSNR needs the ERP ranges (--erp)")
        out.update(_component_keys(ws_psnr_planes(ref, test, bits, erp, mask=mask, mask_bits=mask_bits), "ws_"))
    if "ivpsnr" in metrics:
        out["ivpsnr"] = ivpsnr_frame(ref, test, bits, erp=erp, mask=mask, mask_bits=mask_bits,
                                     settings=settings, device=device).ivpsnr
    return out


def mean_of(per_frame: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Key-wise arithmetic mean (dB) over frames (or views); keys of the first entry."""
    if not per_frame:
        return {}
    return {k: float(np.mean([f[k] for f in per_frame])) for k in per_frame[0]}


def texture_metrics(ref_tex: Planes, test_tex: Planes, bits: int, *,
                    erp: ErpRange | Sequence | None = None, device: str | None = None) -> dict[str, float]:
    """PSNR (Y, U, V, 6:1:1), WS-PSNR when ``erp`` is given, and IV-PSNR of texture planes.

    ``ref_tex``/``test_tex`` are ``(Y, U, V)`` planes of one frame ``(H, W)`` or of F frames
    ``(F, H, W)``; with several frames the result is the mean over frames.
    """
    metrics = ("psnr", "wspsnr", "ivpsnr") if erp is not None else ("psnr", "ivpsnr")
    ref = [np.asarray(p) for p in ref_tex]
    test = [np.asarray(p) for p in test_tex]
    if ref[0].ndim == 2:
        return frame_metrics(ref, test, bits, metrics=metrics, erp=erp, device=device)
    if len(ref[0]) != len(test[0]):
        raise InputError("test", f"{len(test[0])} frames, reference has {len(ref[0])}")
    return mean_of([frame_metrics([p[f] for p in ref], [p[f] for p in test], bits, metrics=metrics, erp=erp,
                                  device=device) for f in range(len(ref[0]))])


@dataclasses.dataclass(frozen=True)
class SequenceMetrics:
    """Metrics of one view (a pair of YUV files) over a range of frames."""

    frames: tuple[int, ...]
    """Frame indices compared (in both files)."""
    per_frame: tuple[Mapping[str, float], ...]
    """One ``{key: dB}`` per frame, same order as ``frames``."""
    mean: Mapping[str, float]
    """Arithmetic mean of the per-frame values (dB)."""
    settings: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    """What was compared: files, size, pix_fmt, ERP ranges, mask, IV settings."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (used by ``mvcodec metrics --json``)."""
        return {"settings": dict(self.settings), "mean": dict(self.mean),
                "per_frame": [{"frame": f, **dict(v)} for f, v in zip(self.frames, self.per_frame)]}


def parse_frames(text: str | None) -> tuple[int, int | None] | None:
    """``"a:b"`` → ``(a, b)`` (b exclusive, either may be empty), ``"n"`` → ``(n, n+1)``."""
    if text is None or text == "":
        return None
    try:
        if ":" not in text:
            n = int(text)
            return n, n + 1
        a, b = text.split(":", 1)
        return (int(a) if a else 0), (int(b) if b else None)
    except ValueError:
        raise InputError("--frames", f"expected START:STOP or N, got {text!r}") from None


def compare_yuv_files(ref_path: str | os.PathLike[str], test_path: str | os.PathLike[str], width: int,
                      height: int, pix_fmt: str, *, frames: tuple[int, int | None] | None = None,
                      erp: ErpRange | Sequence | None = None, mask_path: str | os.PathLike[str] | None = None,
                      mask_pix_fmt: str | None = None, metrics: Iterable[str] | None = None,
                      settings: IvPsnrSettings | None = None, device: str | None = None) -> SequenceMetrics:
    """Compare two raw YUV files frame by frame.

    Args:
        ref_path, test_path: raw planar files of the same size, format and frame count.
        width, height: luma size.
        pix_fmt: ffmpeg pix_fmt name (``yuv420p10le``, ``gray16le``...); the bit depth comes from it.
        frames: ``(start, stop)`` half-open range (stop None = to the end); None = all frames.
        erp: ERP angular ranges; adds WS-PSNR and switches IV-PSNR to ERP row weights.
        mask_path: mask file (luma used; same size; pix_fmt ``mask_pix_fmt`` or ``pix_fmt``); one
            frame is used for every frame, otherwise frame i masks frame i.
        metrics: subset of :data:`METRICS`; default PSNR + IV-PSNR (+ WS-PSNR for ERP).
        settings: IV-PSNR options (CTC defaults).
        device: torch device for IV-PSNR (``None``/``cpu``, ``cuda``, ``auto``).
    Raises:
        InputError: unreadable files, size or frame-count mismatch, bad range.
    """
    erp = as_erp(erp)
    ref = YuvReader(ref_path, width, height, pix_fmt)
    test = YuvReader(test_path, width, height, pix_fmt)
    if ref.num_frames != test.num_frames:
        raise InputError(test_path, f"{test.num_frames} frames of {width}x{height} {pix_fmt}, "
                                    f"reference {os.fspath(ref_path)} has {ref.num_frames}")
    start, stop = frames if frames is not None else (0, None)
    stop = ref.num_frames if stop is None else stop
    if not 0 <= start < stop <= ref.num_frames:
        raise InputError("--frames", f"range {start}:{stop} is outside the {ref.num_frames} frames of {ref_path}")
    mask_reader = None
    if mask_path is not None:
        mask_reader = YuvReader(mask_path, width, height, mask_pix_fmt or pix_fmt)
        if mask_reader.num_frames not in (1,) and mask_reader.num_frames < stop:
            raise InputError(mask_path, f"{mask_reader.num_frames} mask frames, frames up to {stop - 1} requested")
    if metrics is None:
        metrics = ("psnr", "wspsnr", "ivpsnr") if erp is not None else ("psnr", "ivpsnr")
    metrics = tuple(metrics)
    bits = ref.pix_fmt.bits
    mask_bits = mask_reader.pix_fmt.bits if mask_reader is not None else None
    per_frame = []
    for f in range(start, stop):
        mask = None
        if mask_reader is not None:
            mask = mask_reader.read_luma(0 if mask_reader.num_frames == 1 else f, 1)[0]
        a = [p[0] for p in ref.read(f, 1)]
        b = [p[0] for p in test.read(f, 1)]
        per_frame.append(frame_metrics(a, b, bits, metrics=metrics, erp=erp, mask=mask, mask_bits=mask_bits,
                                       settings=settings, device=device))
    info: dict[str, Any] = {"ref": os.fspath(ref_path), "test": os.fspath(test_path), "size": f"{width}x{height}",
                            "pix_fmt": ref.pix_fmt.name, "metrics": list(metrics),
                            "ivpsnr_settings": dataclasses.asdict(settings or IvPsnrSettings())}
    if erp is not None:
        info["erp"] = {"lon": list(erp.lon), "lat": list(erp.lat)}
    if mask_path is not None:
        info["mask"] = os.fspath(mask_path)
    return SequenceMetrics(frames=tuple(range(start, stop)), per_frame=tuple(per_frame),
                           mean=mean_of(per_frame), settings=info)


def aggregate_views(per_view: Mapping[str, SequenceMetrics | Mapping[str, float]]) -> dict[str, Any]:
    """Mean over views of each view's per-frame mean (MPEG practice: frames first, then views).

    Args:
        per_view: view name → its :class:`SequenceMetrics` (or already its mean ``{key: dB}``).
    Returns:
        ``{"views": {name: mean}, "mean": {key: mean over views}}``; keys common to all views.
    """
    means = {name: dict(v.mean if isinstance(v, SequenceMetrics) else v) for name, v in per_view.items()}
    if not means:
        raise InputError("views", "no views to aggregate")
    common = set.intersection(*(set(m) for m in means.values()))
    first = next(iter(means.values()))
    keys = [k for k in first if k in common]
    return {"views": means, "mean": {k: float(np.mean([m[k] for m in means.values()])) for k in keys}}


__all__ = ["METRICS", "SequenceMetrics", "aggregate_views", "compare_yuv_files", "frame_metrics", "mean_of",
           "parse_frames", "texture_metrics"]
