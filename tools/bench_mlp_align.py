"""The ConvNeXt blocks' MLPs alone, with HiNeRV's widths against the same widths padded to a
multiple of 8 (what ``ConvNeXtBlock`` does on the fused path, ``mvhinerv/model/blocks.py``).

For every block of a preset at a frame size (one frame, channels last, bf16 autocast as in
training, ``torch.compile``d like the training step), times Linear C1 → H, GELU, Linear H → C2,
forward + backward, once with the real widths (35, 70, 140 …: cuBLAS falls back to CUTLASS
``align1``/``align2`` kernels) and once with every width rounded up to a multiple of 8 (16-byte
aligned operands; the pad rows and columns would be zeros in the model). Prints one line per
block and the totals.

Example::

    python tools/bench_mlp_align.py --preset S --size 1920x1080
"""

from __future__ import annotations

import argparse
import sys
import time

import torch
from torch.nn import functional as F

from _bench_common import bench_device, device_name, write_report  # first: puts the repo on sys.path
from bench_dwconv_ln import time_ms
from mvhinerv.arch import arch_from_preset
from mvhinerv.model.blocks import aligned_width


def mlp_shapes(preset: str, width: int, height: int) -> list[tuple[int, int, int, int]]:
    """(pixels, C1, hidden, C2) of every block's MLP, in network order."""
    arch = arch_from_preset(preset, width, height, 8, 1)
    shapes = []
    for i in range(arch.num_stages):
        h, w = arch.level_size(i + 1)
        c_in, c_out = arch.stage_widths[i]
        shapes += [(h * w, c_in if b == 0 else c_out, arch.expansions[i] * c_out, c_out)
                   for b in range(arch.depths[i])]
    return shapes


def _mlp(y: torch.Tensor, fc1: torch.Tensor, fc2: torch.Tensor) -> torch.Tensor:
    return F.linear(F.gelu(F.linear(y, fc1)), fc2)


def measure(mlp, widths: tuple[int, int, int, int], device: torch.device, repeats: int) -> float:
    """Forward + backward time (ms) of one MLP on [pixels, C1] bf16 input."""
    m, c1, hidden, c2 = widths
    y = torch.randn(m, c1, device=device, dtype=torch.bfloat16, requires_grad=True)
    fc1 = torch.randn(hidden, c1, device=device, requires_grad=True)
    fc2 = torch.randn(c2, hidden, device=device, requires_grad=True)
    grad = torch.randn(m, c2, device=device, dtype=torch.bfloat16)
    kind = device.type

    def train():
        with torch.autocast(kind, dtype=torch.bfloat16):
            out = mlp(y, fc1, fc2)
        out.backward(grad.to(out.dtype))

    return time_ms(train, repeats)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--preset", default="S")
    ap.add_argument("--size", default="1920x1080", help="WxH of the frame")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--compile", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    device = bench_device(args.device)
    width, height = map(int, args.size.lower().split("x"))
    mlp = torch.compile(_mlp) if args.compile else _mlp
    rows, totals = [], {"real_ms": 0.0, "aligned_ms": 0.0}
    for m, c1, hidden, c2 in mlp_shapes(args.preset, width, height):
        padded = (m, aligned_width(c1), aligned_width(hidden), aligned_width(c2))
        row = {"pixels": m, "widths": [c1, hidden, c2], "aligned_widths": list(padded[1:]),
               "real_ms": measure(mlp, (m, c1, hidden, c2), device, args.repeats),
               "aligned_ms": measure(mlp, padded, device, args.repeats)}
        rows.append(row)
        for key in totals:
            totals[key] += row[key]
        print(f"{m:9d} px  {c1:4d} → {hidden:5d} → {c2:4d}: real widths {row['real_ms']:7.3f} ms, "
              f"aligned {row['aligned_ms']:7.3f} ms", flush=True)
    print(f"every block MLP, forward + backward: real widths {totals['real_ms']:.3f} ms, "
          f"aligned {totals['aligned_ms']:.3f} ms")
    if args.out:
        write_report(args.out, {"tool": "tools/bench_mlp_align.py", "argv": sys.argv[1:] if argv is None else argv,
                                "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                "device": device_name(device), "torch": torch.__version__,
                                "preset": args.preset, "size": args.size, **totals, "blocks": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
