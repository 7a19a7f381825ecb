"""Checks of the fused last-block MLP + head (``mvhinerv.model.mlp_head_op``) against float64,
shared by the CPU test (Triton interpreter: ``python tests/mlp_head_support.py`` in a subprocess
with ``TRITON_INTERPRET=1``) and the GPU test (imported, compiled kernels, also in bf16)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mvhinerv.model import mlp_head_op as op  # noqa: E402

#: (pixels as [B, H, W], K inputs, H hidden, O outputs, pixel stride of y or None, ∂o channels
#: first): fewer pixels than a tile, several tiles with a partial last one, the last stage of S
#: (72 → 35 → 4: inputs as 64 + 16 lanes, hidden units 32 + 16), a cut of a wider row, one group
#: each (16), fewer inputs than the smallest group (12 of 16 lanes), 72 → 70 (64 + 16), and ∂o
#: read in place from a [B, O, H, W] gradient.
CPU_CASES = [((1, 3, 5), 40, 35, 4, None, False), ((2, 9, 17), 72, 35, 4, None, True),
             ((1, 7, 11), 35, 35, 4, 40, False), ((1, 5, 40), 16, 16, 16, None, True),
             ((1, 3, 7), 12, 20, 3, 16, False), ((1, 4, 9), 72, 70, 4, None, False)]
GPU_CASES = CPU_CASES + [((1, 1080, 1920), 72, 35, 4, None, True), ((2, 270, 480), 56, 50, 4, None, False)]


def _inputs(case, device: str, dtype: torch.dtype):
    (b, h, w), k, hid, o, stride, channels_first = case
    g = torch.Generator().manual_seed(b * 100003 + h * 1009 + w * 17 + k)
    rows = torch.randn((b, h, w, stride or k), generator=g)
    y = rows.to(dtype).to(device)[..., :k]
    w1 = (torch.randn(hid, k, generator=g) * 2 / k ** 0.5).to(device)
    w2 = (torch.randn(o, hid, generator=g) / hid ** 0.5).to(device)
    bias = torch.randn(o, generator=g).to(device)
    grad = torch.randn((b, h, w, o), generator=g).to(device)
    if channels_first:
        grad = grad.permute(0, 3, 1, 2).contiguous().permute(0, 2, 3, 1)
    return y, w1, w2, bias, grad


def reference(y: torch.Tensor, w1: torch.Tensor, w2: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """σ(GELU(y·W1ᵀ)·W2ᵀ + b) in PyTorch (any dtype)."""
    return torch.sigmoid(torch.nn.functional.gelu(y @ w1.t()) @ w2.t() + b)


def case_errors(case, device: str, dtype: torch.dtype = torch.float32) -> dict[str, float]:
    """Max |op − float64| of o and of the gradients of y, w1, w2 and b, each relative to the
    float64 values' largest magnitude; the reference starts from the same stored y (bf16 or
    float32) and weights."""
    y, w1, w2, bias, grad = _inputs(case, device, dtype)
    leaves = [t.detach().clone().requires_grad_() for t in (y, w1, w2, bias)]
    out = op.mlp_head(*leaves)
    assert out.dtype == torch.float32 and out.shape == grad.shape, (out.dtype, out.shape)
    out.backward(grad)
    ref_leaves = [t.detach().double().requires_grad_() for t in (y, w1, w2, bias)]
    ref = reference(*ref_leaves)
    ref.backward(grad.double())

    def rel(x: torch.Tensor, r: torch.Tensor) -> float:
        return float((x.double() - r).abs().max() / r.abs().max().clamp_min(1e-12))

    errors = {"o": rel(out.detach(), ref.detach())}
    for name, mine, theirs in zip(("dy", "dw1", "dw2", "db"), leaves, ref_leaves, strict=True):
        assert mine.grad.shape == theirs.shape, (name, mine.grad.shape)
        errors[name] = rel(mine.grad, theirs.grad)
    return errors


def opcheck() -> str:
    """torch.library.opcheck of the op (schema, fake kernel, autograd registration): ``"ok"`` or
    the first failure."""
    y, w1, w2, bias, _ = _inputs(((1, 2, 3), 16, 16, 4, None, False), "cpu", torch.float32)
    args = tuple(t.requires_grad_() for t in (y, w1, w2, bias))
    try:
        torch.library.opcheck(op._mlp_head_op, args)
    except Exception as e:  # noqa: BLE001 - reported to the test
        return f"{type(e).__name__}: {e}"[:500]
    return "ok"


if __name__ == "__main__":
    print(json.dumps({"opcheck": opcheck()} | {str(c): case_errors(c, "cpu") for c in CPU_CASES}))
