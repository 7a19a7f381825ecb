"""GELU (``F.gelu``'s exact, erf form; erf to 1.5e-7) and its gradient as Triton kernels.

Why: in the training step of HiNeRV-S at 1080p on an H200 the blocks' GELU took ≈ 2.4 ms of
≈ 17 ms of kernels, and Inductor's kernels for it run well below the memory bandwidth (stage 2's
518 k × 280 bf16 map: forward 0.335 ms where a copy takes 0.148, ``tools/bench_gelu.py
--alone``, docs/performance.md § Training step). Two reasons, two changes:

- the libdevice ``erf`` that Inductor calls costs more instructions per value than the memory
  traffic leaves time for; here erf is Abramowitz & Stegun's 7.1.26 rational approximation
  (|error| ≤ 1.5e-7, about float32's resolution near 1 and 25 000× below bf16's, the storage
  dtype under autocast), whose exponential also gives the normal density of the
  gradient: one ``exp`` and one division per value for both;
- Inductor's partitioner does not save the activated map for the next linear's weight gradient
  but recomputes it in the backward (writes it again: four passes over the map). As an opaque op
  the activation is kept by that linear (its input), and the backward reads ∂a and h and writes ∂h:
  three passes. Costs one map of memory per block (the peak of S's step at 1080p did not move).

The op is ``torch.ops.mvhinerv.gelu`` with its autograd formula, used by the ConvNeXt blocks on
the fused path (:meth:`mvhinerv.model.blocks.ConvNeXtBlock.hidden`). The tests compare it with
float64 (Triton's interpreter on a CPU, compiled on a GPU).
"""

from __future__ import annotations

import torch
from torch import Tensor

#: Values per program; 8 warps. Best of 1024/4, 2048/8, 4096/8 on an H200 (within 5 %).
_BLOCK = 4096
_WARPS = 8


def _grid(n: int) -> tuple[int]:
    return (max(1, -(-n // _BLOCK)),)


@torch.library.custom_op("mvhinerv::gelu", mutates_args=())
def _gelu_op(h: Tensor) -> Tensor:
    from mvhinerv.model import gelu_kernels as k

    h = h.contiguous()
    a = torch.empty_like(h)
    k.gelu_fwd_kernel[_grid(h.numel())](h, a, h.numel(), BLOCK=_BLOCK, num_warps=_WARPS)
    return a


@_gelu_op.register_fake
def _(h: Tensor) -> Tensor:
    return torch.empty_like(h, memory_format=torch.contiguous_format)


@torch.library.custom_op("mvhinerv::gelu_backward", mutates_args=())
def _gelu_backward_op(grad: Tensor, h: Tensor) -> Tensor:
    from mvhinerv.model import gelu_kernels as k

    grad, h = grad.contiguous(), h.contiguous()
    dh = torch.empty_like(h)
    k.gelu_bwd_kernel[_grid(h.numel())](grad, h, dh, h.numel(), BLOCK=_BLOCK, num_warps=_WARPS)
    return dh


@_gelu_backward_op.register_fake
def _(grad: Tensor, h: Tensor) -> Tensor:
    return torch.empty_like(h, memory_format=torch.contiguous_format)


def _setup_context(ctx, inputs, output) -> None:
    ctx.save_for_backward(inputs[0])


def _backward(ctx, grad: Tensor) -> Tensor:
    (h,) = ctx.saved_tensors
    return _gelu_backward_op(grad, h)


_gelu_op.register_autograd(_backward, setup_context=_setup_context)


def gelu(h: Tensor) -> Tensor:
    """GELU(h) (exact form, erf to 1.5e-7) of any shape, in h's dtype, by the Triton kernels;
    differentiable. Needs :func:`mvhinerv.model.dwconv_ln.fused_available`."""
    return _gelu_op(h)


__all__ = ["gelu"]
