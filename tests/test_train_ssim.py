"""MS-SSIM with each scale's term by Triton kernels (``mvhinerv.train.ssim_op``) against the
float64 PyTorch form: value and ∂x, with and without a mask, window 3, 5 and 11, a strided
prediction and odd sizes.

On a CPU the kernels run in Triton's interpreter (``TRITON_INTERPRET=1``, a subprocess, as in
test_model_dwconv_ln.py); on a GPU compiled (marker ``gpu``)."""

from __future__ import annotations


import pytest
import torch
from interpreter_support import assert_cases_within, interpreter_report

#: Relative to the reference's largest magnitude. The PyTorch form in float32 is off by up to
#: 5e-7 (value) and 6.5e-5 (∂x, from the cancellation in E[x²] − μ²) on these cases.
LIMITS = {"value": 2e-6, "dx": 1.5e-4}


def test_fused_ms_ssim_matches_float64_in_triton_interpreter():
    report = interpreter_report("ssim_support.py")
    assert len(report) >= 4
    assert_cases_within(report, LIMITS)


def test_fused_term_refuses_bad_shapes_and_a_target_gradient():
    pytest.importorskip("triton", reason="Triton is a test dependency (pyproject [test])")
    from mvhinerv.train.ssim_op import ssim_term_fused

    kernel = torch.ones(5) / 5
    with pytest.raises(ValueError, match="holds no 5×5 window"):
        ssim_term_fused(torch.zeros(1, 3, 4, 9), torch.zeros(1, 3, 4, 9), None, kernel, 1e-4, 9e-4, False)
    with pytest.raises(ValueError, match="valid"):
        ssim_term_fused(torch.zeros(1, 3, 8, 9), torch.zeros(1, 3, 8, 9), torch.ones(1, 1, 8, 9), kernel,
                        1e-4, 9e-4, False)
    with pytest.raises(ValueError, match="target"):
        ssim_term_fused(torch.zeros(1, 3, 8, 9), torch.zeros(1, 3, 8, 9, requires_grad=True), None, kernel,
                        1e-4, 9e-4, False)


@pytest.mark.gpu
def test_fused_ms_ssim_matches_float64_on_gpu():
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    from ssim_support import CASES, case_errors

    assert_cases_within({str(c): case_errors(*c, "cuda") for c in CASES}, LIMITS)
    # Fake kernels, schema and autograd registration agree with the real op; no-grad calls work.
    from mvhinerv.train.losses import ms_ssim

    # A prediction near its target: with unrelated images the scales' means sit near MS-SSIM's
    # clamp (1e-4), where log amplifies float32 rounding.
    x = torch.rand(2, 4, 90, 100, device="cuda")
    y = (x[:, :3] + 0.05 * torch.randn(2, 3, 90, 100, device="cuda")).clamp(0, 1)
    eager_x = x.clone().requires_grad_()
    compiled_x = x.clone().requires_grad_()
    eager = ms_ssim(eager_x[:, :3], y, fused=True)
    # fused=None: choosing the kernels on a GPU must not break the graph (fullgraph).
    compiled = torch.compile(lambda v: ms_ssim(v[:, :3], y), fullgraph=True)(compiled_x)
    eager.sum().backward()
    compiled.sum().backward()
    torch.testing.assert_close(compiled, eager, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(compiled_x.grad, eager_x.grad, rtol=1e-4, atol=1e-6)
    with torch.no_grad():
        torch.testing.assert_close(ms_ssim(x[:, :3], y, fused=True), eager.detach())
