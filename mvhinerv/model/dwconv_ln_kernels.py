"""Triton kernels of :mod:`mvhinerv.model.dwconv_ln` (fused depthwise 3×3 + LayerNorm).

A module of its own so that importing the model does not import Triton (a quarter of a second on
a CPU, where these kernels never run): :mod:`mvhinerv.model.dwconv_ln` imports it on the first
call. Triton reads ``TRITON_INTERPRET`` when this module is imported. Layout: every tensor is
channels last and contiguous, [B, H, W, C]; a program handles one row (b·H + h) and a tile of
BLOCK_W pixels × CP channels (C padded to a power of two and masked).
"""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def _tap(base, off, shift, mask):
    """One shifted tile ``base[off + shift]`` as float32 (0 where masked). Offsets are int32
    relative to the program's row: int64 index arithmetic per element made the first
    version of these kernels slower than Inductor's."""
    return tl.load(base + (off + shift), mask=mask, other=0.0).to(tl.float32)


@triton.jit
def _weight(w_ptr, offs_c, cmask, tap):
    return tl.load(w_ptr + offs_c * 9 + tap, mask=cmask, other=0.0).to(tl.float32)[None, :]


@triton.jit
def _column_masks(offs_w, W, cmask):
    """Masks of the tile's left, centre and right neighbours (in the row, real channels)."""
    left = ((offs_w >= 1) & (offs_w <= W))[:, None] & cmask[None, :]
    centre = (offs_w < W)[:, None] & cmask[None, :]
    right = (offs_w + 1 < W)[:, None] & cmask[None, :]
    return left, centre, right


@triton.jit
def _conv9(base, off, WC, C, ml, mc, mr, up, down, w_ptr, offs_c, cmask):
    """z = Σ_t w_t · x(p + o_t) for one tile, float32 [BLOCK_W, CP] (zero-padded borders)."""
    z = _tap(base, off, -WC - C, ml & up) * _weight(w_ptr, offs_c, cmask, 0)
    z += _tap(base, off, -WC, mc & up) * _weight(w_ptr, offs_c, cmask, 1)
    z += _tap(base, off, -WC + C, mr & up) * _weight(w_ptr, offs_c, cmask, 2)
    z += _tap(base, off, -C, ml) * _weight(w_ptr, offs_c, cmask, 3)
    z += _tap(base, off, 0, mc) * _weight(w_ptr, offs_c, cmask, 4)
    z += _tap(base, off, C, mr) * _weight(w_ptr, offs_c, cmask, 5)
    z += _tap(base, off, WC - C, ml & down) * _weight(w_ptr, offs_c, cmask, 6)
    z += _tap(base, off, WC, mc & down) * _weight(w_ptr, offs_c, cmask, 7)
    z += _tap(base, off, WC + C, mr & down) * _weight(w_ptr, offs_c, cmask, 8)
    return z


@triton.jit
def _normalise(z, cmask, C, eps):
    """(y, rstd) of LayerNorm over the last axis of z [BLOCK_W, CP] (C real channels)."""
    mean = tl.sum(z, axis=1) / C
    d = tl.where(cmask[None, :], z - mean[:, None], 0.0)
    var = tl.sum(d * d, axis=1) / C
    rstd = 1.0 / tl.sqrt(var + eps)
    return d * rstd[:, None], rstd


@triton.jit
def fwd_kernel(x_ptr, w_ptr, y_ptr, H, W, C, eps, BLOCK_W: tl.constexpr, CP: tl.constexpr):
    h, up, down, start, offs_c, cmask = _row_setup(H, W, C, CP)
    offs_w = tl.program_id(1) * BLOCK_W + tl.arange(0, BLOCK_W)
    off = offs_w[:, None] * C + offs_c[None, :]
    ml, mc, mr = _column_masks(offs_w, W, cmask)
    z = _conv9(x_ptr + start, off, W * C, C, ml, mc, mr, up, down, w_ptr, offs_c, cmask)
    y, _ = _normalise(z, cmask, C, eps)
    tl.store(y_ptr + start + off, y.to(y_ptr.dtype.element_ty), mask=mc)


@triton.jit
def _row_setup(H, W, C, CP: tl.constexpr):
    """Per-program row quantities: (h, has a row above, has a row below, the row's first
    element as int64, channel offsets, real-channel mask)."""
    row = tl.program_id(0)  # b·H + h
    h = row % H
    offs_c = tl.arange(0, CP)
    return h, h > 0, h < H - 1, row.to(tl.int64) * W * C, offs_c, offs_c < C


@triton.jit
def bwd_z_kernel(x_ptr, w_ptr, g_ptr, dz_ptr, H, W, C, eps, SPLITS, ITERS: tl.constexpr,
                  BLOCK_W: tl.constexpr, CP: tl.constexpr):
    """∂z for the column blocks split, split + SPLITS, … of one row (ITERS of them; the last
    ones may lie past the row's end)."""
    h, up, down, start, offs_c, cmask = _row_setup(H, W, C, CP)
    split = tl.program_id(1)
    for it in range(0, ITERS):
        offs_w = (split + it * SPLITS) * BLOCK_W + tl.arange(0, BLOCK_W)
        off = offs_w[:, None] * C + offs_c[None, :]
        ml, mc, mr = _column_masks(offs_w, W, cmask)
        z = _conv9(x_ptr + start, off, W * C, C, ml, mc, mr, up, down, w_ptr, offs_c, cmask)
        y, rstd = _normalise(z, cmask, C, eps)
        g = tl.load(g_ptr + start + off, mask=mc, other=0.0).to(tl.float32)
        mg = tl.sum(g, axis=1) / C
        mgy = tl.sum(g * y, axis=1) / C
        dz = tl.where(mc, rstd[:, None] * (g - mg[:, None] - y * mgy[:, None]), 0.0)
        tl.store(dz_ptr + start + off, dz.to(dz_ptr.dtype.element_ty), mask=mc)


@triton.jit
def bwd_w_kernel(x_ptr, dz_ptr, dw_ptr, H, W, C, SPLITS, ITERS: tl.constexpr, BLOCK_W: tl.constexpr,
                  CP: tl.constexpr):
    """∂w over the same column blocks as :func:`bwd_z_kernel`: a_t += x(p + o_t) · ∂z(p)
    element-wise per tap, reduced over the tile rows once at the end; this program's share
    goes to dw_ptr[program, t, c] (float32 [programs, 9, C]). (Computing ∂w inside the ∂z
    kernel was measured slower: the nine accumulators crowd the registers.)"""
    h, up, down, start, offs_c, cmask = _row_setup(H, W, C, CP)
    split = tl.program_id(1)
    xb = x_ptr + start
    WC = W * C
    a0 = tl.zeros((BLOCK_W, CP), dtype=tl.float32)
    a1 = tl.zeros((BLOCK_W, CP), dtype=tl.float32)
    a2 = tl.zeros((BLOCK_W, CP), dtype=tl.float32)
    a3 = tl.zeros((BLOCK_W, CP), dtype=tl.float32)
    a4 = tl.zeros((BLOCK_W, CP), dtype=tl.float32)
    a5 = tl.zeros((BLOCK_W, CP), dtype=tl.float32)
    a6 = tl.zeros((BLOCK_W, CP), dtype=tl.float32)
    a7 = tl.zeros((BLOCK_W, CP), dtype=tl.float32)
    a8 = tl.zeros((BLOCK_W, CP), dtype=tl.float32)
    for it in range(0, ITERS):
        offs_w = (split + it * SPLITS) * BLOCK_W + tl.arange(0, BLOCK_W)
        off = offs_w[:, None] * C + offs_c[None, :]
        ml, mc, mr = _column_masks(offs_w, W, cmask)
        dz = tl.load(dz_ptr + start + off, mask=mc, other=0.0).to(tl.float32)
        a0 += _tap(xb, off, -WC - C, ml & up) * dz
        a1 += _tap(xb, off, -WC, mc & up) * dz
        a2 += _tap(xb, off, -WC + C, mr & up) * dz
        a3 += _tap(xb, off, -C, ml) * dz
        a4 += _tap(xb, off, 0, mc) * dz
        a5 += _tap(xb, off, C, mr) * dz
        a6 += _tap(xb, off, WC - C, ml & down) * dz
        a7 += _tap(xb, off, WC, mc & down) * dz
        a8 += _tap(xb, off, WC + C, mr & down) * dz
    out = dw_ptr + (tl.program_id(0) * SPLITS + split).to(tl.int64) * 9 * C + offs_c
    tl.store(out, tl.sum(a0, axis=0), mask=cmask)
    tl.store(out + C, tl.sum(a1, axis=0), mask=cmask)
    tl.store(out + 2 * C, tl.sum(a2, axis=0), mask=cmask)
    tl.store(out + 3 * C, tl.sum(a3, axis=0), mask=cmask)
    tl.store(out + 4 * C, tl.sum(a4, axis=0), mask=cmask)
    tl.store(out + 5 * C, tl.sum(a5, axis=0), mask=cmask)
    tl.store(out + 6 * C, tl.sum(a6, axis=0), mask=cmask)
    tl.store(out + 7 * C, tl.sum(a7, axis=0), mask=cmask)
    tl.store(out + 8 * C, tl.sum(a8, axis=0), mask=cmask)


@triton.jit
def bwd_x_kernel(dz_ptr, w_ptr, dx_ptr, H, W, C, BLOCK_W: tl.constexpr, CP: tl.constexpr):
    """∂x(q) = Σ_t w_t · ∂z(q − o_t): the transposed stencil (tap t reads the mirrored
    neighbour)."""
    h, up, down, start, offs_c, cmask = _row_setup(H, W, C, CP)
    offs_w = tl.program_id(1) * BLOCK_W + tl.arange(0, BLOCK_W)
    off = offs_w[:, None] * C + offs_c[None, :]
    ml, mc, mr = _column_masks(offs_w, W, cmask)
    b = dz_ptr + start
    WC = W * C
    acc = _tap(b, off, WC + C, mr & down) * _weight(w_ptr, offs_c, cmask, 0)
    acc += _tap(b, off, WC, mc & down) * _weight(w_ptr, offs_c, cmask, 1)
    acc += _tap(b, off, WC - C, ml & down) * _weight(w_ptr, offs_c, cmask, 2)
    acc += _tap(b, off, C, mr) * _weight(w_ptr, offs_c, cmask, 3)
    acc += _tap(b, off, 0, mc) * _weight(w_ptr, offs_c, cmask, 4)
    acc += _tap(b, off, -C, ml) * _weight(w_ptr, offs_c, cmask, 5)
    acc += _tap(b, off, -WC + C, mr & up) * _weight(w_ptr, offs_c, cmask, 6)
    acc += _tap(b, off, -WC, mc & up) * _weight(w_ptr, offs_c, cmask, 7)
    acc += _tap(b, off, -WC - C, ml & up) * _weight(w_ptr, offs_c, cmask, 8)
    tl.store(dx_ptr + start + off, acc.to(dx_ptr.dtype.element_ty), mask=mc)
