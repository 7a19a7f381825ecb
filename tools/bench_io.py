"""Throughput of content I/O: raw YUV read/write, 4:2:0 ↔ RGB, depth samples ↔ metric depth.

These are the per-frame costs that every encode (texture_rgb of all views × frames), decode
(rgb_to_yuv420 + write) and synthesis run (samples_to_metric_depth) pays. Prints a table and
writes JSON (frames/s and MB/s per step; GPU/CPU ratios when both ran)::

    python tools/bench_io.py --device auto --size 1920x1080 --frames 16 --out bench_io.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ctc.color import metric_depth_to_samples, rgb_to_yuv420, samples_to_metric_depth, yuv420_to_rgb
from ctc.yuv import YuvReader, parse_pix_fmt, write_yuv


def _timed(fn: Callable[[], object], device: torch.device, repeats: int) -> float:
    """Best wall time of ``repeats`` calls (after one warm-up), synchronising CUDA around each."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        best = min(best, time.perf_counter() - t0)
    return best


def bench_device(device: torch.device, w: int, h: int, n: int, repeats: int, folder: Path) -> dict:
    """Per-step frames/s on one device (file I/O steps are host-side and only run on CPU)."""
    rng = np.random.default_rng(0)
    fmt = parse_pix_fmt("yuv420p10le")
    planes = tuple(rng.integers(64, 941, (n, *s)).astype(np.uint16) for s in fmt.plane_shapes(w, h))
    depth = rng.integers(0, 65536, (n, h, w)).astype(np.uint16)
    path = folder / f"bench_{w}x{h}_yuv420p10le.yuv"
    frame_mb = fmt.frame_bytes(w, h) / 1e6
    results: dict[str, dict[str, float]] = {}

    def record(name: str, seconds: float, mb_per_frame: float | None = None) -> None:
        entry = {"seconds": seconds, "frames_per_s": n / seconds}
        if mb_per_frame is not None:
            entry["mb_per_s"] = n * mb_per_frame / seconds
        results[name] = entry

    if device.type == "cpu":
        record("write_yuv", _timed(lambda: write_yuv(path, planes, fmt), device, repeats), frame_mb)
        reader = YuvReader(path, w, h, fmt)
        record("yuv_read", _timed(lambda: reader.read(0, n), device, repeats), frame_mb)

    y, u, v = (torch.from_numpy(p.astype(np.int32)).to(device) for p in planes)
    record("yuv420_to_rgb", _timed(lambda: yuv420_to_rgb(y, u, v, 10), device, repeats))
    rgb = yuv420_to_rgb(y, u, v, 10)
    record("rgb_to_yuv420", _timed(lambda: rgb_to_yuv420(rgb, 10), device, repeats))
    d = torch.from_numpy(depth.astype(np.int32)).to(device)
    near, far = 0.3, 1.62  # E01 Frog's depth range
    record("samples_to_metric_depth",
           _timed(lambda: samples_to_metric_depth(d, 16, near, far), device, repeats))
    metric = samples_to_metric_depth(d, 16, near, far)
    record("metric_depth_to_samples",
           _timed(lambda: metric_depth_to_samples(metric, 16, near, far), device, repeats))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--size", default="1920x1080", help="WxH (default: CTC 1920x1080)")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args()
    w, h = (int(x) for x in args.size.lower().split("x"))
    use_cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if use_cuda else [])

    report: dict = {"size": [w, h], "frames": args.frames, "torch": torch.__version__,
                    "threads": torch.get_num_threads(), "devices": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for device in devices:
            report["devices"][device.type] = bench_device(device, w, h, args.frames, args.repeats, Path(tmp))
    if "cuda" in report["devices"]:
        report["gpu_name"] = torch.cuda.get_device_name()
        cpu, gpu = report["devices"]["cpu"], report["devices"]["cuda"]
        report["cuda_over_cpu"] = {k: gpu[k]["frames_per_s"] / cpu[k]["frames_per_s"] for k in gpu}

    print(f"{w}x{h}, {args.frames} frames, torch {torch.__version__}, {report['threads']} threads")
    for dev, steps in report["devices"].items():
        for name, r in steps.items():
            extra = f"  {r['mb_per_s']:8.0f} MB/s" if "mb_per_s" in r else ""
            print(f"  {dev:4s} {name:26s} {r['frames_per_s']:9.1f} frames/s{extra}")
    if args.out is not None:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
