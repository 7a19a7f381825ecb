"""Depthwise 3×3 conv + LayerNorm alone: the fused Triton kernels against what Inductor generates.

For every ConvNeXt block of a preset at a frame size (one frame, channels last, input float32 as
the residual stream is, bf16 autocast as in training), times the forward and forward + backward
of ``mvhinerv.model.dwconv_ln`` with each kernel configuration of the sweep, and of the
``torch.compile``d "shift" form the network used before (Inductor's fused kernels), and prints
the per-network totals. This is the layer the training-step profile found most expensive
(docs/performance.md § Training step).

Example::

    python tools/bench_dwconv_ln.py --preset S --size 1920x1080 --tiles 256,512,1024,2048 --warps 2,4,8
    python tools/bench_dwconv_ln.py --wx 256/8/32,512/8/32,256/4/16    # the ∂x/∂w kernel's tiling
"""

from __future__ import annotations

import argparse
import itertools
import time

import torch
from torch.nn import functional as F

from _bench_common import (  # first: puts the repo on sys.path
    bench_device,
    print_case,
    report_header,
    time_ms,
    total_times,
    write_report,
)
from mvhinerv.arch import arch_from_preset
from mvhinerv.model import dwconv_ln as op
from mvhinerv.model.blocks import depthwise3x3_shift
from mvhinerv.model.upsample import LN_EPS


def block_shapes(preset: str, width: int, height: int) -> list[tuple[int, int, int]]:
    """(H, W, C_in) of every block's depthwise conv, in network order."""
    arch = arch_from_preset(preset, width, height, 8, 1)
    shapes = []
    for i in range(arch.num_stages):
        h, w = arch.level_size(i + 1)
        c_in, c_out = arch.stage_widths[i]
        shapes += [(h, w, c_in if b == 0 else c_out) for b in range(arch.depths[i])]
    return shapes


def _inductor(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    y = depthwise3x3_shift(x, w)
    return F.layer_norm(y, (y.shape[-1],), eps=LN_EPS)


def _fused(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return op.dwconv_ln(x, w, LN_EPS)


def measure(impl, shape: tuple[int, int, int], batch: int, device: torch.device, repeats: int) -> dict:
    h, w, c = shape
    x = torch.randn(batch, h, w, c, device=device, requires_grad=True)
    weight = torch.randn(c, 1, 3, 3, device=device, requires_grad=True)
    grad = torch.randn(batch, h, w, c, device=device, dtype=torch.bfloat16)

    def forward():
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
            impl(x, weight)

    def train():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            y = impl(x, weight)
        y.backward(grad.to(y.dtype))

    return {"forward_ms": time_ms(forward, repeats), "train_ms": time_ms(train, repeats)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="S")
    ap.add_argument("--size", default="1920x1080", help="WxH of the frame")
    ap.add_argument("--batch", type=int, default=1, help="frames per call")
    ap.add_argument("--tiles", default="1024", help="comma list of values per tile (BLOCK_W × CP)")
    ap.add_argument("--warps", default="4", help="comma list of warps per program")
    ap.add_argument("--wx", default=f"{op._WX_TILE_VALUES}/{op._WX_WARPS}/{op._WX_ROWS}",
                    help="comma list of values/warps/rows of the ∂x/∂w kernel (tile size, warps, rows per band)")
    ap.add_argument("--split", default="1", help="comma list: 1 = channels as a power-of-two main group + "
                    "tail (70 → 64 + 8 lanes), 0 = padded to one power of two (70 → 128)")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    device = bench_device("cuda")
    width, height = map(int, args.size.lower().split("x"))
    shapes = block_shapes(args.preset, width, height)
    compiled = torch.compile(_inductor)
    cases = [("inductor", {}, compiled)]
    for tiles, warps, split, wx in itertools.product(args.tiles.split(","), args.warps.split(","),
                                                     args.split.split(","), args.wx.split(",")):
        wx_values, wx_warps, wx_rows = map(int, wx.split("/"))
        knobs = {"_TILE_VALUES": int(tiles), "_WARPS": int(warps), "_SPLIT_CHANNELS": split == "1",
                 "_WX_TILE_VALUES": wx_values, "_WX_WARPS": wx_warps, "_WX_ROWS": wx_rows}
        cases.append((f"fused tiles {tiles} warps {warps} split {split} wx {wx}", knobs, _fused))
    results = []
    for name, knobs, impl in cases:
        for key, value in knobs.items():
            setattr(op, key, value)
        t0 = time.perf_counter()
        per_shape = [{"shape": s, **measure(impl, s, args.batch, device, args.repeats)} for s in shapes]
        total = total_times(per_shape)
        results.append({"case": name, "knobs": knobs, **total, "blocks": per_shape,
                        "seconds": time.perf_counter() - t0})
        print_case(name, total, "per block: " + " ".join(f"{r['train_ms']:.2f}" for r in per_shape), width=52)
    if args.out:
        write_report(args.out, {**report_header("tools/bench_dwconv_ln.py", argv, device), "preset": args.preset,
                                "size": args.size, "batch": args.batch, "results": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
