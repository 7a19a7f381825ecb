"""``mvcodec bdrate --results DIR``: BD-rates over harness result folders, equal to the report's."""

from __future__ import annotations

import json

import pytest
from ctc_support import ANCHOR_RATES, curve, known_records, write_records

from ctc.harness import CodecSpec, CtcConfig, SequenceSpec
from ctc.report import write_report


@pytest.fixture()
def results(tmp_path):
    # a second anchor, 'vvenc', that needs 0.8× the rate of x265 everywhere
    records = known_records()
    for seq in ("s1", "s2"):
        records += curve(seq, "vvenc", "vvenc", [0.8 * r for r in ANCHOR_RATES])
    return write_records(tmp_path / "sweep", records)


def _one_line_exit_2(result, *needles):
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    for needle in needles:
        assert needle in result.output


def test_json_per_sequence_and_mean(cli, results):
    res = cli(["bdrate", "--results", results, "--anchor", "x265", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["measure"] == "ivpsnr" and data["method"] == "pchip"
    (only,) = data["comparisons"]
    assert (only["test"], only["anchor"]) == ("mvh", "x265")
    assert [round(r["bd_rate"], 6) for r in only["rows"]] == [-10.0, -20.0]
    assert only["mean"]["bd_rate"] == pytest.approx(-15.0, abs=1e-9)


def test_default_pairs_and_text(cli, results):
    res = cli(["bdrate", "--results", results, "--measure", "depth_psnr", "--method", "akima"])
    assert res.exit_code == 0, res.output
    blocks = res.output.strip().split("\n\n")
    # every MV-HiNeRV codec against every anchor, in the order of the result folders
    assert [b.splitlines()[0] for b in blocks] == ["mvh vs vvenc: depth PSNR", "mvh vs x265: depth PSNR"]
    assert "mean" in blocks[1] and "-15.0000" in blocks[1] and "(akima)" in blocks[1]
    # against vvenc (0.8× x265's rate): s1 0.9/0.8 → +12.5 %, s2 0.8/0.8 → 0 %
    assert "12.5000" in blocks[0] and "0.0000" in blocks[0]
    # an anchor may be the test when named
    res = cli(["bdrate", "--results", results, "--test", "vvenc", "--anchor", "x265", "--json"])
    assert json.loads(res.output)["comparisons"][0]["mean"]["bd_rate"] == pytest.approx(-20.0, abs=1e-9)


def test_same_numbers_as_the_report(cli, results):
    config = CtcConfig("r", (SequenceSpec("s1", content="linear13"), SequenceSpec("s2", content="linear13")),
                       (CodecSpec("mvh", "mvhinerv", ({"lambda": 1.0},)),
                        CodecSpec("x265", "x265", ({"qp_texture": 32, "qp_depth": 27},))))
    from ctc.harness import load_results

    write_report(config, load_results(results), results)
    summary = json.loads((results / "summary.json").read_text())
    res = cli(["bdrate", "--results", results, "--anchor", "x265", "--measure", "y_psnr", "--json"])
    got = json.loads(res.output)["comparisons"][0]
    want = next(c for c in summary["comparisons"] if c["measure"] == "y_psnr")
    assert got["rows"] == want["rows"] and got["mean"] == want["mean"]


def test_errors_are_one_line(cli, results, tmp_path):
    _one_line_exit_2(cli(["bdrate", "--results", results, "--anchor", "vtm"]), "--anchor", "no codec 'vtm'")
    _one_line_exit_2(cli(["bdrate", "--results", tmp_path / "empty"]), "no job results")
    _one_line_exit_2(cli(["bdrate", "--results", results, "--quality", "psnr"]), "--quality")
    _one_line_exit_2(cli(["bdrate", "--results", results, "--measure", "synth_ivpsnr"]), "synth IV-PSNR")
    _one_line_exit_2(cli(["bdrate", "--anchor", "a.csv", "--measure", "ivpsnr"]), "--measure")
    _one_line_exit_2(cli(["bdrate", "--anchor", "a.csv"]), "--test", "CSV")
    only_anchors = write_records(tmp_path / "anchors", curve("s1", "x265", "x265", ANCHOR_RATES))
    _one_line_exit_2(cli(["bdrate", "--results", only_anchors]), "no MV-HiNeRV codec", "--test")
    bad = results / "jobs" / "s1" / "mvh" / "p0.json"
    bad.write_text("{")
    _one_line_exit_2(cli(["bdrate", "--results", results]), str(bad))
