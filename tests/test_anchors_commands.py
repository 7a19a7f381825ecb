"""Anchor command lines (pure functions: exact argv lists), settings, rate points, depth mapping."""

from __future__ import annotations

import numpy as np
import pytest

from ctc.anchors import RatePoint, SimulcastSettings, decode_cmd, make_anchor_codec, vvenc_encode_cmd, x265_encode_cmd
from ctc.anchors.commands import RawVideo
from ctc.anchors.depth import depth_to_video, video_to_depth
from ctc.errors import InputError

VIDEO = RawVideo("in.yuv", 64, 48, 30.0, 3)
RAW_IN = ["-f", "rawvideo", "-pix_fmt", "yuv420p10le", "-s", "64x48", "-r", "30", "-i", "in.yuv", "-frames:v", "3"]
QUIET = ["-hide_banner", "-nostdin", "-loglevel", "error", "-y"]


def test_vvenc_command_is_exact():
    assert vvenc_encode_cmd("ff", VIDEO, "out.266", 32, preset="faster") == [
        "ff", *QUIET, *RAW_IN, "-c:v", "libvvenc", "-preset", "faster", "-qp", "32", "-qpa", "0",
        "-vvenc-params", "intraperiod=32:gopsize=32:decodingrefreshtype=cra", "-f", "vvc", "out.266"]
    cmd = vvenc_encode_cmd("ff", RawVideo("in.yuv", 64, 48, 29.97, 3), "o", 22, gop_size=16, threads=4)
    assert cmd[cmd.index("-vvenc-params") + 1] == "intraperiod=32:gopsize=16:decodingrefreshtype=cra:threads=4"
    assert cmd[cmd.index("-r") + 1] == "29.97" and cmd[cmd.index("-preset") + 1] == "medium"


def test_x265_command_is_exact():
    assert x265_encode_cmd("ff", VIDEO, "out.265", 27, preset="ultrafast") == [
        "ff", *QUIET, *RAW_IN, "-c:v", "libx265", "-pix_fmt", "yuv420p10le", "-preset", "ultrafast",
        "-tune", "psnr", "-x265-params",
        "qp=27:keyint=32:min-keyint=32:scenecut=0:info=0:log-level=error", "-f", "hevc", "out.265"]


def test_decode_commands_use_native_decoders():
    assert decode_cmd("ff", "vvenc", "s.266", "d.yuv") == [
        "ff", *QUIET, "-f", "vvc", "-c:v", "vvc", "-i", "s.266", "-f", "rawvideo", "-pix_fmt", "yuv420p10le", "d.yuv"]
    assert decode_cmd("ff", "x265", "s.265", "d.yuv")[6:10] == ["-f", "hevc", "-c:v", "hevc"]


def test_rate_points_and_settings_are_validated():
    assert RatePoint.from_mapping({"qp_texture": 32, "qp_depth": 27}, "vvenc").label == "qp-32-27"
    with pytest.raises(InputError, match="outside 0..51"):
        RatePoint.from_mapping({"qp_texture": 55, "qp_depth": 27}, "x265")
    with pytest.raises(InputError, match="integer"):
        RatePoint.from_mapping({"qp": 3}, "vvenc")
    with pytest.raises(InputError, match="preset"):
        SimulcastSettings("vvenc", preset="ultrafast")
    with pytest.raises(InputError, match="gop_size"):
        SimulcastSettings("vvenc", gop_size=8)
    with pytest.raises(InputError, match="unknown option"):
        make_anchor_codec("a", "vvenc", {"presett": "fast"})
    with pytest.raises(InputError, match="not an anchor"):
        make_anchor_codec("a", "av1", {})


def test_depth_goes_to_10_bit_luma_with_neutral_chroma_and_back():
    rng = np.random.default_rng(0)
    depth = rng.integers(0, 65536, (2, 6, 5)).astype(np.uint16)
    y, u, v = depth_to_video(depth)
    assert y.max() <= 1023 and u.shape == (2, 3, 3) and np.all(u == 512) and np.all(v == 512)
    assert np.array_equal(y, np.round(depth.astype(float) * 1023 / 65535).astype(np.uint16))
    back = video_to_depth(y)
    assert np.abs(back.astype(int) - depth.astype(int)).max() <= 65535 / 1023 / 2 + 1
    assert video_to_depth(np.array([[[0, 1023]]]))[0, 0].tolist() == [0, 65535]


def test_missing_ffmpeg_or_encoder_is_an_input_error(monkeypatch):
    import ctc.anchors.toolchain as tc

    monkeypatch.setattr(tc, "ffmpeg_exe", lambda: None)
    with pytest.raises(InputError, match="imageio-ffmpeg"):
        make_anchor_codec("a", "vvenc", {})
    monkeypatch.setattr(tc, "ffmpeg_exe", lambda: "/opt/ffmpeg")
    caps = {"libvvenc": False, "libx265": True, "vvc_decoder": True, "hevc_decoder": False}
    monkeypatch.setattr(tc, "ffmpeg_capabilities", lambda: caps)
    with pytest.raises(InputError, match="no libvvenc encoder"):
        make_anchor_codec("a", "vvenc", {})
    with pytest.raises(InputError, match="no native hevc decoder"):
        make_anchor_codec("a", "x265", {})
