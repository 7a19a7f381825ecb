"""Quality of the view synthesizer against ground truth: the CTC "best reference" on synthetic content.

For each synthetic sequence (made with ``mvcodec content make NAME --scale mini`` into a work
folder, or given with ``--sequence DIR``), every held-out camera with ground truth and every pose
trace with ground truth is rendered from the *uncoded* source views, with the TMIV-style VWS
(:func:`ctc.synthesis.synthesize`) and with the nearest-view baseline
(:func:`ctc.synthesis.nearest_view_baseline`), and compared with the exact rendering the content
generator wrote (PSNR Y / YUV 6:1:1, WS-PSNR for ERP targets, IV-PSNR; :mod:`ctc.metrics`).
Optionally (``--source-views``) source cameras are re-synthesised from all views too, as the
CTC does for its "source view" outputs.

Prints a table, writes JSON (``--out``) and a Markdown table (``--markdown``) for
docs/results/synthesis.md.

Usage::

    python tools/eval_synthesis.py --scale mini --frames 3 --out synth_eval.json --markdown table.md
    python tools/eval_synthesis.py --sequence path/to/seqdir --frames 2 --device cpu
    python tools/eval_synthesis.py --scale-study linear13:h0,h1 --factors 1,2,4 --device cpu \
        --variant noblur:edge_blur_block=0
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ctc.metrics.aggregate import frame_metrics, mean_of  # noqa: E402
from ctc.posetrace import pose_camera, pose_trace_frames, read_pose_trace  # noqa: E402
from ctc.sequence import MultiViewVideo, load_sequence  # noqa: E402
from ctc.synthesis import SynthParams, nearest_view_baseline, synthesize  # noqa: E402
from ctc.synthesis.sequence import frame_sources  # noqa: E402
from ctc.device import resolve_device  # noqa: E402
from ctc.yuv import YuvReader  # noqa: E402

METHODS = {"vws": synthesize, "baseline": nearest_view_baseline}
"""The two renderers compared; ``--variant`` adds VWS runs with other parameters."""


DEFAULT_CONTENT = ("linear13", "planar16", "arc11", "erp10")
"""The synthetic CTC-like sequences with held-out cameras and pose-trace ground truth."""


def make_content(name: str, scale: str, work: Path, device: str) -> Path:
    """``mvcodec content make NAME --scale SCALE`` (the library call) into ``work``, once."""
    from ctc.content.make import make_sequence

    out = work / f"{name}-{scale}"
    if not (out / "seq.yaml").exists():
        make_sequence(name, scale, out, device=device)
    return out


def _erp(cam):
    return (cam.hor_range, cam.ver_range) if cam.is_erp else None


def _evaluate_target(mvv: MultiViewVideo, names, cams, src_frames, truth_frames, device,
                     runs: dict[str, tuple]) -> dict:
    """Render each (camera, source frame) with every run (name → (function, SynthParams)); metrics
    per frame against ``truth_frames``."""
    per_method: dict[str, list[dict]] = {m: [] for m in runs}
    inpainted: dict[str, list[float]] = {m: [] for m in runs}
    seconds: dict[str, float] = {m: 0.0 for m in runs}
    for cam, t, gt in zip(cams, src_frames, truth_frames):
        sources = frame_sources(mvv, names, t)
        for name, (method, params) in runs.items():
            t0 = time.perf_counter()
            out = method(sources, cam, params, device)
            seconds[name] += time.perf_counter() - t0
            metrics = frame_metrics(gt, out.texture, cam.bit_depth_color, metrics=("psnr", "ivpsnr"),
                                    erp=_erp(cam))
            per_method[name].append(metrics)
            inpainted[name].append(out.inpainted_fraction)
    return {m: {"mean": mean_of(per_method[m]), "per_frame": per_method[m],
                "inpainted": float(np.mean(inpainted[m])), "ms_per_frame": 1000 * seconds[m] / len(cams)}
            for m in runs}


def _pose_truth(seq_dir: Path, csv: Path, cam) -> Path | None:
    """The ground-truth texture of a pose trace: ``poses/{trace}_texture_{w}x{h}_*.yuv`` as the
    content generator writes it (or the same name beside the CSV)."""
    pattern = f"{csv.stem}_texture_{cam.width}x{cam.height}_*.yuv"
    hits = sorted(seq_dir.glob(f"poses/{pattern}")) + sorted(csv.parent.glob(pattern))
    return hits[0] if hits else None


def _source_camera_at(cam, sources, tolerance: float = 1e-4) -> str | None:
    """The name of a source camera with ``cam``'s pose (position within ``tolerance`` m, same
    rotation to 10⁻³ degrees), or None."""
    for src in sources:
        if (max(abs(a - b) for a, b in zip(src.position, cam.position)) <= tolerance
                and max(abs(a - b) for a, b in zip(src.rotation, cam.rotation)) <= 1e-3):
            return src.name
    return None


def evaluate_sequence(seq_dir: Path, frames: int, pose_rows: int, device, runs: dict[str, tuple],
                      source_views: bool) -> dict:
    mvv = load_sequence(seq_dir)
    names = mvv.views
    n = min(frames, mvv.num_frames)
    targets: dict[str, dict] = {}
    for cam in mvv.sequence.held_out_cameras:
        try:
            view = mvv.open_view(cam.name)
        except Exception:  # noqa: BLE001 (no ground truth file for this camera)
            continue
        truth = [tuple(p[0] for p in view.texture_yuv(t, 1)) for t in range(n)]
        res = _evaluate_target(mvv, names, [cam] * n, list(range(n)), truth, device, runs)
        targets[f"held-out {cam.name}"] = {"kind": "held-out", "frames": n, **res}
    if source_views:
        for name in names[:: max(1, len(names) // 3)]:
            cam = mvv.camera(name)
            truth = [tuple(p[0] for p in mvv.texture_yuv(name, t, 1)) for t in range(n)]
            res = _evaluate_target(mvv, names, [cam] * n, list(range(n)), truth, device, runs)
            targets[f"source {name}"] = {"kind": "source", "frames": n, **res}
    viewport = mvv.sequence.viewport
    csvs = sorted(seq_dir.glob("*.csv")) + sorted((seq_dir / "poses").glob("*.csv"))
    for csv in csvs if viewport is not None else []:
        gt_path = _pose_truth(seq_dir, csv, viewport)
        if gt_path is None:
            continue
        poses = read_pose_trace(csv)
        # Rows spread evenly over the trace, k·N/r for k < r (the synthetic traces are periodic,
        # so the last row repeats the first); each shows the mirrored source frame of its row.
        count = min(pose_rows, len(poses))
        rows = sorted({k * len(poses) // count for k in range(count)})
        mirrored = pose_trace_frames(len(poses), mvv.num_frames)
        cams = {k: pose_camera(viewport, poses[k], name=f"{csv.stem}@{k}") for k in rows}
        reader = YuvReader(gt_path, viewport.width, viewport.height, f"yuv420p{viewport.bit_depth_color}le")
        # A row whose pose is a source camera's is a different experiment (the baseline copies
        # that view exactly): it is reported on its own line, not averaged into the trace.
        on_source = {k: _source_camera_at(cams[k], [mvv.camera(v) for v in names]) for k in rows}
        for suffix, chosen in (("", [k for k in rows if on_source[k] is None]),
                               (" on a source camera", [k for k in rows if on_source[k] is not None])):
            if not chosen:
                continue
            truth = [tuple(p[0] for p in reader.read(k, 1)) for k in chosen]
            res = _evaluate_target(mvv, names, [cams[k] for k in chosen], [mirrored[k] for k in chosen],
                                   truth, device, runs)
            label = ", ".join(f"row {k}" + (f" = {on_source[k]}" if on_source[k] else "") for k in chosen)
            targets[f"pose {csv.stem}{suffix}"] = {"kind": "pose", "frames": len(chosen), "rows": label,
                                                   **res}
    return {"sequence": mvv.sequence.content_name, "path": str(seq_dir), "views": len(names),
            "size": f"{mvv.width}x{mvv.height}", "targets": targets}


def scaled_camera(cam, factor: int):
    """``cam`` with ``factor``× the pixels per side (same pose, field of view and depth range)."""
    import dataclasses

    w, h = cam.resolution
    return dataclasses.replace(cam, resolution=(w * factor, h * factor),
                               focal=tuple(f * factor for f in cam.focal),
                               principal_point=tuple(c * factor for c in cam.principal_point))


def scale_study(name: str, targets: list[str], num_sources: int, factors: list[int], device,
                runs: dict[str, tuple]) -> list[dict]:
    """Render frame 0 of ``name`` at the mini resolution × each factor, straight from the content
    generator's scene (no files), and compare the runs on each held-out target.

    TMIV's edge blurring (step 8) works on a fixed 5×5-pixel window with a fixed disparity
    threshold, so the share of the image it blurs, and its cost against exact ground truth,
    shrink with the resolution; this study separates that effect from the rest of the renderer.
    Only the ``num_sources`` sources nearest each target are used (the same at every factor) to
    keep CPU runs short; the baseline picks among the same sources.
    """
    import math

    from ctc.content.make import plan_sequence
    from ctc.content.plan import frame_planes
    from ctc.synthesis import SourceView

    plan = plan_sequence(name, "mini", device)
    seq = plan.sequence
    rows = []
    for factor in factors:
        for tname in targets:
            target = scaled_camera(seq.camera(tname), factor)
            nearest = sorted(seq.source_cameras, key=lambda c: math.dist(c.position, target.position))
            sources = []
            for cam in (scaled_camera(c, factor) for c in nearest[:num_sources]):
                planes, samples = frame_planes(cam, *plan.source.frame(cam, 0.0))
                sources.append(SourceView(cam, planes, samples))
            gt, _ = frame_planes(target, *plan.source.frame(target, 0.0))
            row = {"factor": factor, "size": f"{target.width}x{target.height}", "target": tname}
            for run, (method, params) in runs.items():
                out = method(sources, target, params, device)
                row[run] = frame_metrics(gt, out.texture, target.bit_depth_color,
                                         metrics=("psnr", "ivpsnr"))
            print(f"{name} {tname} {row['size']}: " + " | ".join(
                f"{r} IV-PSNR {row[r]['ivpsnr']:.2f} PSNR-Y {row[r]['y_psnr']:.2f}" for r in runs), flush=True)
            rows.append(row)
    return rows


def markdown(results: list[dict], header: dict, runs: list[str]) -> str:
    """One row per target: IV-PSNR / PSNR-Y / YUV-PSNR (dB) of every run, the VWS − baseline
    IV-PSNR gain and the inpainted fractions."""
    lines = [f"Date {header['date']}, device {header['device']} ({header['device_name']}), "
             f"torch {header['torch']}.", "", f"Command: `{header['command']}`", "",
             "IV-PSNR / PSNR-Y / PSNR-YUV (6:1:1) in dB, mean over the frames evaluated.", "",
             "| sequence | target | frames | " + " | ".join(runs) + " | Δ IV-PSNR vws − baseline | inpainted vws / baseline |",
             "|---|---|---|" + "---|" * len(runs) + "---|---|"]
    for seq in results:
        for name, t in seq["targets"].items():
            cells = [f"{t[r]['mean']['ivpsnr']:.2f} / {t[r]['mean']['y_psnr']:.2f} / {t[r]['mean']['yuv_psnr']:.2f}"
                     for r in runs]
            gain = t["vws"]["mean"]["ivpsnr"] - t["baseline"]["mean"]["ivpsnr"]
            frames = f"{t['frames']} ({t['rows']})" if "rows" in t else str(t["frames"])
            lines.append(f"| {seq['sequence']} | {name} | {frames} | " + " | ".join(cells)
                         + f" | {gain:+.2f} | {100 * t['vws']['inpainted']:.1f} % / "
                         f"{100 * t['baseline']['inpainted']:.1f} % |")
    return "\n".join(lines) + "\n"


def parse_variant(text: str) -> tuple[str, SynthParams]:
    """``NAME:key=value,key=value`` → (name, SynthParams with those fields changed)."""
    name, _, body = text.partition(":")
    values = {}
    for item in filter(None, body.split(",")):
        key, _, raw = item.partition("=")
        values[key.strip()] = json.loads(raw)
    return name, SynthParams.from_mapping(values, f"--variant {text}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequence", action="append", help="an existing sequence folder (repeatable)")
    parser.add_argument("--content", default=",".join(DEFAULT_CONTENT),
                        help="comma-separated content names (mvcodec content list)")
    parser.add_argument("--scale", default="mini", choices=["tiny", "mini", "full"])
    parser.add_argument("--frames", type=int, default=3, help="frames per held-out camera")
    parser.add_argument("--pose-rows", type=int, default=4, help="rows per pose trace, spread evenly")
    parser.add_argument("--source-views", action="store_true", help="also re-synthesise some source views")
    parser.add_argument("--variant", action="append", default=[],
                        help="extra VWS run NAME:key=value,... (e.g. noblur:edge_blur_block=0)")
    parser.add_argument("--scale-study", metavar="NAME:CAM,CAM",
                        help="instead of the evaluation: frame 0 of these held-out cameras rendered "
                             "at the mini size × --factors from the scene itself (no files)")
    parser.add_argument("--factors", default="1,2,4", help="resolution factors of --scale-study")
    parser.add_argument("--study-sources", type=int, default=4,
                        help="sources nearest each target used by --scale-study")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (1 on a shared machine: idle threads spin)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--work", help="folder for generated content (default: a temporary folder)")
    parser.add_argument("--out", help="JSON results")
    parser.add_argument("--markdown", help="Markdown table")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    header = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "device": str(device),
              "device_name": torch.cuda.get_device_name(device) if device.type == "cuda"
              else (platform.processor() or platform.machine()) + f", {torch.get_num_threads()} threads",
              "torch": torch.__version__, "command": " ".join(["python tools/eval_synthesis.py", *sys.argv[1:]])}
    runs = {name: (fn, SynthParams()) for name, fn in METHODS.items()}
    for text in args.variant:
        name, params = parse_variant(text)
        runs[name] = (synthesize, params)
    if args.scale_study:
        name, _, cams = args.scale_study.partition(":")
        rows = scale_study(name, cams.split(","), args.study_sources,
                           [int(f) for f in args.factors.split(",")], device, runs)
        if args.out:
            Path(args.out).write_text(json.dumps({**header, "scale_study": rows}, indent=2) + "\n")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work or tmp)
        dirs = [Path(s) for s in args.sequence or []]
        if not dirs:
            dirs = [make_content(n, args.scale, work, str(device)) for n in args.content.split(",")]
        results = []
        for d in dirs:
            res = evaluate_sequence(d, args.frames, args.pose_rows, device, runs, args.source_views)
            results.append(res)
            for name, t in res["targets"].items():
                v, b = t["vws"]["mean"], t["baseline"]["mean"]
                print(f"{res['sequence']:>12} {name:>18}: VWS IV-PSNR {v['ivpsnr']:.2f} PSNR-Y {v['y_psnr']:.2f}"
                      f" | baseline IV-PSNR {b['ivpsnr']:.2f} PSNR-Y {b['y_psnr']:.2f}"
                      f" | inpainted {100 * t['vws']['inpainted']:.1f} % / {100 * t['baseline']['inpainted']:.1f} %"
                      f" | {t['vws']['ms_per_frame']:.0f} ms/frame", flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps({**header, "results": results}, indent=2) + "\n")
    if args.markdown:
        Path(args.markdown).write_text(markdown(results, header, list(runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
