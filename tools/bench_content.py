"""Time ``mvcodec content make`` for each catalogue sequence and scale, on CPU or GPU.

At the tiny and mini scales the whole make is timed (rendering, YUV/depth conversion and writing
into a temporary folder that is deleted afterwards). A full-scale make writes 20-35 GB per
sequence, so at ``full`` the benchmark renders and converts a sample (``--full-frames`` frames of
every written camera and of every pose trace, nothing written to disk) and projects the make
time from the measured time per frame of each image size::

    python tools/bench_content.py --device cpu --scales tiny,mini --out bench_content.json
    python tools/bench_content.py --device cuda --scales tiny,mini,full --out bench_content_gpu.json

Prints one line per (sequence, scale) and writes JSON: per case the mode ("make" or
"sampled"), frames, seconds, frames/s, megapixels/s and the (projected) make time.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

from _bench_common import bench_device, device_name, sync, write_report  # first: puts the repo on sys.path
from ctc.content import CATALOG, plan_sequence
from ctc.content.make import total_frames, write_plan
from ctc.content.plan import ContentPlan, frame_planes
from ctc.posetrace import pose_camera, pose_trace_frames


def _pixels(plan: ContentPlan) -> int:
    """Pixels :func:`write_plan` produces (all written cameras and pose-truth frames)."""
    count = sum(c.width * c.height for c in plan.truth_cameras) * plan.frames
    if plan.pose_truth:
        vp = plan.sequence.viewport
        count += vp.width * vp.height * sum(len(rows) for rows in plan.pose_traces)
    return count


def time_make(plan: ContentPlan, device: torch.device) -> dict[str, float | int | str]:
    """Whole make into a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="mvcodec-bench-content-") as tmp:
        sync(device)
        start = time.perf_counter()
        write_plan(plan, Path(tmp) / "seq")
        sync(device)
        seconds = time.perf_counter() - start
    frames = total_frames(plan)
    return {"mode": "make", "frames": frames, "seconds": seconds, "make_seconds": seconds,
            "frames_per_s": frames / seconds, "megapixels_per_s": _pixels(plan) / seconds / 1e6}


def time_sample(plan: ContentPlan, device: torch.device, per_camera: int) -> dict[str, float | int | str]:
    """Render + convert ``per_camera`` frames of every written camera and pose trace; project."""
    jobs = [(cam, k) for cam in plan.truth_cameras for k in range(min(per_camera, plan.frames))]
    if plan.pose_truth:
        vp = plan.sequence.viewport
        for rows in plan.pose_traces:
            frames = pose_trace_frames(len(rows), plan.frames)
            jobs += [(pose_camera(vp, rows[i]), frames[i]) for i in range(min(per_camera, len(rows)))]
    first_cam, first_k = jobs[0]
    plan.source.frame(first_cam, first_k / plan.sequence.fps)  # warm-up: textures, kernels
    per_size: dict[tuple[int, int], list[float]] = {}
    for cam, k in jobs:
        sync(device)
        start = time.perf_counter()
        rgb, depth = plan.source.frame(cam, k / plan.sequence.fps)
        frame_planes(cam, rgb, depth)  # includes the copy to host memory
        sync(device)
        per_size.setdefault(cam.resolution, []).append(time.perf_counter() - start)
    seconds = sum(sum(v) for v in per_size.values())
    mean = {size: sum(v) / len(v) for size, v in per_size.items()}
    projected = sum(mean[c.resolution] for c in plan.truth_cameras) * plan.frames
    if plan.pose_truth:
        projected += mean[plan.sequence.viewport.resolution] * sum(len(r) for r in plan.pose_traces)
    pixels = sum(c.width * c.height for c, _ in jobs)
    return {"mode": "sampled", "frames": len(jobs), "seconds": seconds,
            "make_seconds": projected, "frames_per_s": len(jobs) / seconds,
            "megapixels_per_s": pixels / seconds / 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--scales", default="tiny,mini", help="comma-separated: tiny, mini, full")
    parser.add_argument("--sequences", default=",".join(CATALOG), help="comma-separated names")
    parser.add_argument("--full-frames", type=int, default=2,
                        help="frames per camera and per pose trace sampled at the full scale")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    args = parser.parse_args()
    device = bench_device(args.device)
    report: dict[str, object] = {
        "benchmark": "content make",
        "command": " ".join([os.path.basename(sys.executable), *sys.argv]),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "device": str(device),
        "device_name": device_name(device),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0],
        "results": [],
    }
    for scale in args.scales.split(","):
        for name in args.sequences.split(","):
            plan = plan_sequence(name, scale, device)
            if scale == "full":
                result = time_sample(plan, device, args.full_frames)
            else:
                result = time_make(plan, device)
            result = {"sequence": name, "scale": scale, **result}
            report["results"].append(result)  # type: ignore[union-attr]
            print(f"{name:<11} {scale:<5} {result['mode']:<8} {result['frames']:>5} frames "
                  f"{result['seconds']:8.2f} s  {result['frames_per_s']:7.2f} frames/s  "
                  f"{result['megapixels_per_s']:7.2f} Mpx/s  make {result['make_seconds']:9.1f} s",
                  flush=True)
    if args.out is not None:
        write_report(args.out, report)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
