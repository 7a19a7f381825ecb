"""Training throughput of MV-HiNeRV: pixel-iterations/s, achieved TFLOP/s, peak memory.

Runs the real training step (:mod:`mvhinerv.train.step`: quantiser, functional call, loss, rate,
backward, clipping, fused Adam) on synthetic content that already sits on the device, for each
(preset, size) pair, and prints one line per case plus a JSON file.

- pixel-iterations/s: in-frame output pixels trained per second (a 1080p frame = 2.07 M).
- TFLOP/s ("useful"): pixel-iterations/s × analytic frame-mode MACs/pixel
  (``mvhinerv.arch.macs_per_pixel``) × 2 FLOP/MAC × 3 (forward + backward ≈ 3 × forward). Patch
  overlap work is *not* counted (it is overhead), nor the elementwise layers, so this is the work
  HiNeRV's published MAC counts describe. ``fraction_of_peak`` divides by ``--peak-tflops``
  (≈ 800 TFLOP/s dense bf16 on an H200).
- reference: HiNeRV's public code trains S at 25.7 frames/s of 1080p (53.3 Mpx·it/s) on an H200
  with 120×120 patches (``/work/shared/reference/inr_codecs.md`` §9); ``speedup_vs_hinerv`` is
  relative to that (meaningful for preset S at full size on an H200 only).

Examples::

    python tools/bench_train.py --device cuda --out bench_train.json
    python tools/bench_train.py --device cuda --presets S --sizes full --patch 240x240 --quant noise
    python tools/bench_train.py --device cpu --presets tiny --sizes tiny --steps 5 --out cpu.json
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

# _bench_common first: it puts the repository on sys.path.
from _bench_common import (
    bench_device,
    device_name,
    format_timeline,
    kernel_profile,
    kernel_timeline,
    print_kernel_profile,
    sync,
    write_report,
)
from mvhinerv.arch import arch_from_preset, count_parameters, macs_per_pixel
from mvhinerv.config import EncodeConfig
from mvhinerv.model import MVHiNeRV, resolve_dwconv
from mvhinerv.quant import QuantSteps
from mvhinerv.train.data import PatchSampler, TrainingData
from mvhinerv.train.losses import LossWeights
from mvhinerv.train.schedule import Phase
from mvhinerv.train.step import (ITERATION_OUTPUTS, StepSetup, compile_step, make_optimizer, make_step_fn,
                                 train_iteration)

#: name → (width, height, views, frames)
SIZES = {
    "tiny": (64, 36, 3, 5),
    "mini": (480, 270, 13, 17),
    "full": (1920, 1080, 13, 17),
}
HINERV_S_PX_PER_S = 53.3e6


def synthetic_data(width: int, height: int, views: int, frames: int, device: torch.device) -> TrainingData:
    """Smooth random RGB-D content already on the device (content does not change the speed)."""
    g = torch.Generator(device="cpu").manual_seed(0)
    small = torch.rand(views * frames, 4, max(height // 16, 2), max(width // 16, 2), generator=g)
    frames_t = torch.nn.functional.interpolate(small.to(device), size=(height, width), mode="bilinear")
    return TrainingData(frames_t.contiguous(), views, frames, height, width, 0, 65535)


def parse_patch(text: str) -> tuple[int, int] | None:
    if text == "frame":
        return None
    h, w = text.lower().split("x")
    return int(h), int(w)


def make_runner(preset: str, size: str, args: argparse.Namespace, device: torch.device):
    """Build one case; returns ``(run, sampler, arch, patch, compiled, dwconv)``: ``run(n, offset)`` does
    ``n`` training iterations and returns the summed step outputs (on the device, no sync)."""
    width, height, views, frames = SIZES[size]
    arch = arch_from_preset(preset, width, height, frames, views)
    patch = parse_patch(args.patch)
    compiled = args.compile and device.type == "cuda"
    dwconv = resolve_dwconv(args.dwconv, device, compiled)
    model = MVHiNeRV(arch, dwconv=dwconv).to(device)
    if args.bf16_stages and args.bf16 and device.type == "cuda":
        model.stage_dtype = torch.bfloat16
    steps = QuantSteps(model, model.coded_parameters()).to(device)
    data = synthetic_data(width, height, views, frames, device)
    sampler = PatchSampler(data, patch, args.batch, 0, arch.total_scale)
    quantised = args.quant != "none"
    phase = Phase("bench", 1, lr=1e-3, lr_step=1e-2 if quantised else 0.0, quant=args.quant,
                  noise_start=0.5, noise_end=0.5, rate=quantised)
    setup = StepSetup(args.quant, quantised, 1.0, data.num_pixels, LossWeights(), args.bf16)
    fn = make_step_fn(model, steps, setup, device)
    if compiled:
        fn = compile_step(fn, args.compile_mode)
    optimizer = make_optimizer(model, steps, phase, 1.0, sampler.steps_per_epoch, sampler.steps_per_epoch)
    clip = list(model.parameters())
    p = torch.full((), 0.5, device=device)
    order = sampler.permutation(0, 0)

    def run(n: int, offset: int) -> torch.Tensor:
        out = torch.zeros(len(ITERATION_OUTPUTS), device=device)
        for i in range(n):
            out += train_iteration(fn, sampler.batch_at(order, (offset + i) % sampler.steps_per_epoch), p,
                                   optimizer, clip, 1.0)
        return out

    return run, sampler, arch, patch, compiled, dwconv


def bench_case(preset: str, size: str, args: argparse.Namespace, device: torch.device) -> dict:
    width, height, views, frames = SIZES[size]
    run, sampler, arch, patch, compiled, dwconv = make_runner(preset, size, args, device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    t0 = time.perf_counter()
    run(args.warmup, 0)
    sync(device)
    warmup_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    sums = run(args.steps, args.warmup)
    sync(device)
    seconds = time.perf_counter() - t0
    assert torch.isfinite(sums).all(), "non-finite loss in the benchmark"
    ph, pw = sampler.patch
    # In-frame pixels per step (tiles overhanging the border count only their in-frame part).
    frame_px = height * width
    px_per_step = sampler.batch * frame_px / sampler.tiles_per_frame
    px_per_s = px_per_step * args.steps / seconds
    macs = macs_per_pixel(arch)["total"]
    tflops = px_per_s * macs * 2 * 3 / 1e12
    result = {
        "preset": preset, "size": size, "width": width, "height": height, "views": views, "frames": frames,
        "patch": "frame" if patch is None else f"{ph}x{pw}", "batch": sampler.batch, "quant": args.quant,
        "compile": compiled, "compile_mode": args.compile_mode, "dwconv": dwconv,
        "bf16": args.bf16 and device.type == "cuda",
        "bf16_stages": args.bf16_stages and args.bf16 and device.type == "cuda",
        "params": count_parameters(arch)["total"], "macs_per_pixel": macs,
        "steps": args.steps, "seconds": seconds, "warmup_seconds": warmup_s,
        "steps_per_s": args.steps / seconds,
        "skipped_steps": int(sums[ITERATION_OUTPUTS.index("skipped")]),
        "pixel_iterations_per_s": px_per_s,
        "frames_per_s_1080p_equiv": px_per_s / (1920 * 1080),
        "seconds_per_megapixel_epoch": 1e6 / px_per_s,
        "useful_tflops": tflops,
        "fraction_of_peak": tflops / args.peak_tflops,
        "peak_memory_gib": (torch.cuda.max_memory_allocated(device) / 2**30) if device.type == "cuda" else None,
    }
    if preset == "S" and size == "full":
        result["speedup_vs_hinerv"] = px_per_s / HINERV_S_PX_PER_S
    if args.profile and device.type == "cuda":
        result["profile"] = kernel_profile(lambda: run(1, 0), device, args.profile)
    if args.timeline is not None:
        path = args.timeline.with_name(f"{args.timeline.stem}_{preset}_{size}{args.timeline.suffix}")
        path.write_text(format_timeline(kernel_timeline(lambda: run(1, 0), device)))
        result["timeline"] = str(path)
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--out", type=Path, default=None, help="JSON result file")
    ap.add_argument("--presets", default="S,M", help="comma list of arch presets (tiny, S, M, L...)")
    ap.add_argument("--sizes", default="mini,full", help=f"comma list of {', '.join(SIZES)}")
    ap.add_argument("--patch", default="120x120", help="HxW patch size, or 'frame' for frame mode")
    ap.add_argument("--batch", type=int, default=None, help="patches per step (default: one frame's worth)")
    ap.add_argument("--quant", default="none", choices=["none", "noise", "hard"],
                    help="quantiser mode; noise/hard also add the rate term (stage 2 cost)")
    ap.add_argument("--compile", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--bf16-stages", action="store_true",
                    help="keep the stage maps in bf16 (EncodeConfig.bf16_stages)")
    ap.add_argument("--dwconv", default="auto", choices=["auto", "conv", "shift", "fused"],
                    help="depthwise conv + LayerNorm implementation (auto: EncodeConfig's choice)")
    ap.add_argument("--compile-mode", default=EncodeConfig.compile_mode,
                    help="torch.compile mode, e.g. default (no CUDA graphs) or max-autotune-no-cudagraphs "
                         "(default: EncodeConfig's, %(default)s)")
    ap.add_argument("--steps", type=int, default=30, help="timed steps")
    ap.add_argument("--warmup", type=int, default=5, help="untimed steps first (compilation)")
    ap.add_argument("--peak-tflops", type=float, default=800.0, help="dense bf16 peak of the device")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--profile", type=int, default=0, metavar="N",
                    help="after timing, profile N more steps on CUDA and print the top kernels")
    ap.add_argument("--timeline", type=Path, default=None, metavar="FILE",
                    help="after timing, trace one more step on CUDA and write its kernels in launch order, "
                         "with grids, to FILE_<preset>_<size>.txt (docs/performance.md § Training step)")
    args = ap.parse_args(argv)
    device = bench_device(args.device, args.threads, tf32=True)
    if args.timeline is not None and device.type != "cuda":
        ap.error("--timeline needs a CUDA device (it lists GPU kernels)")
    results = []
    for preset in args.presets.split(","):
        for size in args.sizes.split(","):
            try:
                r = bench_case(preset, size, args, device)
            except torch.OutOfMemoryError as err:  # report and go on with the next case
                r = {"preset": preset, "size": size, "error": f"out of memory: {str(err).splitlines()[0]}"}
                torch.cuda.empty_cache()
            results.append(r)
            if "error" in r:
                print(f"{preset:>4} {size:>5}: {r['error']}", flush=True)
                continue
            print(f"{preset:>4} {size:>5} patch {r['patch']:>7} x{r['batch']:<4} quant {r['quant']:<5} "
                  f"compile {str(r['compile']):<5} bf16 {str(r['bf16']):<5} {r['dwconv']}: "
                  f"{r['pixel_iterations_per_s'] / 1e6:8.4g} Mpx·it/s "
                  f"({r['frames_per_s_1080p_equiv']:6.4g} 1080p frames/s), "
                  f"{r['useful_tflops']:7.4g} TFLOP/s ({100 * r['fraction_of_peak']:.3g} % of peak), "
                  f"mem {r['peak_memory_gib'] if r['peak_memory_gib'] is None else round(r['peak_memory_gib'], 2)} GiB",
                  flush=True)
            if "profile" in r:
                print_kernel_profile(r["profile"])
    report = {
        "tool": "tools/bench_train.py", "argv": sys.argv[1:] if argv is None else argv,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "device": device_name(device),
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "flops_convention": "useful = pixel-iterations/s x frame-mode MACs/px x 2 FLOP/MAC x 3 (fwd+bwd)",
        "results": results,
    }
    if args.out:
        write_report(args.out, report)
    return 0 if all("error" not in r for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
