"""GELU as Triton kernels (``mvhinerv.model.gelu_op``, the blocks' activation on the fused path)
against float64: the activation and its gradient; and GELU with the linear after it
(``mvhinerv.model.gelu_linear``, whose backward forms ∂h in one kernel): y, ∂h and ∂w.

On a CPU the kernels run in Triton's interpreter (a subprocess, as test_model_dwconv_ln.py) in
float32, where the erf approximation (|error| ≤ 1.5e-7) must stay at float32's level; on a GPU
(marker ``gpu``) compiled, also in bf16 on the map sizes of S at 1080p, and inside a compiled
graph against eager. The op inside the blocks and the network is covered by
test_model_dwconv_ln.py's block and model checks (the fused path uses it)."""

from __future__ import annotations

import pytest
import torch
from interpreter_support import assert_cases_within, eager_and_compiled, interpreter_report

F32 = {"a": 3e-7, "dh": 5e-7}
#: bf16 output: bf16's relative rounding 2⁻⁹ of the largest value.
BF16 = {"a": 4e-3, "dh": 4e-3}
#: gelu_linear: float32 products of up to 1120 terms (the reference's largest value as the
#: scale); bf16 storage of h, w, GELU(h), y and the gradients.
LINEAR_F32 = 2e-6
LINEAR_BF16 = 1e-2


def test_gelu_matches_float64_in_triton_interpreter():
    report = interpreter_report("gelu_support.py")
    assert report.pop("opcheck") == "ok"
    linear = {case: report.pop(case) for case in list(report) if case.startswith("linear")}
    assert len(report) >= 4 and len(linear) >= 7
    assert_cases_within(report, F32)
    assert_cases_within(linear, LINEAR_F32)


@pytest.mark.gpu
def test_gelu_matches_float64_on_gpu():
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    from gelu_support import CPU_SHAPES, GPU_SHAPES, LINEAR_CPU, LINEAR_GPU, linear_errors, shape_errors

    from mvhinerv.model.gelu_linear import gelu_linear
    from mvhinerv.model.gelu_op import gelu

    assert_cases_within({str(s): shape_errors(s, "cuda") for s in CPU_SHAPES}, F32)
    assert_cases_within({str(s): shape_errors(s, "cuda", torch.bfloat16) for s in GPU_SHAPES}, BF16)
    # Compiled (opaque inside an Inductor graph, fullgraph) against eager, under autocast.
    x = torch.randn(2, 30, 40, 72, device="cuda")
    w = (torch.randn(280, 72, device="cuda") / 9).requires_grad_()

    def fn(v):
        with torch.autocast("cuda", dtype=torch.bfloat16):
            return gelu(torch.nn.functional.linear(v, w)).sum(-1)

    for a, b in zip(*eager_and_compiled(fn, x, (w,)), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-2, atol=1e-3)

    assert_cases_within({str(s): linear_errors(*s, "cuda") for s in LINEAR_CPU}, LINEAR_F32)
    assert_cases_within({str(s): linear_errors(*s, "cuda", torch.bfloat16) for s in LINEAR_CPU + LINEAR_GPU},
                        LINEAR_BF16)
    w2 = (torch.randn(72, 280, device="cuda") / 17).requires_grad_()

    def block(v):  # fc1, GELU and fc2 as the fused blocks run them
        with torch.autocast("cuda", dtype=torch.bfloat16):
            return gelu_linear(torch.nn.functional.linear(v, w), w2)

    for a, b in zip(*eager_and_compiled(block, x, (w, w2)), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-2, atol=1e-3)
