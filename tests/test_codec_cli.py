"""``mvcodec encode`` / ``mvcodec decode``: reports, and bad input → one line, exit 2, no output."""

from __future__ import annotations

import struct

import pytest
from bitstream_support import GOLDEN_DIR
from codec_support import fake_train, make_sequence

from bitstream import layout, read_bitstream
from bitstream.container import assemble, header_records

GOLDEN_MODEL = GOLDEN_DIR / "v1_0_model_tiny.bin"


def one_line_error(result) -> str:
    assert result.exit_code == 2, result.output
    err = result.stderr.strip()
    assert err.startswith("mvcodec: error: ") and "\n" not in err and "Traceback" not in result.output
    return err


@pytest.fixture(scope="module")
def sequence(tmp_path_factory):
    return make_sequence(tmp_path_factory.mktemp("cli") / "src")


def test_encode_prints_estimated_and_actual_side_by_side(cli, sequence, tmp_path, monkeypatch):
    monkeypatch.setattr("mvhinerv.train.train_model", fake_train)
    out = tmp_path / "out.bin"
    result = cli(["encode", sequence, "-o", out, "--preset", "tiny", "--schedule", "ci", "--lambda", "5",
                  "--device", "cpu", "-q"])
    assert result.exit_code == 0, result.output
    text = result.output
    for word in ("bytes", "bpp", "Mbps", "estimated (training)", "actual (decoded file)", "texture Y PSNR",
                 "YUV 6:1:1", "depth 16-bit PSNR", "time:"):
        assert word in text, word
    assert out.is_file() and out.with_name("out.bin.config.yaml").is_file()


def test_decode_cli_writes_a_sequence(cli, tmp_path):
    result = cli(["decode", GOLDEN_MODEL, "-o", tmp_path / "dec", "--views", "v1", "--frames", "0:1",
                  "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "dec" / "seq.yaml").is_file()
    assert sorted(p.name for p in (tmp_path / "dec").glob("*.yuv")) == [
        "v1_depth_64x48_yuv420p16le.yuv", "v1_texture_64x48_yuv420p10le.yuv"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--lambda", "0"], "lambda"),
        (["--preset", "huge"], "unknown preset"),
        (["--schedule", "forever"], "unknown schedule"),
    ],
)
def test_encode_bad_options(cli, sequence, tmp_path, args, message):
    out = tmp_path / "out.bin"
    err = one_line_error(cli(["encode", sequence, "-o", out, "--device", "cpu", "-q", *args]))
    assert message in err
    assert not out.exists()


def test_encode_missing_sequence(cli, tmp_path):
    out = tmp_path / "out.bin"
    err = one_line_error(cli(["encode", tmp_path / "nothing.yaml", "-o", out, "-q"]))
    assert "nothing.yaml" in err and not out.exists()


def crafted_absurd_header() -> bytes:
    """A file with valid CRCs whose first camera is 0 pixels wide."""
    contents = read_bitstream(GOLDEN_MODEL.read_bytes())
    records, payloads = header_records(contents)
    next(v for r, v, _ in records if r is layout.CAMERA)["width"] = 0
    return assemble(b"".join(r.pack(v, w, check=False) for r, v, w in records), payloads)


def damaged_files() -> dict[str, tuple[bytes, str]]:
    data = GOLDEN_MODEL.read_bytes()
    return {
        "truncated": (data[: len(data) - 100], "sections end"),
        "magic": (b"MVHX" + data[4:], "not an MV-HiNeRV bitstream"),
        "crc": (data[:-1] + bytes([data[-1] ^ 0x40]), "CRC"),
        "major": (data[:4] + struct.pack("<HH", 9, 0) + data[8:], "unsupported version 9.0"),
        "absurd": (crafted_absurd_header(), "width = 0"),
        "empty": (b"", "ends inside the 16-byte preamble"),
    }


@pytest.mark.parametrize("name", list(damaged_files()))
def test_decode_damaged_file_is_one_line_and_writes_nothing(cli, tmp_path, name):
    content, message = damaged_files()[name]
    path = tmp_path / f"{name}.bin"
    path.write_bytes(content)
    out = tmp_path / "dec"
    err = one_line_error(cli(["decode", path, "-o", out, "--device", "cpu"]))
    assert str(path) in err and message in err, err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no scratch or partial files


@pytest.mark.parametrize(
    "args, message",
    [(["--views", "v7"], "not coded"), (["--frames", "1:9"], "outside"), (["--frames", "a:b"], "START:STOP")],
)
def test_decode_bad_options(cli, tmp_path, args, message):
    out = tmp_path / "dec"
    err = one_line_error(cli(["decode", GOLDEN_MODEL, "-o", out, "--device", "cpu", *args]))
    assert message in err and not out.exists()


def test_decode_missing_file(cli, tmp_path):
    err = one_line_error(cli(["decode", tmp_path / "none.bin", "-o", tmp_path / "dec"]))
    assert "no such bitstream" in err


def test_decode_rejects_an_architecture_that_does_not_fit_the_tensors(cli, tmp_path):
    """A consistent file (valid CRCs) whose arch asks for a far larger model: refused before the
    network is built."""
    contents = read_bitstream(GOLDEN_MODEL.read_bytes())
    records, payloads = header_records(contents)
    next(v for r, v, _ in records if r is layout.ARCH_ENTRY and v["key"] == "channels")["value"] = [4096]
    path = tmp_path / "big.bin"
    path.write_bytes(assemble(b"".join(r.pack(v, w) for r, v, w in records), payloads))
    err = one_line_error(cli(["decode", path, "-o", tmp_path / "dec", "--device", "cpu"]))
    assert "parameters but the file holds" in err
    assert not (tmp_path / "dec").exists()


def test_encode_set_passes_settings_and_rejects_bad_ones(cli, sequence, tmp_path, monkeypatch):
    seen = {}

    def spy(mvv, arch, config, **kwargs):
        seen["config"] = config
        return fake_train(mvv, arch, config, **kwargs)

    monkeypatch.setattr("mvhinerv.train.train_model", spy)
    out = tmp_path / "out.bin"
    result = cli(["encode", sequence, "-o", out, "--preset", "tiny", "--device", "cpu", "-q",
                  "--set", "patch=frame", "--set", "init_bits=6"])
    assert result.exit_code == 0, result.output
    assert seen["config"].patch is None and seen["config"].init_bits == 6
    assert "init_bits: 6" in out.with_name("out.bin.config.yaml").read_text()
    for bad, message in ((["--set", "bogus=1"], "bogus"), (["--set", "lam=3"], "use --lambda"),
                         (["--set", "init_bits=40"], "init_bits"), (["--set", "dwconv=cudnn"], "dwconv")):
        err = one_line_error(cli(["encode", sequence, "-o", tmp_path / "bad.bin", "--device", "cpu", "-q", *bad]))
        assert message in err
        assert not (tmp_path / "bad.bin").exists()


def test_encode_refuses_fused_kernels_without_a_gpu(cli, sequence, tmp_path, monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    out = tmp_path / "fused.bin"
    err = one_line_error(cli(["encode", sequence, "-o", out, "--preset", "tiny", "--device", "cpu", "-q",
                              "--set", "dwconv=fused"]))
    assert "'fused' needs a CUDA GPU" in err
    assert not out.exists()


def test_decoder_compiles_only_where_it_pays_off():
    import torch

    from mvhinerv.codec import COMPILE_FROM_PIXELS, should_compile

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert not should_compile(cpu, 10 * COMPILE_FROM_PIXELS)
    assert not should_compile(cuda, COMPILE_FROM_PIXELS - 1) and should_compile(cuda, COMPILE_FROM_PIXELS)
    assert should_compile(cpu, 1, True) and not should_compile(cuda, 10 * COMPILE_FROM_PIXELS, False)


def test_decode_no_compile_flag_and_python_dash_m(tmp_path):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "mvhinerv", "decode", str(GOLDEN_MODEL), "-o", str(tmp_path / "d"),
                             "--frames", "0:1", "--device", "cpu", "--no-compile"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "d" / "seq.yaml").is_file()
    assert "Usage: mvcodec" in subprocess.run([sys.executable, "-m", "mvhinerv", "--help"], capture_output=True,
                                              text=True).stdout
