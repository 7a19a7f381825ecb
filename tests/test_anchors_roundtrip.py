"""Real tiny round trips through VVenC and x265 (the imageio-ffmpeg binary): 2 views, 64×64, 3 frames."""

from __future__ import annotations

import numpy as np
import pytest

from ctc.anchors import make_anchor_codec
from ctc.environment import ffmpeg_capabilities
from ctc.errors import InputError
from ctc.metrics import depth_psnr, psnr_planes
from ctc.sequence import load_sequence, parse_sequence_json, write_sequence

W = H = 64
FRAMES = 3
JSON = """{"Version": "4.0", "Content_name": "tiny", "Fps": 30, "Frames_number": 3, "lengthsInMeters": true,
 "BoundingBox_center": [0, 0, 0], "sourceCameraNames": ["v0", "v1"],
 "cameras": [%s]}"""
CAMERA = ('{"Name": "%s", "Position": [0, %g, 0], "Rotation": [0, 0, 0], "Resolution": [64, 64],'
          ' "Projection": "Perspective", "Focal": [60, 60], "Principle_point": [32, 32],'
          ' "Depth_range": [0.5, 10], "BitDepthColor": 10, "BitDepthDepth": 16}')


def _smooth(rng, shape, lo, hi, step):
    yy, xx = np.mgrid[: shape[-2], : shape[-1]]
    base = (np.sin(xx / 7.0) + np.cos(yy / 5.0)) * (hi - lo) / 4 + (hi + lo) / 2
    frames = [np.roll(base, f * step, axis=1) + rng.normal(0, 2, shape[-2:]) for f in range(shape[0])]
    return np.clip(np.stack(frames), lo, hi).round().astype(np.uint16)


@pytest.fixture(scope="module")
def tiny_sequence(tmp_path_factory):
    rng = np.random.default_rng(0)
    seq = parse_sequence_json(JSON % ", ".join(CAMERA % (n, i * 0.1) for i, n in enumerate(("v0", "v1"))))
    textures = {v: (_smooth(rng, (FRAMES, H, W), 64, 940, 1), _smooth(rng, (FRAMES, H // 2, W // 2), 300, 700, 1),
                    _smooth(rng, (FRAMES, H // 2, W // 2), 300, 700, 1)) for v in ("v0", "v1")}
    depths = {v: _smooth(rng, (FRAMES, H, W), 5000, 60000, 1) for v in ("v0", "v1")}
    return write_sequence(tmp_path_factory.mktemp("tiny") / "seq", seq, textures, depths)


@pytest.mark.parametrize("codec, preset", [("vvenc", "faster"), ("x265", "ultrafast")])
def test_round_trip(tiny_sequence, tmp_path, codec, preset):
    caps = ffmpeg_capabilities()
    if not caps["ffmpeg"]:
        pytest.skip("no ffmpeg binary (imageio-ffmpeg)")
    anchor = make_anchor_codec(f"{codec}-{preset}", codec, {"preset": preset})
    desc = anchor.describe()
    assert desc["encoder_version"] != "unknown" and desc["ffmpeg"].startswith("ffmpeg version")
    result = anchor.encode_sequence(tiny_sequence, {"qp_texture": 27, "qp_depth": 22}, tmp_path / "work")
    assert result.total_bytes == sum(result.stream_bytes.values()) > 0
    assert set(result.stream_bytes) == {"v0/texture", "v0/depth", "v1/texture", "v1/depth"}
    ref, dec = load_sequence(tiny_sequence), load_sequence(result.decoded)
    assert dec.views == ref.views and dec.num_frames == FRAMES
    for view in ref.views:
        tex = psnr_planes([p[1] for p in ref.texture_yuv(view)], [p[1] for p in dec.texture_yuv(view)], 10)
        assert 30 < tex["y"] < 70
        assert 30 < depth_psnr(ref.depth_samples(view), dec.depth_samples(view)) < 90
    coarse = anchor.encode_sequence(tiny_sequence, {"qp_texture": 45, "qp_depth": 40}, tmp_path / "coarse")
    assert coarse.total_bytes < result.total_bytes
    run = anchor.run(tiny_sequence, {"qp_texture": 45, "qp_depth": 40}, tmp_path / "coarse", None)
    assert run.total_bytes == coarse.total_bytes and run.details["stream_bytes"] == dict(coarse.stream_bytes)


def test_texture_only_sequence_is_refused(tmp_path):
    seq = parse_sequence_json((JSON % (CAMERA % ("v0", 0.0))).replace('["v0", "v1"]', '["v0"]'))
    rng = np.random.default_rng(1)
    tex = {"v0": (_smooth(rng, (FRAMES, H, W), 64, 940, 1), np.full((FRAMES, 32, 32), 512, np.uint16),
                  np.full((FRAMES, 32, 32), 512, np.uint16))}
    path = write_sequence(tmp_path / "tex", seq, tex, None)
    if not ffmpeg_capabilities()["ffmpeg"]:
        pytest.skip("no ffmpeg binary")
    with pytest.raises(InputError, match="no depth"):
        make_anchor_codec("x", "x265", {"preset": "ultrafast"}).encode_sequence(path, {"qp_texture": 30, "qp_depth": 30},
                                                                              tmp_path / "w")


def test_failing_tool_raises_anchor_error_with_command():
    from ctc.anchors import AnchorError
    from ctc.anchors.toolchain import run_tool

    exe = ffmpeg_capabilities()["ffmpeg"]
    if not exe:
        pytest.skip("no ffmpeg binary")
    with pytest.raises(AnchorError, match="probe failed .*command:"):
        run_tool([exe, "-hide_banner", "-i", "/nonexistent/input.yuv", "out.yuv"], "probe")
