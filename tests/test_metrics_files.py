"""Raw YUV files → per-frame and mean metrics; views → mean; ``mvcodec metrics`` (round trip, CLI)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ctc.errors import InputError
from ctc.metrics import aggregate_views, compare_yuv_files, ivpsnr_frame, psnr_planes, texture_metrics
from ctc.yuv import write_yuv

W, H, N = 16, 12, 3


def _video(seed, noise=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(100, 900, (N, H, W))
    u = rng.integers(100, 900, (N, H // 2, W // 2))
    v = rng.integers(100, 900, (N, H // 2, W // 2))
    planes = [y, u, v]
    if noise:
        planes = [np.clip(p + rng.integers(-noise, noise + 1, p.shape), 0, 1023) for p in planes]
    return [p.astype(np.uint16) for p in planes]


@pytest.fixture()
def pair(tmp_path):
    ref, test = _video(0), _video(0, noise=5)
    write_yuv(tmp_path / "ref.yuv", ref, "yuv420p10le")
    write_yuv(tmp_path / "test.yuv", test, "yuv420p10le")
    return tmp_path, ref, test


def test_compare_files_per_frame_and_mean(pair):
    folder, ref, test = pair
    result = compare_yuv_files(folder / "ref.yuv", folder / "test.yuv", W, H, "yuv420p10le")
    assert result.frames == (0, 1, 2)
    for f, values in enumerate(result.per_frame):
        a, b = [p[f] for p in ref], [p[f] for p in test]
        assert values["y_psnr"] == pytest.approx(psnr_planes(a, b, 10)["y"])
        assert values["ivpsnr"] == pytest.approx(ivpsnr_frame(a, b, 10).ivpsnr)
    assert result.mean["ivpsnr"] == pytest.approx(np.mean([v["ivpsnr"] for v in result.per_frame]))
    sub = compare_yuv_files(folder / "ref.yuv", folder / "test.yuv", W, H, "yuv420p10le", frames=(1, 2))
    assert sub.frames == (1,) and sub.per_frame[0] == result.per_frame[1]
    erp = compare_yuv_files(folder / "ref.yuv", folder / "test.yuv", W, H, "yuv420p10le", erp=((-180, 180), (-90, 90)))
    assert "ws_yuv_psnr" in erp.mean and erp.mean["ivpsnr"] != result.mean["ivpsnr"]


def test_texture_metrics_accepts_frame_axis(pair):
    _, ref, test = pair
    one = texture_metrics([p[:1] for p in ref], [p[:1] for p in test], 10)
    assert set(one) == {"y_psnr", "u_psnr", "v_psnr", "yuv_psnr", "ivpsnr"}
    assert one["ivpsnr"] == pytest.approx(ivpsnr_frame([p[0] for p in ref], [p[0] for p in test], 10).ivpsnr)


def test_aggregate_views_is_mean_of_view_means(pair):
    folder, _, _ = pair
    a = compare_yuv_files(folder / "ref.yuv", folder / "test.yuv", W, H, "yuv420p10le")
    b = {"y_psnr": 10.0, "ivpsnr": 20.0, "extra": 1.0}
    agg = aggregate_views({"v0": a, "v1": b})
    assert agg["mean"]["ivpsnr"] == pytest.approx((a.mean["ivpsnr"] + 20.0) / 2)
    assert "extra" not in agg["mean"]


def test_mismatched_files_are_input_errors(pair):
    folder, ref, _ = pair
    write_yuv(folder / "short.yuv", [p[:2] for p in ref], "yuv420p10le")
    with pytest.raises(InputError, match="2 frames"):
        compare_yuv_files(folder / "ref.yuv", folder / "short.yuv", W, H, "yuv420p10le")
    with pytest.raises(InputError, match="whole number"):
        compare_yuv_files(folder / "ref.yuv", folder / "test.yuv", W + 2, H, "yuv420p10le")
    with pytest.raises(InputError, match="range"):
        compare_yuv_files(folder / "ref.yuv", folder / "test.yuv", W, H, "yuv420p10le", frames=(2, 9))
    with pytest.raises(InputError, match="no such file"):
        compare_yuv_files(folder / "ref.yuv", folder / "nope.yuv", W, H, "yuv420p10le")


def test_cli_metrics_table_json_and_errors(pair, cli):
    folder, _, _ = pair
    base = ["metrics", "--ref", folder / "ref.yuv", "--test", folder / "test.yuv", "--pix-fmt", "yuv420p10le"]
    res = cli(base + ["--size", f"{W}x{H}", "--json", "--frames", "0:2"])
    assert res.exit_code == 0
    data = json.loads(res.output)
    assert [f["frame"] for f in data["per_frame"]] == [0, 1] and "ivpsnr" in data["mean"]
    res = cli(base + ["--size", f"{W}x{H}"])
    assert res.exit_code == 0 and res.output.splitlines()[-1].startswith("mean")
    for bad in (["--size", "16by12"], ["--size", f"{W}x{H}", "--frames", "x"], ["--size", f"{W}x{H + 2}"]):
        res = cli(base + bad)
        assert res.exit_code == 2
        assert len(res.output.strip().splitlines()) == 1 and "Traceback" not in res.output
