"""The CTC report: RD tables, BD-rates, RD plots, fairness notes and the environment.

Written by :func:`ctc.harness.run_ctc` as ``DIR/report.md`` with PNG plots in ``DIR/plots``, and a
machine-readable ``DIR/summary.json`` (BD-rates per sequence and their means). ``mvcodec bdrate
--results DIR`` computes its BD-rates with the same :func:`compare`, so both give one number.

BD-rate practice (miv_ctc.md §5): per sequence, on the rate (bytes: every byte a decoder needs)
and the mean quality of the job (mean over frames per view, then over views), PCHIP by default;
the overall figure is the arithmetic mean of the per-sequence BD-rates (NaN, visibly, when one
sequence has none; the summary then also gives the mean over the sequences that have one, with
their count). An overlap below 75 % and a non-monotone RD curve are flagged, not hidden. Jobs
without results are listed, and every environment that ran jobs is described.

Equirectangular content (miv_ctc.md §1.6: "for ERP sequences PSNR becomes WS-PSNR"): the Y-PSNR
and YUV-PSNR measures take the job's ``ws_y_psnr`` / ``ws_yuv_psnr`` when its views are ERP (the
metrics give the ``ws_*`` keys only then; a sequence mixing ERP and perspective views keeps plain
PSNR, as the ``ws_*`` keys are then not common to all views). The report marks such sequences and
the result files keep both values.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ctc.atomic import atomic_path, write_bytes_atomic
from ctc.errors import InputError


@dataclasses.dataclass(frozen=True)
class Measure:
    """One quality measure of the report: where a job record keeps it and how it is called."""

    name: str
    """Identifier for ``mvcodec bdrate --measure`` and ``summary.json``."""
    label: str
    """Column title in the report."""
    key: str
    """Key in the record's ``<source>.mean`` (:mod:`ctc.metrics.aggregate` naming)."""
    source: str = "metrics"
    """``metrics`` (decoded source views) or ``synthesis`` (synthesised held-out views)."""
    erp_key: str | None = None
    """Key used instead when the record has it, i.e. when the views are ERP (WS-PSNR)."""


MEASURES: tuple[Measure, ...] = (
    Measure("y_psnr", "Y-PSNR", "y_psnr", erp_key="ws_y_psnr"),
    Measure("yuv_psnr", "YUV-PSNR", "yuv_psnr", erp_key="ws_yuv_psnr"),
    Measure("ivpsnr", "IV-PSNR", "ivpsnr"),
    Measure("depth_psnr", "depth PSNR", "depth_psnr"),
    Measure("synth_ivpsnr", "synth IV-PSNR", "ivpsnr", source="synthesis"),
    Measure("synth_y_psnr", "synth Y-PSNR", "y_psnr", source="synthesis", erp_key="ws_y_psnr"),
)
"""The measures reported, in table order."""


def measure_named(name: str) -> Measure:
    """The :class:`Measure` called ``name``; :class:`InputError` on ``--measure`` otherwise."""
    for measure in MEASURES:
        if measure.name == name:
            return measure
    raise InputError("--measure", f"unknown measure {name!r} (known: {', '.join(m.name for m in MEASURES)})")


def _means(record: Mapping[str, Any], measure: Measure) -> Mapping[str, Any]:
    return (record.get(measure.source) or {}).get("mean") or {}


def uses_ws_psnr(record: Mapping[str, Any], measure: Measure) -> bool:
    """True when ``measure`` of this record is WS-PSNR (ERP views)."""
    return measure.erp_key is not None and measure.erp_key in _means(record, measure)


def quality(record: Mapping[str, Any], measure: Measure) -> float:
    """The job's mean value of ``measure`` in dB (WS-PSNR for ERP views; NaN when absent)."""
    means = _means(record, measure)
    value = means.get(measure.erp_key if uses_ws_psnr(record, measure) else measure.key)
    return math.nan if value is None else float(value)


def _ok(records: Iterable[Mapping[str, Any]], sequence: str, codec: str) -> list[Mapping[str, Any]]:
    return [r for r in records if r.get("status") == "ok" and r["sequence"] == sequence and r["codec"] == codec]


def rd_points(records: Iterable[Mapping[str, Any]], sequence: str, codec: str, measure: Measure,
              rate_key: str = "bytes") -> list[tuple[float, float]]:
    """``[(rate, quality)]`` of one codec on one sequence, sorted by rate.

    Failed jobs and non-finite qualities (a lossless job's infinite PSNR, a missing measure) are
    left out. ``rate_key``: ``bytes`` (BD-rate) or ``mbps`` (plots).
    """
    points = sorted((float(r[rate_key]), quality(r, measure)) for r in _ok(records, sequence, codec))
    return [p for p in points if math.isfinite(p[1])]


def compare(records: Sequence[Mapping[str, Any]], test: str, anchor: str, measure: Measure,
            method: str) -> dict[str, Any] | None:
    """BD-rate of codec ``test`` against ``anchor`` on ``measure``, per sequence and mean.

    Returns:
        :func:`ctc.bdrate.bd_rate_table`'s ``{"method", "rows", "mean"}`` plus ``test``,
        ``anchor``, ``measure`` (its name) and ``label``; rows carry ``note`` (too few points,
        not monotone, overlap < 75 %, no points on one side). None when neither codec has a
        point of this measure anywhere.
    """
    from ctc.bdrate import bd_rate_table

    sequences = sorted({r["sequence"] for r in records})
    anchor_points = {s: p for s in sequences if (p := rd_points(records, s, anchor, measure))}
    test_points = {s: p for s in sequences if (p := rd_points(records, s, test, measure))}
    if not anchor_points and not test_points:
        return None
    table = bd_rate_table(anchor_points, test_points, method)
    return {"test": test, "anchor": anchor, "measure": measure.name, "label": measure.label, **table}


def bd_rates(records: Sequence[Mapping[str, Any]], codecs: Mapping[str, bool], method: str) -> list[dict[str, Any]]:
    """:func:`compare` of every codec under test against every anchor, for every measure.

    Args:
        records: job records.
        codecs: codec name → True for anchors, False for codecs under test.
        method: ``pchip``, ``cubic`` or ``akima``.
    """
    tests = [name for name, is_anchor in codecs.items() if not is_anchor]
    anchors = [name for name, is_anchor in codecs.items() if is_anchor]
    found = (compare(records, t, a, m, method) for t in tests for a in anchors for m in MEASURES)
    return [c for c in found if c is not None]


def _fmt(value: Any, digits: int = 2) -> str:
    if isinstance(value, float):
        return "n/a" if not math.isfinite(value) else f"{value:.{digits}f}"
    return str(value)


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in rows]
    return lines


def partial_mean(comparison: Mapping[str, Any]) -> tuple[float, int, int]:
    """(mean BD-rate over the sequences that have one, how many do, how many sequences)."""
    values = [r["bd_rate"] for r in comparison["rows"] if math.isfinite(r["bd_rate"])]
    return (sum(values) / len(values) if values else math.nan), len(values), len(comparison["rows"])


def _summary_cell(comparison: Mapping[str, Any] | None) -> str:
    """The mean BD-rate; when some sequence has none, ``n/a`` and the mean of the others."""
    if comparison is None:
        return "n/a"
    mean = comparison["mean"]["bd_rate"]
    if math.isfinite(mean):
        return _fmt(mean)
    part, k, n = partial_mean(comparison)
    return f"n/a ({_fmt(part)} over {k} of {n})" if k else "n/a"


def summary_table(comparisons: Sequence[Mapping[str, Any]]) -> list[str]:
    """The headline (Markdown lines): mean BD-rate over sequences of each test codec against each anchor.

    The mean is over all sequences (n/a when one has no BD-rate); the cell then also gives the
    mean over the sequences that have one, e.g. ``n/a (601.00 over 2 of 4)``.
    """
    pairs = sorted({(c["test"], c["anchor"]) for c in comparisons})
    labels = [m.label for m in MEASURES if any(c["label"] == m.label for c in comparisons)]
    by_key = {(c["test"], c["anchor"], c["label"]): c for c in comparisons}
    body = [[t, a, *(_summary_cell(by_key.get((t, a, label))) for label in labels)] for t, a in pairs]
    return _table(["codec", "anchor", *(f"BD-rate {label} (%)" for label in labels)], body)


def missing_jobs(config: Any, records: Sequence[Mapping[str, Any]]) -> list[tuple[str, str, str]]:
    """(sequence, codec, rate point label) of the sweep's jobs that have no result yet."""
    from ctc.harness import rate_point_label

    done = {(r["sequence"], r["codec"], r["label"]) for r in records}
    return [(s.name, c.name, rate_point_label(rp)) for s in config.sequences for c in config.codecs
            for rp in c.rate_points if (s.name, c.name, rate_point_label(rp)) not in done]


def environments(records: Sequence[Mapping[str, Any]]) -> list[tuple[list[str], Mapping[str, Any]]]:
    """Each distinct environment of the records (a sweep split between machines has several), with
    the codecs whose jobs ran in it, in first-seen order."""
    out: list[tuple[list[str], Mapping[str, Any]]] = []
    for r in records:
        env = r.get("environment") or {}
        for codecs, seen in out:
            if seen == env:
                if r["codec"] not in codecs:
                    codecs.append(r["codec"])
                break
        else:
            out.append(([r["codec"]], env))
    return out


def plot_rd(records: Sequence[Mapping[str, Any]], sequence: str, codecs: Sequence[str], measure: Measure,
            path: Path) -> bool:
    """One RD plot (Mbps, log scale, vs quality) of every codec on ``sequence``; False if nothing to plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4))
    plotted = False
    for codec in codecs:
        points = rd_points(records, sequence, codec, measure, rate_key="mbps")
        if points:
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=codec)
            plotted = True
    if plotted:
        ax.set_xscale("log")
        ax.set_xlabel("rate (Mbps, log scale)")
        ax.set_ylabel(f"{measure.label} (dB)")
        ax.set_title(f"{sequence}: {measure.label}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return plotted


def _sequence_section(seq: str, ok: Sequence[Mapping[str, Any]], comparisons: Sequence[Mapping[str, Any]],
                      codecs: Sequence[str], out_dir: Path) -> list[str]:
    """RD table, BD-rates and plots of one sequence."""
    from ctc.harness import safe_name

    mine = sorted((r for r in ok if r["sequence"] == seq), key=lambda r: (r["codec"], r["bytes"]))
    lines = ["", f"## {seq}", ""]
    ws = [m.label for m in MEASURES if any(uses_ws_psnr(r, m) for r in mine)]
    if ws:
        lines += [f"Equirectangular views: {', '.join(ws)} are WS-PSNR here (miv_ctc.md §1.6); "
                  "the result files hold both PSNR and WS-PSNR.", ""]
    shown = [m for m in MEASURES if any(not math.isnan(quality(r, m)) for r in mine)]  # no synthesis: no columns
    lines += ["### Rate and quality", ""]
    lines += _table(["codec", "rate point", "bytes", "Mbps", "bpp", *(m.label for m in shown), "enc s", "dec s"],
                    [[r["codec"], r["label"], r["bytes"], r["mbps"], r["bpp"], *(quality(r, m) for m in shown),
                      r.get("encode_seconds", math.nan), r.get("decode_seconds", math.nan)] for r in mine])
    rows = [(c, row) for c in comparisons for row in c["rows"] if row["sequence"] == seq]
    if rows:
        lines += ["", "### BD-rate", ""]
        lines += _table(["codec", "anchor", "measure", "BD-rate (%)", "BD-PSNR (dB)", "flags"],
                        [[c["test"], c["anchor"], c["label"], row["bd_rate"], row["bd_psnr"], row.get("note") or ""]
                         for c, row in rows])
    plots = []
    for measure in shown:
        name = f"{safe_name(seq)}_{safe_name(measure.label)}.png"
        if plot_rd(ok, seq, codecs, measure, out_dir / "plots" / name):
            plots.append(f"![{seq} {measure.label}](plots/{name})")
    if plots:
        lines += ["", "### RD plots", "", *plots]
    return lines


def _fairness_notes(config: Any, records: Sequence[Mapping[str, Any]]) -> list[str]:
    from ctc.harness import rate_point_label

    lines = []
    for spec in config.codecs:
        desc = next((r.get("codec_description") for r in records if r["codec"] == spec.name), None) or {}
        points = ", ".join(rate_point_label(p) for p in spec.rate_points)
        described = "; ".join(f"{k}: {v}" for k, v in desc.items()) or "no description recorded"
        lines.append(f"- **{spec.name}** ({spec.type}): rate points {points}; options "
                     f"{dict(spec.options) or '{}'}; {described}")
    lines.append(f"- Frames per sequence: {config.frames or 'all'}; rate counts every byte a decoder needs "
                 "(the whole MV-HiNeRV file; all texture and depth streams of an anchor).")
    lines.append("- Quality: mean over frames per view, then over views (miv_ctc.md §1.6); IV-PSNR as the "
                 "reference software v7.1; WS-PSNR instead of PSNR for equirectangular views; depth PSNR on "
                 "16-bit normalised-disparity samples.")
    if config.synthesis is not None:
        lines.append("- Synthesised views: held-out cameras rendered with our TMIV-style view-weighting "
                     "synthesizer from the decoded source views, against ground truth.")
    return lines


def write_report(config: Any, records: Sequence[Mapping[str, Any]], out_dir: str | Path) -> Path:
    """Write ``report.md``, ``summary.json`` and the RD plots for a finished (or partial) sweep.

    Args:
        config: the sweep's :class:`ctc.harness.CtcConfig` (codecs, anchors, sequences, method).
        records: job records (:func:`ctc.harness.load_results`), ``ok`` and ``failed``.
    """
    out_dir = Path(out_dir)
    codecs = {c.name: c.is_anchor for c in config.codecs}
    comparisons = bd_rates(records, codecs, config.bd_method)
    ok = [r for r in records if r.get("status") == "ok"]
    failed = [r for r in records if r.get("status") != "ok"]

    lines = [f"# CTC report: {config.name}", ""]
    lines.append(f"Generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `mvcodec ctc`; "
                 f"{len(ok)} jobs ok, {len(failed)} failed. BD-rate method: {config.bd_method} "
                 "(per sequence, on bytes; the overall figure is the mean over sequences; negative = fewer bits).")
    lines += ["", "## Summary: mean BD-rate over sequences", ""]
    lines += (summary_table(comparisons) if comparisons
              else ["No BD-rate could be computed (a codec under test and an anchor with RD points are needed)."])
    lines += ["", "## Fairness notes", "", *_fairness_notes(config, records)]
    for seq in [s.name for s in config.sequences]:
        lines += _sequence_section(seq, ok, comparisons, list(codecs), out_dir)
    if failed:
        lines += ["", "## Failed jobs", ""]
        lines += _table(["sequence", "codec", "rate point", "error"],
                        [[r["sequence"], r["codec"], r["label"], r.get("error", "")] for r in failed])
    missing = missing_jobs(config, records)
    if missing:
        lines += ["", "## Missing jobs", "", f"{len(missing)} jobs of the sweep have no result yet "
                  "(`mvcodec ctc run` resumes them):", ""]
        lines += _table(["sequence", "codec", "rate point"], missing)
    lines += ["", "## Environment"]
    for codecs, env in environments(ok or records) or [([], {})]:
        lines += ["", f"Jobs of {', '.join(codecs)}:" if codecs else "No jobs.", "",
                  *(f"- {k}: {v}" for k, v in env.items())]
    report = out_dir / "report.md"
    write_bytes_atomic(report, ("\n".join(lines) + "\n").encode())
    summary = {f"{t} vs {a}": {c["label"]: c["mean"]["bd_rate"] for c in comparisons
                               if (c["test"], c["anchor"]) == (t, a)}
               for t, a in sorted({(c["test"], c["anchor"]) for c in comparisons})}
    write_bytes_atomic(out_dir / "summary.json", json.dumps(
        {"method": config.bd_method, "comparisons": comparisons, "summary": summary,
         "missing": [dict(zip(("sequence", "codec", "label"), m)) for m in missing],
         "failed": [{k: r.get(k) for k in ("sequence", "codec", "label", "error")} for r in failed]},
        indent=1).encode())
    return report


__all__ = ["MEASURES", "Measure", "bd_rates", "compare", "environments", "measure_named", "missing_jobs",
           "partial_mean", "plot_rd", "quality", "rd_points", "summary_table", "uses_ws_psnr", "write_report"]
