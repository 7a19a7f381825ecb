"""Unit tests of the content renderer: exact depth, texture filtering, motion, the stereo helpers.

Tier: unit (tiny images, no files). Rendering runs on one CPU thread: tiny images gain nothing from
more and a shared CI machine loses a lot to OpenMP contention.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ctc.camera import Camera
from ctc.content.renderer import Renderer, mip_level
from ctc.content.scene import Material, Motion, Scene, box, cylinder, rect, sphere
from ctc.content.shapes import Box, Cylinder, Rect, Sphere
from ctc.content.stereo import downsample_disparity, warp_left_to_right
from ctc.content.textures import PHOTOS, MipPyramid, photo


pytestmark = pytest.mark.usefixtures("one_thread")


def perspective(width=64, height=48, f=50.0, position=(0.0, 0.0, 0.0), rotation=(0.0, 0.0, 0.0)):
    return Camera("c", "Perspective", (width, height), position=position, rotation=rotation,
                  focal=(f, f), principal_point=(width / 2, height / 2), depth_range=(0.1, 100.0))


def erp(side=64, position=(0.0, 0.0, 0.0)):
    return Camera("e", "Equirectangular", (2 * side, side), position=position,
                  hor_range=(-180.0, 180.0), ver_range=(-90.0, 90.0), depth_range=(0.1, 100.0))


# --- shapes: exact hits ---------------------------------------------------------------------


def test_rect_hit_is_exact_and_bounded():
    o = torch.tensor([2.0, 0.0, 0.0])
    d = torch.tensor([[-1.0, 0.0, 0.0], [-1.0, 0.4, 0.0], [-1.0, 0.0, 0.6], [1.0, 0.0, 0.0]])
    narrow = Rect(1.0, 1.0).intersect(o, d)
    assert narrow.t[0] == 2.0
    assert math.isinf(narrow.t[1])               # y = 0.8 outside ±0.5
    hits = Rect(2.0, 1.0).intersect(o, d)
    assert hits.t[1] == 2.0                       # y = 0.8 within ±1.0
    assert math.isinf(hits.t[2])                  # z = 1.2 outside ±0.5
    assert math.isinf(hits.t[3])                  # pointing away
    assert torch.allclose(hits.st[0], torch.tensor([0.5, 0.5]))


def test_box_from_outside_and_inside():
    shape = Box((2.0, 4.0, 6.0))
    outside = shape.intersect(torch.tensor([5.0, 0.0, 0.0]), torch.tensor([[-2.0, 0.0, 0.0]]))
    assert outside.t.item() == pytest.approx(2.0)  # hits x = 1 after 4 m at speed 2
    assert outside.normal[0].tolist() == [1.0, 0.0, 0.0]
    inside = shape.intersect(torch.tensor([0.0, 0.0, 0.0]), torch.tensor([[0.0, 0.0, -1.0]]))
    assert inside.t.item() == pytest.approx(3.0)
    assert inside.normal[0].tolist() == [0.0, 0.0, -1.0]


def test_sphere_and_cylinder_depths():
    d = torch.tensor([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    sph = Sphere(1.0).intersect(torch.tensor([-3.0, 0.0, 0.0]), d)
    assert sph.t[0].item() == pytest.approx(2.0)
    inner = Sphere(5.0).intersect(torch.tensor([0.0, 0.0, 0.0]), d)
    assert inner.t[0].item() == pytest.approx(5.0)
    cyl = Cylinder(0.5, 2.0)
    side = cyl.intersect(torch.tensor([-3.0, 0.0, 0.0]), d)
    assert side.t[0].item() == pytest.approx(2.5)
    cap = cyl.intersect(torch.tensor([0.0, 0.2, 5.0]), torch.tensor([[0.0, 0.0, -1.0]]))
    assert cap.t.item() == pytest.approx(4.0)
    assert cap.normal[0].tolist() == [0.0, 0.0, 1.0]


# --- renderer: exact MIV depth ----------------------------------------------------------------


def test_perspective_depth_is_z_depth_of_a_plane():
    """A wall at x = 3 has z-depth exactly 3 at every pixel, oblique rays included."""
    scene = Scene(objects=(rect(100.0, 100.0, "brick", (3.0, 0.0, 0.0)),))
    out = Renderer(scene).render(perspective(), 0.0)
    assert torch.all(out.depth == 3.0)
    assert torch.all(out.object_id == 0)


def test_erp_depth_is_radial_distance_of_a_sphere():
    """Inside a sphere of radius 7, an ERP camera at its centre sees radius 7 everywhere."""
    scene = Scene(objects=(sphere(7.0, "coffee", (0.0, 0.0, 0.0)),))
    out = Renderer(scene).render(erp(32), 0.0)
    assert torch.allclose(out.depth, torch.full_like(out.depth, 7.0), rtol=1e-6)


def test_occlusion_keeps_nearest_and_sky_is_infinite():
    scene = Scene(objects=(rect(100.0, 100.0, "brick", (5.0, 0.0, 0.0)),
                           sphere(0.5, "coffee", (2.0, 0.0, 0.0))),
                  sky=Material("hubble_deep_field"))
    out = Renderer(scene).render(perspective(), 0.0)
    centre = out.depth[24, 32].item()
    assert centre == pytest.approx(1.5, abs=2e-3)  # front of the sphere (pixel centre is off-axis)
    assert out.object_id[24, 32] == 1 and out.object_id[0, 0] == 0
    back = Renderer(scene).render(perspective(rotation=(180.0, 0.0, 0.0)), 0.0)
    assert torch.all(torch.isinf(back.depth)) and torch.all(back.object_id == -1)


def test_escaping_rays_without_sky_are_an_error():
    scene = Scene(objects=(rect(1.0, 1.0, "brick", (3.0, 0.0, 0.0)),))
    with pytest.raises(RuntimeError, match="escape"):
        Renderer(scene).render(perspective(), 0.0)


def test_motion_moves_objects_smoothly():
    motion = Motion(amplitude=(0.0, 1.0, 0.0), period=4.0)
    scene = Scene(objects=(box((100.0, 100.0, 100.0), "brick", (0.0, 0.0, 0.0)),
                           cylinder(0.3, 1.0, "coffee", (3.0, 0.0, 0.0), motion=motion)))
    renderer = Renderer(scene)
    cam = perspective(width=96, f=40.0)
    columns = []
    for t in (0.0, 1.0):
        ids = renderer.render(cam, t).object_id
        columns.append(torch.nonzero(ids[24] == 1).float().mean().item())
    # +1 m along +y (left) at t = 1 s: the object moves towards smaller u by about f·1/(3 - 0.3).
    assert columns[0] == pytest.approx(48.0, abs=1.0)
    assert columns[0] - columns[1] == pytest.approx(40.0 / 2.7, rel=0.15)
    assert motion.offset(2.0)[1] == pytest.approx(0.0, abs=1e-12)


def test_shading_is_view_independent():
    """One surface point seen by two cameras gets the same colour (no specular term)."""
    scene = Scene(objects=(rect(100.0, 100.0, "colorwheel", (4.0, 0.0, 0.0), tiles=(20.0, 20.0)),))
    renderer = Renderer(scene)
    a = renderer.render(perspective(f=50.0), 0.0).rgb
    b = renderer.render(perspective(f=50.0, position=(0.0, 4.0 / 50.0 * 4, 0.0)), 0.0).rgb
    # Camera b moved left by exactly 4 pixels' worth at depth 4: column j of a is column j+4 of b.
    assert torch.allclose(a[:, :, 4:-8], b[:, :, 8:-4], atol=1e-5)


# --- textures -------------------------------------------------------------------------------


def test_bundled_photos_load_offline_as_power_of_two_rgb():
    for name in PHOTOS:
        img = photo(name)
        h, w, c = img.shape
        assert c == 3 and img.dtype == np.float32
        assert h & (h - 1) == 0 and w & (w - 1) == 0
        assert 0.0 <= img.min() and img.max() <= 1.0
    with pytest.raises(KeyError):
        photo("brain")


def test_mip_sampling_is_exact_at_texel_centres_and_averages_at_higher_levels():
    rng = np.random.default_rng(0)
    image = rng.random((8, 8, 3)).astype(np.float32)
    mip = MipPyramid(image)
    uv = torch.tensor([[3.5, 2.5], [3.5 + 8.0, 2.5 - 8.0]])  # second one wraps around
    out = mip.sample(uv, torch.zeros(2))
    assert torch.allclose(out, torch.from_numpy(image[2, 3]).expand(2, 3), atol=1e-6)
    top = mip.sample(torch.tensor([[1.0, 1.0]]), torch.tensor([10.0]))  # clamped to the 1-texel level
    assert torch.allclose(top[0], torch.from_numpy(image.reshape(-1, 3).mean(0)), atol=1e-5)


def test_mip_level_grows_with_minification():
    ids = torch.zeros(4, 4, dtype=torch.int64)
    grid = torch.stack(torch.meshgrid(torch.arange(4.0), torch.arange(4.0), indexing="xy"), -1)
    assert torch.all(mip_level(grid, ids) == 0)          # 1 texel per pixel
    assert torch.allclose(mip_level(grid * 8, ids), torch.full((4, 4), 3.0))
    ids[:, 2:] = 1                                         # object edge: one-sided differences
    assert torch.allclose(mip_level(grid * 8, ids), torch.full((4, 4), 3.0))


def test_far_texture_is_prefiltered():
    """A fine texture far away renders as its average (no aliasing), near as its detail."""
    board = photo("checkerboard")
    far_scene = Scene(objects=(rect(1000.0, 1000.0, "checkerboard", (50.0, 0.0, 0.0),
                                    tiles=(4000.0, 4000.0)),), ambient=1.0)  # unshaded
    far = Renderer(far_scene).render(perspective(), 0.0).rgb
    assert far.std().item() < 0.02
    assert far.mean().item() == pytest.approx(board.mean(), abs=0.02)
    near_scene = Scene(objects=(rect(10.0, 10.0, "checkerboard", (1.0, 0.0, 0.0)),), ambient=1.0)
    near = Renderer(near_scene).render(perspective(), 0.0).rgb
    assert near.std().item() > 0.5 * board.std()


# --- stereo helpers -------------------------------------------------------------------------


def test_forward_warp_shifts_and_leaves_holes_invalid():
    disparity = np.full((2, 10), 2.0, dtype=np.float32)
    disparity[:, 6:] = 4.0                       # a nearer surface on the right
    right = warp_left_to_right(disparity)
    # Left column j lands at j - d: background 0..5 -> -2..3, foreground 6..9 -> 2..5.
    assert np.all(right[:, 2:6] == 4.0)          # the nearer surface wins the overlap
    assert np.all(right[:, :2] == 2.0)
    assert np.all(np.isnan(right[:, 6:]))        # nothing lands there: unknown, not invented


def test_disparity_downsampling_uses_valid_median():
    disparity = np.array([[1.0, 2.0, np.nan, np.nan], [3.0, 10.0, np.nan, 4.0]], dtype=np.float32)
    out = downsample_disparity(disparity, 2)
    assert out[0, 0] == pytest.approx(2.5 / 2)   # median of 1, 2, 3, 10 halved
    assert np.isnan(out[0, 1])                   # only 1 of 4 valid
