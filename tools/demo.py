"""``make demo``: the main job end to end on a small built-in sequence, command by command.

Each step is a real ``mvcodec`` command, echoed before it runs, so the demo doubles as a worked
example: make content → encode → info → decode → synthesise a held-out camera → metrics → a tiny
CTC sweep with its BD-rate summary. Stops at the first failing step with its exit status.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def steps(out: Path, sequence: str, scale: str) -> list[list[str]]:
    content = out / f"{sequence}-{scale}"
    return [
        ["env"],
        ["content", "list"],
        ["content", "make", sequence, "--scale", scale, "-o", str(content)],
        ["encode", str(content / "seq.yaml"), "-o", str(out / "demo.bin"), "--preset", "tiny",
         "--schedule", "ci", "--lambda", "2", "--device", "cpu"],
        ["info", str(out / "demo.bin")],
        ["decode", str(out / "demo.bin"), "-o", str(out / "decoded")],
        ["synth", str(out / "decoded" / "seq.yaml"), "--camera", "h0", "-o", str(out / "h0_synth.yuv")],
        ["ctc", "run", str(REPO / "tools" / "ctc_tiny.yaml"), "-o", str(out / "ctc")],
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="demo-out", help="output folder")
    parser.add_argument("--sequence", default="linear13", help="built-in sequence (mvcodec content list)")
    parser.add_argument("--scale", default="tiny", choices=["tiny", "mini", "full"])
    args = parser.parse_args()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    exe = str(Path(sys.executable).with_name("mvcodec"))
    for step in steps(out, args.sequence, args.scale):
        print(f"\n$ mvcodec {shlex.join(step)}", flush=True)
        t0 = time.perf_counter()
        code = subprocess.call([exe, *step])
        print(f"  ({time.perf_counter() - t0:.1f} s)", flush=True)
        if code != 0:
            print(f"demo: step failed with exit status {code}", file=sys.stderr)
            return code
    print(f"\ndemo: all steps passed; outputs in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
