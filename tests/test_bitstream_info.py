"""``mvcodec info``: the header table, byte components, JSON, and one-line errors (exit 2)."""

from __future__ import annotations

import json

from bitstream_support import GOLDEN_DIR, golden_bytes

GOLDEN = GOLDEN_DIR / "v1_0_entropy.bin"


def test_info_prints_header_and_components(cli):
    result = cli(["info", GOLDEN])
    assert result.exit_code == 0, result.output
    out = result.output
    for text in ("format 1.0", "GoldenScene", "viewport", "Equirectangular", "0.3..inf", "grid_scale",
                 "shared weights", "grids v0", "grids v2", "side information", "bpp", "Mbps"):
        assert text in out, text


def test_info_json_adds_up(cli):
    result = cli(["info", GOLDEN, "--json"])
    assert result.exit_code == 0
    report = json.loads(result.output)
    s = report["summary"]
    assert s["file_bytes"] == len(golden_bytes())
    assert report["sequence"]["coded_views"] == ["v0", "v2"]
    assert [c["name"] for c in report["cameras"]] == ["v0", "v1", "v2", "viewport"]
    assert report["arch"]["channels"] == [16, 12, 8]
    assert len(report["tensors"]) == 8
    assert s["bits_per_param"]["total"] * s["params"]["total"] == 8 * s["file_bytes"]


def one_line_error(result) -> str:
    assert result.exit_code == 2
    err = result.stderr.strip()
    assert err.startswith("mvcodec: error: ") and "\n" not in err and "Traceback" not in result.output
    return err


def test_info_missing_file(cli, tmp_path):
    assert "no such bitstream" in one_line_error(cli(["info", tmp_path / "none.bin"]))


def test_info_damaged_files(cli, tmp_path):
    data = golden_bytes()
    cases = {
        "truncated.bin": data[:200],
        "magic.bin": b"RIFF" + data[4:],
        "future.bin": data[:4] + b"\x07\x00\x00\x00" + data[8:],
        "crc.bin": data[:100] + bytes([data[100] ^ 1]) + data[101:],
    }
    expected = {"truncated.bin": "runs past the end", "magic.bin": "not an MV-HiNeRV bitstream",
                "future.bin": "unsupported version 7.0", "crc.bin": "CRC"}
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        err = one_line_error(cli(["info", path]))
        assert str(path) in err and expected[name] in err, err
