"""``mvcodec synth`` on a tiny sequence folder written in the test (3 source views of the analytic
wall-and-card scene, a held-out camera and a viewport): outputs, frame counts, quality, and the
one-line errors with exit status 2 and no partial output."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ctc.metrics.psnr import psnr_planes
from ctc.posetrace import write_pose_trace
from ctc.sequence import Sequence, write_sequence
from ctc.synthesis import synthesize_sequence
from ctc.synthesis.toyscene import PlaneScene, perspective_camera, texture_planes
from ctc.yuv import YuvReader
from synth_support import one_thread  # noqa: F401 (autouse fixture)

SCENE = PlaneScene()
FRAMES = 2
SIZE = (64, 48)


def _cameras():
    sources = [perspective_camera(f"v{i}", (0.0, 0.15 * (i - 1), 0.0), size=SIZE) for i in range(3)]
    held = perspective_camera("h0", (0.0, 0.07, 0.03), size=SIZE)
    viewport = perspective_camera("viewport", (0.0, 0.0, 0.0), size=SIZE)
    return sources, held, viewport


@pytest.fixture(scope="module")
def seq_dir(tmp_path_factory) -> Path:
    sources, held, viewport = _cameras()
    seq = Sequence(version="4.0", content_name="WallCard", fps=30, frames_number=FRAMES,
                   cameras=(*sources, held, viewport), source_camera_names=tuple(c.name for c in sources))
    textures, depths = {}, {}
    for cam in sources:
        view = SCENE.source_view(cam)
        textures[cam.name] = tuple(np.stack([p] * FRAMES) for p in view.texture)
        depths[cam.name] = np.stack([view.depth] * FRAMES)
    out = tmp_path_factory.mktemp("wallcard")
    write_sequence(out, seq, textures, depths)
    return out


def _frames(path: Path, fmt: str = "yuv420p10le") -> int:
    return YuvReader(path, SIZE[0], SIZE[1], fmt).num_frames


def test_camera_to_yuv(cli, seq_dir, tmp_path):
    out, depth = tmp_path / "h0.yuv", tmp_path / "h0_depth.yuv"
    res = cli(["synth", seq_dir, "--camera", "h0", "-o", out, "--depth-out", depth, "--device", "cpu"])
    assert res.exit_code == 0, res.output
    assert "h0: 2 frames 64x48 from 3 views" in res.output
    assert _frames(out) == FRAMES and _frames(depth, "yuv420p16le") == FRAMES
    gt = texture_planes(SCENE.render(_cameras()[1])[0], 10)
    frame = YuvReader(out, SIZE[0], SIZE[1], "yuv420p10le").read(1, 1)
    assert psnr_planes(gt, tuple(p[0] for p in frame), 10)["yuv611"] > 30.0
    luma = YuvReader(depth, SIZE[0], SIZE[1], "yuv420p16le").read_luma(0, 1)
    assert (luma > 0).all()


def test_pose_trace_rows_and_mirroring(cli, seq_dir, tmp_path):
    trace = tmp_path / "p01.csv"
    write_pose_trace(trace, [[0.0, 0.01 * k, 0.0, 0.0, 0.0, 0.0] for k in range(5)])
    out = tmp_path / "p01.yuv"
    res = cli(["synth", seq_dir / "seq.yaml", "--pose-trace", trace, "-o", out, "--device", "cpu"])
    assert res.exit_code == 0, res.output
    assert _frames(out) == 5
    report = synthesize_sequence(seq_dir, pose_trace=trace, frames=4, out_texture=tmp_path / "p.yuv",
                                 device="cpu")
    assert report.frames == 4 and report.source_frames == (0, 1, 1, 0)


def test_views_subset_and_baseline(cli, seq_dir, tmp_path):
    out = tmp_path / "b.yuv"
    res = cli(["synth", seq_dir, "--camera", "h0", "--views", "v0,v1", "--frames", "1",
               "--method", "baseline", "-o", out, "--device", "cpu", "--json"])
    assert res.exit_code == 0, res.output
    assert '"views": [\n    "v0",\n    "v1"\n  ]' in res.output
    assert _frames(out) == 1


def test_target_outside_the_sources_warns(cli, seq_dir, tmp_path):
    trace = tmp_path / "turn.csv"
    write_pose_trace(trace, [[0.0, 0.0, 0.0, 30.0, 0.0, 0.0]])
    res = cli(["synth", seq_dir, "--pose-trace", trace, "-o", tmp_path / "t.yuv", "--device", "cpu"])
    assert res.exit_code == 0
    assert "warning" in res.output and "inpainted" in res.output


def test_target_seeing_no_source_warns_empty(cli, seq_dir, tmp_path):
    trace = tmp_path / "back.csv"
    write_pose_trace(trace, [[0.0, 0.0, 0.0, 180.0, 0.0, 0.0]])
    res = cli(["synth", seq_dir, "--pose-trace", trace, "-o", tmp_path / "b.yuv", "--device", "cpu"])
    assert res.exit_code == 0
    assert "100.0 % of the output is empty" in res.output
    assert _frames(tmp_path / "b.yuv") == 1


@pytest.mark.parametrize("args, message", [
    (["--camera", "nope"], "no camera named 'nope'"),
    ([], "exactly one of"),
    (["--camera", "h0", "--pose-trace", "x.csv"], "exactly one of"),
    (["--camera", "h0", "--views", "v0,v9"], "--views v0,v9"),
    (["--camera", "h0", "--frames", "0"], "--frames"),
    (["--camera", "h0", "--frames", "9"], "sequence has 2"),
    (["--camera", "h0", "--device", "tpu"], "unknown device"),
])
def test_bad_options_exit_2_without_output(cli, seq_dir, tmp_path, args, message):
    out = tmp_path / "bad.yuv"
    res = cli(["synth", seq_dir, *args, "-o", out])
    assert res.exit_code == 2
    assert message in res.output
    assert len(res.output.strip().splitlines()) == 1 and "Traceback" not in res.output
    assert not out.exists() and not list(tmp_path.glob(".bad.yuv*"))


def test_malformed_pose_trace_and_missing_sequence(cli, seq_dir, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("X,Y,Z,Yaw,Pitch\n0,0,0,0,0\n")
    res = cli(["synth", seq_dir, "--pose-trace", bad, "-o", tmp_path / "o.yuv"])
    assert res.exit_code == 2 and "bad.csv" in res.output and "header" in res.output
    res = cli(["synth", tmp_path / "nothing", "--camera", "h0", "-o", tmp_path / "o.yuv"])
    assert res.exit_code == 2 and not (tmp_path / "o.yuv").exists()


def test_views_of_mismatched_size_are_refused(cli, seq_dir, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in seq_dir.iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    data = json.loads((broken / "sequence.json").read_text())
    data["cameras"][1]["Resolution"] = [32, 24]
    (broken / "sequence.json").write_text(json.dumps(data))
    res = cli(["synth", broken, "--camera", "h0", "-o", tmp_path / "o.yuv"])
    assert res.exit_code == 2 and "v1" in res.output
    assert not (tmp_path / "o.yuv").exists()
