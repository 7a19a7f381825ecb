"""Synthesise a whole sequence: a named camera or a pose trace, streamed to raw YUV files.

This is what ``mvcodec synth`` and the CTC harness call (miv_ctc.md §1.5, §1.7). A held-out or
source camera gives one output frame per sequence frame; a pose trace gives one output frame per
CSV row (300 for CTC traces), the row's pose applied to the sequence's ``viewport`` camera and the
source frame chosen by TMIV's mirrored indexing (0 1 … n−1 n−1 … 0 0 1 …).

Outputs: texture ``yuv420p10le`` (the target's colour bit depth) and optionally depth as
``yuv420p16le`` normalised disparity with neutral chroma, both written atomically (a failure
leaves no partial file).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from ctc.camera import Camera
from ctc.errors import InputError
from ctc.posetrace import pose_camera, pose_trace_frames, read_pose_trace
from ctc.sequence import MultiViewVideo, load_sequence
from ctc.synthesis.baseline import nearest_view_baseline
from ctc.synthesis.params import SynthParams
from ctc.synthesis.views import SourceView, SynthOutput
from ctc.device import resolve_device
from ctc.synthesis.vws import synthesize
from ctc.yuv import YuvWriter, parse_pix_fmt

INPAINT_WARNING_FRACTION = 0.05
"""Warn when the inpainter filled more than this fraction of the output (mean over frames)."""

METHODS: dict[str, Callable[..., SynthOutput]] = {"vws": synthesize, "baseline": nearest_view_baseline}
"""Synthesis methods by name: the TMIV-style VWS and the nearest-view baseline."""


@dataclasses.dataclass(frozen=True)
class SynthReport:
    """What :func:`synthesize_sequence` did.

    Attributes:
        target: the camera name, or ``"<viewport> pose trace <file>"``.
        width, height: output size.
        frames: output frames written.
        source_frames: the source frame index used for each output frame.
        views: source views used.
        device: where it ran.
        seconds: wall time of the synthesis (reading, synthesising and writing).
        inpainted_fraction: per output frame, the fraction of pixels the inpainter filled.
        out_texture, out_depth: the files written.
        warnings: one-line messages (large inpainted areas).
    """

    target: str
    width: int
    height: int
    frames: int
    source_frames: tuple[int, ...]
    views: tuple[str, ...]
    device: str
    seconds: float
    inpainted_fraction: tuple[float, ...]
    out_texture: str
    out_depth: str | None
    warnings: tuple[str, ...]

    @property
    def ms_per_frame(self) -> float:
        return 1000.0 * self.seconds / max(self.frames, 1)

    @property
    def mean_inpainted_fraction(self) -> float:
        return float(np.mean(self.inpainted_fraction)) if self.inpainted_fraction else 0.0

    def to_dict(self) -> dict[str, object]:
        out = dataclasses.asdict(self)
        out["ms_per_frame"] = self.ms_per_frame
        out["mean_inpainted_fraction"] = self.mean_inpainted_fraction
        return out


def _select_views(mvv: MultiViewVideo, views: Sequence[str] | None, where: str) -> list[str]:
    if views is None:
        return mvv.views
    names = list(views)
    unknown = [v for v in names if v not in mvv.views]
    if unknown or not names:
        raise InputError(where, f"--views {','.join(names) or '(empty)'}: not source views of the "
                                f"sequence ({', '.join(mvv.views)})")
    return names


def _targets(mvv: MultiViewVideo, camera: str | None, pose_trace: str | os.PathLike[str] | None,
             frames: int | None, where: str) -> tuple[str, list[Camera], list[int]]:
    """(description, one target camera per output frame, source frame per output frame)."""
    if (camera is None) == (pose_trace is None):
        raise InputError(where, "give exactly one of a camera name (--camera) or a pose trace (--pose-trace)")
    if frames is not None and frames < 1:
        raise InputError("--frames", f"must be at least 1, got {frames}")
    n_src = mvv.num_frames
    if camera is not None:
        cam = mvv.camera(camera)
        count = n_src if frames is None else frames
        if count > n_src:
            raise InputError("--frames", f"{count} frames requested for camera {camera!r} but the "
                                         f"sequence has {n_src}")
        return camera, [cam] * count, list(range(count))
    viewport = mvv.sequence.viewport
    if viewport is None:
        raise InputError(where, "the sequence has no 'viewport' camera, which pose traces move")
    poses = read_pose_trace(pose_trace)  # type: ignore[arg-type]
    count = len(poses) if frames is None else min(frames, len(poses))
    cams = [pose_camera(viewport, poses[k], name=f"{viewport.name}@{k}") for k in range(count)]
    return f"{viewport.name} pose trace {Path(pose_trace).name}", cams, pose_trace_frames(count, n_src)  # type: ignore[arg-type]


def synthesize_sequence(
    seq: str | os.PathLike[str] | MultiViewVideo,
    *,
    camera: str | None = None,
    pose_trace: str | os.PathLike[str] | None = None,
    frames: int | None = None,
    views: Sequence[str] | None = None,
    out_texture: str | os.PathLike[str],
    out_depth: str | os.PathLike[str] | None = None,
    device: str = "auto",
    params: SynthParams = SynthParams(),
    method: str = "vws",
    progress: Callable[[int, int], None] | None = None,
) -> SynthReport:
    """Render a camera or a pose trace of a sequence into YUV files.

    Args:
        seq: a ``seq.yaml``, a TMIV JSON, a (decoded) sequence folder holding one, or an open
            :class:`MultiViewVideo`.
        camera: name of any camera in the sequence JSON (held-out, source or ``viewport``).
        pose_trace: a pose-trace CSV (``X,Y,Z,Yaw,Pitch,Roll``), applied to ``viewport``.
        frames: output frames (default: all frames for a camera, all rows for a pose trace).
        views: source views to use (default: all selected views of the sequence).
        out_texture: 10-bit 4:2:0 output. out_depth: optional 16-bit disparity output.
        device: ``auto``, ``cpu`` or ``cuda``.
        params: synthesizer parameters; method: ``"vws"`` or ``"baseline"``.
        progress: called with (frames done, total) after each frame.

    Raises:
        InputError: unknown camera or view, malformed pose trace, bad frame count, sequence
            problems (from :func:`ctc.sequence.load_sequence`), an unknown method or device.
    """
    if method not in METHODS:
        raise InputError("--method", f"unknown synthesis method {method!r} ({', '.join(METHODS)})")
    mvv = seq if isinstance(seq, MultiViewVideo) else load_sequence(seq)
    where = str(mvv.spec.origin or mvv.spec.json)
    names = _select_views(mvv, views, where)
    description, cams, src_frames = _targets(mvv, camera, pose_trace, frames, where)
    dev = resolve_device(device)
    target0 = cams[0]
    w, h = target0.width, target0.height
    render = METHODS[method]
    filled: list[float] = []
    empty: list[float] = []
    t0 = time.perf_counter()
    cache: tuple[int, list[SourceView]] | None = None
    with ExitStack() as stack:
        tex_fmt = parse_pix_fmt(f"yuv420p{target0.bit_depth_color}le" if target0.bit_depth_color > 8 else "yuv420p")
        tex_out = stack.enter_context(YuvWriter(out_texture, w, h, tex_fmt))
        depth_fmt = parse_pix_fmt("yuv420p16le")
        depth_out = stack.enter_context(YuvWriter(out_depth, w, h, depth_fmt)) if out_depth else None
        neutral = np.full(((h + 1) // 2, (w + 1) // 2), depth_fmt.neutral_chroma, dtype=np.uint16)
        for k, (cam, t) in enumerate(zip(cams, src_frames)):
            if cache is None or cache[0] != t:
                cache = (t, frame_sources(mvv, names, t))
            result = render(cache[1], cam, params, dev)
            tex_out.write(result.texture)
            if depth_out is not None:
                depth_out.write((result.depth, neutral, neutral))
            filled.append(result.inpainted_fraction)
            empty.append(result.hole_fraction)
            if progress is not None:
                progress(k + 1, len(cams))
    seconds = time.perf_counter() - t0
    warnings = []
    mean_filled = float(np.mean(filled))
    if mean_filled > INPAINT_WARNING_FRACTION:
        warnings.append(f"{description}: {100 * mean_filled:.1f} % of the output was inpainted on average "
                        f"(max {100 * max(filled):.1f} %): the target sees much that no source view shows")
    if max(empty) > 0:
        warnings.append(f"{description}: {100 * float(np.mean(empty)):.1f} % of the output is empty (neutral "
                        f"grey) on average: no source view sees any part of those frames' rows and columns")
    return SynthReport(target=description, width=w, height=h, frames=len(cams),
                       source_frames=tuple(src_frames), views=tuple(names), device=str(dev),
                       seconds=seconds, inpainted_fraction=tuple(filled),
                       out_texture=str(out_texture), out_depth=None if out_depth is None else str(out_depth),
                       warnings=tuple(warnings))


def frame_sources(mvv: MultiViewVideo, names: Sequence[str], t: int) -> list[SourceView]:
    """The source views of frame ``t`` (texture planes and 16-bit depth samples)."""
    out = []
    for name in names:
        y, u, v = mvv.texture_yuv(name, t, 1)
        depth = mvv.depth_samples(name, t, 1)[0]
        cam = mvv.camera(name)
        out.append(SourceView(cam.replace(bit_depth_depth=16), (y[0], u[0], v[0]), depth))
    return out
