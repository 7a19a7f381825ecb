"""What the benchmarks (``tools/bench_model.py``, ``bench_train.py``, ``bench_decode.py``,
``bench_content.py``) share: device choice, torch CPU threads, TF32, timing synchronisation, the
machine's name and the JSON report file.

One place for them because a benchmark number is only comparable with another taken under the
same settings: every tool resolves ``--device`` and ``--threads`` the same way and names the
machine the same way in its report (docs/performance.md quotes these reports).

Importing this module also puts the repository root on ``sys.path``, so that a tool run as
``python tools/bench_x.py`` (``sys.path[0]`` = ``tools/``) imports ``ctc``/``mvhinerv`` from the
checkout even without ``pip install -e``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from ctc.atomic import write_bytes_atomic  # noqa: E402


def bench_device(name: str, threads: int | None = None, tf32: bool = False) -> torch.device:
    """The device of ``--device`` (``auto``: CUDA when available, else CPU), set up for timing.

    Args:
        threads: torch CPU threads (0 or None: torch's default, usually one per core).
        tf32: allow TF32 for fp32 matmuls and convolutions on CUDA (Ampere and later). The
            network benchmarks use it so that their fp32 rows measure the tensor cores, as the
            bf16 rows do; it does not change anything on CPU.

    Raises:
        SystemExit: ``cuda`` asked for but torch sees no CUDA device (a one-line message, not a
            traceback from deep inside the first CUDA call).
    """
    if threads:
        torch.set_num_threads(threads)
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"{Path(sys.argv[0]).name}: --device cuda but torch sees no CUDA device")
    device = torch.device(name)
    if tf32 and device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    return device


def sync(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA runs asynchronously): call it on both sides of a
    timed region, or the clock measures only the kernel launches."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_ms(fn: Callable[[], object], repeats: int, warmup: int = 2, calls: int = 1) -> float:
    """Median time of ``fn()`` in ms, after ``warmup`` untimed calls (compilation, caches): CUDA
    events when CUDA is available, else the wall clock (for the layer benchmarks, which time one
    call at a time). ``calls`` > 1 times that many calls back to back per measure (and divides):
    a single call of a custom op is bound by its host work (Python, launches) up to a few
    hundred microseconds; queued calls measure the GPU."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        if not torch.cuda.is_available():
            t0 = time.perf_counter()
            for _ in range(calls):
                fn()
            times.append(1e3 * (time.perf_counter() - t0) / calls)
            continue
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(calls):
            fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / calls)
    return statistics.median(times)


def add_kernel_bench_args(ap: argparse.ArgumentParser, compiled: str) -> None:
    """The options of the benchmarks that time hand-written Triton kernels against the PyTorch
    form they replace (``bench_upsample.py``, ``bench_loss.py``): ``--device`` (default cuda),
    ``--compile`` (of the PyTorch form, described by ``compiled``), ``--repeats``, ``--warmup``,
    ``--out``."""
    ap.add_argument("--device", default="cuda", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--compile", action=argparse.BooleanOptionalAction, default=True,
                    help=f"compile {compiled} with torch.compile (Inductor), as in training")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=2,
                    help="untimed calls before the timed ones (0 for a smoke run in Triton's interpreter)")
    ap.add_argument("--out", default=None)


def kernel_bench_device(ap: argparse.ArgumentParser, name: str) -> torch.device:
    """:func:`bench_device` for such a benchmark; exits (status 2, one line) where the kernels
    cannot run: not a CUDA GPU, nor a CPU with ``TRITON_INTERPRET=1``."""
    from mvhinerv.model.dwconv_ln import fused_available

    device = bench_device(name)
    if not fused_available(device):
        ap.error(f"the Triton kernels cannot run on {device.type} (a CUDA GPU, or TRITON_INTERPRET=1 on a CPU)")
    return device


def device_name(device: torch.device) -> str:
    """The GPU's name on CUDA, else the CPU's (``platform.processor()``, or the machine type where
    the platform does not say, e.g. on many Linux distributions)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return platform.processor() or platform.machine()


def total_times(parts: list[Mapping[str, Any]]) -> dict[str, float]:
    """``forward_ms`` and ``train_ms`` (forward + backward) of a kernel benchmark's parts (stages,
    blocks) added up."""
    return {k: sum(p[k] for p in parts) for k in ("forward_ms", "train_ms")}


def print_case(name: str, times: Mapping[str, float], detail: str = "", width: int = 10) -> None:
    """One line of a kernel benchmark: the case, its forward and forward + backward times, and
    ``detail`` in parentheses."""
    print(f"{name:{width}s} forward {times['forward_ms']:7.3f} ms  forward+backward {times['train_ms']:7.3f} ms"
          + (f"  ({detail})" if detail else ""), flush=True)


def report_header(tool: str, argv: list[str] | None, device: torch.device) -> dict[str, Any]:
    """The fields every report starts with: the tool, its arguments (``argv``, or the command
    line's), the UTC date, the device's name and torch's version."""
    return {"tool": tool, "argv": sys.argv[1:] if argv is None else argv,
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "device": device_name(device),
            "torch": torch.__version__}


def write_report(path: Path, report: Mapping[str, Any]) -> None:
    """Write a benchmark's JSON report atomically (no half-written file if the run is killed)."""
    write_bytes_atomic(path, (json.dumps(report, indent=2) + "\n").encode("utf-8"))


def kernel_category(name: str) -> str:
    """Coarse class of a CUDA kernel's name: ``gemm`` (cuBLAS/CUTLASS/nvJet matmuls), ``conv``
    (cuDNN), ``triton`` (Inductor-generated fused kernels), ``copy`` (memcpy/memset) or ``other``
    (PyTorch's own element-wise and reduction kernels, and hand-written Triton kernels such as
    ``mvhinerv.model.dwconv_ln``'s, which the profile lists by their own names)."""
    low = name.lower()
    if any(k in low for k in ("gemm", "nvjet", "cutlass", "xmma", "cublas", "splitk")):
        return "gemm"
    if "conv" in low or "cudnn" in low:
        return "conv"
    if low.startswith("triton"):
        return "triton"
    if "memcpy" in low or "memset" in low:
        return "copy"
    return "other"


def kernel_profile(run: Callable[[], object], device: torch.device, steps: int, top: int = 30) -> dict:
    """GPU kernel time of ``steps`` calls of ``run`` under ``torch.profiler``, per step.

    Returns ``{"wall_ms", "kernel_ms", "busy", "by_category", "top"}`` (milliseconds per step):
    ``busy`` = kernel time / wall time, well below 1 when the step is bound by launches or the
    host; ``top`` lists the ``top`` kernels by total time with their share and launch count.
    """
    from torch.profiler import ProfilerActivity, profile

    sync(device)
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        t0 = time.perf_counter()
        for _ in range(steps):
            run()
        sync(device)
        wall = time.perf_counter() - t0
    totals: dict[str, list[float]] = {}
    for evt in prof.events():
        if evt.device_type != torch.autograd.DeviceType.CUDA:
            continue
        us = getattr(evt, "device_time", None)
        if us is None:
            us = evt.cuda_time
        row = totals.setdefault(evt.name, [0.0, 0])
        row[0] += us / 1000.0 / steps
        row[1] += 1
    kernel_ms = sum(t for t, _ in totals.values())
    by_cat: dict[str, float] = {}
    for name, (ms, _) in totals.items():
        by_cat[kernel_category(name)] = by_cat.get(kernel_category(name), 0.0) + ms
    ranked = sorted(totals.items(), key=lambda kv: -kv[1][0])[:top]
    return {
        "wall_ms": 1000.0 * wall / steps, "kernel_ms": kernel_ms,
        "busy": kernel_ms / (1000.0 * wall / steps),
        "by_category": {k: round(v, 4) for k, v in sorted(by_cat.items(), key=lambda kv: -kv[1])},
        "top": [{"name": name[:160], "ms": round(ms, 4), "share": round(ms / kernel_ms, 4),
                 "launches_per_step": n / steps} for name, (ms, n) in ranked],
    }


def print_kernel_profile(prof: Mapping[str, Any]) -> None:
    """Print :func:`kernel_profile`'s result as a short table."""
    print(f"  per step: wall {prof['wall_ms']:.2f} ms, kernels {prof['kernel_ms']:.2f} ms "
          f"(busy {100 * prof['busy']:.0f} %); " +
          ", ".join(f"{k} {v:.2f} ms" for k, v in prof["by_category"].items()))
    for row in prof["top"]:
        print(f"  {row['ms']:8.3f} ms {100 * row['share']:5.1f} % x{row['launches_per_step']:<5g} {row['name'][:110]}")


def trace_kernels(trace: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The GPU kernels of a ``torch.profiler`` Chrome trace (``export_chrome_trace``'s JSON), in
    launch order: ``{"name", "start_us" (from the first kernel), "us", "grid", "block"}``.

    Unlike :func:`kernel_profile`'s totals, the order and the grid tell which layer a kernel
    belongs to (the forward's stages run in order, the backward's in reverse, and a grid's size
    says how many pixels a kernel covers): docs/performance.md attributes the step's time to its
    stages this way."""
    events = sorted((e for e in trace.get("traceEvents", []) if e.get("cat") == "kernel"), key=lambda e: e["ts"])
    t0 = events[0]["ts"] if events else 0.0
    return [{"name": e["name"], "start_us": e["ts"] - t0, "us": e.get("dur", 0.0),
             "grid": e.get("args", {}).get("grid"), "block": e.get("args", {}).get("block")} for e in events]


def format_timeline(rows: list[dict[str, Any]]) -> str:
    """:func:`trace_kernels`' rows as a text table, one kernel per line, and a summary line."""
    lines = [f"{'#':>4} {'start us':>10} {'us':>8} {'grid':>16} {'block':>14}  kernel"]
    for i, r in enumerate(rows):
        lines.append(f"{i:4d} {r['start_us']:10.1f} {r['us']:8.1f} {str(r['grid']):>16} {str(r['block']):>14}  "
                     f"{r['name'][:120]}")
    busy = sum(r["us"] for r in rows)
    span = rows[-1]["start_us"] + rows[-1]["us"] if rows else 0.0
    lines.append(f"# {len(rows)} kernels, {busy:.0f} us busy in a span of {span:.0f} us")
    return "\n".join(lines) + "\n"


def kernel_timeline(run: Callable[[], object], device: torch.device) -> list[dict[str, Any]]:
    """:func:`trace_kernels` of one call of ``run`` on a CUDA device (host activity is recorded
    too, so the gaps between kernels are as the profiler sees them: somewhat longer than
    unprofiled)."""
    from torch.profiler import ProfilerActivity, profile

    sync(device)
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        run()
        sync(device)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trace.json"
        prof.export_chrome_trace(str(path))
        return trace_kernels(json.loads(path.read_text()))
