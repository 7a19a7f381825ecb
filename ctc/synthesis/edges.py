"""Luma edge blurring at depth discontinuities (TMIV VWS step 8; miv_ctc.md §3.3).

Where the normalised disparity varies by at least ``threshold`` inside a ``block``×``block``
window of valid pixels, the pixel sits on a depth edge, where blending from several views leaves
aliasing; its luma (only) becomes the mean of the window's valid luma weighted by
block − (|dx| + |dy|) (5 at the centre, 1 at the corners for the CTC block of 5).

"Normalised disparity" is MIV's term for 1/z in m⁻¹: TMIV's ``blurEdges`` runs after step 8 has
replaced every valid target depth by clamp(1/z, 1/far, 1/near) of the target camera, and compares
max − min of those values with ``edgeBlurringDepthThreshold`` (0.04) directly. It is neither the
0..1 level nor a relative difference. The window is fixed in pixels, so the band it blurs around
each depth edge is ≈ 4 pixels wide at any resolution: at the 480×270 mini scale it covers 4× the
share of the picture it covers at the CTC's 1920×1080 (docs/results/synthesis.md, scale study).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def blur_depth_edges(luma: Tensor, disparity: Tensor, valid: Tensor, block: int, threshold: float
                     ) -> Tensor:
    """Blurred luma ``[H, W]``.

    Args:
        luma: ``[H, W]`` floats.
        disparity: ``[H, W]`` normalised disparity 1/z in m⁻¹, clamped to the target's range.
        valid: ``[H, W]`` bool, pixels with a synthesised colour and depth.
        block: window side (odd; 0 or 1 disables the step).
        threshold: disparity range that marks an edge.
    """
    if block <= 1:
        return luma
    r = block // 2
    vf = valid.to(luma.dtype)[None, None]
    big = torch.finfo(luma.dtype).max
    hi = F.max_pool2d(torch.where(valid, disparity, torch.full_like(disparity, -big))[None, None],
                      2 * r + 1, stride=1, padding=r)
    lo = -F.max_pool2d(torch.where(valid, -disparity, torch.full_like(disparity, -big))[None, None],
                       2 * r + 1, stride=1, padding=r)
    edge = valid & ((hi - lo)[0, 0] >= threshold)
    offsets = torch.arange(-r, r + 1, device=luma.device, dtype=luma.dtype).abs()
    kernel = (float(block) - (offsets[:, None] + offsets[None, :]))[None, None]
    num = F.conv2d(torch.where(valid, luma, torch.zeros_like(luma))[None, None], kernel, padding=r)
    den = F.conv2d(vf, kernel, padding=r)
    blurred = (num / den.clamp_min(1e-12))[0, 0]
    return torch.where(edge, blurred, luma)
