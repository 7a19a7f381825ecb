"""Triton kernel of :mod:`mvhinerv.model.colsum` (sums over the middle axis, in a fixed order).

A module of its own so that importing the model does not import Triton (as
:mod:`.dwconv_ln_kernels`).
"""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def colsum_kernel(x_ptr, out_ptr, P, N, ROWS: tl.constexpr, BR: tl.constexpr, BN: tl.constexpr):
    """out[b, s, n] = Σ x[b, r, n] over the rows r = s·ROWS … s·ROWS + ROWS − 1 (< P) of split s;
    x [B, P, N] and out [B, ⌈P / ROWS⌉, N] contiguous, summed in float32.

    A program sums one split for BN columns: BR rows at a time into a [BR, BN] accumulator
    (coalesced loads of whole row segments; the loop is unrolled, so its loads are all in
    flight together), then across its BR rows. The order of the
    additions depends on the shapes only, so the result is the same at every call.
    Grid: column blocks, splits, B."""
    s = tl.program_id(1)
    b = tl.program_id(2).to(tl.int64)
    cols = tl.program_id(0) * BN + tl.arange(0, BN)
    rows = s * ROWS + tl.arange(0, BR)
    acc = tl.zeros((BR, BN), tl.float32)
    for i in tl.static_range(0, ROWS, BR):
        r = rows + i
        mask = (r < P)[:, None] & (cols < N)[None, :]
        acc += tl.load(x_ptr + (b * P + r[:, None]) * N + cols[None, :], mask=mask, other=0.0).to(tl.float32)
    splits = tl.num_programs(1)
    tl.store(out_ptr + (b * splits + s) * N + cols, tl.sum(acc, axis=0), mask=cols < N)
