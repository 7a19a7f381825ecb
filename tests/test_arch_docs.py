"""docs/model.md stays accurate: its presets table and its ``mvcodec arch`` example are generated."""

from __future__ import annotations

from pathlib import Path

from mvhinerv.cli.arch import presets_markdown

DOC = Path(__file__).resolve().parents[1] / "docs" / "model.md"


def test_presets_table_matches_code():
    assert presets_markdown(1920, 1080, 65, (1, 13)) in DOC.read_text(encoding="utf-8")


def test_arch_example_matches_cli(cli):
    result = cli(["arch", "--preset", "S", "--size", "2048x1088", "--frames", "65", "--views", "10"])
    assert result.exit_code == 0
    text = DOC.read_text(encoding="utf-8")
    for line in result.output.splitlines():
        assert line.rstrip() in text, line
