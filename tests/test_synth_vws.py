"""View synthesis (ctc.synthesis): unit and quality tests on the analytic wall-and-card scene.

Tiny images (96×64), CPU only; every case renders its ground truth in closed form
(:mod:`ctc.synthesis.toyscene`), so quality thresholds are against exact references.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ctc.camera import Camera
from ctc.errors import InputError
from ctc.metrics.psnr import psnr_planes
from ctc.synthesis import SourceView, SynthParams, nearest_view_baseline, synthesize
from ctc.synthesis.clusters import cluster_depths, select_depth
from ctc.synthesis.edges import blur_depth_edges
from ctc.synthesis.inpaint import inpaint
from ctc.synthesis.shade import median_filter_depth
from ctc.synthesis.toyscene import PlaneScene, perspective_camera, texture_planes
from ctc.synthesis.warp import Splats, open_depth_maps, rasterize_splats
from ctc.synthesis.weights import camera_weights, is_rig_3d, visible_sources
from synth_support import one_thread  # noqa: F401 (autouse fixture)

SCENE = PlaneScene()
NO_BLUR = SynthParams(edge_blur_block=0)


def rig(n: int = 3, spacing: float = 0.15) -> list[Camera]:
    return [perspective_camera(f"v{i}", (0.0, spacing * (i - (n - 1) / 2), 0.0)) for i in range(n)]


def truth(cam: Camera) -> tuple[np.ndarray, ...]:
    return texture_planes(SCENE.render(cam)[0], 10)


def psnr_y(ref, test) -> float:
    return psnr_planes(ref, test, 10)["y"]


# ------------------------------------------------------------------------------------------
# step 0: weights and culling


def test_camera_weights_follow_the_distance_rule():
    cams = rig(3)
    w = camera_weights(cams, cams[1])
    # d_ref = 0.25 × 0.15; the outer cameras are 0.15 away: w = 1 / (1 + 16)
    assert w[1] == pytest.approx(1.0)
    assert w[0] == pytest.approx(1.0 / 17.0) and w[2] == pytest.approx(1.0 / 17.0)
    # Planar/linear rig: moving along the optical axis does not change the distance.
    assert not is_rig_3d(cams)
    forward = perspective_camera("t", (0.7, 0.0, 0.0))
    assert camera_weights(cams, forward)[1] == pytest.approx(1.0)


def test_visibility_culls_a_camera_facing_away():
    cams = rig(2)
    behind = perspective_camera("b", (0.0, 0.0, 0.0), rotation=(180.0, 0.0, 0.0))
    assert visible_sources(cams, cams[0], 1000.0) == [True, True]
    assert visible_sources([behind, cams[1]], cams[0], 1000.0) == [False, True]


# ------------------------------------------------------------------------------------------
# whole synthesizer


def test_identity_reproduces_the_source():
    cams = rig(3)
    sources = [SCENE.source_view(c) for c in cams]
    out = synthesize(sources, cams[1], NO_BLUR, device="cpu")
    assert psnr_y(sources[1].texture, out.texture) > 55.0
    assert out.synthesized_mask.all() and out.inpainted_fraction == 0.0
    # With the CTC edge blurring the card outline is softened (TMIV step 8) but the rest is exact.
    blurred = synthesize(sources, cams[1], device="cpu")
    assert 30.0 < psnr_y(sources[1].texture, blurred.texture) < psnr_y(sources[1].texture, out.texture)


def test_two_view_symmetric_blend():
    a = perspective_camera("a", (0.0, 0.1, 0.0))
    b = perspective_camera("b", (0.0, -0.1, 0.0))
    mid = perspective_camera("t", (0.0, 0.0, 0.0))
    sa, sb = SCENE.source_view(a), SCENE.source_view(b)
    ab = synthesize([sa, sb], mid, device="cpu")
    ba = synthesize([sb, sa], mid, device="cpu")
    assert ab.camera_weights["a"] == pytest.approx(ab.camera_weights["b"])
    # The order of the sources does not matter (up to float rounding of the sums).
    assert np.abs(ab.texture[0].astype(int) - ba.texture[0].astype(int)).max() <= 1
    assert np.array_equal(ab.depth, ba.depth)
    gt = truth(mid)
    assert psnr_planes(gt, ab.texture, 10)["yuv611"] > 34.0
    # Blending two views beats copying the nearest one (YUV 6:1:1).
    base = nearest_view_baseline([sa, sb], mid, device="cpu")
    assert psnr_planes(gt, ab.texture, 10)["yuv611"] > psnr_planes(gt, base.texture, 10)["yuv611"]


def test_erp_source_to_perspective_target():
    erp = Camera(name="e", projection="Equirectangular", resolution=(256, 256), position=(0.0, 0.05, 0.0),
                 depth_range=(1.0, 20.0), hor_range=(-90.0, 90.0), ver_range=(-90.0, 90.0))
    target = perspective_camera("t", (0.0, 0.0, 0.0), focal=60.0)
    src = SCENE.source_view(erp)
    out = synthesize([src], target, device="cpu")
    gt = truth(target)
    assert out.synthesized_mask.mean() > 0.99
    assert psnr_y(gt, out.texture) > 31.0
    assert psnr_y(gt, out.texture) > psnr_y(gt, nearest_view_baseline([src], target, device="cpu").texture)


def test_depth_output_is_the_nearest_surface():
    cams = rig(3)
    target = perspective_camera("t", (0.0, 0.05, 0.02))
    out = synthesize([SCENE.source_view(c) for c in cams], target, NO_BLUR, device="cpu")
    _, depth = SCENE.render(target)
    card = depth.numpy() < 3.0
    near, far = target.depth_range
    expected = (65535 * (1 / 2.5 - 1 / far) / (1 / near - 1 / far))
    # Away from the card outline the output depth is the card's, not the wall behind it.
    inner = torch.nn.functional.max_pool2d(torch.from_numpy(~card)[None].float(), 5, 1, 2)[0].numpy() == 0
    assert inner.sum() > 50
    assert np.abs(out.depth[inner].astype(float) - expected).max() < 0.01 * expected


def test_target_partly_outside_the_sources_is_inpainted():
    cams = rig(2)
    turned = perspective_camera("t", (0.0, 0.0, 0.0), rotation=(25.0, 0.0, 0.0))
    out = synthesize([SCENE.source_view(c) for c in cams], turned, device="cpu")
    assert 0.05 < out.inpainted_fraction < 0.9
    assert out.hole_fraction == 0.0
    assert (out.depth > 0).all()


def test_bad_inputs_raise_input_error():
    cam = rig(1)[0]
    good = SCENE.source_view(cam)
    with pytest.raises(InputError, match="no source views"):
        synthesize([], cam, device="cpu")
    y, u, v = good.texture
    with pytest.raises(InputError, match="U plane"):
        synthesize([SourceView(cam, (y, u[:-1], v), good.depth)], cam, device="cpu")
    with pytest.raises(InputError, match="depth map"):
        synthesize([SourceView(cam, good.texture, good.depth[:, :-2])], cam, device="cpu")
    with pytest.raises(InputError, match="angular_scaling"):
        SynthParams(angular_scaling=0.0)
    with pytest.raises(InputError, match="unknown key"):
        SynthParams.from_mapping({"angularScaling": 1.5})
    with pytest.raises(InputError, match="device"):
        synthesize([good], cam, device="tpu")


def test_validity_mask_removes_pixels():
    cams = rig(3)
    full = [SCENE.source_view(c) for c in cams]
    # Only the centre view, with its left half pruned: the target sees the missing half from nowhere.
    half = cams[1].width // 2
    mask = np.ones((cams[1].height, cams[1].width), dtype=bool)
    mask[:, :half] = False
    pruned = SourceView(full[1].camera, full[1].texture, full[1].depth, valid=mask)
    out = synthesize([pruned], cams[1], NO_BLUR, device="cpu")
    assert not out.synthesized_mask[:, : half - 2].any()
    assert out.synthesized_mask[:, half + 2:].all()


# ------------------------------------------------------------------------------------------
# individual steps


def _splat(cx: float, cy: float, z: float, r: float = 0.0) -> Splats:
    t = torch.tensor
    return Splats(view=t([0]), centre=t([[cx, cy]]), z=t([z]), r1=t([r]), r2=t([r]),
                  e1=t([[1.0, 0.0]]), single=t([r == 0.0]))


def test_splat_z_test_keeps_the_nearest_surface():
    far = _splat(5.5, 4.5, 4.0, r=1.2)
    near = _splat(5.2, 4.7, 2.0)
    zbuf = rasterize_splats(Splats.cat([far, near]), 1, 8, 10, max_radius=4, chunk=7)[0]
    assert zbuf[4, 5] == 2.0                    # the single-pixel near splat wins its pixel
    assert zbuf[3, 4] == 4.0 and zbuf[5, 6] == 4.0  # the far splat covers its 3×3 square
    assert torch.isinf(zbuf[1, 1]) and torch.isfinite(zbuf).sum() == 9


def test_opening_removes_isolated_splats_but_keeps_regions():
    z = torch.full((3, 20, 20), math.inf)
    z[:, 2:16, 2:16] = 3.0       # a big region survives
    z[:, 18, 18] = 1.0           # an isolated splat does not
    out = open_depth_maps(z, erode=2, dilate=2)
    assert torch.isinf(out[0, 18, 18]) and torch.isfinite(out[0, 2:16, 2:16]).all()
    assert out[2, 18, 18] == 1.0  # the last view is left alone (TMIV)
    # When the last source view was culled, every view given is filtered.
    assert torch.isinf(open_depth_maps(z, erode=2, dilate=2, skip_last=False)[2, 18, 18])


def test_clusters_use_the_three_percent_rule():
    z = torch.tensor([[2.0], [2.05], [4.0], [math.nan]])
    w = torch.tensor([[1.0], [1.0], [3.0], [1.0]])
    c = cluster_depths(z, w, 0.03)
    assert c.count.item() == 2
    assert c.depth(0).item() == pytest.approx(2.025)
    assert c.depth(1).item() == pytest.approx(4.0)
    assert select_depth(c, 2.0, trust_depth=True).item() == pytest.approx(2.025)
    # Without trusted depth the heavier far cluster wins only if it outweighs 2×.
    assert select_depth(c, 1.4, trust_depth=False).item() == pytest.approx(4.0)
    assert select_depth(c, 2.0, trust_depth=False).item() == pytest.approx(2.025)


def _stack_reference(zs: list[float], ws: list[float], f: float) -> list[tuple[float, float]]:
    """TMIV's ``insertWeightedDepthInStack`` on one pixel, candidate by candidate (plain Python)."""
    stack: list[list[float]] = []
    for z, w in zip(zs, ws):
        if not (w > 0 and math.isfinite(z) and z > 0):
            continue
        i = sum(1 for wz, sw in stack if wz / sw <= z)
        before = stack[i - 1][0] / stack[i - 1][1] if i > 0 else -1.0
        after = stack[i][0] / stack[i][1] if i < len(stack) else math.inf
        merge_before, merge_after = z - before < f * before, after - z < f * z
        if merge_before and merge_after:
            stack[i - 1] = [stack[i - 1][0] + w * z + stack[i][0], stack[i - 1][1] + w + stack[i][1]]
            del stack[i]
        elif merge_before:
            stack[i - 1] = [stack[i - 1][0] + w * z, stack[i - 1][1] + w]
        elif merge_after:
            stack[i] = [stack[i][0] + w * z, stack[i][1] + w]
        else:
            stack.insert(i, [w * z, w])
    return [(a, b) for a, b in stack]


def test_clusters_follow_the_insertion_order():
    # 1.025 arrives last and bridges 1.00 and 1.05: TMIV fuses all three into one surface.
    z = torch.tensor([[1.0], [1.05], [1.025]], dtype=torch.float64)
    assert cluster_depths(z, torch.ones_like(z), 0.03).count.item() == 1
    # Inserted front to back the same depths make two surfaces.
    assert cluster_depths(z[[0, 2, 1]], torch.ones_like(z), 0.03).count.item() == 2


def test_clusters_match_the_tmiv_stack_on_random_pixels():
    gen = torch.Generator().manual_seed(3)
    k, n = 7, 300
    base = 0.5 + 3.0 * torch.rand(1, n, generator=gen, dtype=torch.float64)
    steps = torch.tensor([0.0, 0.02, 0.04, 0.3], dtype=torch.float64)
    z = base * (1.0 + steps[torch.randint(0, 4, (k, n), generator=gen)]
                * torch.rand(k, n, generator=gen, dtype=torch.float64))
    z[torch.rand(k, n, generator=gen) < 0.1] = math.nan
    w = torch.rand(k, n, generator=gen, dtype=torch.float64)
    w[torch.rand(k, n, generator=gen) < 0.05] = 0.0
    c = cluster_depths(z, w, 0.03)
    for i in range(n):
        ref = _stack_reference(z[:, i].tolist(), w[:, i].tolist(), 0.03)
        assert c.count[i].item() == len(ref)
        for slot, (wz, sw) in enumerate(ref):
            assert c.sum_wz[slot, i].item() == pytest.approx(wz) and c.sum_w[slot, i].item() == pytest.approx(sw)


def test_edge_blur_follows_tmiv_on_a_random_image():
    gen = torch.Generator().manual_seed(5)
    h, w, block, threshold = 9, 11, 5, 0.04
    luma = torch.rand(h, w, generator=gen, dtype=torch.float64)
    disp = 0.5 + 0.1 * torch.rand(h, w, generator=gen, dtype=torch.float64)   # 1/m
    disp[2:5, 3:7] += 0.5                                                     # a nearer object
    valid = torch.rand(h, w, generator=gen) > 0.15
    out = blur_depth_edges(luma, disp, valid, block, threshold)
    r = block // 2
    for i in range(h):
        for j in range(w):
            win = [(i + dy, j + dx, block - abs(dx) - abs(dy)) for dy in range(-r, r + 1)
                   for dx in range(-r, r + 1) if 0 <= i + dy < h and 0 <= j + dx < w and valid[i + dy, j + dx]]
            d = [disp[y, x].item() for y, x, _ in win]
            expect = luma[i, j].item()
            if valid[i, j] and d and max(d) - min(d) >= threshold:
                expect = sum(k * luma[y, x].item() for y, x, k in win) / sum(k for _, _, k in win)
            assert out[i, j].item() == pytest.approx(expect)


def test_median_filter_removes_an_isolated_depth():
    d = torch.full((5, 5), 2.0)
    d[2, 2] = 9.0
    d[0, 0] = 0.0
    out = median_filter_depth(d, 1)
    assert out[2, 2] == 2.0 and out[0, 0] == 2.0


def test_inpainting_prefers_the_background():
    yuv = torch.zeros(3, 1, 7)
    disp = torch.zeros(1, 7)
    yuv[:, 0, 0], disp[0, 0] = 0.9, 40000.0   # near (foreground) on the left
    yuv[:, 0, 6], disp[0, 6] = 0.1, 1000.0    # far (background) on the right
    out, d, filled = inpaint(yuv, disp, 655.36)
    assert filled[0, 1:6].all() and torch.allclose(out[:, 0, 1:6], torch.tensor(0.1))
    # Two neighbours at about the same depth are blended by inverse distance.
    disp2 = torch.zeros(1, 5)
    yuv2 = torch.zeros(3, 1, 5)
    yuv2[:, 0, 0], disp2[0, 0] = 0.0, 1000.0
    yuv2[:, 0, 4], disp2[0, 4] = 1.0, 1200.0
    out2, _, _ = inpaint(yuv2, disp2, 655.36)
    assert torch.allclose(out2[0, 0], torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0]))


def test_inpainting_fills_empty_rows_from_columns():
    yuv = torch.zeros(3, 4, 3)
    disp = torch.zeros(4, 3)
    yuv[:, 0, :], disp[0, :] = 0.3, 500.0
    _, d, filled = inpaint(yuv, disp, 655.36)
    assert filled[1:].all() and (d > 0).all()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    cams = rig(3)
    sources = [SCENE.source_view(c) for c in cams]
    target = perspective_camera("t", (0.05, 0.04, 0.02))
    cpu = synthesize(sources, target, device="cpu")
    gpu = synthesize(sources, target, device="cuda")
    assert np.array_equal(cpu.synthesized_mask, gpu.synthesized_mask)
    assert np.abs(cpu.texture[0].astype(int) - gpu.texture[0].astype(int)).max() <= 2
    assert np.abs(cpu.depth.astype(int) - gpu.depth.astype(int)).max() <= 2
