"""``mvcodec ctc run CTC.yaml -o DIR``: the CTC sweep and its report."""

from __future__ import annotations

import click

from mvhinerv.cli.group import main


@main.group("ctc")
def ctc_group() -> None:
    """Common-test-condition sweeps: sequences × codecs × rate points → report."""


@ctc_group.command("run")
@click.argument("config_path", metavar="CTC.yaml", type=click.Path(dir_okay=False))
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Output folder: jobs/, report.md, plots/ (an existing one is resumed).")
@click.option("--retry-failed", is_flag=True, help="Run failed jobs again instead of keeping their record.")
def ctc_run(config_path: str, out_dir: str, retry_failed: bool) -> None:
    """Run (or resume) a sweep and write DIR/report.md; finished jobs are skipped."""
    from ctc.harness import load_ctc_config, run_ctc
    from ctc.report import summary_table

    config = load_ctc_config(config_path)
    from mvhinerv.ctc_codec import mvhinerv_codec

    run_ctc(config, out_dir, extra_factories={"mvhinerv": mvhinerv_codec}, log=click.echo,
            retry_failed=retry_failed)
    _print_summary(out_dir, summary_table)


@ctc_group.command("report")
@click.argument("config_path", metavar="CTC.yaml", type=click.Path(dir_okay=False))
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(file_okay=False, exists=True),
              help="The sweep's output folder (its jobs/ are read).")
def ctc_report(config_path: str, out_dir: str) -> None:
    """Rebuild DIR/report.md from the job results already in DIR/jobs."""
    from ctc.harness import load_ctc_config, load_results
    from ctc.report import summary_table, write_report

    config = load_ctc_config(config_path)
    write_report(config, load_results(out_dir), out_dir)
    _print_summary(out_dir, summary_table)


def _print_summary(out_dir: str, summary_table) -> None:
    import json
    from pathlib import Path

    summary = json.loads((Path(out_dir) / "summary.json").read_text())
    click.echo(f"report: {Path(out_dir) / 'report.md'}")
    if summary["bd_rates"]:
        click.echo("\n".join(summary_table(summary["bd_rates"])))
