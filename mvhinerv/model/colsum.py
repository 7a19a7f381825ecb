"""Deterministic sums over the middle axis of [B, P, N] (per-program partial sums) as Triton kernels.

Why: the fused depthwise layer's ∂w and the upsampler's ∂tile are summed from per-program shares
(:mod:`.dwconv_ln`, :mod:`.upsample_op`), P of them, each N wide (P = 16 320 shares of 9 × 64
values for the depthwise layer of S's last stage at 1080p). PyTorch's reduction over the first
axis ran them on few blocks: ≈ 0.35 ms in 29 launches per S step on an H200, 47 µs for that
37 MB alone (0.8 TB/s) and ≈ 19 µs for the 0.4 MB of its tail channels (two blocks).
Here a first pass sums splits of ``ROWS`` rows for BN columns per program, with enough programs
to fill the GPU, and passes repeat on the split sums until one is left (three for the largest
shares of S).
Atomic adds would need one pass but make the result depend on the order programs run in; these
sums are the same at every call (a gradient, so training is reproducible run to run).
"""

from __future__ import annotations

import torch
from torch import Tensor

from mvhinerv.model.dwconv_ln import cdiv, pow2

#: Columns per program (float32: 256-byte row segments) and rows loaded at a time.
_BN = 64
_BR = 16
#: Rows per split: a power of two from _BR to _MAX_ROWS (a few unrolled loads per program: the
#: sums are bound by how many loads are in flight), as few as leave about _PROGRAMS programs;
#: all of them (one split: the last pass) when there are at most _ONE_SPLIT. Best of a sweep on
#: an H200 (1024–8192 programs, 64–256 and 32–128 rows, loads of 16 or 32 rows) over the 24
#: share tensors of an S step at 1080p, all in one CUDA graph (``tools/bench_colsum.py``):
#: 0.153–0.155 ms (up to 0.185 for the others; PyTorch's sums 0.388 ms). The shares are 239 MB,
#: so about half of it is the memory traffic itself (docs/performance.md § Training step).
_MAX_ROWS = 128
_PROGRAMS = 1024
_ONE_SPLIT = 128


def _rows_per_split(b: int, p: int, n: int) -> int:
    """Rows each program of a pass over [b, p, n] sums."""
    if p <= _ONE_SPLIT:
        return max(_BR, pow2(p))
    splits = max(1, _PROGRAMS // (cdiv(n, _BN) * b))
    return max(_BR, min(_MAX_ROWS, pow2(cdiv(p, splits))))


def column_sums(x: Tensor) -> Tensor:
    """Σ over axis 1 of ``x`` [B, P, N] → [B, N] in float32, on a CUDA device (or Triton's
    interpreter). Same values at every call for the same shapes."""
    from mvhinerv.model import colsum_kernels as k

    x = x.contiguous()
    b, p, n = x.shape
    while True:
        rows = _rows_per_split(b, p, n)
        splits = cdiv(p, rows)
        out = torch.empty((b, splits, n), dtype=torch.float32, device=x.device)
        k.colsum_kernel[(cdiv(n, _BN), splits, b)](x, out, p, n, ROWS=rows, BR=_BR, BN=_BN, num_warps=4)
        if splits == 1:
            return out[:, 0]
        x, p = out, splits


__all__ = ["column_sums"]
