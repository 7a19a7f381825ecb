"""``mvcodec content list|make``: files, formats, determinism, depth ranges, bad input.

Tier: smoke/round trip on the tiny scale (≤ 128 px, 3 views, 5 frames): every catalogue sequence
is made once per module and inspected; one is made a second time to check byte identity.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from ctc.content import CATALOG, list_sequences, make_sequence, plan_sequence
from ctc.content.consistency import quantized_view
from ctc.content.make import write_plan
from ctc.content.rigs import SCALES, Scale
from ctc.errors import InputError
from ctc.posetrace import pose_camera, pose_trace_frames, read_pose_trace
from ctc.sequence import load_sequence, read_sequence_json

TINY = SCALES["tiny"]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, one_thread) -> dict[str, Path]:
    """Every catalogue sequence made at the tiny scale: name -> folder."""
    root = tmp_path_factory.mktemp("content")
    return {name: make_sequence(name, "tiny", root / name, device="cpu").parent for name in CATALOG}


def test_list_prints_one_sequence_a_line(cli):
    result = cli(["content", "list"])
    assert result.exit_code == 0
    lines = result.output.strip().splitlines()
    assert [line.split()[0] for line in lines] == list(CATALOG)
    assert len(CATALOG) >= 5
    for line, (name, summary) in zip(lines, list_sequences()):
        assert line.endswith(summary)
        assert re.search(r"\d+ views", summary) and ("Perspective" in summary or "Equirect" in summary)
        assert "tiny" in summary and "mini" in summary and "full" in summary


def test_catalogue_mirrors_the_ctc_rigs():
    names = ("linear13", "planar16", "arc11", "erp10")
    kinds = {CATALOG[n].rig.kind: len(CATALOG[n].rig.sources) for n in names}
    assert kinds == {"linear": 13, "planar 4x4": 16, "arc": 11, "ERP cluster": 10}
    arc = CATALOG["arc11"].rig
    assert all(p.rotation[1] > 15 for p in arc.sources)          # elevated, looking down
    assert CATALOG["erp10"].rig.lens.hor_range == (-90.0, 90.0)  # 180°x180° ERP
    assert math.isinf(CATALOG["erp10"].depth_range[1])


def test_viewport_is_perspective_with_the_rig_lens_by_default():
    """A perspective rig's viewport shares its lens; an ERP rig must name a perspective one
    (TMIV's viewport is perspective, miv_ctc.md §1.5)."""
    for name in ("linear13", "planar16", "arc11", "erp10"):
        rig = CATALOG[name].rig
        viewport = rig.cameras(TINY, (0.5, 10.0))[2]
        assert viewport.projection == "Perspective"
        if rig.lens.projection == "Perspective":
            assert rig.viewport_lens is None
            assert viewport.focal == rig.cameras(TINY, (0.5, 10.0))[0][0].focal
    with pytest.raises(ValueError, match="perspective viewport_lens"):
        dataclasses.replace(CATALOG["erp10"].rig, viewport_lens=None)


@pytest.mark.parametrize("name", list(CATALOG))
def test_tiny_make_writes_a_complete_sequence(tiny, name):
    folder = tiny[name]
    seq = read_sequence_json(folder / f"{name}.json")
    assert seq.version == "4.0" and seq.fps == 30 and seq.frames_number == TINY.frames
    mvv = load_sequence(folder / "seq.yaml")
    assert mvv.num_frames == TINY.frames
    assert mvv.views == list(seq.source_camera_names)
    assert len(mvv.views) == (2 if name == "motorcycle" else 3)
    assert seq.viewport is not None
    for cam in seq.source_cameras + seq.held_out_cameras:
        w, h = cam.resolution
        assert max(w, h) <= 128 and w % 2 == 0 and h % 2 == 0
        for kind, fmt in (("texture", "yuv420p10le"), ("depth", "yuv420p16le")):
            path = folder / f"{cam.name}_{kind}_{w}x{h}_{fmt}.yuv"
            assert path.stat().st_size == w * h * 3 * TINY.frames  # 1.5 samples × 2 bytes
    y, u, v = mvv.texture_yuv(mvv.views[0], 0, TINY.frames)
    assert y.shape == (TINY.frames, mvv.height, mvv.width)
    assert u.shape[1:] == (mvv.height // 2, mvv.width // 2)
    assert 64 <= y.min() and y.max() <= 940                    # limited range 10-bit
    assert mvv.depth_samples(mvv.views[0], 0, 1).max() > 0
    assert not list(folder.parent.glob(".*part"))               # nothing left half-written


@pytest.mark.parametrize("name", [n for n in CATALOG if n != "motorcycle"])
def test_synthetic_sequences_have_held_out_cameras_and_pose_truth(tiny, name):
    folder = tiny[name]
    seq = read_sequence_json(folder / f"{name}.json")
    held = seq.held_out_cameras
    assert 2 <= len(held) <= 3 and not set(c.name for c in held) & set(seq.source_camera_names)
    info = json.loads((folder / f"{name}.json").read_text())["Informative"]
    assert info["Held_out_cameras"] == [c.name for c in held]
    vp = seq.viewport
    w, h = vp.resolution
    for k in (1, 2, 3):
        rows = read_pose_trace(folder / f"{name}p{k:02d}.csv")
        assert rows.shape == (TINY.pose_rows, 6)
        for kind, fmt in (("texture", "yuv420p10le"), ("depth", "yuv420p16le")):
            path = folder / "poses" / f"{name}p{k:02d}_{kind}_{w}x{h}_{fmt}.yuv"
            assert path.stat().st_size == w * h * 3 * TINY.pose_rows


def test_pose_truth_is_the_scene_at_the_mirrored_frame(tiny):
    """Ground-truth frame i of a trace = the viewport moved by row i, at source frame
    pose_trace_frames(rows, frames)[i] (checked on a trace longer than the sequence)."""
    plan = plan_sequence("linear13", "tiny", "cpu")
    rows = plan.pose_traces[1]
    frames = pose_trace_frames(len(rows), plan.frames)
    vp = plan.sequence.viewport
    folder = tiny["linear13"]
    w, h = vp.resolution
    data = np.fromfile(folder / "poses" / f"linear13p02_texture_{w}x{h}_yuv420p10le.yuv", "<u2")
    luma = data.reshape(len(rows), -1)[:, : w * h].reshape(len(rows), h, w)
    for i in (0, len(rows) - 1):
        expected, _ = quantized_view(plan, pose_camera(vp, rows[i]), frames[i])
        assert np.array_equal(luma[i], expected.numpy())


def test_written_files_match_the_renderer(tiny):
    plan = plan_sequence("arc11", "tiny", "cpu")
    mvv = load_sequence(tiny["arc11"])
    cam = plan.sequence.held_out_cameras[0]
    luma, _ = quantized_view(plan, cam, 3)
    name = f"{cam.name}_texture_{cam.width}x{cam.height}_yuv420p10le.yuv"
    frame = np.fromfile(mvv.spec.content / name, "<u2")
    frame = frame.reshape(TINY.frames, -1)[3, : cam.width * cam.height].reshape(cam.height, cam.width)
    assert np.array_equal(frame, luma.numpy())


def test_make_is_deterministic(tiny, tmp_path):
    again = make_sequence("erp10", "tiny", tmp_path / "again", device="cpu").parent
    first = tiny["erp10"]
    names = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for name in names:
        assert (first / name).read_bytes() == (again / name).read_bytes(), name


@pytest.mark.parametrize("name", [n for n in CATALOG if n != "motorcycle"])
def test_depth_range_holds_every_surface_over_the_full_motion(name):
    """No depth is clipped: every camera (sources, held-out, pose traces) at every eighth frame of
    the *full* scale's 65 frames sees depths strictly inside Depth_range (rendered small)."""
    probe = Scale("tiny", (48, 28), 48, 65, 300, False)
    plan = CATALOG[name].plan(probe, torch.device("cpu"))
    near, far = CATALOG[name].depth_range
    vp = plan.sequence.viewport
    cams = [(c, k) for c in plan.truth_cameras for k in range(0, 65, 16)]
    for rows in plan.pose_traces:
        frames = pose_trace_frames(len(rows), 65)
        cams += [(pose_camera(vp, rows[i]), frames[i]) for i in range(0, 300, 50)]
    for cam, k in cams:
        _, depth = plan.source.frame(cam, k / 30)
        finite = depth[torch.isfinite(depth)]
        assert near < finite.min().item() and finite.max().item() < far, (cam.name, k)
        if not math.isinf(far):
            assert torch.isfinite(depth).all()


def test_motorcycle_depth_is_valid_or_marked_invalid(tiny):
    mvv = load_sequence(tiny["motorcycle"])
    cams = {c.name: c for c in mvv.cameras}
    assert all(c.has_invalid_depth for c in cams.values())
    left, right = (mvv.depth_samples(v, 0, 1)[0] for v in ("v0", "v1"))
    assert 0.5 < (left > 0).mean() < 1 and 0.5 < (right > 0).mean() < 1
    assert (right == 0)[:, -1].mean() > 0.5      # the right view's right border: never seen by v0
    assert left.max() < 65535                     # nothing nearer than near
    frames = mvv.texture_yuv("v0", 0, TINY.frames)[0]
    assert all(np.array_equal(frames[0], f) for f in frames)  # a still, repeated


def test_cli_make_writes_and_reports(cli, tmp_path):
    result = cli(["content", "make", "motorcycle", "--scale", "tiny", "-o", tmp_path / "m", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "motorcycle (tiny)" in result.output and (tmp_path / "m" / "seq.yaml").is_file()


def test_unknown_sequence_is_one_line_exit_2(tmp_path):
    from click.testing import CliRunner

    from mvhinerv.cli import main

    args = ["content", "make", "nosuch", "--scale", "tiny", "-o", str(tmp_path / "x")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0
    assert "nosuch" in result.output and "linear13" in result.output
    assert not (tmp_path / "x").exists()


def test_unknown_scale_and_device_are_click_errors(tmp_path):
    from click.testing import CliRunner

    from mvhinerv.cli import main

    for args in (["--scale", "huge"], ["--device", "tpu"]):
        result = CliRunner().invoke(main, ["content", "make", "linear13", *args, "-o", str(tmp_path / "x")])
        assert result.exit_code == 2 and "Invalid value" in result.output
    assert not (tmp_path / "x").exists()


def test_library_rejects_bad_names():
    with pytest.raises(InputError, match="unknown sequence"):
        plan_sequence("nosuch", "tiny")
    with pytest.raises(InputError, match="unknown scale"):
        plan_sequence("linear13", "huge")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="no CUDA"):
            plan_sequence("linear13", "tiny", "cuda")


def test_interrupted_make_leaves_nothing(tmp_path):
    plan = plan_sequence("planar16", "tiny", "cpu")

    class Interrupted(Exception):
        pass

    calls = 0

    def progress(prefix: str, frames: int) -> None:
        nonlocal calls
        calls += 1
        if calls == 7:
            raise Interrupted

    with pytest.raises(Interrupted):
        write_plan(plan, tmp_path / "out", progress)
    assert list(tmp_path.iterdir()) == []
