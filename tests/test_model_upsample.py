"""The upsampler's Triton kernels (LayerNorm + stencil, ``mvhinerv.model.upsample_op``) against
the float64 PyTorch path: output, ∂x and ∂tile, at frame edges and inside, for s = 1, 2, 3, 5,
cut rows in and out, a mean far from zero; a bf16 output equal to the float32 one rounded.

On a CPU the kernels run in Triton's interpreter (``TRITON_INTERPRET=1``, a subprocess, as in
test_model_dwconv_ln.py); on a GPU compiled (marker ``gpu``)."""

from __future__ import annotations


import pytest
import torch
from interpreter_support import assert_cases_within, interpreter_report

#: Relative to the reference's largest magnitude: float32 rounding of a few terms; with x, ∂U
#: and the results in bf16 (stages 1–3 under autocast), a few bf16 roundings (2⁻⁸ each).
LIMIT = 1e-6
BF16_LIMIT = 2e-2


def test_stencil_matches_float64_reference_in_triton_interpreter():
    report = interpreter_report("upsample_support.py")
    assert len(report) >= 18 and sum("bf16 out" in case for case in report) == 2
    assert sum("width" in case and "pad" in errors for case, errors in report.items()) == 2
    assert sum("x_width" in case and {"dx pad cut", "dx pad row"} <= set(errors) for case, errors in report.items()) == 2
    _assert_report(report)


def _assert_report(report: dict[str, dict[str, float]]) -> None:
    bf16 = {case: errors for case, errors in report.items() if case.endswith("bf16 x")}
    assert len(bf16) == 2
    assert_cases_within({case: e for case, e in report.items() if case not in bf16}, LIMIT)
    assert_cases_within(bf16, BF16_LIMIT)


def test_shape_errors_name_the_argument():
    pytest.importorskip("triton", reason="Triton is a test dependency (pyproject [test])")
    from mvhinerv.model.upsample_op import upsample_ln_fused

    x = torch.zeros(1, 2, 3, 3)
    with pytest.raises(ValueError, match="col_factor"):
        upsample_ln_fused(x, torch.zeros(1, 2, 2, 3), torch.ones(1, 4), torch.ones(1, 5), 2, 1e-6)
    with pytest.raises(ValueError, match="≤ width 2"):
        upsample_ln_fused(x, torch.zeros(1, 2, 2, 3), torch.ones(1, 4), torch.ones(1, 6), 2, 1e-6, width=2)
    with pytest.raises(ValueError, match="channels 4 must be ≤ x's 3"):
        upsample_ln_fused(x, torch.zeros(1, 2, 2, 4), torch.ones(1, 4), torch.ones(1, 6), 2, 1e-6, channels=4)


@pytest.mark.gpu
def test_stencil_matches_float64_reference_on_gpu():
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    from upsample_support import all_case_errors

    _assert_report(all_case_errors("cuda"))
    # Fake kernels, schema and autograd registration agree with the real op.
    from mvhinerv.model import upsample_op
    from mvhinerv.model.upsample import edge_factor

    x = torch.randn(2, 3, 4, 7, device="cuda", requires_grad=True)
    tile = torch.randn(2, 3, 3, 7, device="cuda", requires_grad=True)
    rf = edge_factor(torch.arange(9, device="cuda").repeat(2, 1), 3, 3)
    cf = edge_factor(torch.arange(12, device="cuda").repeat(2, 1), 3, 4)
    torch.library.opcheck(upsample_op._upsample_op, (x, tile, rf, cf, 3, 1e-6, torch.float32, 7, 7))
    torch.library.opcheck(upsample_op._upsample_op, (x, tile, rf, cf, 3, 1e-6, torch.bfloat16, 8, 7))  # a cut wider row
    row = torch.randn(2, 3, 4, 8, device="cuda", requires_grad=True)  # a whole aligned row, 7 channels of it
    torch.library.opcheck(upsample_op._upsample_op, (row, tile, rf, cf, 3, 1e-6, torch.float32, 8, 7))
    # Under autocast both paths return the LayerNorm's float32 (stage 0's residual stream).
    from mvhinerv.model.upsample import upsample

    with torch.autocast("cuda", dtype=torch.bfloat16):
        for fused in (False, True):
            assert upsample(x.bfloat16(), 3, tile, rf, cf, fused=fused).dtype == torch.float32


def test_backward_rows_per_program_keep_enough_programs():
    """Bands of rows where the map is large, one row where it is small (S at 1080p: the four
    stages' windows and column tiles)."""
    from mvhinerv.model import upsample_op

    got = [upsample_op._bwd_rows(n, tiles) for n, tiles in ((18, 32), (90, 160), (270, 240), (540, 240))]
    assert got == [1, 4, 16, 32]
    for n in range(1, 80):
        for tiles in (1, 7, 300):
            rows = upsample_op._bwd_rows(n, tiles)
            assert rows & (rows - 1) == 0 and 1 <= rows <= max(1, min(n, upsample_op._BWD_ROWS))
            assert rows == 1 or (n // rows) * tiles >= upsample_op._BWD_PROGRAMS
