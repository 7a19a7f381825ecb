"""The training loss alone: MS-SSIM's scales by the Triton kernels against the PyTorch form.

Times the distortion of a batch of RGB-D frames (``mvhinerv.train.losses.distortion``: texture
L1 + MS-SSIM, depth L1, the monitoring MSEs), forward and forward + backward, with each MS-SSIM
scale's term by :mod:`mvhinerv.train.ssim_op` (``triton``) and by the PyTorch form compiled with
``torch.compile`` (``inductor``, as the training step ran it before; ``--no-compile``: eager).
The prediction is a channel slice of a channels-last map, as the network produces it
(docs/performance.md § Training step).

Example::

    python tools/bench_loss.py --size 1920x1080 --batch 1 --out loss.json
    TRITON_INTERPRET=1 python tools/bench_loss.py --device cpu --size 96x80 --no-compile --repeats 1 --warmup 0
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
    write_report,
)
from mvhinerv.train import losses


def measure(fused: bool, compile_: bool, size: tuple[int, int], batch: int, device: torch.device,
            repeats: int, warmup: int) -> dict:
    width, height = size
    target = torch.rand(batch, 4, height, width, device=device)
    # The network's output: channels last (B, h, w, 4) viewed as (B, 4, h, w).
    pred = (target + 0.05 * torch.randn_like(target)).clamp(0, 1).permute(0, 2, 3, 1).contiguous()
    pred = pred.permute(0, 3, 1, 2).requires_grad_()
    weights = losses.LossWeights()

    def loss(p):
        return losses.distortion(p, target, None, weights, fused=fused).total

    fn = torch.compile(loss) if compile_ else loss

    def forward():
        with torch.no_grad():
            fn(pred)

    def train():
        torch.autograd.grad(fn(pred), pred)

    return {"forward_ms": time_ms(forward, repeats, warmup), "train_ms": time_ms(train, repeats, warmup)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="1920x1080", help="WxH of a frame")
    ap.add_argument("--batch", type=int, default=1, help="frames per batch")
    add_kernel_bench_args(ap, "the loss")
    args = ap.parse_args(argv)
    device = kernel_bench_device(ap, args.device)
    size = tuple(map(int, args.size.lower().split("x")))
    results = []
    for name, fused in (("inductor" if args.compile else "pytorch", False), ("triton", True)):
        r = measure(fused, args.compile, size, args.batch, device, args.repeats, args.warmup)
        results.append({"case": name, **r})
        print_case(name, r)
    if args.out:
        write_report(args.out, {**report_header("tools/bench_loss.py", argv, device), "size": args.size,
                                "batch": args.batch, "results": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
