"""Triton kernels of :mod:`mvhinerv.model.mlp_head_op`: o = σ(GELU(y·W1ᵀ)·W2ᵀ + b) per pixel, and
its gradients.

A module of its own so that importing the model does not import Triton (as
:mod:`.dwconv_ln_kernels`). Rows: y is [N, K] with YS values from one pixel to the next
(YS ≥ K), W1 [H, K], W2 [O, H], b [O] (float32 or y's dtype), o [N, O] float32. A tile holds BM
pixels; its matrices are padded to powers of two ≥ 16 (which ``tl.dot`` needs) by masked loads,
so the padding contributes exact zeros. Widths are split, as the depthwise kernels split channels
(:func:`mvhinerv.model.dwconv_ln.channel_groups`), into a main group (a power of two) and a tail
(0 or a power of two ≥ 16): the inputs as KM + KT (S's last stage reads rows of 72 values, 70 of
them real: 64 + 16 lanes rather than 128; the backward 624 → 568 µs at 1080p on an H200, the
forward 202 → 176), the forward's hidden units as HM + HT (35 → 32 + 16 rather than 64, for GELU
is most of the work per pixel); the backward keeps its hidden units one group of HP (its
registers would not hold two). OP ≥ O pads the outputs. The products run on the tensor
cores in y's dtype with float32 accumulation (what autocast gives the linears they replace);
IEEE is the products' precision when y is float32 (the CPU reference path).

The backward recomputes h, GELU(h) and o from y (nothing but y is saved) and each program walks
over tiles ``pid, pid + P, …`` accumulating its shares of ∂W1, ∂W2 and ∂b in registers; it writes
them once, and :func:`mvhinerv.model.colsum.column_sums` adds the P shares (deterministic).
"""

from __future__ import annotations

import triton
import triton.language as tl

from mvhinerv.model.gelu_kernels import _cdf_pdf


@triton.jit
def _dot(a, b, IEEE: tl.constexpr, acc=None):
    """a·b (+ acc, accumulated in place: no second register tile)."""
    if IEEE:
        return tl.dot(a, b, acc, input_precision="ieee")
    return tl.dot(a, b, acc)


@triton.jit
def _w1(w1_ptr, dt, H0: tl.constexpr, HG: tl.constexpr, K0: tl.constexpr, KG: tl.constexpr, K: tl.constexpr,
        H: tl.constexpr):
    """W1's block of hidden units H0 … H0 + HG − 1 and inputs K0 … K0 + KG − 1 [HG, KG] in dtype
    dt (zeros past H or K)."""
    hs = H0 + tl.arange(0, HG)
    ks = K0 + tl.arange(0, KG)
    w = tl.load(w1_ptr + hs[:, None] * K + ks[None, :], mask=(hs[:, None] < H) & (ks[None, :] < K), other=0.0)
    return w.to(dt)


@triton.jit
def _w2(w2_ptr, dt, H0: tl.constexpr, HG: tl.constexpr, H: tl.constexpr, O: tl.constexpr, OP: tl.constexpr):
    """W2's columns H0 … H0 + HG − 1 [OP, HG] in dtype dt (zeros past O or H)."""
    os = tl.arange(0, OP)
    hs = H0 + tl.arange(0, HG)
    w = tl.load(w2_ptr + os[:, None] * H + hs[None, :], mask=(os[:, None] < O) & (hs[None, :] < H), other=0.0)
    return w.to(dt)


@triton.jit
def _tile(t, n, BM: tl.constexpr):
    """Tile t's pixel indices [BM] (int64) and their validity."""
    rows = t.to(tl.int64) * BM + tl.arange(0, BM)
    return rows, rows < n


@triton.jit
def _cols(y_ptr, rows, valid, YS, K0: tl.constexpr, KG: tl.constexpr, K: tl.constexpr):
    """y's inputs K0 … K0 + KG − 1 of the tile's pixels [BM, KG] (zeros past K and outside)."""
    ks = K0 + tl.arange(0, KG)
    return tl.load(y_ptr + rows[:, None] * YS + ks[None, :], mask=valid[:, None] & (ks[None, :] < K), other=0.0)


@triton.jit
def _bias(b_ptr, O: tl.constexpr, OP: tl.constexpr):
    os = tl.arange(0, OP)
    return tl.load(b_ptr + os, mask=os < O, other=0.0).to(tl.float32)


@triton.jit
def _pre(ym, yt, w1_ptr, dt, H0: tl.constexpr, HG: tl.constexpr, K: tl.constexpr, H: tl.constexpr,
         KM: tl.constexpr, KT: tl.constexpr, IEEE: tl.constexpr):
    """Hidden units H0 … H0 + HG − 1 of the tile: h = y·W1ᵀ [BM, HG] float32, y as its main (ym
    [BM, KM]) and tail (yt [BM, KT], ignored when KT = 0) groups of inputs."""
    h = _dot(ym, tl.trans(_w1(w1_ptr, dt, H0, HG, 0, KM, K, H)), IEEE)
    if KT > 0:
        h = _dot(yt, tl.trans(_w1(w1_ptr, dt, H0, HG, KM, KT, K, H)), IEEE, h)
    return h


@triton.jit
def _head_z(ym, yt, w1_ptr, w2_ptr, dt, H0: tl.constexpr, HG: tl.constexpr, K: tl.constexpr, H: tl.constexpr,
            O: tl.constexpr, KM: tl.constexpr, KT: tl.constexpr, OP: tl.constexpr, IEEE: tl.constexpr, acc=None):
    """(acc +) hidden units H0 … H0 + HG − 1's part of the head's pre-activation,
    GELU(y·W1ᵀ)·W2ᵀ [BM, OP] (accumulated in place)."""
    h = _pre(ym, yt, w1_ptr, dt, H0, HG, K, H, KM, KT, IEEE)
    cdf, _ = _cdf_pdf(h)
    return _dot((h * cdf).to(dt), tl.trans(_w2(w2_ptr, dt, H0, HG, H, O, OP)), IEEE, acc)


@triton.jit
def mlp_head_fwd_kernel(y_ptr, w1_ptr, w2_ptr, b_ptr, o_ptr, n, YS, K: tl.constexpr, H: tl.constexpr,
                        O: tl.constexpr, BM: tl.constexpr, KM: tl.constexpr, KT: tl.constexpr, HM: tl.constexpr,
                        HT: tl.constexpr, OP: tl.constexpr, ALIGN: tl.constexpr, IEEE: tl.constexpr):
    """o = σ(GELU(y·W1ᵀ)·W2ᵀ + b) for BM pixels per program. ALIGN: YS is a multiple of it
    (rewritten so that Triton knows, for vector loads; 1 if not)."""
    YS = (YS // ALIGN) * ALIGN
    dt = y_ptr.dtype.element_ty
    rows, valid = _tile(tl.program_id(0), n, BM)
    ym = _cols(y_ptr, rows, valid, YS, 0, KM, K)
    yt = ym  # a stand-in when there is no tail group
    if KT > 0:
        yt = _cols(y_ptr, rows, valid, YS, KM, KT, K)
    z = _head_z(ym, yt, w1_ptr, w2_ptr, dt, 0, HM, K, H, O, KM, KT, OP, IEEE) + _bias(b_ptr, O, OP)[None, :]
    if HT > 0:
        z = _head_z(ym, yt, w1_ptr, w2_ptr, dt, HM, HT, K, H, O, KM, KT, OP, IEEE, z)
    os = tl.arange(0, OP)
    tl.store(o_ptr + rows[:, None] * O + os[None, :], tl.sigmoid(z), mask=valid[:, None] & (os[None, :] < O))


@triton.jit
def mlp_head_bwd_kernel(y_ptr, w1_ptr, w2_ptr, b_ptr, do_ptr, dy_ptr, dw1_ptr, dw2_ptr, db_ptr, n, YS, HWN, DB,
                        DP, DC, K: tl.constexpr, H: tl.constexpr, O: tl.constexpr, BM: tl.constexpr,
                        KM: tl.constexpr, KT: tl.constexpr, HP: tl.constexpr, OP: tl.constexpr,
                        ALIGN: tl.constexpr, IEEE: tl.constexpr, PER_PROGRAM: tl.constexpr):
    """∂y [N, K] (rows of K values; zeros where W1 has none), and this program's shares of ∂W1
    [H, K], ∂W2 [O, H] and ∂b [O] (float32, at row pid of dw1/dw2/db), from ∂o: pixel p = b·HWN + i,
    output c at ``do_ptr + b·DB + i·DP + c·DC`` (float32; a channels-first ∂o is read in place).
    A program handles PER_PROGRAM tiles (a constant: Triton's interpreter cannot loop to an
    argument), pid + i·P for P programs. The inputs are split as the forward's (KM + KT); the
    hidden units are one group of HP (a power of two): split like the forward's, the kernel needed
    more than 255 registers per thread and spilled (20–40 % slower on an H200, docs/performance.md
    § Training step).

    Per tile: z recomputed, ∂z = ∂o·σ(z)(1 − σ(z)), ∂g = ∂z·W2, ∂h = ∂g·GELU'(h), ∂y = ∂h·W1;
    ∂W2 += ∂zᵀ·GELU(h), ∂W1 += ∂hᵀ·y, ∂b += Σ ∂z (products accumulated in place)."""
    YS = (YS // ALIGN) * ALIGN
    dt = y_ptr.dtype.element_ty
    pid = tl.program_id(0)
    w1m = _w1(w1_ptr, dt, 0, HP, 0, KM, K, H)
    w2 = _w2(w2_ptr, dt, 0, HP, H, O, OP)
    b = _bias(b_ptr, O, OP)
    km = tl.arange(0, KM)
    hs = tl.arange(0, HP)
    os = tl.arange(0, OP)
    acc_w1m = tl.zeros((HP, KM), dtype=tl.float32)
    if KT > 0:
        w1t = _w1(w1_ptr, dt, 0, HP, KM, KT, K, H)
        kt = KM + tl.arange(0, KT)
        acc_w1t = tl.zeros((HP, KT), dtype=tl.float32)
    acc_w2 = tl.zeros((OP, HP), dtype=tl.float32)
    acc_b = tl.zeros((OP,), dtype=tl.float32)
    for i in range(PER_PROGRAM):  # tiles pid, pid + P, …; those past the last are all invalid rows
        rows, valid = _tile(pid + i * tl.num_programs(0), n, BM)
        ym = _cols(y_ptr, rows, valid, YS, 0, KM, K)
        h = _dot(ym, tl.trans(w1m), IEEE)
        if KT > 0:
            yt = _cols(y_ptr, rows, valid, YS, KM, KT, K)
            h = _dot(yt, tl.trans(w1t), IEEE, h)
        cdf, pdf = _cdf_pdf(h)
        g = (h * cdf).to(dt)
        slope = cdf + h * pdf  # GELU'(h)
        o = tl.sigmoid(_dot(g, tl.trans(w2), IEEE) + b[None, :])
        at = (rows // HWN) * DB + (rows % HWN) * DP
        d_o = tl.load(do_ptr + at[:, None] + os[None, :] * DC, mask=valid[:, None] & (os[None, :] < O), other=0.0)
        dz = d_o * o * (1.0 - o)
        acc_b += tl.sum(dz, axis=0)
        dz = dz.to(dt)
        acc_w2 = _dot(tl.trans(dz), g, IEEE, acc_w2)
        dh = (_dot(dz, w2, IEEE) * slope).to(dt)
        acc_w1m = _dot(tl.trans(dh), ym, IEEE, acc_w1m)
        tl.store(dy_ptr + rows[:, None] * K + km[None, :], _dot(dh, w1m, IEEE).to(dy_ptr.dtype.element_ty),
                 mask=valid[:, None] & (km[None, :] < K))
        if KT > 0:
            acc_w1t = _dot(tl.trans(dh), yt, IEEE, acc_w1t)
            tl.store(dy_ptr + rows[:, None] * K + kt[None, :], _dot(dh, w1t, IEEE).to(dy_ptr.dtype.element_ty),
                     mask=valid[:, None] & (kt[None, :] < K))
    base = pid.to(tl.int64)
    tl.store(dw1_ptr + base * (H * K) + hs[:, None] * K + km[None, :], acc_w1m,
             mask=(hs[:, None] < H) & (km[None, :] < K))
    if KT > 0:
        tl.store(dw1_ptr + base * (H * K) + hs[:, None] * K + kt[None, :], acc_w1t,
                 mask=(hs[:, None] < H) & (kt[None, :] < K))
    tl.store(dw2_ptr + base * (O * H) + os[:, None] * H + hs[None, :], acc_w2,
             mask=(os[:, None] < O) & (hs[None, :] < H))
    tl.store(db_ptr + base * O + os, acc_b, mask=os < O)
