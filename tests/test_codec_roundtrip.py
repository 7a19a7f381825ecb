"""``mvhinerv.codec``: encode → bitstream → decode on tiny content (round trip, golden, determinism).

Training is replaced by a double (``fake_train``: a random-initialised model quantised with 7-bit
steps) in the fast tests, so that everything *around* training (bitstream, verification, PSNR,
decoding, output sequence) is tested in seconds; ``test_encode_with_real_training`` (slow) runs
the real ``ci`` schedule.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from bitstream_support import GOLDEN_DIR, REPO, make_golden

from codec_support import H, T, W, fake_train, make_sequence

from bitstream import read_bitstream, read_header
from ctc.camera import Camera
from ctc.sequence import load_sequence
from mvhinerv import codec
from mvhinerv.arch import PRESETS

@pytest.fixture(scope="module")
def encoded(tmp_path_factory):
    """(sequence path, bitstream path, report) of one fake-trained encode with verification."""
    folder = tmp_path_factory.mktemp("codec")
    seq = make_sequence(folder / "src")
    out = folder / "out.bin"
    mp = pytest.MonkeyPatch()
    mp.setattr("mvhinerv.train.train_model", fake_train)
    try:
        report = codec.encode_sequence(seq, out, preset="tiny", schedule="ci", lmbda=10.0, device="cpu",
                                       progress=False)
    finally:
        mp.undo()
    return seq, out, report


def test_encode_writes_a_verified_file_and_its_config(encoded):
    seq, out, report = encoded
    data = out.read_bytes()
    assert report.file_bytes == len(data)
    assert report.payload_bits < 8 * len(data)
    # the model's symbols cost what the training estimated, up to the coder's small overhead
    assert report.estimated_bits <= report.payload_bits <= 1.02 * report.estimated_bits + 64 * 3
    assert set(report.decoded) == {"psnr_rgb", "psnr_depth_level", "psnr_y", "psnr_yuv611", "psnr_depth"}
    assert all(np.isfinite(v) for v in report.decoded.values())
    config = report.config_path.read_text()
    assert "parameter_sha256: " + report.parameter_digest in config and "lam: 10.0" in config
    header = read_header(data)
    assert [c.name for c in header.sequence.cameras] == ["v0", "v1", "v2", "viewport"]
    assert header.sequence.view_names == ("v0", "v1")
    assert header.arch["channels"] == PRESETS["tiny"].channels


def test_verification_psnr_matches_an_independent_decode(encoded, tmp_path):
    """The encoder's PSNR is that of the decoded output files against the source."""
    seq, out, report = encoded
    decoded_seq = codec.decode_bitstream(out, tmp_path / "dec", device="cpu")
    src, dec = load_sequence(seq), load_sequence(decoded_seq)
    se_y = n = 0
    se_d = 0
    for name in src.views:
        y_src, y_dec = src.texture_yuv(name)[0].astype(float), dec.texture_yuv(name)[0].astype(float)
        se_y += ((y_src - y_dec) ** 2).sum()
        n += y_src.size
        se_d += ((src.depth_samples(name).astype(float) - dec.depth_samples(name).astype(float)) ** 2).sum()
    assert 10 * math.log10(1023**2 / (se_y / n)) == pytest.approx(report.decoded["psnr_y"], abs=1e-6)
    assert 10 * math.log10(65535**2 / (se_d / n)) == pytest.approx(report.decoded["psnr_depth"], abs=1e-6)


def test_decoded_output_is_a_complete_sequence(encoded, tmp_path):
    _, out, _ = encoded
    dec = load_sequence(codec.decode_bitstream(out, tmp_path / "dec", device="cpu"))
    assert dec.views == ["v0", "v1"] and dec.num_frames == T and (dec.width, dec.height) == (W, H)
    assert [c.name for c in dec.sequence.cameras] == ["v0", "v1", "v2", "viewport"]
    viewport = dec.sequence.camera("viewport")
    assert viewport.is_erp and math.isinf(viewport.depth_range[1])
    assert dec.sequence.camera("v2").focal == (50.0, 50.0)


def test_partial_decode_equals_the_same_part_of_a_full_decode(encoded, tmp_path):
    _, out, _ = encoded
    full = load_sequence(codec.decode_bitstream(out, tmp_path / "full", device="cpu"))
    part = load_sequence(codec.decode_bitstream(out, tmp_path / "part", views=["v1"], frames="1:2", device="cpu"))
    assert part.views == ["v1"] and part.num_frames == 1
    for a, b in zip(part.texture_yuv("v1"), full.texture_yuv("v1", 1, 1)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(part.depth_samples("v1"), full.depth_samples("v1", 1, 1))
    assert "v0" in part.sequence.camera_names  # the camera stays in the JSON, without data


def test_decode_in_a_fresh_process_recovers_every_parameter(encoded):
    """Determinism: a new interpreter decodes the same symbols (hash of recovered parameters)."""
    _, out, report = encoded
    code = ("import sys; from bitstream import read_bitstream; "
            "print(read_bitstream(open(sys.argv[1], 'rb').read()).parameter_digest())")
    result = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True,
                            cwd=REPO, check=True)
    assert result.stdout.strip() == report.parameter_digest


def test_model_golden_decodes_to_its_parameters_and_reconstruction():
    data = (GOLDEN_DIR / "v1_0_model_tiny.bin").read_bytes()
    expected = json.loads((GOLDEN_DIR / "v1_0_model_tiny.json").read_text())
    reference = np.load(GOLDEN_DIR / "v1_0_model_tiny.npz")["rgbd"].astype(np.float32)
    contents, recon = make_golden().decode_model_golden(data)
    assert contents.parameter_digest() == expected["parameter_sha256"]
    assert recon.shape == reference.shape
    assert float(np.abs(recon - reference).max()) <= 2e-3


def test_camera_conversion_round_trips():
    cams = [
        Camera("p", "Perspective", (640, 480), (1.0, -2.0, 0.5), (10.0, -5.0, 1.0), (0.3, 50.0),
               focal=(500.0, 501.0), principal_point=(320.5, 240.25), has_invalid_depth=True),
        Camera("e", "Equirectangular", (2048, 1024), depth_range=(0.1, math.inf),
               hor_range=(-90.0, 90.0), ver_range=(-45.0, 45.0)),
    ]
    for cam in cams:
        assert codec.camera_from_params(codec.camera_params(cam, True), 10, 16) == cam


def test_depth_level_to_samples_inverts_the_training_normalisation():
    lo, hi = 1234, 54321
    samples = torch.arange(lo, hi + 1, 97, dtype=torch.int32)
    level = (samples.float() - lo) / (hi - lo)
    assert torch.equal(codec.depth_level_to_samples(level, lo, hi), samples)


@pytest.mark.slow
def test_encode_with_real_training(tmp_path):
    seq = make_sequence(tmp_path / "src")
    report = codec.encode_sequence(seq, tmp_path / "out.bin", preset="tiny", schedule="ci", lmbda=100.0,
                                   device="cpu", progress=False)
    est, dec = report.estimated, report.decoded
    assert abs(est["psnr_rgb"] - dec["psnr_rgb"]) < 0.3  # Cool-chic's sanity band
    assert report.estimated_bits <= report.payload_bits <= 1.2 * report.estimated_bits + 256
    assert read_bitstream((tmp_path / "out.bin").read_bytes()).parameter_digest() == report.parameter_digest


@pytest.mark.gpu
@pytest.mark.slow
def test_encode_on_cuda_decode_on_cpu_in_a_fresh_process(tmp_path):
    """Determinism across devices: parameters trained and exported on CUDA decode bit-exactly on CPU."""
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    seq = make_sequence(tmp_path / "src")
    out = tmp_path / "out.bin"
    report = codec.encode_sequence(seq, out, preset="tiny", schedule="ci", lmbda=100.0, device="cuda",
                                   progress=False)
    code = ("import sys; from mvhinerv.codec import load_decoder; "
            "d = load_decoder(open(sys.argv[1], 'rb').read(), source=sys.argv[1], device='cpu'); "
            "print(d.contents.parameter_digest())")
    result = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True,
                            cwd=REPO, check=True, env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    assert result.stdout.strip() == report.parameter_digest
    assert report.decoded["psnr_rgb"] == pytest.approx(report.estimated["psnr_rgb"], abs=0.3)
