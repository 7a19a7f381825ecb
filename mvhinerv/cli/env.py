"""``mvcodec env``: versions, devices and encoders found (what every bug report needs)."""

from __future__ import annotations

import json

import click

from ctc.environment import environment_report
from mvhinerv.cli.group import main


@main.command("env")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def env_command(as_json: bool) -> None:
    """Python, torch, CUDA devices, constriction, PyAV, ffmpeg and its VVenC/x265 support."""
    report = environment_report()
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    width = max(len(k) for k in report)
    for key, value in report.items():
        if isinstance(value, list):
            value = "; ".join(str(v) for v in value) or "none"
        click.echo(f"{key:<{width}}  {value}")
