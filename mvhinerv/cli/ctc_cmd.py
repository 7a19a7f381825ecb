"""``mvcodec ctc run|report``: the CTC sweep and its report (``docs/ctc.md``).

Exit status: 0 when every job is ``ok``; 1 when the sweep ran but some jobs failed (they are in
the report and are re-run by ``--retry-failed``); 2 for a user error (CTC.yaml, a missing
sequence, a malformed result file), reported on one line before anything is written.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from ctc.errors import InputError
from mvhinerv.cli.group import main


@main.group("ctc")
def ctc_group() -> None:
    """Common-test-condition sweeps: sequences × codecs × rate points → report."""


def load_checked_config(config_path: str):
    """``CTC.yaml`` parsed by :func:`ctc.harness.load_ctc_config`, its MV-HiNeRV codecs checked too."""
    from ctc.harness import load_ctc_config
    from mvhinerv.ctc_codec import CodecOptions

    config = load_ctc_config(config_path)
    for spec in config.codecs:
        if spec.type == "mvhinerv":
            try:
                CodecOptions.from_spec(spec)
            except InputError as err:
                raise InputError(config_path, f"codecs: {err}") from None
    return config


@ctc_group.command("run")
@click.argument("config_path", metavar="CTC.yaml", type=click.Path(dir_okay=False))
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Output folder: jobs/, report.md, plots/ (an existing one is resumed).")
@click.option("--retry-failed", is_flag=True, help="Run failed jobs again instead of keeping their record.")
@click.option("--codec", "codecs", multiple=True, metavar="NAME",
              help="Run only this codec's jobs (repeatable); e.g. MV-HiNeRV on a GPU machine, anchors elsewhere.")
@click.option("--sequence", "sequences", multiple=True, metavar="NAME",
              help="Run only this sequence's jobs (repeatable); results already in DIR still enter the report.")
def ctc_run(config_path: str, out_dir: str, retry_failed: bool, codecs: tuple[str, ...],
            sequences: tuple[str, ...]) -> None:
    """Run (or resume) a sweep and write DIR/report.md; finished jobs are skipped.

    Exits 1 when some jobs failed (listed in the report), 2 on a user error.
    """
    from ctc.harness import run_ctc
    from mvhinerv.ctc_codec import mvhinerv_codec

    config = load_checked_config(config_path)
    records = run_ctc(config, out_dir, extra_factories={"mvhinerv": mvhinerv_codec}, log=click.echo,
                      retry_failed=retry_failed, codecs=codecs or None, sequences=sequences or None)
    _print_summary(out_dir)
    failed = sum(r["status"] != "ok" for r in records)
    if failed:
        click.echo(f"{failed} of {len(records)} jobs failed (see {Path(out_dir) / 'report.md'}; "
                   "--retry-failed runs them again)", err=True)
        raise SystemExit(1)


@ctc_group.command("report")
@click.argument("config_path", metavar="CTC.yaml", type=click.Path(dir_okay=False))
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="The sweep's output folder (its jobs/ are read).")
def ctc_report(config_path: str, out_dir: str) -> None:
    """Rebuild DIR/report.md, DIR/summary.json and the plots from the results in DIR/jobs."""
    from ctc.harness import load_results
    from ctc.report import write_report

    config = load_checked_config(config_path)
    write_report(config, load_results(out_dir), out_dir)
    _print_summary(out_dir)


def _print_summary(out_dir: str) -> None:
    """The report's path and its headline table (from ``summary.json``)."""
    from ctc.report import summary_table

    summary = json.loads((Path(out_dir) / "summary.json").read_text())
    click.echo(f"report: {Path(out_dir) / 'report.md'}")
    if summary["comparisons"]:
        click.echo("\n".join(summary_table(summary["comparisons"])))
