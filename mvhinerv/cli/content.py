"""``mvcodec content list|make``: the synthetic CTC-like test sequences and the real stereo pair
(:mod:`ctc.content`, docs/content.md)."""

from __future__ import annotations

import time

import click

from mvhinerv.cli.group import main


@main.group("content")
def content_group() -> None:
    """Test content with exact depth: synthetic CTC-like rigs and a real stereo pair."""


@content_group.command("list")
def list_command() -> None:
    """One sequence a line: its name, then what it mirrors, rig, projection, views, scales."""
    from ctc.content import list_sequences

    rows = list_sequences()
    width = max(len(name) for name, _ in rows)
    for name, summary in rows:
        click.echo(f"{name:<{width}}  {summary}")


@content_group.command("make")
@click.argument("name")
@click.option("--scale", type=click.Choice(["tiny", "mini", "full"]), default="mini",
              show_default=True, help="tiny: ≤128 px, 3 views, 5 frames; mini: ~480x270, 17 "
              "frames; full: 1920x1080 (ERP 2048x2048), 65 frames.")
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Output folder (JSON, seq.yaml, YUVs, pose traces and their ground truth).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
              show_default=True, help="Where to render.")
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
def make_command(name: str, scale: str, out_dir: str, device: str, quiet: bool) -> None:
    """Write sequence NAME (see `mvcodec content list`) as a complete MIV-format folder."""
    from ctc.content.make import plan_sequence, total_frames, write_plan

    plan = plan_sequence(name, scale, device)
    total = total_frames(plan)
    done = 0
    start = time.perf_counter()

    def progress(prefix: str, frames: int) -> None:
        nonlocal done
        done += frames
        if not quiet and (done == total or done % 25 == 0):
            click.echo(f"  {done}/{total} frames ({prefix})", err=True)

    seq_yaml = write_plan(plan, out_dir, progress)
    click.echo(f"{name} ({scale}): {len(plan.sequence.source_camera_names)} source views, "
               f"{len(plan.sequence.held_out_cameras)} held out, {plan.frames} frames, "
               f"{len(plan.pose_traces)} pose traces, {total} frames rendered in "
               f"{time.perf_counter() - start:.1f} s -> {seq_yaml}")
