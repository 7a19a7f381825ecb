"""The CTC report on hand-made job records with known BD-rates: per sequence, mean, flags, the
summary table and JSON, plots, failed jobs, and WS-PSNR for equirectangular content."""

from __future__ import annotations

import json
import math

import pytest
from ctc_support import ANCHOR_RATES, QUALITIES, curve, known_records, record

from ctc.errors import InputError
from ctc.harness import CodecSpec, CtcConfig, SequenceSpec
from ctc.report import MEASURES, bd_rates, compare, measure_named, quality, summary_table, write_report

CODECS = {"mvh": False, "x265": True}


def _config(sequences=("s1", "s2")):
    codecs = (CodecSpec("mvh", "mvhinerv", ({"lambda": 1.0},)),
              CodecSpec("x265", "x265", ({"qp_texture": 32, "qp_depth": 27},)))
    return CtcConfig("known", tuple(SequenceSpec(s, content="linear13") for s in sequences), codecs)


def test_known_bd_rates_per_sequence_and_mean():
    ivpsnr = measure_named("ivpsnr")
    result = compare(known_records(), "mvh", "x265", ivpsnr, "pchip")
    rows = {r["sequence"]: r for r in result["rows"]}
    assert rows["s1"]["bd_rate"] == pytest.approx(-10.0, abs=1e-9)
    assert rows["s2"]["bd_rate"] == pytest.approx(-20.0, abs=1e-9)
    assert result["mean"]["bd_rate"] == pytest.approx(-15.0, abs=1e-9)
    assert rows["s1"]["note"] == "" and not rows["s1"]["low_overlap"]
    # at equal rate the test is better: BD-PSNR > 0
    assert rows["s2"]["bd_psnr"] > rows["s1"]["bd_psnr"] > 0
    # every measure that the records hold, none of the synthesis ones
    got = {c["measure"] for c in bd_rates(known_records(), CODECS, "pchip")}
    assert got == {"y_psnr", "yuv_psnr", "ivpsnr", "depth_psnr"}


def test_failed_and_non_finite_points_are_left_out():
    records = known_records()
    records.append(record("s1", "mvh", "mvhinerv", "bad", 500.0, {}, status="failed"))
    records.append(record("s1", "mvh", "mvhinerv", "lossless", 99999.0, {"ivpsnr": math.inf}))
    result = compare(records, "mvh", "x265", measure_named("ivpsnr"), "pchip")
    assert result["rows"][0]["bd_rate"] == pytest.approx(-10.0, abs=1e-9)


def test_monotonicity_and_overlap_flags():
    records = curve("s1", "x265", "x265", ANCHOR_RATES)
    records += curve("s1", "mvh", "mvhinerv", ANCHOR_RATES, qualities=(30.0, 34.0, 33.0, 39.0))  # not monotone
    records += curve("s2", "x265", "x265", ANCHOR_RATES)
    records += curve("s2", "mvh", "mvhinerv", ANCHOR_RATES, qualities=[q + 7.0 for q in QUALITIES])  # overlap 20 %
    records += curve("s3", "x265", "x265", ANCHOR_RATES[:1])  # one point only
    records += curve("s3", "mvh", "mvhinerv", ANCHOR_RATES)
    rows = {r["sequence"]: r for r in compare(records, "mvh", "x265", measure_named("y_psnr"), "pchip")["rows"]}
    assert math.isnan(rows["s1"]["bd_rate"]) and "not monotone" in rows["s1"]["note"]
    assert rows["s2"]["low_overlap"] and "< 75 %" in rows["s2"]["note"] and math.isfinite(rows["s2"]["bd_rate"])
    assert math.isnan(rows["s3"]["bd_rate"]) and "at least 2 RD points" in rows["s3"]["note"]


def test_report_files(tmp_path):
    records = known_records() + [record("s2", "mvh", "mvhinerv", "p9", 0.0, {}, status="failed")]
    report = write_report(_config(), records, tmp_path)
    text = report.read_text()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["summary"]["mvh vs x265"]["IV-PSNR"] == pytest.approx(-15.0, abs=1e-9)
    assert summary["failed"] == [{"sequence": "s2", "codec": "mvh", "label": "p9", "error": "RuntimeError: boom"}]
    headline = text.split("## Summary")[1].split("##")[0]
    assert "| mvh | x265 | -15.00 | -15.00 | -15.00 | -15.00 |" in headline
    assert "| mvh | x265 | IV-PSNR | -10.00 |" in text and "| mvh | x265 | IV-PSNR | -20.00 |" in text
    assert "## Failed jobs" in text and "| s2 | mvh | p9 | RuntimeError: boom |" in text
    plots = sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert "s1_IV-PSNR.png" in plots and len(plots) == 8  # 2 sequences × 4 measures with data
    assert all((tmp_path / "plots" / p).read_bytes()[:4] == b"\x89PNG" for p in plots)
    assert "![s1 IV-PSNR](plots/s1_IV-PSNR.png)" in text
    assert "Equirectangular" not in text
    assert "| codec | rate point | bytes | Mbps | bpp | Y-PSNR | YUV-PSNR | IV-PSNR | depth PSNR | enc s | dec s |" in text


def test_summary_table_shows_nan_mean_as_na_with_the_mean_of_the_others():
    records = known_records() + curve("s3", "x265", "x265", ANCHOR_RATES)  # s3: no test points
    lines = summary_table(bd_rates(records, CODECS, "pchip"))
    assert lines[0].startswith("| codec | anchor | BD-rate Y-PSNR (%)")
    cell = "n/a (-15.00 over 2 of 3)"
    assert lines[2] == f"| mvh | x265 | {cell} | {cell} | {cell} | {cell} |"
    only_anchor = curve("s3", "x265", "x265", ANCHOR_RATES) + curve("s3", "mvh", "mvhinerv", ANCHOR_RATES[:1])
    assert summary_table(bd_rates(only_anchor, CODECS, "pchip"))[2] == "| mvh | x265 | n/a | n/a | n/a | n/a |"


def test_missing_jobs_and_every_environment_are_reported(tmp_path):
    """A sweep split between machines: jobs not run yet are listed, each machine is described."""
    records = [r for r in known_records() if not (r["sequence"] == "s2" and r["codec"] == "mvh")]
    for r in records:
        r["environment"] = {"host": "gpu-box" if r["codec"] == "mvh" else "cpu-box"}
    config = _config()
    text = write_report(config, records, tmp_path).read_text()
    summary = json.loads((tmp_path / "summary.json").read_text())
    # the known records are labelled p0..p3, so none of _config's four jobs (labelled by the harness) is done
    assert summary["missing"] == [{"sequence": "s1", "codec": "mvh", "label": "lambda-1"},
                                  {"sequence": "s1", "codec": "x265", "label": "qp-32-27"},
                                  {"sequence": "s2", "codec": "mvh", "label": "lambda-1"},
                                  {"sequence": "s2", "codec": "x265", "label": "qp-32-27"}]
    assert "## Missing jobs" in text and "| s2 | mvh | lambda-1 |" in text
    env = text.split("## Environment")[1]
    assert "Jobs of mvh:\n\n- host: gpu-box" in env and "Jobs of x265:\n\n- host: cpu-box" in env


def test_erp_sequences_use_ws_psnr(tmp_path):
    # plain PSNR says the codecs are equal; WS-PSNR (what the CTC uses for ERP) says −10 %
    records = []
    for r, q in zip(ANCHOR_RATES, QUALITIES):
        records.append(record("erp", "x265", "x265", f"a{r}", r, {"y_psnr": q, "ws_y_psnr": q, "ivpsnr": q}))
        records.append(record("erp", "mvh", "mvhinerv", f"t{r}", r, {"y_psnr": q, "ws_y_psnr": q + 0.5,
                                                                     "ivpsnr": q}))
    y = measure_named("y_psnr")
    assert quality(records[1], y) == pytest.approx(QUALITIES[0] + 0.5)
    assert compare(records, "mvh", "x265", y, "pchip")["rows"][0]["bd_psnr"] == pytest.approx(0.5)
    text = write_report(_config(("erp",)), records, tmp_path).read_text()
    assert "Equirectangular views: Y-PSNR are WS-PSNR" in text


def test_measures():
    assert [m.name for m in MEASURES][:3] == ["y_psnr", "yuv_psnr", "ivpsnr"]
    with pytest.raises(InputError, match="unknown measure 'psnr'"):
        measure_named("psnr")
