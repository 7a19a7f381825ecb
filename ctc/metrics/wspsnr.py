"""ERP row weights and WS-PSNR (weighted-to-spherically-uniform PSNR) for equirectangular views.

A row of an equirectangular (ERP) picture covers a band of the sphere whose area shrinks with the
cosine of its latitude, so CTC measures ERP views with WS-PSNR (miv_ctc.md §1.6): the squared
error of row ``h`` is weighted by

    w(h) = cos((h + o − (E/2 − 0.5)) · π / E),   E = 180·H / lat_range,   o = (E − H) / 2,

where ``E`` is the height the picture would have if it covered the full 180° of latitude and ``o``
centres a partial latitude range on the equator (the reference software's
``xWeightedSpherically::initWS``, IV-PSNR v7.1). WS-PSNR rescales the weighted error by ``H/Σw`` so
that it is a properly normalised mean; IV-PSNR uses the same weights *without* that rescaling
(:mod:`ctc.metrics.ivpsnr`). The longitude range does not enter either formula.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from ctc.errors import InputError
from ctc.metrics.planes import Planes, as_planes, check_mask, check_same_layout, max_value, to_444
from ctc.metrics.psnr import component_row_sse, psnr_from_sse, weighted_yuv


@dataclasses.dataclass(frozen=True)
class ErpRange:
    """Angular coverage of an ERP picture in degrees (TMIV ``Hor_range`` / ``Ver_range``)."""

    lon: tuple[float, float] = (-180.0, 180.0)
    """Longitude (horizontal) range; recorded, not used by the weights."""
    lat: tuple[float, float] = (-90.0, 90.0)
    """Latitude (vertical) range; its extent sets the row weights."""

    def __post_init__(self) -> None:
        extent = self.lat[1] - self.lat[0]
        if not 0.0 < extent <= 180.0:
            raise InputError("--lat-range", f"latitude range must span (0, 180] degrees, got {self.lat}")
        if not 0.0 < self.lon[1] - self.lon[0] <= 360.0:
            raise InputError("--lon-range", f"longitude range must span (0, 360] degrees, got {self.lon}")

    @property
    def lat_extent(self) -> float:
        return float(self.lat[1] - self.lat[0])


def as_erp(erp: ErpRange | Sequence[Sequence[float]] | None) -> ErpRange | None:
    """Accept an :class:`ErpRange`, a ``((lon0, lon1), (lat0, lat1))`` pair, or None."""
    if erp is None or isinstance(erp, ErpRange):
        return erp
    lon, lat = erp
    return ErpRange(lon=(float(lon[0]), float(lon[1])), lat=(float(lat[0]), float(lat[1])))


def erp_row_weights(height: int, erp: ErpRange) -> np.ndarray:
    """``w(h)`` for ``h = 0 … height−1`` (float64, unnormalised; formula in the module docstring)."""
    full = 180.0 * height / erp.lat_extent
    offset = (full - height) / 2.0
    h = np.arange(height, dtype=np.float64)
    return np.cos((h + offset - (full / 2.0 - 0.5)) * math.pi / full)


def weighted_sum(row_sse: np.ndarray, weights: np.ndarray) -> float:
    """``Σ_h row_sse[h]·w[h]`` with an exactly rounded sum (the reference uses Kahan–Babuška)."""
    return math.fsum((row_sse.astype(np.float64) * weights).tolist())


def ws_psnr_planes(ref_planes: Planes, test_planes: Planes, bits: int, erp: ErpRange | Sequence,
                   *, mask: np.ndarray | None = None, mask_bits: int | None = None) -> dict[str, float]:
    """WS-PSNR per component (dB) and their 6:1:1 mean, computed at luma resolution.

    Args:
        ref_planes, test_planes: ``(Y, U, V)`` or ``(Y,)`` integer planes; chroma is upsampled by
            sample replication first, so each chroma sample takes its luma row's weight.
        bits: sample bit depth; MAX = 2^bits − 1.
        erp: angular range (only the latitude extent matters).
        mask: optional ``(H, W)`` mask (0 = ignored), as in the reference's masked mode.
        mask_bits: bit depth of the mask samples (default ``bits``).
    Returns:
        ``{"y": .., "u": .., "v": .., "yuv611": ..}`` (only ``"y"`` for one plane).
    """
    erp = as_erp(erp)
    ref = to_444(as_planes(ref_planes, "reference"))
    test = to_444(as_planes(test_planes, "test"))
    check_same_layout(ref, test)
    height, width = ref[0].shape
    mask = check_mask(mask, (height, width))
    weights = erp_row_weights(height, erp)
    correction = height / math.fsum(weights.tolist())
    names = ("y", "u", "v")
    out: dict[str, float] = {}
    count, scale = height * width, 1
    if mask is not None:
        count = int(np.count_nonzero(mask))
        scale = max_value(mask_bits or bits)
    for name, a, b in zip(names, ref, test):
        sse = weighted_sum(component_row_sse(a, b, mask), weights) * correction
        if sse == 0:
            out[name] = psnr_from_sse(1.0, height * width, bits)
        else:
            out[name] = psnr_from_sse(sse, count * scale, bits)
    if len(ref) == 3:
        out["yuv611"] = weighted_yuv(out)
    return out
