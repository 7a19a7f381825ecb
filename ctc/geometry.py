"""Camera geometry of MIV content: rotations, projection and unprojection at pixel centres,
camera-to-camera transforms (torch, batched, CPU or GPU).

Every formula here follows TMIV (ISO/IEC 23090-12 annex B and the TMIV 19 ``MivBitstream`` /
``Renderer`` code) as written down in ``shared/reference/miv_ctc.md`` §2.3; ``docs/conventions.md``
("Camera geometry") restates them with the reasons. In short:

- world and camera axes are OMAF: +x forward, +y left, +z up (right-handed), metres;
- a camera's ``rotation`` (yaw, pitch, roll) in degrees gives R = Rz(yaw)·Ry(pitch)·Rx(roll), and
  camera→world is X_w = R·X_c + position; positive yaw looks left, positive pitch looks *down*;
- image axes: u right, v down; pixel (i, j) (row i, column j) has its centre at (j + 0.5, i + 0.5);
- "depth" is the z-depth along the optical axis (camera-frame x) for perspective cameras and the
  radial distance ‖X_c‖ for equirectangular (ERP) cameras, exactly what MIV depth maps store.

Tensor conventions: points are ``[..., 3]``, image positions ``[..., 2]`` as (u, v), depths
``[...]``; any number of leading batch dimensions. Functions that take tensors compute in their
(floating) dtype and on their device; functions that create tensors from a :class:`Camera` take
``dtype`` (float32 by default, float64 for tests) and ``device``. No per-pixel Python loops.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ctc.camera import Camera
from ctc.errors import InputError

DEFAULT_DTYPE = torch.float32
"""dtype of tensors built from camera parameters when the caller does not choose one."""


# --------------------------------------------------------------------------------------------
# tensor helpers


def _as_float(x: Tensor | object, *others: Tensor | object) -> list[Tensor]:
    """``x`` and ``others`` as tensors of one floating dtype (integer inputs become float32) on
    ``x``'s device: the promotion every public function applies to its tensor arguments."""
    first = torch.as_tensor(x)
    rest = [torch.as_tensor(o, device=first.device) for o in others]
    dtype = first.dtype
    for t in rest:
        dtype = torch.promote_types(dtype, t.dtype)
    if not dtype.is_floating_point:
        dtype = DEFAULT_DTYPE
    return [t.to(dtype) for t in (first, *rest)]


def _check_last_dim(t: Tensor, size: int, what: str) -> None:
    if t.shape[-1:] != (size,):
        raise ValueError(f"{what} must have shape [..., {size}], got {tuple(t.shape)}")


# --------------------------------------------------------------------------------------------
# rotations


def _axis_rotation(angle: Tensor, axis: int) -> Tensor:
    """Right-handed rotation by ``angle`` (radians, ``[...]``) about coordinate ``axis`` (0 = x,
    1 = y, 2 = z), as ``[..., 3, 3]`` matrices acting on column vectors.

    The rotation turns the next axis i = (axis+1) mod 3 towards the one after, j = (axis+2) mod 3:
    e_i → cos·e_i + sin·e_j and e_j → −sin·e_i + cos·e_j. About z that turns +x towards +y
    (positive yaw looks left); about y it turns +z towards +x, i.e. +x towards −z (positive pitch
    looks down); about x it turns +y towards +z.
    """
    i, j = (axis + 1) % 3, (axis + 2) % 3
    c, s = torch.cos(angle), torch.sin(angle)
    m = torch.zeros(*angle.shape, 3, 3, dtype=angle.dtype, device=angle.device)
    m[..., axis, axis] = 1.0
    m[..., i, i] = c
    m[..., j, j] = c
    m[..., j, i] = s
    m[..., i, j] = -s
    return m


def rotation_matrix(ypr_deg: Tensor) -> Tensor:
    """Rotation matrices R = Rz(yaw)·Ry(pitch)·Rx(roll) from Euler angles in degrees.

    This is TMIV's ``eulerDeg2quat`` (q_yaw·q_pitch·q_roll, intrinsic z-y′-x″) as a matrix. R maps
    camera-frame vectors to world-frame vectors; its columns are the camera's forward (+x), left
    (+y) and up (+z) axes in world coordinates.

    Args:
        ypr_deg: ``[..., 3]`` (yaw, pitch, roll) in degrees.

    Returns:
        ``[..., 3, 3]`` rotation matrices in the input's floating dtype.
    """
    (ypr,) = _as_float(ypr_deg)
    _check_last_dim(ypr, 3, "ypr_deg")
    yaw, pitch, roll = torch.deg2rad(ypr).unbind(-1)
    return _axis_rotation(yaw, 2) @ _axis_rotation(pitch, 1) @ _axis_rotation(roll, 0)


def camera_rotation(cam: Camera, *, dtype: torch.dtype = DEFAULT_DTYPE,
                    device: torch.device | str | None = None) -> Tensor:
    """The camera→world rotation ``[3, 3]`` of ``cam`` (from ``cam.rotation``)."""
    return rotation_matrix(torch.tensor(cam.rotation, dtype=dtype, device=device))


def camera_position(cam: Camera, *, dtype: torch.dtype = DEFAULT_DTYPE,
                    device: torch.device | str | None = None) -> Tensor:
    """The camera centre ``[3]`` in world metres (``cam.position``)."""
    return torch.tensor(cam.position, dtype=dtype, device=device)


def optical_axis(cam: Camera, *, dtype: torch.dtype = DEFAULT_DTYPE,
                 device: torch.device | str | None = None) -> Tensor:
    """The camera's forward direction (its rotated +x axis) ``[3]`` in world coordinates.

    The view-weighting synthesizer measures the distance of a target to a planar rig's camera
    along this line (miv_ctc.md §3.3 step 0); for an ERP camera it is the φ = 0, θ = 0 direction.
    """
    return camera_rotation(cam, dtype=dtype, device=device)[:, 0]


def look_at_ypr(position: Tensor, target: Tensor) -> Tensor:
    """(yaw, pitch, 0) in degrees that point a camera at ``position`` towards ``target``.

    The forward axis R·(1, 0, 0) = (cos y·cos p, sin y·cos p, −sin p) must equal the unit vector
    d = (target − position)/‖·‖, so yaw = atan2(d_y, d_x) and pitch = atan2(−d_z, √(d_x² + d_y²))
    (a target below the camera gives a positive pitch). Roll is 0, which keeps the camera's +y
    axis horizontal. Straight up or down the yaw is undefined and comes out as 0.

    Args:
        position: ``[..., 3]`` camera centres (world metres).
        target: ``[..., 3]`` points to look at (broadcast against ``position``).

    Returns:
        ``[..., 3]`` (yaw, pitch, roll) in degrees.
    """
    position, target = _as_float(position, target)
    _check_last_dim(position, 3, "position")
    _check_last_dim(target, 3, "target")
    dx, dy, dz = (target - position).unbind(-1)
    yaw = torch.atan2(dy, dx)
    pitch = torch.atan2(-dz, torch.hypot(dx, dy))
    return torch.rad2deg(torch.stack((yaw, pitch, torch.zeros_like(yaw)), dim=-1))


def look_at_rotation(position: Tensor | tuple[float, float, float],
                     target: Tensor | tuple[float, float, float]) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees, as plain floats ready for ``Camera.rotation``, that point a
    camera at ``position`` towards ``target`` (roll 0). One pair of points; batched callers use
    :func:`look_at_ypr`.

    Example: a camera at (0, 0, 2) looking at (2, 2, 0) gets yaw 45° (to the left) and pitch
    atan(2/√8) = 35.26° (down).
    """
    ypr = look_at_ypr(torch.as_tensor(position, dtype=torch.float64),
                      torch.as_tensor(target, dtype=torch.float64))
    if ypr.shape != (3,):
        raise ValueError(f"look_at_rotation takes one position and one target, got shape "
                         f"{tuple(ypr.shape[:-1])}; use look_at_ypr for batches")
    yaw, pitch, roll = (float(a) for a in ypr)
    return (yaw, pitch, roll)


# --------------------------------------------------------------------------------------------
# intrinsics


def _perspective_intrinsics(cam: Camera) -> tuple[float, float, float, float]:
    """(fx, fy, cx, cy) in pixels; a camera without them is a malformed sequence description."""
    if cam.focal is None or cam.principal_point is None:
        raise InputError(f"camera {cam.name}", "perspective camera without Focal/Principle_point")
    (fx, fy), (cx, cy) = cam.focal, cam.principal_point
    if not (fx > 0 and fy > 0):
        raise InputError(f"camera {cam.name}", f"Focal must be positive, got {cam.focal}")
    return float(fx), float(fy), float(cx), float(cy)


def _erp_ranges(cam: Camera) -> tuple[float, float, float, float]:
    """(φmin, φmax, θmin, θmax) in radians of an equirectangular camera."""
    if cam.hor_range is None or cam.ver_range is None:
        raise InputError(f"camera {cam.name}", "equirectangular camera without Hor_range/Ver_range")
    (phi_min, phi_max), (theta_min, theta_max) = cam.hor_range, cam.ver_range
    if not (phi_min < phi_max and theta_min < theta_max):
        raise InputError(f"camera {cam.name}",
                         f"empty Hor_range {cam.hor_range} or Ver_range {cam.ver_range}")
    return (math.radians(phi_min), math.radians(phi_max),
            math.radians(theta_min), math.radians(theta_max))


def _check_projection(cam: Camera) -> None:
    if cam.projection not in ("Perspective", "Equirectangular"):
        raise InputError(f"camera {cam.name}", f"unsupported projection {cam.projection!r} "
                         "(Perspective or Equirectangular)")


def pixel_density(cam: Camera) -> float:
    """Pixels per steradian of ``cam`` (TMIV ``ViewWeightingSynthesizer``, miv_ctc.md §3.3 0c).

    ERP: ρ = W·H / (Δφ·(sin θmax − sin θmin)), the pixel count over the solid angle covered.
    Perspective: ρ = W·H / Ω with Ω = 4·atan(W·H / (2f·√(4f² + W² + H²))), f = (fx + fy)/2, the
    solid angle of a rectangular pyramid (exact for a centred principal point). The synthesizer
    derives its splat kernel width from 1/√ρ (about one pixel pitch in radians).
    """
    _check_projection(cam)
    w, h = cam.width, cam.height
    if cam.is_erp:
        phi_min, phi_max, theta_min, theta_max = _erp_ranges(cam)
        return w * h / ((phi_max - phi_min) * (math.sin(theta_max) - math.sin(theta_min)))
    fx, fy, _, _ = _perspective_intrinsics(cam)
    f = 0.5 * (fx + fy)
    solid_angle = 4.0 * math.atan(w * h / (2.0 * f * math.sqrt(4.0 * f * f + w * w + h * h)))
    return w * h / solid_angle


# --------------------------------------------------------------------------------------------
# projection


def pixel_centres(cam: Camera, *, dtype: torch.dtype = DEFAULT_DTYPE,
                  device: torch.device | str | None = None) -> Tensor:
    """Image positions of all pixel centres: ``[H, W, 2]`` with ``[i, j] = (j + 0.5, i + 0.5)``.

    TMIV unprojects pixel centres; the top-left pixel *corner* is (0, 0).
    """
    u = torch.arange(cam.width, dtype=dtype, device=device) + 0.5
    v = torch.arange(cam.height, dtype=dtype, device=device) + 0.5
    vv, uu = torch.meshgrid(v, u, indexing="ij")
    return torch.stack((uu, vv), dim=-1)


def unproject(cam: Camera, uv: Tensor, depth: Tensor) -> Tensor:
    """Camera-frame points of image positions at MIV depths (the inverse of :func:`project`).

    Perspective (depth = z-depth x): X_c = (d, −d·(u − cx)/fx, −d·(v − cy)/fy).
    ERP (depth = radius): φ = φmax + (φmin − φmax)·u/W, θ = θmax + (θmin − θmax)·v/H, and
    X_c = d·(cos θ cos φ, cos θ sin φ, sin θ); so u = 0 is φmax (the left edge looks left) and the
    top row is θmax.

    Args:
        cam: the camera whose image ``uv`` lies in.
        uv: ``[..., 2]`` image positions (u, v) in pixels (pixel centres at +0.5).
        depth: ``[...]`` depths in metres (broadcast against ``uv[..., 0]``).

    Returns:
        ``[..., 3]`` points in the camera frame (metres). NaN depths give NaN points.
    """
    _check_projection(cam)
    uv, depth = _as_float(uv, depth)
    _check_last_dim(uv, 2, "uv")
    u, v, d = torch.broadcast_tensors(uv[..., 0], uv[..., 1], depth)
    if cam.is_erp:
        phi_min, phi_max, theta_min, theta_max = _erp_ranges(cam)
        phi = phi_max + (phi_min - phi_max) * u / cam.width
        theta = theta_max + (theta_min - theta_max) * v / cam.height
        cos_theta = torch.cos(theta)
        ray = torch.stack((cos_theta * torch.cos(phi), cos_theta * torch.sin(phi), torch.sin(theta)),
                          dim=-1)
        return d[..., None] * ray
    fx, fy, cx, cy = _perspective_intrinsics(cam)
    return torch.stack((d, -d * (u - cx) / fx, -d * (v - cy) / fy), dim=-1)


def project(cam: Camera, pts: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Image positions and MIV depths of camera-frame points.

    Perspective: u = cx − fx·y/x, v = cy − fy·z/x, depth = x; valid iff x > 0.
    ERP: φ = atan2(y, x) ∈ (−π, π], θ = atan2(z, √(x² + y²)), u = W·(φmax − φ)/(φmax − φmin),
    v = H·(θmax − θ)/(θmax − θmin), depth = ‖X‖; valid iff ‖X‖ > 0. (Like TMIV, φ is not wrapped
    into the camera's range: a horizontal range must lie within [−180°, 180°], as all CTC ones do.)

    A point is also invalid when its position or depth is not finite (NaN or infinite input).
    Whether a valid point falls inside the image is a separate test, :func:`inside_image`.

    Args:
        cam: the camera.
        pts: ``[..., 3]`` points in the camera frame (metres).

    Returns:
        ``(uv [..., 2], depth [...], valid [...] bool)``. For invalid perspective points ``uv`` is
        finite but meaningless (x is replaced by 1 in the division) and ``depth`` is x.
    """
    _check_projection(cam)
    (pts,) = _as_float(pts)
    _check_last_dim(pts, 3, "pts")
    x, y, z = pts.unbind(-1)
    if cam.is_erp:
        phi_min, phi_max, theta_min, theta_max = _erp_ranges(cam)
        depth = torch.linalg.vector_norm(pts, dim=-1)
        phi = torch.atan2(y, x)
        theta = torch.atan2(z, torch.hypot(x, y))
        u = cam.width * (phi_max - phi) / (phi_max - phi_min)
        v = cam.height * (theta_max - theta) / (theta_max - theta_min)
        valid = depth > 0
    else:
        fx, fy, cx, cy = _perspective_intrinsics(cam)
        valid = x > 0
        safe_x = torch.where(valid, x, torch.ones_like(x))
        u = cx - fx * y / safe_x
        v = cy - fy * z / safe_x
        depth = x
    uv = torch.stack((u, v), dim=-1)
    valid = valid & torch.isfinite(uv).all(dim=-1) & torch.isfinite(depth)
    return uv, depth, valid


def inside_image(cam: Camera, uv: Tensor, margin: float = 0.5) -> Tensor:
    """``[...]`` bool: −margin ≤ u ≤ W + margin and −margin ≤ v ≤ H + margin.

    With the default margin 0.5 this is the TMIV renderer's "inside viewport" test (miv_ctc.md
    §2.3): a point may lie up to half a pixel beyond the image border. NaN positions are outside.
    """
    (uv,) = _as_float(uv)
    _check_last_dim(uv, 2, "uv")
    u, v = uv.unbind(-1)
    return ((u >= -margin) & (u <= cam.width + margin)
            & (v >= -margin) & (v <= cam.height + margin))


# --------------------------------------------------------------------------------------------
# extrinsics


def camera_to_world(cam: Camera, pts: Tensor) -> Tensor:
    """World points ``[..., 3]`` of camera-frame points ``pts [..., 3]``: X_w = R·X_c + t."""
    (pts,) = _as_float(pts)
    _check_last_dim(pts, 3, "pts")
    rot = camera_rotation(cam, dtype=pts.dtype, device=pts.device)
    return pts @ rot.mT + camera_position(cam, dtype=pts.dtype, device=pts.device)


def world_to_camera(cam: Camera, pts: Tensor) -> Tensor:
    """Camera-frame points ``[..., 3]`` of world points ``pts [..., 3]``: X_c = Rᵀ·(X_w − t)."""
    (pts,) = _as_float(pts)
    _check_last_dim(pts, 3, "pts")
    rot = camera_rotation(cam, dtype=pts.dtype, device=pts.device)
    return (pts - camera_position(cam, dtype=pts.dtype, device=pts.device)) @ rot


def relative_pose(src: Camera, dst: Camera, *, dtype: torch.dtype = DEFAULT_DTYPE,
                  device: torch.device | str | None = None) -> tuple[Tensor, Tensor]:
    """``(R [3, 3], t [3])`` with X_dst = R·X_src + t for camera-frame points.

    From X_w = R_s·X_s + t_s and X_d = R_dᵀ·(X_w − t_d): R = R_dᵀ·R_s and t = R_dᵀ·(t_s − t_d),
    the matrix form of TMIV's q = q_d*·q_s, t = q_d*·(t_s − t_d)·q_d (miv_ctc.md §2.3).
    """
    rot_s = camera_rotation(src, dtype=dtype, device=device)
    rot_d = camera_rotation(dst, dtype=dtype, device=device)
    t_s = camera_position(src, dtype=dtype, device=device)
    t_d = camera_position(dst, dtype=dtype, device=device)
    return rot_d.mT @ rot_s, rot_d.mT @ (t_s - t_d)


def reproject(src: Camera, dst: Camera, uv: Tensor, depth: Tensor
              ) -> tuple[Tensor, Tensor, Tensor]:
    """Where image positions of ``src`` at MIV depths land in ``dst`` (step 2 of the TMIV renderer).

    Unprojects ``uv`` in ``src`` at ``depth``, moves the points into ``dst``'s frame with
    :func:`relative_pose` and projects them.

    Args:
        src, dst: source and destination cameras (any mix of perspective and ERP).
        uv: ``[..., 2]`` positions in ``src``'s image.
        depth: ``[...]`` MIV depths of ``src`` (z-depth or radius, per its projection).

    Returns:
        ``(uv_dst [..., 2], depth_dst [...], valid [...])`` as :func:`project` returns them; a
        point is also invalid when its source depth is not finite and positive.
    """
    pts = unproject(src, uv, depth)
    rot, t = relative_pose(src, dst, dtype=pts.dtype, device=pts.device)
    uv_dst, depth_dst, valid = project(dst, pts @ rot.mT + t)
    (depth,) = _as_float(depth)
    return uv_dst, depth_dst, valid & torch.isfinite(depth) & (depth > 0)


def camera_rays(cam: Camera, *, dtype: torch.dtype = DEFAULT_DTYPE,
                device: torch.device | str | None = None) -> tuple[Tensor, Tensor]:
    """World-frame rays through every pixel centre, scaled so that MIV depth is the ray parameter.

    ``origin + d·directions[i, j]`` is the world point that pixel (i, j) shows at MIV depth d.
    Perspective: the direction's camera-frame x-component is 1 (so d is the z-depth); ERP: unit
    directions (d is the radius). A ray caster that solves for this parameter therefore returns
    the MIV depth directly.

    Returns:
        ``(origin [3], directions [H, W, 3])`` in world coordinates.
    """
    local = unproject(cam, pixel_centres(cam, dtype=dtype, device=device),
                      torch.ones((), dtype=dtype, device=device))
    rot = camera_rotation(cam, dtype=dtype, device=device)
    return camera_position(cam, dtype=dtype, device=device), local @ rot.mT
