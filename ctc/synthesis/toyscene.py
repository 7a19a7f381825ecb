"""An analytic test scene: a textured background wall and a foreground card, exact for any camera.

Tests and ``tools/bench_synth.py`` need source views with exact depth and ground truth at arbitrary
poses without depending on the full content renderer: two planes perpendicular to the world x axis
(the wall at x = ``wall_x``, a square card at x = ``card_x``) with smooth procedural YUV textures.
Every camera (perspective or ERP) is ray cast in closed form with :func:`ctc.geometry.camera_rays`;
rays that hit neither plane see a grey sky at the camera's far depth.
"""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import Tensor

from ctc.camera import Camera
from ctc.color import metric_depth_to_samples
from ctc.geometry import camera_rays
from ctc.synthesis.views import SourceView
from ctc.yuv import downsample_chroma_420


@dataclasses.dataclass(frozen=True)
class PlaneScene:
    """A wall and a card facing the +x direction (world metres)."""

    wall_x: float = 4.0
    """x of the background wall (infinite plane)."""
    card_x: float = 2.5
    """x of the foreground card."""
    card_centre: tuple[float, float] = (0.0, 0.0)
    """(y, z) of the card's centre."""
    card_half: float = 0.35
    """Half the card's side (m)."""
    frequency: float = 1.5
    """Texture frequency in cycles per metre (keep it below the sampling rate of the cameras)."""

    def render(self, cam: Camera, device: torch.device | str = "cpu") -> tuple[Tensor, Tensor]:
        """``(yuv [3, H, W] float32 in [0, 1], depth [H, W] float32 metres)`` seen by ``cam``."""
        origin, dirs = camera_rays(cam, dtype=torch.float64, device=device)
        dx = dirs[..., 0]
        forward = dx > 1e-9
        safe = torch.where(forward, dx, torch.ones_like(dx))
        t_wall = torch.where(forward, (self.wall_x - origin[0]) / safe, torch.full_like(dx, math.inf))
        t_card = torch.where(forward, (self.card_x - origin[0]) / safe, torch.full_like(dx, math.inf))
        hit_card = origin[None, None] + t_card[..., None] * dirs
        on_card = ((t_card > 0) & ((hit_card[..., 1] - self.card_centre[0]).abs() <= self.card_half)
                   & ((hit_card[..., 2] - self.card_centre[1]).abs() <= self.card_half))
        t = torch.where(on_card, t_card, torch.where(t_wall > 0, t_wall, torch.full_like(dx, math.inf)))
        point = origin[None, None] + torch.where(torch.isfinite(t), t, torch.zeros_like(t))[..., None] * dirs
        y, z = point[..., 1], point[..., 2]
        f = 2 * math.pi * self.frequency
        wall = torch.stack((0.5 + 0.3 * torch.sin(f * y) * torch.cos(0.8 * f * z),
                            0.5 + 0.1 * torch.sin(0.5 * f * (y + z)),
                            0.5 + 0.1 * torch.cos(0.7 * f * y)))
        card = torch.stack((0.35 + 0.25 * torch.cos(1.3 * f * y + 0.5) * torch.sin(1.1 * f * z + 0.3),
                            0.4 + 0.05 * torch.cos(f * z), 0.6 + 0.05 * torch.sin(f * y)))
        sky = torch.full_like(wall, 0.5)
        yuv = torch.where(on_card[None], card, torch.where(torch.isfinite(t)[None], wall, sky))
        depth = torch.where(torch.isfinite(t), t, torch.full_like(t, cam.depth_range[1]))
        return yuv.to(torch.float32), depth.to(torch.float32)

    def source_view(self, cam: Camera, device: torch.device | str = "cpu") -> SourceView:
        """A decoded-like :class:`SourceView`: 4:2:0 planes at the camera's colour bits and 16-bit
        depth samples (cameras must have a finite far depth)."""
        yuv, depth = self.render(cam, device)
        planes = texture_planes(yuv, cam.bit_depth_color)
        near, far = cam.depth_range
        samples = metric_depth_to_samples(depth, 16, near, far)
        return SourceView(cam.replace(bit_depth_depth=16), planes, samples.cpu().numpy())


def texture_planes(yuv: Tensor, bits: int) -> tuple:
    """YUV 4:4:4 floats ``[3, H, W]`` in [0, 1] → (Y, U, V) uint16 numpy 4:2:0 planes of ``bits`` bits."""
    scale = float((1 << bits) - 1)
    y, u, v = yuv[0], downsample_chroma_420(yuv[1]), downsample_chroma_420(yuv[2])
    return tuple(torch.floor(p.clamp(0, 1) * scale + 0.5).to(torch.int32).cpu().numpy().astype("uint16")
                 for p in (y, u, v))


def perspective_camera(name: str, position: tuple[float, float, float], size: tuple[int, int] = (96, 64),
                       focal: float | None = None, rotation: tuple[float, float, float] = (0.0, 0.0, 0.0),
                       depth_range: tuple[float, float] = (1.0, 20.0)) -> Camera:
    """A perspective camera with a centred principal point (focal default: 0.9 × width)."""
    w, h = size
    f = 0.9 * w if focal is None else focal
    return Camera(name=name, projection="Perspective", resolution=size, position=position,
                  rotation=rotation, depth_range=depth_range, focal=(f, f),
                  principal_point=(w / 2, h / 2))
