"""Gaussian rate model of the quantised parameters (paper §II-B, eq. 5-6).

Each coded tensor (each view's slice, for stacked per-view grids) gets one Gaussian
``N(μ, σ²)`` in *symbol* units, with μ and σ measured from the tensor itself at every training
step ("we compute the Gaussian parameters directly in each training step, and encode them along
with the model parameter bitstream"; NVRC's ``learned_em: false`` mode). μ and σ are rounded to
float16, the precision they are stored with, so the training rate is the rate the coder sees.

The probability of symbol ``s`` is the Gaussian mass of ``[s − ½, s + ½]``:

    P(s) = Φ((s + ½ − μ)/σ) − Φ((s − ½ − μ)/σ),      bits(s) = −log2 P(s)

- In training the symbols are continuous: ``s̃ = θ/δ + u``, ``u ~ U(−½, ½)`` (the additive
  uniform-noise relaxation of Ballé et al., "End-to-end optimized image compression", ICLR 2017),
  so the rate has gradients with respect to both θ and δ. No truncation to the symbol range.
- At export (:func:`histogram_bits`) the symbols are integers and the model is the coder's,
  constriction's ``QuantizedGaussian(min(s), max(s), μ, σ)`` for each tensor: the two end
  symbols also take the tail mass beyond them.

Both use the symmetric, log-space form ``log(Φ(b) − Φ(a)) = log Φ(b) + log(1 − Φ(a)/Φ(b))`` with
``b = (½ − |s − μ|)/σ``, ``a = b − 1/σ``: stable in the far tails (no ``1 − 1`` cancellation).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import special

# Smallest σ used (symbol units; NVRC's scale bound is 0.1): keeps P(0) < 1 for constant tensors.
STD_MIN = 0.1
# Export refines σ over 2^(k/16), |k| ≤ 16, around the sample std: the σ that the coder gets is
# chosen to minimise the exact coded size (it is sent anyway, so any value is free to pick).
_STD_SEARCH = 2.0 ** (np.arange(-16, 17) / 16)

REGULARISED_KINDS = ("grid", "weight")


def gaussian_params(symbols: torch.Tensor, view_axis: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Float16-rounded mean and std (as float32, no gradient) of continuous ``symbols``.

    One pair per tensor, or per index of ``view_axis``; both are broadcastable to ``symbols``.
    """
    s = symbols.detach().float()
    dims = tuple(i for i in range(s.ndim) if view_axis is None or i != view_axis % s.ndim)
    mean = s.mean(dim=dims, keepdim=True)
    std = ((s - mean).square().mean(dim=dims, keepdim=True)).sqrt().clamp_min(STD_MIN)
    return mean.half().float(), std.half().float()


def gaussian_bits(symbols: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """Per-entry ``−log2 P(s)`` of (continuous) symbols; differentiable, float32."""
    b = (0.5 - (symbols - mean).abs()) / std
    a = b - 1.0 / std
    log_b = torch.special.log_ndtr(b)
    log_mass = log_b + torch.log(-torch.expm1(torch.special.log_ndtr(a) - log_b))
    return -log_mass / math.log(2.0)


def relaxed_bits(theta: torch.Tensor, step: torch.Tensor, view_axis: int | None) -> torch.Tensor:
    """Training rate of one tensor in bits: Gaussian bits of ``θ/δ + U(−½, ½)`` (a 0-dim tensor)."""
    s = theta.float() / step
    mean, std = gaussian_params(s, view_axis)
    noisy = s + torch.rand_like(s) - 0.5
    return gaussian_bits(noisy, mean, std).sum()


def _log_mass_np(values: np.ndarray, mean: float, std: float) -> np.ndarray:
    """float64 ``ln P(s)`` of integer-valued ``values`` (same formula as :func:`gaussian_bits`)."""
    b = (0.5 - np.abs(values - mean)) / std
    a = b - 1.0 / std
    log_b = special.log_ndtr(b)
    return log_b + np.log(-np.expm1(special.log_ndtr(a) - log_b))


def histogram_bits(values: np.ndarray, counts: np.ndarray, mean: float, std: float) -> float:
    """Exact bits of a symbol histogram (sorted distinct ``values``) under the coder's model.

    The model is constriction's ``QuantizedGaussian(min, max, μ, σ)`` (a leaky quantiser): the
    bins of the end symbols extend to ±∞, i.e. the tail mass beyond ``[min − ½, max + ½]`` is
    given to ``min`` and ``max``. Its fixed-point rounding (each symbol gets at least 2^-24) is
    ignored: it changes the size by < 0.1 % (measured in ``tests/test_quant_export.py``).
    """
    values = values.astype(np.float64)
    if values.size == 1:
        return 0.0
    log_p = _log_mass_np(values, mean, std)
    log_p[0] = special.log_ndtr((values[0] + 0.5 - mean) / std)
    log_p[-1] = special.log_ndtr(-(values[-1] - 0.5 - mean) / std)
    return float(-(counts * log_p).sum() / math.log(2.0))


def symbol_histogram(symbols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct symbol values and their counts."""
    return np.unique(symbols.ravel(), return_counts=True)


def fit_gaussian(symbols: np.ndarray) -> tuple[np.float16, np.float16]:
    """Float16 (μ, σ) for coding integer ``symbols``: moment fit, then σ refined for size.

    μ is the sample mean; σ is the float16 value among ``sample std · 2^(k/16)`` that gives the
    fewest exact bits (the discrete Gaussian's best σ is below the sample std for narrow
    tensors, by about the 1/12 variance the integer grid adds).
    """
    values, counts = symbol_histogram(symbols)
    n = counts.sum()
    mean = float((values * counts).sum() / n)
    std = math.sqrt(float((counts * (values - mean) ** 2).sum() / n))
    mean16 = np.float16(mean)
    candidates = np.unique(np.maximum(np.float16(max(std, STD_MIN)) * _STD_SEARCH, STD_MIN).astype(np.float16))
    costs = [histogram_bits(values, counts, float(mean16), float(c)) for c in candidates]
    return mean16, candidates[int(np.argmin(costs))]
