#!/usr/bin/env python
"""Benchmark the MV-HiNeRV network: inference and training-step throughput.

For every (preset, size, eager|compiled, fp32|bf16) it times

* ``forward``: inference in frame mode (``torch.no_grad``), the decoder's work;
* ``train``: forward + backward of a mean-square loss (no optimiser step), in frame mode or,
  with ``--patch``, on a batch of overlapped patches (the encoder's work),

and reports megapixels/s, frames/s and achieved TFLOP/s computed from the analytic MACs
(2 FLOP per MAC; ×3 for forward + backward; patch overlap not counted as useful work).
On CUDA it synchronises around the timed region and uses bf16 autocast for ``bf16``.

Examples::

    python tools/bench_model.py --device cuda --out bench_model.json          # S, M at 1080p, 270p
    python tools/bench_model.py --device cpu --presets tiny --sizes 128x72 --out cpu.json
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch

from _bench_common import bench_device, device_name, sync, write_report  # first: puts the repo on sys.path
from mvhinerv.arch import arch_from_preset, count_parameters, macs_per_pixel
from mvhinerv.model import MVHiNeRV, patch_origins, patch_plan


def _autocast(device: torch.device, dtype: str) -> contextlib.AbstractContextManager[Any]:
    if dtype == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _time(fn, device: torch.device, warmup: int, iters: int, min_seconds: float) -> float:
    """Seconds per call: ``warmup`` untimed calls, then at least ``iters`` calls and
    ``min_seconds`` of timed work."""
    for _ in range(warmup):
        fn()
    sync(device)
    calls, start = 0, time.perf_counter()
    while calls < iters or time.perf_counter() - start < min_seconds:
        fn()
        calls += 1
    sync(device)
    return (time.perf_counter() - start) / calls


def _parse_size(text: str) -> tuple[int, int]:
    w, h = text.lower().split("x")
    return int(w), int(h)


def check_patch_equals_frame(model: MVHiNeRV, device: torch.device) -> float:
    """Max |patch-mode − frame-mode| (fp32, eager) over one frame tiled by 2P×2P patches."""
    arch = model.arch
    side = 2 * arch.total_scale
    origins = patch_origins(arch, (side, side))
    with torch.no_grad():
        full = model(torch.zeros(1, dtype=torch.long, device=device),
                     torch.ones(1, dtype=torch.long, device=device))[0]
        n = len(origins)
        y0 = torch.tensor([y for y, _ in origins], device=device)
        x0 = torch.tensor([x for _, x in origins], device=device)
        zeros = torch.zeros(n, dtype=torch.long, device=device)
        out = model(zeros, zeros + 1, y0, x0, (side, side))
    worst = 0.0
    for b, (y, x) in enumerate(origins):
        hh, ww = min(side, arch.height - y), min(side, arch.width - x)
        diff = (out[b, :, :hh, :ww] - full[:, y:y + hh, x:x + ww]).abs().max().item()
        worst = max(worst, diff)
    return worst


def bench_one(preset: str, size: tuple[int, int], compiled: bool, dtype: str, args: argparse.Namespace,
              device: torch.device) -> dict[str, Any]:
    width, height = size
    arch = arch_from_preset(preset, width, height, frames=args.frames, views=args.views)
    model = MVHiNeRV(arch, dwconv=args.dwconv).to(device)
    run = torch.compile(model, fullgraph=True, mode=args.compile_mode) if compiled else model
    frame_px = width * height
    batch = args.batch or max(1, round(args.batch_pixels / frame_px))
    gen = torch.Generator().manual_seed(0)
    views = torch.randint(0, arch.views, (batch,), generator=gen).to(device)
    frames = torch.randint(0, arch.frames, (batch,), generator=gen).to(device)
    macs = macs_per_pixel(arch)["total"]
    result: dict[str, Any] = {
        "preset": preset, "width": width, "height": height, "compiled": compiled, "dtype": dtype,
        "dwconv": args.dwconv, "frames_per_batch": batch,
        "parameters": count_parameters(arch)["total"], "macs_per_pixel": macs,
    }

    if args.check:
        result["check_patch_vs_frame_max_abs"] = check_patch_equals_frame(model, device)

    def forward() -> None:
        with torch.no_grad(), _autocast(device, dtype):
            run(views, frames)

    try:
        sec = _time(forward, device, args.warmup, args.iters, args.min_seconds)
        px = batch * frame_px / sec
        result["forward"] = {
            "seconds_per_batch": sec, "frames_per_s": batch / sec, "megapixels_per_s": px / 1e6,
            "tflops": px * macs * 2 / 1e12,
        }
    except torch.OutOfMemoryError as err:  # record and go on with the next configuration
        result["forward"] = {"error": f"out of memory: {err}".splitlines()[0]}

    if args.patch:
        ph, pw = _parse_size(args.patch)[::-1]
        p = arch.total_scale
        ph, pw = max(p, ph // p * p), max(p, pw // p * p)
        n = max(1, round(batch * frame_px / (ph * pw)))
        ys = torch.randint(0, math.ceil(height / ph), (n,), generator=gen) * ph
        xs = torch.randint(0, math.ceil(width / pw), (n,), generator=gen) * pw
        t_views = torch.randint(0, arch.views, (n,), generator=gen).to(device)
        t_frames = torch.randint(0, arch.frames, (n,), generator=gen).to(device)
        t_args = (t_views, t_frames, ys.to(device), xs.to(device), (ph, pw))
        useful_px = n * ph * pw
        result["train_patch"] = [ph, pw]
        result["train_patches_per_batch"] = n
        result["patch_overhead"] = patch_plan(arch, (ph, pw)).overhead(arch)
    else:
        t_args = (views, frames)
        useful_px = batch * frame_px

    def train() -> None:
        with _autocast(device, dtype):
            out = run(*t_args)
            loss = out.float().square().mean()
        loss.backward()

    try:
        sec = _time(train, device, args.warmup, args.iters, args.min_seconds)
        px = useful_px / sec
        result["train"] = {
            "seconds_per_batch": sec, "frames_per_s": px / frame_px, "megapixels_per_s": px / 1e6,
            "tflops": px * macs * 2 * 3 / 1e12,
        }
    except torch.OutOfMemoryError as err:
        result["train"] = {"error": f"out of memory: {err}".splitlines()[0]}
    if device.type == "cuda":
        result["max_memory_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
        torch.cuda.reset_peak_memory_stats(device)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    parser.add_argument("--presets", default="S,M")
    parser.add_argument("--sizes", default="1920x1080,480x270")
    parser.add_argument("--modes", default="eager,compiled")
    parser.add_argument("--dtypes", default="fp32,bf16")
    parser.add_argument("--frames", type=int, default=65, help="frames per view (grid sizes)")
    parser.add_argument("--views", type=int, default=1)
    parser.add_argument("--batch", type=int, default=0, help="frames per batch (0: auto)")
    parser.add_argument("--batch-pixels", type=float, default=1920 * 1080,
                        help="auto batch: about this many pixels per batch")
    parser.add_argument("--patch", default=None, help="train on WxH patches (default: frames)")
    parser.add_argument("--dwconv", default="conv", choices=["conv", "shift", "fused"])
    parser.add_argument("--compile-mode", default=None, help="torch.compile mode")
    parser.add_argument("--check", action="store_true",
                        help="also check patch mode == frame mode on the device (fp32)")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch default)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--min-seconds", type=float, default=2.0)
    args = parser.parse_args(argv)

    device = bench_device(args.device, args.threads, tf32=True)
    results = []
    for preset in args.presets.split(","):
        for size in args.sizes.split(","):
            for mode in args.modes.split(","):
                for dtype in args.dtypes.split(","):
                    r = bench_one(preset, _parse_size(size), mode == "compiled", dtype, args, device)
                    results.append(r)
                    fwd, trn = r["forward"], r["train"]
                    print(f"{preset:>4} {size:>10} {mode:>8} {dtype:>4}  "
                          + (f"fwd {fwd['megapixels_per_s']:9.2f} Mpx/s {fwd['frames_per_s']:8.2f} f/s "
                             f"{fwd['tflops']:7.2f} TFLOP/s" if "error" not in fwd else fwd["error"])
                          + "  |  "
                          + (f"train {trn['megapixels_per_s']:9.2f} Mpx/s {trn['tflops']:7.2f} TFLOP/s"
                             if "error" not in trn else trn["error"]), flush=True)
    report = {
        "tool": "bench_model",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": " ".join(["python", "tools/bench_model.py", *(argv or sys.argv[1:])]),
        "device": device_name(device),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "results": results,
    }
    if args.out:
        write_report(args.out, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
