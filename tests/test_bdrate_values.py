"""BD-rate / BD-PSNR: published regression values, sanity cases, the bjontegaard package, the CLI."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest

from ctc.bdrate import bd_compare, bd_psnr, bd_rate, bd_rate_table, read_rd_csv
from ctc.errors import InputError

# bjontegaard package README example (miv_ctc.md §5.2)
RA = [9487.76, 4593.60, 2486.44, 1358.24]
QA = [40.037, 38.615, 36.845, 34.851]
RT = [9787.80, 4469.00, 2451.52, 1356.24]
QT = [40.121, 38.651, 36.970, 34.987]


@pytest.mark.parametrize("method, rate, psnr", [("pchip", -4.4175, 0.1197), ("cubic", -4.4205, 0.1204),
                                                ("akima", -4.4252, 0.1194)])
def test_published_example(method, rate, psnr):
    assert round(bd_rate(RA, QA, RT, QT, method), 4) == rate
    assert round(bd_psnr(RA, QA, RT, QT, method), 4) == psnr


@pytest.mark.parametrize("method", ["pchip", "cubic", "akima"])
def test_ten_percent_less_rate_is_minus_ten_percent(method):
    assert bd_rate(RA, QA, [r * 0.9 for r in RA], QA, method) == pytest.approx(-10.0, abs=1e-9)
    assert bd_rate(RA, QA, RA, QA, method) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("method", ["pchip", "cubic", "akima"])
def test_equals_bjontegaard_package_on_random_curves(method):
    bj = pytest.importorskip("bjontegaard")
    rng = np.random.default_rng(["pchip", "cubic", "akima"].index(method))
    for _ in range(20):
        n = 4
        ra = np.sort(rng.uniform(500, 20000, n))
        qa = np.sort(rng.uniform(30, 42, n))
        rt = np.sort(ra * rng.uniform(0.7, 1.2, n))
        qt = np.sort(qa + rng.uniform(-0.5, 0.8, n))
        if np.any(np.diff(rt) <= 0) or np.any(np.diff(qt) <= 0):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the package warns about low overlap
            want_rate = bj.bd_rate(ra, qa, rt, qt, method=method, min_overlap=0)
            want_psnr = bj.bd_psnr(ra, qa, rt, qt, method=method, min_overlap=0)
        # cubic fits of random points can be badly conditioned: compare relative to the value
        assert bd_rate(ra, qa, rt, qt, method) == pytest.approx(want_rate, rel=1e-7, abs=1e-8)
        assert bd_psnr(ra, qa, rt, qt, method) == pytest.approx(want_psnr, rel=1e-7, abs=1e-8)


def test_points_are_sorted_and_order_does_not_matter():
    assert bd_rate(RA[::-1], QA[::-1], RT, QT) == pytest.approx(bd_rate(RA, QA, RT, QT))


def test_bad_rd_data_raises_in_strict_api_and_is_nan_in_compare():
    with pytest.raises(InputError, match="monotone"):
        bd_rate(RA, [40.0, 38.0, 39.0, 34.0], RT, QT)
    with pytest.raises(InputError, match="overlap"):
        bd_rate(RA, QA, RT, [q + 20 for q in QT])
    with pytest.raises(InputError, match="at least 2"):
        bd_rate([1000.0], [30.0], RT, QT)
    with pytest.raises(InputError, match="positive"):
        bd_rate([0.0, 10.0], [30.0, 31.0], RT, QT)
    with pytest.raises(InputError, match="unknown interpolation"):
        bd_compare(RA, QA, RT, QT, method="linear")
    res = bd_compare(RA, [40.0, 38.0, 39.0, 34.0], RT, QT)
    assert math.isnan(res["bd_rate"]) and "monotone" in res["note"]


def test_low_overlap_is_flagged_not_fatal():
    res = bd_compare(RA, QA, RT, [q + 4 for q in QT])
    assert res["low_overlap"] is True and math.isfinite(res["bd_rate"]) and "overlap" in res["note"]
    assert bd_compare(RA, QA, RT, QT)["low_overlap"] is False


def test_table_per_sequence_and_arithmetic_mean():
    anchor = {"s1": list(zip(RA, QA)), "s2": list(zip(RA, QA))}
    test = {"s1": list(zip(RT, QT)), "s2": [(r * 0.9, q) for r, q in zip(RA, QA)]}
    table = bd_rate_table(anchor, test)
    rates = [row["bd_rate"] for row in table["rows"]]
    assert rates[0] == pytest.approx(-4.4175, abs=1e-4) and rates[1] == pytest.approx(-10.0)
    assert table["mean"]["bd_rate"] == pytest.approx(sum(rates) / 2)
    missing = bd_rate_table(anchor, {"s1": test["s1"]})
    assert math.isnan(missing["mean"]["bd_rate"]) and missing["rows"][1]["note"] == "no test points"


def _write_csv(path, rows, header="sequence,rate,psnr"):
    path.write_text(header + "\n" + "\n".join(",".join(str(v) for v in row) for row in rows) + "\n")
    return path


def test_csv_and_cli(tmp_path, cli):
    a = _write_csv(tmp_path / "a.csv", [("s1", r, q) for r, q in zip(RA, QA)])
    b = _write_csv(tmp_path / "b.csv", [("s1", r, q) for r, q in zip(RT, QT)])
    assert read_rd_csv(a)["s1"][0] == (RA[0], QA[0])
    res = cli(["bdrate", "--anchor", a, "--test", b, "--json"])
    assert res.exit_code == 0
    data = json.loads(res.output)
    assert round(data["mean"]["bd_rate"], 4) == -4.4175
    res = cli(["bdrate", "--anchor", a, "--test", b, "--method", "akima"])
    assert res.exit_code == 0 and "-4.4252" in res.output
    no_seq = _write_csv(tmp_path / "c.csv", [(r, q) for r, q in zip(RT, QT)], header="rate,PSNR")
    assert list(read_rd_csv(no_seq)) == ["c"]


def test_bad_csv_is_one_line_exit_2(tmp_path, cli):
    a = _write_csv(tmp_path / "a.csv", [("s1", r, q) for r, q in zip(RA, QA)])
    bad = _write_csv(tmp_path / "bad.csv", [("s1", "x", 30)])
    nocol = _write_csv(tmp_path / "nocol.csv", [("s1", 1, 30)], header="sequence,bitrate,psnr")
    for path, message in ((bad, "line 2"), (nocol, "no 'rate' column"), (tmp_path / "none.csv", "no such file")):
        res = cli(["bdrate", "--anchor", a, "--test", path])
        assert res.exit_code == 2 and message in res.output
        assert len(res.output.strip().splitlines()) == 1
