"""PSNR of integer planes: per component, YUV 6:1:1, masked, depth and RGB.

Conventions follow the IV-PSNR reference software v7.1 (miv_ctc.md §4), which is the CTC metric
tool (§1.6):

- MAX = 2^b − 1 (1023 for 10-bit), PSNR = 10·log10(N·MAX² / SSE) with N the number of samples.
- A component with SSE = 0 gets the finite "fake" value 10·log10(W·H·MAX²) (the reference
  replaces SSE 0 by 1) instead of +∞, so sequence means stay finite.
- Masked mode: SSE weights each error by the mask sample, N is the number of non-zero mask
  samples, and the peak is multiplied by the mask's own MAX.
- The YUV value is the JVET/MPEG 6:1:1 weighted mean of the per-component PSNRs **in dB**,
  ``(6·Y + U + V)/8`` — not the PSNR of a weighted MSE. (IV-PSNR itself averages its component
  PSNRs 4:1:1; see :mod:`ctc.metrics.ivpsnr`.)

For 4:2:0 content without mask, per-component PSNR on the subsampled chroma planes equals the
reference's value on replicated 4:4:4 planes exactly (both SSE and N scale by 4).
"""

from __future__ import annotations

import math

import numpy as np

from ctc.errors import InputError
from ctc.metrics.planes import Planes, as_planes, check_mask, check_same_layout, max_value, to_444

YUV611 = (6, 1, 1)
"""Component weights of the YUV PSNR (JVET CTC practice; MPEG reuses it)."""


def psnr_from_sse(sse: float, count: int, bits: int) -> float:
    """``10·log10(count·MAX² / sse)``; ``count`` may already include a mask peak factor.

    ``sse == 0`` gives the reference's finite value for exact pictures (SSE taken as 1).
    """
    peak = max_value(bits)
    sse = float(sse) if sse > 0 else 1.0
    return 10.0 * math.log10(float(int(count) * peak * peak) / sse)


def weighted_yuv(per_component: dict[str, float], weights: tuple[int, int, int] = YUV611) -> float:
    """Weighted mean of the ``y``, ``u``, ``v`` PSNRs in dB (default 6:1:1)."""
    values = (per_component["y"], per_component["u"], per_component["v"])
    return sum(w * v for w, v in zip(weights, values)) / sum(weights)


def component_row_sse(ref: np.ndarray, test: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Per-row sum of squared errors ``(H,)`` int64, optionally weighted by the mask samples."""
    diff = ref.astype(np.int64) - test.astype(np.int64)
    err = diff * diff
    if mask is not None:
        err *= mask.astype(np.int64)
    return err.sum(axis=1)


def psnr_planes(ref_planes: Planes, test_planes: Planes, bits: int, *, mask: np.ndarray | None = None,
                mask_bits: int | None = None) -> dict[str, float]:
    """PSNR per component (dB) and, for three planes, the 6:1:1 YUV mean.

    Args:
        ref_planes, test_planes: ``(Y, U, V)`` (any of 4:2:0 / 4:2:2 / 4:4:4) or ``(Y,)``.
        bits: sample bit depth, MAX = 2^bits − 1.
        mask: optional ``(H, W)`` luma-resolution mask; 0 excludes a sample (chroma is then
            measured at luma resolution by replication, as the reference does).
        mask_bits: bit depth of the mask samples (default ``bits``).
    Returns:
        ``{"y", "u", "v", "yuv611"}`` (just ``{"y"}`` for one plane).
    """
    ref = as_planes(ref_planes, "reference")
    test = as_planes(test_planes, "test")
    check_same_layout(ref, test)
    mask = check_mask(mask, ref[0].shape)
    height, width = ref[0].shape
    count = height * width
    if mask is not None:
        ref, test = to_444(ref), to_444(test)
        count = int(np.count_nonzero(mask)) * max_value(mask_bits or bits)
    out: dict[str, float] = {}
    for name, a, b in zip(("y", "u", "v"), ref, test):
        sse = int(component_row_sse(a, b, mask).sum())
        if sse == 0:
            out[name] = psnr_from_sse(1, height * width, bits)
        else:
            out[name] = psnr_from_sse(sse, count if mask is not None else a.size, bits)
    if len(ref) == 3:
        out["yuv611"] = weighted_yuv(out)
    return out


def depth_psnr(ref: np.ndarray, test: np.ndarray, bits: int = 16) -> float:
    """PSNR of depth samples (luma only; MAX = 2^bits − 1, 65535 for MIV 16-bit depth).

    Accepts ``(H, W)`` or ``(F, H, W)`` arrays; with frames, the mean of per-frame values.
    """
    ref = np.asarray(ref)
    test = np.asarray(test)
    if ref.shape != test.shape:
        raise InputError("depth", f"test depth shape {test.shape} differs from reference {ref.shape}")
    if ref.ndim == 2:
        ref, test = ref[None], test[None]
    values = [psnr_planes([a], [b], bits)["y"] for a, b in zip(ref, test)]
    return float(np.mean(values))


def rgb_psnr(ref: np.ndarray, test: np.ndarray, peak: float = 1.0) -> float:
    """PSNR of RGB pictures from the MSE pooled over all channels and pixels.

    For float pictures (e.g. ``(…, 3, H, W)`` in [0, 1], as the codec's training loss sees them).
    Identical pictures give +∞ (there is no integer grid to borrow the reference's SSE = 1 from).
    """
    ref = np.asarray(ref, dtype=np.float64)
    test = np.asarray(test, dtype=np.float64)
    if ref.shape != test.shape:
        raise InputError("rgb", f"test shape {test.shape} differs from reference {ref.shape}")
    mse = float(np.mean((ref - test) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(peak ** 2 / mse)
