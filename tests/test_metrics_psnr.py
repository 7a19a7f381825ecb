"""PSNR, WS-PSNR, depth and RGB PSNR: hand-computed values and the reference's conventions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ctc.errors import InputError
from ctc.metrics import ErpRange, depth_psnr, erp_row_weights, psnr_planes, rgb_psnr, ws_psnr_planes
from ctc.metrics.planes import upsample_chroma


def _yuv(h, w, value, bits_dtype=np.uint16):
    return [np.full((h, w), value, bits_dtype), np.full((h // 2, w // 2), value, bits_dtype),
            np.full((h // 2, w // 2), value, bits_dtype)]


def test_constant_error_gives_textbook_psnr_and_611_weighting():
    ref = _yuv(8, 8, 500)
    test = [ref[0] + 1, ref[1] + 2, ref[2]]
    out = psnr_planes(ref, test, 10)
    assert out["y"] == pytest.approx(10 * math.log10(1023**2 / 1))
    assert out["u"] == pytest.approx(10 * math.log10(1023**2 / 4))
    assert out["v"] == pytest.approx(10 * math.log10(64 * 1023**2))  # exact: SSE taken as 1, W·H area
    assert out["yuv611"] == pytest.approx((6 * out["y"] + out["u"] + out["v"]) / 8)


def test_max_is_two_to_the_bits_minus_one():
    ref = [np.zeros((4, 4), np.uint16)]
    test = [np.ones((4, 4), np.uint16)]
    assert psnr_planes(ref, test, 8)["y"] == pytest.approx(20 * math.log10(255))
    assert depth_psnr(ref[0], test[0]) == pytest.approx(20 * math.log10(65535))


def test_masked_psnr_counts_active_samples_and_mask_peak():
    ref = [np.zeros((4, 4), np.uint16)]
    test = [np.zeros((4, 4), np.uint16)]
    test[0][0, 0] = 10
    test[0][3, 3] = 100  # outside the mask
    mask = np.zeros((4, 4), np.uint16)
    mask[:2, :2] = 255
    out = psnr_planes(ref, test, 8, mask=mask)
    # SSE = 100·255 over N = 4 active samples with mask peak 255
    assert out["y"] == pytest.approx(10 * math.log10(4 * 255**2 * 255 / (100 * 255)))


def test_ws_psnr_of_uniform_error_equals_psnr_and_weights_follow_formula():
    rng = np.random.default_rng(0)
    ref = [rng.integers(0, 1000, (8, 16)).astype(np.uint16)]
    test = [ref[0] + 3]
    assert ws_psnr_planes(ref, test, 10, ErpRange())["y"] == pytest.approx(psnr_planes(ref, test, 10)["y"])
    w = erp_row_weights(4, ErpRange())
    assert w == pytest.approx([math.cos(k * math.pi / 4) for k in (-1.5, -0.5, 0.5, 1.5)])
    partial = erp_row_weights(3, ErpRange(lat=(-45, 45)))  # full height 6, centred on the equator
    assert partial == pytest.approx([math.cos(k * math.pi / 6) for k in (-1, 0, 1)])


def test_ws_psnr_weights_rows_by_latitude():
    ref = [np.zeros((8, 8), np.uint16)]
    polar = [ref[0].copy()]
    polar[0][0] = 8
    equator = [ref[0].copy()]
    equator[0][4] = 8
    erp = ErpRange()
    assert ws_psnr_planes(ref, polar, 10, erp)["y"] > ws_psnr_planes(ref, equator, 10, erp)["y"]


def test_chroma_upsampling_is_sample_replication():
    c = np.array([[1, 2], [3, 4]])
    assert upsample_chroma(c, (4, 4)).tolist() == [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]


def test_rgb_psnr_pools_channels():
    ref = np.zeros((3, 4, 4))
    test = ref.copy()
    test[0] = 0.1
    assert rgb_psnr(ref, test) == pytest.approx(10 * math.log10(1 / (0.01 / 3)))
    assert rgb_psnr(ref, ref) == math.inf


def test_bad_inputs_are_input_errors():
    with pytest.raises(InputError, match="plane 0"):
        psnr_planes(_yuv(8, 8, 1), _yuv(8, 10, 1), 10)
    with pytest.raises(InputError, match="planes"):
        psnr_planes(_yuv(8, 8, 1), _yuv(8, 8, 1)[:1], 10)
    with pytest.raises(InputError, match="mask"):
        psnr_planes(_yuv(8, 8, 1), _yuv(8, 8, 1), 10, mask=np.zeros((8, 8)))
    with pytest.raises(InputError, match="latitude"):
        ErpRange(lat=(0, 0))
    with pytest.raises(InputError, match="bit depth"):
        psnr_planes(_yuv(8, 8, 1), _yuv(8, 8, 1), 17)
