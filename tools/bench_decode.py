"""Decoder speed: frames/s per view at 1080p (S, M presets) and entropy decoding per megabyte.

    python tools/bench_decode.py --device auto --out bench_decode.json
    python tools/bench_decode.py --device cpu --frames 2 --presets S    # a quick CPU run

Per preset, a randomly initialised model of the right architecture (speed does not depend on the
parameter values) renders frames in frame mode, as ``mvcodec decode`` does: ``render`` alone
(network forward) and ``render + samples`` (plus RGB → YUV 4:2:0 10-bit and depth → 16-bit).
On CUDA: bf16 autocast and ``torch.compile`` (as a long ``mvcodec decode``; ``--no-compile`` for
eager), CUDA-synchronised timing, warm-up frames first; the first frame's time (compilation) is
reported separately.

Entropy decoding: the model's parameters quantised with 7-bit steps (``QuantSteps.fit``) are
written into a real bitstream and read back (``bitstream.read_bitstream``): seconds per megabyte
of file and millions of symbols per second (CPU: the range coder is constriction's, on the host).
The MISSION goal is ≥ 60 frames/s per 1080p view for S on one H200.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from _bench_common import bench_device, device_name, sync, write_report  # first: puts the repo on sys.path
from bitstream import BitstreamContents, CameraParams, SequenceParams, read_bitstream, write_bitstream
from mvhinerv.arch import arch_from_preset, count_parameters, macs_per_pixel
from mvhinerv.codec import decoder_network, render, to_samples
from mvhinerv.model import MVHiNeRV
from mvhinerv.quant import QuantSteps, export_quantized


def time_frames(fn, frames: int, warmup: int, device: torch.device) -> float:
    """Frames per second of ``fn(frame_index)`` over ``frames`` calls after ``warmup`` calls."""
    for t in range(warmup):
        fn(t)
    sync(device)
    t0 = time.perf_counter()
    for t in range(frames):
        fn(t)
    sync(device)
    return frames / (time.perf_counter() - t0)


def bench_render(preset: str, width: int, height: int, clip_frames: int, frames: int, warmup: int,
                 device: torch.device, compile: bool) -> dict:
    arch = arch_from_preset(preset, width, height, clip_frames, 1)
    model = decoder_network(arch, device, compile)
    n = lambda t: [t % clip_frames]  # noqa: E731
    t0 = time.perf_counter()
    render(model, 0, n(0))  # the first call compiles
    sync(device)
    first_s = time.perf_counter() - t0
    render_fps = time_frames(lambda t: render(model, 0, n(t)), frames, warmup, device)
    full_fps = time_frames(lambda t: to_samples(render(model, 0, n(t)), arch, 10), frames, warmup, device)
    return {
        "preset": preset,
        "size": f"{width}x{height}",
        "params": count_parameters(arch)["total"],
        "macs_per_pixel": macs_per_pixel(arch)["total"],
        "compiled": compile,
        "first_frame_seconds": first_s,
        "render_fps": render_fps,
        "render_and_samples_fps": full_fps,
        "arch": arch,
    }


def bench_entropy(arch, repeats: int) -> dict:
    """Write a random model's 7-bit quantised parameters to a bitstream; time reading it back."""
    torch.manual_seed(0)
    model = MVHiNeRV(arch)
    steps = QuantSteps(model, model.coded_parameters())
    steps.fit(model, 7)
    tensors = tuple(export_quantized(model, steps))
    cam = CameraParams("v0", True, "Perspective", (arch.width, arch.height), (0.0,) * 3, (0.0,) * 3,
                       (0.5, 25.0), False, (1000.0, 1000.0, arch.width / 2, arch.height / 2))
    seq = SequenceParams("bench", 30.0, arch.frames, 0, 10, 16, (cam,))
    data = write_bitstream(BitstreamContents(seq, arch.to_dict(), tensors))
    symbols = sum(t.numel for t in tensors)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        read_bitstream(data)
        best = min(best, time.perf_counter() - t0)
    return {
        "file_bytes": len(data),
        "symbols": symbols,
        "seconds": best,
        "seconds_per_megabyte": best / (len(data) / 1e6),
        "msymbols_per_second": symbols / best / 1e6,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    ap.add_argument("--presets", default="S,M")
    ap.add_argument("--size", default="1920x1080")
    ap.add_argument("--clip-frames", type=int, default=65, help="frames the model represents")
    ap.add_argument("--frames", type=int, default=None, help="timed frames (default: 30 on CUDA, 2 on CPU)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed frames first (default: 5 CUDA, 1 CPU)")
    ap.add_argument("--repeats", type=int, default=3, help="entropy decoding repeats (best is kept)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                    help="torch.compile the network (default: on CUDA), as a long `mvcodec decode` does")
    args = ap.parse_args()
    device = bench_device(args.device, args.threads)
    frames = args.frames or (30 if device.type == "cuda" else 2)
    warmup = args.warmup if args.warmup is not None else (5 if device.type == "cuda" else 1)
    width, height = (int(x) for x in args.size.lower().split("x"))
    results = []
    for preset in args.presets.split(","):
        compile = device.type == "cuda" if args.compile is None else args.compile
        r = bench_render(preset, width, height, args.clip_frames, frames, warmup, device, compile)
        r["entropy"] = bench_entropy(r.pop("arch"), args.repeats)
        results.append(r)
        e = r["entropy"]
        print(f"{preset} {r['size']}: {r['params'] / 1e6:.2f} M params, {r['macs_per_pixel'] / 1e3:.0f} k MAC/px; "
              f"{'compiled' if r['compiled'] else 'eager'} (first frame {r['first_frame_seconds']:.1f} s): "
              f"render {r['render_fps']:.2f} frames/s, render+samples {r['render_and_samples_fps']:.2f} frames/s "
              f"per view; entropy decode {e['seconds_per_megabyte']:.3f} s/MB "
              f"({e['msymbols_per_second']:.2f} Msym/s, {e['file_bytes']} bytes)")
    report = {
        "benchmark": "decode",
        "device": str(device),
        "device_name": device_name(device),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "timed_frames": frames,
        "warmup_frames": warmup,
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "results": results,
    }
    if args.out is not None:
        write_report(args.out, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
