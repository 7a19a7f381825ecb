"""Per-source quantities computed once per target pose (TMIV VWS step 0; miv_ctc.md §3.3).

- :func:`camera_weights`: how much each source view is trusted, w_v = 1 / (1 + (d_v / d_ref)²),
  from the distance d_v of the target to the camera (3-D rig) or to its optical axis (planar or
  linear rig, where moving along the axis does not change what a camera sees).
- :func:`visible_sources`: which sources can contribute at all (a coarse frustum test).
- :func:`angular_widths`: the splat kernel width κ_v of each source, in radians.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from ctc.camera import Camera
from ctc.geometry import (camera_position, camera_to_world, inside_image, optical_axis, pixel_density,
                          project, unproject, world_to_camera)

_RIG_3D_DETERMINANT = 1e-2
"""TMIV calls a rig three-dimensional when det(Σ p pᵀ) over camera positions exceeds this."""


def is_rig_3d(sources: Sequence[Camera]) -> bool:
    """True when the camera positions span 3-D space (det(Σ_v p_v p_vᵀ) > 0.01, positions not centred).

    TMIV uses the uncentred second moment, so a planar rig away from the origin can count as 3-D;
    we keep that behaviour to pick the same distance rule as the reference renderer.
    """
    pos = torch.tensor([c.position for c in sources], dtype=torch.float64)
    return bool(torch.linalg.det(pos.T @ pos) > _RIG_3D_DETERMINANT)


def camera_weights(sources: Sequence[Camera], target: Camera) -> torch.Tensor:
    """w_v = 1 / (1 + (d_v / d_ref)²) per source: ``[V]`` float64 on the CPU.

    d_v is ‖p_v − p_t‖ for a 3-D rig, else ‖(p_v − p_t) × axis_v‖ (distance from the target to the
    camera's optical-axis line). d_ref is a quarter of the distance between the camera nearest the
    target and the next camera in order of d_v that is not at the same position. One source gets
    weight 1; so do all sources when every camera sits at one position.
    """
    if len(sources) == 1:
        return torch.ones(1, dtype=torch.float64)
    f64 = torch.float64
    pos = torch.stack([camera_position(c, dtype=f64) for c in sources])
    p_t = camera_position(target, dtype=f64)
    if is_rig_3d(sources):
        dist = torch.linalg.vector_norm(pos - p_t, dim=-1)
    else:
        axes = torch.stack([optical_axis(c, dtype=f64) for c in sources])
        dist = torch.linalg.vector_norm(torch.linalg.cross(pos - p_t, axes), dim=-1)
    order = torch.argsort(dist, stable=True)
    gaps = torch.linalg.vector_norm(pos[order[1:]] - pos[order[0]], dim=-1)
    nonzero = gaps[gaps > torch.finfo(torch.float32).eps]
    if nonzero.numel() == 0:
        return torch.ones(len(sources), dtype=f64)
    d_ref = 0.25 * nonzero[0]
    return 1.0 / (1.0 + (dist / d_ref) ** 2)


def visible_sources(sources: Sequence[Camera], target: Camera, far_limit: float) -> list[bool]:
    """Coarse culling: can source v see any part of the target's frustum? ``[V]`` bools.

    A 4×4 grid of target image positions (corners included) is unprojected at the smallest near
    and the largest far depth of all cameras (32 world points); a source is visible when any point
    projects in front of it and inside its image (TMIV ``computeCameraVisibility``). An infinite
    far depth is replaced by ``far_limit`` metres.
    """
    f64 = torch.float64
    near = min(c.depth_range[0] for c in (*sources, target))
    far = max(c.depth_range[1] for c in (*sources, target))
    far = far_limit if math.isinf(far) else far
    u = torch.linspace(0.0, target.width, 4, dtype=f64)
    v = torch.linspace(0.0, target.height, 4, dtype=f64)
    uv = torch.stack(torch.meshgrid(u, v, indexing="ij"), dim=-1).reshape(-1, 2)
    depth = torch.tensor([near, far], dtype=f64)
    pts = camera_to_world(target, unproject(target, uv[None], depth[:, None]).reshape(-1, 3))
    visible = []
    for cam in sources:
        uv_s, _, valid = project(cam, world_to_camera(cam, pts))
        visible.append(bool((valid & inside_image(cam, uv_s)).any()))
    return visible


def angular_widths(sources: Sequence[Camera], angular_scaling: float) -> list[float]:
    """κ_v = angularScaling × 2 pixel pitches (radians) = angularScaling · 2 / √ρ_v per source.

    ρ_v is the pixel density in pixels per steradian (:func:`ctc.geometry.pixel_density`), so
    1/√ρ is the angle one pixel subtends on average.
    """
    return [angular_scaling * 2.0 / math.sqrt(pixel_density(c)) for c in sources]

