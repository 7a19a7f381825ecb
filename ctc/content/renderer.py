"""Batched ray casting of a :class:`~ctc.content.scene.Scene` into texture + exact MIV depth.

One call renders one camera at one time, all pixels at once (torch; CPU or CUDA; no per-pixel
Python loop, only a loop over the scene's dozen objects):

1. rays: :func:`ctc.geometry.camera_rays` gives the camera centre and per-pixel world directions
   scaled so that the ray parameter *is* the MIV depth (z-depth for perspective, radius for ERP);
2. visibility: every object intersects the rays in its own frame (rigid motion at that time,
   :mod:`ctc.content.shapes`); a z-buffer over objects keeps the nearest hit. Depth is that ray
   parameter: exact, with no depth estimation and no rasterisation error;
3. texture: texel coordinates of the hits; the mip level comes from their screen-space
   derivatives (:func:`mip_level`, the footprint of one pixel on the texture) and the
   photograph is sampled trilinearly (:mod:`ctc.content.textures`), so minified textures do not
   alias;
4. shading: albedo × (ambient + (1 − ambient)·max(0, n·l)) with the normal turned towards the
   viewer: view-independent, so all cameras agree on a surface point's colour.

Rays that hit nothing see the scene's sky (an image at infinity, depth ``inf``).
"""

from __future__ import annotations

import dataclasses
import math

import torch

from ctc.camera import Camera
from ctc.content.scene import Material, Scene, SceneObject
from ctc.content.shapes import longitude
from ctc.content.textures import MipPyramid, pyramid
from ctc.geometry import camera_rays, rotation_matrix


@dataclasses.dataclass(frozen=True)
class Render:
    """One rendered image.

    rgb: ``[3, H, W]`` float32 R'G'B' in [0, 1].
    depth: ``[H, W]`` float32 MIV depth in metres (z for perspective, radius for ERP); ``inf``
        where the sky is seen.
    object_id: ``[H, W]`` int64 index into ``scene.objects`` of the visible object, ``-1`` for sky.
    """

    rgb: torch.Tensor
    depth: torch.Tensor
    object_id: torch.Tensor


class Renderer:
    """Renders one scene on one device; texture pyramids are built once and reused."""

    def __init__(self, scene: Scene, device: torch.device | str = "cpu") -> None:
        self.scene = scene
        self.device = torch.device(device)
        self._pyramids: dict[str, MipPyramid] = {}

    def _pyramid(self, material: Material) -> MipPyramid:
        if material.texture not in self._pyramids:
            self._pyramids[material.texture] = pyramid(material.texture, self.device)
        return self._pyramids[material.texture]

    def render(self, camera: Camera, time: float) -> Render:
        """Render ``camera`` at ``time`` seconds.

        Two passes over the objects: visibility (nearest ``t`` per ray, testing each object only
        against the rays that pass through its bounding sphere), then surface attributes (normal,
        texel) of each object only at the pixels it won.
        """
        dtype = torch.float32
        origin, dirs = camera_rays(camera, dtype=dtype, device=self.device)
        height, width = dirs.shape[:2]
        dirs = dirs.reshape(-1, 3)
        n = dirs.shape[0]
        depth = torch.full((n,), math.inf, dtype=dtype, device=self.device)
        object_id = torch.full((n,), -1, dtype=torch.int64, device=self.device)
        local = [self._local_rays(obj, origin, dirs, time) for obj in self.scene.objects]
        for index, (obj, (o, d, _)) in enumerate(zip(self.scene.objects, local)):
            rays = _bounded_rays(o, d, obj.shape.bounding_radius)
            t = obj.shape.intersect(o, d[rays]).t
            closer = t < depth[rays]
            depth[rays] = torch.where(closer, t, depth[rays])
            object_id[rays] = torch.where(closer, index, object_id[rays])
        if self.scene.sky is None and bool((object_id < 0).any()):
            raise RuntimeError(f"camera {camera.name}: rays escape a scene without sky")
        normal = torch.zeros(n, 3, dtype=dtype, device=self.device)
        texel = torch.zeros(n, 2, dtype=dtype, device=self.device)
        won = [torch.nonzero(object_id == index).squeeze(1) for index in range(-1, len(local))]
        if self.scene.sky is not None:
            texel[won[0]] = self._texel(self.scene.sky, _direction_st(dirs[won[0]]))
        for obj, (o, d, rot), sel in zip(self.scene.objects, local, won[1:]):
            hits = obj.shape.intersect(o, d[sel])
            normal[sel] = hits.normal @ rot.T
            texel[sel] = self._texel(obj.material, hits.st)
        level = mip_level(texel.reshape(height, width, 2), object_id.reshape(height, width)).reshape(-1)
        albedo = torch.zeros(n, 3, dtype=dtype, device=self.device)
        materials = [self.scene.sky] + [o.material for o in self.scene.objects]
        for material, sel in zip(materials, won):
            if material is not None and sel.numel() > 0:
                tint = torch.tensor(material.tint, dtype=dtype, device=self.device)
                albedo[sel] = self._pyramid(material).sample(texel[sel], level[sel]) * tint
        rgb = albedo * self._shade(normal, dirs, object_id)[:, None]
        return Render(
            rgb=rgb.clamp(0, 1).T.reshape(3, height, width).contiguous(),
            depth=depth.reshape(height, width),
            object_id=object_id.reshape(height, width),
        )

    def _local_rays(self, obj: SceneObject, origin: torch.Tensor, dirs: torch.Tensor, time: float
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(origin ``[3]``, directions ``[N, 3]``) in ``obj``'s frame at ``time``, and its rotation.

        Computed once for all rays, so both passes index the same floats (a matrix product of
        a subset could round differently, and the output must be exactly reproducible).
        """
        centre, ypr = obj.pose(time)
        rot = rotation_matrix(torch.tensor(ypr, dtype=torch.float64)).to(dtype=dirs.dtype, device=self.device)
        c = torch.tensor(centre, dtype=dirs.dtype, device=self.device)
        return (origin - c) @ rot, dirs @ rot, rot

    def frame(self, camera: Camera, time: float) -> tuple[torch.Tensor, torch.Tensor]:
        """(rgb, depth) of :meth:`render`: the :class:`ctc.content.plan.FrameSource` interface."""
        out = self.render(camera, time)
        return out.rgb, out.depth

    def _texel(self, material: Material, st: torch.Tensor) -> torch.Tensor:
        """Surface coordinates ``[N, 2]`` → level-0 texel coordinates of ``material``'s photograph."""
        h, w = self._pyramid(material).size
        scale = torch.tensor([material.tiles[0] * w, material.tiles[1] * h], dtype=st.dtype, device=st.device)
        return st * scale

    def _shade(self, normal: torch.Tensor, dirs: torch.Tensor, object_id: torch.Tensor) -> torch.Tensor:
        """``[N]`` shade factors: Lambert + ambient with the normal facing the viewer; sky is 1."""
        light = torch.tensor(self.scene.light, dtype=normal.dtype, device=normal.device)
        light = light / light.norm()
        facing = torch.where(((normal * dirs).sum(1) > 0)[:, None], -normal, normal)
        ambient = self.scene.ambient
        shade = ambient + (1 - ambient) * (facing @ light).clamp(min=0)
        return torch.where(object_id < 0, torch.ones_like(shade), shade)


def _bounded_rays(o: torch.Tensor, d: torch.Tensor, radius: float) -> torch.Tensor:
    """Indices of the rays ``o + t·d`` (t > 0) that pass within ``radius`` of the local origin.

    All rays when the camera is inside the sphere (rooms, floors); otherwise those whose closest
    approach lies ahead of the camera and within the radius. A cheap cull before the exact test.
    """
    if float((o * o).sum()) <= radius * radius:
        return torch.arange(d.shape[0], device=d.device)
    dd = (d * d).sum(1)
    od = d @ o
    closest = (o * o).sum() - od * od / dd  # squared distance of the line to the origin
    return torch.nonzero((od < 0) & (closest <= radius * radius)).squeeze(1)


def _direction_st(dirs: torch.Tensor) -> torch.Tensor:
    """Sky coordinates of world directions ``[N, 3]``: ERP-like (s from longitude, t from latitude)."""
    unit = dirs / dirs.norm(dim=1, keepdim=True)
    lat = torch.asin(unit[:, 2].clamp(-1, 1))
    return torch.stack([longitude(unit[:, 0], unit[:, 1]), 0.5 - lat / math.pi], dim=1)


def _footprint(texel: torch.Tensor, object_id: torch.Tensor, dim: int) -> torch.Tensor:
    """Texels per pixel ``[H, W]`` along image axis ``dim`` (0 = rows, 1 = columns).

    The smaller of the forward and backward differences to neighbours showing the same object
    (so silhouettes and texture seams, where one side jumps, do not inflate it); ``inf`` where
    neither neighbour shows the same object.
    """
    size = texel.shape[dim]
    best = torch.full(object_id.shape, math.inf, dtype=texel.dtype, device=texel.device)
    for step in (1, -1):
        diff = (texel.roll(-step, dim) - texel).norm(dim=-1)
        same = object_id.roll(-step, dim) == object_id
        index = torch.arange(size, device=texel.device)
        inside = (index + step >= 0) & (index + step < size)
        inside = inside[:, None] if dim == 0 else inside[None, :]
        best = torch.where(same & inside, torch.minimum(best, diff), best)
    return best


def mip_level(texel: torch.Tensor, object_id: torch.Tensor) -> torch.Tensor:
    """Mip level ``[H, W]`` = log2 of the pixel footprint in level-0 texels (isotropic, the larger
    of the two image axes, as OpenGL's ρ); 0 where no neighbour shows the same object.

    Args:
        texel: ``[H, W, 2]`` level-0 texel coordinates of each pixel's surface point.
        object_id: ``[H, W]`` which object each pixel shows.
    """
    along_rows = _footprint(texel, object_id, 0)
    along_cols = _footprint(texel, object_id, 1)
    rho = torch.maximum(
        torch.where(torch.isinf(along_rows), along_cols, along_rows),
        torch.where(torch.isinf(along_cols), along_rows, along_cols),
    )
    rho = torch.where(torch.isinf(rho), torch.ones_like(rho), rho)
    return torch.log2(rho.clamp(min=1e-6)).clamp(min=0)
