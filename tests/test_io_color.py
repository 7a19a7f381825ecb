"""ctc.color: YUV <-> RGB conventions (BT.709, limited range) and the MIV depth law."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ctc.color import (
    depth_level,
    depth_to_disparity,
    disparity_to_depth,
    disparity_to_level,
    level_to_disparity,
    level_to_samples,
    metric_depth_to_samples,
    min_normalized_disparity,
    requantize,
    rgb_to_yuv,
    rgb_to_yuv420,
    samples_to_metric_depth,
    yuv420_to_rgb,
    yuv_to_rgb,
)


def _rgb(r, g, b):
    return torch.tensor([r, g, b], dtype=torch.float64).reshape(3, 1, 1)


# ---------------------------------------------------------------------------------- texture


@pytest.mark.parametrize(
    ("rgb", "bits", "full", "expected"),
    [
        ((1, 1, 1), 10, False, (940, 512, 512)),      # white, limited range
        ((0, 0, 0), 10, False, (64, 512, 512)),       # black
        ((1, 1, 1), 8, False, (235, 128, 128)),
        ((1, 1, 1), 10, True, (1023, 512, 512)),      # full range
        ((0, 0, 0), 10, True, (0, 512, 512)),
        # BT.709 red: Y = 64 + 876*0.2126, Cb = 512 - 896*0.2126/1.8556, Cr = 512 + 896/2
        ((1, 0, 0), 10, False, (250.2376, 512 - 896 * 0.2126 / 1.8556, 960.0)),
        ((0, 0, 1), 10, False, (64 + 876 * 0.0722, 960.0, 512 - 896 * 0.0722 / 1.5748)),
        ((1, 0, 0), 10, True, (1023 * 0.2126, 512 - 1023 * 0.2126 / 1.8556, 1023.5)),
    ],
)
def test_rgb_to_yuv_hand_values(rgb, bits, full, expected):
    y, u, v = rgb_to_yuv(_rgb(*rgb), bits, full_range=full)
    np.testing.assert_allclose([y.item(), u.item(), v.item()], expected, atol=1e-4)


def test_bt601_matrix_is_selectable():
    y, _, _ = rgb_to_yuv(_rgb(1, 0, 0), 8, matrix="bt601")
    assert y.item() == pytest.approx(16 + 219 * 0.299)
    with pytest.raises(ValueError, match="unknown colour matrix"):
        rgb_to_yuv(_rgb(1, 0, 0), 8, matrix="srgb")


def test_yuv_to_rgb_inverts_exactly_without_clamp():
    gen = torch.Generator().manual_seed(0)
    yuv = torch.randint(0, 1024, (3, 32, 32), generator=gen).double()
    for full in (False, True):
        rgb = yuv_to_rgb(*yuv, 10, full_range=full, clamp=False)
        assert rgb.shape == (3, 32, 32) and rgb.dtype == torch.float64  # float64 in, float64 out
        back = rgb_to_yuv(rgb, 10, full_range=full)
        for a, b in zip(back, yuv, strict=True):
            assert (a - b).abs().max() < 1e-9
    assert yuv_to_rgb(*yuv.int(), 10).dtype == torch.float32
    assert yuv_to_rgb(*yuv.numpy().astype(np.uint16), 10).dtype == torch.float32


def test_round_trip_yuv_rgb_yuv_within_one_code_value():
    """Integer YUV (in gamut) -> RGB in [0,1] -> YUV: luma within 1 code value at 10 bits."""
    rng = np.random.default_rng(1)
    rgb = rng.random((2, 3, 40, 40))
    y, u, v = (np.floor(p + 0.5) for p in rgb_to_yuv(rgb, 10))
    rgb_back = yuv_to_rgb(torch.from_numpy(y), torch.from_numpy(u), torch.from_numpy(v), 10)
    y2, u2, v2 = rgb_to_yuv(rgb_back, 10)
    assert (y2.numpy() - y).__abs__().max() <= 1.0
    assert max(np.abs(u2.numpy() - u).max(), np.abs(v2.numpy() - v).max()) <= 1.0


def test_yuv_to_rgb_clamps_to_unit_range_and_keeps_leading_dims():
    y = torch.full((2, 5, 4, 4), 1023.0)
    c = torch.full((2, 5, 4, 4), 1023.0)
    rgb = yuv_to_rgb(y, c, c, 10)
    assert rgb.shape == (2, 5, 3, 4, 4)
    assert rgb.min() >= 0 and rgb.max() <= 1


def test_yuv420_to_rgb_replicates_chroma():
    y = np.full((1, 4, 4), 502, np.uint16)  # mid grey-ish luma
    u = np.array([[[512, 960], [512, 512]]], np.uint16)  # one strongly blue 2x2 block
    v = np.full((1, 2, 2), 512, np.uint16)
    rgb = yuv420_to_rgb(y, u, v, 10)
    assert rgb.shape == (1, 3, 4, 4) and rgb.dtype == torch.float32
    blue = rgb[0, 2]
    assert torch.equal(blue[:2, 2:], blue[0, 2].expand(2, 2))  # whole block the same
    assert blue[0, 2] > blue[0, 0] and torch.allclose(blue[2:, :], blue[3, 3].expand(2, 4))


def test_rgb_to_yuv420_numpy_and_torch_agree():
    rng = np.random.default_rng(2)
    rgb = rng.random((2, 3, 6, 10)).astype(np.float32)
    y, u, v = rgb_to_yuv420(rgb, 10)
    assert y.dtype == np.uint16 and y.shape == (2, 6, 10) and u.shape == (2, 3, 5)
    assert 64 <= y.min() and y.max() <= 940 and 64 <= u.min() and u.max() <= 960
    ty, tu, tv = rgb_to_yuv420(torch.from_numpy(rgb), 10)
    assert ty.dtype == torch.int32
    for a, b in zip((y, u, v), (ty, tu, tv), strict=True):
        assert np.abs(a.astype(np.int64) - b.numpy()).max() <= 1  # float rounding ties only
    y8, _, _ = rgb_to_yuv420(rgb, 8)
    assert y8.dtype == np.uint8


def test_rgb_to_yuv420_chroma_is_block_mean_of_full_chroma():
    rng = np.random.default_rng(3)
    rgb = rng.random((3, 4, 4))
    _, u_full, _ = rgb_to_yuv(rgb, 10)
    _, u, _ = rgb_to_yuv420(rgb, 10)
    expected = np.floor(u_full.reshape(2, 2, 2, 2).mean(axis=(1, 3)) + 0.5)
    np.testing.assert_array_equal(u, expected)


def test_yuv420_round_trip_constant_chroma_blocks():
    """4:2:0 YUV with in-gamut values survives YUV -> RGB -> YUV within 1 code value."""
    rng = np.random.default_rng(4)
    rgb = rng.random((1, 3, 8, 8))
    rgb = np.repeat(np.repeat(rgb[..., ::2, ::2], 2, axis=-2), 2, axis=-1)  # flat 2x2 blocks
    planes = rgb_to_yuv420(rgb, 10)
    back = rgb_to_yuv420(yuv420_to_rgb(*planes, 10), 10)
    for a, b in zip(planes, back, strict=True):
        assert np.abs(a.astype(int) - b.numpy()).max() <= 1


# ---------------------------------------------------------------------------------- depth


def test_depth_level_and_samples_hand_values():
    assert depth_level(np.array([0, 65535, 32768], np.uint16), 16).tolist() == pytest.approx(
        [0.0, 1.0, 32768 / 65535]
    )
    assert level_to_samples(np.array([0.0, 1.0, 0.5, -0.2, 1.3]), 10).tolist() == [0, 1023, 512, 0, 1023]
    assert level_to_samples(np.array([0.5]), 16).dtype == np.uint16
    assert level_to_samples(torch.tensor([0.5]), 16).dtype == torch.int32


def test_depth_law_hand_values_finite_far():
    near, far = 1.0, 10.0
    samples = np.array([65535, 0, 32768], np.uint16)
    depth = samples_to_metric_depth(samples, 16, near, far)
    # level 32768/65535: disparity 0.1 + 0.9 * level
    mid = 1.0 / (0.1 + 0.9 * 32768 / 65535)
    np.testing.assert_allclose(depth, [1.0, 10.0, mid], rtol=1e-6)
    assert level_to_disparity(np.array([0.5]), near, far).item() == pytest.approx(0.55)
    assert disparity_to_level(np.array([0.55]), near, far).item() == pytest.approx(0.5)
    np.testing.assert_array_equal(
        metric_depth_to_samples(np.array([1.0, 10.0, 0.5, 20.0, math.inf]), 16, near, far),
        [65535, 0, 65535, 0, 0],
    )


def test_depth_law_infinite_far_clamps_at_min_norm_disp():
    near, far = 0.5, math.inf
    assert min_normalized_disparity(near, far, 16) == pytest.approx(2.0 / 65535)
    # finite far: the lowest level with positive disparity is negative (-3449), so the clamp sits
    # below low = 0.1 and never acts on levels in [0, 1]
    lowest = 0.1 + 1.9 * (-3449 / 65535)
    assert min_normalized_disparity(near, 10.0, 16) == pytest.approx(lowest)
    assert 0 < lowest < 0.1
    depth = samples_to_metric_depth(np.array([0, 1, 65535], np.uint16), 16, near, far)
    np.testing.assert_allclose(depth, [65535 / 2, 65535 / 2, 0.5], rtol=1e-6)
    assert np.isfinite(depth).all()
    assert metric_depth_to_samples(np.array([math.inf]), 16, near, far).item() == 0
    assert depth_to_disparity(np.array([math.inf])).item() == 0.0
    assert math.isinf(disparity_to_depth(np.array([0.0])).item())


@pytest.mark.parametrize(("near", "far"), [(0.3, 1.62), (1.5, 25.0), (0.1, 500.0), (0.8, math.inf)])
def test_samples_depth_samples_is_identity(near, far):
    samples = np.arange(1, 65536, dtype=np.uint16)  # 0 is the clamp point for far = inf
    depth = samples_to_metric_depth(samples, 16, near, far)
    np.testing.assert_array_equal(metric_depth_to_samples(depth, 16, near, far), samples)


def test_depth_functions_numpy_and_torch_agree():
    samples = np.arange(0, 65536, 97, dtype=np.uint16)
    a = samples_to_metric_depth(samples, 16, 0.35, 12.5)
    b = samples_to_metric_depth(torch.from_numpy(samples.astype(np.int32)), 16, 0.35, 12.5)
    assert isinstance(b, torch.Tensor) and b.dtype == torch.float32
    np.testing.assert_allclose(a, b.numpy(), rtol=1e-6)
    s = metric_depth_to_samples(b, 16, 0.35, 12.5)
    assert s.dtype == torch.int32 and s.numpy().tolist() == samples.tolist()


def test_bad_depth_range():
    with pytest.raises(ValueError, match="near < far"):
        level_to_disparity(np.array([0.5]), 2.0, 1.0)
    with pytest.raises(ValueError, match="bit depth"):
        depth_level(np.array([1]), 17)


def test_requantize_hand_values():
    v10 = np.array([0, 1, 512, 1023], np.uint16)
    # round(65535 * v / 1023): 64.06 -> 64, 32799.53 -> 32800
    assert requantize(v10, 10, 16).tolist() == [0, 64, 32800, 65535]
    v16 = np.array([0, 32, 33, 32768, 65535], np.uint16)
    # 1023*32/65535 = 0.49952 -> 0; 33 -> 0.51512 -> 1; 32768 -> 511.5078 -> 512
    assert requantize(v16, 16, 10).tolist() == [0, 0, 1, 512, 1023]
    assert requantize(torch.tensor([512]), 10, 16).tolist() == [32800]
    assert requantize(np.array([1]), 1, 2).tolist() == [3]
    assert requantize(np.array([1]), 2, 3).tolist() == [2]  # 7/3 = 2.33 -> 2
    assert requantize(np.array([5]), 3, 2).tolist() == [2]  # 3*5/7 = 2.14 -> 2
    assert requantize(np.array([1, 3]), 2, 8).tolist() == [85, 255]
    assert requantize(np.array([1, 2]), 2, 1).tolist() == [0, 1]  # 1/3 -> 0, 2/3 -> 1
    back = requantize(requantize(np.arange(1024), 10, 16), 16, 10)
    assert back.tolist() == list(range(1024))


# ---------------------------------------------------------------------------------- GPU


@pytest.mark.gpu
def test_cuda_matches_cpu():
    """Every conversion gives the same result on CUDA as on the CPU (tensors stay on the device)."""
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    gen = torch.Generator().manual_seed(5)
    y = torch.randint(64, 941, (2, 8, 12), generator=gen)
    u, v = (torch.randint(64, 961, (2, 4, 6), generator=gen) for _ in range(2))
    cpu = yuv420_to_rgb(y, u, v, 10)
    gpu = yuv420_to_rgb(y, u, v, 10, device="cuda")
    assert gpu.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-6, rtol=0)
    for a, b in zip(rgb_to_yuv420(cpu, 10), rgb_to_yuv420(gpu, 10), strict=True):
        assert b.device.type == "cuda" and (a - b.cpu()).abs().max() <= 1
    samples = torch.randint(0, 65536, (4, 8, 8), generator=gen)
    depth = samples_to_metric_depth(samples.cuda(), 16, 0.8, math.inf)
    torch.testing.assert_close(depth.cpu(), samples_to_metric_depth(samples, 16, 0.8, math.inf))
    assert torch.equal(requantize(samples.cuda(), 16, 10).cpu(), requantize(samples, 16, 10))
