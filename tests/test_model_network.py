"""MV-HiNeRV network: shapes, parameter bookkeeping, frame mode vs an independent reference,
patch mode == frame mode (odd sizes, patches past the edge), functional_call, autocast, compile."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from mvhinerv.arch import arch_from_preset, count_parameters
from mvhinerv.errors import ConfigError
from mvhinerv.model import MVHiNeRV, output_mask, patch_origins
from mvhinerv.model.grids import time_lerp


pytestmark = pytest.mark.usefixtures("one_thread")


def _randomised(arch, dwconv="conv", dtype=torch.float64, seed=0):
    """A model whose every parameter (biases and grids too) is random, so nothing hides."""
    torch.manual_seed(seed)
    model = MVHiNeRV(arch, dwconv=dwconv).to(dtype)
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(-0.5, 0.5)
    return model


def _reference(model: MVHiNeRV, view: int, frame: int) -> torch.Tensor:
    """Frame-mode HiNeRV written the textbook way (NCHW, F.interpolate, F.conv2d, grid_sample
    semantics by hand): [4, H, W]. Shares no code with the model's forward."""
    arch = model.arch

    def tlerp(grid):  # grid [T_l, ...] sampled at frame (align_corners=False, clamped)
        n = grid.shape[0]
        pos = min(max((frame + 0.5) * n / arch.frames - 0.5, 0.0), n - 1.0)
        i0 = math.floor(pos)
        i1 = min(i0 + 1, n - 1)
        return grid[i0] * (1 - (pos - i0)) + grid[i1] * (pos - i0)

    base = torch.cat([tlerp(g[view]) for g in model.base.levels], dim=-1)  # [Hb, Wb, C]
    x = base.permute(2, 0, 1)[None]
    x = F.conv2d(x, model.stem.weight, model.stem.bias, padding=arch.stem_kernel // 2)
    for i, stage in enumerate(model.stages):
        s = arch.scales[i]
        h, w = arch.level_size(i + 1)
        x = F.layer_norm(x.permute(0, 2, 3, 1), (x.shape[1],), eps=1e-6).permute(0, 3, 1, 2)
        x = F.interpolate(x, scale_factor=s, mode="bilinear", align_corners=False)[:, :, :h, :w]
        enc = torch.cat([tlerp(g[view]) for g in stage.encoding.grids], dim=-1)  # [s, s, ΣC]
        tile = F.linear(enc, stage.encoding.linear.weight, stage.encoding.linear.bias)
        rows = torch.arange(h) % s
        cols = torch.arange(w) % s
        x = x + tile[rows][:, cols].permute(2, 0, 1)[None]
        for blk in stage.blocks:
            y = F.conv2d(x, blk.dwconv, padding=1, groups=x.shape[1])
            y = F.layer_norm(y.permute(0, 2, 3, 1), (y.shape[1],), eps=1e-6)
            y = F.linear(F.gelu(F.linear(y, blk.fc1)), blk.fc2).permute(0, 3, 1, 2)
            x = y + x if blk.residual else y
    y = torch.sigmoid(F.linear(x.permute(0, 2, 3, 1), model.head.weight, model.head.bias))
    return y[0].permute(2, 0, 1)


def _stitch(model, views, frames, patch):
    arch = model.arch
    ph, pw = patch
    out = torch.full((len(views), arch.outputs, arch.height, arch.width), float("nan"),
                     dtype=torch.float64)
    for y, x in patch_origins(arch, patch):
        o = model(views, frames, torch.full_like(views, y), torch.full_like(views, x), patch)
        hh, ww = min(ph, arch.height - y), min(pw, arch.width - x)
        mask = output_mask(arch, torch.full_like(views, y), torch.full_like(views, x), patch)
        assert torch.all(o * (1 - mask) == 0)  # outside the frame: zero
        out[:, :, y:y + hh, x:x + ww] = o[:, :, :hh, :ww]
    return out


def test_parameter_count_equals_numel():
    for name in ("tiny", "S"):
        arch = arch_from_preset(name, 270 if name == "S" else 135, 150 if name == "S" else 77,
                                frames=7, views=2)
        model = MVHiNeRV(arch)
        assert sum(p.numel() for p in model.parameters()) == count_parameters(arch)["total"]


def test_coded_parameters_cover_every_parameter_once():
    arch = arch_from_preset("tiny", 128, 72, frames=5, views=3)
    model = MVHiNeRV(arch)
    coded = model.coded_parameters()
    params = dict(model.named_parameters())
    assert [c.name for c in coded] == list(params)
    for c in coded:
        p = params[c.name]
        assert 0 <= c.channel_axis < p.ndim
        if c.kind == "grid":
            assert c.view_axis == 0 and p.shape[0] == arch.views and p.ndim == 5
        else:
            assert c.view_axis is None
        assert (c.kind == "bias") == c.name.endswith("bias")
    kinds = {c.kind for c in coded}
    assert kinds == {"weight", "grid", "bias"}


@pytest.mark.parametrize("dwconv", ["conv", "shift"])
def test_frame_mode_matches_independent_reference(dwconv):
    # Odd size: not a multiple of the total scale (8), so the ceil rule and cropping are tested.
    arch = arch_from_preset("tiny", 133, 75, frames=6, views=2)
    model = _randomised(arch, dwconv)
    out = model(torch.tensor([1, 0]), torch.tensor([5, 2]))
    assert out.shape == (2, 4, 75, 133)
    torch.testing.assert_close(out[0], _reference(model, 1, 5), atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(out[1], _reference(model, 0, 2), atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("patch", [(16, 24), (40, 80)])
def test_patch_mode_equals_frame_mode_tiny_odd_size(patch):
    arch = arch_from_preset("tiny", 135, 77, frames=5, views=3)
    model = _randomised(arch)
    views, frames = torch.tensor([0, 2, 1]), torch.tensor([4, 0, 2])
    full = model(views, frames)
    torch.testing.assert_close(_stitch(model, views, frames, patch), full, atol=1e-12, rtol=0)


def test_patch_mode_equals_frame_mode_hinerv_scales():
    # HiNeRV's 1080p scales (5, 3, 2, 2) on a small odd frame: phases of s = 5 and 3, and
    # windows that start outside the frame at every level.
    arch = arch_from_preset("tiny", 250, 130, frames=4, views=2, scales=(5, 3, 2, 2))
    model = _randomised(arch)
    views, frames = torch.tensor([1, 0]), torch.tensor([3, 1])
    full = model(views, frames)
    torch.testing.assert_close(full[0], _reference(model, 1, 3), atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(_stitch(model, views, frames, (60, 120)), full, atol=1e-12, rtol=0)


def test_batched_patches_mix_views_frames_positions():
    arch = arch_from_preset("tiny", 128, 72, frames=5, views=3)
    model = _randomised(arch)
    full = model(torch.arange(3).repeat_interleave(5), torch.arange(5).repeat(3))
    views, frames = torch.tensor([2, 0, 1, 2]), torch.tensor([0, 4, 2, 3])
    y0, x0 = torch.tensor([0, 64, 32, 8]), torch.tensor([120, 0, 56, 96])
    out = model(views, frames, y0, x0, (16, 16))
    for b in range(4):
        ref = full[int(views[b]) * 5 + int(frames[b])]
        y, x = int(y0[b]), int(x0[b])
        hh, ww = min(16, 72 - y), min(16, 128 - x)
        torch.testing.assert_close(out[b, :, :hh, :ww], ref[:, y:y + hh, x:x + ww],
                                   atol=1e-12, rtol=0)


def test_functional_call_uses_given_parameters():
    arch = arch_from_preset("tiny", 64, 48, frames=3, views=2)
    model = MVHiNeRV(arch)
    params = {k: v.detach().clone() for k, v in model.named_parameters()}
    params["head.bias"] = params["head.bias"] + 1.0
    args = (torch.tensor([0, 1]), torch.tensor([2, 0]))
    changed = torch.func.functional_call(model, params, args)
    assert not torch.allclose(changed, model(*args))
    with torch.no_grad():
        model.head.bias += 1.0
    torch.testing.assert_close(changed, model(*args))


def test_gradients_reach_every_parameter():
    arch = arch_from_preset("tiny", 64, 48, frames=3, views=2)
    model = MVHiNeRV(arch)
    out = model(torch.tensor([0, 1]), torch.tensor([0, 2]), torch.tensor([0, 16]),
                torch.tensor([32, 0]), (32, 32))
    out.square().sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_bf16_autocast_close_to_fp32():
    arch = arch_from_preset("tiny", 64, 48, frames=3, views=1)
    model = MVHiNeRV(arch)
    args = (torch.tensor([0]), torch.tensor([1]))
    ref = model(*args)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(*args)
    assert (out.float() - ref).abs().max() < 0.05
    assert out.min() >= 0 and out.max() <= 1


def test_upsampled_maps_narrow_under_autocast_where_no_residual_reads_them():
    """Under autocast the upsampler writes the autocast dtype for a stage whose first block has no
    residual (its depthwise layer is the map's only reader); stage 0 of tiny (64 → 64 channels)
    keeps the LayerNorm's dtype, and ``stage_dtype`` applies to every stage."""
    model = MVHiNeRV(arch_from_preset("tiny", 64, 48, frames=3, views=1))
    cpu = torch.device("cpu")
    assert [blocks[0].residual for blocks in (s.blocks for s in model.stages)] == [True, False, False, False]
    assert [model._map_dtype(s, cpu) for s in model.stages] == [None] * 4
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert [model._map_dtype(s, cpu) for s in model.stages] == [None] + [torch.bfloat16] * 3
    model.stage_dtype = torch.float16
    assert [model._map_dtype(s, cpu) for s in model.stages] == [torch.float16] * 4


def test_time_lerp_matches_align_corners_false():
    i0, i1, w = time_lerp(torch.arange(8), total=8, slices=2)
    pos = (torch.arange(8, dtype=torch.float64) + 0.5) * 2 / 8 - 0.5
    torch.testing.assert_close(i0 + w, pos.clamp(0, 1))
    assert int(i1.max()) == 1


def test_bad_patch_inputs_are_config_errors():
    arch = arch_from_preset("tiny", 64, 48, frames=3, views=1)
    model = MVHiNeRV(arch)
    v = torch.tensor([0])
    with pytest.raises(ConfigError, match="multiples of the total scale"):
        model(v, v, torch.tensor([3]), torch.tensor([0]), (16, 16))
    with pytest.raises(ConfigError, match="needs y0 and x0"):
        model(v, v, None, None, (16, 16))
    with pytest.raises(ConfigError, match="two integers"):
        model(v, v, v, v, (0, 16))
    with pytest.raises(ConfigError, match="multiples of the total scale"):
        patch_origins(arch, (10, 16))
    with pytest.raises(ConfigError, match="dwconv"):
        MVHiNeRV(arch, dwconv="fft")


def _compile_check(backend):
    arch = arch_from_preset("tiny", 72, 40, frames=3, views=2)
    model = MVHiNeRV(arch)
    compiled = torch.compile(model, fullgraph=True, backend=backend)
    args = (torch.tensor([0, 1]), torch.tensor([2, 0]), torch.tensor([0, 16]),
            torch.tensor([32, 0]), (16, 32))
    torch.testing.assert_close(compiled(*args), model(*args), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(compiled(*args[:2]), model(*args[:2]), atol=1e-5, rtol=1e-5)
    compiled(*args).sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_compiles_fullgraph_graph_capture():
    """One graph per patch size, no graph breaks (dynamo + AOT autograd, no code generation)."""
    _compile_check("aot_eager")


@pytest.mark.slow
def test_compiles_fullgraph_inductor():
    _compile_check("inductor")


def test_tiny_preset_learns_a_multiview_video():
    """Smoke: a few Adam steps on a smooth 2-view RGB-D target reduce the error clearly."""
    torch.manual_seed(0)
    arch = arch_from_preset("tiny", 64, 48, frames=3, views=2)
    model = MVHiNeRV(arch)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 48), torch.linspace(0, 1, 64), indexing="ij")
    target = torch.stack([
        torch.stack([torch.sin(6 * xx + v + 0.3 * t) * 0.4 + 0.5, yy, xx * yy, (xx + yy) / 2])
        for v in range(2) for t in range(3)
    ])
    views, frames = torch.arange(2).repeat_interleave(3), torch.arange(3).repeat(2)
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    losses = []
    for _ in range(60):
        loss = (model(views, frames) - target).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0]


def test_head_after_a_block_is_the_head_of_its_fc2():
    """Head.after(g, fc2) (the last block's fc2 and the head as one matmul, on the block's hidden
    map, zero-padded as the fused path writes it) equals head(g @ fc2ᵀ): output and the
    gradients of g, fc2, the head's weight and bias (float64: the identity is exact)."""
    from mvhinerv.model.blocks import Head

    torch.manual_seed(0)
    head = Head(35, 4).double()
    with torch.no_grad():
        head.bias.uniform_(-1, 1)
    fc2 = (torch.randn(35, 140, dtype=torch.float64) / 12).requires_grad_()
    g = torch.randn(2, 3, 5, 140, dtype=torch.float64)
    results = []
    for width, fold in ((140, False), (140, True), (144, True)):
        head.zero_grad()
        fc2.grad = None
        gi = F.pad(g, (0, width - 140)).requires_grad_()
        out = head.after(gi, fc2) if fold else head(F.linear(gi, fc2))
        (out * torch.arange(4.0, dtype=torch.float64)).sum().backward()
        results.append([out, gi.grad[..., :140], fc2.grad.clone(), head.weight.grad.clone(),
                        head.bias.grad.clone()])
        assert out.shape == (2, 3, 5, 4)
    for other in results[1:]:
        for a, b in zip(other, results[0], strict=True):
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-13)
