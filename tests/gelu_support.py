"""Checks of the Triton GELU (``mvhinerv.model.gelu_op``) against float64, shared by the CPU test
(Triton interpreter: ``python tests/gelu_support.py`` in a subprocess with ``TRITON_INTERPRET=1``)
and the GPU test (imported, compiled kernels, also in bf16)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mvhinerv.model import gelu_op as op  # noqa: E402

#: Shapes: one value, less than and more than one program's block, a channels-last map.
CPU_SHAPES = [(1,), (1000,), (3, 5000), (2, 7, 9, 40)]
GPU_SHAPES = CPU_SHAPES + [(1, 540, 960, 280), (1, 1080, 1920, 40)]


def shape_errors(shape: tuple[int, ...], device: str, dtype: torch.dtype = torch.float32) -> dict[str, float]:
    """Max |op − float64| of GELU(h) and ∂h, relative to the float64 values' largest magnitude, for
    h spread over GELU's range (normal × 3, and the tails ±10) and a random output gradient.
    bf16: h and ∂a stored in bf16 as under autocast, the reference from the same stored values."""
    g = torch.Generator().manual_seed(len(shape) * 1000 + shape[-1])
    h = 3 * torch.randn(shape, generator=g)
    h.view(-1)[:2] = torch.tensor([-10.0, 10.0])[: h.numel()]
    h = h.to(dtype).to(device)
    grad = torch.randn(shape, generator=g).to(dtype).to(device)
    hf = h.clone().requires_grad_()
    a = op.gelu(hf)
    assert a.dtype == dtype and a.shape == h.shape, (a.dtype, a.shape)
    a.backward(grad)
    h64 = h.double().requires_grad_()
    a64 = torch.nn.functional.gelu(h64)
    a64.backward(grad.double())

    def rel(x: torch.Tensor, y: torch.Tensor) -> float:
        return float((x.double() - y).abs().max() / y.abs().max().clamp_min(1e-12))

    return {"a": rel(a.detach(), a64.detach()), "dh": rel(hf.grad, h64.grad)}


def opcheck() -> str:
    """torch.library.opcheck of the op (schema, fake kernel, autograd registration): ``"ok"`` or
    the first failure."""
    h = torch.randn(4, 6, generator=torch.Generator().manual_seed(1), requires_grad=True)
    try:
        torch.library.opcheck(op._gelu_op, (h,))
    except Exception as e:  # noqa: BLE001 - reported to the test
        return f"{type(e).__name__}: {e}"[:500]
    return "ok"


if __name__ == "__main__":
    print(json.dumps({"opcheck": opcheck()} | {str(s): shape_errors(s, "cpu") for s in CPU_SHAPES}))
