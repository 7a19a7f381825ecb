"""Smoke tests of the benchmark tools whose numbers docs/performance.md quotes: they run on a CPU
at toy sizes and write the report fields the docs rely on (timings are never asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))

from _bench_common import format_timeline, kernel_category, trace_kernels  # noqa: E402
from interpreter_support import interpreted  # noqa: E402


def test_bench_train_runs_on_cpu_and_reports(tmp_path):
    out = tmp_path / "train.json"
    proc = subprocess.run([sys.executable, str(REPO / "tools" / "bench_train.py"), "--device", "cpu",
                           "--presets", "tiny", "--sizes", "tiny", "--steps", "2", "--warmup", "1",
                           "--threads", "1", "--quant", "noise", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (result,) = json.loads(out.read_text())["results"]
    assert result["dwconv"] == "conv" and result["quant"] == "noise"
    assert result["pixel_iterations_per_s"] > 0 and result["useful_tflops"] > 0
    assert result["skipped_steps"] == 0


def test_bench_mlp_align_runs_on_cpu_and_reports(tmp_path):
    out = tmp_path / "mlp.json"
    proc = subprocess.run([sys.executable, str(REPO / "tools" / "bench_mlp_align.py"), "--device", "cpu",
                           "--preset", "tiny", "--size", "70x45", "--repeats", "1", "--no-compile", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["real_ms"] > 0 and report["aligned_ms"] > 0
    assert all(w % 8 == 0 for b in report["blocks"] for w in b["aligned_widths"])
    assert len(report["blocks"]) == 4  # tiny: depths 1, 1, 1, 1


def test_trace_kernels_lists_kernels_in_launch_order_with_grids():
    trace = {"traceEvents": [
        {"cat": "cpu_op", "name": "aten::mm", "ts": 5.0, "dur": 9.0},
        {"cat": "kernel", "name": "bwd_z_kernel", "ts": 130.0, "dur": 7.5,
         "args": {"grid": [540, 60, 1], "block": [128, 1, 1]}},
        {"cat": "kernel", "name": "fwd_kernel", "ts": 100.0, "dur": 20.0,
         "args": {"grid": [1080, 120, 1], "block": [128, 1, 1]}},
    ]}
    rows = trace_kernels(trace)
    assert [r["name"] for r in rows] == ["fwd_kernel", "bwd_z_kernel"]
    assert rows[0]["start_us"] == 0.0 and rows[1]["start_us"] == 30.0
    assert rows[1]["grid"] == [540, 60, 1] and rows[1]["us"] == 7.5
    text = format_timeline(rows)
    assert "[1080, 120, 1]" in text and text.splitlines()[-1] == "# 2 kernels, 28 us busy in a span of 38 us"
    assert trace_kernels({"traceEvents": []}) == []


def test_bench_train_timeline_needs_cuda(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "tools" / "bench_train.py"), "--device", "cpu",
                           "--presets", "tiny", "--sizes", "tiny", "--timeline", str(tmp_path / "t.txt")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "--timeline needs a CUDA device" in proc.stderr
    assert not list(tmp_path.iterdir())


def _kernel_tool_cases(tool: str, args: list[str], out: Path) -> list[dict]:
    """A kernel benchmark refuses a CPU without the interpreter (exit 2, no report), then runs in
    it; the report's cases."""
    cmd = [str(REPO / "tools" / tool), "--device", "cpu", "--no-compile", "--repeats", "1", "--warmup", "0", *args,
           "--out", str(out)]
    refused = interpreted(cmd, interpret=False)
    assert refused.returncode == 2 and "cannot run on cpu" in refused.stderr and not out.exists()
    proc = interpreted(cmd)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(out.read_text())["results"]


def test_bench_upsample_runs_in_triton_interpreter_and_reports(tmp_path):
    cases = _kernel_tool_cases("bench_upsample.py", ["--preset", "tiny", "--size", "32x18"], tmp_path / "up.json")
    assert [c["case"] for c in cases] == ["pytorch", "triton"]
    assert all(len(c["stages"]) == 4 and c["forward_ms"] > 0 and c["train_ms"] > 0 for c in cases)


def test_bench_loss_runs_in_triton_interpreter_and_reports(tmp_path):
    cases = _kernel_tool_cases("bench_loss.py", ["--size", "40x24"], tmp_path / "loss.json")
    assert [c["case"] for c in cases] == ["pytorch", "triton"]
    assert all(c["forward_ms"] > 0 and c["train_ms"] > 0 for c in cases)


def test_bench_gelu_runs_in_triton_interpreter_and_reports(tmp_path):
    args = ["--preset", "tiny", "--size", "32x18"]
    cases = _kernel_tool_cases("bench_gelu.py", args, tmp_path / "gelu.json")
    assert [c["case"] for c in cases] == ["pytorch", "triton", "fused"]
    assert all(len(c["blocks"]) >= 4 and c["forward_ms"] > 0 and c["train_ms"] > 0 for c in cases)
    maps = _kernel_tool_cases("bench_gelu.py", [*args, "--alone"], tmp_path / "alone.json")
    assert len(maps) == len(cases[0]["blocks"])
    assert all(m["copy_ms"] > 0 and m["triton_backward_ms"] > 0 and m["pytorch_forward_ms"] > 0
               and m["fused_backward_ms"] > 0 and m["product_then_backward_ms"] > 0 for m in maps)


def test_bench_colsum_runs_in_triton_interpreter_and_reports(tmp_path):
    cases = _kernel_tool_cases("bench_colsum.py", ["--preset", "tiny", "--size", "32x18"], tmp_path / "colsum.json")
    assert [c["case"] for c in cases] == ["pytorch", "triton"]
    assert all(c["ms"] > 0 and c["gb_per_s"] > 0 for c in cases)
    shapes = json.loads((tmp_path / "colsum.json").read_text())["shapes"]
    assert len(shapes) >= 8 and all(len(s) == 3 for s in shapes)  # ∂w of every block, ∂tile of every stage


def test_kernel_categories():
    assert kernel_category("nvjet_sm90_tst_288x128_64x3_1x2_h_bz_coopA_NNN") == "gemm"
    assert kernel_category("void cutlass::Kernel2<cutlass_80_tensorop_bf16_s16816gemm>") == "gemm"
    assert kernel_category("triton_red_fused_native_layer_norm_0") == "triton"
    assert kernel_category("void cudnn::conv_depthwise2d_forward") == "conv"
    assert kernel_category("Memcpy HtoD (Pageable -> Device)") == "copy"
    assert kernel_category("_bwd_z_kernel") == "other"


def test_bench_rate_trains_a_sequence_and_reports_bits_by_kind(tmp_path):
    seq = tmp_path / "lin"
    make = subprocess.run([sys.executable, "-m", "mvhinerv", "content", "make", "linear13", "--scale", "tiny",
                           "-o", str(seq), "--device", "cpu", "-q"], capture_output=True, text=True, timeout=300)
    assert make.returncode == 0, make.stderr[-2000:]
    out = tmp_path / "rate.json"
    proc = subprocess.run([sys.executable, str(REPO / "tools" / "bench_rate.py"), "--sequence", str(seq / "seq.yaml"),
                           "--preset", "tiny", "--channels", "0", "--schedule", "smoke", "--batch", "5",
                           "--lam", "10", "--step-travel", "3", "--json", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["setup"]["size"] == "128x72" and report["setup"]["views"] == 3
    # smoke's stage 2 has 2 epochs × 3 steps: the travel floor (forced to 3 here) must raise the lr.
    assert report["stage2"]["steps"] == 6 and report["stage2"]["lr_step_peak"] > 5e-2
    assert set(report["kinds"]) == {"bias", "grid", "weight"}
    assert report["stage2"]["bits"] < report["stage2"]["bits_at_init"]
    assert report["file"]["file_bytes"] > 0 and "stage1" in report["timings"]
    assert report["stage1"]["skipped_steps"] == 0 and report["stage2"]["loss"] > 0


@pytest.mark.gpu
def test_bench_train_writes_a_kernel_timeline_on_gpu(tmp_path):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    proc = subprocess.run([sys.executable, str(REPO / "tools" / "bench_train.py"), "--device", "cuda",
                           "--presets", "tiny", "--sizes", "tiny", "--steps", "1", "--warmup", "1", "--no-compile",
                           "--timeline", str(tmp_path / "t.txt")], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = (tmp_path / "t_tiny_tiny.txt").read_text().splitlines()
    assert len(lines) > 10 and lines[-1].startswith("# ") and "kernels" in lines[-1]
