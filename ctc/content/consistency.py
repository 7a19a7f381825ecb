"""Cross-view consistency: does view B, warped by its depth, look like view A where both see the
same surface?

This is the property depth-based view synthesis relies on (TMIV's renderer, miv_ctc.md §3.3): a
surface point has one colour and one position, whichever camera sees it. For our synthetic
content it holds by construction (view-independent shading, exact depth, prefiltered textures);
this module measures how closely, after 10-bit/16-bit quantisation and resampling:

1. every pixel of A with a finite depth is unprojected and projected into B
   (:func:`ctc.geometry.reproject`);
2. it counts as *visible in both* when the four B pixels around the landing point lie inside B,
   B's bilinearly interpolated depth there is within ``depth_tolerance`` (relative) of the
   reprojected depth (occluded points are excluded) and each of the four is within
   ``edge_tolerance`` of it (pixels straddling a depth edge are excluded; a looser bound, since
   neighbouring depths on a surface seen at a grazing angle legitimately differ by a few %);
3. B's luma is interpolated bilinearly there and compared with A's luma: PSNR at the texture bit
   depth over the compared pixels.

The residual error is resampling (bilinear interpolation of B between its pixel centres), not a
defect of the content; it shrinks as resolution grows relative to texture detail.
"""

from __future__ import annotations

import dataclasses
import math

import torch

from ctc.camera import Camera
from ctc.color import samples_to_metric_depth
from ctc.content.plan import ContentPlan, frame_planes
from ctc.geometry import pixel_centres, reproject


@dataclasses.dataclass(frozen=True)
class Consistency:
    """Agreement of two views over the pixels of A that B also sees."""

    psnr: float
    """Luma PSNR in dB at the texture bit depth (``inf`` if identical)."""
    mse: float
    compared: int
    """Pixels of A compared."""
    fraction: float
    """``compared`` / pixels of A."""


def view_consistency(cam_a: Camera, luma_a: torch.Tensor, depth_a: torch.Tensor,
                     cam_b: Camera, luma_b: torch.Tensor, depth_b: torch.Tensor, *,
                     bits: int = 10, depth_tolerance: float = 0.01,
                     edge_tolerance: float = 0.1) -> Consistency:
    """Compare view A with view B warped into A (see the module docstring).

    Args:
        cam_a, cam_b: the cameras (any projections).
        luma_a, luma_b: ``[H, W]`` luma samples (integers or floats in sample units).
        depth_a, depth_b: ``[H, W]`` MIV depth in metres; non-finite = skip (sky, invalid).
        bits: texture bit depth (peak 2^bits − 1).
        depth_tolerance: relative depth agreement required for "visible in both".
        edge_tolerance: relative agreement required of each of the four neighbours.
    """
    dtype = torch.float64
    luma_a, luma_b = luma_a.to(dtype), luma_b.to(dtype)
    depth_a, depth_b = depth_a.to(dtype), depth_b.to(dtype)
    uv_a = pixel_centres(cam_a, dtype=dtype, device=luma_a.device)
    finite = torch.isfinite(depth_a)
    uv_b, proj_depth, valid = reproject(cam_a, cam_b, uv_a, torch.where(finite, depth_a, 1.0))
    valid &= finite
    h, w = depth_b.shape
    x = uv_b[..., 0] - 0.5
    y = uv_b[..., 1] - 0.5
    x0, y0 = x.floor(), y.floor()
    valid &= (x0 >= 0) & (y0 >= 0) & (x0 + 1 <= w - 1) & (y0 + 1 <= h - 1)
    x0 = torch.where(valid, x0, 0).long()
    y0 = torch.where(valid, y0, 0).long()
    fx, fy = x - x0, y - y0
    sample = torch.zeros_like(x)
    depth = torch.zeros_like(x)
    for dy, dx, weight in ((0, 0, (1 - fx) * (1 - fy)), (0, 1, fx * (1 - fy)),
                           (1, 0, (1 - fx) * fy), (1, 1, fx * fy)):
        corner_depth = depth_b[y0 + dy, x0 + dx]
        valid &= (corner_depth - proj_depth).abs() <= edge_tolerance * proj_depth
        sample = sample + weight * luma_b[y0 + dy, x0 + dx]
        depth = depth + weight * corner_depth
    valid &= (depth - proj_depth).abs() <= depth_tolerance * proj_depth
    compared = int(valid.sum())
    if compared == 0:
        return Consistency(psnr=float("nan"), mse=float("nan"), compared=0, fraction=0.0)
    mse = float(((sample - luma_a)[valid] ** 2).mean())
    peak = (1 << bits) - 1
    psnr = math.inf if mse == 0 else 10 * math.log10(peak * peak / mse)
    return Consistency(psnr=psnr, mse=mse, compared=compared, fraction=compared / valid.numel())


def sample_depth(samples: torch.Tensor, camera: Camera) -> torch.Tensor:
    """Metric depth ``[H, W]`` float64 of 16-bit depth samples, NaN where a sample means "no
    depth": 0 with ``HasInvalidDepth`` (invalid) or with far = inf (infinitely far)."""
    near, far = camera.depth_range
    depth = samples_to_metric_depth(samples.to(torch.float64), camera.bit_depth_depth, near, far)
    if camera.has_invalid_depth or math.isinf(far):
        depth = torch.where(samples == 0, math.nan, depth)
    return depth


def quantized_view(plan: ContentPlan, camera: Camera, frame: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(luma samples, metric depth) of ``camera`` at ``frame`` exactly as ``content make`` writes
    them (10-bit texture, 16-bit depth), without writing files: for checks at scales whose
    files would be large."""
    rgb, depth = plan.source.frame(camera, frame / plan.sequence.fps)
    (y, _, _), samples = frame_planes(camera, rgb, depth)
    luma = torch.from_numpy(y.astype("int64"))
    return luma, sample_depth(torch.from_numpy(samples.astype("int64")), camera)
