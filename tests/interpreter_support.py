"""Running a test's Triton kernels in Triton's interpreter, for the CPU tests.

Triton reads ``TRITON_INTERPRET`` when a kernel module is imported, so the kernels run in a fresh
Python with the flag set: a ``*_support.py`` script that prints its report as one JSON line
(tests/test_model_dwconv_ln.py, test_model_upsample.py, test_train_ssim.py), or a benchmark tool
(test_tools_bench.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def interpreted(args: list[str], interpret: bool = True) -> subprocess.CompletedProcess:
    """``python ARGS`` with ``TRITON_INTERPRET=1`` (or, ``interpret=False``, without the flag);
    skips the test where Triton is not installed."""
    pytest.importorskip("triton", reason="Triton is a test dependency (pyproject [test])")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    if interpret:
        env["TRITON_INTERPRET"] = "1"
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=600,
                          check=False)


def assert_cases_within(report: dict[str, dict[str, float]], limits: dict[str, float] | float) -> None:
    """Every case of a support script's report (case → {error name: value}) is within ``limits``:
    each named error at most its limit, or (one number) every error at most it. The message
    lists the cases that are not."""

    def ok(errors: dict[str, float]) -> bool:
        if isinstance(limits, dict):
            return all(errors[k] <= v for k, v in limits.items())
        return max(errors.values()) <= limits

    bad = {case: e for case, e in report.items() if not ok(e)}
    assert not bad, f"above {limits}: {bad}"


def interpreter_report(script: str) -> dict:
    """Run tests/``script`` in the interpreter; its last line of output, parsed as JSON."""
    proc = interpreted([str(HERE / script)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def eager_and_compiled(fn, x, params) -> list[tuple]:
    """For ``fn`` (of one tensor, using the leaf tensors ``params``) eager and under
    ``torch.compile(fullgraph=True)``: each run's (output as float32, ∂x, ∂params…) of the loss
    mean(output²). The GPU tests compare the two: a custom op must stay one opaque call with the
    same values inside an Inductor graph."""
    import torch

    results = []
    for f in (fn, torch.compile(fn, fullgraph=True)):
        v = x.clone().requires_grad_()
        out = f(v).float()
        out.square().mean().backward()
        results.append((out.detach(), v.grad, *(p.grad.clone() for p in params)))
        for p in params:
            p.grad = None
    return results
