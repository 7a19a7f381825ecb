"""Depth as video for the 2D anchor codecs, and back.

MIV depth files hold normalised disparity quantised to 16 bits (miv_ctc.md §2.2): level
``v / 65535`` maps linearly to ``1/depth`` between ``1/far`` and ``1/near``. The CTC codes
geometry as **10-bit full-range** video (``VideoFullRange 1`` in the geometry cfg, §1.4). The
anchors therefore requantise 16 → 10 bits (``round(1023·v / 65535)``, :func:`ctc.color.requantize`)
and put the result in the luma plane of a 4:2:0 picture whose chroma is the neutral 512
(libvvenc codes 4:2:0 only). After decoding, luma is requantised 10 → 16 bits for metrics and
synthesis, so the depth reaching them has the 10-bit grid that a TMIV decoder would see.
"""

from __future__ import annotations

import numpy as np

from ctc.color import requantize

VIDEO_BITS = 10
NEUTRAL_CHROMA = 1 << (VIDEO_BITS - 1)


def depth_to_video(samples: np.ndarray, bits: int = 16) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(F, H, W)`` depth samples → 10-bit ``(Y, U, V)``: requantised luma, neutral chroma ``⌈H/2⌉×⌈W/2⌉``."""
    luma = np.asarray(requantize(np.asarray(samples), bits, VIDEO_BITS), dtype=np.uint16)
    frames, height, width = luma.shape
    chroma = np.full((frames, (height + 1) // 2, (width + 1) // 2), NEUTRAL_CHROMA, np.uint16)
    return luma, chroma, chroma.copy()


def video_to_depth(luma: np.ndarray, bits: int = 16) -> np.ndarray:
    """Decoded 10-bit luma ``(F, H, W)`` → depth samples at ``bits`` (16 for MIV)."""
    return np.asarray(requantize(np.asarray(luma), VIDEO_BITS, bits), dtype=np.uint16)
