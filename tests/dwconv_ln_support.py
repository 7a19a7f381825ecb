"""Checks of the fused depthwise 3×3 + LayerNorm op against its float64 reference, shared by
the CPU test (Triton interpreter, run as ``python tests/dwconv_ln_support.py`` in a subprocess
with ``TRITON_INTERPRET=1``) and the GPU test (imported, compiled kernels)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from unittest import mock

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mvhinerv.arch import arch_from_preset  # noqa: E402
from mvhinerv.model import MVHiNeRV  # noqa: E402
from mvhinerv.model import dwconv_ln as op  # noqa: E402
from mvhinerv.model.blocks import ConvNeXtBlock  # noqa: E402
from mvhinerv.model.dwconv_ln import aligned_width  # noqa: E402

#: (B, H, W, C): C below, at and above powers of two and odd (main + tail channel groups), a
#: power of two (no tail); W below and above one tile.
CPU_SHAPES = [(2, 5, 7, 3), (1, 6, 33, 35), (2, 4, 9, 70), (1, 3, 150, 5), (1, 4, 6, 8)]
GPU_SHAPES = CPU_SHAPES + [(2, 64, 250, 70), (1, 45, 80, 280), (3, 17, 1000, 35)]
#: (shape, width): the output written with a wider row (zeros past C), as the blocks use it.
PADDED = [((2, 5, 7, 3), 8), ((1, 6, 33, 35), 40), ((2, 4, 9, 70), 72)]
#: (shape, row): x cut from a map with ``row`` values per pixel (``[..., :C]``, read in place, as
#: a block's aligned output reaches the next block), the output in a row of that width too.
STRIDED = [((2, 5, 7, 3), 8), ((1, 6, 33, 35), 40), ((2, 4, 9, 70), 72)]
#: ConvNeXt blocks (C1, C2, expansion) with widths that are not multiples of 8 (HiNeRV-S's
#: 70 → 35 and 70 → 70, odd ones) against the unfused block.
BLOCKS = [(70, 35, 1), (70, 70, 4), (35, 35, 4), (5, 3, 4), (8, 8, 4)]


_EMPTY = torch.empty


def _poisoned_empty(*args, **kwargs) -> torch.Tensor:
    """torch.empty filled with NaN: an output element the kernels fail to write shows up."""
    t = _EMPTY(*args, **kwargs)
    return t.fill_(float("nan")) if t.is_floating_point() else t


def op_errors(shape: tuple[int, int, int, int], device: str, dtype: torch.dtype = torch.float32,
              seed: int = 0, width: int | None = None, row: int | None = None) -> dict[str, float]:
    """Max |fused − float64 reference| of the output, ∂x and ∂w, relative to the reference's
    largest magnitude (for the gradients), for random x, w and output gradient. A bf16 ``dtype``
    stores x in bf16 and runs under autocast (output bf16), as training on a GPU does. With
    ``width`` the output has that many channels; the extra ones must be exact zeros (``pad``)
    and their (random) gradient must not reach ∂x or ∂w. With ``row``, x is the first C channels
    of a map with ``row`` values per pixel (NaN in the others: the kernels must not read them)."""
    g = torch.Generator().manual_seed(seed)
    c = shape[-1]
    width = c if width is None else width
    x = torch.randn(shape, generator=g).to(dtype).to(device)
    if row is not None:
        wide = torch.full((*shape[:3], row), float("nan"), dtype=dtype, device=device)
        wide[..., :c] = x
        x = wide[..., :c]
        assert op.pixel_stride(x) == row
    w = (torch.randn(c, 1, 3, 3, generator=g) / 3).to(device)
    grad = torch.randn((*shape[:3], width), generator=g).to(device)
    xf, wf = x.detach().requires_grad_(), w.clone().requires_grad_()
    with mock.patch.object(torch, "empty", _poisoned_empty):  # the backward's buffers too
        with torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
            y = op.dwconv_ln(xf, wf, 1e-6, width=width)
        assert y.dtype == dtype and y.shape == grad.shape, (y.dtype, dtype, y.shape)
        (y.float() * grad).sum().backward()
    assert xf.grad.shape == x.shape, (xf.grad.shape, x.shape)
    pad = float(y[..., c:].detach().abs().max()) if width > c else 0.0
    y = y[..., :c]
    grad = grad[..., :c]
    x64 = x.double().requires_grad_()
    w64 = w.double().requires_grad_()
    y64 = op.dwconv_ln_reference(x64, w64, 1e-6)
    (y64 * grad.double()).sum().backward()

    def rel(a: torch.Tensor, b: torch.Tensor) -> float:
        return float((a.double() - b).abs().max() / b.abs().max().clamp_min(1e-12))

    return {"y": float((y.detach().double() - y64.detach()).abs().max()), "dx": rel(xf.grad, x64.grad),
            "dw": rel(wf.grad, w64.grad), "pad": pad}


def block_errors(c1: int, c2: int, expansion: int, device: str) -> dict[str, float]:
    """A ConvNeXt block with ``dwconv="fused"`` (padded, aligned matmuls) against ``"conv"``, same
    parameters, float32: max |Δ| of the output (the fused block returns its whole aligned row:
    its first C2 channels, and the rest, "pad", must be zeros) and, relative, of ∂x and every
    parameter's gradient (``grads``)."""
    torch.manual_seed(c1 * 100 + c2)
    ref = ConvNeXtBlock(c1, c2, expansion, dwconv="conv").to(device)
    fused = ConvNeXtBlock(c1, c2, expansion, dwconv="fused").to(device)
    fused.load_state_dict(ref.state_dict())
    x = torch.randn(2, 5, 9, c1, device=device)
    grad = torch.randn(2, 5, 9, c2, device=device)
    outs, grads = [], []
    pad = 0.0
    for block in (ref, fused):
        xi = x.clone().requires_grad_()
        out = block(xi)
        if out.shape[-1] > c2:
            assert block is fused and out.shape[-1] == aligned_width(c2), out.shape
            pad = float(out[..., c2:].detach().abs().max())
            out = out[..., :c2]
        (out * grad).sum().backward()
        outs.append(out.detach())
        grads.append([xi.grad, *(p.grad for p in block.parameters())])
    assert outs[1].shape == outs[0].shape, (outs[1].shape, outs[0].shape)
    return {"out": float((outs[1] - outs[0]).abs().max()), "pad": pad,
            "grads": max(float((a - b).abs().max() / b.abs().max().clamp_min(1e-12))
                         for a, b in zip(grads[1], grads[0], strict=True))}


def model_errors(device: str, items: int = 2, patch: tuple[int, int] | None = None, **overrides) -> dict[str, float]:
    """The ``tiny`` network (architecture ``overrides`` applied) with ``dwconv="fused"`` against
    ``"conv"`` (same parameters, float32; a batch of ``items`` ≤ 2 views and frames): max |Δ|
    of the output and, relative, of every parameter's gradient. With ``channels=40`` the widths are 40, 20, 10, 5: the last block
    has no residual, so on the fused path its fc1 and GELU and the head are one kernel
    (``Head.mlp_head``) where the reference uses ``Head.after``. With ``patch``, windows of that
    size at frame edges and inside (masks, crops of the blocks' whole rows)."""
    arch = arch_from_preset("tiny", 48, 27, frames=4, views=2, **overrides)  # scales 2, 1, 1, 1; odd sides
    torch.manual_seed(0)
    ref = MVHiNeRV(arch, dwconv="conv").to(device)
    with torch.no_grad():
        for p in ref.parameters():
            p.uniform_(-0.5, 0.5)
    fused = MVHiNeRV(arch, dwconv="fused").to(device)
    fused.load_state_dict(ref.state_dict())
    views, frames = torch.tensor([1, 0][:items], device=device), torch.tensor([3, 1][:items], device=device)
    where = {}
    if patch is not None:  # one window inside the frame, one past its bottom-right corner
        where = {"y0": torch.tensor([8, 20][:items], device=device), "x0": torch.tensor([12, 40][:items], device=device),
                 "patch": patch}
    outs = []
    for model in (ref, fused):
        out = model(views, frames, **where)
        out.square().sum().backward()
        outs.append(out)
    grads = max(float((a.grad - b.grad).abs().max() / b.grad.abs().max().clamp_min(1e-12))
                for a, b in zip(fused.parameters(), ref.parameters(), strict=True))
    return {"out": float((outs[1] - outs[0]).detach().abs().max()), "grads": grads}


def main() -> int:
    """Interpreter run: print every error as JSON (the test sets the thresholds)."""
    rows, values = op._WX_ROWS, op._WX_TILE_VALUES
    report = {"ops": {str(s): op_errors(s, "cpu") for s in CPU_SHAPES},
              # The strided cases write padded rows too: in the interpreter one contiguous padded case.
              "padded": {f"{s} width {n}": op_errors(s, "cpu", width=n) for s, n in PADDED[-1:]},
              "strided": {f"{s} row {n}": op_errors(s, "cpu", width=n, row=n) for s, n in STRIDED},
              "blocks": {str(b): block_errors(*b, "cpu") for b in BLOCKS},
              "bf16": op_errors((2, 6, 20, 35), "cpu", torch.bfloat16),
              # One view and frame per batch in the interpreter (≈ 100 s less of the default test
              # run); batches of several are checked by the ops' cases and on the GPU.
              "model": model_errors("cpu", items=1),
              "model_odd": model_errors("cpu", items=1, channels=40)}
    # Small ∂x/∂w tiles and bands of 2 rows: several bands (the last one partial, H odd) and
    # several chunks of columns, each with its main tiles and its tail tile.
    op._WX_ROWS, op._WX_TILE_VALUES = 2, 128
    for shape in ((2, 5, 7, 3), (1, 5, 20, 70)):
        report["ops"][f"bands {shape}"] = op_errors(shape, "cpu")
    report["strided"]["bands (1, 5, 20, 70) row 72"] = op_errors((1, 5, 20, 70), "cpu", row=72)
    op._WX_ROWS, op._WX_TILE_VALUES = rows, values
    op._SPLIT_CHANNELS = False  # the padded layout (one power-of-two group), kept for comparison
    report["ops"]["unsplit (2, 4, 9, 70)"] = op_errors((2, 4, 9, 70), "cpu")
    # One group of 8 lanes for 3 channels: the main group's store writes the zero channels.
    report["padded"]["unsplit (2, 5, 7, 3) width 8"] = op_errors((2, 5, 7, 3), "cpu", width=8)
    op._SPLIT_CHANNELS = True
    # Fake (meta) kernels, schema and autograd registration agree with the real op, also for a
    # non-contiguous input (torch.compile relies on the fake kernels' shapes and strides).
    w = torch.randn(5, 1, 3, 3, requires_grad=True)
    for x in (torch.randn(1, 6, 20, 5)[:, 1:5, 2:17], torch.randn(2, 4, 15, 8)[..., :5]):  # copied; in place
        for width in (5, 8):
            torch.library.opcheck(torch.ops.mvhinerv.dwconv_ln.default,
                                  (x.requires_grad_(), w, 1e-6, torch.float32, width))
    # ∂x comes in x's rows (read in place by the upsampler's backward): 8 values per pixel here.
    y, rstd = torch.ops.mvhinerv.dwconv_ln(x.detach(), w.detach(), 1e-6, torch.float32, 8)
    dx, _ = torch.ops.mvhinerv.dwconv_ln_backward(torch.randn_like(y), x.detach(), w.detach(), y, rstd)
    assert op.pixel_stride(x) == op.pixel_stride(dx) == 8, (dx.shape, dx.stride())
    report["opcheck"] = "ok"
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
