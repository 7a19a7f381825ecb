"""Colour and depth sample conversions, with the conventions stated once.

Texture (YUV ↔ RGB)
-------------------
MIV CTC texture is Y'CbCr 4:2:0 at 10 bits (miv_ctc.md §2.2). The sequence JSON only says
``ColorSpace: "YUV420"``, so the matrix and range are our stated convention: the HD default
matrix, and the range the CTC VVenC texture config signals (``VideoFullRange 0``, miv_ctc.md
§1.4):

- matrix **BT.709** (K_R = 0.2126, K_B = 0.0722) by default; ``"bt601"`` and ``"bt2020"``
  (non-constant luminance) are selectable;
- **limited ("video") range** by default: at b bits Y' = (16 + 219·E'_Y)·2^(b−8) and
  C = (128 + 224·E'_C)·2^(b−8), i.e. Y 64..940 and Cb/Cr 64..960 at 10 bits;
  ``full_range=True`` gives Y = (2^b−1)·E'_Y and C = (2^b−1)·E'_C + 2^(b−1) (ITU-T H.273,
  ``video_full_range_flag`` = 1);
- RGB is the non-linear R'G'B' in [0, 1] (no transfer function is applied: codecs and metrics
  work on gamma-coded values).

4:2:0 helpers: chroma is upsampled by **2×2 sample replication** (as IV-PSNR does, §4.1) and
downsampled by the **2×2 mean, rounded half up** (:mod:`ctc.yuv`), so a constant-chroma block
survives a round trip exactly.

Depth (MIV normalised-disparity law, miv_ctc.md §2.2)
-----------------------------------------------------
A depth sample v of b bits codes normalised disparity linearly::

    level = v / (2^b − 1)                       depth_level
    disp  = low + (high − low) · level          level_to_disparity   (low = 1/far, high = 1/near)
    depth = 1 / disp                            disparity_to_depth

``far`` may be ``math.inf`` (then low = 0). As TMIV's ``DepthTransform`` does, disparity is
clamped from below at ``minNormDisp``, the disparity of the lowest integer level (extrapolating
below 0 if needed) whose disparity is above zero. For far = inf that is level 1, i.e.
high/(2^b − 1), so sample 0 reads as the depth of sample 1; for a finite far it is a level
below 0 and the clamp never acts on levels in [0, 1]. Metric depth is therefore always finite.

These functions are **projection-agnostic**: "depth" is whatever the camera's depth map holds,
z along the optical axis for perspective cameras and the ray length (radial distance) for ERP
cameras. Callers must supply the matching kind (:mod:`ctc.geometry` unprojects accordingly).

Every function takes numpy arrays or torch tensors (any device) and returns the same kind,
except :func:`yuv_to_rgb` and :func:`yuv420_to_rgb`, which always return torch tensors (their
output feeds the model). Float results are float32 (float64 input stays float64, except in
:func:`yuv420_to_rgb`, which always gives float32). Integer sample results are
``uint16`` numpy arrays (``uint8`` for 8-bit) or ``int32`` torch tensors (torch's ``uint16``
supports too few operations). Rounding is **half up**, floor(x + 0.5), in both libraries (numpy
and torch ``round`` are half-to-even, which would make them disagree with TMIV's integer
arithmetic on exact halves).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import torch

from ctc.yuv import downsample_chroma_420, upsample_chroma_420

Matrix = Literal["bt709", "bt601", "bt2020"]

#: (K_R, K_B) luma coefficients of each matrix (ITU-R BT.709-6, BT.601-7, BT.2020-2 NCL).
LUMA_COEFFICIENTS: dict[str, tuple[float, float]] = {
    "bt709": (0.2126, 0.0722),
    "bt601": (0.299, 0.114),
    "bt2020": (0.2627, 0.0593),
}

Array = Any  # numpy.ndarray | torch.Tensor

# --------------------------------------------------------------------------------------------
# numpy / torch helpers


def _is_torch(x: Any) -> bool:
    return isinstance(x, torch.Tensor)


def _to_float(x: Array) -> Array:
    """Float copy/view: torch → float32 (float64 kept); numpy → float32 unless float64."""
    if _is_torch(x):
        return x if x.dtype in (torch.float32, torch.float64) else x.to(torch.float32)
    arr = np.asarray(x)
    return arr if arr.dtype in (np.float32, np.float64) else arr.astype(np.float32)


def _round_half_up(x: Array) -> Array:
    return torch.floor(x + 0.5) if _is_torch(x) else np.floor(x + 0.5)


def _clip(x: Array, lo: float, hi: float) -> Array:
    return x.clamp(lo, hi) if _is_torch(x) else np.clip(x, lo, hi)


def _maximum(x: Array, floor: float) -> Array:
    return x.clamp(min=floor) if _is_torch(x) else np.maximum(x, floor)


def _to_samples(x: Array, bits: int) -> Array:
    """Round half up, clip to 0..2^bits−1 and cast to the integer sample type."""
    return _cast_samples(_round_half_up(x), bits)


def _cast_samples(x: Array, bits: int) -> Array:
    """Clip whole-valued ``x`` to 0..2^bits−1 and cast to the integer sample type."""
    x = _clip(x, 0, (1 << bits) - 1)
    if _is_torch(x):
        return x.to(torch.int32)
    return x.astype(np.uint8 if bits <= 8 else np.uint16)


def _max_level(bits: int) -> int:
    if not 1 <= bits <= 16:
        raise ValueError(f"bit depth {bits} outside 1..16")
    return (1 << bits) - 1


# --------------------------------------------------------------------------------------------
# texture: Y'CbCr <-> R'G'B'


def _range_params(bits: int, full_range: bool) -> tuple[float, float, float, float]:
    """(y_offset, y_scale, c_offset, c_scale) in code values at ``bits``."""
    if full_range:
        peak = float((1 << bits) - 1)
        return 0.0, peak, float(1 << (bits - 1)), peak
    unit = float(1 << (bits - 8)) if bits >= 8 else 1.0 / (1 << (8 - bits))
    return 16.0 * unit, 219.0 * unit, 128.0 * unit, 224.0 * unit


def _coefficients(matrix: str) -> tuple[float, float]:
    try:
        return LUMA_COEFFICIENTS[matrix]
    except KeyError:
        raise ValueError(f"unknown colour matrix {matrix!r} (use {sorted(LUMA_COEFFICIENTS)})") from None


def rgb_to_yuv_matrix(
    bits: int, *, matrix: Matrix = "bt709", full_range: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """(A, b), float64 ``(3, 3)`` and ``(3,)``, with [Y, Cb, Cr] = A·[R', G', B'] + b in code values.

    E'_Y = K_R·R' + K_G·G' + K_B·B', E'_Cb = (B' − E'_Y)/(2(1 − K_B)),
    E'_Cr = (R' − E'_Y)/(2(1 − K_R)) (BT.709 §3), then scaled and offset to the code range.
    """
    kr, kb = _coefficients(matrix)
    y0, ys, c0, cs = _range_params(bits, full_range)
    luma = np.array([kr, 1.0 - kr - kb, kb])
    cb = (np.array([0.0, 0.0, 1.0]) - luma) / (2.0 * (1.0 - kb))
    cr = (np.array([1.0, 0.0, 0.0]) - luma) / (2.0 * (1.0 - kr))
    return np.stack([ys * luma, cs * cb, cs * cr]), np.array([y0, c0, c0])


def yuv_to_rgb_matrix(
    bits: int, *, matrix: Matrix = "bt709", full_range: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """(M, c) with [R', G', B'] = M·[Y, Cb, Cr] + c: the exact inverse of :func:`rgb_to_yuv_matrix`."""
    a, b = rgb_to_yuv_matrix(bits, matrix=matrix, full_range=full_range)
    inverse = np.linalg.inv(a)
    return inverse, -inverse @ b


def _float_dtype(x: Array) -> Any:
    """float64 for float64 input, else float32 (in x's library)."""
    if _is_torch(x):
        return torch.float64 if x.dtype == torch.float64 else torch.float32
    return np.float64 if np.asarray(x).dtype == np.float64 else np.float32


def _empty_like_planes(x: Array, shape: tuple[int, ...]) -> Array:
    if _is_torch(x):
        return torch.empty(shape, dtype=_float_dtype(x), device=x.device)
    return np.empty(shape, dtype=_float_dtype(x))


def _linear_into(out: Array, inputs: Sequence[Array], weights: np.ndarray, bias: float) -> Array:
    """out = Σ weights[j]·inputs[j] + bias, written in place (inputs broadcast against out).

    In torch every term is a fused in-place pass, so a 1080p frame makes no full-size
    temporaries; this matters on CPU, where allocation and memory traffic dominate.
    """
    terms = [(float(w), x) for w, x in zip(weights, inputs, strict=True) if w != 0.0]
    (w0, x0), rest = terms[0], terms[1:]
    if _is_torch(out):
        torch.mul(x0, w0, out=out)
        for w, x in rest:
            out.add_(x, alpha=w)
        return out.add_(float(bias))
    np.multiply(x0, w0, out=out, casting="unsafe")
    for w, x in rest:
        out += w * x
    out += bias
    return out


def _channels(x: Array) -> list[Array]:
    """The three planes of ``(..., 3, H, W)``."""
    return [x[..., i, :, :] for i in range(3)]


def _to_torch(x: Array, device: torch.device | str | None = None) -> torch.Tensor:
    """A tensor on ``device`` (default: where it is / CPU); numpy integers go via int32."""
    if not _is_torch(x):
        arr = np.asarray(x)
        if arr.dtype.kind in "ui" and arr.dtype != np.int32:
            arr = arr.astype(np.int32)  # torch's uint16 lacks arithmetic kernels
        x = torch.from_numpy(arr)
    return x if device is None else x.to(device)


def yuv_to_rgb(
    y: Array, u: Array, v: Array, bits: int, *, matrix: Matrix = "bt709",
    full_range: bool = False, clamp: bool = True,
) -> torch.Tensor:
    """Full-resolution Y'CbCr code values → R'G'B' in [0, 1].

    Args:
        y, u, v: code values, each ``(..., H, W)`` (chroma already at luma resolution), torch
            tensors on any device or numpy arrays, any numeric dtype.
        bits: bit depth of the code values (10 for CTC texture).
        matrix, full_range: the convention (module docstring); defaults BT.709 limited range.
        clamp: clip the result to [0, 1] (off to test invertibility outside the gamut).

    Returns:
        float32 tensor ``(..., 3, H, W)`` (R, G, B) on the inputs' device (float64 for float64
        input).
    """
    m, c = yuv_to_rgb_matrix(bits, matrix=matrix, full_range=full_range)
    y, u, v = (_to_torch(p) for p in (y, u, v))
    out = _empty_like_planes(y, (*y.shape[:-2], 3, *y.shape[-2:]))
    for i, plane in enumerate(_channels(out)):
        _linear_into(plane, (y, u, v), m[i], c[i])
    return out.clamp_(0.0, 1.0) if clamp else out


def rgb_to_yuv(
    rgb: Array, bits: int, *, matrix: Matrix = "bt709", full_range: bool = False
) -> tuple[Array, Array, Array]:
    """R'G'B' ``(..., 3, H, W)`` in [0, 1] → full-resolution Y'CbCr code values (float, unrounded).

    Returns the same kind as the input (torch tensor or numpy array), each ``(..., H, W)``.
    """
    a, b = rgb_to_yuv_matrix(bits, matrix=matrix, full_range=full_range)
    out = _empty_like_planes(rgb, tuple(rgb.shape))
    for i, plane in enumerate(_channels(out)):
        _linear_into(plane, _channels(rgb), a[i], b[i])
    y, u, v = _channels(out)
    return y, u, v


def _blocks(x: torch.Tensor) -> torch.Tensor:
    """View ``(..., H, W)`` (H, W even) as 2×2 blocks ``(..., H/2, 2, W/2, 2)``."""
    return x.unflatten(-1, (-1, 2)).unflatten(-3, (-1, 2))


def yuv420_to_rgb(
    y: Array, u: Array, v: Array, bits: int, *, matrix: Matrix = "bt709",
    full_range: bool = False, device: torch.device | str | None = None,
) -> torch.Tensor:
    """4:2:0 planes ``(..., H, W)``, ``(..., ⌈H/2⌉, ⌈W/2⌉)`` ×2 → R'G'B' float32 ``(..., 3, H, W)``.

    Chroma is upsampled by 2×2 **replication** (IV-PSNR's choice, so RGB-domain losses see the
    same chroma the metric sees). Because the conversion is affine, each channel is computed as
    (luma term at full size) + (chroma term at quarter size, broadcast over its 2×2 block), which
    is the same as replicating first but never builds full-size chroma. numpy planes are moved
    to ``device`` (default CPU); tensors stay where they are unless ``device`` is given.
    """
    y, u, v = (_to_torch(p, device) for p in (y, u, v))
    h, w = y.shape[-2:]
    if h % 2 or w % 2:
        up = [upsample_chroma_420(p, (h, w)) for p in (u, v)]
        return yuv_to_rgb(y, *up, bits, matrix=matrix, full_range=full_range)
    m, c = yuv_to_rgb_matrix(bits, matrix=matrix, full_range=full_range)
    out = torch.empty((*y.shape[:-2], 3, h, w), dtype=torch.float32, device=y.device)
    chroma = torch.empty(u.shape, dtype=torch.float32, device=y.device)
    for i, plane in enumerate(_channels(out)):
        _linear_into(chroma, (u, v), m[i, 1:], c[i])
        torch.mul(_blocks(y), float(m[i, 0]), out=_blocks(plane))
        _blocks(plane).add_(chroma[..., :, None, :, None])
    return out.clamp_(0.0, 1.0)


def rgb_to_yuv420(
    rgb: Array, bits: int, *, matrix: Matrix = "bt709", full_range: bool = False
) -> tuple[Array, Array, Array]:
    """R'G'B' ``(..., 3, H, W)`` in [0, 1] → integer 4:2:0 planes at ``bits``.

    Chroma is the 2×2 mean of full-resolution chroma (computed, equivalently since the
    conversion is affine, from the 2×2 means of R', G', B'), then rounded; all planes are
    rounded half up and clipped to 0..2^bits−1. Returns numpy ``uint16`` (``uint8`` at 8 bits)
    for numpy input, torch ``int32`` on the input's device for torch input.
    """
    a, b = rgb_to_yuv_matrix(bits, matrix=matrix, full_range=full_range)
    rgb = rgb if _is_torch(rgb) else np.asarray(rgb)
    channels = _channels(rgb)
    luma = _linear_into(_empty_like_planes(rgb, tuple(channels[0].shape)), channels, a[0], b[0])
    means = [downsample_chroma_420(_to_float(ch)) for ch in channels]
    u, v = (_linear_into(_empty_like_planes(rgb, tuple(means[0].shape)), means, a[i], b[i]) for i in (1, 2))
    return _to_samples(luma, bits), _to_samples(u, bits), _to_samples(v, bits)


# --------------------------------------------------------------------------------------------
# depth: samples <-> level <-> normalised disparity <-> metric depth


def depth_level(samples: Array, bits: int) -> Array:
    """Depth samples → level in [0, 1]: v / (2^b − 1) (float32)."""
    return _to_float(samples) / float(_max_level(bits))


def level_to_samples(level: Array, bits: int) -> Array:
    """Level in [0, 1] → samples round(level·(2^b − 1)), clipped to 0..2^b−1."""
    return _to_samples(_to_float(level) * float(_max_level(bits)), bits)


def disparity_range(near: float, far: float) -> tuple[float, float]:
    """(low, high) = (1/far, 1/near) normalised disparity in 1/m; low = 0 for far = inf."""
    if not 0 < near < far:
        raise ValueError(f"depth range needs 0 < near < far, got near={near}, far={far}")
    return (0.0 if math.isinf(far) else 1.0 / far), 1.0 / near


def min_normalized_disparity(near: float, far: float, bits: int) -> float:
    """TMIV's ``minNormDisp``: disparity of the lowest integer level whose disparity is above 0.

    With low = 1/far and high = 1/near, that level is the smallest integer above
    −low/(high − low)·(2^b − 1) (where disparity would be zero): 1 for far = inf (giving
    high/(2^b − 1)), a negative level for a finite far (giving a disparity just above 0 and
    below ``low``, so the clamp then never acts on levels in [0, 1]). Same arithmetic as TMIV's
    ``DepthTransform`` constructor (float32 there, float64 here).
    """
    low, high = disparity_range(near, far)
    max_level = _max_level(bits)
    lowest = math.ceil(math.nextafter(-low / (high - low) * max_level, math.inf))
    return low + (high - low) * (lowest / max_level)


def level_to_disparity(level: Array, near: float, far: float, *, bits: int = 16) -> Array:
    """Level → normalised disparity low + (high − low)·level (1/m), clamped at minNormDisp.

    ``bits`` only sets the clamp (:func:`min_normalized_disparity`); 16 is the CTC depth depth.
    """
    low, high = disparity_range(near, far)
    disparity = low + (high - low) * _to_float(level)
    return _maximum(disparity, min_normalized_disparity(near, far, bits))


def disparity_to_level(disparity: Array, near: float, far: float) -> Array:
    """Normalised disparity (1/m) → level (disp − low)/(high − low); not clipped."""
    low, high = disparity_range(near, far)
    return (_to_float(disparity) - low) / (high - low)


def disparity_to_depth(disparity: Array) -> Array:
    """Normalised disparity → depth 1/disp (m); zero disparity gives ``inf``."""
    disparity = _to_float(disparity)
    if _is_torch(disparity):
        return 1.0 / disparity
    with np.errstate(divide="ignore"):
        return 1.0 / disparity


def depth_to_disparity(depth: Array) -> Array:
    """Depth (m) → normalised disparity 1/depth; ``inf`` depth gives 0."""
    return disparity_to_depth(depth)


def samples_to_metric_depth(samples: Array, bits: int, near: float, far: float) -> Array:
    """Depth samples → metric depth in metres (z for perspective, radius for ERP), float32.

    Always finite: disparity is clamped at :func:`min_normalized_disparity`. Invalid samples
    (``HasInvalidDepth``) are the caller's business: this maps sample 0 like any other.
    """
    return disparity_to_depth(level_to_disparity(depth_level(samples, bits), near, far, bits=bits))


def metric_depth_to_samples(depth: Array, bits: int, near: float, far: float) -> Array:
    """Metric depth (m) → samples: round((2^b−1)·(1/depth − low)/(high − low)), clipped.

    Depths nearer than ``near`` clip to the top sample, farther than ``far`` (or ``inf``) to 0.
    """
    level = disparity_to_level(depth_to_disparity(depth), near, far)
    return level_to_samples(level, bits)


def requantize(samples: Array, from_bits: int, to_bits: int) -> Array:
    """Rescale samples between bit depths: round((2^to − 1)·v / (2^from − 1)), exactly.

    TMIV's "requantize" (e.g. Kitchen's 10-bit depth to 16 bits, miv_ctc.md §2.2) and the anchors'
    16 → 10-bit depth coding. Integer arithmetic; exact halves cannot occur (2^from − 1 is odd),
    so the rounding mode does not matter.
    """
    src, dst = _max_level(from_bits), _max_level(to_bits)
    if _is_torch(samples):
        wide = samples.to(torch.int64)
    else:
        wide = np.asarray(samples).astype(np.int64)
    scaled = (2 * dst * wide + src) // (2 * src)
    return _cast_samples(scaled, to_bits)
