"""Benchmark of the view-weighting synthesizer: ms per output frame from N source views.

Content: the analytic wall-and-card scene (:mod:`ctc.synthesis.toyscene`) seen by a planar rig of
``--views`` perspective cameras (2 rows, 0.1 m apart, f = 0.78 × width, about the field of view
of the CTC's 1080p content), rendered at ``--size``; the target sits inside the rig, off every
camera. Two timings per size:

- ``device_inputs``: the sources' planes are already torch tensors on the device (a decoder hands
  its output over on the GPU): the synthesizer alone, output copied back to the host;
- ``host_inputs``: numpy planes (read from disk): adds the host→device copies.

GPU timings synchronise CUDA before reading the clock. No bf16 autocast: depth tests and the
3 % clustering need float32 depth (bf16 has 3 significant digits).

Usage::

    python tools/bench_synth.py --device auto --out bench_synth.json
    python tools/bench_synth.py --size 480x270 --views 8 --device cpu --repeat 3
    python tools/bench_synth.py --device cuda --profile        # top kernels by time
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ctc.synthesis import SourceView, SynthParams, synthesize  # noqa: E402
from ctc.synthesis.toyscene import PlaneScene, perspective_camera  # noqa: E402
from ctc.device import resolve_device  # noqa: E402


def rig(size: tuple[int, int], views: int):
    """``views`` cameras in 2 rows (0.1 m apart) and a target inside the rig."""
    focal = 0.78 * size[0]
    cols = (views + 1) // 2
    cams = []
    for k in range(views):
        row, col = divmod(k, cols)
        y = 0.1 * (col - (cols - 1) / 2)
        z = 0.1 * (row - 0.5)
        cams.append(perspective_camera(f"v{k}", (0.0, y, z), size=size, focal=focal, depth_range=(1.0, 20.0)))
    target = perspective_camera("target", (0.05, 0.033, 0.021), size=size, focal=focal, depth_range=(1.0, 20.0))
    return cams, target


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def time_frames(sources, target, dev, repeat: int, warmup: int, params: SynthParams
                ) -> tuple[list[float], list[float]]:
    """(wall ms, process CPU ms of all threads) per frame; the CPU time is the load-robust
    figure on a shared machine."""
    for _ in range(warmup):
        synthesize(sources, target, params, dev)
    wall, cpu = [], []
    for _ in range(repeat):
        _sync(dev)
        t0, c0 = time.perf_counter(), time.process_time()
        synthesize(sources, target, params, dev)
        _sync(dev)
        wall.append(1000.0 * (time.perf_counter() - t0))
        cpu.append(1000.0 * (time.process_time() - c0))
    return wall, cpu


def on_device(src: SourceView, dev: torch.device) -> SourceView:
    planes = tuple(torch.from_numpy(p.astype("int32")).to(dev) for p in src.texture)
    return SourceView(src.camera, planes, torch.from_numpy(src.depth.astype("int32")).to(dev))


def bench(size: tuple[int, int], views: int, dev: torch.device, repeat: int, warmup: int,
          profile: bool) -> dict:
    scene = PlaneScene()
    cams, target = rig(size, views)
    host = [scene.source_view(c) for c in cams]
    device_src = [on_device(s, dev) for s in host]
    params = SynthParams()
    out = synthesize(device_src, target, params, dev)
    dev_times, dev_cpu = time_frames(device_src, target, dev, repeat, warmup, params)
    host_times, _ = time_frames(host, target, dev, repeat, 0, params)
    result = {
        "size": f"{size[0]}x{size[1]}", "views": views, "repeat": repeat,
        "device_inputs_ms": statistics.median(dev_times), "device_inputs_all_ms": dev_times,
        "device_inputs_process_cpu_ms": statistics.median(dev_cpu),
        "host_inputs_ms": statistics.median(host_times), "host_inputs_all_ms": host_times,
        "frames_per_s": 1000.0 / statistics.median(dev_times),
        "output_megapixels_per_s": size[0] * size[1] / 1e3 / statistics.median(dev_times),
        "inpainted_fraction": out.inpainted_fraction,
    }
    if profile:
        from torch.profiler import ProfilerActivity, profile as torch_profile

        acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev.type == "cuda" else [])
        with torch_profile(activities=acts) as prof:
            synthesize(device_src, target, params, dev)
            _sync(dev)
        key = "cuda_time_total" if dev.type == "cuda" else "cpu_time_total"
        print(prof.key_averages().table(sort_by=key, row_limit=12))
        stages = {}
        for evt in prof.key_averages():
            if evt.key.startswith("vws."):
                gpu = getattr(evt, "device_time_total", getattr(evt, "cuda_time_total", 0.0))
                stages[evt.key] = {"cpu_ms": evt.cpu_time_total / 1000.0, "gpu_ms": gpu / 1000.0}
        for name, t in stages.items():
            print(f"  {name:24s} cpu {t['cpu_ms']:8.2f} ms   gpu {t['gpu_ms']:8.2f} ms")
        result["stages"] = stages
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--size", action="append", help="WxH, repeatable (default 1920x1080 and 480x270)")
    parser.add_argument("--views", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--profile", action="store_true", help="print the top operators of one frame")
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = resolve_device(args.device)
    sizes = [tuple(int(v) for v in s.lower().split("x")) for s in (args.size or ["1920x1080", "480x270"])]
    report = {
        "benchmark": "bench_synth", "device": str(dev),
        "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else platform.processor() or platform.machine(),
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "results": [],
    }
    for size in sizes:
        res = bench(size, args.views, dev, args.repeat, args.warmup, args.profile)
        report["results"].append(res)
        print(f"{res['size']} from {args.views} views on {dev}: {res['device_inputs_ms']:.1f} ms/frame "
              f"(inputs on device; process CPU {res['device_inputs_process_cpu_ms']:.0f} ms), "
              f"{res['host_inputs_ms']:.1f} ms/frame (inputs on host), "
              f"{res['frames_per_s']:.2f} frames/s", flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
