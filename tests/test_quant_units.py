"""Unit tests of the quantiser: step shapes and init, STE rounding, Quant-Noise, Gaussian rate."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from mvhinerv.model.coded import CodedParam
from mvhinerv.quant import (
    QuantSteps,
    fake_quantize,
    fit_gaussian,
    gaussian_bits,
    gaussian_params,
    quant_noise,
    relaxed_bits,
    ste_round,
    step_shape,
)
from mvhinerv.quant.rate import histogram_bits, symbol_histogram
from mvhinerv.quant.steps import BIAS_INIT_BITS, MIN_STEP_GROUP, init_log_step


class TwoParams(torch.nn.Module):
    """A stand-in with one stacked per-view grid, one weight and one bias."""

    def __init__(self) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        # Channels of 16·16 = 256 grid entries and rows of 256 weights: just large enough for
        # per-channel / per-row steps (MIN_STEP_GROUP).
        self.grid = torch.nn.Parameter(torch.randn(3, 16, 16, 6, generator=g) * torch.tensor([0.1, 1.0, 3.0, 0.01, 1, 2]))
        self.weight = torch.nn.Parameter(torch.randn(8, 256, generator=g) * 0.05)
        self.bias = torch.nn.Parameter(torch.randn(8, generator=g) * 0.01)

    def coded_parameters(self) -> list[CodedParam]:
        return [CodedParam("grid", "grid", 0, 3), CodedParam("weight", "weight", None, 0),
                CodedParam("bias", "bias", None, 0)]


def test_step_shapes_follow_the_sharing_rule():
    assert MIN_STEP_GROUP == 256
    assert step_shape((3, 16, 16, 6), CodedParam("g", "grid", 0, 3)) == (3, 1, 1, 6)  # per (view, channel)
    assert step_shape((8, 256), CodedParam("w", "weight", None, 0)) == (8, 1)  # per row
    assert step_shape((32, 8, 3, 3), CodedParam("w", "weight", None, 1)) == (1, 8, 1, 1)  # per column: 32·9 ≥ 256
    assert step_shape((8,), CodedParam("b", "bias", None, 0)) == (1,)  # per tensor


def test_short_rows_and_small_grids_share_one_step():
    """Below MIN_STEP_GROUP entries per row/channel one f16 step per tensor (per view) is cheaper."""
    assert step_shape((3, 4, 5, 6), CodedParam("g", "grid", 0, 3)) == (3, 1, 1, 1)  # per view only
    assert step_shape((48, 24), CodedParam("w", "weight", None, 0)) == (1, 1)
    assert step_shape((8, 255), CodedParam("w", "weight", None, 0)) == (1, 1)
    assert step_shape((8, 16, 3, 3), CodedParam("w", "weight", None, 1)) == (1, 1, 1, 1)  # 8·3·3 = 72
    assert step_shape((64, 32, 3, 3), CodedParam("w", "weight", None, 1)) == (1, 32, 1, 1)  # 64·9 = 576


def test_step_init_is_the_symmetric_bits_quantiser_and_fp16():
    model = TwoParams()
    steps = QuantSteps(model, model.coded_parameters())
    steps.fit(model, 7)
    assert bool(steps.initialised)
    step = steps.step("weight")
    expected = 2 * model.weight.detach().abs().amax(dim=1, keepdim=True) / 127
    torch.testing.assert_close(step, expected, rtol=1e-3, atol=0)  # fp16 rounding only
    assert torch.equal(step, step.half().float())  # the forward pass uses the stored fp16 value
    grid_step = steps.step("grid")
    assert grid_step.shape == (3, 1, 1, 6)
    torch.testing.assert_close(grid_step, 2 * model.grid.detach().abs().amax(dim=(1, 2), keepdim=True) / 127,
                               rtol=1e-3, atol=0)
    bias_step = steps.step("bias")
    torch.testing.assert_close(bias_step, 2 * model.bias.detach().abs().max().reshape(1) / (2**BIAS_INIT_BITS - 1),
                               rtol=1e-3, atol=0)
    # 7-bit steps: symbols within ±64 (fp16 rounding of the step may reach the edge).
    assert torch.round(model.weight / step).abs().max() <= 64


def test_fp16_step_passes_gradient_to_the_log_step():
    model = TwoParams()
    steps = QuantSteps(model, model.coded_parameters())
    steps.step("weight").sum().backward()
    g = steps.log_steps[steps.key("weight")].grad
    assert g is not None and torch.all(g > 0)  # d exp(l)/dl = exp(l) > 0 through the STE


def test_ste_round_rounds_forward_and_passes_gradient():
    x = torch.tensor([0.2, 0.5001, -1.7, 2.5], requires_grad=True)
    y = ste_round(x)
    assert torch.equal(y.detach(), torch.round(x.detach()))
    y.sum().backward()
    assert torch.equal(x.grad, torch.ones(4))


def test_fake_quantize_values_and_lsq_step_gradient():
    theta = torch.tensor([0.26, -0.74, 1.1], requires_grad=True)
    step = torch.tensor(0.5, requires_grad=True)
    q = fake_quantize(theta, step)
    assert torch.equal(q.detach(), torch.tensor([0.5, -0.5, 1.0]))
    q.sum().backward()
    assert torch.equal(theta.grad, torch.ones(3))
    expected = (torch.round(theta / 0.5) - theta / 0.5).sum()
    torch.testing.assert_close(step.grad, expected.detach())


@pytest.mark.parametrize("p", [0.0, 0.3, 0.9, 1.0])
def test_quant_noise_replaces_the_requested_fraction(p):
    torch.manual_seed(1)
    theta = torch.rand(200_000) * 10
    step = torch.tensor(0.37)
    out = quant_noise(theta, step, torch.tensor(p))
    quantised = torch.isclose(out, fake_quantize(theta, step), rtol=0, atol=1e-6)
    kept = out == theta
    assert torch.all(quantised | kept)
    fraction = (quantised & ~kept).float().mean().item()
    assert abs(fraction - p) < 0.01


def test_gaussian_params_are_fp16_and_per_view():
    s = torch.randn(3, 50, 7) * torch.tensor([1.0, 5.0, 20.0]).view(3, 1, 1) + torch.tensor([0.0, 2.0, -3.0]).view(3, 1, 1)
    mean, std = gaussian_params(s, view_axis=0)
    assert mean.shape == std.shape == (3, 1, 1)
    assert torch.equal(mean, mean.half().float()) and torch.equal(std, std.half().float())
    torch.testing.assert_close(std.flatten(), s.std(dim=(1, 2), unbiased=False), rtol=2e-3, atol=0)
    mean_t, std_t = gaussian_params(s, view_axis=None)
    assert mean_t.shape == (1, 1, 1)
    _, std_const = gaussian_params(torch.zeros(10), None)
    assert std_const.item() == pytest.approx(0.1, rel=1e-3)  # floor for constant tensors


def test_gaussian_bits_match_float64_mass_and_stay_finite_in_tails():
    mean, std = torch.tensor(0.3), torch.tensor(2.5)
    s = torch.linspace(-9, 9, 37)
    bits = gaussian_bits(s, mean, std).double().numpy()
    x = s.double().numpy()
    ref = -np.log2(stats.norm.cdf((x + 0.5 - 0.3) / 2.5) - stats.norm.cdf((x - 0.5 - 0.3) / 2.5))
    np.testing.assert_allclose(bits, ref, rtol=1e-5)
    far = gaussian_bits(torch.tensor([60.0, -80.0], requires_grad=True), torch.tensor(0.0), torch.tensor(1.0))
    assert torch.all(torch.isfinite(far)) and torch.all(far > 1000)
    # Far out, the mass of [59.5, 60.5] is the upper tail beyond 59.5 (the rest is negligible).
    assert far[0].item() == pytest.approx(-stats.norm.logsf(59.5) / math.log(2), rel=1e-5)


def test_relaxed_bits_track_the_entropy_and_train_the_step():
    torch.manual_seed(0)
    theta = torch.randn(20_000) * 8.0
    step = torch.tensor(1.0, requires_grad=True)
    bits = relaxed_bits(theta, step, None)
    entropy = 0.5 * math.log2(2 * math.pi * math.e * 64)  # differential entropy of N(0, 8²)
    assert bits.item() / theta.numel() == pytest.approx(entropy, rel=0.02)
    bits.backward()
    assert step.grad.item() < 0  # a larger step costs fewer bits


def _independent_leaky_bits(symbols: np.ndarray, mean: float, std: float) -> float:
    """Gaussian mass per symbol, the end symbols' bins extended to ±∞ (constriction's model)."""
    s = symbols.astype(np.float64)
    upper = np.where(s == s.max(), 1.0, stats.norm.cdf((s + 0.5 - mean) / std))
    lower = np.where(s == s.min(), 0.0, stats.norm.cdf((s - 0.5 - mean) / std))
    return float(-np.log2(upper - lower).sum())


def test_exact_histogram_bits_equal_an_independent_float64_sum():
    rng = np.random.default_rng(3)
    symbols = np.round(rng.normal(1.5, 4.0, 5000)).astype(np.int32)
    values, counts = symbol_histogram(symbols)
    ours = histogram_bits(values, counts, 1.5, 3.75)
    assert ours == pytest.approx(_independent_leaky_bits(symbols, 1.5, 3.75), rel=1e-9)
    assert histogram_bits(np.array([7]), np.array([100]), 0.0, 1.0) == 0.0  # one value: free


def test_fit_gaussian_is_fp16_and_no_worse_than_the_moments():
    rng = np.random.default_rng(4)
    symbols = np.round(rng.normal(0.0, 0.6, 10_000)).astype(np.int32)
    mean, std = fit_gaussian(symbols)
    assert isinstance(mean, np.float16) and isinstance(std, np.float16)
    values, counts = symbol_histogram(symbols)
    fitted = histogram_bits(values, counts, float(mean), float(std))
    moments = histogram_bits(values, counts, float(np.float16(symbols.mean())), float(np.float16(symbols.std())))
    assert fitted <= moments
    assert float(std) < symbols.std()  # narrow tensors: best σ is below the sample std


def test_init_log_step_of_a_zero_channel_is_finite():
    shape = (2, 1)
    log_step = init_log_step(torch.zeros(2, 5), shape, 7)
    assert torch.all(torch.isfinite(log_step)) and torch.all(log_step.exp() > 0)
    assert torch.all(log_step.exp().half() > 0)
