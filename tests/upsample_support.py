"""Run by tests/test_model_upsample.py in a subprocess with ``TRITON_INTERPRET=1`` (or directly
on a GPU): the upsampler's Triton stencil (:mod:`mvhinerv.model.upsample_op`) against the
float64 PyTorch stencil (:func:`mvhinerv.model.upsample.upsample_stencil`). Prints one JSON line
of max errors (relative to the reference's largest magnitude) per case."""

from __future__ import annotations

import json
import sys

import torch

from mvhinerv.model.upsample import edge_factor, upsample_stencil
from mvhinerv.model.upsample_op import upsample_stencil_fused

#: (B, n, m, C, s, row0, col0): window sizes, scale and the window's first produced row/column
#: (global, in units of the output level) — 0 touches the frame edge; interior windows too.
CASES = [(2, 5, 7, 3, 2, 0, 0), (1, 4, 6, 10, 3, 3, 6), (1, 5, 4, 9, 5, 0, 5), (2, 6, 5, 70, 2, 2, 0),
         (1, 4, 4, 35, 1, 0, 0)]


def case_errors(b: int, n: int, m: int, c: int, s: int, row0: int, col0: int, device: str,
                width: int | None = None) -> dict[str, float]:
    """Errors of the fused stencil's u, ∂x and ∂tile; with ``width``, u must be the first C
    channels of a map of ``width`` values per pixel whose other channels are zeros ("pad")."""
    g = torch.Generator().manual_seed(n * 100 + m * 10 + c)
    x = torch.randn(b, n, m, c, generator=g, dtype=torch.float64)
    tile = torch.randn(b, s, s, c, generator=g, dtype=torch.float64)
    in_rows, in_cols = (n - 2) + row0 // s + 1, (m - 2) + col0 // s + 1  # frame ends past the window
    rows = torch.arange((n - 2) * s).repeat(b, 1) + row0
    cols = torch.arange((m - 2) * s).repeat(b, 1) + col0
    rf, cf = edge_factor(rows, s, in_rows), edge_factor(cols, s, in_cols)
    grad = torch.randn(b, (n - 2) * s, (m - 2) * s, c, generator=g, dtype=torch.float64)
    out = {}
    results = []
    for dtype, fn in ((torch.float64, upsample_stencil), (torch.float32, None)):
        xi = x.to(device, dtype).detach().clone().requires_grad_()
        ti = tile.to(device, dtype).detach().clone().requires_grad_()
        if fn is None:
            u = upsample_stencil_fused(xi, ti, rf.to(device), cf.to(device), s, width=width)
            if width is not None:
                assert u.stride()[2:] == (width, 1), u.stride()
                row = u.as_strided((*u.shape[:3], width), u.stride())
                out["pad"] = float(row[..., c:].abs().max()) if width > c else 0.0
        else:
            u = fn(xi, s, ti, rf.to(device), cf.to(device))
        (u * grad.to(device, dtype)).sum().backward()
        results.append((u.detach().double().cpu(), xi.grad.double().cpu(), ti.grad.double().cpu()))
    for name, a, ref in zip(("u", "dx", "dtile"), results[1], results[0], strict=True):
        out[name] = float((a - ref).abs().max() / ref.abs().max().clamp_min(1e-12))
    assert results[1][0].dtype == torch.float64
    return out


def narrow_errors(b: int, n: int, m: int, c: int, s: int, row0: int, col0: int, device: str) -> dict[str, float]:
    """A bf16 output (``out_dtype``, what the network asks for where a stage's first block has no
    residual) against the float32 output: values more than one bf16 step (2⁻⁷ relative) apart,
    which one rounding of the float32 value never is (the interpreter truncates, a GPU rounds to
    nearest); and ∂x for a bf16 ∂u against ∂x for the same values in float32, equal (∂x keeps x's
    float32, both gathers read the same values). Errors 0 expected."""
    g = torch.Generator().manual_seed(7 * n + c)
    x = torch.randn(b, n, m, c, generator=g).to(device)
    tile = torch.randn(b, s, s, c, generator=g).to(device)
    rf = edge_factor(torch.arange((n - 2) * s).repeat(b, 1) + row0, s, (n - 2) + row0 // s + 1).to(device)
    cf = edge_factor(torch.arange((m - 2) * s).repeat(b, 1) + col0, s, (m - 2) + col0 // s + 1).to(device)
    grad = torch.randn(b, (n - 2) * s, (m - 2) * s, c, generator=g).to(device, torch.bfloat16)
    results = []
    for dtype in (torch.float32, torch.bfloat16):
        xi = x.detach().clone().requires_grad_()
        u = upsample_stencil_fused(xi, tile, rf, cf, s, dtype)
        assert u.dtype == dtype
        (u * grad.to(dtype)).sum().backward()
        assert xi.grad.dtype == torch.float32
        results.append((u.detach(), xi.grad))
    (u32, dx32), (u16, dx16) = results
    return {"u beyond 1 bf16 step": float(((u16.float() - u32).abs() > 2.0 ** -7 * u32.abs()).sum()),
            "dx": float((dx16 - dx32).abs().max())}


#: Cases run again with two input rows per backward program (bands, the last one partial; C = 8
#: has no tail group); the last one with four too (one band, fewer rows than that).
BAND_CASES = [(2, 5, 7, 3, 2, 0, 0), (1, 5, 4, 9, 5, 0, 5), (1, 5, 6, 8, 2, 1, 0), (2, 6, 5, 70, 2, 2, 0)]


def all_case_errors(device: str) -> dict[str, dict[str, float]]:
    """Every case with the default tiling (one row per program: small maps), and BAND_CASES with
    bands of 2 and 4 rows."""
    from mvhinerv.model import upsample_op

    report = {str(case): case_errors(*case, device) for case in CASES}
    report.update({f"{case} width {width}": case_errors(*case, device, width=width)
                   for case, width in ((CASES[1], 16), (CASES[3], 72))})
    report.update({f"{case} bf16 out": narrow_errors(*case, device) for case in CASES[2:4]})
    knobs = upsample_op._BWD_ROWS, upsample_op._BWD_PROGRAMS
    try:
        for rows, cases in ((2, BAND_CASES), (4, BAND_CASES[-1:])):
            upsample_op._BWD_ROWS, upsample_op._BWD_PROGRAMS = rows, 1
            assert upsample_op._bwd_rows(5, 1) == rows
            report.update({f"{case} rows {rows}": case_errors(*case, device) for case in cases})
    finally:
        upsample_op._BWD_ROWS, upsample_op._BWD_PROGRAMS = knobs
    return report


def main() -> int:
    device = "cuda" if torch.cuda.is_available() else "cpu"
    report = all_case_errors(device)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
