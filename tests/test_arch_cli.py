"""``mvcodec arch``: table and JSON output, one-line errors with exit status 2."""

from __future__ import annotations

import json

import pytest


def test_arch_json_hinerv_s(cli):
    result = cli(["arch", "--preset", "S", "--size", "1920x1080", "--frames", "600", "--views", "1",
                  "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["arch"]["scales"] == [5, 3, 2, 2]
    assert abs(report["parameters"]["total"] / 3.19e6 - 1) < 0.02
    assert abs(report["macs_per_pixel"]["total"] / 87e3 - 1) < 0.02
    assert report["levels"][-1]["height"] == 1080


def test_arch_table(cli):
    result = cli(["arch", "--preset", "tiny", "--size", "270x480", "--frames", "5", "--views", "3"])
    assert result.exit_code == 0, result.output
    assert "grids (x3 views)" in result.output and "total" in result.output
    assert "L4 270x480" in result.output


@pytest.mark.parametrize("args,needle", [
    (["--preset", "nope", "--size", "64x64", "--frames", "5"], "unknown preset"),
    (["--preset", "S", "--size", "64by64", "--frames", "5"], "--size"),
    (["--preset", "S", "--size", "64x64", "--frames", "0"], "frames"),
    (["--preset", "S", "--size", "64x64", "--frames", "5", "--scales", "5,x"], "--scales"),
    (["--preset", "S", "--size", "8x8", "--frames", "5"], "too small"),
])
def test_arch_bad_input_exits_2_with_one_line(cli, args, needle):
    result = cli(["arch", *args])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mvcodec: error: ") and needle in lines[0]
