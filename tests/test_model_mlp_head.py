"""The last block's fc1 + GELU and the head as one Triton kernel per direction
(``mvhinerv.model.mlp_head_op``, ``Head.mlp_head`` on the fused path) against float64: the
output and the gradients of y, W1, W2 and b.

On a CPU the kernels run in Triton's interpreter (a subprocess, as test_model_gelu.py) in float32
with IEEE products; on a GPU (marker ``gpu``) compiled, also in bf16 on the last stage of S at
1080p, and inside a compiled graph against eager. The op inside the network is covered by
test_model_dwconv_ln.py's ``model_odd`` check (a last block without a residual on the fused
path against the unfused network)."""

from __future__ import annotations

import pytest
import torch
from interpreter_support import assert_cases_within, eager_and_compiled, interpreter_report

F32 = 2e-6
#: bf16 y and products: bf16's relative rounding 2⁻⁹ of h and of GELU(h), summed over K ≤ 72 terms.
BF16 = {"o": 1e-2, "dy": 2e-2, "dw1": 2e-2, "dw2": 2e-2, "db": 2e-2}


def test_mlp_head_matches_float64_in_triton_interpreter():
    report = interpreter_report("mlp_head_support.py")
    assert report.pop("opcheck") == "ok"
    assert len(report) == 6
    assert_cases_within(report, F32)


def test_mlp_head_refuses_mismatched_or_too_wide_weights():
    from mvhinerv.model.mlp_head_op import mlp_head

    y = torch.zeros(2, 3, 40)
    with pytest.raises(ValueError, match="w1 \\[H, K\\]"):
        mlp_head(y, torch.zeros(35, 39), torch.zeros(4, 35), torch.zeros(4))
    with pytest.raises(ValueError, match="at most 128"):
        mlp_head(torch.zeros(2, 3, 130), torch.zeros(35, 130), torch.zeros(4, 35), torch.zeros(4))


@pytest.mark.gpu
def test_mlp_head_matches_float64_on_gpu():
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    from mlp_head_support import CPU_CASES, GPU_CASES, case_errors

    from mvhinerv.model.mlp_head_op import mlp_head

    assert_cases_within({str(c): case_errors(c, "cuda") for c in CPU_CASES}, F32)
    assert_cases_within({str(c): case_errors(c, "cuda", torch.bfloat16) for c in GPU_CASES}, BF16)
    # Compiled (opaque inside an Inductor graph, fullgraph) against eager, under autocast.
    y = torch.randn(2, 30, 40, 40, device="cuda")
    w1 = (torch.randn(35, 40, device="cuda") / 6).requires_grad_()
    w2 = (torch.randn(4, 35, device="cuda") / 6).requires_grad_()
    b = torch.zeros(4, device="cuda", requires_grad=True)

    def fn(v):
        with torch.autocast("cuda", dtype=torch.bfloat16):
            return mlp_head(v.to(torch.bfloat16), w1, w2, b)

    for a, r in zip(*eager_and_compiled(fn, y, (w1, w2, b)), strict=True):
        torch.testing.assert_close(a, r, rtol=1e-2, atol=1e-4)
