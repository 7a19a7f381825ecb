"""Speed and rate of the anchor encoders (VVenC, x265 via the imageio-ffmpeg binary) on one stream.

The anchors' cost decides how large a CTC sweep can be on a CPU machine (toolchain.md §2: VVenC
`medium` ≈ 2.6 s per 1080p frame on 2 cores). This times the exact anchor command lines
(:mod:`ctc.anchors.commands`) on synthetic panning content with texture-like detail and prints /
writes encode and decode frames per second, bytes and Y-PSNR per codec and preset::

    python tools/bench_anchors.py --size 640x360 --frames 9 --qp 32 --out bench_anchors.json

``--device`` is accepted for symmetry with the other benchmarks; the encoders run on the CPU only.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from ctc.anchors.commands import RawVideo, decode_cmd, encode_cmd
from ctc.anchors.toolchain import describe_tools, require_ffmpeg, run_tool
from ctc.metrics import psnr_planes
from ctc.yuv import YuvReader, write_yuv

CASES = (("vvenc", "faster"), ("vvenc", "medium"), ("x265", "ultrafast"), ("x265", "medium"))


def _content(width: int, height: int, frames: int) -> list[np.ndarray]:
    """Panning 10-bit 4:2:0 planes: sums of sinusoids plus σ = 2 noise, moving 2 px per frame."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:height, : width + 2 * frames]
    base = 512 + 200 * np.sin(xx / 9.0) * np.cos(yy / 13.0) + 120 * np.sin((xx + yy) / 4.0)
    luma = np.stack([base[:, 2 * f: 2 * f + width] for f in range(frames)]) + rng.normal(0, 2, (frames, height, width))
    chroma = np.full((frames, height // 2, width // 2), 512.0) + 40 * np.sin(xx[: height // 2, : width // 2] / 7.0)
    return [np.clip(p, 0, 1023).round().astype(np.uint16) for p in (luma, chroma, chroma.copy())]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--frames", type=int, default=9)
    parser.add_argument("--qp", type=int, default=32)
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="cpu")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    planes = _content(width, height, args.frames)
    report: dict[str, object] = {"size": args.size, "frames": args.frames, "qp": args.qp,
                                 "cpu_count": os.cpu_count(), "load_average_1min": os.getloadavg()[0],
                                 "date": time.strftime("%Y-%m-%d", time.gmtime()), "results": {}}
    with tempfile.TemporaryDirectory(prefix="mvcodec-bench-") as tmp:
        raw = Path(tmp) / "in.yuv"
        write_yuv(raw, planes, "yuv420p10le")
        video = RawVideo(raw, width, height, 30, args.frames)
        for codec, preset in CASES:
            ffmpeg = require_ffmpeg(codec)
            stream, decoded = Path(tmp) / f"{codec}.bin", Path(tmp) / f"{codec}.yuv"
            t0 = time.perf_counter()
            run_tool(encode_cmd(codec, ffmpeg, video, stream, args.qp, preset=preset), f"{codec} encode")
            t1 = time.perf_counter()
            run_tool(decode_cmd(ffmpeg, codec, stream, decoded), f"{codec} decode")
            t2 = time.perf_counter()
            out = YuvReader(decoded, width, height, "yuv420p10le").read()
            psnr = float(np.mean([psnr_planes([p[f] for p in planes], [p[f] for p in out], 10)["y"]
                                  for f in range(args.frames)]))
            report["results"][f"{codec}-{preset}"] = {
                "encoder_version": describe_tools(ffmpeg, codec)["encoder_version"], "bytes": stream.stat().st_size,
                "y_psnr": psnr, "encode_fps": args.frames / (t1 - t0), "decode_fps": args.frames / (t2 - t1)}
    for name, row in report["results"].items():
        print(f"{name:16} {row['bytes']:9d} B  Y-PSNR {row['y_psnr']:6.2f} dB  "
              f"encode {row['encode_fps']:7.2f} fps  decode {row['decode_fps']:7.2f} fps")
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
