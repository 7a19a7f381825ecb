"""Triton kernels of :mod:`mvhinerv.model.upsample_op`: bilinear ×S of a LayerNorm'd map plus the
encoding tile, and its adjoint.

Layout: channels last and contiguous. ``xn`` [B, n, m, C] is the input window (its outer rows and
columns are only read as taps); the output U [B, (n−2)·S, (m−2)·S, C] has, for produced cell
(i, j) and phase (p, q), the pixel (S·i + p, S·j + q), which reads the input cells i … i + 2
(rows) and j … j + 2 (columns) with the weights of :func:`_lerp3`
(:mod:`mvhinerv.model.upsample`'s stencil). A program covers BLOCK_W cells of one row (or
input pixels, in the adjoint) and all channels, as the fused depthwise kernels split them: a
power-of-two main group and a small tail (70 → 64 + 8 lanes, :mod:`.dwconv_ln_kernels`), one
after the other on the same pixels, so each pixel's row of channels is read and written whole.
Every phase loop is unrolled at compile time and taps of weight zero are skipped, so the
weights are constants.
"""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def _lerp3(t0, t1, t2, P: tl.constexpr, S: tl.constexpr):
    """Phase P of ×S: Σ_A w_A·t_A with the weights of :func:`_weight`; at most two are not 0."""
    if _weight(P, 0, S) != 0.0:
        r = t0 * _weight(P, 0, S) + t1 * _weight(P, 1, S)
    elif _weight(P, 2, S) != 0.0:
        r = t1 * _weight(P, 1, S) + t2 * _weight(P, 2, S)
    else:
        r = t1
    return r


@triton.jit
def _weight(P: tl.constexpr, A: tl.constexpr, S: tl.constexpr):
    """The weight with which phase P reads tap A (0: the cell before, 1: its own, 2: after)."""
    F: tl.constexpr = (P + 0.5) / S - 0.5
    if A == 0:
        w: tl.constexpr = -F if F < 0 else 0.0
    elif A == 1:
        w: tl.constexpr = 1.0 - F if F >= 0 else 1.0 + F
    else:
        w: tl.constexpr = F if F > 0 else 0.0
    return w


@triton.jit
def _cell(base, pix, cols, mask, C):
    """[BLOCK_W, CP] tile of the row at ``base``: pixels ``pix``, channels ``cols`` (float32)."""
    return tl.load(base + pix[:, None] * C + cols[None, :], mask=mask, other=0.0).to(tl.float32)


@triton.jit
def _up_fwd_group(x_ptr, tile_ptr, rf_ptr, cf_ptr, u_ptr, b, i, j, ch, n, m, C, US, S: tl.constexpr):
    """All S² phases of the cells j of row i, for the channels ``ch`` (one group); U has US ≥ C
    values per pixel, zeros written past C where the group covers them."""
    inside = j < m - 2
    mask = inside[:, None] & (ch < C)[None, :]
    store = inside[:, None] & (ch < US)[None, :]
    top = x_ptr + (b * n + i).to(tl.int64) * m * C  # input row i (window coordinates)
    mC = m * C
    x00 = _cell(top, j, ch, mask, C)
    x01 = _cell(top, j + 1, ch, mask, C)
    x02 = _cell(top, j + 2, ch, mask, C)
    x10 = _cell(top + mC, j, ch, mask, C)
    x11 = _cell(top + mC, j + 1, ch, mask, C)
    x12 = _cell(top + mC, j + 2, ch, mask, C)
    x20 = _cell(top + 2 * mC, j, ch, mask, C)
    x21 = _cell(top + 2 * mC, j + 1, ch, mask, C)
    x22 = _cell(top + 2 * mC, j + 2, ch, mask, C)
    wo = (m - 2) * S  # output row length in pixels
    for p in tl.static_range(S):
        r0 = _lerp3(x00, x10, x20, p, S)
        r1 = _lerp3(x01, x11, x21, p, S)
        r2 = _lerp3(x02, x12, x22, p, S)
        orow = S * i + p
        rowf = tl.load(rf_ptr + b * ((n - 2) * S) + orow).to(tl.float32)
        out = u_ptr + (b * ((n - 2) * S) + orow).to(tl.int64) * wo * US
        for q in tl.static_range(S):
            v = _lerp3(r0, r1, r2, q, S)
            colf = tl.load(cf_ptr + b * wo + S * j + q, mask=inside, other=0.0).to(tl.float32)
            enc = tl.load(tile_ptr + ((b * S + p) * S + q) * C + ch, mask=ch < C, other=0.0).to(tl.float32)
            v = v * rowf * colf[:, None] + enc[None, :]
            tl.store(out + (S * j + q)[:, None] * US + ch[None, :], v.to(u_ptr.dtype.element_ty), mask=store)


@triton.jit
def up_fwd_kernel(x_ptr, tile_ptr, rf_ptr, cf_ptr, u_ptr, n, m, C, US, S: tl.constexpr, BLOCK_W: tl.constexpr,
                  CM: tl.constexpr, CT: tl.constexpr):
    """U[b, S·i + p, S·j + q] = lerp(rows, then columns) · rf[b, S·i + p] · cf[b, S·j + q] + tile[b, p, q]
    for the cells j of this program's tile of row i (grid: B·(n − 2), column tiles); the main
    channel group, then the tail. U has US ≥ C values per pixel (zeros past C; the groups cover
    them, CM + CT ≥ US). Its stores as 16-byte vectors (US a multiple of 8 made known to Triton,
    as ``dwconv_ln_kernels.fwd_kernel`` does with its rows) were slower: 0.47 → 0.50 ms per S
    step at 1080p (H200, seventeenth session)."""
    row = tl.program_id(0)  # b·(n − 2) + i
    b = row // (n - 2)
    i = row % (n - 2)
    j = tl.program_id(1) * BLOCK_W + tl.arange(0, BLOCK_W)
    _up_fwd_group(x_ptr, tile_ptr, rf_ptr, cf_ptr, u_ptr, b, i, j, tl.arange(0, CM), n, m, C, US, S)
    if CT > 0:
        _up_fwd_group(x_ptr, tile_ptr, rf_ptr, cf_ptr, u_ptr, b, i, j, CM + tl.arange(0, CT), n, m, C, US, S)


@triton.jit
def _channel_mask(ch, C, REAL: tl.constexpr):
    """[1, len(ch)]: the real channels of a group; a constant when ``REAL`` (the main group), so
    that Triton can load 8 channels at once."""
    if REAL:
        return tl.full((1, ch.shape[0]), 1, tl.int1)
    return (ch < C)[None, :]


@triton.jit
def _gather_row(acc, du_ptr, rf_ptr, cf_ptr, b, i, row_ok, j, ch, C, GS, n, m, A: tl.constexpr, S: tl.constexpr,
                REAL: tl.constexpr):
    """Add to ``acc`` what produced cell row i (weight row A of each of its phases) sends back to
    the input pixels of this program: Σ_p w_A(p) · rf · Σ_{jj, q} w_B(q) · cf · ∂U, where the
    input column c is tap B of cell jj = c − B. ∂U has GS ≥ C values per pixel."""
    wo = (m - 2) * S
    for p in tl.static_range(S):
        if _weight(p, A, S) != 0.0:
            orow = S * i + p
            rowf = tl.load(rf_ptr + b * ((n - 2) * S) + orow, mask=row_ok, other=0.0).to(tl.float32)
            base = du_ptr + (b * ((n - 2) * S) + orow).to(tl.int64) * wo * GS
            part = tl.zeros(acc.shape, tl.float32)
            for bb in tl.static_range(3):
                jj = j - bb
                ok = row_ok & (jj >= 0) & (jj < m - 2)
                mask = ok[:, None] & _channel_mask(ch, C, REAL)
                for q in tl.static_range(S):
                    if _weight(q, bb, S) != 0.0:
                        col = S * jj + q
                        colf = tl.load(cf_ptr + b * wo + col, mask=ok, other=0.0).to(tl.float32)
                        g = tl.load(base + col[:, None] * GS + ch[None, :], mask=mask, other=0.0).to(tl.float32)
                        part += g * (colf * _weight(q, bb, S))[:, None]
            acc += part * (rowf * _weight(p, A, S))
    return acc


@triton.jit
def _up_bwd_group(du_ptr, rf_ptr, cf_ptr, dx_ptr, dtile, b, r, valid, j, ch, n, m, C, GS, S: tl.constexpr,
                  SS: tl.constexpr, REAL: tl.constexpr):
    """∂x of input row r, pixels j, channels ``ch`` (one group; ``REAL``: all real channels), when
    ``valid`` (r < n); adds to ``dtile`` [SS, len(ch)] (row p·S + q: phase (p, q)) the row's ∂tile
    share, Σ ∂U over the cells (r − 1, j − 1), and returns it. ∂U has GS values per pixel."""
    acc = tl.zeros((j.shape[0], ch.shape[0]), tl.float32)
    acc = _gather_row(acc, du_ptr, rf_ptr, cf_ptr, b, r, valid & (r < n - 2), j, ch, C, GS, n, m, 0, S, REAL)
    acc = _gather_row(acc, du_ptr, rf_ptr, cf_ptr, b, r - 1, valid & (r >= 1) & (r - 1 < n - 2), j, ch, C, GS, n, m,
                      1, S, REAL)
    acc = _gather_row(acc, du_ptr, rf_ptr, cf_ptr, b, r - 2, valid & (r >= 2), j, ch, C, GS, n, m, 2, S, REAL)
    inside = valid & (j < m)
    tl.store(dx_ptr + (b * n + r).to(tl.int64) * m * C + j[:, None] * C + ch[None, :],
             acc.to(dx_ptr.dtype.element_ty), mask=inside[:, None] & (ch < C)[None, :])
    # ∂tile: the cells (r − 1, j − 1) of this program, every phase.
    i = r - 1
    jj = j - 1
    ok = (i >= 0) & (i < n - 2) & (jj >= 0) & (jj < m - 2)
    mask = ok[:, None] & _channel_mask(ch, C, REAL)
    wo = (m - 2) * S
    phase = tl.arange(0, SS)[:, None]
    for p in tl.static_range(S):
        base = du_ptr + (b * ((n - 2) * S) + S * i + p).to(tl.int64) * wo * GS
        for q in tl.static_range(S):
            g = tl.load(base + (S * jj + q)[:, None] * GS + ch[None, :], mask=mask, other=0.0).to(tl.float32)
            dtile += tl.where(phase == p * S + q, tl.sum(g, axis=0)[None, :], 0.0)
    return dtile


@triton.jit
def _store_dtile(dtile_ptr, dtile, prog, ch, C, S: tl.constexpr, SS: tl.constexpr):
    """This program's ∂tile share [SS, len(ch)] → dtile_ptr[prog, p, q, ch] (phases p·S + q < S²)."""
    phase = tl.arange(0, SS)[:, None]
    tl.store(dtile_ptr + (prog * S * S + phase) * C + ch[None, :], dtile, mask=(phase < S * S) & (ch < C)[None, :])


@triton.jit
def up_bwd_kernel(du_ptr, rf_ptr, cf_ptr, dx_ptr, dtile_ptr, n, m, C, GS, S: tl.constexpr, BLOCK_W: tl.constexpr,
                  CM: tl.constexpr, CT: tl.constexpr, ROWS: tl.constexpr, SS: tl.constexpr, ALIGN: tl.constexpr):
    """∂xn of a band of ROWS input rows r (window coordinates), columns of this program's tile:
    the adjoint of :func:`up_fwd_kernel` (input row r is tap 0 of cell row r, tap 1 of r − 1, tap 2
    of r − 2). Also this program's share of ∂tile[b, p, q] = Σ ∂U over the cells (r − 1, c − 1) of
    its rows r and columns c, summed in registers over the band ([SS, channels], SS = S² rounded
    up to a power of two) and written once to dtile_ptr[program, p, q, channel] (float32; summed
    afterwards in a fixed order). One share per row and tile made the shares as large as ∂x at
    full resolution (S at 1080p: 146 MB written and read again). Grid: B · bands, column
    tiles; per row, the main channel group (all real channels, CM ≤ C), then the tail. ∂U has
    GS ≥ C values per pixel (the fused layer's ∂x, read in place); ``ALIGN`` > 1: GS is a
    multiple of it, rewritten so that Triton knows (16-byte loads, as in
    ``dwconv_ln_kernels.fwd_kernel``)."""
    if ALIGN > 1:
        GS = (GS // ALIGN) * ALIGN
    bands = tl.cdiv(n, ROWS)
    b = tl.program_id(0) // bands
    r0 = (tl.program_id(0) % bands) * ROWS
    j = tl.program_id(1) * BLOCK_W + tl.arange(0, BLOCK_W)
    prog = (tl.program_id(0) * tl.num_programs(1) + tl.program_id(1)).to(tl.int64)  # one slot per (band, tile)
    main = tl.arange(0, CM)
    dm = tl.zeros((SS, CM), tl.float32)
    tail = CM + tl.arange(0, CT if CT > 0 else 1)
    dt = tl.zeros((SS, CT if CT > 0 else 1), tl.float32)
    for k in tl.range(ROWS, num_stages=1):
        r = r0 + k
        dm = _up_bwd_group(du_ptr, rf_ptr, cf_ptr, dx_ptr, dm, b, r, r < n, j, main, n, m, C, GS, S, SS, True)
        if CT > 0:
            dt = _up_bwd_group(du_ptr, rf_ptr, cf_ptr, dx_ptr, dt, b, r, r < n, j, tail, n, m, C, GS, S, SS, False)
    _store_dtile(dtile_ptr, dm, prog, main, C, S, SS)
    if CT > 0:
        _store_dtile(dtile_ptr, dt, prog, tail, C, S, SS)
