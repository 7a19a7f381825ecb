"""Triton kernel of :mod:`mvhinerv.model.gelu_linear`: ∂h = (∂y·W) ⊙ GELU'(h), the gradient of
y = GELU(h)·Wᵀ with respect to h, as one product whose epilogue applies GELU's derivative.

A module of its own so that importing the model does not import Triton (as
:mod:`.dwconv_ln_kernels`). Rows: ∂y is [N, K] with DS values from one pixel to the next
(DS ≥ K), W [K, C] (the linear's weight, rows = its outputs), h and ∂h [N, C] contiguous. A
program takes BM pixels and CHUNKS column chunks of BN hidden units (program_id(1) picks which
CHUNKS): it loads its ∂y rows once, as a main group of KM inputs and a tail of KT (0 or a power
of two ≥ 16; :func:`mvhinerv.model.mlp_head_op._split`: 72 → 64 + 16), and per chunk multiplies
them by W's columns on the tensor cores (float32 accumulation) and scales the product by
GELU'(h) before the single rounding to ∂h's dtype.

What made it faster than cuBLAS + :func:`mvhinerv.model.gelu_op.gelu`'s backward (S at 1080p on
an H200, docs/performance.md § Training step, twenty-first session): the next chunk's h is
loaded while the current one is multiplied (its latency, not the bandwidth, limited the plain
version: 350 against 360 µs at stage 2); the weight's chunk comes either from Triton's software
pipeline (``STAGES``) or, where that was slower, from a load one chunk ahead (``PRE_W``).
"""

from __future__ import annotations

import triton
import triton.language as tl

from mvhinerv.model.gelu_kernels import _cdf_pdf
from mvhinerv.model.mlp_head_kernels import _dot


@triton.jit
def _w_cols(w_ptr, dt, ks, cols, K: tl.constexpr, C: tl.constexpr):
    """W's rows ``ks`` and columns ``cols`` [len(ks), len(cols)] in dtype dt (zeros past K or C)."""
    w = tl.load(w_ptr + ks[:, None] * C + cols[None, :], mask=(ks[:, None] < K) & (cols[None, :] < C), other=0.0)
    return w.to(dt)


@triton.jit
def _h_cols(h_ptr, rows, valid, cols, C: tl.constexpr):
    """h's columns ``cols`` of the tile's pixels [BM, len(cols)] (zeros past C and outside)."""
    return tl.load(h_ptr + rows[:, None] * C + cols[None, :], mask=valid[:, None] & (cols[None, :] < C), other=0.0)


@triton.jit
def gelu_linear_grad_kernel(dy_ptr, w_ptr, h_ptr, dh_ptr, n, DS, K: tl.constexpr, C: tl.constexpr,
                            BM: tl.constexpr, BN: tl.constexpr, KM: tl.constexpr, KT: tl.constexpr,
                            CHUNKS: tl.constexpr, PRE_W: tl.constexpr, STAGES: tl.constexpr,
                            ALIGN: tl.constexpr, WIDE: tl.constexpr, IEEE: tl.constexpr):
    """∂h = (∂y·W) ⊙ (Φ(h) + h·φ(h)) for BM pixels and CHUNKS·BN hidden units per program.

    ALIGN: DS is a multiple of it (rewritten so that Triton knows, for vector loads; 1 if not).
    WIDE: 64-bit offsets (N·C or N·DS ≥ 2³¹). The masks compare with the constant C only, so
    that Triton sees them constant over 8 columns and keeps the 16-byte loads and stores (a
    run-time bound there cost ≈ 20 %); a program's look-ahead past its last chunk loads
    columns that it does not use."""
    DS = (DS // ALIGN) * ALIGN
    dt = dy_ptr.dtype.element_ty
    if WIDE:
        rows = tl.program_id(0).to(tl.int64) * BM + tl.arange(0, BM)
    else:
        rows = tl.program_id(0) * BM + tl.arange(0, BM)
    valid = rows < n
    km = tl.arange(0, KM)
    ym = tl.load(dy_ptr + rows[:, None] * DS + km[None, :], mask=valid[:, None] & (km[None, :] < K), other=0.0)
    yt = ym  # a stand-in when there is no tail group
    if KT > 0:
        kt = KM + tl.arange(0, KT)
        yt = tl.load(dy_ptr + rows[:, None] * DS + kt[None, :], mask=valid[:, None] & (kt[None, :] < K), other=0.0)
    c0 = tl.program_id(1) * (CHUNKS * BN)
    cols = c0 + tl.arange(0, BN)
    h_next = _h_cols(h_ptr, rows, valid, cols, C)
    wm_next = _w_cols(w_ptr, dt, km, cols, K, C)
    wt_next = wm_next
    if KT > 0:
        wt_next = _w_cols(w_ptr, dt, kt, cols, K, C)
    for j in tl.range(CHUNKS, num_stages=STAGES):
        cols = c0 + j * BN + tl.arange(0, BN)
        h = h_next
        h_next = _h_cols(h_ptr, rows, valid, cols + BN, C)
        if PRE_W:
            wm, wt = wm_next, wt_next
            wm_next = _w_cols(w_ptr, dt, km, cols + BN, K, C)
            if KT > 0:
                wt_next = _w_cols(w_ptr, dt, kt, cols + BN, K, C)
        else:
            wm = _w_cols(w_ptr, dt, km, cols, K, C)
            wt = wm
            if KT > 0:
                wt = _w_cols(w_ptr, dt, kt, cols, K, C)
        da = _dot(ym, wm, IEEE)
        if KT > 0:
            da = _dot(yt, wt, IEEE, da)
        h = h.to(tl.float32)  # after the product: the bf16 tile holds half the registers across it
        cdf, pdf = _cdf_pdf(h)
        tl.store(dh_ptr + rows[:, None] * C + cols[None, :], (da * (cdf + h * pdf)).to(dh_ptr.dtype.element_ty),
                 mask=valid[:, None] & (cols[None, :] < C))
