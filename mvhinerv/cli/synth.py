"""``mvcodec synth``: render a camera or a pose trace of a (decoded) sequence with the TMIV-style
view-weighting synthesizer (:func:`ctc.synthesis.synthesize_sequence`)."""

from __future__ import annotations

import json

import click

from mvhinerv.cli.group import main


def _views(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [v.strip() for v in value.split(",") if v.strip()]


@main.command("synth")
@click.argument("seq", metavar="SEQ.yaml|DIR", type=click.Path())
@click.option("--camera", help="Camera of the sequence JSON to render (held-out, source or viewport).")
@click.option("--pose-trace", "pose_trace", type=click.Path(),
              help="Pose-trace CSV (X,Y,Z,Yaw,Pitch,Roll): one output frame per row, moving 'viewport'.")
@click.option("--frames", type=int, help="Output frames (default: all frames / all pose-trace rows).")
@click.option("--views", help="Source views to use, comma-separated (default: all).")
@click.option("-o", "--out", "out_texture", required=True, type=click.Path(dir_okay=False),
              help="Output texture, raw YUV 4:2:0 10-bit (yuv420p10le).")
@click.option("--depth-out", "out_depth", type=click.Path(dir_okay=False),
              help="Also write 16-bit normalised-disparity depth (yuv420p16le).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda.")
@click.option("--method", type=click.Choice(["vws", "baseline"]), default="vws", show_default=True,
              help="vws: TMIV-style view weighting; baseline: nearest view forward-warped.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def synth_command(seq: str, camera: str | None, pose_trace: str | None, frames: int | None,
                  views: str | None, out_texture: str, out_depth: str | None, device: str,
                  method: str, as_json: bool) -> None:
    """Synthesise a view of SEQ (a seq.yaml, a TMIV JSON or a decoded sequence folder)."""
    from ctc.synthesis import synthesize_sequence

    def progress(done: int, total: int) -> None:
        if not as_json and (done == total or done % 10 == 0):
            click.echo(f"  frame {done}/{total}", err=True)

    report = synthesize_sequence(seq, camera=camera, pose_trace=pose_trace, frames=frames,
                                 views=_views(views), out_texture=out_texture, out_depth=out_depth,
                                 device=device, method=method, progress=progress)
    for line in report.warnings:
        click.echo(f"mvcodec: warning: {line}", err=True)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    click.echo(f"{report.target}: {report.frames} frames {report.width}x{report.height} from "
               f"{len(report.views)} views on {report.device}, {report.ms_per_frame:.0f} ms/frame, "
               f"{100 * report.mean_inpainted_fraction:.2f} % inpainted -> {report.out_texture}"
               + (f" + {report.out_depth}" if report.out_depth else ""))
