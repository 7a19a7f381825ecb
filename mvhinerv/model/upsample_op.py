"""The upsampler's stencil (bilinear ×s + encoding tile + edge factors) as Triton kernels.

Why: in the S training step at 1080p on an H200, Inductor's kernels for :func:`upsample`'s
stencil and its backward took ≈ 3 ms per frame (the full-resolution one alone ≈ 1.9 ms): six
dimensional views with per-element index arithmetic, at about a quarter of the memory bandwidth.
Here each program loads the nine input cells around a row of cells once and writes all s² phases
of them; the adjoint gathers, for every input pixel, the ∂U of the (≤ 2s)² output pixels that
read it, with the weights as compile-time constants (:mod:`.upsample_kernels`), and sums its
∂tile shares over a band of rows. These kernels take 0.52 ms (forward) and ≈ 1.0 ms (backward
with the ∂tile sums) per step; the step went 105.5 → 112.0 Mpx·it/s when they came (ninth
session; docs/performance.md § Training step). The LayerNorm before the stencil stays with Inductor,
which fuses it with its neighbours.

Registered as ``torch.ops.mvhinerv.upsample_stencil`` with its autograd formula (gradients for
the map and the tile; the edge factors are constants), so ``torch.compile`` keeps the graph
whole. Same function as :func:`mvhinerv.model.upsample.upsample_stencil`, which the tests compare
it with (in Triton's interpreter on a CPU, compiled on a GPU).
"""

from __future__ import annotations

import torch
from torch import Tensor

from mvhinerv.model.colsum import column_sums
from mvhinerv.model.dwconv_ln import (cdiv, channel_groups, cut_rows, pow2, readable_rows, row_alignment,
                                      tile_pixels)

#: Warps per program of the forward.
_WARPS = 4
#: Values per tile and warps of the backward (the gather): 1.10 → 0.89 ms per S step at 1080p
#: against the forward's 1024 values and 4 warps (kernel-only sweep of 64–1024 values, 1–8
#: warps, H200). Its unrolled phase loops keep many taps live: 1024-value tiles needed all 255
#: registers and spilled.
_BWD_TILE_VALUES = 256
_BWD_WARPS = 2
#: Input rows per program of the backward (at most; a power of two): its ∂tile shares are summed
#: over them in registers. Fewer where the map is small, to keep at least _BWD_PROGRAMS programs:
#: per stage of S at 1080p (kernel + ∂tile sum, H200) one row per program took 0.044, 0.185,
#: 0.305, 0.580 ms, 16 rows 0.133, 0.150, 0.247, 0.572, 32 rows 0.160, 0.130, 0.277, 0.561.
_BWD_ROWS = 32
_BWD_PROGRAMS = 2048


def _tiling(c: int, values: int | None = None, width: int | None = None) -> tuple[int, int, int]:
    """(CM, CT, BLOCK_W): the channel groups (covering ``width`` ≥ c lanes, default c) and cells
    per program, as the fused depthwise kernels tile (about ``values`` values per group tile,
    default the forward's 1024)."""
    cm, ct = channel_groups(c, width)
    return cm, ct, tile_pixels(cm, values)


def _bwd_rows(n: int, col_blocks: int) -> int:
    """Input rows per program of the backward for n rows and col_blocks column tiles: the largest
    power of two ≤ _BWD_ROWS that leaves _BWD_PROGRAMS programs (1 if none does), and ≤ n."""
    rows = 1
    while rows * 2 <= min(_BWD_ROWS, n) and (n // (rows * 2)) * col_blocks >= _BWD_PROGRAMS:
        rows *= 2
    return rows


def _check(x: Tensor, tile: Tensor, row_factor: Tensor, col_factor: Tensor, scale: int) -> None:
    b, n, m, c = x.shape
    want = {"tile": (b, scale, scale, c), "row_factor": (b, (n - 2) * scale), "col_factor": (b, (m - 2) * scale)}
    for name, t in (("tile", tile), ("row_factor", row_factor), ("col_factor", col_factor)):
        if tuple(t.shape) != want[name]:
            raise ValueError(f"upsample_stencil: {name} {tuple(t.shape)}, expected {want[name]} for x {tuple(x.shape)}")


def _factors(row_factor: Tensor, col_factor: Tensor) -> tuple[Tensor, Tensor]:
    """The edge factors as the kernels read them: float32 whatever the maps' dtypes (a factor
    such as 0.8 rounded to bf16 would be off by 0.2 %)."""
    return row_factor.to(torch.float32).contiguous(), col_factor.to(torch.float32).contiguous()


def _output(x: Tensor, scale: int, dtype: torch.dtype, width: int) -> Tensor:
    """The stencil's output buffer [B, (n − 2)·s, (m − 2)·s, width], cut to x's C channels."""
    b, n, m, c = x.shape
    return cut_rows(x, (b, (n - 2) * scale, (m - 2) * scale, c), width, dtype)


@torch.library.custom_op("mvhinerv::upsample_stencil", mutates_args=())
def _upsample_op(x: Tensor, tile: Tensor, row_factor: Tensor, col_factor: Tensor, scale: int,
                 out_dtype: torch.dtype, width: int) -> Tensor:
    """[B, (n − 2)·s, (m − 2)·s, C] in out_dtype (see :func:`upsample_stencil`): a view of a
    buffer with ``width`` ≥ C values per pixel (zeros past C)."""
    from mvhinerv.model import upsample_kernels as k

    _check(x, tile, row_factor, col_factor, scale)
    if width < x.shape[-1]:
        raise ValueError(f"upsample_stencil: width {width} < C = {x.shape[-1]}")
    x, tile = x.contiguous(), tile.contiguous()
    rf, cf = _factors(row_factor, col_factor)
    b, n, m, c = x.shape
    u = _output(x, scale, out_dtype, width)
    cm, ct, bw = _tiling(c, width=width)
    k.up_fwd_kernel[(b * (n - 2), cdiv(m - 2, bw))](x, tile, rf, cf, u, n, m, c, width, S=scale, BLOCK_W=bw, CM=cm,
                                                    CT=ct, num_warps=_WARPS)
    return u


@_upsample_op.register_fake
def _(x: Tensor, tile: Tensor, row_factor: Tensor, col_factor: Tensor, scale: int, out_dtype: torch.dtype,
      width: int) -> Tensor:
    return _output(x, scale, out_dtype, width)


@torch.library.custom_op("mvhinerv::upsample_stencil_backward", mutates_args=())
def _upsample_backward_op(grad: Tensor, row_factor: Tensor, col_factor: Tensor, n: int, m: int,
                          scale: int, dx_dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """(∂x [B, n, m, C] in dx_dtype, ∂tile [B, s, s, C] float32)."""
    from mvhinerv.model import upsample_kernels as k

    grad, gs = readable_rows(grad)  # ∂U as the fused layer's backward wrote it: aligned rows, in place
    rf, cf = _factors(row_factor, col_factor)
    b, c = grad.shape[0], grad.shape[-1]
    dx = torch.empty((b, n, m, c), dtype=dx_dtype, device=grad.device)
    cm, ct, bw = _tiling(c, _BWD_TILE_VALUES)
    col_blocks = cdiv(m, bw)
    rows = _bwd_rows(n, col_blocks)
    bands = cdiv(n, rows)
    partial = torch.empty((b, bands * col_blocks, scale, scale, c), dtype=torch.float32, device=grad.device)
    k.up_bwd_kernel[(b * bands, col_blocks)](grad, rf, cf, dx, partial, n, m, c, gs, S=scale, BLOCK_W=bw, CM=cm,
                                             CT=ct, ROWS=rows, SS=pow2(scale * scale),
                                             ALIGN=row_alignment(gs), num_warps=_BWD_WARPS)
    return dx, column_sums(partial.view(b, bands * col_blocks, -1)).view(b, scale, scale, c)


@_upsample_backward_op.register_fake
def _(grad: Tensor, row_factor: Tensor, col_factor: Tensor, n: int, m: int, scale: int,
      dx_dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    b, c = grad.shape[0], grad.shape[-1]
    return grad.new_empty((b, n, m, c), dtype=dx_dtype), grad.new_empty((b, scale, scale, c), dtype=torch.float32)


def _setup_context(ctx, inputs, output) -> None:
    x, tile, row_factor, col_factor, scale, _, _ = inputs
    ctx.save_for_backward(row_factor, col_factor)
    ctx.geometry = (x.shape[1], x.shape[2], scale, x.dtype, tile.dtype)


def _backward(ctx, grad: Tensor):
    row_factor, col_factor = ctx.saved_tensors
    n, m, scale, x_dtype, tile_dtype = ctx.geometry
    dx, dtile = _upsample_backward_op(grad, row_factor, col_factor, n, m, scale, x_dtype)
    return dx, dtile.to(tile_dtype), None, None, None, None, None


_upsample_op.register_autograd(_backward, setup_context=_setup_context)


def upsample_stencil_fused(x: Tensor, tile: Tensor, row_factor: Tensor, col_factor: Tensor, scale: int,
                           out_dtype: torch.dtype | None = None, width: int | None = None) -> Tensor:
    """:func:`mvhinerv.model.upsample.upsample_stencil` by the Triton kernels: ``x`` [B, n, m, C]
    (already normalised), ``tile`` [B, s, s, C], ``row_factor`` [B, (n − 2)·s], ``col_factor``
    [B, (m − 2)·s] → [B, (n − 2)·s, (m − 2)·s, C] in ``out_dtype`` (default x's dtype; computed in
    float32 and rounded once when stored). ``width`` ≥ C (default C): the result is the first C
    channels of a map with ``width`` values per pixel (zeros past C), which the fused depthwise
    kernels read in place with 16-byte aligned rows (:func:`mvhinerv.model.dwconv_ln.pixel_stride`).
    Differentiable in x and tile; ∂x has x's dtype; the gradient of the result is read in place
    when it is a cut of aligned rows (the fused depthwise layer's ∂x is). Needs
    :func:`mvhinerv.model.dwconv_ln.fused_available`."""
    c = x.shape[-1]
    return _upsample_op(x, tile, row_factor, col_factor, scale, x.dtype if out_dtype is None else out_dtype,
                        c if width is None else width)


__all__ = ["upsample_stencil_fused"]
