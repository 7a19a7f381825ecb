"""Checks of the Triton GELU (``mvhinerv.model.gelu_op``) and of GELU with the linear after it
(``mvhinerv.model.gelu_linear``) against float64, shared by the CPU test (Triton interpreter:
``python tests/gelu_support.py`` in a subprocess with ``TRITON_INTERPRET=1``) and the GPU test
(imported, compiled kernels, also in bf16)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mvhinerv.model import gelu_linear as gl  # noqa: E402
from mvhinerv.model import gelu_op as op  # noqa: E402

#: Shapes: one value, less than and more than one program's block, a channels-last map.
CPU_SHAPES = [(1,), (1000,), (3, 5000), (2, 7, 9, 40)]
GPU_SHAPES = CPU_SHAPES + [(1, 540, 960, 280), (1, 1080, 1920, 40)]

#: gelu_linear (pixels, hidden units C, outputs K, backward): K as one group (16), as 64 + 16
#: with 8 padded lanes (S's stage 2: 72 → 280), 128 + 16 (stage 1: 144 → 560, the wide tiling),
#: 256 + 32 (stage 0: 280 → 1120); C not a multiple of the chunk; pixels not a multiple of the
#: tile. Backward: the kernel with a tile's hidden units in one program ("one") or two ("two"),
#: or cuBLAS's ∂a and GELU's backward kernel (``"unfused"``, below ``_MIN_PIXELS``).
LINEAR_CPU = [(5, 16, 16, "two"), (70, 280, 72, "two"), (70, 280, 72, "one"), (131, 560, 144, "one"),
              (20, 1120, 280, "two"), (9, 40, 24, "one"), (70, 280, 72, "unfused")]
#: On a GPU also S's maps at 1080p (stages 2, 1, 0: 960×540, 480×270, 160×90), in bf16.
LINEAR_GPU = [(518400, 280, 72, "one"), (129600, 560, 144, "one"), (14400, 1120, 280, "two")]


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


def linear_errors(n: int, c: int, k: int, backward: str, device: str,
                  dtype: torch.dtype = torch.float32) -> dict[str, float]:
    """Max |op − float64| of y = GELU(h)·wᵀ, ∂h and ∂w relative to the float64 values' largest
    magnitude, h [n, c] and w [k, c] stored in ``dtype`` (as under autocast), the reference from the
    same stored values. ``backward``: how ∂h is formed (:data:`LINEAR_CPU`)."""
    g = torch.Generator().manual_seed(n * 7 + c + k)
    h = (2 * torch.randn(n, c, generator=g)).to(dtype).to(device)
    w = (torch.randn(k, c, generator=g) / c ** 0.5).to(dtype).to(device)
    grad = torch.randn(n, k, generator=g).to(dtype).to(device)
    few, least = gl._FEW_TILES, gl._MIN_PIXELS
    gl._FEW_TILES = 10**9 if backward == "two" else 0
    gl._MIN_PIXELS = n + 1 if backward == "unfused" else 0
    try:
        hv, wv = h.clone().requires_grad_(), w.clone().requires_grad_()
        y = gl.gelu_linear(hv, wv)
        assert y.dtype == dtype and y.shape == (n, k), (y.dtype, y.shape)
        y.backward(grad)
    finally:
        gl._FEW_TILES, gl._MIN_PIXELS = few, least
    h64, w64 = h.double().requires_grad_(), w.double().requires_grad_()
    y64 = torch.nn.functional.linear(torch.nn.functional.gelu(h64), w64)
    y64.backward(grad.double())

    def rel(x: torch.Tensor, ref: torch.Tensor) -> float:
        return float((x.double() - ref).abs().max() / ref.abs().max().clamp_min(1e-12))

    return {"y": rel(y.detach(), y64.detach()), "dh": rel(hv.grad, h64.grad), "dw": rel(wv.grad, w64.grad)}


def opcheck() -> str:
    """torch.library.opcheck of the ops (schema, fake kernel, autograd registration): ``"ok"`` or
    the first failure."""
    h = torch.randn(4, 6, generator=torch.Generator().manual_seed(1), requires_grad=True)
    gen = torch.Generator().manual_seed(2)
    grad, w, hl = (torch.randn(shape, generator=gen) for shape in ((5, 24), (24, 40), (5, 40)))
    try:
        torch.library.opcheck(op._gelu_op, (h,))
        torch.library.opcheck(gl._grad_op, (grad, w, hl))
    except Exception as e:  # noqa: BLE001 - reported to the test
        return f"{type(e).__name__}: {e}"[:500]
    return "ok"


if __name__ == "__main__":
    print(json.dumps({"opcheck": opcheck()} | {str(s): shape_errors(s, "cpu") for s in CPU_SHAPES}
                     | {f"linear {s}": linear_errors(*s, "cpu") for s in LINEAR_CPU}))
