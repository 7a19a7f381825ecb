"""y = GELU(h)·Wᵀ, the second half of a ConvNeXt block's MLP, whose backward forms ∂h in one
Triton kernel: ∂h = (∂y·W) ⊙ GELU'(h) (:mod:`.gelu_linear_kernels`).

Why: the block's backward otherwise writes ∂a = ∂y·W (cuBLAS) and reads it back in GELU's
backward (:func:`mvhinerv.model.gelu_op.gelu`): two passes over the e·C-wide hidden map, the
widest of the block (S at 1080p: stage 2's 518 k × 280 map, 290 MB in bf16). Here the product's
epilogue reads h and writes ∂h directly, and ∂a is rounded once fewer (float32 into the
multiplication). Measured on an H200, kernels alone at S's shapes (docs/performance.md
§ Training step, twenty-first session): stage 2 (K = 72 → C = 280) 288 against 360 µs, stage 1
(144 → 560) 170 against 179 µs; stage 0 (280 → 1120, 14 400 pixels) 66 against 58–64 µs. In
the training step (one 1080p frame): 157.3 → 158.8 Mpx·it/s, +0.2 % more with stage 0 left
unfused (:data:`_MIN_PIXELS`); stage 1 unfused too made no difference.

The forward is GELU's Triton kernel and the linear as before (the forward with GELU in fc1's
epilogue was slower than cuBLAS + the GELU kernel at stage 2, 353–393 against 329 µs); the
weight's gradient ∂W = ∂yᵀ·GELU(h) stays a cuBLAS product. Same function and parameters as
``F.linear(gelu(h), w)``; under autocast the same dtypes (W used in h's dtype, ∂W returned in
W's).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional as F

from mvhinerv.model.dwconv_ln import cdiv, readable_rows, row_alignment
from mvhinerv.model.gelu_op import _gelu_backward_op, _gelu_op
from mvhinerv.model.mlp_head_op import _split


@dataclass(frozen=True)
class _Tiling:
    """Launch parameters of :func:`.gelu_linear_kernels.gelu_linear_grad_kernel`."""

    bm: int
    """Pixels per program."""
    bn: int
    """Hidden units per chunk (the program loops over its chunks)."""
    warps: int
    stages: int
    """Triton's software-pipeline stages of the chunk loop."""
    pre_w: bool
    """Load the weight's next chunk one iteration ahead instead of through the pipeline."""


#: Best of sweeps on an H200 at S's shapes (BM 64/128 × BN 32/64 × 2–4 stages × PRE_W, kernels
#: alone; docs/performance.md § Training step, twenty-first session). Rows of at most 128 inputs
#: (stage 2: K = 72, C = 280): 288 µs, 304 with 2 stages, 320 with PRE_W. Wider rows (stage 1:
#: K = 144, C = 560): 170 µs, 180 with the pipeline's loads of W.
_NARROW = _Tiling(bm=64, bn=64, warps=4, stages=3, pre_w=False)
_WIDE = _Tiling(bm=128, bn=32, warps=8, stages=3, pre_w=True)

#: With fewer row tiles than this (4 per SM of an H200) the hidden units are split over two
#: programs per tile: stage 0 of S (113 tiles of 128 pixels) 66 µs in two, 82 in one.
_FEW_TILES = 528

#: Below this many pixels the backward is cuBLAS's ∂a and GELU's backward kernel: stage 0 of S
#: at 1080p (14 400 pixels per frame) was no faster fused, and the step 0.2 % faster without it.
_MIN_PIXELS = 20000


def _tiling(k: int) -> _Tiling:
    return _NARROW if k <= 128 else _WIDE


@torch.library.custom_op("mvhinerv::gelu_linear_grad", mutates_args=())
def _grad_op(grad: Tensor, w: Tensor, h: Tensor) -> Tensor:
    """∂h [..., C] in h's dtype from ∂y [..., K], W [K, C] (∂y's dtype) and h [..., C]."""
    from mvhinerv.model import gelu_linear_kernels as kern

    h = h.contiguous()
    g4, gs = readable_rows(grad.reshape(1, 1, -1, grad.shape[-1]))
    n, k, c = h.numel() // h.shape[-1], w.shape[0], w.shape[1]
    t = _tiling(k)
    km, kt = _split(k)
    tiles = max(1, cdiv(n, t.bm))
    chunks = cdiv(c, t.bn)
    groups = 2 if tiles < _FEW_TILES and chunks > 1 else 1
    dh = torch.empty_like(h)
    kern.gelu_linear_grad_kernel[(tiles, groups)](
        g4, w.contiguous(), h, dh, n, gs, K=k, C=c, BM=t.bm, BN=t.bn, KM=km, KT=kt, CHUNKS=cdiv(chunks, groups),
        PRE_W=t.pre_w, STAGES=t.stages, ALIGN=row_alignment(gs), WIDE=n * max(c, gs) >= 2**31,
        IEEE=grad.dtype == torch.float32, num_warps=t.warps)
    return dh


@_grad_op.register_fake
def _(grad: Tensor, w: Tensor, h: Tensor) -> Tensor:
    return torch.empty_like(h, memory_format=torch.contiguous_format)


class _GeluLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, h: Tensor, w: Tensor) -> Tensor:
        a = _gelu_op(h)
        ctx.save_for_backward(h, a, w)
        return F.linear(a, w.to(a.dtype))

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, Tensor]:
        h, a, w = ctx.saved_tensors
        wd = w.to(grad.dtype)
        if h.numel() // h.shape[-1] >= _MIN_PIXELS:
            dh = _grad_op(grad, wd, h)
        else:
            dh = _gelu_backward_op(grad @ wd, h)
        dw = grad.reshape(-1, grad.shape[-1]).t() @ a.reshape(-1, a.shape[-1])
        return dh, dw.to(w.dtype)


def gelu_linear(h: Tensor, w: Tensor) -> Tensor:
    """GELU(h)·wᵀ (exact form, erf to 1.5e-7): h [..., C], w [K, C] → [..., K] in h's dtype;
    differentiable in both. Needs :func:`mvhinerv.model.dwconv_ln.fused_available`."""
    if w.dim() != 2 or h.shape[-1] != w.shape[1]:
        raise ValueError(f"gelu_linear: h [..., C] and w [K, C] expected, got {tuple(h.shape)}, {tuple(w.shape)}")
    return _GeluLinear.apply(h, w)


__all__ = ["gelu_linear"]
