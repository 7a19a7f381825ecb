"""CTC.yaml parsing: valid sweeps, and one clear error per malformed input."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctc.errors import InputError
from ctc.harness import load_ctc_config, plan_jobs, rate_point_label

REPO = Path(__file__).resolve().parents[1]


def test_tiny_sweep_parses_into_jobs():
    config = load_ctc_config(REPO / "tools" / "ctc_tiny.yaml")
    assert [c.type for c in config.codecs] == ["mvhinerv", "vvenc", "x265"]
    assert [c.is_anchor for c in config.codecs] == [False, True, True]
    jobs = plan_jobs(config)
    assert len(jobs) == 9
    assert {j.label for j in jobs} >= {"lambda-0.25", "qp-47-42"}


def test_rate_point_labels_are_file_names():
    assert rate_point_label({"lambda": 0.5}) == "lambda-0.5"
    assert rate_point_label({"qp_texture": 32, "qp_depth": 27}) == "qp-32-27"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("name: [unclosed", "malformed YAML"),
        ("- a list", "mapping at the top level"),
        ("sequences: [{content: linear}]\ncodecs: [{type: vvenc, qps: [[32, 27]]}]\nbogus: 1", "unknown key"),
        ("sequences: []\ncodecs: [{type: vvenc, qps: [[32, 27]]}]", "no sequences"),
        ("sequences: [{content: linear}]\ncodecs: [{type: jpeg, qps: [[1, 2]]}]", "unknown type"),
        ("sequences: [{content: linear}]\ncodecs: [{type: mvhinerv, lambdas: [0]}]", "lambda must be > 0"),
        ("sequences: [{content: linear}]\ncodecs: [{type: x265}]", "no rate points"),
        ("sequences: [{content: linear, path: a.yaml}]\ncodecs: [{type: x265, qps: [[1, 2]]}]", "exactly one"),
        ("sequences: [{content: linear}]\ncodecs: [{type: x265, qps: [[30, 25]]}]\nframes: 0", "positive integer"),
    ],
)
def test_malformed_configs_name_the_file(tmp_path, text, problem):
    path = tmp_path / "ctc.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        load_ctc_config(path)
    assert str(path) in str(err.value)
    assert problem in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_config_is_a_one_line_cli_error(cli, tmp_path):
    result = cli(["ctc", "run", tmp_path / "nope.yaml", "-o", tmp_path / "out"])
    assert result.exit_code == 2
    assert "nope.yaml" in result.output and "no such file" in result.output
    assert not (tmp_path / "out").exists()
