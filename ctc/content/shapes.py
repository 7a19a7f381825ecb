"""Analytic ray intersection with the primitive shapes of the synthetic scenes.

Every shape lives in its own *local* frame (centred at the origin, axes as documented per class)
and answers one question for a batch of rays: where does ray ``o + t·d`` first hit me? The rays
need not be unit length: the renderer passes the camera rays of :func:`ctc.geometry.camera_rays`,
scaled so that ``t`` *is* the MIV depth (z-distance for perspective cameras, radial distance for
ERP; miv_ctc.md §2.2). The intersections are solved in closed form (plane, slab, quadratic), so
the depth maps are exact up to float32 rounding, unlike a depth estimated from images.

Shapes are rigidly moved by the renderer (rotation + translation preserves ``t``), so they only
need a canonical placement here.

Each ``intersect`` returns a :class:`Hits` with, for ``N`` rays:

- ``t`` ``[N]``: ray parameter of the nearest hit with ``t > T_MIN``, ``inf`` where the ray misses;
- ``normal`` ``[N, 3]``: outward unit normal at the hit (local frame);
- ``st`` ``[N, 2]``: surface coordinates, roughly in [0, 1]², that the material maps to texels
  (s to the right and t downwards when the surface is seen from the front, like image axes).

Values at misses are unspecified (finite).
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple, Protocol

import torch

T_MIN = 1e-4
"""Hits closer than this (in units of the ray direction's length) are ignored: no self-hits."""


class Hits(NamedTuple):
    t: torch.Tensor
    normal: torch.Tensor
    st: torch.Tensor


class Shape(Protocol):
    @property
    def bounding_radius(self) -> float:
        """Radius of a sphere about the local origin that contains the shape (for culling)."""
        ...

    def intersect(self, o: torch.Tensor, d: torch.Tensor) -> Hits:
        """Nearest hits of rays ``o [3] + t·d [N, 3]`` (local frame)."""
        ...


def _nearest(*candidates: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Among ``(t [N], ok [N])`` candidates, the smallest valid ``t`` (inf if none) and its index."""
    ts = torch.stack([torch.where(ok & (t > T_MIN), t, torch.full_like(t, math.inf)) for t, ok in candidates])
    best, which = ts.min(dim=0)
    return best, which


@dataclasses.dataclass(frozen=True)
class Rect:
    """A two-sided rectangle in the local plane x = 0: y ∈ [-w/2, w/2], z ∈ [-h/2, h/2].

    Its front faces +x (normal +x). Seen from the front (a viewer at +x looking towards -x, whose
    right is +y), s grows with y and t grows downwards (-z): a photograph appears upright and
    unmirrored.
    """

    width: float
    height: float

    @property
    def bounding_radius(self) -> float:
        return math.hypot(self.width, self.height) / 2

    def intersect(self, o: torch.Tensor, d: torch.Tensor) -> Hits:
        dx = d[:, 0]
        safe = torch.where(dx.abs() > 1e-12, dx, torch.full_like(dx, 1e-12))
        t = -o[0] / safe
        p = o + t[:, None] * d
        ok = (p[:, 1].abs() <= self.width / 2) & (p[:, 2].abs() <= self.height / 2)
        t, _ = _nearest((t, ok))
        normal = torch.zeros_like(d)
        normal[:, 0] = 1.0
        st = torch.stack([p[:, 1] / self.width + 0.5, 0.5 - p[:, 2] / self.height], dim=1)
        return Hits(t, normal, st)


@dataclasses.dataclass(frozen=True)
class Box:
    """An axis-aligned box centred at the origin with side lengths ``size`` = (sx, sy, sz).

    Hit from outside (objects) or from inside (rooms: the far wall is hit). Each face is mapped
    with the same texel density: s, t are the two in-face coordinates divided by the largest side,
    so a material's tiles count repeats per largest side.
    """

    size: tuple[float, float, float]

    @property
    def bounding_radius(self) -> float:
        return math.hypot(*self.size) / 2

    def intersect(self, o: torch.Tensor, d: torch.Tensor) -> Hits:
        half = torch.tensor(self.size, dtype=d.dtype, device=d.device) / 2
        safe = torch.where(d.abs() > 1e-12, d, torch.full_like(d, 1e-12))
        t1 = (-half - o) / safe
        t2 = (half - o) / safe
        t_near, axis_near = torch.minimum(t1, t2).max(dim=1)
        t_far, axis_far = torch.maximum(t1, t2).min(dim=1)
        ok = t_near <= t_far
        t, which = _nearest((t_near, ok), (t_far, ok))
        axis = torch.where(which == 0, axis_near, axis_far)
        p = o + t.clamp(max=1e30)[:, None] * d
        normal = torch.zeros_like(d)
        normal.scatter_(1, axis[:, None], torch.sign(p.gather(1, axis[:, None])))
        # In-face coordinates: (y, z) on ±x faces, (x, z) on ±y faces, (x, y) on ±z faces.
        a = torch.where(axis == 0, 1, 0)
        b = torch.where(axis == 2, 1, 2)
        scale = 2 * float(half.max())
        s = (p.gather(1, a[:, None])[:, 0] + half[a]) / scale
        tt = (half[b] - p.gather(1, b[:, None])[:, 0]) / scale
        return Hits(t, normal, torch.stack([s, tt], dim=1))


def _quadratic_roots(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor):
    """Both real roots (small, large) of a·t² + b·t + c = 0 and where they exist (a > 0).

    Uses the cancellation-free form q = -(b + sign(b)·√disc)/2, roots q/a and c/q.
    """
    disc = b * b - 4 * a * c
    ok = disc >= 0
    root = torch.sqrt(disc.clamp(min=0))
    q = -0.5 * (b + torch.where(b >= 0, root, -root))
    q = torch.where(q.abs() > 1e-30, q, torch.full_like(q, 1e-30))
    r1, r2 = q / a, c / q
    return torch.minimum(r1, r2), torch.maximum(r1, r2), ok


def longitude(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """s ∈ [0, 1) going *clockwise* seen from above (+z), like an ERP image's u (u=0 at φ=π)."""
    return (math.pi - torch.atan2(y, x)) / (2 * math.pi)


@dataclasses.dataclass(frozen=True)
class Sphere:
    """A sphere of ``radius`` at the origin; s = longitude as ERP u, t = (90° - latitude)/180°."""

    radius: float

    @property
    def bounding_radius(self) -> float:
        return self.radius

    def intersect(self, o: torch.Tensor, d: torch.Tensor) -> Hits:
        a = (d * d).sum(1)
        b = 2 * (d @ o)
        c = torch.zeros_like(a) + ((o * o).sum() - self.radius**2)
        r1, r2, ok = _quadratic_roots(a, b, c)
        t, _ = _nearest((r1, ok), (r2, ok))
        p = o + t.clamp(max=1e30)[:, None] * d
        normal = p / self.radius
        lat = torch.asin(normal[:, 2].clamp(-1, 1))
        st = torch.stack([longitude(p[:, 0], p[:, 1]), 0.5 - lat / math.pi], dim=1)
        return Hits(t, normal, st)


@dataclasses.dataclass(frozen=True)
class Cylinder:
    """A closed cylinder of ``radius``, axis local z, z ∈ [-height/2, height/2].

    Side: s = longitude (as :class:`Sphere`), t from top (0) to bottom (1). Caps: the disc mapped
    to the unit square.
    """

    radius: float
    height: float

    @property
    def bounding_radius(self) -> float:
        return math.hypot(self.radius, self.height / 2)

    def intersect(self, o: torch.Tensor, d: torch.Tensor) -> Hits:
        h = self.height / 2
        a = (d[:, :2] * d[:, :2]).sum(1)
        a = torch.where(a > 1e-24, a, torch.full_like(a, 1e-24))
        b = 2 * (d[:, :2] @ o[:2])
        c = torch.zeros_like(a) + ((o[:2] * o[:2]).sum() - self.radius**2)
        r1, r2, ok = _quadratic_roots(a, b, c)
        z1, z2 = o[2] + r1 * d[:, 2], o[2] + r2 * d[:, 2]
        dz = torch.where(d[:, 2].abs() > 1e-12, d[:, 2], torch.full_like(d[:, 2], 1e-12))
        caps = []
        for zc in (h, -h):
            tc = (zc - o[2]) / dz
            pc = o[:2] + tc[:, None] * d[:, :2]
            caps.append((tc, (pc * pc).sum(1) <= self.radius**2))
        t, which = _nearest((r1, ok & (z1.abs() <= h)), (r2, ok & (z2.abs() <= h)), *caps)
        p = o + t.clamp(max=1e30)[:, None] * d
        on_side = which < 2
        normal = torch.zeros_like(d)
        normal[:, :2] = torch.where(on_side[:, None], p[:, :2] / self.radius, 0.0)
        normal[:, 2] = torch.where(on_side, 0.0, torch.where(which == 2, 1.0, -1.0))
        side_st = torch.stack([longitude(p[:, 0], p[:, 1]), (h - p[:, 2]) / self.height], dim=1)
        cap_st = (p[:, :2] / self.radius + 1) / 2
        return Hits(t, normal, torch.where(on_side[:, None], side_st, cap_st))
