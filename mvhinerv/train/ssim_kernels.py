"""Triton kernels of :mod:`mvhinerv.train.ssim_op` (one MS-SSIM scale, forward and backward).

A module of its own so that importing the training package does not import Triton (CPU runs
never use these kernels); :mod:`mvhinerv.train.ssim_op` imports it on the first call.

Layout: ``x``, ``y`` are (B, C, H, W) with any strides (the network's prediction is a channel
slice of a channels-last map); a program handles one image plane (b·C + c), a strip of BW
columns and a segment of RS rows. The K × K Gaussian window is separable: the program walks
down its rows, filters each row horizontally (K loads per input) and keeps the last K filtered
rows in a ring of KP ≥ K register rows (slot = row mod K), from which every output row is one
weighted sum down the ring. Each input is so loaded K times (from cache) instead of K² times:
the first version, which loaded the K² taps of every output, spent 0.34 ms on scale 0 of a
1080p frame, as long as Inductor's kernels it was meant to replace.
"""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def _ring_push(ring, kk, slot, row):
    """The ring [KP, BW] with ``row`` [BW] written into slot ``slot``."""
    return tl.where((kk == slot)[:, None], row[None, :], ring)


@triton.jit
def _ring_sum(ring, wv):
    """Σ_k wv[k] · ring[k, :] → [BW]."""
    return tl.sum(ring * wv[:, None], 0)


@triton.jit
def ssim_fwd_kernel(x_ptr, y_ptr, g_ptr, valid_ptr, part_ptr, coef_ptr,
                    C, Ho, Wo, sxb, sxc, sxh, sxw, syb, syc, syh, syw, c1, c2,
                    K: tl.constexpr, KP: tl.constexpr, RS: tl.constexpr, BW: tl.constexpr, LUM: tl.constexpr,
                    HAS_VALID: tl.constexpr, WANT_GRAD: tl.constexpr):
    """Per output position q of the 'valid' window (Ho × Wo): the five Gaussian moments, then
    f = cs (or lum·cs when LUM) times the validity of q; writes the program's sum of f to
    part_ptr[plane, program] and, when WANT_GRAD, ∂f/∂μx, ∂f/∂E[x²], ∂f/∂E[xy] (times validity)
    to coef_ptr[0 | 1 | 2, plane, q] (float32, contiguous planes of Ho × Wo)."""
    plane = tl.program_id(0)
    b = plane // C
    ch = plane % C
    r0 = tl.program_id(1) * RS
    cols = tl.program_id(2) * BW + tl.arange(0, BW)
    cin = cols < Wo
    kk = tl.arange(0, KP)
    xb = x_ptr + (b.to(tl.int64) * sxb + ch.to(tl.int64) * sxc) + cols * sxw
    yb = y_ptr + (b.to(tl.int64) * syb + ch.to(tl.int64) * syc) + cols * syw
    cb = coef_ptr + plane.to(tl.int64) * Ho * Wo + cols
    n = tl.num_programs(0).to(tl.int64) * Ho * Wo
    rx = tl.zeros((KP, BW), tl.float32)
    ry = tl.zeros((KP, BW), tl.float32)
    rxx = tl.zeros((KP, BW), tl.float32)
    ryy = tl.zeros((KP, BW), tl.float32)
    rxy = tl.zeros((KP, BW), tl.float32)
    acc = tl.zeros((BW,), tl.float32)
    for t in range(RS + K - 1):  # input row r0 + t
        m = cin & (r0 + t < Ho + K - 1)
        hx = tl.zeros((BW,), tl.float32)
        hy = tl.zeros((BW,), tl.float32)
        hxx = tl.zeros((BW,), tl.float32)
        hyy = tl.zeros((BW,), tl.float32)
        hxy = tl.zeros((BW,), tl.float32)
        for j in tl.static_range(K):
            gj = tl.load(g_ptr + j)
            xv = tl.load(xb + ((r0 + t) * sxh + j * sxw), mask=m, other=0.0).to(tl.float32)
            yv = tl.load(yb + ((r0 + t) * syh + j * syw), mask=m, other=0.0).to(tl.float32)
            wx = gj * xv
            wy = gj * yv
            hx += wx
            hy += wy
            hxx += wx * xv
            hyy += wy * yv
            hxy += wx * yv
        slot = t % K
        rx = _ring_push(rx, kk, slot, hx)
        ry = _ring_push(ry, kk, slot, hy)
        rxx = _ring_push(rxx, kk, slot, hxx)
        ryy = _ring_push(ryy, kk, slot, hyy)
        rxy = _ring_push(rxy, kk, slot, hxy)
        # Output row o = t − K + 1 (relative) reads rows o … t; slot k holds row o + (k − o) mod K.
        wv = tl.load(g_ptr + (kk + K - (t + 1) % K) % K, mask=kk < K, other=0.0)
        mx = _ring_sum(rx, wv)
        my = _ring_sum(ry, wv)
        sxx = _ring_sum(rxx, wv) - mx * mx
        syy = _ring_sum(ryy, wv) - my * my
        sxy = _ring_sum(rxy, wv) - mx * my
        ro = r0 + t - (K - 1)
        mo = cin & (t >= K - 1) & (ro < Ho)
        num = 2.0 * sxy + c2
        den = sxx + syy + c2
        cs = num / den
        wq = mo.to(tl.float32)
        if HAS_VALID:
            wq = tl.load(valid_ptr + (b.to(tl.int64) * Ho * Wo + ro * Wo + cols), mask=mo, other=0.0).to(tl.float32)
        d_sxy = 2.0 / den  # ∂cs/∂σxy
        d_sxx = -cs / den  # ∂cs/∂σx² (= ∂cs/∂σy²)
        if LUM:
            lden = mx * mx + my * my + c1
            lum = (2.0 * mx * my + c1) / lden
            f = lum * cs
            d_mx = lum * (-2.0 * mx * d_sxx - my * d_sxy) + cs * (2.0 * my - 2.0 * mx * lum) / lden
            d_exx = lum * d_sxx
            d_exy = lum * d_sxy
        else:
            f = cs
            d_mx = -2.0 * mx * d_sxx - my * d_sxy
            d_exx = d_sxx
            d_exy = d_sxy
        acc += tl.where(mo, f * wq, 0.0)
        if WANT_GRAD:
            tl.store(cb + ro * Wo, d_mx * wq, mask=mo)
            tl.store(cb + n + ro * Wo, d_exx * wq, mask=mo)
            tl.store(cb + 2 * n + ro * Wo, d_exy * wq, mask=mo)
    programs = tl.num_programs(1) * tl.num_programs(2)
    tl.store(part_ptr + plane * programs + tl.program_id(1) * tl.num_programs(2) + tl.program_id(2), tl.sum(acc, 0))


@triton.jit
def ssim_bwd_kernel(x_ptr, y_ptr, g_ptr, coef_ptr, go_ptr, dx_ptr,
                    C, H, W, Ho, Wo, sxb, sxc, sxh, sxw, syb, syc, syh, syw,
                    K: tl.constexpr, KP: tl.constexpr, RS: tl.constexpr, BW: tl.constexpr):
    """∂x(p) = go[b] · Σ_t g_t (A(p − o_t) + 2·x(p)·B(p − o_t) + y(p)·Cxy(p − o_t)) over the
    window positions q = p − o_t that read p (A, B, Cxy: the forward's coefficient planes),
    the same ring walk over the coefficient rows p − K + 1 … p; writes dx contiguous
    (B, C, H, W), float32."""
    plane = tl.program_id(0)
    b = plane // C
    ch = plane % C
    r0 = tl.program_id(1) * RS
    cols = tl.program_id(2) * BW + tl.arange(0, BW)
    kk = tl.arange(0, KP)
    n = tl.num_programs(0).to(tl.int64) * Ho * Wo
    cb = coef_ptr + plane.to(tl.int64) * Ho * Wo
    go = tl.load(go_ptr + b).to(tl.float32)
    xb = x_ptr + (b.to(tl.int64) * sxb + ch.to(tl.int64) * sxc) + cols * sxw
    yb = y_ptr + (b.to(tl.int64) * syb + ch.to(tl.int64) * syc) + cols * syw
    db = dx_ptr + plane.to(tl.int64) * H * W + cols
    ra = tl.zeros((KP, BW), tl.float32)
    rb = tl.zeros((KP, BW), tl.float32)
    rc = tl.zeros((KP, BW), tl.float32)
    for t in range(RS + K - 1):  # coefficient row q = r0 − (K − 1) + t
        q = r0 - (K - 1) + t
        qok = (q >= 0) & (q < Ho)
        ha = tl.zeros((BW,), tl.float32)
        hb = tl.zeros((BW,), tl.float32)
        hc = tl.zeros((BW,), tl.float32)
        for j in tl.static_range(K):
            gj = tl.load(g_ptr + j)
            qc = cols - j
            m = qok & (qc >= 0) & (qc < Wo)
            off = q * Wo + qc
            ha += gj * tl.load(cb + off, mask=m, other=0.0)
            hb += gj * tl.load(cb + n + off, mask=m, other=0.0)
            hc += gj * tl.load(cb + 2 * n + off, mask=m, other=0.0)
        slot = t % K
        ra = _ring_push(ra, kk, slot, ha)
        rb = _ring_push(rb, kk, slot, hb)
        rc = _ring_push(rc, kk, slot, hc)
        # Input row p = q reads coefficient rows p − i with weight g_i; slot k holds p − (t − k) mod K.
        wv = tl.load(g_ptr + (t % K + K - kk) % K, mask=kk < K, other=0.0)
        mp = (cols < W) & (t >= K - 1) & (q < H)
        xv = tl.load(xb + q * sxh, mask=mp, other=0.0).to(tl.float32)
        yv = tl.load(yb + q * syh, mask=mp, other=0.0).to(tl.float32)
        dx = go * (_ring_sum(ra, wv) + 2.0 * xv * _ring_sum(rb, wv) + yv * _ring_sum(rc, wv))
        tl.store(db + q * W, dx, mask=mp)
