"""Every tiny catalogue sequence through ``mvcodec encode`` → ``mvcodec decode`` on the CPU (issue 4).

One real (not faked) training per sequence of ``mvcodec content list`` at ``--scale tiny``, with the
``tiny`` preset and the short ``smoke`` schedule (``mvhinerv/train/schedule.py``). Each test
prints what it measured (texture Y / YUV 6:1:1 / RGB PSNR, depth PSNR, bytes, bpp: run pytest with
``-s`` to see it) and checks that

- the bitstream is written and ``mvcodec info`` reads it,
- the decoded folder is a valid sequence with the source's views, frames and size,
- the decoded texture and depth are above a floor: the quality measured with this test
  (``docs/training.md``, "`tiny` preset on the catalogue's tiny content") minus a margin of about
  4 dB, so a seed or a BLAS change passes and a broken model, a lost view or a swapped plane
  does not. ``smoke`` is 12 epochs: the floors are far below what ``ci`` reaches.

Parameter bit-exactness of the round trip is tested in ``test_codec_roundtrip.py``; here the
point is that real content of every kind (perspective, ERP, the real stereo pair with invalid
depth) trains and decodes to a sensible picture.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from ctc.content import CATALOG, make_sequence
from ctc.sequence import load_sequence

#: Decoded quality floors in dB (texture Y-PSNR, depth 16-bit PSNR) with the ``smoke`` schedule at
#: λ = LAMBDA, seed 0: the values measured on 2026-11-21 (docs/training.md) minus about 4 dB.
FLOORS: dict[str, tuple[float, float]] = {
    "linear13": (17.0, 16.0),
    "planar16": (15.5, 16.0),
    "arc11": (19.0, 24.0),
    "erp10": (18.0, 25.5),
    "motorcycle": (16.0, 12.5),
}
LAMBDA = 4.0
SCHEDULE = "smoke"


def test_every_catalogue_sequence_has_a_floor():
    """A new catalogue entry must get a measured floor here, not slip past this test."""
    assert set(FLOORS) == set(CATALOG)


def _psnr(a: np.ndarray, b: np.ndarray, peak: float) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(peak * peak / mse)


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_tiny_sequence_round_trip(name, cli, tmp_path):
    seq_yaml = make_sequence(name, "tiny", tmp_path / "content", device="cpu")
    out = tmp_path / f"{name}.bin"
    result = cli(["encode", seq_yaml, "-o", out, "--preset", "tiny", "--schedule", SCHEDULE,
                  "--lambda", LAMBDA, "--device", "cpu", "-q"])
    assert result.exit_code == 0, result.output
    assert out.is_file() and out.stat().st_size > 0
    assert not list(tmp_path.glob("*.part"))  # written atomically
    info = cli(["info", out])
    assert info.exit_code == 0, info.output

    result = cli(["decode", out, "-o", tmp_path / "decoded", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    source, decoded = load_sequence(seq_yaml), load_sequence(tmp_path / "decoded" / "seq.yaml")
    assert decoded.views == source.views
    assert (decoded.num_frames, decoded.width, decoded.height) == (source.num_frames, source.width, source.height)
    # every camera of the source JSON (held-out ones included) survives the round trip
    assert [c.name for c in decoded.sequence.cameras] == [c.name for c in source.sequence.cameras]

    peak = 2**source.texture_bits - 1
    y_psnrs, yuv_psnrs, rgb_mse, depth_mse = [], [], [], []
    for view in source.views:  # per view, then the mean over views (the CTC's pooling)
        ref_yuv = source.texture_yuv(view, 0, source.num_frames)
        dec_yuv = decoded.texture_yuv(view, 0, source.num_frames)
        assert [p.shape for p in dec_yuv] == [p.shape for p in ref_yuv]
        y, u, v = (_psnr(a, b, peak) for a, b in zip(ref_yuv, dec_yuv))
        y_psnrs.append(y)
        yuv_psnrs.append((6 * y + u + v) / 8)
        rgb = source.texture_rgb(view, 0, source.num_frames) - decoded.texture_rgb(view, 0, source.num_frames)
        rgb_mse.append(float(rgb.double().pow(2).mean()))
        depth = source.depth_samples(view, 0, source.num_frames).astype(np.float64) - \
            decoded.depth_samples(view, 0, source.num_frames)
        depth_mse.append(float(np.mean(depth**2)))
    y_psnr, yuv_psnr = float(np.mean(y_psnrs)), float(np.mean(yuv_psnrs))
    rgb_psnr = 10 * math.log10(1 / max(np.mean(rgb_mse), 1e-12))
    depth_psnr = 10 * math.log10(65535**2 / max(np.mean(depth_mse), 1e-12))
    size = out.stat().st_size
    bpp = 8 * size / (len(source.views) * source.num_frames * source.width * source.height)
    print(f"\n{name}: {size} bytes, {bpp:.4f} bpp, texture Y {y_psnr:.2f} dB, YUV 6:1:1 {yuv_psnr:.2f} dB, "
          f"RGB {rgb_psnr:.2f} dB, depth {depth_psnr:.2f} dB")

    y_floor, depth_floor = FLOORS[name]
    assert y_psnr >= y_floor, f"{name}: texture Y-PSNR {y_psnr:.2f} dB under the floor {y_floor} dB"
    assert depth_psnr >= depth_floor, f"{name}: depth PSNR {depth_psnr:.2f} dB under the floor {depth_floor} dB"
    assert rgb_psnr >= y_floor - 3
