"""The last block's first linear and GELU, and the head (with that block's second linear folded
in, :meth:`mvhinerv.model.blocks.Head.after`), as one Triton kernel per direction:
o = σ(GELU(y·W1ᵀ)·W2ᵀ + b) for every pixel of the last stage.

Why: in S … XXL the last stage is one block without a residual (70 → 35 channels, expansion 1)
at full resolution, so its pointwise part is small matrices over many pixels: at 1080p
2 M pixels × (70 → 35 → 4). As cuBLAS products, the GELU op and Inductor's sigmoid it was nine
passes over 72- and 40-wide maps (y; h, GELU(h) and the gradients) and ≈ 1.15 ms of the 13.9 ms
S step on an H200, each product at ≈ 2 TB/s (docs/performance.md § Training step). Here the
forward reads y and writes the four outputs; the backward reads y and ∂o and writes ∂y,
recomputing h, GELU(h) and σ on the way (the products are a few GFLOP, nothing for the tensor
cores), and sums the weight gradients in registers per program.

Same function as the unfused path, rounded fewer times: h and the head's pre-activation stay in
float32 (autocast rounds them to bf16), GELU(h) is rounded to y's dtype for the second product as
autocast would. The op is ``torch.ops.mvhinerv.mlp_head`` with its autograd formula, used by
:meth:`mvhinerv.model.blocks.Head.mlp_head` on the fused path (GPU training); tests compare it
with float64 (Triton's interpreter on a CPU, compiled on a GPU).
"""

from __future__ import annotations

import torch
from torch import Tensor

from mvhinerv.model.dwconv_ln import cdiv, pow2, readable_rows, row_alignment

#: Pixels per tile and warps per program of the forward; of the backward, also its programs (each
#: loops over tiles, keeping its weight-gradient shares in registers) and software-pipeline
#: stages. Best of sweeps on an H200, S's last stage at 1080p (y in rows of 72 values, 70 real:
#: K = 72, H = 35, O = 4), kernels alone and in the training step (docs/performance.md § Training
#: step, twentieth session): with the inputs split 64 + 16 the backward took 568 µs alone with 2
#: stages and 528 programs, 671 with 1 stage (one stage was best before the split, 624 µs), and
#: the step agreed (+0.5 %).
_BM = 128
_WARPS = 4
_BWD_BM = 64
_BWD_WARPS = 4
_BWD_PROGRAMS = 528
_BWD_STAGES = 2


def _side(n: int) -> int:
    """A tile side for n values: a power of two ≥ 16 (``tl.dot``'s smallest)."""
    return max(16, pow2(n))


def _split(n: int) -> tuple[int, int]:
    """A width n as a main group (the largest power of two ≤ n, at least 16) and a tail (0 or a
    power of two ≥ 16, ``tl.dot``'s smallest side), e.g. 72 → 64 + 16, 35 → 32 + 16, 64 → 64 + 0:
    fewer padded lanes than one power of two (72 → 128)."""
    main = max(16, 1 << (n.bit_length() - 1))
    return main, (_side(n - main) if n > main else 0)


def _pads(k: int, h: int, o: int) -> dict[str, int]:
    """The forward's tile sides for K inputs, H hidden units, O outputs: the inputs as a main
    group KM and a tail KT, the hidden units as HM and HT (:func:`_split`), OP the outputs padded
    to a power of two ≥ 16 (mlp_head_kernels' docstring)."""
    km, kt = _split(k)
    hm, ht = _split(h)
    return {"KM": km, "KT": kt, "HM": hm, "HT": ht, "OP": _side(o)}


def _bwd_pads(k: int, h: int, o: int) -> dict[str, int]:
    """The backward's tile sides: the inputs split as the forward's, the hidden units one group HP
    (mlp_head_bwd_kernel's docstring)."""
    km, kt = _split(k)
    return {"KM": km, "KT": kt, "HP": _side(h), "OP": _side(o)}


def _grad_layout(grad: Tensor) -> tuple[Tensor, tuple[int, int, int, int]]:
    """(∂o, (H·W, batch stride, pixel stride, output stride)) for ∂o [B, H, W, O]: read in place
    when its pixels are evenly spaced within a batch item (a channels-first ∂o, as the loss of
    the network's [B, O, H, W] output gives, is), else a contiguous copy."""
    _, h, w, o = grad.shape
    if h > 1 and w > 1 and grad.stride(1) != w * grad.stride(2):
        grad = grad.contiguous()
    ps = grad.stride(2) if w > 1 else grad.stride(1)
    return grad, (h * w, grad.stride(0), ps, grad.stride(3))


def _check(y: Tensor, w1: Tensor, w2: Tensor, b: Tensor) -> None:
    k = y.shape[-1]
    h, o = w1.shape[0], w2.shape[0]
    if w1.shape != (h, k) or w2.shape != (o, h) or b.shape != (o,):
        raise ValueError(f"mlp_head: y [..., K], w1 [H, K], w2 [O, H], b [O] expected, got {tuple(y.shape)}, "
                         f"{tuple(w1.shape)}, {tuple(w2.shape)}, {tuple(b.shape)}")
    if max(k, h) > 128:
        raise ValueError(f"mlp_head: K = {k} and H = {h} must be at most 128 (one tile)")


def _flat(y: Tensor) -> tuple[Tensor, int, int]:
    """(y, its values per pixel, pixels): y as the kernels read it (in place when its pixels are
    evenly spaced, as a cut of an aligned row is)."""
    y4 = y.reshape(1, 1, -1, y.shape[-1]) if y.dim() != 4 else y
    y4, ys = readable_rows(y4)
    return y4, ys, y4.shape[0] * y4.shape[1] * y4.shape[2]


@torch.library.custom_op("mvhinerv::mlp_head", mutates_args=())
def _mlp_head_op(y: Tensor, w1: Tensor, w2: Tensor, b: Tensor) -> Tensor:
    """o [..., O] float32."""
    from mvhinerv.model import mlp_head_kernels as kern

    _check(y, w1, w2, b)
    w1, w2, b = w1.contiguous(), w2.contiguous(), b.contiguous()
    yr, ys, n = _flat(y)
    k, h, o = y.shape[-1], w1.shape[0], w2.shape[0]
    out = torch.empty((*y.shape[:-1], o), dtype=torch.float32, device=y.device)
    kern.mlp_head_fwd_kernel[(max(1, cdiv(n, _BM)),)](
        yr, w1, w2, b, out, n, ys, K=k, H=h, O=o, BM=_BM, **_pads(k, h, o), ALIGN=row_alignment(ys),
        IEEE=y.dtype == torch.float32, num_warps=_WARPS)
    return out


@_mlp_head_op.register_fake
def _(y: Tensor, w1: Tensor, w2: Tensor, b: Tensor) -> Tensor:
    return y.new_empty((*y.shape[:-1], w2.shape[0]), dtype=torch.float32)


@torch.library.custom_op("mvhinerv::mlp_head_backward", mutates_args=())
def _mlp_head_backward_op(grad: Tensor, y: Tensor, w1: Tensor, w2: Tensor,
                          b: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(∂y like y but contiguous, ∂w1, ∂w2, ∂b in the weights' dtypes)."""
    from mvhinerv.model import mlp_head_kernels as kern
    from mvhinerv.model.colsum import column_sums

    w1c, w2c, bc = w1.contiguous(), w2.contiguous(), b.contiguous()
    yr, ys, n = _flat(y)
    grad, grad_strides = _grad_layout(grad.to(torch.float32).reshape(*yr.shape[:3], grad.shape[-1]))
    k, h, o = y.shape[-1], w1.shape[0], w2.shape[0]
    tiles = max(1, cdiv(n, _BWD_BM))
    programs = min(tiles, _BWD_PROGRAMS)
    dy = torch.empty(y.shape, dtype=y.dtype, device=y.device)
    dw1 = torch.empty((1, programs, h * k), dtype=torch.float32, device=y.device)
    dw2 = torch.empty((1, programs, o * h), dtype=torch.float32, device=y.device)
    db = torch.empty((1, programs, o), dtype=torch.float32, device=y.device)
    kern.mlp_head_bwd_kernel[(programs,)](
        yr, w1c, w2c, bc, grad, dy, dw1, dw2, db, n, ys, *grad_strides, K=k, H=h, O=o, BM=_BWD_BM,
        **_bwd_pads(k, h, o), ALIGN=row_alignment(ys), IEEE=y.dtype == torch.float32,
        PER_PROGRAM=cdiv(tiles, programs),
        num_warps=_BWD_WARPS, num_stages=_BWD_STAGES)
    return (dy, column_sums(dw1).view(h, k).to(w1.dtype), column_sums(dw2).view(o, h).to(w2.dtype),
            column_sums(db).view(o).to(b.dtype))


@_mlp_head_backward_op.register_fake
def _(grad: Tensor, y: Tensor, w1: Tensor, w2: Tensor, b: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    return (torch.empty(y.shape, dtype=y.dtype, device=y.device), torch.empty_like(w1), torch.empty_like(w2),
            torch.empty_like(b))


def _setup_context(ctx, inputs, output) -> None:
    ctx.save_for_backward(*inputs)


def _backward(ctx, grad: Tensor):
    return _mlp_head_backward_op(grad, *ctx.saved_tensors)


_mlp_head_op.register_autograd(_backward, setup_context=_setup_context)


def mlp_head(y: Tensor, w1: Tensor, w2: Tensor, b: Tensor) -> Tensor:
    """σ(GELU(y·W1ᵀ)·W2ᵀ + b) per pixel (GELU's erf form, erf to 1.5e-7): y [..., K] → [..., O]
    float32, with w1 [H, K], w2 [O, H], b [O]; K, H ≤ 128. Products in y's dtype (float32
    accumulation); differentiable in all four. An y cut from a wider row (``g[..., :K]``) is read
    in place. Needs :func:`mvhinerv.model.dwconv_ln.fused_available`."""
    return _mlp_head_op(y, w1, w2, b)


__all__ = ["mlp_head"]
