"""Deterministic column sums (``mvhinerv.model.colsum``: the fused layers' ∂w and ∂tile shares
summed by a Triton kernel) against float64, and the rule that picks the rows per program.

On a CPU the kernel runs in Triton's interpreter (a subprocess, as test_model_gelu.py); on a GPU
(marker ``gpu``) compiled, also on the share tensors of S at 1080p. Their use inside the fused
layers is covered by test_model_dwconv_ln.py and test_model_upsample.py (∂w and ∂tile)."""

from __future__ import annotations

import pytest
import torch
from interpreter_support import assert_cases_within, interpreter_report

from mvhinerv.model import colsum

#: Relative to Σ|x| of a column: float32 sums of up to 300 000 terms in blocks.
LIMITS = {"sum": 2e-6, "repeat": 0.0}


def test_column_sums_match_float64_in_triton_interpreter():
    report = interpreter_report("colsum_support.py")
    assert len(report) >= 6
    assert_cases_within(report, LIMITS)


@pytest.mark.gpu
def test_column_sums_match_float64_on_gpu():
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    from colsum_support import GPU_SHAPES, shape_errors

    assert_cases_within({str(s): shape_errors(s, "cuda") for s in GPU_SHAPES}, LIMITS)


@pytest.mark.parametrize("b, p, n", [(1, 16320, 576), (1, 2040, 54), (4, 4097, 280), (1, 300000, 9)])
def test_passes_fill_the_gpu_and_end_in_one_split(b, p, n):
    """The first pass of a large sum has about _PROGRAMS programs, unless its rows are at a
    bound (_BR for few columns, _MAX_ROWS for very many rows); at most four passes, the last
    with one split."""
    passes = []
    while True:
        rows = colsum._rows_per_split(b, p, n)
        splits = colsum.cdiv(p, rows)
        passes.append((rows, splits))
        if splits == 1:
            break
        p = splits
    assert len(passes) <= 4, passes
    first_rows, first_splits = passes[0]
    programs = first_splits * colsum.cdiv(n, colsum._BN) * b
    assert programs >= colsum._PROGRAMS // 2 or first_rows in (colsum._BR, colsum._MAX_ROWS), passes
    assert all(r & (r - 1) == 0 and colsum._BR <= r <= colsum._MAX_ROWS for r, _ in passes), passes


def test_small_sums_take_one_pass():
    assert colsum.cdiv(colsum._ONE_SPLIT, colsum._rows_per_split(1, colsum._ONE_SPLIT, 9)) == 1
    assert colsum._rows_per_split(1, 3, 9) == colsum._BR
