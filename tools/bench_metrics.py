"""Speed of the metrics on one 1080p 10-bit 4:2:0 frame: PSNR, WS-PSNR, IV-PSNR (plain, ERP, masked).

IV-PSNR must be cheap enough to run on every decoded and synthesised frame of a CTC sweep
(MISSION.md: "well under a second" per 1080p frame on 2 CPU cores). The content is natural-looking
(the Fencing picture of the conformance test, ``tests/data/ivpsnr``, scaled to 10 bits) with a
1-pixel shift plus noise as the test picture, so the window search
sees realistic distance distributions. Prints a table and writes JSON (seconds per frame, best of
``--repeats``; Mpixel/s; CUDA/CPU speed-up when both ran)::

    python tools/bench_metrics.py --device auto --out bench_metrics.json
"""

from __future__ import annotations

import argparse
import json
import lzma
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ctc.metrics import ErpRange, ivpsnr_frame, psnr_planes, ws_psnr_planes

W, H = 1920, 1080
FENCING = Path(__file__).resolve().parents[1] / "tests" / "data" / "ivpsnr" / \
    "Fencing_v8_original_1920x1080_yuv420p.yuv.xz"


def _content(seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    """Reference and test ``(Y, U, V)`` 10-bit planes and a half-active mask."""
    rng = np.random.default_rng(seed)
    raw = np.frombuffer(lzma.decompress(FENCING.read_bytes()), np.uint8)
    y = raw[: W * H].reshape(H, W).astype(np.int32) * 4
    u = raw[W * H: W * H * 5 // 4].reshape(H // 2, W // 2).astype(np.int32) * 4
    v = raw[W * H * 5 // 4:].reshape(H // 2, W // 2).astype(np.int32) * 4
    ref = [y, u, v]
    test = [np.clip(np.roll(p, 1, axis=1) + rng.integers(-6, 7, p.shape), 0, 1023) for p in ref]
    mask = np.zeros((H, W), np.uint16)
    mask[:, : W // 2] = 1023
    return [p.astype(np.uint16) for p in ref], [p.astype(np.uint16) for p in test], mask


def _timed(fn: Callable[[], object], device: str, repeats: int) -> tuple[float, float]:
    """Best wall time and best process CPU time (all threads) of ``repeats`` calls after a warm-up.

    CUDA is synchronised around each call. The CPU time is the robust figure on a shared machine:
    wall time grows with other processes' load, CPU time much less.
    """
    fn()
    best_wall = best_cpu = float("inf")
    for _ in range(repeats):
        if device == "cuda":
            torch.cuda.synchronize()
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        if device == "cuda":
            torch.cuda.synchronize()
        best_wall = min(best_wall, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    return best_wall, best_cpu


def bench(device: str, repeats: int) -> dict[str, dict[str, float]]:
    ref, test, mask = _content()
    erp = ErpRange()
    cases: dict[str, Callable[[], object]] = {
        "ivpsnr": lambda: ivpsnr_frame(ref, test, 10, device=device),
        "ivpsnr_erp": lambda: ivpsnr_frame(ref, test, 10, erp=erp, device=device),
        "ivpsnr_masked": lambda: ivpsnr_frame(ref, test, 10, mask=mask, device=device),
    }
    if device == "cpu":  # PSNR and WS-PSNR are numpy-only
        cases["psnr"] = lambda: psnr_planes(ref, test, 10)
        cases["wspsnr"] = lambda: ws_psnr_planes(ref, test, 10, erp)
    out = {}
    for name, fn in cases.items():
        seconds, cpu_seconds = _timed(fn, device, repeats)
        out[name] = {"seconds_per_frame": seconds, "cpu_seconds_per_frame": cpu_seconds,
                     "mpixel_per_s": W * H / seconds / 1e6}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args()
    devices = ["cpu"]
    if args.device in ("auto", "cuda") and torch.cuda.is_available():
        devices = ["cpu", "cuda"] if args.device == "auto" else ["cuda"]
    elif args.device == "cuda":
        parser.error("--device cuda: no CUDA device")
    report: dict[str, object] = {
        "content": f"{W}x{H} 10-bit 4:2:0, test = reference shifted 1 px + noise ±6"
                   + (" (Fencing)" if FENCING.is_file() else " (smooth random field)"),
        "cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
        "torch": torch.__version__, "numpy": np.__version__, "results": {},
        "date": time.strftime("%Y-%m-%d", time.gmtime()), "load_average_1min": os.getloadavg()[0],
    }
    for device in devices:
        report["results"][device] = bench(device, args.repeats)
        if device == "cuda":
            report["cuda_device"] = torch.cuda.get_device_name()
    if len(report["results"]) == 2:
        cpu, gpu = report["results"]["cpu"], report["results"]["cuda"]
        report["cuda_speedup"] = {k: cpu[k]["seconds_per_frame"] / gpu[k]["seconds_per_frame"] for k in gpu}
    for device, rows in report["results"].items():
        for name, row in rows.items():
            print(f"{device:5} {name:14} {row['seconds_per_frame'] * 1e3:9.1f} ms/frame (wall) "
                  f"{row['cpu_seconds_per_frame'] * 1e3:9.1f} ms/frame (CPU, all threads) "
                  f"{row['mpixel_per_s']:8.1f} Mpixel/s")
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
