"""Bits per parameter after stage 2, weights and grids apart, and the side-information share.

    python tools/bench_rate.py                                  # the ci run of tests/test_train_run.py
    python tools/bench_rate.py --preset S --size 128x72 --frames 3 --lam 100 --schedule ci
    python tools/bench_rate.py --sequence DIR/seq.yaml --preset S --schedule fast --lam 2 \
        --channels 0 --batch 4 --device cuda            # real content (mvcodec content make ...)

Trains on the smooth synthetic RGB-D video of ``tests/test_train_run.py`` (CPU) or on a sequence
(``--sequence``, any device; frame-mode batches of ``--batch`` frames), exports the
quantised model, writes the bitstream and reports, at the 7-bit step initialisation of stage 2
and after stage 2: exact bits per parameter of the weights (linear/conv), the grids, the biases,
and of the whole file; the side information (tensor records) and header bytes. The numbers go
to ``docs/training.md`` ("Rate") and ``docs/performance.md`` ("Bitstream rate").
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from test_train_run import SmoothVideo  # noqa: E402  (the content of the ci training test)

from bitstream import BitstreamContents, bitstream_summary, write_bitstream  # noqa: E402
from mvhinerv.arch import arch_from_preset  # noqa: E402
from mvhinerv.config import EncodeConfig  # noqa: E402
from mvhinerv.model import MVHiNeRV  # noqa: E402
from mvhinerv.quant import tensor_bits  # noqa: E402
from mvhinerv.train import train_model  # noqa: E402
from mvhinerv.train.schedule import SCHEDULES  # noqa: E402

_VIEW_SUFFIX = re.compile(r"\.view\d+$")


def bits_by_kind(tensors, arch) -> dict[str, dict[str, float]]:
    """{kind: {params, bits, bits_per_param}} for weight / grid / bias (exact coder bits)."""
    kinds = {c.name: c.kind for c in MVHiNeRV(arch).coded_parameters()}
    acc: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for t in tensors:
        kind = kinds[_VIEW_SUFFIX.sub("", t.name)]
        acc[kind][0] += t.numel
        acc[kind][1] += tensor_bits(t)
    return {k: {"params": int(n), "bits": b, "bits_per_param": b / n} for k, (n, b) in sorted(acc.items())}


def file_summary(tensors, arch, video, real: bool = False) -> dict:
    """Bytes per component of the bitstream these tensors make (the sequence's own record if
    ``real``, else a minimal one with the sample sequence's cameras)."""
    if real:
        from mvhinerv.codec import sequence_params

        return bitstream_summary(write_bitstream(BitstreamContents(sequence_params(video), arch.to_dict(),
                                                                   tuple(tensors))))
    sys.path.insert(0, str(REPO / "tools"))
    from make_golden import sample_sequence

    base = sample_sequence().cameras[0]
    cams = tuple(dataclasses.replace(base, name=f"v{i}", coded=True, resolution=(video.width, video.height))
                 for i in range(len(video.views)))
    seq = dataclasses.replace(sample_sequence(), cameras=cams, num_frames=video.num_frames)
    data = write_bitstream(BitstreamContents(seq, arch.to_dict(), tuple(tensors)))
    return bitstream_summary(data)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--channels", type=int, default=64, help="override the preset's width (0: keep)")
    parser.add_argument("--size", default="64x36")
    parser.add_argument("--views", type=int, default=3)
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--schedule", default="ci")
    parser.add_argument("--lam", type=float, default=400.0)
    parser.add_argument("--init-bits", type=int, default=EncodeConfig.init_bits,
                        help="stage-2 step initialisation (symmetric quantiser bits)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--sequence", type=Path, help="train on this sequence (seq.yaml) instead of the ci content")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, help="frames per step (default: all frames of the ci content)")
    parser.add_argument("--step-travel", type=float,
                        help="override the last phase's step_travel (0: plain lr_step, as before the floor)")
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.sequence:
        from ctc.sequence import load_sequence

        video = load_sequence(args.sequence)
    else:
        width, height = (int(x) for x in args.size.split("x"))
        video = SmoothVideo(args.views, args.frames, width, height)
    schedule = args.schedule
    if args.step_travel is not None:  # a variant of the schedule, registered under its own name
        base = SCHEDULES[schedule]
        last = dataclasses.replace(base.phases[-1], step_travel=args.step_travel)
        schedule = f"{schedule}-travel{args.step_travel:g}"
        SCHEDULES[schedule] = dataclasses.replace(base, name=schedule, phases=base.phases[:-1] + (last,))
    extra = {"channels": args.channels} if args.channels else {}
    arch = arch_from_preset(args.preset, video.width, video.height, video.num_frames, len(video.views), **extra)
    config = EncodeConfig(lam=args.lam, schedule=schedule, patch=None, batch=args.batch or video.num_frames,
                          seed=0, log_every=10, init_bits=args.init_bits)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory() as work:
        result = train_model(video, arch, config, device=args.device, work_dir=work, progress=False)
    seconds = time.monotonic() - t0
    summary = file_summary(result.tensors, result.arch, video, real=args.sequence is not None)
    m = result.metrics
    out = {
        "setup": vars(args) | {"json": None, "sequence": str(args.sequence), "seconds": round(seconds, 1),
                               "size": f"{video.width}x{video.height}", "views": len(video.views),
                               "frames": video.num_frames, "params": sum(t.numel for t in result.tensors)},
        "stage1": {k: m["stage1"].get(k, 0.0) for k in ("psnr_rgb", "psnr_depth", "loss", "skipped_steps")},
        "stage2": {k: m["stage2"].get(k, 0.0) for k in ("psnr_rgb", "psnr_depth", "bits_at_init", "bits", "lr_step_peak",
                                                        "steps", "loss", "skipped_steps")},
        "timings": result.timings,
        "kinds": bits_by_kind(result.tensors, result.arch),
        "file": {"bytes": summary["bytes"], "file_bytes": summary["file_bytes"], "params": summary["params"]["total"],
                 "bits_per_param_total": summary["bits_per_param"]["total"],
                 "side_info_share": summary["bytes"]["side_info"] / summary["file_bytes"]},
    }
    text = json.dumps(out, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
