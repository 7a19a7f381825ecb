"""Unit and round-trip tests of ctc.geometry against hand-computed values (float64)."""

from __future__ import annotations

import math

import pytest
import torch

from ctc.camera import Camera
from ctc.errors import InputError
from ctc.geometry import (
    camera_position,
    camera_rays,
    camera_rotation,
    camera_to_world,
    inside_image,
    look_at_rotation,
    look_at_ypr,
    optical_axis,
    pixel_centres,
    pixel_density,
    project,
    relative_pose,
    reproject,
    rotation_matrix,
    unproject,
    world_to_camera,
)

F64 = torch.float64


def t(*values: float) -> torch.Tensor:
    """A float64 vector of ``values``, or a 0-d tensor for one value."""
    return torch.tensor(values[0] if len(values) == 1 else values, dtype=F64)


def perspective(name: str = "v0", *, position=(0.0, 0.0, 0.0), rotation=(0.0, 0.0, 0.0),
                size=(9, 7), focal=(10.0, 12.0), principal=(4.5, 3.5)) -> Camera:
    return Camera(name=name, projection="Perspective", resolution=size, position=position,
                  rotation=rotation, focal=focal, principal_point=principal)


def erp(name: str = "e0", *, position=(0.0, 0.0, 0.0), rotation=(0.0, 0.0, 0.0), size=(16, 8),
        hor=(-180.0, 180.0), ver=(-90.0, 90.0)) -> Camera:
    return Camera(name=name, projection="Equirectangular", resolution=size, position=position,
                  rotation=rotation, hor_range=hor, ver_range=ver)


# ---------------------------------------------------------------------------- rotations

def test_yaw_90_turns_forward_to_left():
    r = rotation_matrix(t(90, 0, 0))
    torch.testing.assert_close(r @ t(1, 0, 0), t(0, 1, 0), atol=1e-12, rtol=0)
    torch.testing.assert_close(r @ t(0, 1, 0), t(-1, 0, 0), atol=1e-12, rtol=0)


def test_pitch_90_turns_forward_down():
    r = rotation_matrix(t(0, 90, 0))
    torch.testing.assert_close(r @ t(1, 0, 0), t(0, 0, -1), atol=1e-12, rtol=0)


def test_roll_90_turns_left_to_up():
    r = rotation_matrix(t(0, 0, 90))
    torch.testing.assert_close(r @ t(0, 1, 0), t(0, 0, 1), atol=1e-12, rtol=0)


def test_composition_order_is_yaw_pitch_roll():
    # R = Rz(90)·Ry(90): first pitch (+x -> -z), then yaw leaves -z alone.
    r = rotation_matrix(t(90, 90, 0))
    torch.testing.assert_close(r @ t(1, 0, 0), t(0, 0, -1), atol=1e-12, rtol=0)
    # +y: pitch leaves it, yaw 90 turns it to -x. (Ry·Rz would give +z here.)
    torch.testing.assert_close(r @ t(0, 1, 0), t(-1, 0, 0), atol=1e-12, rtol=0)
    ry_rz = rotation_matrix(t(0, 90, 0)) @ rotation_matrix(t(90, 0, 0))
    torch.testing.assert_close(ry_rz @ t(0, 1, 0), t(0, 0, 1), atol=1e-12, rtol=0)
    # R = Rz·Ry·Rx with all three non-zero, against the elementary product.
    ypr = t(30, -20, 50)
    expected = (rotation_matrix(t(30, 0, 0)) @ rotation_matrix(t(0, -20, 0))
                @ rotation_matrix(t(0, 0, 50)))
    torch.testing.assert_close(rotation_matrix(ypr), expected, atol=1e-14, rtol=0)


def test_rotation_matrix_closed_form_and_batching():
    gen = torch.Generator().manual_seed(0)
    ypr = (torch.rand(4, 5, 3, generator=gen, dtype=F64) - 0.5) * 360
    r = rotation_matrix(ypr)
    assert r.shape == (4, 5, 3, 3) and r.dtype == F64
    y, p, q = torch.deg2rad(ypr).unbind(-1)
    cy, sy, cp, sp, cr, sr = y.cos(), y.sin(), p.cos(), p.sin(), q.cos(), q.sin()
    closed = torch.stack([
        torch.stack([cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr], -1),
        torch.stack([sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr], -1),
        torch.stack([-sp, cp * sr, cp * cr], -1),
    ], -2)
    torch.testing.assert_close(r, closed, atol=1e-14, rtol=0)
    eye = torch.eye(3, dtype=F64).expand(4, 5, 3, 3)
    torch.testing.assert_close(r @ r.mT, eye, atol=1e-14, rtol=0)
    torch.testing.assert_close(torch.linalg.det(r), torch.ones(4, 5, dtype=F64), atol=1e-14, rtol=0)


def test_rotation_matrix_keeps_dtype_and_rejects_bad_shape():
    assert rotation_matrix(torch.zeros(3)).dtype == torch.float32
    assert rotation_matrix(torch.zeros(3, dtype=torch.int64)).dtype == torch.float32
    with pytest.raises(ValueError, match=r"\[\.\.\., 3\]"):
        rotation_matrix(torch.zeros(2))


def test_camera_rotation_position_and_axis():
    cam = perspective(position=(1.0, 2.0, 3.0), rotation=(90.0, 0.0, 0.0))
    torch.testing.assert_close(camera_rotation(cam, dtype=F64), rotation_matrix(t(90, 0, 0)))
    torch.testing.assert_close(camera_position(cam, dtype=F64), t(1, 2, 3))
    torch.testing.assert_close(optical_axis(cam, dtype=F64), t(0, 1, 0), atol=1e-12, rtol=0)
    assert camera_position(cam).dtype == torch.float32


def test_look_at_rotation_hand_values():
    # Target 2 m ahead-left-below: yaw 45°, pitch atan(2/sqrt(8)) = 35.264° down.
    yaw, pitch, roll = look_at_rotation((0.0, 0.0, 2.0), (2.0, 2.0, 0.0))
    assert yaw == pytest.approx(45.0, abs=1e-12)
    assert pitch == pytest.approx(math.degrees(math.atan(2 / math.sqrt(8))), abs=1e-12)
    assert pitch == pytest.approx(35.26438968, abs=1e-7)
    assert roll == 0.0
    assert all(isinstance(a, float) for a in (yaw, pitch, roll))
    # Looking back along -x and up: yaw 180, pitch -45.
    yaw, pitch, _ = look_at_rotation((1.0, 0.0, 0.0), (0.0, 0.0, 1.0))
    assert abs(yaw) == pytest.approx(180.0, abs=1e-12)
    assert pitch == pytest.approx(-45.0, abs=1e-12)


def test_look_at_ypr_points_the_optical_axis_at_the_target():
    gen = torch.Generator().manual_seed(1)
    pos = torch.randn(10, 3, generator=gen, dtype=F64)
    target = torch.randn(10, 3, generator=gen, dtype=F64)
    ypr = look_at_ypr(pos, target)
    forward = rotation_matrix(ypr)[..., :, 0]
    direction = (target - pos) / (target - pos).norm(dim=-1, keepdim=True)
    torch.testing.assert_close(forward, direction, atol=1e-12, rtol=0)
    # Roll 0: the camera's left axis stays horizontal.
    torch.testing.assert_close(rotation_matrix(ypr)[..., 2, 1], torch.zeros(10, dtype=F64),
                               atol=1e-12, rtol=0)
    with pytest.raises(ValueError, match="look_at_ypr"):
        look_at_rotation(pos, target)


# ---------------------------------------------------------------------------- perspective

def test_pixel_centres():
    cam = perspective(size=(3, 2))
    uv = pixel_centres(cam, dtype=F64)
    assert uv.shape == (2, 3, 2)
    torch.testing.assert_close(uv[0, 0], t(0.5, 0.5))
    torch.testing.assert_close(uv[1, 2], t(2.5, 1.5))


def test_centre_pixel_of_odd_image_is_on_the_optical_axis():
    cam = perspective(size=(9, 7), principal=(4.5, 3.5))
    uv = pixel_centres(cam, dtype=F64)[3, 4]
    torch.testing.assert_close(unproject(cam, uv, t(2.0)), t(2, 0, 0), atol=0, rtol=0)
    uv_back, depth, valid = project(cam, t(5, 0, 0))
    torch.testing.assert_close(uv_back, uv)
    assert float(depth) == 5.0 and bool(valid)


def test_perspective_hand_values():
    cam = perspective(focal=(10.0, 12.0), principal=(4.5, 3.5))
    # A point 2 m ahead, 1 m left, 0.5 m up: left -> smaller u, up -> smaller v.
    uv, depth, valid = project(cam, t(2, 1, 0.5))
    torch.testing.assert_close(uv, t(4.5 - 10 * 0.5, 3.5 - 12 * 0.25))
    assert float(depth) == 2.0 and bool(valid)
    torch.testing.assert_close(unproject(cam, t(0.0, 0.0), t(3.0)),
                               t(3, 3 * 4.5 / 10, 3 * 3.5 / 12))


def test_perspective_round_trip_random_points():
    cam = perspective(focal=(800.0, 790.0), principal=(640.3, 360.1), size=(1280, 720))
    gen = torch.Generator().manual_seed(2)
    pts = torch.randn(2, 500, 3, generator=gen, dtype=F64)
    pts[..., 0] = pts[..., 0].abs() + 0.1
    uv, depth, valid = project(cam, pts)
    assert valid.all() and uv.shape == (2, 500, 2) and depth.shape == (2, 500)
    torch.testing.assert_close(unproject(cam, uv, depth), pts, atol=1e-9, rtol=0)


def test_perspective_behind_camera_is_invalid():
    cam = perspective()
    uv, depth, valid = project(cam, torch.tensor([[-1.0, 0, 0], [0.0, 1, 1], [2.0, 0, 0],
                                                  [math.nan, 0, 0], [math.inf, 1, 0]], dtype=F64))
    assert valid.tolist() == [False, False, True, False, False]
    assert torch.isfinite(uv[:3]).all()
    assert depth[0] == -1.0


# ---------------------------------------------------------------------------- ERP

def test_erp_hand_values():
    cam = erp(size=(16, 8))
    # u = W/4 on a 360° map is +y (left); centre of the image is +x; u = 3W/4 is -y.
    for u, direction in [(4.0, (0, 1, 0)), (8.0, (1, 0, 0)), (12.0, (0, -1, 0)), (0.0, (-1, 0, 0))]:
        torch.testing.assert_close(unproject(cam, t(u, 4.0), t(2.0)), 2 * t(*direction),
                                   atol=1e-12, rtol=0)
    # Top edge is θmax (+z, straight up); bottom edge is θmin.
    torch.testing.assert_close(unproject(cam, t(8.0, 0.0), t(1.0)), t(0, 0, 1), atol=1e-12, rtol=0)
    torch.testing.assert_close(unproject(cam, t(8.0, 8.0), t(1.0)), t(0, 0, -1), atol=1e-12, rtol=0)
    # Top row's pixel centre: θ = 90 - 180·0.5/8 = 78.75°.
    p = unproject(cam, t(8.0, 0.5), t(1.0))
    assert math.degrees(math.asin(float(p[2]))) == pytest.approx(78.75, abs=1e-12)
    uv, depth, valid = project(cam, t(0, 3, 0))
    torch.testing.assert_close(uv, t(4.0, 4.0))
    assert float(depth) == pytest.approx(3.0) and bool(valid)


def test_erp_partial_range():
    cam = erp(size=(90, 45), hor=(-45.0, 45.0), ver=(-30.0, 15.0))
    # φ = 0 is in the middle column; θ = 0 is a third of the way down.
    uv, _, _ = project(cam, t(1, 0, 0))
    torch.testing.assert_close(uv, t(45.0, 15.0), atol=1e-12, rtol=0)
    uv, _, _ = project(cam, t(1, math.tan(math.radians(45)), 0))
    torch.testing.assert_close(uv, t(0.0, 15.0), atol=1e-12, rtol=0)


def test_erp_round_trip_random_points():
    cam = erp(size=(64, 32))
    gen = torch.Generator().manual_seed(3)
    pts = torch.randn(1000, 3, generator=gen, dtype=F64) * 5
    uv, depth, valid = project(cam, pts)
    assert valid.all()
    torch.testing.assert_close(depth, pts.norm(dim=-1), atol=1e-12, rtol=0)
    torch.testing.assert_close(unproject(cam, uv, depth), pts, atol=1e-9, rtol=0)
    assert inside_image(cam, uv, margin=0.0).all()


def test_erp_origin_is_invalid():
    _, _, valid = project(erp(), t(0, 0, 0))
    assert not bool(valid)


def test_inside_image_margin():
    cam = perspective(size=(9, 7))
    uv = torch.tensor([[-0.5, 0.0], [-0.51, 0.0], [9.5, 7.5], [9.5, 7.51], [math.nan, 1.0]],
                      dtype=F64)
    assert inside_image(cam, uv).tolist() == [True, False, True, False, False]
    assert inside_image(cam, uv, margin=0.0).tolist() == [False, False, False, False, False]


def test_missing_intrinsics_are_input_errors():
    with pytest.raises(InputError, match="camera v0: perspective camera without Focal"):
        project(perspective(focal=None), t(1, 0, 0))  # type: ignore[arg-type]
    with pytest.raises(InputError, match="camera e0: equirectangular camera without Hor_range"):
        unproject(erp(hor=None), t(1.0, 1.0), t(1.0))  # type: ignore[arg-type]
    with pytest.raises(InputError, match="empty Hor_range"):
        unproject(erp(hor=(10.0, 10.0)), t(1.0, 1.0), t(1.0))
    with pytest.raises(InputError, match="unsupported projection 'Orthographic'"):
        project(Camera(name="o", projection="Orthographic", resolution=(4, 4)),  # type: ignore[arg-type]
                t(1, 0, 0))
    with pytest.raises(InputError, match="Focal must be positive"):
        project(perspective(focal=(0.0, 1.0)), t(1, 0, 0))


# ---------------------------------------------------------------------------- extrinsics

def test_camera_world_round_trip_and_hand_value():
    cam = perspective(position=(1.0, 2.0, 3.0), rotation=(90.0, 0.0, 0.0))
    # Camera looks along world +y; a point 2 m ahead of it is at (1, 4, 3).
    torch.testing.assert_close(camera_to_world(cam, t(2, 0, 0)), t(1, 4, 3), atol=1e-12, rtol=0)
    torch.testing.assert_close(world_to_camera(cam, t(1, 4, 3)), t(2, 0, 0), atol=1e-12, rtol=0)
    cam = perspective(position=(0.3, -1.0, 2.0), rotation=(33.0, -12.0, 7.0))
    pts = torch.randn(3, 4, 3, generator=torch.Generator().manual_seed(4), dtype=F64)
    torch.testing.assert_close(world_to_camera(cam, camera_to_world(cam, pts)), pts,
                               atol=1e-12, rtol=0)


def test_positive_pitch_camera_looks_down_at_the_floor():
    # Like W01's cameras (high up, pitch +25…+65): at 5 m height with pitch +45 the optical axis
    # hits the floor 5 m ahead; a floor point nearer the camera is lower in the image (larger v).
    cam = perspective(position=(0.0, 0.0, 5.0), rotation=(0.0, 45.0, 0.0), size=(9, 7),
                      focal=(10.0, 10.0), principal=(4.5, 3.5))
    uv, depth, valid = project(cam, world_to_camera(cam, t(5, 0, 0)))
    torch.testing.assert_close(uv, t(4.5, 3.5), atol=1e-12, rtol=0)
    assert float(depth) == pytest.approx(5 * math.sqrt(2)) and bool(valid)
    uv_near, _, _ = project(cam, world_to_camera(cam, t(4, 0, 0)))
    assert float(uv_near[1]) > 3.5 and float(uv_near[0]) == pytest.approx(4.5)


def test_relative_pose_matches_world_round_trip():
    src = perspective("a", position=(1.0, 0.5, -0.2), rotation=(20.0, 10.0, -5.0))
    dst = erp("b", position=(-0.4, 2.0, 1.0), rotation=(-70.0, 30.0, 15.0))
    rot, trans = relative_pose(src, dst, dtype=F64)
    pts = torch.randn(50, 3, generator=torch.Generator().manual_seed(5), dtype=F64)
    torch.testing.assert_close(pts @ rot.mT + trans, world_to_camera(dst, camera_to_world(src, pts)),
                               atol=1e-12, rtol=0)


def test_reproject_point_seen_by_two_cameras():
    # World point P = (4, 1, 1.5). Camera A at the origin looking along +x;
    # camera B at (4, -2, 1.5) looking along +y (yaw 90) sees P 3 m straight ahead.
    a = perspective("a", size=(101, 81), focal=(50.0, 50.0), principal=(50.5, 40.5))
    b = perspective("b", position=(4.0, -2.0, 1.5), rotation=(90.0, 0.0, 0.0), size=(101, 81),
                    focal=(50.0, 50.0), principal=(50.5, 40.5))
    uv_a, depth_a, _ = project(a, t(4, 1, 1.5))
    torch.testing.assert_close(uv_a, t(50.5 - 50 * 0.25, 40.5 - 50 * 1.5 / 4))
    uv_b, depth_b, valid = reproject(a, b, uv_a, depth_a)
    torch.testing.assert_close(uv_b, t(50.5, 40.5), atol=1e-12, rtol=0)
    assert float(depth_b) == pytest.approx(3.0, abs=1e-12) and bool(valid)
    # And into an ERP camera at the world origin, rotated: the radius is ‖P‖.
    e = erp("e", position=(0.0, 0.0, 0.0), rotation=(45.0, -10.0, 0.0), size=(64, 32))
    uv_e, depth_e, valid_e = reproject(a, e, uv_a, depth_a)
    assert float(depth_e) == pytest.approx(math.sqrt(16 + 1 + 2.25), abs=1e-12) and bool(valid_e)
    back, depth_back, _ = reproject(e, a, uv_e, depth_e)
    torch.testing.assert_close(back, uv_a, atol=1e-9, rtol=0)
    torch.testing.assert_close(depth_back, t(4.0), atol=1e-12, rtol=0)


def test_reproject_invalid_source_depth_and_behind_target():
    a = perspective("a")
    b = perspective("b", position=(5.0, 0.0, 0.0), rotation=(0.0, 0.0, 0.0))
    uv = torch.tensor([[4.5, 3.5]] * 4, dtype=F64)
    depth = t(1.0, 6.0, math.nan, 0.0)
    _, depth_b, valid = reproject(a, b, uv, depth)
    # 1 m ahead of A is 4 m behind B; 6 m ahead of A is 1 m ahead of B.
    assert valid.tolist() == [False, True, False, False]
    assert float(depth_b[1]) == pytest.approx(1.0)


def test_camera_rays_agree_with_unproject():
    for cam in (perspective("p", position=(1.0, -2.0, 0.5), rotation=(15.0, 20.0, -30.0)),
                erp("e", position=(0.5, 0.5, 0.5), rotation=(-40.0, 5.0, 10.0))):
        origin, dirs = camera_rays(cam, dtype=F64)
        assert origin.shape == (3,) and dirs.shape == (cam.height, cam.width, 3)
        depth = torch.rand(cam.height, cam.width, generator=torch.Generator().manual_seed(6),
                           dtype=F64) * 10 + 0.5
        world = origin + depth[..., None] * dirs
        expected = camera_to_world(cam, unproject(cam, pixel_centres(cam, dtype=F64), depth))
        torch.testing.assert_close(world, expected, atol=1e-12, rtol=0)
        # The MIV depth of that world point, measured by the camera, is the ray parameter.
        _, measured, valid = project(cam, world_to_camera(cam, world))
        torch.testing.assert_close(measured, depth, atol=1e-12, rtol=0)
        assert valid.all()
    _, dirs = camera_rays(perspective("p", rotation=(15.0, 20.0, -30.0)), dtype=F64)
    forward = camera_rotation(perspective("p", rotation=(15.0, 20.0, -30.0)), dtype=F64)[:, 0]
    torch.testing.assert_close(dirs @ forward, torch.ones(7, 9, dtype=F64), atol=1e-12, rtol=0)
    assert camera_rays(erp())[1].dtype == torch.float32


def test_float32_default_and_broadcast_depth():
    cam = perspective()
    uv = pixel_centres(cam)
    assert uv.dtype == torch.float32
    pts = unproject(cam, uv, torch.tensor(2.0))
    assert pts.shape == (7, 9, 3) and pts.dtype == torch.float32
    # uv float32 + depth float64 promotes to float64.
    assert unproject(cam, uv, torch.ones(7, 9, dtype=F64)).dtype == F64


def test_pixel_density():
    # Full sphere: W·H / 4π.
    assert pixel_density(erp(size=(16, 8))) == pytest.approx(16 * 8 / (4 * math.pi))
    # A cube face (90° field of view, W = H = 2f) covers 4π/6 sr.
    cube = perspective(size=(100, 100), focal=(50.0, 50.0), principal=(50.0, 50.0))
    assert pixel_density(cube) == pytest.approx(100 * 100 / (4 * math.pi / 6))
    # A narrow field of view has ≈ f² pixels per steradian.
    narrow = perspective(size=(10, 10), focal=(1000.0, 1000.0), principal=(5.0, 5.0))
    assert pixel_density(narrow) == pytest.approx(1000.0**2, rel=1e-4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.gpu
def test_cuda_device_is_kept():
    cam = erp()
    origin, dirs = camera_rays(cam, device="cuda")
    assert origin.device.type == "cuda" and dirs.device.type == "cuda"
    uv, depth, valid = project(cam, dirs)
    assert uv.device.type == "cuda" and valid.all()
