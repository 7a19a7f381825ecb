"""Reprojection and splatting of source views into per-view target depth maps (TMIV VWS steps 2,
3 and 3.5; miv_ctc.md §3.3).

Every valid source pixel is unprojected at its pixel centre, moved into the target camera and
splatted as a small oriented rectangle whose axes come from where its 8 neighbours land (so a
surface that is stretched in the target leaves no cracks), with a per-view z-buffer that keeps the
nearest depth. TMIV does this with a per-pixel loop; here it is one scatter with ``amin`` per batch
of splat fragments, identical on CPU and CUDA.

Shapes: a source is ``[Hs, Ws]``; the target ``[H, W]``; ``V`` visible sources.
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ctc.camera import Camera
from ctc.geometry import (camera_position, camera_rotation, inside_image, pixel_centres, project,
                          unproject)
from ctc.synthesis.fused import fused

# The 8 neighbours of a source pixel, as (dx, dy).
_NEIGHBOURS = ((1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1))


@dataclasses.dataclass(frozen=True)
class CameraPose:
    """A camera's rotation ``[3, 3]`` and centre ``[3]`` as tensors on the working device.

    :func:`ctc.geometry.camera_to_world` rebuilds the rotation matrix from the Euler angles on
    every call (a dozen tiny kernels on a GPU); the synthesizer moves points between the same few
    cameras many times per frame, so it builds each pose once and applies the same formulas
    X_w = R·X_c + t and X_c = Rᵀ·(X_w − t).
    """

    rot: Tensor
    pos: Tensor

    @classmethod
    def of(cls, cam: Camera, device: torch.device, dtype: torch.dtype = torch.float32) -> CameraPose:
        return cls(camera_rotation(cam, dtype=dtype, device=device),
                   camera_position(cam, dtype=dtype, device=device))

    def to_world(self, pts: Tensor) -> Tensor:
        """Camera-frame points ``[..., 3]`` → world points."""
        return pts @ self.rot.mT + self.pos

    def to_camera(self, pts: Tensor) -> Tensor:
        """World points ``[..., 3]`` → camera-frame points."""
        return (pts - self.pos) @ self.rot


@dataclasses.dataclass
class SourceGroup:
    """G source views of one size, moved into the target camera (TMIV step 2); stacked tensors.

    Views are grouped by resolution so that every later step runs once per group instead of
    once per view (one kernel launch for all views of a CTC sequence, which share a size).

    Attributes:
        cameras: the G source cameras; poses: their :class:`CameraPose`.
        depth: ``[G, Hs, Ws]`` metric source depth (z-depth or radius), NaN where invalid.
        color: ``[G, 3, Hs, Ws]`` YUV 4:4:4 in [0, 1].
        rays: ``[G, Hs, Ws, 3]`` unit world rays from the *target* position to each source point
            (NaN where the point is not kept); the splat kernel and the anti-ghosting compare them.
        uv: ``[G, Hs, Ws, 2]`` position in the target image.
        z: ``[G, Hs, Ws]`` depth in the target camera.
        kept: ``[G, Hs, Ws]`` bool, valid depth and landing inside the target ("inside viewport").
        kappa: ``[G]`` splat kernel widths κ_v in radians.
        weight: ``[G]`` camera weights w_v.
        first_view: index of the group's first view in the list of visible views.
    """

    cameras: list[Camera]
    poses: list[CameraPose]
    depth: Tensor
    color: Tensor
    rays: Tensor
    uv: Tensor
    z: Tensor
    kept: Tensor
    kappa: Tensor
    weight: Tensor
    first_view: int

    @property
    def size(self) -> int:
        return len(self.cameras)


def reproject_group(cameras: list[Camera], depth: Tensor, color: Tensor, target: Camera,
                    target_pose: CameraPose, kappa: list[float], weight: list[float],
                    first_view: int) -> SourceGroup:
    """Unproject every source pixel centre at its depth and project it into ``target``.

    Args:
        cameras: G source cameras of one resolution.
        depth: ``[G, Hs, Ws]`` float metric depth, NaN where invalid (pruned, unoccupied).
        color: ``[G, 3, Hs, Ws]`` YUV 4:4:4 in [0, 1].
        target, target_pose: the target camera and its pose.
        kappa, weight: κ_v and w_v of each source (:mod:`ctc.synthesis.weights`).
        first_view: index of the first of these views among all visible views.
    """
    dtype, device = depth.dtype, depth.device
    poses = [CameraPose.of(c, device, dtype) for c in cameras]
    centres = pixel_centres(cameras[0], dtype=dtype, device=device)
    world = torch.stack([p.to_world(unproject(c, centres, d)) for c, p, d in zip(cameras, poses, depth)])
    uv, z, valid = project(target, target_pose.to_camera(world))
    kept = valid & torch.isfinite(depth) & inside_image(target, uv)
    # TMIV stores the ray only for kept points (NaN elsewhere): the anti-ghosting test of the
    # shading then never flags a neighbour that lands outside the target (NaN compares false).
    rays = torch.where(kept[..., None], F.normalize(world - target_pose.pos, dim=-1),
                       torch.full_like(world, float("nan")))
    return SourceGroup(cameras, poses, depth, color, rays, uv, z, kept,
                       torch.tensor(kappa, dtype=dtype, device=device),
                       torch.tensor(weight, dtype=dtype, device=device), first_view)


@dataclasses.dataclass
class Splats:
    """Splat parameters of the splatted source pixels, flattened to ``[P]``.

    ``view`` ``[P]`` (index among the visible views), ``centre`` ``[P, 2]`` (target uv of the pixel
    itself), ``z`` ``[P]``, half-axes ``r1 ≥ r2`` ``[P]``, unit major axis ``e1`` ``[P, 2]`` (the
    minor axis is its normal), and ``single`` ``[P]`` bool for splats that fall back to the one
    pixel containing the centre.
    """

    view: Tensor
    centre: Tensor
    z: Tensor
    r1: Tensor
    r2: Tensor
    e1: Tensor
    single: Tensor

    @staticmethod
    def cat(parts: list[Splats]) -> Splats:
        return Splats(*(torch.cat([getattr(p, f.name) for p in parts])
                        for f in dataclasses.fields(Splats)))


@fused
def _kernel_moments(uv: Tensor, rays: Tensor, kept: Tensor, inv_kappa2: Tensor
                    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Σw and the weighted scatter (Mxx, Mxy, Myy) of the 8 neighbours' target positions about
    their weighted centroid, ``[G, Hs, Ws]`` each (positions relative to the pixel's own)."""
    zero = torch.zeros_like(kept, dtype=uv.dtype)
    u = torch.where(kept, uv[..., 0], zero)
    v = torch.where(kept, uv[..., 1], zero)
    r = [torch.where(kept, rays[..., c], zero) for c in range(3)]
    # Neighbour planes with clamped (replicated) borders, channels first: [G, 6, Hs+2, Ws+2]
    padded = F.pad(torch.stack((u, v, *r, kept.to(u.dtype)), dim=1), (1, 1, 1, 1), mode="replicate")
    hs, ws = kept.shape[1:]
    w_sum = torch.zeros_like(zero)
    du_sum = torch.zeros_like(zero)
    dv_sum = torch.zeros_like(zero)
    neigh = []
    for dx, dy in _NEIGHBOURS:
        nb = padded[:, :, 1 + dy:1 + dy + hs, 1 + dx:1 + dx + ws]
        nb_kept = nb[:, 5] > 0.5
        chord2 = (nb[:, 2] - r[0]) ** 2 + (nb[:, 3] - r[1]) ** 2 + (nb[:, 4] - r[2]) ** 2
        angle = 2.0 * torch.asin(torch.clamp(0.5 * torch.sqrt(chord2), max=1.0))
        w = torch.where(nb_kept, torch.exp(-(angle * angle) * inv_kappa2), zero)
        du = torch.where(nb_kept, nb[:, 0] - u, zero)
        dv = torch.where(nb_kept, nb[:, 1] - v, zero)
        w_sum = w_sum + w
        du_sum = du_sum + w * du
        dv_sum = dv_sum + w * dv
        neigh.append((du, dv, w))
    safe = torch.where(w_sum > 0, w_sum, torch.ones_like(w_sum))
    cu, cv = du_sum / safe, dv_sum / safe
    mxx = torch.zeros_like(zero)
    mxy = torch.zeros_like(zero)
    myy = torch.zeros_like(zero)
    for du, dv, w in neigh:
        eu, ev = du - cu, dv - cv
        mxx = mxx + w * eu * eu
        mxy = mxy + w * eu * ev
        myy = myy + w * ev * ev
    return w_sum, mxx, mxy, myy


def splat_parameters(src: SourceGroup, minimal_weight: float, stretch_factor: float) -> Splats:
    """Oriented-rectangle splats from the angular-distortion kernel (TMIV step 3).

    Each kept pixel p weights its kept neighbours q by w = exp(−(∠(ray_p, ray_q)/κ)²) (neighbour
    indices clamped at the border, as in TMIV). If Σw < ``minimal_weight`` the pixel is dropped.
    Otherwise the weighted scatter M of the neighbours' target positions about their weighted
    centroid gives eigenvalues l1 ≥ l2 and half-axes r_k = √(2·l_k/Σw) along the eigenvectors;
    when M is degenerate or r1 ≥ ``stretch_factor`` the splat is a single pixel.

    The angle is computed as 2·asin(‖a − b‖/2), exact for unit vectors and accurate at the
    sub-milliradian angles of neighbouring pixels where acos(a·b) loses float32 precision.
    Nearly isotropic scatter (l1 − l2 < 10⁻³·l1) uses the image axes, as TMIV does for l1 = l2.
    Positions are taken relative to the pixel's own, which keeps the scatter exact in float32.
    """
    kept = src.kept                                     # [G, Hs, Ws]
    inv_kappa2 = (1.0 / src.kappa ** 2)[:, None, None]
    w_sum, mxx, mxy, myy = _kernel_moments(src.uv, src.rays, kept, inv_kappa2)
    ok = kept & (w_sum >= minimal_weight)
    sel = ok.nonzero(as_tuple=True)
    mxx, mxy, myy, w_tot = mxx[sel], mxy[sel], myy[sel], w_sum[sel]
    trace = mxx + myy
    det = mxx * myy - mxy * mxy
    delta = trace * trace - 4.0 * det
    root = torch.sqrt(torch.clamp(delta, min=0.0))
    l1 = 0.5 * (trace + root)
    l2 = 0.5 * (trace - root)
    r1 = torch.sqrt(torch.clamp(2.0 * l1 / w_tot, min=0.0))
    r2 = torch.sqrt(torch.clamp(2.0 * l2 / w_tot, min=0.0))
    single = ~((det > 0) & (delta >= 0) & (l2 > 0) & (r1 < stretch_factor))
    u1 = torch.stack((mxx - l2, mxy), dim=-1)
    u2 = torch.stack((mxy, myy - l2), dim=-1)
    n1 = torch.linalg.vector_norm(u1, dim=-1, keepdim=True)
    n2 = torch.linalg.vector_norm(u2, dim=-1, keepdim=True)
    axis_x = torch.zeros_like(u1)
    axis_x[:, 0] = 1.0
    e1 = torch.where(n1 > 0, u1 / n1.clamp_min(1e-30), u2 / n2.clamp_min(1e-30))
    isotropic = (l1 - l2 <= 1e-3 * l1) | ((n1 <= 0) & (n2 <= 0))[:, 0]
    e1 = torch.where(isotropic[:, None], axis_x, e1)
    return Splats(view=sel[0] + src.first_view, centre=src.uv[sel], z=src.z[sel], r1=r1, r2=r2,
                  e1=e1, single=single)


def _ring_offsets(k: int, device: torch.device) -> Tensor:
    """Integer offsets ``[O, 2]`` (dx, dy) with max(|dx|, |dy|) = k (the 1 offset (0, 0) for k = 0)."""
    r = torch.arange(-k, k + 1, device=device)
    dy, dx = torch.meshgrid(r, r, indexing="ij")
    ring = torch.maximum(dx.abs(), dy.abs()) == k
    return torch.stack((dx[ring], dy[ring]), dim=-1)


def _reach(splats: Splats) -> Tensor:
    """``[P]`` the largest |dx| or |dy| (in pixels, from the pixel containing the centre) of a pixel
    centre the rectangle can cover: its axis-aligned half-extent is r1·|e1| + r2·|e2| per axis,
    and the centre sits at fraction f of its pixel, so |dx + ½ − f| ≤ extent bounds dx."""
    ex, ey = splats.e1[:, 0].abs(), splats.e1[:, 1].abs()
    half_x = splats.r1 * ex + splats.r2 * ey
    half_y = splats.r1 * ey + splats.r2 * ex
    frac = splats.centre - torch.floor(splats.centre)
    reach = torch.zeros_like(splats.z, dtype=torch.long)
    for half, f in ((half_x, frac[:, 0]), (half_y, frac[:, 1])):
        lo = torch.ceil(f - 0.5 - half).long()
        hi = torch.floor(f - 0.5 + half).long()
        reach = torch.maximum(reach, torch.maximum(-lo, hi))
    return reach


_INF_BITS = 0x7F800000
"""The int32 bit pattern of float32 +inf: the empty z-buffer value."""


@fused
def _fragments(ox: Tensor, oy: Tensor, oxf: Tensor, oyf: Tensor, fx: Tensor, fy: Tensor, e1: Tensor,
               r1: Tensor, r2: Tensor, box: Tensor, j0: Tensor, i0: Tensor, base: Tensor,
               single: Tensor, keys: Tensor, width: int, height: int, size: int
               ) -> tuple[Tensor, Tensor]:
    """Fragments of n splats at O offsets: flat z-buffer indices (int64) and int32 depth keys,
    ``[O·n]`` each, +inf keys where the offset's pixel is not covered.

    Args: offsets ``ox, oy`` ``[O, 1]`` (int32) and their pixel-centre floats ``oxf, oyf``; per
    splat ``[n]``: position in its pixel ``fx, fy``, axis ``e1`` ``[n, 2]``, half-axes ``r1, r2``,
    TMIV bounding box relative to the centre pixel ``box`` ``[4, n]``, centre pixel ``j0, i0``,
    its flat index ``base``, ``single`` flag and depth ``keys``.
    """
    dx = oxf - fx[None, :]
    dy = oyf - fy[None, :]
    ex, ey = e1[:, 0][None, :], e1[:, 1][None, :]
    rect = (((ex * dx + ey * dy).abs() <= r1[None, :])
            & ((ey * dx - ex * dy).abs() <= r2[None, :])
            & (ox >= box[0][None, :]) & (ox <= box[1][None, :])
            & (oy >= box[2][None, :]) & (oy <= box[3][None, :]))
    j = j0[None, :] + ox
    i = i0[None, :] + oy
    cover = (rect | single[None, :]) & (j >= 0) & (j < width) & (i >= 0) & (i < height)
    flat = torch.where(cover, base[None, :] + oy * width + ox, base[None, :]).clamp(0, size - 1)
    key = torch.where(cover, keys[None, :], torch.full_like(flat, _INF_BITS))
    return flat.reshape(-1).long(), key.reshape(-1)


def rasterize_splats(splats: Splats, num_views: int, height: int, width: int, max_radius: int,
                     chunk: int) -> Tensor:
    """Per-view z-buffers of the splats: ``[V, H, W]`` nearest depth, ``inf`` where nothing landed.

    Pixel (i, j) of view v is covered by a rectangle splat when its centre Δ = (j + ½, i + ½) − centre
    satisfies |e1·Δ| ≤ r1 and |e2·Δ| ≤ r2 and lies in TMIV's bounding box [⌊c − r1⌋, ⌈c + r1⌉]; a
    single-pixel splat covers the pixel containing its centre. Fragments are visited ring by ring
    around the centre pixel (only splats large enough for the ring take part) and reduced with
    ``scatter_reduce(amin)``: the order-independent equivalent of TMIV's sequential z-test.

    Depths are positive float32, whose bit patterns order like the values, so the z-buffer holds
    them as int32 and the reduction is a native integer atomic min on CUDA. Fragments that do not
    cover their pixel are scattered as +inf (a no-op), which avoids compacting them.
    """
    device = splats.z.device
    n_pix = height * width
    if num_views * n_pix >= 2 ** 31:
        raise ValueError(f"{num_views} views of {width}x{height} exceed the int32 z-buffer index")
    zbuf = torch.full((num_views * n_pix,), _INF_BITS, dtype=torch.int32, device=device)
    keys = splats.z.to(torch.float32).contiguous().view(torch.int32)
    cx, cy = splats.centre[:, 0], splats.centre[:, 1]
    r1, r2, e1, single = splats.r1, splats.r2, splats.e1, splats.single
    j0, i0 = torch.floor(cx).to(torch.int32), torch.floor(cy).to(torch.int32)
    # TMIV's bounding box relative to the centre pixel, and the pixel position within it.
    box = torch.stack((torch.floor(cx - r1) - j0, torch.ceil(cx + r1) - j0,
                       torch.floor(cy - r1) - i0, torch.ceil(cy + r1) - i0)).to(torch.int32)
    fx, fy = cx - j0, cy - i0
    reach = torch.where(single, torch.zeros_like(j0), _reach(splats).to(torch.int32)).clamp(max=max_radius)
    base = (splats.view * n_pix).to(torch.int32) + i0 * width + j0
    for k in range(max_radius + 1):
        active = (reach >= k).nonzero(as_tuple=True)[0]
        if active.numel() == 0:
            break
        offsets = _ring_offsets(k, device).to(torch.int32)
        per_batch = max(1, chunk // offsets.shape[0])
        ox, oy = offsets[:, 0:1], offsets[:, 1:2]
        oxf, oyf = ox.to(cx.dtype) + 0.5, oy.to(cx.dtype) + 0.5
        for start in range(0, active.numel(), per_batch):
            idx = active[start:start + per_batch]
            flat, key = _fragments(ox, oy, oxf, oyf, fx[idx], fy[idx], e1[idx], r1[idx], r2[idx],
                                   box[:, idx], j0[idx], i0[idx], base[idx], single[idx], keys[idx],
                                   width, height, num_views * n_pix)
            zbuf.scatter_reduce_(0, flat, key, reduce="amin")
    return zbuf.view(torch.float32).view(num_views, height, width)


def _square_max(x: Tensor, r: int) -> Tensor:
    """Maximum over the (2r+1)×(2r+1) square around each pixel of ``x`` ``[V, 1, H, W]`` (outside
    the image ignored): a row pass then a column pass, 2·(2r+1) comparisons per pixel instead of
    (2r+1)² (the CTC's r = 5 makes it about 5× faster on CPU)."""
    x = F.max_pool2d(x, (1, 2 * r + 1), stride=1, padding=(0, r))
    return F.max_pool2d(x, (2 * r + 1, 1), stride=1, padding=(r, 0))


def open_depth_maps(zbuf: Tensor, erode: int, dilate: int, skip_last: bool = True) -> Tensor:
    """Morphological opening of each warped depth map (TMIV ``filterReprojectedPrunedDepthMaps``).

    ``erode`` 3×3 erosions of the valid mask followed by ``dilate`` 3×3 dilations that can only
    restore a pixel's *own* warped value: isolated splats and slivers up to about ``erode`` pixels
    wide disappear, everything else is untouched. TMIV filters every view but the last one of the
    *source list* (in a TMIV anchor that is the inpainted background view); the caller sets
    ``skip_last`` when that view is among the ``V`` given (it is then the last of them). A k-fold
    3×3 erosion equals one (2k+1)×(2k+1) erosion, so each step is one separable maximum filter.

    Args:
        zbuf: ``[V, H, W]`` depths, ``inf`` where invalid.
    Returns:
        The filtered ``[V, H, W]`` depths (a new tensor).
    """
    if erode == 0 and dilate == 0:
        return zbuf
    valid = torch.isfinite(zbuf)
    n = valid.shape[0] - 1 if skip_last else valid.shape[0]
    if n <= 0:
        return zbuf
    mask = valid[:n, None].to(zbuf.dtype)
    if erode:
        mask = 1.0 - _square_max(1.0 - mask, erode)
    if dilate:
        mask = _square_max(mask, dilate)
    keep = valid.clone()
    keep[:n] &= mask[:, 0] > 0.5
    return torch.where(keep, zbuf, torch.full_like(zbuf, math.inf))
