"""LayerNorm + the upsampler's stencil (bilinear ×s + encoding tile + edge factors) as Triton kernels.

Why: in the S training step at 1080p on an H200, Inductor's kernels for :func:`upsample`'s
stencil and its backward took ≈ 3 ms per frame (the full-resolution one alone ≈ 1.9 ms): six
dimensional views with per-element index arithmetic, at about a quarter of the memory bandwidth.
Here each program loads the nine input cells around a row of cells once and writes all s² phases
of them; the adjoint gathers, for every input pixel, the ∂U of the (≤ 2s)² output pixels that
read it, with the weights as compile-time constants (:mod:`.upsample_kernels`), and sums its
∂tile shares over a band of rows. With the LayerNorm left to Inductor these kernels took 0.47 ms
(forward) and 0.81 ms (backward with the ∂tile sums) per step (the step went 105.5 → 112.0
Mpx·it/s when they came, ninth session; docs/performance.md § Training step).

The LayerNorm before the stencil is part of the op (nineteenth session): a kernel computes each
pixel's mean and rstd, the stencil normalises each tap as it loads it, the gather writes the
gradient of the normalised map and a per-pixel kernel applies the LayerNorm's backward to it;
the zero border the stencil reads is implicit. Inductor's
LayerNorm wrote the normalised map in float32 (autocast) for the stencil to read, its backward
read the stencil's float32 ∂x̂ and wrote ∂x, and the border's pad and its backward were passes of
their own: ≈ 0.5 ms of the S step at 1080p (the timeline of ``tools/bench_train.py``).

Registered as ``torch.ops.mvhinerv.upsample_ln`` with its autograd formula (gradients for the
map and the tile; the edge factors are constants), so ``torch.compile`` keeps the graph whole.
Same function as :func:`mvhinerv.model.upsample.upsample` on its PyTorch path, which the tests
compare it with (in Triton's interpreter on a CPU, compiled on a GPU).
"""

from __future__ import annotations

import torch
from torch import Tensor

from mvhinerv.model.colsum import column_sums
from mvhinerv.model.dwconv_ln import (cdiv, channel_groups, cut_rows, pixel_stride, pow2, readable_rows,
                                      row_alignment, tile_pixels)

#: Values per tile (cells × channels of a group) and warps per program of the forward: 512 and
#: 2 against 1024 and 4, per stage of S at 1080p (kernel-only, H200, nineteenth session):
#: 66 / 103 / 281 against 69 / 104 / 294 µs; the same in the step (155.8 Mpx·it/s both).
_FWD_TILE_VALUES = 512
_WARPS = 2
#: Values per tile and warps of the backward (the gather). 256 and 2 were best in the
#: thirteenth session (1.10 → 0.89 ms per S step against 1024 and 4); since the LayerNorm
#: left Inductor, 128 and 1 are (last stage kernel-only 535 → 288 µs; step 154.2 → 155.8–156.1
#: Mpx·it/s, H200, nineteenth session). Its unrolled phase loops keep many taps live:
#: 1024-value tiles needed all 255 registers and spilled.
_BWD_TILE_VALUES = 128
_BWD_WARPS = 1
#: Input rows per program of the backward (at most; a power of two): its ∂tile shares are summed
#: over them in registers. Fewer where the map is small, to keep at least _BWD_PROGRAMS programs:
#: per stage of S at 1080p (kernel + ∂tile sum, H200) one row per program took 0.044, 0.185,
#: 0.305, 0.580 ms, 16 rows 0.133, 0.150, 0.247, 0.572, 32 rows 0.160, 0.130, 0.277, 0.561.
_BWD_ROWS = 32
_BWD_PROGRAMS = 2048


def _bwd_rows(n: int, col_blocks: int) -> int:
    """Input rows per program of the backward for n rows and col_blocks column tiles: the largest
    power of two ≤ _BWD_ROWS that leaves _BWD_PROGRAMS programs (1 if none does), and ≤ n."""
    rows = 1
    while rows * 2 <= min(_BWD_ROWS, n) and (n // (rows * 2)) * col_blocks >= _BWD_PROGRAMS:
        rows *= 2
    return rows


def _check(x: Tensor, tile: Tensor, row_factor: Tensor, col_factor: Tensor, scale: int, c: int) -> None:
    b, n, m, _ = x.shape
    want = {"tile": (b, scale, scale, c), "row_factor": (b, n * scale), "col_factor": (b, m * scale)}
    for name, t in (("tile", tile), ("row_factor", row_factor), ("col_factor", col_factor)):
        if tuple(t.shape) != want[name]:
            raise ValueError(f"upsample_ln: {name} {tuple(t.shape)}, expected {want[name]} for x {tuple(x.shape)}")


def _factors(row_factor: Tensor, col_factor: Tensor) -> tuple[Tensor, Tensor]:
    """The edge factors as the kernels read them: float32 whatever the maps' dtypes (a factor
    such as 0.8 rounded to bf16 would be off by 0.2 %)."""
    return row_factor.to(torch.float32).contiguous(), col_factor.to(torch.float32).contiguous()


def _output(x: Tensor, scale: int, dtype: torch.dtype, width: int, c: int) -> Tensor:
    """The output buffer [B, n·s, m·s, width], cut to the map's c channels."""
    b, n, m, _ = x.shape
    return cut_rows(x, (b, n * scale, m * scale, c), width, dtype)


def _groups(c: int, width: int) -> tuple[int, int]:
    """(CM, CT) as the kernels take them: :func:`channel_groups`, with a tail of at least one
    lane (masked off when C is a power of two), so that the kernels always have both groups."""
    cm, ct = channel_groups(c, width)
    return cm, max(ct, 1)


#: Pixels per program of the LayerNorm's statistics kernel (launched with the forward's _WARPS)
#: and pixels and warps of its backward kernel (tiles of BLOCK_P pixels × each channel group).
_STATS_PIXELS = 16
_LN_BWD_PIXELS = 16
_LN_BWD_WARPS = 4


@torch.library.custom_op("mvhinerv::upsample_ln", mutates_args=())
def _upsample_op(x: Tensor, tile: Tensor, row_factor: Tensor, col_factor: Tensor, scale: int, eps: float,
                 out_dtype: torch.dtype, width: int, channels: int) -> tuple[Tensor, Tensor, Tensor]:
    """(U [B, n·s, m·s, C] in out_dtype, a view of a buffer with ``width`` ≥ C values per pixel
    (zeros past C; see :func:`upsample_ln_fused`), the LayerNorm's mean and rstd [B, n, m]
    float32, which the backward reuses); C = ``channels`` ≤ x's values per pixel."""
    from mvhinerv.model import upsample_kernels as k

    c = channels
    _check(x, tile, row_factor, col_factor, scale, c)
    if not 1 <= c <= x.shape[-1] or width < c:
        raise ValueError(f"upsample_ln: channels {c} must be ≤ x's {x.shape[-1]} values per pixel and ≤ width {width}")
    x, xs = readable_rows(x)
    tile = tile.contiguous()
    rf, cf = _factors(row_factor, col_factor)
    b, n, m, _ = x.shape
    align = row_alignment(xs)
    mean, rstd = (torch.empty((b, n, m), dtype=torch.float32, device=x.device) for _ in range(2))
    sm, st = _groups(c, c)  # the statistics read the C real channels only
    k.ln_stats_kernel[(cdiv(b * n * m, _STATS_PIXELS),)](x, mean, rstd, b * n * m, c, xs, eps,
                                                          BLOCK_P=_STATS_PIXELS, CM=sm, CT=st, ALIGN=align,
                                                          num_warps=_WARPS)
    u = _output(x, scale, out_dtype, width, c)
    cm, ct = _groups(c, width)
    bw = tile_pixels(cm, _FWD_TILE_VALUES)
    k.up_fwd_kernel[(b * n, cdiv(m, bw))](x, mean, rstd, tile, rf, cf, u, n, m, c, xs, width, S=scale, BLOCK_W=bw,
                                          CM=cm, CT=ct, ALIGN=align, num_warps=_WARPS)
    return u, mean, rstd


@_upsample_op.register_fake
def _(x: Tensor, tile: Tensor, row_factor: Tensor, col_factor: Tensor, scale: int, eps: float,
      out_dtype: torch.dtype, width: int, channels: int) -> tuple[Tensor, Tensor, Tensor]:
    stats = x.new_empty(x.shape[:3], dtype=torch.float32)
    return _output(x, scale, out_dtype, width, channels), stats, stats.new_empty(stats.shape)


@torch.library.custom_op("mvhinerv::upsample_ln_backward", mutates_args=())
def _upsample_backward_op(grad: Tensor, x: Tensor, mean: Tensor, rstd: Tensor, row_factor: Tensor,
                          col_factor: Tensor, scale: int, channels: int) -> tuple[Tensor, Tensor]:
    """(∂x, shaped and laid out as x, in x's dtype, zeros past C (every value of x's rows
    where x is whole, as far as the tail covers them where it is a cut), ∂tile [B, s, s, C]
    float32); C = ``channels``."""
    from mvhinerv.model import upsample_kernels as k

    grad, gs = readable_rows(grad)  # ∂U as the fused layer's backward wrote it: aligned rows, in place
    x, xs = readable_rows(x)
    rf, cf = _factors(row_factor, col_factor)
    b, n, m, _ = x.shape
    c = channels
    cm, ct = _groups(c, xs)
    bw = tile_pixels(cm, _BWD_TILE_VALUES)
    col_blocks = cdiv(m, bw)
    rows = _bwd_rows(n, col_blocks)
    bands = cdiv(n, rows)
    # ∂x̂ in float32 and x's rows. In bf16 (x's dtype at stages 1–3) the LayerNorm's backward read
    # less but the gather's stores were slower: 282 + 92 → 397 + 73 µs at full resolution (S,
    # 1080p, H200, nineteenth session).
    gx = torch.empty((b, n, m, xs), dtype=torch.float32, device=x.device)
    partial = torch.empty((b, bands * col_blocks, scale, scale, c), dtype=torch.float32, device=x.device)
    k.up_bwd_kernel[(b * bands, col_blocks)](grad, rf, cf, gx, partial, n, m, c, xs, gs, S=scale, BLOCK_W=bw, CM=cm,
                                             CT=ct, ROWS=rows, SS=pow2(scale * scale), ALIGN=row_alignment(gs),
                                             num_warps=_BWD_WARPS)
    dx = cut_rows(x, x.shape, xs)
    k.ln_bwd_kernel[(cdiv(b * n * m, _LN_BWD_PIXELS),)](gx, x, mean.contiguous(), rstd.contiguous(), dx, b * n * m,
                                                        c, xs, BLOCK_P=_LN_BWD_PIXELS, CM=cm, CT=ct,
                                                        ALIGN=row_alignment(xs), num_warps=_LN_BWD_WARPS)
    return dx, column_sums(partial.view(b, bands * col_blocks, -1)).view(b, scale, scale, c)


@_upsample_backward_op.register_fake
def _(grad: Tensor, x: Tensor, mean: Tensor, rstd: Tensor, row_factor: Tensor, col_factor: Tensor,
      scale: int, channels: int) -> tuple[Tensor, Tensor]:
    return (cut_rows(x, x.shape, pixel_stride(x) or x.shape[-1]),
            grad.new_empty((x.shape[0], scale, scale, channels), dtype=torch.float32))


def _setup_context(ctx, inputs, output) -> None:
    x, tile, row_factor, col_factor, scale, _, _, _, channels = inputs
    _, mean, rstd = output
    ctx.save_for_backward(x, mean, rstd, row_factor, col_factor)
    ctx.mark_non_differentiable(mean, rstd)
    ctx.geometry = (scale, channels, tile.dtype)


def _backward(ctx, grad: Tensor, _grad_mean: Tensor | None, _grad_rstd: Tensor | None):
    x, mean, rstd, row_factor, col_factor = ctx.saved_tensors
    scale, channels, tile_dtype = ctx.geometry
    dx, dtile = _upsample_backward_op(grad, x, mean, rstd, row_factor, col_factor, scale, channels)
    return dx, dtile.to(tile_dtype), None, None, None, None, None, None, None


_upsample_op.register_autograd(_backward, setup_context=_setup_context)


def upsample_ln_fused(x: Tensor, tile: Tensor, row_factor: Tensor, col_factor: Tensor, scale: int, eps: float,
                      out_dtype: torch.dtype | None = None, width: int | None = None,
                      channels: int | None = None) -> Tensor:
    """:func:`mvhinerv.model.upsample.upsample` by the Triton kernels: LayerNorm (no affine,
    ``eps``) of the map x [B, n, m, C] with a border of zeros, bilinear ×``scale``, plus ``tile``
    [B, s, s, C]; ``row_factor`` [B, n·s], ``col_factor`` [B, m·s] → [B, n·s, m·s, C] in
    ``out_dtype`` (default x's dtype; computed in float32 and rounded once when stored).

    ``channels``: C where x has more values per pixel (a block's aligned row, zeros past C;
    default all of them): read in place, and ∂x is the whole row (zeros past C), so that autograd
    copies no gradient into a wider row. x may also be a cut of such a row (``y[..., :C]``):
    read in place too, ∂x in its layout. ``width`` ≥ C (default C): the result is the first C
    channels of a map with ``width`` values per pixel (zeros past C), which the fused depthwise
    kernels read in place with 16-byte aligned rows (:func:`mvhinerv.model.dwconv_ln.pixel_stride`).
    Differentiable in x and tile; ∂x has x's dtype; the gradient of the result is read in place
    when it is a cut of aligned rows (the fused depthwise layer's ∂x is). Needs
    :func:`mvhinerv.model.dwconv_ln.fused_available`."""
    c = x.shape[-1] if channels is None else channels
    return _upsample_op(x, tile, row_factor, col_factor, scale, eps, x.dtype if out_dtype is None else out_dtype,
                        c if width is None else width, c)[0]


__all__ = ["upsample_ln_fused"]
