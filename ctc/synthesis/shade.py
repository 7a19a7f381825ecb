"""Target depth filtering and colour shading (TMIV VWS steps 6 and 7; miv_ctc.md §3.3).

After the depth selection every target pixel has one depth (or none). The 3×3 "median" removes
isolated outliers; shading then goes *backwards*: the target pixel is unprojected at its depth (and
at the depths of the other surfaces in its 3×3 neighbourhood on contours), projected into every
source, and the four source samples around that position are blended with weights
w_v × bilinear × cluster weight / (1 + ν²), where ν measures, in units of 3 % of the depth, how
far the source sample's depth is from the point's. Samples of another surface thus get almost
no weight. Anti-ghosting drops a source whose pixel at the projected position borders a depth
discontinuity (a neighbour's ray from the target deviates by more than 2κ_v), except on contours.

Shapes: target ``[H, W]`` flattened to ``N``; a source ``[Hs, Ws]``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ctc.camera import Camera
from ctc.geometry import inside_image, pixel_centres, project, unproject
from ctc.synthesis.clusters import cluster_depths
from ctc.synthesis.fused import fused
from ctc.synthesis.warp import CameraPose, SourceGroup

# 3×3 neighbourhood offsets (dx, dy) in unfold order and their squared distances.
_OFFSETS_3X3 = tuple((dx, dy) for dy in (-1, 0, 1) for dx in (-1, 0, 1))
# The source 4-neighbours the anti-ghosting test looks at.
_CROSS = ((1, 0), (-1, 0), (0, 1), (0, -1))


def neighbourhood_3x3(plane: Tensor) -> Tensor:
    """``[H, W]`` → ``[9, H·W]`` values of each pixel's 3×3 neighbourhood, borders replicated
    (TMIV clamps neighbour indices)."""
    padded = F.pad(plane[None, None], (1, 1, 1, 1), mode="replicate")
    return F.unfold(padded, 3)[0]


def median_filter_depth(depth: Tensor, passes: int) -> Tensor:
    """TMIV's 3×3 visibility filter, ``passes`` times: sort the 9 depths (invalid = 0) and take the
    5th if it is valid, else the 6th, else 0. ``[H, W]`` → ``[H, W]``."""
    h, w = depth.shape
    for _ in range(passes):
        values, _ = torch.sort(neighbourhood_3x3(depth), dim=0)
        fifth, sixth = values[4], values[5]
        depth = torch.where(fifth > 0, fifth, torch.where(sixth > 0, sixth, torch.zeros_like(fifth)))
        depth = depth.view(h, w)
    return depth


def _angle(a: Tensor, b: Tensor) -> Tensor:
    """Angle between unit vectors ``[..., 3]`` (2·asin of half the chord: exact and float32-safe)."""
    return 2.0 * torch.asin(torch.clamp(0.5 * torch.linalg.vector_norm(a - b, dim=-1), max=1.0))


def shade(depth: Tensor, target: Camera, target_pose: CameraPose, groups: list[SourceGroup],
          blending_factor: float) -> tuple[Tensor, Tensor]:
    """Colour every target pixel with a valid depth from the sources (TMIV ``computeShadingMap``).

    Args:
        depth: ``[H, W]`` filtered target depth, 0 = invalid.
        target, target_pose: the target camera and its pose.
        groups: the visible sources, grouped by size.
        blending_factor: the 3 % of the depth-consistency weight.

    Returns:
        ``(color [3, H, W], weight [H, W])``: the blended YUV 4:4:4 and the total weight Σw (TMIV
        treats Σw ≤ 10⁻³ as a hole). Pixels with invalid depth get weight 0: the inpainter fills
        them (TMIV shades them from their neighbours' surfaces and then overwrites them).
    """
    h, w = depth.shape
    n = h * w
    dev, dtype = depth.device, depth.dtype
    color = torch.zeros(3, n, dtype=dtype, device=dev)
    weight = torch.zeros(n, dtype=dtype, device=dev)
    own_valid = depth.reshape(n) > 0
    ksi = torch.tensor([1.0 / (1.0 + dx * dx + dy * dy) for dx, dy in _OFFSETS_3X3],
                       dtype=dtype, device=dev)[:, None]
    clusters = cluster_depths(neighbourhood_3x3(depth), ksi, blending_factor)
    count = torch.where(own_valid, clusters.count, torch.zeros_like(clusters.count))
    on_contour = count > 1
    centres = pixel_centres(target, dtype=dtype, device=dev).reshape(n, 2)
    flat = [_FlatGroup(g) for g in groups]
    for k in range(int(count.max().item()) if n else 0):
        idx = (count > k).nonzero(as_tuple=True)[0]
        world = target_pose.to_world(unproject(target, centres[idx], clusters.depth(k)[idx]))
        ray = F.normalize(world - target_pose.pos, dim=-1)
        for group in flat:
            c, wgt = group.contribution(world, ray, on_contour[idx], clusters.sum_w[k][idx],
                                        blending_factor)
            color[:, idx] += c
            weight[idx] += wgt
    return color.view(3, h, w), weight.view(h, w)


class _FlatGroup:
    """A :class:`SourceGroup` with its maps flattened to ``[G·Hs·Ws]`` so that one gather serves
    all its views (index g·Hs·Ws + y·Ws + x)."""

    def __init__(self, group: SourceGroup) -> None:
        self.group = group
        g, hs, ws = group.depth.shape
        self.hs, self.ws = hs, ws
        self.depth = group.depth.reshape(-1)
        self.rays = group.rays.reshape(-1, 3)
        self.color = group.color.permute(1, 0, 2, 3).reshape(3, -1)
        self.base = (torch.arange(g, device=group.depth.device) * (hs * ws))[:, None]

    def contribution(self, world: Tensor, ray: Tensor, contour: Tensor, cluster_w: Tensor,
                     blending_factor: float) -> tuple[Tensor, Tensor]:
        """Σ over the group's views of w·colour ``[3, M]`` and of w ``[M]`` for points ``world``
        ``[M, 3]`` seen along ``ray`` ``[M, 3]`` from the target."""
        grp = self.group
        projected = [project(cam, pose.to_camera(world)) for cam, pose in zip(grp.cameras, grp.poses)]
        uv = torch.stack([p[0] for p in projected])                        # [G, M, 2]
        z_proj = torch.stack([p[1] for p in projected])                    # [G, M]
        valid = torch.stack([p[2] & inside_image(cam, p[0]) for p, cam in zip(projected, grp.cameras)])
        return _blend(uv, z_proj, valid, ray, contour, cluster_w, grp.weight, grp.kappa, self.depth,
                      self.rays, self.color, self.base, self.hs, self.ws, blending_factor)


@fused
def _blend(uv: Tensor, z_proj: Tensor, valid: Tensor, ray: Tensor, contour: Tensor, cluster_w: Tensor,
           weight: Tensor, kappa: Tensor, depth: Tensor, rays: Tensor, color: Tensor, base: Tensor,
           hs: int, ws: int, blending_factor: float) -> tuple[Tensor, Tensor]:
    """Anti-ghosting and the weighted bilinear blend of G views at M points.

    Args: ``uv`` ``[G, M, 2]``, ``z_proj``/``valid`` ``[G, M]``: the points projected into each
    view; ``ray`` ``[M, 3]`` from the target; ``contour``/``cluster_w`` ``[M]``; ``weight``/``kappa``
    ``[G]``; the views' flattened ``depth`` ``[G·Hs·Ws]``, ``rays`` ``[G·Hs·Ws, 3]``, ``color``
    ``[3, G·Hs·Ws]`` and per-view offsets ``base`` ``[G, 1]``.

    Returns: Σ w·colour ``[3, M]`` and Σ w ``[M]`` over the views.
    """
    def index(x: Tensor, y: Tensor) -> Tensor:
        return base + y.clamp(0, hs - 1) * ws + x.clamp(0, ws - 1)

    # Anti-ghosting (TMIV isProneToGhosting): at the source pixel containing the point, a
    # 4-neighbour with invalid depth or whose ray deviates by more than 2κ marks an edge.
    x, y = torch.floor(uv[..., 0]).long(), torch.floor(uv[..., 1]).long()
    limit = (2.0 * kappa)[:, None]
    prone = torch.zeros_like(valid)
    for dx, dy in _CROSS:
        nb = index(x + dx, y + dy)                                         # [G, M]
        prone = prone | ~torch.isfinite(depth[nb]) | (_angle(ray[None], rays[nb]) > limit)
    valid = valid & (contour[None] | ~prone)
    # Bilinear gather of the 4 samples around the position (pixel centres at +0.5), each
    # weighted by w_v × bilinear × cluster weight / (1 + ν²).
    q = uv - 0.5
    corner = torch.floor(q)
    frac = q - corner
    x0, y0 = corner[..., 0].long(), corner[..., 1].long()
    z_safe = torch.where(valid, z_proj, torch.ones_like(z_proj))
    scale = weight[:, None] * cluster_w[None]
    out = torch.zeros(3, ray.shape[0], dtype=ray.dtype, device=ray.device)
    total = torch.zeros(ray.shape[0], dtype=ray.dtype, device=ray.device)
    for ox, oy in ((0, 0), (1, 0), (0, 1), (1, 1)):
        nb = index(x0 + ox, y0 + oy)                                       # [G, M]
        bilinear = ((frac[..., 0] if ox else 1.0 - frac[..., 0])
                    * (frac[..., 1] if oy else 1.0 - frac[..., 1]))
        z_ref = depth[nb]
        use = valid & torch.isfinite(z_ref)
        nu = (torch.where(use, z_ref, z_safe) - z_safe) / (z_safe * blending_factor)
        wgt = torch.where(use, scale * bilinear / (1.0 + nu * nu), torch.zeros_like(nu))
        out = out + (wgt[None] * color[:, nb]).sum(dim=1)
        total = total + wgt.sum(dim=0)
    return out, total
