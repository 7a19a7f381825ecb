"""Checks of the deterministic column sums (``mvhinerv.model.colsum``) against float64, shared by
the CPU test (Triton interpreter: ``python tests/colsum_support.py`` in a subprocess with
``TRITON_INTERPRET=1``) and the GPU test (imported, compiled kernel)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mvhinerv.model.colsum import column_sums  # noqa: E402

#: [B, P, N]: one value; fewer rows than a load; a partial column block; one split of many rows;
#: two passes (P over _ONE_SPLIT) with a batch; the fused depthwise layer's tail shares.
CPU_SHAPES = [(1, 1, 1), (1, 5, 7), (2, 300, 70), (1, 512, 64), (3, 1100, 33), (1, 2040, 54)]
#: And the largest share tensors of S's step at 1080p: three passes' worth of rows.
GPU_SHAPES = CPU_SHAPES + [(1, 16320, 576), (4, 4097, 280), (1, 300000, 9)]


def shape_errors(shape: tuple[int, int, int], device: str) -> dict[str, float]:
    """Max |column_sums − float64 sum|, relative to Σ|x| of the column (the bound of a float32
    sum's rounding grows with it), and whether a second call gave the same bits (0 or 1)."""
    g = torch.Generator().manual_seed(shape[1] * 31 + shape[2])
    x = torch.randn(shape, generator=g).to(device)
    got = column_sums(x)
    assert got.shape == (shape[0], shape[2]) and got.dtype == torch.float32, (got.shape, got.dtype)
    want = x.double().sum(1)
    scale = x.double().abs().sum(1).clamp_min(1e-30)
    return {"sum": float(((got.double() - want).abs() / scale).max()),
            "repeat": float(not torch.equal(got, column_sums(x)))}


if __name__ == "__main__":
    print(json.dumps({str(s): shape_errors(s, "cpu") for s in CPU_SHAPES}))
