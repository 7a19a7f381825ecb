"""The CI tiny CTC sweep: ``mvcodec ctc run tools/ctc_tiny.yaml`` end to end on the CPU.

The shipped sweep (one tiny sequence, the ``tiny`` preset at three λ with the ``ci`` schedule,
VVenC ``faster`` and x265 ``ultrafast`` at three QP pairs) is run once for the module; the tests
then check what a reader of the report relies on:

- every job succeeded (an anchor binary missing here fails the sweep: the anchors come with
  imageio-ffmpeg, so CI always has them);
- every RD curve is monotone (quality rises strictly with bytes, ``ctc.bdrate.RdCurve``) on
  Y-PSNR, YUV-PSNR and IV-PSNR, the measures the BD-rates are taken on;
- ``summary.json`` holds a finite BD-rate of MV-HiNeRV against each anchor on those measures,
  i.e. the curves overlap in quality (the QP pairs and λ of ``ctc_tiny.yaml`` are chosen so they
  do, ``docs/training.md``).

In the default run: three ``ci`` encodes, both anchors and the report took 3 min 39 s on the
2-core development machine (2026-11-21, another job running), inside `make test`'s 15 minutes.

The BD-rate values themselves are not asserted: they are the result being measured, not a
property of the code (they are printed; run pytest with ``-s``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from ctc.bdrate import RdCurve
from ctc.harness import load_ctc_config, load_results
from ctc.report import measure_named, rd_points

REPO = Path(__file__).resolve().parents[1]
SWEEP = REPO / "tools" / "ctc_tiny.yaml"
#: The measures whose BD-rates must be finite (the synthesis and depth measures are reported too).
MEASURES = ("y_psnr", "yuv_psnr", "ivpsnr")


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """(config, job records, output folder) of one run of the shipped tiny sweep."""
    from click.testing import CliRunner

    from mvhinerv.cli import main

    out = tmp_path_factory.mktemp("ctc_tiny")
    result = CliRunner().invoke(main, ["ctc", "run", str(SWEEP), "-o", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    print(result.output)
    return load_ctc_config(SWEEP), load_results(out), out


def test_every_job_succeeds(sweep):
    config, records, _ = sweep
    failed = [(r["codec"], r["label"], r.get("error")) for r in records if r.get("status") != "ok"]
    assert not failed
    expected = sum(len(c.rate_points) for c in config.codecs) * len(config.sequences)
    assert len(records) == expected


@pytest.mark.parametrize("measure", MEASURES)
def test_every_rd_curve_is_monotone(sweep, measure):
    config, records, _ = sweep
    for seq in config.sequences:
        for codec in config.codecs:
            points = rd_points(records, seq.name, codec.name, measure_named(measure))
            assert len(points) == len(codec.rate_points), (codec.name, points)
            RdCurve.from_points([p[0] for p in points], [p[1] for p in points],
                                where=f"{seq.name} {codec.name} {measure}")  # raises if not monotone


def test_mvhinerv_lambda_trades_rate_for_quality(sweep):
    """Larger λ: more bytes and a higher Y-PSNR, point by point in λ order (not just after sorting)."""
    config, records, _ = sweep
    (codec,) = [c for c in config.codecs if c.type == "mvhinerv"]
    ours = sorted((r for r in records if r["codec"] == codec.name), key=lambda r: r["rate_point"]["lambda"])
    rates = [r["bytes"] for r in ours]
    quality = [r["metrics"]["mean"]["y_psnr"] for r in ours]
    assert rates == sorted(rates) and len(set(rates)) == len(rates), rates
    assert quality == sorted(quality) and len(set(quality)) == len(quality), quality


def test_summary_has_finite_bd_rates_against_both_anchors(sweep):
    config, _, out = sweep
    summary = json.loads((out / "summary.json").read_text())["summary"]
    (test,) = [c.name for c in config.codecs if not c.is_anchor]
    anchors = [c.name for c in config.codecs if c.is_anchor]
    assert len(anchors) == 2
    for anchor in anchors:
        row = summary[f"{test} vs {anchor}"]
        print(f"{test} vs {anchor}: " + ", ".join(f"{k} {v:+.1f} %" for k, v in row.items() if v is not None))
        for measure in MEASURES:
            value = row[measure_named(measure).label]
            assert value is not None and math.isfinite(value), (anchor, measure, row)
    assert "BD-rate" in (out / "report.md").read_text()
