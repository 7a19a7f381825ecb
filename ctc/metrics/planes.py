"""Picture planes as the metrics see them: integer arrays, 4:4:4 by sample replication.

The IV-PSNR reference software (jstankowski/ivpsnr v7.1, miv_ctc.md §4.1) reads every picture into a
4:4:4 buffer: 4:2:0 / 4:2:2 chroma is upsampled by *sample replication* (nearest neighbour), so all
components have the luma area ``W·H``. For plain PSNR this changes nothing (every chroma error is
counted 4× in a 4× larger area), for WS-PSNR and IV-PSNR it fixes which row weight and which search
window a chroma sample gets. These helpers do that conversion once, and check shapes so that a
mismatch is an :class:`~ctc.errors.InputError` rather than a numpy broadcast error.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ctc.errors import InputError

Planes = Sequence[np.ndarray]
"""``(Y,)`` or ``(Y, U, V)``: luma ``(H, W)`` and chroma ``(H/sy, W/sx)`` integer sample arrays."""


def max_value(bits: int) -> int:
    """Peak sample value ``2^bits − 1`` (not ``255·2^(bits−8)``; miv_ctc.md §4.1)."""
    if not 1 <= int(bits) <= 16:
        raise InputError("bits", f"bit depth must be 1..16, got {bits}")
    return (1 << int(bits)) - 1


def as_planes(planes: Planes | np.ndarray, where: str) -> list[np.ndarray]:
    """Planes as a list of 2-D arrays; a single 2-D array is one (luma-only) plane.

    One ``(C, H, W)`` array is C planes of equal size. In a sequence of planes, a leading frame axis
    of length 1 (``(1, H, W)``, as ``MultiViewVideo.texture_yuv(v, t, 1)`` returns) is dropped.
    """
    if isinstance(planes, np.ndarray):
        # One array: (H, W) is one luma plane, (C, H, W) is C planes of equal size (4:4:4).
        planes = [planes] if planes.ndim == 2 else list(planes)
    out = []
    for i, plane in enumerate(planes):
        arr = np.asarray(plane.detach().cpu() if hasattr(plane, "detach") else plane)  # torch tensors too
        if arr.ndim == 3 and arr.shape[0] == 1:
            arr = arr[0]
        if arr.ndim != 2:
            raise InputError(where, f"plane {i} must be 2-D (H, W), got shape {arr.shape}")
        out.append(arr)
    if len(out) not in (1, 3):
        raise InputError(where, f"expected 1 (luma) or 3 (Y, Cb, Cr) planes, got {len(out)}")
    return out


def check_same_layout(ref: list[np.ndarray], test: list[np.ndarray]) -> None:
    """Reference and test must have the same number of planes with the same shapes."""
    if len(ref) != len(test):
        raise InputError("test", f"{len(test)} planes, reference has {len(ref)}")
    for i, (a, b) in enumerate(zip(ref, test)):
        if a.shape != b.shape:
            raise InputError("test", f"plane {i} is {b.shape[1]}x{b.shape[0]}, reference is {a.shape[1]}x{a.shape[0]}")


def subsampling(luma_shape: tuple[int, int], chroma_shape: tuple[int, int]) -> tuple[int, int]:
    """Vertical and horizontal chroma subsampling factors ``(sy, sx)`` ∈ {1, 2}²."""
    factors = []
    for full, sub in zip(luma_shape, chroma_shape):
        f = -(-full // sub) if sub else 0
        if f not in (1, 2) or -(-full // f) != sub:
            raise InputError("planes", f"chroma plane {chroma_shape[1]}x{chroma_shape[0]} does not fit luma "
                                       f"{luma_shape[1]}x{luma_shape[0]} (4:2:0, 4:2:2 or 4:4:4 expected)")
        factors.append(f)
    return factors[0], factors[1]


def upsample_chroma(plane: np.ndarray, luma_shape: tuple[int, int]) -> np.ndarray:
    """Chroma plane at luma resolution by sample replication (each sample copied sy×sx times)."""
    sy, sx = subsampling(luma_shape, plane.shape)
    if sy == sx == 1:
        return plane
    up = np.repeat(np.repeat(plane, sy, axis=0), sx, axis=1)
    return up[: luma_shape[0], : luma_shape[1]]


def to_444(planes: list[np.ndarray]) -> list[np.ndarray]:
    """All planes at luma resolution (:func:`upsample_chroma` on planes 1 and 2)."""
    luma = planes[0]
    return [luma] + [upsample_chroma(p, luma.shape) for p in planes[1:]]


def check_range(planes: list[np.ndarray], bits: int, where: str) -> None:
    """Samples must be integers in ``[0, 2^bits − 1]`` (the reference's ``-ipa STOP``)."""
    peak = max_value(bits)
    for i, p in enumerate(planes):
        if not np.issubdtype(p.dtype, np.integer):
            raise InputError(where, f"plane {i} has dtype {p.dtype}; integer samples expected")
        if p.size and (int(p.min()) < 0 or int(p.max()) > peak):
            raise InputError(where, f"plane {i} has samples outside [0, {peak}] for {bits}-bit content")


def check_mask(mask: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray | None:
    """A luma-resolution ``(H, W)`` mask (a leading frame axis of 1 dropped) with a non-zero sample."""
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.ndim == 3 and mask.shape[0] == 1:
        mask = mask[0]
    if mask.shape != shape:
        raise InputError("mask", f"mask is {mask.shape[-1]}x{mask.shape[0]}, pictures are {shape[1]}x{shape[0]}")
    if not np.any(mask):
        raise InputError("mask", "mask has no non-zero sample")
    return mask
