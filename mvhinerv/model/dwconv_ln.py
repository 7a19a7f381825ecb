"""Fused depthwise 3×3 convolution + LayerNorm (no affine), channels last, as Triton kernels.

Why: profiling the training step of HiNeRV-S at 1080p on an H200 (``tools/bench_train.py
--profile``, docs/performance.md § Training step) showed that the kernels Inductor generates
for "depthwise 3×3 → LayerNorm" and its backward were the largest cost of the step: about 14 of
its 32 ms, at 0.3–0.6 TB/s on a GPU with 4.8 TB/s. These layers are memory-bound (9 multiply-adds
and a 2-pass reduction per value), so the speed is set by how many times each map crosses memory
and how cheaply each value is addressed:

- forward: read x (nine taps, mostly from cache), write the normalised output once (in the
  autocast dtype, so the following matmul reads bf16) and rstd per pixel (4 bytes per pixel);
- backward ∂z: from the forward's output y and rstd (autograd keeps y anyway for the next
  matmul's weight gradient): two reads and a write per value, no stencil. Recomputing y from x
  instead (the first version) made this the largest kernel of the step;
- backward ∂x and ∂w in one kernel: both need only the nine mirrored taps ∂z(q − o_t) of each
  pixel q and x(q) itself (∂w_t = Σ_q x(q) · ∂z(q − o_t)). A program walks down a band of
  rows with the ∂z rows q − 1, q, q + 1 in registers (each row loaded once, at three column
  shifts, the next one while the current one is computed), and both channel groups share one
  launch, so that the tail finds the sectors it shares with the main group in L2. ∂w is
  accumulated per program and the per-program sums are added afterwards in a fixed order
  (deterministic; :func:`mvhinerv.model.colsum.column_sums`).

Tiles split the channels into a power-of-two main group and a small tail (70 → 64 + 8 lanes,
:mod:`.dwconv_ln_kernels`) instead of padding them to one power of two (70 → 128): the kernels
are bound by instructions per value, and padding left 45 % of the lanes idle.

The output can be written with a wider row (``width``, zeros past C) so that the next matmul
gets 16-byte aligned operands (:class:`mvhinerv.model.blocks.ConvNeXtBlock`), and the input may
be such a row cut to its first C channels: the kernels read it in place (:func:`pixel_stride`)
rather than copying it, and return ∂x in the same layout (:func:`cut_rows`).

History on an H200, S at 1080p (docs/performance.md § Training step): Inductor's kernels for this
layer took ≈ 14 ms of a 32 ms step; the first fused version 12.7 ms; the channel split 8.1 ms;
∂z from y and the merged ∂x/∂w kernel 5.5 ms; with the padded output row (and C a compile-time
constant in ∂z) 5.2 ms. The thirteenth session's kernel-only measure (every block's launches in
one CUDA graph) put ∂z + ∂x/∂w at 3.65 ms; bands of rows, one launch for both groups and tiles
retuned for each kernel made it 2.67 ms, and the step 123.6 → 133.1 Mpx·it/s. Reading cut
inputs in place removed 0.26 ms of copies (fourteenth session). Rows of a multiple of 8 values
everywhere on the training path, known to Triton as such, made the forward's loads 16-byte
vectors: forward 1.66 → 1.29 ms, ∂x/∂w 1.76 → 1.59 ms per step; ∂x written in x's aligned rows
(:func:`cut_rows`), which the upsampler's backward reads in place: ∂x/∂w 1.53 ms, that
backward 0.91 → 0.80 ms (seventeenth session).

Maths (per pixel, over the C channels; ``w``: [C, 1, 3, 3], zero padding as ``F.conv2d(...,
padding=1, groups=C)``)::

    z_c   = Σ_taps w_c,t · x_c(p + o_t)
    y_c   = (z_c − mean(z)) · rstd,          rstd = 1 / sqrt(var(z) + eps)   (biased var)
    ∂z_c  = rstd · (∂y_c − mean(∂y) − y_c · mean(∂y ⊙ y))
    ∂w_c,t = Σ_p x_c(p + o_t) · ∂z_c(p),     ∂x_c(q) = Σ_t w_c,t · ∂z_c(q − o_t)

All arithmetic is float32 whatever the storage dtype (the weight is read as float32, unlike the
unfused layers under autocast, which round it to bf16); under autocast the backward reads y as
stored, in bf16. :func:`dwconv_ln_reference` is the same
function in plain PyTorch: the tests compare the two (with ``TRITON_INTERPRET=1`` on a CPU, and
on a GPU).

The op is registered as ``torch.ops.mvhinerv.dwconv_ln`` (``torch.library.custom_op``) with its
autograd formula, so ``torch.compile(fullgraph=True)`` keeps it as one opaque call and fuses the
element-wise layers around it as before.
"""

from __future__ import annotations

import importlib.util
import os

import torch
from torch import Tensor
from torch.nn import functional as F


#: Values held in registers per tile of the forward (BLOCK_W pixels × CP channels): sets
#: BLOCK_W from C. This and _WARPS are the best of a sweep of 256–4096 values and 2–8 warps on
#: an H200 (``tools/bench_dwconv_ln.py``, docs/performance.md § Training step); the thirteenth
#: session's kernel-only sweep (CUDA graphs of every block's launches) confirmed them.
_TILE_VALUES = 1024
#: Values per tile of the forward when its rows are aligned (x and y with a multiple of 8 values
#: per pixel, ``fwd_kernel``'s ALIGN): its loads are then 16-byte vectors and larger tiles pay.
#: Per block of S at 1080p on an H200, 1024 → 2048 values: 560 → 468 µs at full resolution,
#: 143 → 121 µs at 960×540 (seventeenth session, .gpu sweep of 512–2048 values, 4–8 warps).
_ALIGNED_TILE_VALUES = 2048
#: Warps per program of the forward.
_WARPS = 4
#: Values per tile and warps of the ∂z kernel: 0.73 → 0.65 ms per S step at 1080p against
#: 1024 values and 4 warps (kernel-only sweep of 512–4096 values, 2–8 warps, H200).
_Z_TILE_VALUES = 2048
_Z_WARPS = 4
#: Values per tile, warps and rows per band of the ∂x/∂w kernel (sweep of 128–2048 values, 2–16
#: warps, 8–64 rows): 2.92 → 2.60 ms per S step at 1080p with separate group launches, before
#: the groups shared a launch.
_WX_TILE_VALUES = 256
_WX_WARPS = 8
_WX_ROWS = 32
#: Split a tile's channels into a power-of-two main group and a small tail (70 → 64 + 8 lanes)
#: rather than padding them to one power of two (70 → 128 lanes).
_SPLIT_CHANNELS = True


def fused_available(device: torch.device | str) -> bool:
    """Whether :func:`dwconv_ln` can run on ``device``: Triton is installed and the device is a
    CUDA GPU, or the Triton interpreter is on (``TRITON_INTERPRET=1``, tests on a CPU)."""
    if importlib.util.find_spec("triton") is None:  # CUDA builds of torch ship Triton; CPU ones don't
        return False
    if torch.device(device).type == "cuda":
        return True
    return os.environ.get("TRITON_INTERPRET") == "1"


def dwconv_ln_reference(x: Tensor, weight: Tensor, eps: float) -> Tensor:
    """The unfused computation in PyTorch (any dtype, any device): [B, H, W, C] → same shape."""
    z = F.conv2d(x.permute(0, 3, 1, 2), weight.to(x.dtype), None, padding=1, groups=x.shape[-1])
    z = z.permute(0, 2, 3, 1)
    return F.layer_norm(z, (z.shape[-1],), eps=eps)


def channel_groups(c: int, width: int | None = None) -> tuple[int, int]:
    """(CM, CT): the main and tail channel groups of a tile (dwconv_ln_kernels' docstring) for c
    channels, covering ``width`` ≥ c lanes (default c; the forward writes zeros up to width).
    The upsampler's kernels (:mod:`.upsample_op`) tile their rows the same way.

    Split: CM = the largest power of two ≤ c (so every main lane is a real channel), CT = the
    rest up to width padded to a power of two (0 if none), e.g. 70 → (64, 8), 35 → (32, 4),
    35 to width 40 → (32, 8), 64 → (64, 0). Not split (``_SPLIT_CHANNELS`` off): width padded to
    one power of two, e.g. 70 → (128, 0)."""
    width = c if width is None else width
    if not _SPLIT_CHANNELS:
        return pow2(width), 0
    cm = 1 << (c.bit_length() - 1)
    return cm, (pow2(width - cm) if width > cm else 0)


def pow2(c: int) -> int:
    """The smallest power of two ≥ c (c ≥ 1): Triton tiles have power-of-two sides."""
    return 1 << (c - 1).bit_length()


def tile_pixels(cp: int, values: int | None = None) -> int:
    """Pixels per tile for a group of cp lanes: about ``values`` values (default _TILE_VALUES),
    at most 128 pixels; a power of two."""
    return max(1, min(128, (_TILE_VALUES if values is None else values) // cp))


#: Row widths (values per pixel) are padded to a multiple of this many elements: 16 bytes of
#: bf16, the alignment of cuBLAS's and CUTLASS's vectorised matmuls and of the fused kernels'
#: vector loads and stores.
ALIGN = 8


def aligned_width(n: int) -> int:
    """n rounded up to a multiple of :data:`ALIGN`."""
    return -(-n // ALIGN) * ALIGN


def row_alignment(*widths: int) -> int:
    """The kernels' ``ALIGN`` argument for rows of these widths (values per pixel): :data:`ALIGN`
    when all are multiples of it (the kernels then rewrite them so that Triton knows, and load
    16-byte vectors), else 1."""
    return ALIGN if all(w % ALIGN == 0 for w in widths) else 1


def cdiv(a: int, b: int) -> int:
    """⌈a / b⌉ for positive integers (grid sizes)."""
    return -(-a // b)


def pixel_stride(x: Tensor) -> int | None:
    """Values from one pixel to the next when ``x`` [B, H, W, C] is a contiguous map with a row of
    at least C values per pixel, cut to its first C (``y[..., :c]``, as
    :meth:`mvhinerv.model.blocks.ConvNeXtBlock.forward` cuts its aligned output); else None.
    The kernels read such an x in place: copying it took ≈ 0.26 ms of an S step at 1080p."""
    _, h, w, c = x.shape
    xs = x.stride(2) if w > 1 else c
    want = (h * w * xs, w * xs, xs, 1)
    if xs < c or any(n > 1 and st != wt for n, st, wt in zip(x.shape, x.stride(), want, strict=True)):
        return None
    return xs


def readable_rows(x: Tensor) -> tuple[Tensor, int]:
    """(x or a contiguous copy of it, its values per pixel): what the fused kernels read."""
    xs = pixel_stride(x)
    return (x, xs) if xs is not None else (x.contiguous(), x.shape[-1])


def cut_rows(like: Tensor, shape: tuple[int, ...], width: int, dtype: torch.dtype | None = None) -> Tensor:
    """An uninitialised map of ``shape`` [B, H, W, C] on like's device, the first C channels of
    rows of ``width`` ≥ C values per pixel: how the fused kernels hand maps (and their
    gradients) to each other, so that the reader finds 16-byte aligned rows (:func:`pixel_stride`)."""
    return like.new_empty((*shape[:3], width), dtype=like.dtype if dtype is None else dtype)[..., :shape[3]]


def _check(x: Tensor, weight: Tensor, width: int) -> None:
    if x.dim() != 4 or weight.shape != (x.shape[-1], 1, 3, 3):
        raise ValueError(f"dwconv_ln: x [B, H, W, C] and weight [C, 1, 3, 3] expected, got "
                         f"{tuple(x.shape)} and {tuple(weight.shape)}")
    if width < x.shape[-1]:
        raise ValueError(f"dwconv_ln: width {width} < C = {x.shape[-1]}")


@torch.library.custom_op("mvhinerv::dwconv_ln", mutates_args=())
def _dwconv_ln_op(x: Tensor, weight: Tensor, eps: float, out_dtype: torch.dtype,
                  width: int) -> tuple[Tensor, Tensor]:
    """(y [B, H, W, width] in out_dtype, zero in channels C …, rstd [B, H, W] float32)."""
    from mvhinerv.model import dwconv_ln_kernels as k

    _check(x, weight, width)
    x, xs = readable_rows(x)
    b, h, w, c = x.shape
    ws = aligned_width(c)
    weight_t = F.pad(weight.reshape(c, 9).t().to(torch.float32), (0, ws - c)).contiguous()  # [9, ws]
    y = torch.empty((b, h, w, width), dtype=out_dtype, device=x.device)
    rstd = torch.empty(x.shape[:3], dtype=torch.float32, device=x.device)
    cm, ct = channel_groups(c, width)  # the tile covers the zero channels too
    align = row_alignment(xs, width)
    block_w = tile_pixels(cm, _ALIGNED_TILE_VALUES if align > 1 else None)
    k.fwd_kernel[(b * h, cdiv(w, block_w))](x, weight_t, y, rstd, h, w, c, xs, width, eps, BLOCK_W=block_w, CM=cm,
                                            CT=ct, MAIN_REAL=cm <= c, WS=ws, ALIGN=align, num_warps=_WARPS)
    return y, rstd


@_dwconv_ln_op.register_fake
def _(x: Tensor, weight: Tensor, eps: float, out_dtype: torch.dtype, width: int) -> tuple[Tensor, Tensor]:
    return x.new_empty((*x.shape[:3], width), dtype=out_dtype), x.new_empty(x.shape[:3], dtype=torch.float32)


@torch.library.custom_op("mvhinerv::dwconv_ln_backward", mutates_args=())
def _dwconv_ln_backward_op(grad: Tensor, x: Tensor, weight: Tensor, y: Tensor, rstd: Tensor) -> tuple[Tensor, Tensor]:
    from mvhinerv.model import dwconv_ln_kernels as k
    from mvhinerv.model.colsum import column_sums

    x, xs = readable_rows(x)
    weight, grad, y, rstd = (t.contiguous() for t in (weight, grad, y, rstd))
    b, h, w, c = x.shape
    zm, zt = channel_groups(c, xs)  # ∂z's tail covers x's pad channels (written as zeros)
    block_w = tile_pixels(zm, _Z_TILE_VALUES)
    dz = torch.empty((b, h, w, xs), dtype=grad.dtype, device=x.device)  # x's layout: ∂x/∂w reads both alike
    k.bwd_z_kernel[(b * h, cdiv(w, block_w))](y, grad, rstd, dz, h, w, c, xs, y.shape[-1], BLOCK_W=block_w, CM=zm,
                                              CT=zt, num_warps=_Z_WARPS)
    # ∂x and ∂w: one launch for both channel groups (bwd_wx_kernel's docstring), bands of rows. ∂x
    # has x's layout, so the upsampler's backward (or the cut's) reads aligned rows in place; its
    # pad channels are zeros where the tail covers them (70 → 72, 140 → 144), else never written
    # (no reader looks past C).
    cm, ct = channel_groups(c)
    dx = cut_rows(x, x.shape, xs)
    bm = tile_pixels(cm, _WX_TILE_VALUES)
    bt = tile_pixels(ct, _WX_TILE_VALUES) if ct else bm
    per_chunk = bt // bm  # main tiles per chunk of columns
    chunks, bands = cdiv(w, bt), b * cdiv(h, _WX_ROWS)
    dwm = torch.empty((bands * chunks * per_chunk, 9, min(cm, c)), dtype=torch.float32, device=x.device)
    dwt = torch.empty((bands * chunks, 9, c - cm), dtype=torch.float32, device=x.device) if ct else dwm
    subs = per_chunk + (1 if ct else 0)
    k.bwd_wx_kernel[(chunks * subs, bands)](x, dz, weight, dx, dwm, dwt, h, w, c, xs, min(cm, c), ROWS=_WX_ROWS,
                                            BM=bm, CM=cm, BT=bt, CT=ct, K=per_chunk, SUBS=subs, num_warps=_WX_WARPS)
    dw = column_sums(dwm.view(1, dwm.shape[0], -1)).view(9, -1)
    if ct:
        dw = torch.cat((dw, column_sums(dwt.view(1, dwt.shape[0], -1)).view(9, -1)), 1)
    dw = dw.t().contiguous().view(c, 1, 3, 3).to(weight.dtype)
    return dx, dw


@_dwconv_ln_backward_op.register_fake
def _(grad: Tensor, x: Tensor, weight: Tensor, y: Tensor, rstd: Tensor) -> tuple[Tensor, Tensor]:
    # Laid out like the real outputs: ∂x in x's rows when the kernels read x in place.
    return cut_rows(x, x.shape, pixel_stride(x) or x.shape[-1]), weight.new_empty(weight.shape)


def _setup_context(ctx, inputs, output) -> None:
    x, weight, _, _, _ = inputs
    ctx.save_for_backward(x, weight, *output)
    ctx.mark_non_differentiable(output[1])


def _backward(ctx, grad: Tensor, _grad_rstd: Tensor | None):
    x, weight, y, rstd = ctx.saved_tensors
    dx, dw = _dwconv_ln_backward_op(grad, x, weight, y, rstd)
    return dx, dw, None, None, None


_dwconv_ln_op.register_autograd(_backward, setup_context=_setup_context)


def dwconv_ln(x: Tensor, weight: Tensor, eps: float, width: int | None = None) -> Tensor:
    """LayerNorm(depthwise3×3(x)) of channels-last ``x`` [B, H, W, C], weight [C, 1, 3, 3].

    Returns [B, H, W, width] (``width`` ≥ C, default C), with zeros in channels C … width − 1:
    a row of a multiple of 8 channels lets the next matmul use aligned (16-byte) operands, which
    HiNeRV's widths (35·2^k) do not have (:meth:`mvhinerv.model.blocks.ConvNeXtBlock.forward`).
    The output has the autocast dtype when autocast is on for x's device (what the next linear
    would cast it to anyway), else x's dtype. Differentiable in x and weight (the gradient of the
    zero channels is ignored). An x cut from a wider row (``y[..., :C]``) is read in place, and
    its gradient is such a cut too.
    Needs :func:`fused_available`.
    """
    kind = x.device.type
    out_dtype = torch.get_autocast_dtype(kind) if torch.is_autocast_enabled(kind) else x.dtype
    return _dwconv_ln_op(x, weight, eps, out_dtype, x.shape[-1] if width is None else width)[0]


__all__ = ["ALIGN", "aligned_width", "cdiv", "channel_groups", "dwconv_ln", "dwconv_ln_reference", "fused_available",
           "cut_rows", "pixel_stride", "pow2", "readable_rows", "row_alignment", "tile_pixels"]
