"""Triton kernels of :mod:`mvhinerv.model.gelu_op` (GELU and its gradient, element-wise).

A module of its own so that importing the model does not import Triton (as
:mod:`.dwconv_ln_kernels`). Every tensor is contiguous and read as a flat array; a program
handles BLOCK consecutive values in float32 whatever the storage dtype.
"""

from __future__ import annotations

import triton
import triton.language as tl

#: Abramowitz & Stegun 7.1.26: erf(x) = 1 − t·(a₁ + t·(a₂ + t·(a₃ + t·(a₄ + t·a₅))))·e^(−x²),
#: t = 1 / (1 + p·x), x ≥ 0; |error| ≤ 1.5e-7.
_P = tl.constexpr(0.3275911)
_A1 = tl.constexpr(0.254829592)
_A2 = tl.constexpr(-0.284496736)
_A3 = tl.constexpr(1.421413741)
_A4 = tl.constexpr(-1.453152027)
_A5 = tl.constexpr(1.061405429)
_SQRT1_2 = tl.constexpr(0.7071067811865476)
_INV_SQRT_2PI = tl.constexpr(0.3989422804014327)


@triton.jit
def _cdf_pdf(h):
    """(Φ(h), φ(h)) of float32 h, the normal distribution's CDF and density, from one exponential:
    Φ(h) = (1 + erf(h/√2)) / 2 with erf by A&S 7.1.26, whose e^(−x²) at x = |h|/√2 is also
    √(2π)·φ(h)."""
    x = tl.abs(h) * _SQRT1_2
    e = tl.exp(-x * x)
    t = 1.0 / (1.0 + _P * x)
    erf = 1.0 - t * (_A1 + t * (_A2 + t * (_A3 + t * (_A4 + t * _A5)))) * e
    erf = tl.where(h < 0, -erf, erf)
    return 0.5 + 0.5 * erf, _INV_SQRT_2PI * e


@triton.jit
def gelu_fwd_kernel(h_ptr, a_ptr, n, BLOCK: tl.constexpr):
    """a = GELU(h) = h·Φ(h)."""
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    h = tl.load(h_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    cdf, _ = _cdf_pdf(h)
    tl.store(a_ptr + offs, (h * cdf).to(a_ptr.dtype.element_ty), mask=mask)


@triton.jit
def gelu_bwd_kernel(g_ptr, h_ptr, dh_ptr, n, BLOCK: tl.constexpr):
    """∂h = ∂a · GELU'(h), GELU'(h) = Φ(h) + h·φ(h)."""
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    h = tl.load(h_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    g = tl.load(g_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    cdf, pdf = _cdf_pdf(h)
    tl.store(dh_ptr + offs, (g * (cdf + h * pdf)).to(dh_ptr.dtype.element_ty), mask=mask)
