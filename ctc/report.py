"""The CTC report: RD tables, BD-rates, RD plots, fairness notes and the environment.

Written by :func:`ctc.harness.run_ctc` as ``DIR/report.md`` with PNG plots in ``DIR/plots``, and a
machine-readable ``DIR/summary.json`` (BD-rates per sequence and their means).

BD-rate practice (miv_ctc.md §5): per sequence, on the rate (bytes) and the mean quality of the job
(mean over frames per view, then over views), PCHIP by default; the overall figure is the
arithmetic mean of the per-sequence BD-rates. An overlap below 75 % is flagged, not hidden.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ctc.atomic import atomic_path, write_bytes_atomic

#: The quality measures reported, in table order: (key in the job's metric means, label, source).
QUALITY_MEASURES: tuple[tuple[str, str, str], ...] = (
    ("y_psnr", "Y-PSNR", "metrics"),
    ("yuv_psnr", "YUV-PSNR", "metrics"),
    ("ivpsnr", "IV-PSNR", "metrics"),
    ("depth_psnr", "depth PSNR", "metrics"),
    ("ivpsnr", "synth IV-PSNR", "synthesis"),
    ("y_psnr", "synth Y-PSNR", "synthesis"),
)


def quality(record: Mapping[str, Any], key: str, source: str) -> float:
    """The mean of measure ``key`` in a job record (NaN when absent)."""
    block = record.get(source) or {}
    value = (block.get("mean") or {}).get(key)
    return math.nan if value is None else float(value)


def rd_points(records: Iterable[Mapping[str, Any]], sequence: str, codec: str, key: str,
              source: str) -> tuple[list[float], list[float]]:
    """(rates in bytes, qualities) of one codec on one sequence, sorted by rate; failed jobs left out."""
    pts = sorted(
        (float(r["bytes"]), quality(r, key, source))
        for r in records
        if r.get("status") == "ok" and r["sequence"] == sequence and r["codec"] == codec
    )
    pts = [p for p in pts if math.isfinite(p[1])]
    return [p[0] for p in pts], [p[1] for p in pts]


def is_monotone(rates: Sequence[float], qualities: Sequence[float]) -> bool:
    """True when quality strictly increases with rate (what BD-rate interpolation needs)."""
    return all(r1 < r2 and q1 < q2 for r1, r2, q1, q2 in zip(rates, rates[1:], qualities, qualities[1:]))


def bd_rates(records: Sequence[Mapping[str, Any]], codecs: Mapping[str, bool], method: str) -> list[dict[str, Any]]:
    """BD-rate of every MV-HiNeRV codec against every anchor, per sequence and measure.

    Args:
        records: job records.
        codecs: codec name → True for anchors, False for codecs under test.
        method: ``pchip``, ``cubic`` or ``akima``.
    Returns:
        One row per (test, anchor, measure, sequence) with ``bd_rate`` (percent, NaN when it cannot
        be computed), ``bd_psnr`` (dB), ``low_overlap`` and ``note``.
    """
    from ctc.bdrate import bd_compare

    sequences = sorted({r["sequence"] for r in records})
    rows = []
    for test, test_is_anchor in codecs.items():
        if test_is_anchor:
            continue
        for anchor, is_anchor in codecs.items():
            if not is_anchor:
                continue
            for key, label, source in QUALITY_MEASURES:
                for seq in sequences:
                    ra, qa = rd_points(records, seq, anchor, key, source)
                    rt, qt = rd_points(records, seq, test, key, source)
                    row = {"test": test, "anchor": anchor, "measure": label, "sequence": seq}
                    if len(ra) < 2 or len(rt) < 2:
                        if ra or rt:
                            rows.append({**row, "bd_rate": math.nan, "bd_psnr": math.nan,
                                         "low_overlap": False, "note": "fewer than 2 RD points"})
                        continue
                    rows.append({**row, **bd_compare(ra, qa, rt, qt, method=method)})
    return rows


def _mean_bd(rows: Sequence[Mapping[str, Any]], test: str, anchor: str, measure: str) -> float:
    vals = [r["bd_rate"] for r in rows if r["test"] == test and r["anchor"] == anchor and r["measure"] == measure]
    if not vals or any(not math.isfinite(v) for v in vals):
        return math.nan
    return sum(vals) / len(vals)


def _fmt(value: Any, digits: int = 2) -> str:
    if isinstance(value, float):
        return "n/a" if not math.isfinite(value) else f"{value:.{digits}f}"
    return str(value)


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in rows]
    return lines


def summary_table(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The headline: mean BD-rate over sequences of each test codec against each anchor."""
    pairs = sorted({(r["test"], r["anchor"]) for r in rows})
    measures = [label for _, label, _ in QUALITY_MEASURES if any(r["measure"] == label for r in rows)]
    body = [[t, a] + [_mean_bd(rows, t, a, m) for m in measures] for t, a in pairs]
    return _table(["codec", "anchor"] + [f"BD-rate {m} (%)" for m in measures], body)


def plot_rd(records: Sequence[Mapping[str, Any]], sequence: str, codecs: Sequence[str], key: str, label: str,
            source: str, path: Path) -> bool:
    """One RD plot (Mbps vs quality) of every codec on ``sequence``; False when there is nothing to plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4))
    plotted = False
    for codec in codecs:
        pts = sorted(
            (float(r["mbps"]), quality(r, key, source))
            for r in records
            if r.get("status") == "ok" and r["sequence"] == sequence and r["codec"] == codec
        )
        pts = [p for p in pts if math.isfinite(p[1])]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=codec)
            plotted = True
    if plotted:
        ax.set_xscale("log")
        ax.set_xlabel("rate (Mbps, log scale)")
        ax.set_ylabel(f"{label} (dB)")
        ax.set_title(f"{sequence}: {label}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return plotted


def write_report(config: Any, records: Sequence[Mapping[str, Any]], out_dir: str | Path) -> Path:
    """Write ``report.md``, ``summary.json`` and the RD plots for a finished (or partial) sweep."""
    import json

    from ctc.harness import safe_name

    out_dir = Path(out_dir)
    codecs = {c.name: c.is_anchor for c in config.codecs}
    rows = bd_rates(records, codecs, config.bd_method)
    sequences = [s.name for s in config.sequences]
    ok = [r for r in records if r.get("status") == "ok"]
    failed = [r for r in records if r.get("status") != "ok"]
    env = (ok or records or [{}])[0].get("environment", {})

    lines = [f"# CTC report: {config.name}", ""]
    lines.append(f"Generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `mvcodec ctc run`; "
                 f"{len(ok)} jobs ok, {len(failed)} failed. BD-rate method: {config.bd_method} "
                 "(per sequence; the overall figure is the mean over sequences; negative = fewer bits).")
    lines += ["", "## Summary: mean BD-rate over sequences", ""]
    lines += summary_table(rows) if rows else ["No BD-rate could be computed (need ≥ 2 RD points per curve)."]

    lines += ["", "## Fairness notes", ""]
    for spec in config.codecs:
        desc = next((r.get("codec_description") for r in records if r["codec"] == spec.name), {}) or {}
        points = ", ".join(_rate_label(p) for p in spec.rate_points)
        lines.append(f"- **{spec.name}** ({spec.type}): rate points {points}; options "
                     f"{dict(spec.options) or '{}'}; {_describe(desc)}")
    lines.append(f"- Frames per sequence: {config.frames or 'all'}; rate counts every byte a decoder needs "
                 "(the whole MV-HiNeRV file; all texture and depth streams of an anchor).")
    lines.append("- Quality: mean over frames per view, then over views (miv_ctc.md §1.6); IV-PSNR as the "
                 "reference software v7.1; depth PSNR on 16-bit normalised-disparity samples.")
    if config.synthesis is not None:
        lines.append("- Synthesised views: held-out cameras rendered with our TMIV-style view-weighting "
                     "synthesizer from the decoded source views, against ground truth.")

    for seq in sequences:
        lines += ["", f"## {seq}", "", "### Rate and quality", ""]
        body = []
        for r in sorted((r for r in ok if r["sequence"] == seq), key=lambda r: (r["codec"], r["bytes"])):
            body.append([r["codec"], r["label"], r["bytes"], r["mbps"], r["bpp"],
                         *(quality(r, k, s) for k, _, s in QUALITY_MEASURES),
                         r.get("encode_seconds", math.nan), r.get("decode_seconds", math.nan)])
        lines += _table(["codec", "rate point", "bytes", "Mbps", "bpp", *(l for _, l, _ in QUALITY_MEASURES),
                         "enc s", "dec s"], body)
        seq_rows = [r for r in rows if r["sequence"] == seq]
        if seq_rows:
            lines += ["", "### BD-rate", ""]
            lines += _table(["codec", "anchor", "measure", "BD-rate (%)", "BD-PSNR (dB)", "flags"],
                            [[r["test"], r["anchor"], r["measure"], r["bd_rate"], r["bd_psnr"],
                              ("overlap < 75 % " if r.get("low_overlap") else "") + (r.get("note") or "")]
                             for r in seq_rows])
        plots = []
        for key, label, source in QUALITY_MEASURES:
            name = f"{safe_name(seq)}_{safe_name(label)}.png"
            if plot_rd(ok, seq, list(codecs), key, label, source, out_dir / "plots" / name):
                plots.append(f"![{seq} {label}](plots/{name})")
        if plots:
            lines += ["", "### RD plots", "", *plots]

    if failed:
        lines += ["", "## Failed jobs", ""]
        lines += _table(["sequence", "codec", "rate point", "error"],
                        [[r["sequence"], r["codec"], r["label"], r.get("error", "")] for r in failed])
    lines += ["", "## Environment", ""]
    lines += [f"- {k}: {v}" for k, v in env.items()]
    report = out_dir / "report.md"
    write_bytes_atomic(report, ("\n".join(lines) + "\n").encode())
    write_bytes_atomic(out_dir / "summary.json", json.dumps(
        {"bd_rates": rows, "summary": {f"{t} vs {a}": {m: _mean_bd(rows, t, a, m) for m in
                                                        {r['measure'] for r in rows}}
                                       for t, a in sorted({(r['test'], r['anchor']) for r in rows})}},
        indent=1, default=str).encode())
    return report


def _rate_label(point: Mapping[str, Any]) -> str:
    from ctc.harness import rate_point_label

    return rate_point_label(point)


def _describe(desc: Mapping[str, Any]) -> str:
    if not desc:
        return "no description recorded"
    return "; ".join(f"{k}: {v}" for k, v in desc.items())


def group_by(records: Iterable[Mapping[str, Any]], *keys: str) -> dict[tuple, list[Mapping[str, Any]]]:
    """Records grouped by the values of ``keys`` (used by tests and tools)."""
    out: dict[tuple, list[Mapping[str, Any]]] = defaultdict(list)
    for r in records:
        out[tuple(r.get(k) for k in keys)].append(r)
    return dict(out)
