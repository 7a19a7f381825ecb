"""The blocks' GELU with the linear that follows it: the Triton GELU (:mod:`mvhinerv.model.gelu_op`,
``triton``) against Inductor's (``inductor``, as the training step ran it before), and both as
one op whose backward forms ∂h in one kernel (:mod:`mvhinerv.model.gelu_linear`, ``fused``, as
the step runs them now).

For every ConvNeXt block of a preset at a frame size (its pre-activation map h, one frame, widths
aligned to 8 as on the fused path, bf16 as under autocast), times ``fc2(GELU(h))`` forward and
forward + backward, ``torch.compile``d like the training step: the backward includes what each
form does for fc2's weight gradient (Inductor recomputes GELU(h); the op's output is kept).
``--alone`` times the activation alone on each map instead: a copy of the map (the memory
bound), the forward, and the backward (Inductor: ∂h and the recomputed GELU(h), as in the step;
Triton: ∂h); and ∂h from fc2's output gradient, as cuBLAS's ∂a = ∂y·fc2 then the Triton
backward (``product_then_backward``) and as gelu_linear's one kernel (``fused_backward``).

Example::

    python tools/bench_gelu.py --preset S --size 1920x1080 --out gelu.json
    python tools/bench_gelu.py --alone
    TRITON_INTERPRET=1 python tools/bench_gelu.py --device cpu --preset tiny --size 64x36 --no-compile \\
        --repeats 1 --warmup 0
"""

from __future__ import annotations

import argparse

import torch
from torch.nn import functional as F

from _bench_common import (  # first: puts the repo on sys.path
    add_kernel_bench_args,
    kernel_bench_device,
    print_case,
    report_header,
    time_ms,
    total_times,
    write_report,
)
from bench_mlp_align import mlp_shapes
from mvhinerv.model.blocks import aligned_width
from mvhinerv.model.gelu_linear import _grad_op as gelu_linear_grad
from mvhinerv.model.gelu_linear import gelu_linear
from mvhinerv.model.gelu_op import _gelu_backward_op, gelu


def _inductor(h, fc2):
    return F.linear(F.gelu(h), fc2)


def _triton(h, fc2):
    return F.linear(gelu(h), fc2)


def measure(fn, pixels: int, hidden: int, c2: int, device: torch.device, repeats: int,
            warmup: int) -> dict[str, float]:
    """Forward and forward + backward times (ms) of ``fn(h, fc2)`` for h [pixels, hidden] (bf16 on
    a GPU; float32 on a CPU, whose interpreter has no bf16 matmul)."""
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    h = (2 * torch.randn(pixels, hidden, device=device)).to(dtype).requires_grad_()
    fc2 = (torch.randn(c2, hidden, device=device) / hidden ** 0.5).to(dtype).requires_grad_()
    grad = torch.randn(pixels, c2, device=device, dtype=dtype)

    def forward():
        with torch.no_grad():
            fn(h, fc2)

    def train():
        torch.autograd.grad(fn(h, fc2), (h, fc2), grad)

    return {"forward_ms": time_ms(forward, repeats, warmup), "train_ms": time_ms(train, repeats, warmup)}


def measure_alone(compile_: bool, pixels: int, hidden: int, c2: int, device: torch.device, repeats: int,
                  warmup: int, calls: int = 10) -> dict[str, float]:
    """Copy, forward and backward times (ms) of the activation alone on an h [pixels, hidden]:
    PyTorch's (``inductor_*`` compiled, ``pytorch_*`` eager) and the op's (``triton_*``); ∂h
    from ∂y [pixels, c2] through fc2 [c2, hidden], as a product then the op's backward and as
    :mod:`mvhinerv.model.gelu_linear`'s kernel. ``calls`` back-to-back calls per measure (the
    GPU's time, not the host's: :func:`time_ms`)."""
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    h = (2 * torch.randn(pixels, hidden, device=device)).to(dtype)
    grad = torch.randn_like(h)
    dy = torch.randn(pixels, c2, device=device, dtype=dtype)
    fc2 = (torch.randn(c2, hidden, device=device) / hidden ** 0.5).to(dtype)
    out = torch.empty_like(h)
    ref = "inductor" if compile_ else "pytorch"
    fwd, bwd = F.gelu, lambda g, x: (torch.ops.aten.gelu_backward(g, x), F.gelu(x))
    if compile_:
        fwd, bwd = torch.compile(fwd), torch.compile(bwd)
    cases = {"copy": lambda: out.copy_(h), f"{ref}_forward": lambda: fwd(h), f"{ref}_backward": lambda: bwd(grad, h),
             "triton_forward": lambda: gelu(h), "triton_backward": lambda: _gelu_backward_op(grad, h),
             "product_then_backward": lambda: _gelu_backward_op(dy @ fc2, h),
             "fused_backward": lambda: gelu_linear_grad(dy, fc2, h)}
    return {f"{name}_ms": time_ms(fn, repeats, warmup, calls) for name, fn in cases.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="S")
    ap.add_argument("--size", default="1920x1080", help="WxH of the frame")
    ap.add_argument("--alone", action="store_true", help="time the activation alone on each block's map")
    add_kernel_bench_args(ap, "both forms")
    args = ap.parse_args(argv)
    device = kernel_bench_device(ap, args.device)
    width, height = map(int, args.size.lower().split("x"))
    shapes = [(m, aligned_width(hidden), aligned_width(c2)) for m, _, hidden, c2 in
              mlp_shapes(args.preset, width, height)]
    results = []
    if args.alone:
        for m, hidden, c2 in shapes:
            r = measure_alone(args.compile, m, hidden, c2, device, args.repeats, args.warmup,
                              calls=10 if device.type == "cuda" else 1)
            results.append({"pixels": m, "hidden": hidden, **r})
            print(f"{m:8d} x {hidden:4d}: " + "  ".join(f"{k[:-3]} {v:.3f}" for k, v in r.items()) + " ms",
                  flush=True)
    cases = () if args.alone else (("inductor" if args.compile else "pytorch", _inductor), ("triton", _triton),
                                   ("fused", gelu_linear))
    for name, fn in cases:
        compiled = torch.compile(fn) if args.compile else fn
        blocks = [measure(compiled, *s, device, args.repeats, args.warmup) for s in shapes]
        total = total_times(blocks)
        results.append({"case": name, **total, "blocks": blocks})
        print_case(name, total, f"every block of {args.preset} at {args.size}")
    if args.out:
        write_report(args.out, {**report_header("tools/bench_gelu.py", argv, device), "preset": args.preset,
                                "size": args.size, "shapes": shapes, "results": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
