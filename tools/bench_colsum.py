"""The sums of the fused layers' per-program shares (∂w of the depthwise layers, ∂tile of the
upsamplers): :func:`mvhinerv.model.colsum.column_sums` (``triton``) against PyTorch's ``sum(1)``
(``pytorch``, as the layers summed them before the fifteenth session).

Records the share tensors [B, P, N] of one forward + backward of a preset's network at a frame size
(fused path, one frame, bf16 autocast on a GPU), then times summing all of them: on a GPU as one
CUDA graph (the training step replays its kernels as one; launches would otherwise dominate
the small sums), on a CPU in Triton's interpreter one call at a time.

Example::

    python tools/bench_colsum.py --preset S --size 1920x1080 --out colsum.json
    TRITON_INTERPRET=1 python tools/bench_colsum.py --device cpu --preset tiny --size 64x36 --repeats 1 --warmup 0
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from unittest import mock

import torch

from _bench_common import (  # first: puts the repo on sys.path
    add_kernel_bench_args,
    kernel_bench_device,
    report_header,
    time_ms,
    write_report,
)
from mvhinerv.arch import arch_from_preset
from mvhinerv.model import colsum, upsample_op
from mvhinerv.model.network import MVHiNeRV


def share_shapes(preset: str, width: int, height: int, device: torch.device) -> list[tuple[int, int, int]]:
    """The [B, P, N] shapes that one forward + backward of the network sums, in call order."""
    shapes, column_sums = [], colsum.column_sums

    def record(x: torch.Tensor) -> torch.Tensor:
        shapes.append(tuple(x.shape))
        return column_sums(x)

    model = MVHiNeRV(arch_from_preset(preset, width, height, 1, 1), dwconv="fused").to(device)
    index = torch.zeros(1, dtype=torch.long, device=device)
    with mock.patch.object(colsum, "column_sums", record), mock.patch.object(upsample_op, "column_sums", record):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            out = model(index, index)
        out.float().mean().backward()
    return shapes


def graph_or_call(fn: Callable[[], object], device: torch.device) -> Callable[[], object]:
    """``fn`` as a CUDA graph's replay on a GPU, else ``fn`` itself."""
    if device.type != "cuda":
        return fn
    stream = torch.cuda.Stream()
    with torch.cuda.stream(stream):
        fn()
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()
    return graph.replay


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="S")
    ap.add_argument("--size", default="1920x1080", help="WxH of the frame")
    add_kernel_bench_args(ap, "nothing (both forms run eagerly)")
    args = ap.parse_args(argv)
    device = kernel_bench_device(ap, args.device)
    width, height = map(int, args.size.lower().split("x"))
    shapes = share_shapes(args.preset, width, height, device)
    gen = torch.Generator().manual_seed(0)
    shares = [torch.randn(s, generator=gen).to(device) for s in shapes]
    megabytes = sum(x.numel() * x.element_size() for x in shares) / 1e6
    print(f"{len(shares)} share tensors of {args.preset} at {args.size}: {megabytes:.1f} MB")
    results = []
    for name, fn in (("pytorch", lambda x: x.sum(1)), ("triton", colsum.column_sums)):
        ms = time_ms(graph_or_call(lambda fn=fn: [fn(x) for x in shares], device), args.repeats, args.warmup)
        results.append({"case": name, "ms": ms, "gb_per_s": megabytes / ms})
        print(f"{name:>8}: {ms:8.4f} ms for all of them ({megabytes / ms:.1f} GB/s of shares read)")
    if args.out:
        write_report(args.out, {**report_header("tools/bench_colsum.py", argv, device), "preset": args.preset,
                                "size": args.size, "shapes": shapes, "megabytes": megabytes, "results": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
