"""IV-PSNR conformance: published values of the reference software v7.1 and a slow loop reference.

Tier "regression": the Fencing pictures shipped with jstankowski/ivpsnr (``shared/fixtures/ivpsnr``,
kept xz-compressed in ``tests/data/ivpsnr`` so that every clone runs this tier, with their SHA-256)
and the values its README publishes (miv_ctc.md §4.6), to 4 decimals.
Tier "unit": an independent, deliberately naive float64 implementation written from the algorithm
text (miv_ctc.md §4.1–4.4: per-pixel loops over the 5×5 window, strict ``<`` in raster order) is
compared with the vectorised one on random 10-bit pictures, ERP and masked modes and tie-heavy content.
"""

from __future__ import annotations

import hashlib
import lzma
import math
from pathlib import Path

import numpy as np
import pytest

from ctc.errors import InputError
from ctc.metrics import ErpRange, compare_yuv_files, ivpsnr_frame
from ctc.metrics.ivpsnr import round_half_away

FENCING = "Fencing_v8_{}_1920x1080_yuv420p.yuv"

# (test picture, mask, published PSNR-Y, published IV-PSNR), jstankowski/ivpsnr README / miv_ctc.md §4.6
PUBLISHED = [
    ("origJpgCompressed", None, 34.3362, 39.1335),
    ("synthesized", None, 34.0128, 44.3555),
    ("synthesized", "objectsMask", 39.5414, 50.7716),
]


FIXTURES = Path(__file__).parent / "data" / "ivpsnr"
#: SHA-256 of the uncompressed pictures, as in ``shared/fixtures/ivpsnr``.
SHA256 = {
    "objectsMask": "07df7de6e1f87127fdbe7e1b38c3eb5213d8e1d6a52153863d718e57379dd8f3",
    "origJpgCompressed": "b2e8210f54cc536f724b337d7e2e2dfe717b4caf7c32d685f1ef8e379329d9f1",
    "original": "83ab70b05b8c601d588c4ced37004c79d300e5ecfce69b3bbc52a408d20a3b6a",
    "synthesized": "ce99410568c16284675dbd64b1e3626b5e9d1aa221b051172a343439d26baf94",
}


@pytest.fixture(scope="module")
def fencing(tmp_path_factory) -> Path:
    """A folder with the four Fencing pictures, decompressed and checked against their SHA-256."""
    folder = tmp_path_factory.mktemp("fencing")
    for name, digest in SHA256.items():
        data = lzma.decompress((FIXTURES / (FENCING.format(name) + ".xz")).read_bytes())
        assert hashlib.sha256(data).hexdigest() == digest, name
        (folder / FENCING.format(name)).write_bytes(data)
    return folder


@pytest.mark.parametrize("name, mask, psnr_y, ivpsnr", PUBLISHED)
def test_fencing_published_values(fencing, name, mask, psnr_y, ivpsnr):
    folder = fencing
    result = compare_yuv_files(folder / FENCING.format("original"), folder / FENCING.format(name), 1920, 1080,
                               "yuv420p", mask_path=None if mask is None else folder / FENCING.format(mask))
    assert abs(result.mean["y_psnr"] - psnr_y) < 5e-5
    assert abs(result.mean["ivpsnr"] - ivpsnr) < 5e-5


# --------------------------------------------------------------------------------------------
# The slow reference: loops, float64, written from the algorithm description only.


def _upsample(plane, h, w):
    fy, fx = h // plane.shape[0], w // plane.shape[1]
    out = np.zeros((h, w))
    for y in range(h):
        for x in range(w):
            out[y, x] = plane[y // fy, x // fx]
    return out


def _slow_ivpsnr(ref, test, bits, lat_range=None, mask=None, mask_bits=None, tie_first=True):
    h, w = ref[0].shape
    peak = 2**bits - 1
    a = [ref[0].astype(float)] + [_upsample(p, h, w) for p in ref[1:]]
    b = [test[0].astype(float)] + [_upsample(p, h, w) for p in test[1:]]
    m = np.ones((h, w)) if mask is None else mask.astype(float)
    mpeak = 1 if mask is None else 2 ** (mask_bits or bits) - 1
    active = h * w if mask is None else int(np.count_nonzero(mask))
    weights = np.ones(h)
    if lat_range is not None:
        full = 180.0 * h / lat_range
        off = (full - h) / 2
        weights = np.array([math.cos((y + off - (full / 2 - 0.5)) * math.pi / full) for y in range(h)])
    gcd = []
    for c in range(3):
        total = sum((a[c][y, x] - b[c][y, x]) * m[y, x] for y in range(h) for x in range(w))
        mean = total / (active * mpeak)
        g = math.floor(abs(mean) + 0.5) * (1 if mean >= 0 else -1)
        lim = math.floor(0.01 * peak + 0.5)
        gcd.append(max(-lim, min(lim, g)))

    def clamp(v, n):
        return min(max(v, 0), n - 1)

    def quality(t_planes, r_planes, shift):
        sse = [0.0, 0.0, 0.0]
        for y in range(h):
            row = [0.0, 0.0, 0.0]
            for x in range(w):
                if m[y, x] == 0:
                    continue
                t = [t_planes[c][y, x] + shift[c] for c in range(3)]
                best, best_q = None, None
                for dy in range(-2, 3):
                    for dx in range(-2, 3):
                        qy, qx = clamp(y + dy, h), clamp(x + dx, w)
                        if m[qy, qx] == 0:
                            continue
                        r = [r_planes[c][qy, qx] for c in range(3)]
                        d = 4 * (t[0] - r[0]) ** 2 + (t[1] - r[1]) ** 2 + (t[2] - r[2]) ** 2
                        if best is None or (d < best if tie_first else d <= best):
                            best, best_q = d, r
                for c in range(3):
                    row[c] += (t[c] - best_q[c]) ** 2 * m[y, x]
            for c in range(3):
                sse[c] += row[c] * weights[y]
        psnr = [10 * math.log10(active * mpeak * peak**2 / (s if s > 0 else 1.0)) for s in sse]
        return (4 * psnr[0] + psnr[1] + psnr[2]) / 6

    return min(quality(b, a, gcd), quality(a, b, [-g for g in gcd]))


def _random_pictures(rng, h, w, bits, levels=None, noise=30):
    peak = 2**bits - 1
    if levels is None:
        ref = [rng.integers(0, peak + 1, (h, w)), rng.integers(0, peak + 1, (h // 2, w // 2)),
               rng.integers(0, peak + 1, (h // 2, w // 2))]
        test = [np.clip(p + rng.integers(-noise, noise + 1, p.shape) + 7, 0, peak) for p in ref]
    else:  # few distinct values per component: many exact ties in the window search
        shapes = [(h, w), (h // 2, w // 2), (h // 2, w // 2)]
        ref = [rng.choice(lv, shape) for lv, shape in zip(levels, shapes)]
        test = [rng.choice(lv, shape) for lv, shape in zip(levels, shapes)]
    return [p.astype(np.uint16) for p in ref], [p.astype(np.uint16) for p in test]


# A luma step of 1 (distance 4·1²) ties with a chroma step of 2 (distance 2²) but leaves other
# per-component errors, so which tied candidate wins changes the result.
TIE_LEVELS = ([500, 501], [500, 502], [500, 502])

CASES = {
    "plain": dict(),
    "erp_full": dict(lat=(-90.0, 90.0)),
    "erp_partial": dict(lat=(-30.0, 60.0)),
    "masked": dict(mask=True),
    "masked_erp": dict(mask=True, lat=(-90.0, 90.0)),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("ties", [False, True], ids=["noise", "ties"])
def test_vectorised_equals_slow_reference(case, ties):
    opts = CASES[case]
    rng = np.random.default_rng(sorted(CASES).index(case) * 2 + ties)
    h, w = 10, 14
    ref, test = _random_pictures(rng, h, w, 10, levels=TIE_LEVELS if ties else None)
    mask = None
    if opts.get("mask"):
        mask = np.where(rng.random((h, w)) < 0.7, 1023, 0).astype(np.uint16)
        mask[0, 0] = 1023
    erp = ErpRange(lat=opts["lat"]) if "lat" in opts else None
    lat = None if erp is None else erp.lat_extent
    fast = ivpsnr_frame(ref, test, 10, erp=erp, mask=mask).ivpsnr
    slow = _slow_ivpsnr(ref, test, 10, lat_range=lat, mask=mask)
    assert fast == pytest.approx(slow, abs=1e-9)


def test_tie_break_is_first_minimum_in_raster_order():
    """On tie-heavy content the strict-< rule matters: the last-minimum rule gives another value."""
    rng = np.random.default_rng(7)
    ref, test = _random_pictures(rng, 10, 14, 10, levels=TIE_LEVELS)
    fast = ivpsnr_frame(ref, test, 10).ivpsnr
    assert fast == pytest.approx(_slow_ivpsnr(ref, test, 10), abs=1e-9)
    assert abs(fast - _slow_ivpsnr(ref, test, 10, tie_first=False)) > 1e-6


def test_identical_pictures_give_the_finite_exact_value():
    rng = np.random.default_rng(1)
    ref, _ = _random_pictures(rng, 8, 8, 10)
    result = ivpsnr_frame(ref, ref, 10)
    assert result.ivpsnr == pytest.approx(10 * math.log10(64 * 1023**2))
    assert result.gcd == (0, 0, 0)


def test_one_pixel_shift_is_forgiven():
    """A picture moved by one pixel has low PSNR but high IV-PSNR (the metric's purpose)."""
    from ctc.metrics import psnr_planes

    rng = np.random.default_rng(2)
    y = rng.integers(0, 1024, (32, 32)).astype(np.uint16)
    c = np.full((16, 16), 512, np.uint16)
    moved = np.roll(y, 1, axis=1)
    plain = psnr_planes([y, c, c], [moved, c, c], 10)["y"]
    iv = ivpsnr_frame([y, c, c], [moved, c, c], 10).ivpsnr
    assert plain < 15 and iv > plain + 20


def test_global_colour_difference_rounding_and_clip():
    y = np.full((4, 4), 100, np.uint16)
    c = np.full((2, 2), 100, np.uint16)
    # mean difference +2.5 on luma rounds away from zero to 3; +40 on Cb clips to round(0.01·1023) = 10
    test_y = y.copy()
    test_y[:, :2] -= 2
    test_y[:, 2:] -= 3
    res = ivpsnr_frame([y, c, c], [test_y, c - 40, c + 1], 10)
    assert res.gcd == (3, 10, -1)
    assert round_half_away(-2.5) == -3 and round_half_away(2.5) == 3


def test_gray_luma_only_and_gpu_flag_default_cpu():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 256, (12, 12)).astype(np.uint8)
    res = ivpsnr_frame([y], [np.clip(y.astype(int) + 1, 0, 255).astype(np.uint8)], 8)
    assert res.gcd == (0,) or res.gcd == (-1,)
    assert math.isfinite(res.ivpsnr)


@pytest.mark.parametrize("case", ["plain", "masked_erp"])
def test_torch_backend_matches_numpy(monkeypatch, case):
    """The GPU code path (torch, whole picture as one tile), run on the CPU, equals the numpy one."""
    import ctc.metrics.ivpsnr as iv

    rng = np.random.default_rng(11)
    ref, test = _random_pictures(rng, 24, 40, 10, levels=TIE_LEVELS)
    mask = np.where(rng.random((24, 40)) < 0.6, 1023, 0).astype(np.uint16) if "masked" in case else None
    erp = ErpRange() if "erp" in case else None
    want = ivpsnr_frame(ref, test, 10, erp=erp, mask=mask)
    original = iv._Backend.__init__
    monkeypatch.setattr(iv._Backend, "__init__", lambda self, device: original(self, device, use_torch=True))
    assert ivpsnr_frame(ref, test, 10, erp=erp, mask=mask) == want


def test_bad_device_is_an_input_error():
    import torch

    rng = np.random.default_rng(5)
    ref, test = _random_pictures(rng, 8, 8, 10)
    with pytest.raises(InputError, match="device"):
        ivpsnr_frame(ref, test, 10, device="gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="no CUDA device"):
            ivpsnr_frame(ref, test, 10, device="cuda")


@pytest.mark.gpu
def test_cuda_matches_cpu():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    rng = np.random.default_rng(4)
    ref, test = _random_pictures(rng, 64, 96, 10)
    assert ivpsnr_frame(ref, test, 10, device="cuda").ivpsnr == ivpsnr_frame(ref, test, 10).ivpsnr
