"""Run by tests/test_model_upsample.py in a subprocess with ``TRITON_INTERPRET=1`` (or directly
on a GPU): the upsampler's Triton kernels (LayerNorm + stencil, :mod:`mvhinerv.model.upsample_op`)
against the float64 PyTorch path of :func:`mvhinerv.model.upsample.upsample`. Prints one JSON
line of max errors (relative to the reference's largest magnitude) per case."""

from __future__ import annotations

import json
import sys

import torch

from mvhinerv.model.upsample import LN_EPS, edge_factor, upsample
from mvhinerv.model.upsample_op import upsample_ln_fused

#: (B, n, m, C, s, row0, col0): input map sizes, scale and the window's first produced row/column
#: (global, in units of the output level) — 0 touches the frame edge; interior windows too.
CASES = [(2, 3, 5, 3, 2, 0, 0), (1, 2, 4, 10, 3, 3, 6), (1, 3, 2, 9, 5, 0, 5), (2, 4, 3, 70, 2, 2, 0),
         (1, 2, 2, 35, 1, 0, 0), (1, 3, 3, 8, 2, 0, 0)]


def _inputs(b: int, n: int, m: int, c: int, s: int, row0: int, col0: int, seed: int, offset: float = 0.0):
    """(x, tile, rf, cf, ∂U) in float64 on the CPU; x has ``offset`` added (a mean far from 0)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, n, m, c, generator=g, dtype=torch.float64) * 2 + offset
    tile = torch.randn(b, s, s, c, generator=g, dtype=torch.float64)
    in_rows, in_cols = n + row0 // s + 1, m + col0 // s + 1  # the frame ends past the window
    rf = edge_factor(torch.arange(n * s).repeat(b, 1) + row0, s, in_rows)
    cf = edge_factor(torch.arange(m * s).repeat(b, 1) + col0, s, in_cols)
    grad = torch.randn(b, n * s, m * s, c, generator=g, dtype=torch.float64)
    return x, tile, rf, cf, grad


def case_errors(b: int, n: int, m: int, c: int, s: int, row0: int, col0: int, device: str,
                width: int | None = None, x_width: int | None = None, offset: float = 0.0,
                fused_dtype: torch.dtype = torch.float32) -> dict[str, float]:
    """Errors of the fused op's u, ∂x and ∂tile. With ``width``, u must be the first C channels
    of a map of ``width`` values per pixel whose other channels are zeros ("pad"); with
    ``x_width``, x is such a row, passed as a cut and whole with C given (read in place: ∂x in
    its layout, zeros past C: "dx pad cut", "dx pad row"). ``fused_dtype`` bf16: x, the tile and
    ∂U in bf16 for the fused op (the reference gets the same values in float64), as at stages
    1–3 of the network under autocast: u, ∂x̂ and ∂x are rounded to bf16."""
    x, tile, rf, cf, grad = (t.to(fused_dtype).double() for t in
                             _inputs(b, n, m, c, s, row0, col0, n * 100 + m * 10 + c, offset))
    out = {}
    results = []
    for fused in (False, True):
        dtype = fused_dtype if fused else torch.float64
        xi = x.to(device, dtype).detach().clone().requires_grad_()
        ti = tile.to(device, dtype).detach().clone().requires_grad_()
        rfd, cfd = rf.to(device), cf.to(device)
        if fused and x_width is not None:
            row = torch.zeros(b, n, m, x_width, device=device)
            row[..., :c] = xi.detach()
            for name, xr in (("cut", row[..., :c]), ("row", row)):  # a cut view, the whole row + channels
                u, mean, rstd = torch.ops.mvhinerv.upsample_ln(xr, ti, rfd, cfd, s, LN_EPS, dtype, c, c)
                dx, dtile = torch.ops.mvhinerv.upsample_ln_backward(grad.to(device, dtype), xr, mean, rstd, rfd, cfd,
                                                                    s, c)
                assert dx.shape == xr.shape and dx.stride()[2:] == (x_width, 1), (dx.shape, dx.stride())
                whole = dx.as_strided((*dx.shape[:3], x_width), dx.stride())
                out[f"dx pad {name}"] = float(whole[..., c:].abs().max()) if x_width > c else 0.0
            results.append((u.detach().double().cpu(), dx[..., :c].double().cpu(), dtile.double().cpu()))
            continue
        if fused:
            u = upsample_ln_fused(xi, ti, rfd, cfd, s, LN_EPS, width=width)
            if width is not None:
                assert u.stride()[2:] == (width, 1), u.stride()
                row = u.detach().as_strided((*u.shape[:3], width), u.stride())
                out["pad"] = float(row[..., c:].abs().max()) if width > c else 0.0
        else:
            u = upsample(xi, s, ti, rfd, cfd)
        (u * grad.to(device, dtype)).sum().backward()
        results.append((u.detach().double().cpu(), xi.grad.double().cpu(), ti.grad.double().cpu()))
    for name, a, ref in zip(("u", "dx", "dtile"), results[1], results[0], strict=True):
        out[name] = float((a - ref).abs().max() / ref.abs().max().clamp_min(1e-12))
    return out


def narrow_errors(b: int, n: int, m: int, c: int, s: int, row0: int, col0: int, device: str) -> dict[str, float]:
    """A bf16 output (``out_dtype``, what the network asks for where a stage's first block has no
    residual) against the float32 output: values more than one bf16 step (2⁻⁷ relative) apart,
    which one rounding of the float32 value never is (the interpreter truncates, a GPU rounds to
    nearest); and ∂x for a bf16 ∂u against ∂x for the same values in float32, equal (∂x keeps x's
    float32, both gathers read the same values). Errors 0 expected."""
    x, tile, rf, cf, grad = (t.float().to(device) for t in _inputs(b, n, m, c, s, row0, col0, 7 * n + c))
    grad = grad.to(torch.bfloat16)
    results = []
    for dtype in (torch.float32, torch.bfloat16):
        xi = x.detach().clone().requires_grad_()
        u = upsample_ln_fused(xi, tile, rf, cf, s, LN_EPS, dtype)
        assert u.dtype == dtype
        (u * grad.to(dtype)).sum().backward()
        assert xi.grad.dtype == torch.float32
        results.append((u.detach(), xi.grad))
    (u32, dx32), (u16, dx16) = results
    return {"u beyond 1 bf16 step": float(((u16.float() - u32).abs() > 2.0 ** -7 * u32.abs()).sum()),
            "dx": float((dx16 - dx32).abs().max())}


#: Cases run again with two input rows per backward program (bands, the last one partial; C = 8
#: has no tail group); the last one with four too (one band, fewer rows than that).
BAND_CASES = [(2, 3, 5, 3, 2, 0, 0), (1, 3, 2, 9, 5, 0, 5), (1, 3, 4, 8, 2, 1, 0), (2, 4, 3, 70, 2, 2, 0)]


def all_case_errors(device: str) -> dict[str, dict[str, float]]:
    """Every case with the default tiling (one row per program: small maps), a cut output row,
    a cut input row, a mean far from zero, bf16 outputs, and BAND_CASES with bands of 2 and 4
    rows."""
    from mvhinerv.model import upsample_op

    report = {str(case): case_errors(*case, device) for case in CASES}
    report.update({f"{case} width {width}": case_errors(*case, device, width=width)
                   for case, width in ((CASES[1], 16), (CASES[3], 72))})
    report.update({f"{case} x_width {xw}": case_errors(*case, device, x_width=xw)
                   for case, xw in ((CASES[3], 72), (CASES[4], 40))})
    report[f"{CASES[3]} offset 8"] = case_errors(*CASES[3], device, offset=8.0)
    report.update({f"{case} bf16 x": case_errors(*case, device, fused_dtype=torch.bfloat16) for case in CASES[2:4]})
    report.update({f"{case} bf16 out": narrow_errors(*case, device) for case in CASES[2:4]})
    knobs = upsample_op._BWD_ROWS, upsample_op._BWD_PROGRAMS
    try:
        for rows, cases in ((2, BAND_CASES), (4, BAND_CASES[-1:])):
            upsample_op._BWD_ROWS, upsample_op._BWD_PROGRAMS = rows, 1
            assert upsample_op._bwd_rows(3, 1) == min(rows, 2)
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
