"""Triton kernels of :mod:`mvhinerv.model.dwconv_ln` (fused depthwise 3×3 + LayerNorm).

A module of its own so that importing the model does not import Triton (a quarter of a second on
a CPU, where these kernels never run): :mod:`mvhinerv.model.dwconv_ln` imports it on the first
call. Triton reads ``TRITON_INTERPRET`` when this module is imported.

Layout: every tensor is channels last, [B, H, W, C], contiguous except that x (and so ∂z) may
have XS ≥ C values per pixel (a wider row cut to its first C channels); a program handles a tile of
BLOCK_W pixels of one row (b·H + h), or of a band of rows (∂x/∂w). Triton tiles have
power-of-two sides, and HiNeRV's widths are not powers of two (35, 70, 140, 280: 35·2^k).
Padding C to the next power of two (64, 128, …) leaves 45 % of every tile's lanes masked, and
these kernels are not bound by DRAM bandwidth but by the latency of their loads (Nsight Compute
on an H200: ∂x/∂w at 46 % of the DRAM bandwidth, its warps waiting on L1/L2 most of the time). So
the channels of a tile are two groups: a *main* group of CM channels (the largest power of two ≤
C, all real, e.g. 64 of 70) and a *tail* group of CT lanes for the rest (C − CM real channels
padded to a power of two, e.g. 6 → 8): 72 lanes for 70 channels instead of 128. CT = 0 means no
tail (C a power of two, or the padded layout for comparison). The LayerNorm statistics add the two
groups' sums; the ∂x/∂w kernel, which has no reduction over channels, runs each group's tiles as
programs of their own, side by side in one launch.

The forward's output y (and so its gradient) may have a wider row than x: CY ≥ C channels per
pixel, zeros past C, so that the block MLP's matmuls get operands aligned to 16 bytes (70 → 72;
:meth:`mvhinerv.model.blocks.ConvNeXtBlock.hidden`). The forward's tail group then covers
the zero lanes too (CM + CT ≥ CY).
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
def _weight_t(wt_ptr, offs_c, cmask, tap, WS: tl.constexpr):
    """Tap ``tap`` of the channels offs_c from the weight laid out [9, WS] (taps × channels,
    WS ≥ C): contiguous in the channels, so a thread holding 8 channels loads them at once."""
    return tl.load(wt_ptr + tap * WS + offs_c, mask=cmask, other=0.0).to(tl.float32)[None, :]


@triton.jit
def _group(offs_w, W, C, XS, C0: tl.constexpr, CP: tl.constexpr, REAL: tl.constexpr = False):
    """One channel group of a tile: channels C0 … C0 + CP − 1 (those < C are real) of the pixels
    offs_w, in a row of XS ≥ C values per pixel. Returns (offsets in the row [BLOCK_W, CP],
    channel offsets, channel mask, and the masks of the left, centre and right neighbours:
    inside the row and a real channel). ``REAL``: every lane is a real channel (C0 + CP ≤ C),
    so the channel mask is a constant: with a run-time C, a mask that varies along the channels
    stops Triton from loading 8 of them in one instruction."""
    offs_c = C0 + tl.arange(0, CP)
    if REAL:
        cmask = tl.full((CP,), 1, tl.int1)
    else:
        cmask = offs_c < C
    off = offs_w[:, None] * XS + offs_c[None, :]
    left = ((offs_w >= 1) & (offs_w <= W))[:, None] & cmask[None, :]
    centre = (offs_w < W)[:, None] & cmask[None, :]
    right = (offs_w + 1 < W)[:, None] & cmask[None, :]
    return off, offs_c, cmask, left, centre, right


@triton.jit
def _conv9(base, off, WC, C, ml, mc, mr, up, down, wt_ptr, offs_c, cmask, WS: tl.constexpr):
    """z = Σ_t w_t · x(p + o_t) for one channel group of a tile, float32 (zero-padded borders);
    the weight laid out [9, WS] (:func:`_weight_t`)."""
    z = _tap(base, off, -WC - C, ml & up) * _weight_t(wt_ptr, offs_c, cmask, 0, WS)
    z += _tap(base, off, -WC, mc & up) * _weight_t(wt_ptr, offs_c, cmask, 1, WS)
    z += _tap(base, off, -WC + C, mr & up) * _weight_t(wt_ptr, offs_c, cmask, 2, WS)
    z += _tap(base, off, -C, ml) * _weight_t(wt_ptr, offs_c, cmask, 3, WS)
    z += _tap(base, off, 0, mc) * _weight_t(wt_ptr, offs_c, cmask, 4, WS)
    z += _tap(base, off, C, mr) * _weight_t(wt_ptr, offs_c, cmask, 5, WS)
    z += _tap(base, off, WC - C, ml & down) * _weight_t(wt_ptr, offs_c, cmask, 6, WS)
    z += _tap(base, off, WC, mc & down) * _weight_t(wt_ptr, offs_c, cmask, 7, WS)
    z += _tap(base, off, WC + C, mr & down) * _weight_t(wt_ptr, offs_c, cmask, 8, WS)
    return z


@triton.jit
def _row_setup(H, W, XS):
    """Per-program row quantities: (has a row above, has a row below, the row's first element
    as int64, XS values per pixel)."""
    row = tl.program_id(0)  # b·H + h
    h = row % H
    return h > 0, h < H - 1, row.to(tl.int64) * W * XS


@triton.jit
def _ln_forward(x_ptr, wt_ptr, start, offs_w, up, down, W, C, XS, eps, CM: tl.constexpr, CT: tl.constexpr,
                MAIN_REAL: tl.constexpr, WS: tl.constexpr):
    """z and LayerNorm over both channel groups of one tile (x has XS values per pixel, the
    weight is laid out [9, WS]): returns (main group's offsets, centre mask, y; the same for the
    tail (y = 0 when CT = 0); rstd per pixel)."""
    WC = W * XS
    om, cm, km, lm, mm, rm = _group(offs_w, W, C, XS, 0, CM, MAIN_REAL)
    zm = _conv9(x_ptr + start, om, WC, XS, lm, mm, rm, up, down, wt_ptr, cm, km, WS)
    total = tl.sum(zm, axis=1)
    ot = om
    mt = mm
    if CT > 0:
        ot, ct, kt, lt, mt, rt = _group(offs_w, W, C, XS, CM, CT)
        zt = _conv9(x_ptr + start, ot, WC, XS, lt, mt, rt, up, down, wt_ptr, ct, kt, WS)
        total += tl.sum(zt, axis=1)
    mean = total / C
    dm = tl.where(km[None, :], zm - mean[:, None], 0.0)
    square = tl.sum(dm * dm, axis=1)
    if CT > 0:
        dt = tl.where(kt[None, :], zt - mean[:, None], 0.0)
        square += tl.sum(dt * dt, axis=1)
    rstd = 1.0 / tl.sqrt(square / C + eps)
    ym = dm * rstd[:, None]
    yt = ym
    if CT > 0:
        yt = dt * rstd[:, None]
    return om, mm, ym, ot, mt, yt, rstd


@triton.jit
def fwd_kernel(x_ptr, wt_ptr, y_ptr, rstd_ptr, H, W, C, XS, CY, eps, BLOCK_W: tl.constexpr, CM: tl.constexpr,
               CT: tl.constexpr, MAIN_REAL: tl.constexpr, WS: tl.constexpr, ALIGN: tl.constexpr):
    """y = LayerNorm(dwconv(x)) of one row tile, and rstd per pixel (float32 [B·H·W], for the
    backward). x has XS ≥ C values per pixel (the channels C … XS − 1 are not read), y a row of
    CY ≥ C channels per pixel; channels C … CY − 1 are written as
    zeros (the groups cover them: CM + CT ≥ CY). ``MAIN_REAL``: every lane of the main group is a
    real channel (CM ≤ C), so its store reuses the loads' offsets (shifted per pixel) and mask;
    a store with its own offsets and mask made this instruction-bound kernel 30 % slower on an
    H200 (1.52 → 1.98 ms per S step at 1080p).

    The weight comes laid out [9, WS] (taps × channels, :func:`_weight_t`). ``ALIGN`` > 1: XS and
    CY are multiples of ALIGN (8 on the fused training path, whose maps have rows of a multiple
    of 8 channels). Rewriting them as (XS // ALIGN) · ALIGN tells Triton so (it only infers
    divisibility by 16 from an argument's value), and with the main group's constant mask each
    thread then loads 8 bf16 channels of a tap in one 16-byte instruction instead of eight
    2-byte ones (sm_90 PTX: 72 scalar loads per thread and tile → 9 vector loads)."""
    if ALIGN > 1:
        XS = (XS // ALIGN) * ALIGN
        CY = (CY // ALIGN) * ALIGN
    up, down, start = _row_setup(H, W, XS)
    row = tl.program_id(0).to(tl.int64)
    offs_w = tl.program_id(1) * BLOCK_W + tl.arange(0, BLOCK_W)
    om, mm, ym, ot, _, yt, rstd = _ln_forward(x_ptr, wt_ptr, start, offs_w, up, down, W, C, XS, eps, CM, CT,
                                              MAIN_REAL, WS)
    y_row = y_ptr + row * W * CY
    pad = offs_w[:, None] * (CY - XS)  # offsets in a row of XS values per pixel → of CY
    inside = (offs_w < W)[:, None]
    if not MAIN_REAL:
        mm = inside & (tl.arange(0, CM) < CY)[None, :]
    tl.store(y_row + (om + pad), ym.to(y_ptr.dtype.element_ty), mask=mm)
    if CT > 0:
        tail = inside & ((CM + tl.arange(0, CT)) < CY)[None, :]
        tl.store(y_row + (ot + pad), yt.to(y_ptr.dtype.element_ty), mask=tail)
    tl.store(rstd_ptr + row * W + offs_w, rstd, mask=offs_w < W)


@triton.jit
def bwd_z_kernel(y_ptr, g_ptr, rstd_ptr, dz_ptr, H, W, C: tl.constexpr, XS: tl.constexpr, CY: tl.constexpr,
                 BLOCK_W: tl.constexpr, CM: tl.constexpr, CT: tl.constexpr):
    """∂z = rstd·(∂y − mean(∂y) − y·mean(∂y ⊙ y)) of one row tile, from the forward's output y
    and rstd: no stencil, two reads and a write per value. y and ∂y have a row of CY channels per
    pixel (as the forward wrote y), ∂z one of XS values per pixel, as x has (channels C … XS − 1
    are written as zeros where the tail group covers them). C, XS and CY are compile-time constants here (one
    compilation per width; the address arithmetic folds): 0.99 → 0.75 ms per S step at 1080p on
    an H200, where the other kernels measured slower that way."""
    _, _, start = _row_setup(H, W, XS)
    row = tl.program_id(0).to(tl.int64)
    offs_w = tl.program_id(1) * BLOCK_W + tl.arange(0, BLOCK_W)
    y_row = row * W * CY
    om, cm, _, _, mm, _ = _group(offs_w, W, C, XS, 0, CM)
    oy = y_row + offs_w[:, None] * CY + cm[None, :]
    ym = tl.load(y_ptr + oy, mask=mm, other=0.0).to(tl.float32)
    gm = tl.load(g_ptr + oy, mask=mm, other=0.0).to(tl.float32)
    sg = tl.sum(gm, axis=1)
    sgy = tl.sum(gm * ym, axis=1)
    if CT > 0:
        ot, ct, _, _, mt, _ = _group(offs_w, W, C, XS, CM, CT)
        oy = y_row + offs_w[:, None] * CY + ct[None, :]
        yt = tl.load(y_ptr + oy, mask=mt, other=0.0).to(tl.float32)
        gt = tl.load(g_ptr + oy, mask=mt, other=0.0).to(tl.float32)
        sg += tl.sum(gt, axis=1)
        sgy += tl.sum(gt * yt, axis=1)
    rstd = tl.load(rstd_ptr + row * W + offs_w, mask=offs_w < W, other=0.0)
    mg = (sg / C)[:, None]
    mgy = (sgy / C)[:, None]
    r = rstd[:, None]
    tl.store(dz_ptr + start + om, (r * (gm - mg - ym * mgy)).to(dz_ptr.dtype.element_ty), mask=mm)
    if CT > 0:
        # The tail covers the pad channels C … XS − 1 too (channel_groups(C, XS)): zeros there
        # make every 32-byte sector of a pixel row a full write. Left unwritten, the kernel
        # alone took 244 → 353 µs at 1080p for XS = 72 against XS = 70 (H200; partial sectors).
        dzt = tl.where((ct < C)[None, :], r * (gt - mg - yt * mgy), 0.0)
        tl.store(dz_ptr + start + ot, dzt.to(dz_ptr.dtype.element_ty),
                 mask=(offs_w < W)[:, None] & (ct < XS)[None, :])


@triton.jit
def _row_shifts(b, ok, off, C, ml, mc, mr):
    """∂z of one row at the columns q + 1, q, q − 1 of the tile's pixels q (0 outside the frame or
    where ``ok``, the row's own validity, is false)."""
    return _tap(b, off, C, mr & ok), _tap(b, off, 0, mc & ok), _tap(b, off, -C, ml & ok)


@triton.jit
def _wx_band(x_ptr, dz_ptr, w_ptr, dx_ptr, dw_ptr, item, r0, offs_w, prog, H, W, C, XS, NC, ROWS: tl.constexpr,
             C0: tl.constexpr, CP: tl.constexpr):
    """∂x and ∂w of channels C0 … C0 + CP − 1 (NC of them real) for a band of ROWS rows and a
    tile of BLOCK_W columns, walking down the band with the ∂z rows q − 1, q, q + 1 in registers:

        ∂x(q) = Σ_t w_t · ∂z(q − o_t),        ∂w_t = Σ_q x(q) · ∂z(q − o_t)

    Each ∂z row is loaded once per band (at its three column shifts) instead of three times,
    and x once. ∂w is accumulated element-wise per tap and reduced over the tile's pixels at the
    end: this program's share goes to dw_ptr[program, t, c − C0] (float32 [programs, 9, NC]).
    ``item``: the batch item (int64), ``r0``: the band's first row, ``offs_w``: the tile's pixels
    [BLOCK_W], ``prog``: this tile's slot in dw_ptr. x, ∂z and ∂x have XS values per pixel;
    ∂x is written as zeros in the lanes C … XS − 1 that the group covers (full 32-byte sectors,
    and aligned rows for the upsampler's backward, which reads ∂x in place)."""
    BLOCK_W: tl.constexpr = offs_w.shape[0]
    off, offs_c, cmask, ml, mc, mr = _group(offs_w, W, C, XS, C0, CP)
    image = item * H * W * XS
    keep = (offs_w < W)[:, None] & (offs_c < XS)[None, :]  # ∂x lanes written (0 past C: w is 0 there)
    w0 = _weight(w_ptr, offs_c, cmask, 0)
    w1 = _weight(w_ptr, offs_c, cmask, 1)
    w2 = _weight(w_ptr, offs_c, cmask, 2)
    w3 = _weight(w_ptr, offs_c, cmask, 3)
    w4 = _weight(w_ptr, offs_c, cmask, 4)
    w5 = _weight(w_ptr, offs_c, cmask, 5)
    w6 = _weight(w_ptr, offs_c, cmask, 6)
    w7 = _weight(w_ptr, offs_c, cmask, 7)
    w8 = _weight(w_ptr, offs_c, cmask, 8)
    WC = W * XS
    # Rows q − 1 (p*) and q (c*) of ∂z at the shifts +1, 0, −1 (columns).
    pr, pm, pl = _row_shifts(dz_ptr + image + (r0 - 1).to(tl.int64) * WC, r0 >= 1, off, XS, ml, mc, mr)
    cr, cm_, cl = _row_shifts(dz_ptr + image + r0.to(tl.int64) * WC, r0 < H, off, XS, ml, mc, mr)
    nr, nm, nl = _row_shifts(dz_ptr + image + (r0 + 1).to(tl.int64) * WC, r0 + 1 < H, off, XS, ml, mc, mr)
    x = _tap(x_ptr + image + r0.to(tl.int64) * WC, off, 0, mc & (r0 < H))
    a0 = tl.zeros((BLOCK_W, CP), dtype=tl.float32)
    a1 = tl.zeros((BLOCK_W, CP), dtype=tl.float32)
    a2 = tl.zeros((BLOCK_W, CP), dtype=tl.float32)
    a3 = tl.zeros((BLOCK_W, CP), dtype=tl.float32)
    a4 = tl.zeros((BLOCK_W, CP), dtype=tl.float32)
    a5 = tl.zeros((BLOCK_W, CP), dtype=tl.float32)
    a6 = tl.zeros((BLOCK_W, CP), dtype=tl.float32)
    a7 = tl.zeros((BLOCK_W, CP), dtype=tl.float32)
    a8 = tl.zeros((BLOCK_W, CP), dtype=tl.float32)
    for i in range(0, ROWS):
        q = r0 + i
        row = image + q.to(tl.int64) * WC
        fr, fm, fl = _row_shifts(dz_ptr + row + 2 * WC, q + 2 < H, off, XS, ml, mc, mr)  # prefetch
        fx = _tap(x_ptr + row + WC, off, 0, mc & (q + 1 < H))
        acc = nr * w0 + nm * w1 + nl * w2 + cr * w3 + cm_ * w4 + cl * w5 + pr * w6 + pm * w7 + pl * w8
        a0 += nr * x
        a1 += nm * x
        a2 += nl * x
        a3 += cr * x
        a4 += cm_ * x
        a5 += cl * x
        a6 += pr * x
        a7 += pm * x
        a8 += pl * x
        tl.store(dx_ptr + row + off, acc.to(dx_ptr.dtype.element_ty), mask=keep & (q < H))
        pr, pm, pl = cr, cm_, cl
        cr, cm_, cl = nr, nm, nl
        nr, nm, nl = fr, fm, fl
        x = fx
    out = dw_ptr + prog.to(tl.int64) * 9 * NC + (offs_c - C0)
    tl.store(out, tl.sum(a0, axis=0), mask=cmask)
    tl.store(out + NC, tl.sum(a1, axis=0), mask=cmask)
    tl.store(out + 2 * NC, tl.sum(a2, axis=0), mask=cmask)
    tl.store(out + 3 * NC, tl.sum(a3, axis=0), mask=cmask)
    tl.store(out + 4 * NC, tl.sum(a4, axis=0), mask=cmask)
    tl.store(out + 5 * NC, tl.sum(a5, axis=0), mask=cmask)
    tl.store(out + 6 * NC, tl.sum(a6, axis=0), mask=cmask)
    tl.store(out + 7 * NC, tl.sum(a7, axis=0), mask=cmask)
    tl.store(out + 8 * NC, tl.sum(a8, axis=0), mask=cmask)


@triton.jit
def bwd_wx_kernel(x_ptr, dz_ptr, w_ptr, dx_ptr, dwm_ptr, dwt_ptr, H, W, C, XS, NM, ROWS: tl.constexpr,
                  BM: tl.constexpr, CM: tl.constexpr, BT: tl.constexpr, CT: tl.constexpr, K: tl.constexpr,
                  SUBS: tl.constexpr):
    """∂x and ∂w of both channel groups in one launch. The columns are cut into chunks of K·BM
    pixels (= BT when there is a tail); each chunk has SUBS programs per band: K main-group
    tiles of BM pixels, then (CT > 0) one tail-group tile of BT pixels. Running a chunk's tail
    right after its main tiles lets it find the 32-byte sectors it shares with them (a pixel's
    tail channels sit between its main channels and the next pixel's) in L2: as a separate
    launch, the tail of the full-resolution block of S at 1080p took 0.24 ms against the main
    group's 0.72 ms for a tenth of the channels (Nsight Compute, H200). Grid: (chunks · SUBS,
    B · bands); ∂w shares go to dwm_ptr [B · bands · chunks · K, 9, NM] and dwt_ptr
    [B · bands · chunks, 9, C − CM]; NM = min(CM, C), the main group's real channels (the padded
    layout, CM > C, has no tail). x, ∂z and ∂x have XS values per pixel."""
    col = tl.program_id(0)
    chunk = col // SUBS
    sub = col % SUBS
    chunks = tl.num_programs(0) // SUBS
    band = tl.program_id(1)
    bands = tl.cdiv(H, ROWS)
    item = (band // bands).to(tl.int64)
    r0 = (band % bands) * ROWS
    if sub < K:
        _wx_band(x_ptr, dz_ptr, w_ptr, dx_ptr, dwm_ptr, item, r0, (chunk * K + sub) * BM + tl.arange(0, BM),
                 (band * chunks + chunk) * K + sub, H, W, C, XS, NM, ROWS, 0, CM)
    else:
        if CT > 0:
            _wx_band(x_ptr, dz_ptr, w_ptr, dx_ptr, dwt_ptr, item, r0, chunk * BT + tl.arange(0, BT),
                     band * chunks + chunk, H, W, C, XS, C - CM, ROWS, CM, CT)
