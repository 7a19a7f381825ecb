"""``make demo``: the main job end to end on a small built-in sequence, command by command.

Each step is a real ``mvcodec`` command, echoed before it runs, so the demo doubles as a worked
example: make content → encode → info → decode → synthesise a held-out camera → a tiny CTC sweep
(``tools/ctc_tiny.yaml``) whose last output is its BD-rate summary table. Stops at the first
failing step with its exit status.

The camera synthesised is the first held-out camera of the content's JSON (a camera that is
neither a source view nor ``viewport``), read once the content exists, so every catalogue
sequence works; the stereo pair has none and skips that step.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def held_out_camera(seq_yaml: Path) -> str | None:
    """Name of the first held-out camera of a sequence (None if every camera is coded)."""
    from ctc.sequence import load_sequence

    cameras = load_sequence(seq_yaml).sequence.held_out_cameras
    return cameras[0].name if cameras else None


def steps(out: Path, sequence: str, scale: str) -> Iterator[list[str]]:
    """The demo's ``mvcodec`` argument lists, in order (a generator: later steps read earlier outputs)."""
    content = out / f"{sequence}-{scale}"
    yield ["env"]
    yield ["content", "list"]
    yield ["content", "make", sequence, "--scale", scale, "-o", str(content)]
    yield ["encode", str(content / "seq.yaml"), "-o", str(out / "demo.bin"), "--preset", "tiny",
           "--schedule", "ci", "--lambda", "2", "--device", "cpu"]
    yield ["info", str(out / "demo.bin")]
    yield ["decode", str(out / "demo.bin"), "-o", str(out / "decoded")]
    camera = held_out_camera(content / "seq.yaml")
    if camera is None:
        print(f"\n(no held-out camera in {sequence}: view synthesis skipped)")
    else:
        yield ["synth", str(out / "decoded" / "seq.yaml"), "--camera", camera, "-o", str(out / f"{camera}_synth.yuv")]
    yield ["ctc", "run", str(REPO / "tools" / "ctc_tiny.yaml"), "-o", str(out / "ctc")]


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
    print(f"\ndemo: all steps passed; outputs in {out}; the tiny CTC summary ({out / 'ctc' / 'report.md'}):\n")
    print(summary_section(out / "ctc" / "report.md"))
    return 0


def summary_section(report: Path) -> str:
    """The BD-rate summary table of a CTC report (its ``## Summary`` section, without the title)."""
    text = report.read_text(encoding="utf-8").split("\n## ")
    section = next((part for part in text if part.startswith("Summary")), "")
    return "\n".join(section.splitlines()[1:]).strip()


if __name__ == "__main__":
    sys.exit(main())
