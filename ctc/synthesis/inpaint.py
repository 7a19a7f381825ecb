"""Hole filling after synthesis: TMIV's two-way ``Inpainter`` (miv_ctc.md §3.3 step 9).

A hole is a pixel with 16-bit disparity sample 0 (no surface, or shading found no source). First
single-pixel vertical cracks (a hole between two filled pixels of a row) take the mean of their
left and right neighbours. Then each remaining hole looks for the nearest filled pixel to its left
and right in its row: if both exist and their disparities are within 1 % of 2¹⁶ of the farther one
they are blended by inverse distance, otherwise the *background* (farther) one is copied, since a
disocclusion uncovers background. A second pass does the same along columns for rows that were
entirely empty. Vectorised with cumulative max/min scans (no per-pixel loops).

Simplification (documented in docs/synthesis.md): for ERP targets TMIV first inpaints in a
transverse-equirectangular (Cassini) resampling so that the scan follows great circles near the
poles; we run the same row/column passes directly on the ERP grid.
"""

from __future__ import annotations

import torch
from torch import Tensor


def fill_vertical_cracks(yuv: Tensor, disp: Tensor) -> tuple[Tensor, Tensor]:
    """Holes ``disp == 0`` whose left and right neighbours are filled get their mean (``[3, H, W]``,
    ``[H, W]``; new tensors)."""
    hole = disp == 0
    crack = torch.zeros_like(hole)
    crack[:, 1:-1] = hole[:, 1:-1] & ~hole[:, :-2] & ~hole[:, 2:]
    yuv, disp = yuv.clone(), disp.clone()
    yuv[:, :, 1:-1] = torch.where(crack[None, :, 1:-1], 0.5 * (yuv[:, :, :-2] + yuv[:, :, 2:]),
                                  yuv[:, :, 1:-1])
    disp[:, 1:-1] = torch.where(crack[:, 1:-1], 0.5 * (disp[:, :-2] + disp[:, 2:]), disp[:, 1:-1])
    return yuv, disp


def _two_way_rows(yuv: Tensor, disp: Tensor, threshold: float) -> tuple[Tensor, Tensor]:
    """One two-way pass along rows of ``yuv [3, H, W]`` and ``disp [H, W]`` (TMIV
    ``perform2WayInpainting``); returns new tensors."""
    h, w = disp.shape
    hole = disp == 0
    col = torch.arange(w, device=disp.device).expand(h, w)
    left = torch.where(~hole, col, torch.full_like(col, -1)).cummax(dim=1).values
    right = torch.where(~hole, col, torch.full_like(col, w)).flip(1).cummin(dim=1).values.flip(1)
    has_l, has_r = left >= 0, right < w
    li, ri = left.clamp(0, w - 1), right.clamp(0, w - 1)
    d_l, d_r = disp.gather(1, li), disp.gather(1, ri)
    far = torch.minimum(torch.where(has_l, d_l, d_r), torch.where(has_r, d_r, d_l))
    use_l = has_l & (~has_r | (d_l - far <= threshold))
    use_r = has_r & (~has_l | (d_r - far <= threshold))
    dist_l = (col - left).to(disp.dtype)
    dist_r = (right - col).to(disp.dtype)
    both = use_l & use_r
    w_l = torch.where(both, dist_r / (dist_l + dist_r).clamp_min(1.0),
                      torch.where(use_l, torch.ones_like(dist_l), torch.zeros_like(dist_l)))
    w_r = torch.where(use_r, 1.0 - w_l, torch.zeros_like(w_l))
    fill = hole & (use_l | use_r)
    c_l = yuv.gather(2, li.expand(3, h, w))
    c_r = yuv.gather(2, ri.expand(3, h, w))
    yuv = torch.where(fill[None], w_l[None] * c_l + w_r[None] * c_r, yuv)
    disp = torch.where(fill, w_l * d_l + w_r * d_r, disp)
    return yuv, disp


def inpaint(yuv: Tensor, disp: Tensor, threshold: float) -> tuple[Tensor, Tensor, Tensor]:
    """Fill the holes of a synthesised view.

    Args:
        yuv: ``[3, H, W]`` YUV 4:4:4 floats.
        disp: ``[H, W]`` 16-bit normalised-disparity samples as floats, 0 = hole.
        threshold: disparity difference up to which two neighbours are blended (655.36 = 1 % of 2¹⁶).

    Returns:
        ``(yuv, disp, filled)``: the filled planes and the ``[H, W]`` bool mask of filled pixels
        (pixels of an entirely empty image stay holes).
    """
    holes = disp == 0
    yuv, disp = fill_vertical_cracks(yuv, disp)
    yuv, disp = _two_way_rows(yuv, disp, threshold)
    yuv_t, disp_t = _two_way_rows(yuv.transpose(1, 2), disp.T, threshold)
    yuv, disp = yuv_t.transpose(1, 2), disp_t.T
    return yuv.contiguous(), disp.contiguous(), holes & (disp > 0)
