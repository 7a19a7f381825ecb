"""The upsamplers alone: the Triton kernels against what Inductor generates.

For every stage of a preset at a frame size (one frame, the stage's input map, float32), times
the forward and forward + backward of ``mvhinerv.model.upsample_op`` (LayerNorm, bilinear ×s,
edge factors, encoding tile) and of the PyTorch path of :func:`mvhinerv.model.upsample.upsample`,
compiled by ``torch.compile`` (or eager, ``--no-compile``), and prints the per-network totals
(docs/performance.md § Training step).

Example::

    python tools/bench_upsample.py --preset S --size 1920x1080 --out upsample.json
    TRITON_INTERPRET=1 python tools/bench_upsample.py --device cpu --preset tiny --size 64x36 --no-compile \\
        --repeats 1 --warmup 0
"""

from __future__ import annotations

import argparse

import torch

from _bench_common import (  # first: puts the repo on sys.path
    add_kernel_bench_args,
    kernel_bench_device,
    print_case,
    report_header,
    time_ms,
    total_times,
    write_report,
)
from mvhinerv.arch import arch_from_preset
from mvhinerv.model.upsample import LN_EPS, edge_factor, upsample
from mvhinerv.model.upsample_op import upsample_ln_fused


def stage_inputs(preset: str, width: int, height: int) -> list[tuple[int, int, int, int]]:
    """(n, m, C_in, s) of every stage's upsampler input (the level map)."""
    arch = arch_from_preset(preset, width, height, 8, 1)
    shapes = []
    for i in range(arch.num_stages):
        h, w = arch.level_size(i)
        shapes.append((h, w, arch.stage_widths[i][0], arch.scales[i]))
    return shapes


def measure(impl, shape: tuple[int, int, int, int], device: torch.device, repeats: int, warmup: int) -> dict:
    n, m, c, s = shape
    x = torch.randn(1, n, m, c, device=device, requires_grad=True)
    tile = torch.randn(1, s, s, c, device=device, requires_grad=True)
    rf = edge_factor(torch.arange(n * s, device=device)[None], s, n)
    cf = edge_factor(torch.arange(m * s, device=device)[None], s, m)
    grad = torch.randn(1, n * s, m * s, c, device=device)

    def forward():
        with torch.no_grad():
            impl(x, tile, rf, cf, s)

    def train():
        torch.autograd.grad(impl(x, tile, rf, cf, s), (x, tile), grad)

    return {"forward_ms": time_ms(forward, repeats, warmup), "train_ms": time_ms(train, repeats, warmup)}


def _pytorch(x, tile, rf, cf, s):
    return upsample(x, s, tile, rf, cf)


def _triton(x, tile, rf, cf, s):
    return upsample_ln_fused(x, tile, rf, cf, s, LN_EPS)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="S")
    ap.add_argument("--size", default="1920x1080", help="WxH of the frame")
    add_kernel_bench_args(ap, "the PyTorch stencil")
    args = ap.parse_args(argv)
    device = kernel_bench_device(ap, args.device)
    width, height = map(int, args.size.lower().split("x"))
    shapes = stage_inputs(args.preset, width, height)
    reference = torch.compile(_pytorch) if args.compile else _pytorch
    results = []
    for name, impl in (("inductor" if args.compile else "pytorch", reference), ("triton", _triton)):
        per_stage = [{"shape": s, **measure(impl, s, device, args.repeats, args.warmup)} for s in shapes]
        total = total_times(per_stage)
        results.append({"case": name, **total, "stages": per_stage})
        stages = " ".join(f"{r['forward_ms']:.3f}/{r['train_ms']:.3f}" for r in per_stage)
        print_case(name, total, f"per stage: {stages}")
    if args.out:
        write_report(args.out, {**report_header("tools/bench_upsample.py", argv, device), "preset": args.preset,
                                "size": args.size, "results": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
