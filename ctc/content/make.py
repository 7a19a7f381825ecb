"""``mvcodec content make``: write a catalogue sequence as a complete MIV-format folder.

Layout of the output folder (docs/content.md)::

    DIR/
      {NAME}.json                                  TMIV sequence JSON (Version 4.0), all cameras
      seq.yaml                                     mvcodec wrapper (docs/sequence.md)
      v0_texture_{W}x{H}_yuv420p10le.yuv           source views: texture (10-bit 4:2:0)
      v0_depth_{W}x{H}_yuv420p16le.yuv             ... and depth (16-bit normalised disparity)
      h0_texture_..., h0_depth_...                 held-out cameras (in the JSON, not sources)
      {NAME}p01.csv, p02, p03                      pose traces (relative to ``viewport``)
      poses/{NAME}p01_texture_{w}x{h}_yuv420p10le.yuv   ground truth of each pose trace,
      poses/{NAME}p01_depth_{w}x{h}_yuv420p16le.yuv     one frame per CSV row

Frames are produced one at a time and streamed to disk, so memory does not grow with the
sequence (a full-scale sequence is tens of GB). Everything is written into a temporary folder
beside ``DIR`` and moved into place at the end (:func:`ctc.atomic.atomic_dir`): an interrupted
or failed make leaves nothing behind.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ctc.atomic import atomic_dir
from ctc.camera import Camera
from ctc.content.plan import ContentPlan, frame_planes
from ctc.content.rigs import SCALES
from ctc.device import resolve_device
from ctc.errors import InputError
from ctc.posetrace import pose_camera, pose_trace_frames, write_pose_trace
from ctc.sequence import (DEFAULT_DEPTH_PATTERN, DEFAULT_TEXTURE_PATTERN, SeqSpec,
                          seq_yaml_text, sequence_json_text)
from ctc.yuv import YuvWriter, parse_pix_fmt, yuv_filename

TEXTURE_FMT = parse_pix_fmt("yuv420p10le")
DEPTH_FMT = parse_pix_fmt("yuv420p16le")
Progress = Callable[[str, int], None]
"""Called after each written frame with (what, frames) — for progress bars."""


def pose_trace_name(name: str, index: int) -> str:
    """``{NAME}p01`` for the first trace (CTC naming, miv_ctc.md §1.5)."""
    return f"{name}p{index + 1:02d}"


def plan_sequence(name: str, scale: str, device: str | torch.device = "cpu") -> ContentPlan:
    """The plan of catalogue sequence ``name`` at ``scale`` (tiny, mini or full).

    Raises:
        InputError: unknown sequence name or scale.
    """
    from ctc.content import CATALOG

    if name not in CATALOG:
        raise InputError(name, f"unknown sequence (known: {', '.join(CATALOG)})")
    if scale not in SCALES:
        raise InputError(scale, f"unknown scale (known: {', '.join(SCALES)})")
    if isinstance(device, str):
        device = resolve_device(device)
    return CATALOG[name].plan(SCALES[scale], device)


def _write_camera(folder: Path, camera: Camera, prefix: str, frames: list[tuple[Camera, float]],
                  plan: ContentPlan, progress: Progress | None) -> None:
    """Render/convert ``frames`` ((camera, time) pairs, all of ``camera``'s size) into
    ``{prefix}_texture_…`` and ``{prefix}_depth_…`` YUV files in ``folder``."""
    w, h = camera.resolution
    texture_path = folder / yuv_filename(DEFAULT_TEXTURE_PATTERN, prefix, w, h)
    depth_path = folder / yuv_filename(DEFAULT_DEPTH_PATTERN, prefix, w, h)
    chroma_shape = DEPTH_FMT.plane_shapes(w, h)[1]
    neutral = np.full(chroma_shape, DEPTH_FMT.neutral_chroma, dtype=np.uint16)
    with YuvWriter(texture_path, w, h, TEXTURE_FMT) as tex, YuvWriter(depth_path, w, h, DEPTH_FMT) as dep:
        for cam, time in frames:
            rgb, depth = plan.source.frame(cam, time)
            planes, samples = frame_planes(cam, rgb, depth)
            tex.write(planes)
            dep.write((samples, neutral, neutral))
            if progress is not None:
                progress(prefix, 1)


def write_plan(plan: ContentPlan, out_dir: str | os.PathLike[str],
               progress: Progress | None = None) -> Path:
    """Write ``plan`` into ``out_dir`` (layout in the module docstring); returns the seq.yaml path."""
    out_dir = Path(out_dir)
    seq = plan.sequence
    times = [k / seq.fps for k in range(plan.frames)]
    json_name = f"{plan.name}.json"
    with atomic_dir(out_dir) as tmp:
        (tmp / json_name).write_text(sequence_json_text(seq), encoding="utf-8")
        spec = SeqSpec(json=out_dir.resolve() / json_name, content=out_dir.resolve())
        (tmp / "seq.yaml").write_text(seq_yaml_text(spec, out_dir.resolve()), encoding="utf-8")
        for cam in plan.truth_cameras:
            _write_camera(tmp, cam, cam.name, [(cam, t) for t in times], plan, progress)
        viewport = seq.viewport
        assert viewport is not None
        for index, rows in enumerate(plan.pose_traces):
            trace = pose_trace_name(plan.name, index)
            write_pose_trace(tmp / f"{trace}.csv", rows)
            if plan.pose_truth:
                source_frames = pose_trace_frames(len(rows), plan.frames)
                frames = [(pose_camera(viewport, row), times[k]) for row, k in zip(rows, source_frames)]
                _write_camera(tmp / "poses", viewport, trace, frames, plan, progress)
    return out_dir / "seq.yaml"


def total_frames(plan: ContentPlan) -> int:
    """Frames :func:`write_plan` produces (for progress bars)."""
    count = len(plan.truth_cameras) * plan.frames
    if plan.pose_truth:
        count += sum(len(rows) for rows in plan.pose_traces)
    return count


def make_sequence(name: str, scale: str, out_dir: str | os.PathLike[str], device: str = "auto",
                  progress: Progress | None = None) -> Path:
    """Write catalogue sequence ``name`` at ``scale`` into ``out_dir``; returns the seq.yaml path.

    Args:
        name: a name of :data:`ctc.content.CATALOG` (``mvcodec content list``).
        scale: ``tiny``, ``mini`` or ``full`` (:data:`ctc.content.rigs.SCALES`).
        out_dir: output folder (created; same-named files are replaced).
        device: ``auto``, ``cpu`` or ``cuda`` for rendering. Output is byte-identical from run
            to run on one device; CPU and CUDA may differ in the last bit of a few samples.
        progress: called with (file prefix, 1) after every frame.

    Raises:
        InputError: unknown name, scale or device.
    """
    plan = plan_sequence(name, scale, device)
    return write_plan(plan, out_dir, progress)
