"""Unit tests of the training pieces: config, schedules, data and patches, losses."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mvhinerv.config import EncodeConfig
from mvhinerv.errors import ConfigError
from mvhinerv.train.data import PatchSampler, TrainingData, load_training_data
from mvhinerv.train.losses import LossWeights, distortion, ms_ssim, ms_ssim_scales
from mvhinerv.train.schedule import SCHEDULES, Phase, get_schedule, schedule_table


class ArrayVideo:
    """Minimal MultiViewVideo stand-in over numpy arrays (V, T, 3, H, W) and (V, T, H, W)."""

    def __init__(self, rgb: np.ndarray, depth: np.ndarray) -> None:
        self.rgb, self.depth = rgb, depth
        self.views = [f"v{i}" for i in range(rgb.shape[0])]
        self.num_frames, self.height, self.width = rgb.shape[1], rgb.shape[3], rgb.shape[4]

    def texture_rgb(self, view: int, start: int, count: int) -> torch.Tensor:
        return torch.from_numpy(self.rgb[view, start:start + count])

    def depth_samples(self, view: int, start: int, count: int) -> np.ndarray:
        return self.depth[view, start:start + count]


def random_video(views=2, frames=3, height=20, width=28, seed=0) -> ArrayVideo:
    rng = np.random.default_rng(seed)
    rgb = rng.random((views, frames, 3, height, width), dtype=np.float32)
    depth = rng.integers(1000, 60000, (views, frames, height, width)).astype(np.uint16)
    return ArrayVideo(rgb, depth)


# -- config ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "where"), [
    ({"lam": 0.0}, "lambda"), ({"lam": -1.0}, "lambda"), ({"lam": float("nan")}, "lambda"),
    ({"schedule": "nope"}, "schedule"), ({"patch": (0, 8)}, "patch"), ({"batch": 0}, "batch"),
    ({"lr_scale": 0.0}, "lr_scale"),
    ({"depth_loss": "huber"}, "depth_loss"), ({"ssim_window": 4}, "ssim_window"), ({"init_bits": 1}, "init_bits"),
])
def test_bad_config_values_are_one_line_config_errors(kwargs, where):
    with pytest.raises(ConfigError) as err:
        EncodeConfig(**kwargs)
    assert str(err.value).startswith(where + ":") and "\n" not in str(err.value)


def test_config_dict_round_trip_and_unknown_keys():
    cfg = EncodeConfig(lam=3.5, schedule="fast", patch=(60, 120), seed=7)
    assert EncodeConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="unknown encoder setting.*lamda"):
        EncodeConfig.from_dict({"lamda": 1.0}, where="seq.yaml")
    with pytest.raises(ConfigError, match="seq.yaml"):
        EncodeConfig.from_dict(["not", "a", "mapping"], where="seq.yaml")


# -- schedules ---------------------------------------------------------------------------------


def test_registered_schedules_have_the_paper_shape():
    assert {"paper", "fast", "ci"} <= set(SCHEDULES)
    paper = get_schedule("paper")
    assert [p.epochs for p in paper.phases] == [300, 60]
    for schedule in SCHEDULES.values():
        first, last = schedule.phases[0], schedule.phases[-1]
        assert first.quant == "none" and not first.rate
        assert last.rate and last.quant == "noise" and last.noise_end == 1.0
        assert last.lr < first.lr and last.lr_step > last.lr  # smaller lr for weights, larger for steps


def test_short_phases_raise_the_steps_learning_rate_to_cover_the_travel():
    stage2 = get_schedule("fast").phases[1]
    assert stage2.step_travel == 3.0
    # Long phase: lr_step already covers the travel, unchanged (× lr_scale).
    assert stage2.step_lr(20000, 400) == stage2.lr_step
    assert stage2.step_lr(20000, 400, lr_scale=2.0) == 2 * stage2.lr_step
    # Short phase: raised so that peak · Σ factor(t) = travel.
    for total, per_epoch in ((60, 3), (331, 55)):
        lr = stage2.step_lr(total, per_epoch)
        assert lr > stage2.lr_step
        assert lr * stage2.factor_sum(total, per_epoch) == pytest.approx(stage2.step_travel)
    # factor_sum is the plain sum of the per-step factors (warm-up ramp, then cosine).
    assert stage2.factor_sum(40, 10) == pytest.approx(sum(stage2.lr_factor(t, 40, 10) for t in range(40)))
    # No floor: travel 0, or a float phase (no steps to learn).
    assert get_schedule("smoke").phases[1].step_lr(6, 3) == 5e-2
    assert get_schedule("fast").phases[0].step_lr(6, 3) == 0.0
    with pytest.raises(ConfigError, match="step_travel"):
        Phase("bad", 1, lr=1e-3, lr_step=1e-2, quant="noise", step_travel=-1.0)


def test_unknown_schedule_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown schedule 'bogus'"):
        get_schedule("bogus")


def test_schedule_table_lists_every_phase():
    table = schedule_table(get_schedule("paper"))
    lines = table.splitlines()
    assert "paper" in lines[0] and "360 epochs" in lines[0]
    rows = [line for line in lines if line.startswith("| stage")]
    assert len(rows) == 2
    assert "| stage1 | 300 | 0.002 |" in rows[0] and "| none |" in rows[0] and rows[0].endswith("| off |")
    assert "| noise | 0.5 → 1 | on |" in rows[1]


def test_lr_warmup_then_cosine_and_linear_noise():
    phase = Phase("p", 10, lr=1.0, warmup_epochs=2, warmup_start_ratio=0.1, lr_min_ratio=0.01,
                  quant="noise", noise_start=0.5, noise_end=1.0)
    steps_per_epoch, total = 5, 50
    assert phase.lr_factor(0, total, steps_per_epoch) == pytest.approx(0.1)
    assert phase.lr_factor(5, total, steps_per_epoch) == pytest.approx(0.55)
    assert phase.lr_factor(10, total, steps_per_epoch) == pytest.approx(1.0)
    assert phase.lr_factor(30, total, steps_per_epoch) == pytest.approx(0.01 + 0.99 * 0.5)
    assert phase.lr_factor(50, total, steps_per_epoch) == pytest.approx(0.01)
    assert phase.noise_rate(0, total) == 0.5 and phase.noise_rate(total - 1, total) == 1.0
    assert phase.noise_rate(49 // 2, total) == pytest.approx(0.75, abs=0.02)
    with pytest.raises(ConfigError):
        Phase("bad", 1, lr=1e-3, quant="none", rate=True)


# -- data --------------------------------------------------------------------------------------


def test_depth_is_normalised_per_sequence_and_maps_back_exactly():
    video = random_video()
    data = load_training_data(video, "cpu")
    assert data.depth_lo == int(video.depth.min()) and data.depth_hi == int(video.depth.max())
    level = data.frames[:, 3].reshape(video.depth.shape)
    assert float(level.min()) == 0.0 and float(level.max()) == 1.0
    back = torch.round(data.depth_lo + level.double() * (data.depth_hi - data.depth_lo))
    assert np.array_equal(back.numpy().astype(np.uint16), video.depth)
    assert torch.equal(data.frames[4, :3], torch.from_numpy(video.rgb[1, 1]))  # index v·T + t


def test_constant_depth_and_empty_views():
    video = random_video(views=1, frames=1)
    video.depth[:] = 5
    data = load_training_data(video, "cpu")
    assert (data.depth_lo, data.depth_hi) == (5, 6) and float(data.frames[:, 3].max()) == 0.0
    video.views = []
    with pytest.raises(ConfigError, match="views: the sequence has no source views"):
        load_training_data(video, "cpu")


def _tiny_data(views=2, frames=3, height=20, width=28) -> TrainingData:
    return load_training_data(random_video(views, frames, height, width), "cpu")


def test_an_epoch_visits_every_tile_once_with_correct_crops_and_masks():
    data = _tiny_data()
    sampler = PatchSampler(data, (8, 12), batch=5, seed=3, align=4)
    assert (sampler.tiles_y, sampler.tiles_x) == (3, 3) and sampler.num_tiles == 2 * 3 * 9
    order = sampler.permutation(phase=0, epoch=0)
    assert torch.equal(order, sampler.permutation(phase=0, epoch=0))  # reproducible (resume)
    assert not torch.equal(order, sampler.permutation(phase=0, epoch=1))
    seen = []
    for i in range(sampler.steps_per_epoch):
        b = sampler.batch_at(order, i)
        assert b.target.shape == (5, 4, 8, 12) and b.mask.shape == (5, 1, 8, 12)
        for k in range(5):
            v, t, y0, x0 = int(b.views[k]), int(b.frames[k]), int(b.y0[k]), int(b.x0[k])
            seen.append((v, t, y0, x0))
            frame = data.frames[v * data.num_frames + t]
            h, w = min(8, data.height - y0), min(12, data.width - x0)
            assert torch.equal(b.target[k, :, :h, :w], frame[:, y0:y0 + h, x0:x0 + w])
            assert bool(b.mask[k, 0, :h, :w].all()) and not bool(b.mask[k, 0, h:, :].any())
            assert not bool(b.mask[k, 0, :, w:].any())
    assert len(set(seen)) == sampler.num_tiles  # every tile at least once
    assert len(seen) == sampler.steps_per_epoch * 5  # the last batch wrapped around


def test_frame_mode_and_patch_alignment():
    data = _tiny_data()
    sampler = PatchSampler(data, None, batch=4, seed=0)
    b = sampler.batch_at(sampler.permutation(0, 0), 0)
    assert b.patch is None and b.y0 is None and b.mask is None and b.target.shape == (4, 4, 20, 28)
    with pytest.raises(ConfigError, match="patch: 6x12 is not a multiple of the model's total scale 4"):
        PatchSampler(data, (6, 12), batch=None, seed=0, align=4)


# -- losses ------------------------------------------------------------------------------------


def test_ms_ssim_scales_follow_the_patch_size():
    assert ms_ssim_scales(120, 120, 5) == 5
    assert ms_ssim_scales(36, 64, 5) == 3
    assert ms_ssim_scales(8, 8, 5) == 1
    assert ms_ssim_scales(1080, 1920, 11) == 5


def test_ms_ssim_identity_degradation_and_mask_invariance():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 40, 48)
    assert torch.allclose(ms_ssim(x, x), torch.ones(2), atol=1e-5)
    noisy = (x + 0.1 * torch.randn_like(x)).clamp(0, 1)
    assert float(ms_ssim(noisy, x).max()) < 0.95
    mask = torch.zeros(2, 1, 40, 48, dtype=torch.bool)
    mask[:, :, :30, :40] = True
    a, b = noisy.clone(), noisy.clone()
    a[..., 30:, :] = 0.0
    b[..., :, 40:] = 1.0
    b[..., 30:, :] = torch.rand_like(b[..., 30:, :])
    torch.testing.assert_close(ms_ssim(a, x, mask), ms_ssim(b, x, mask))  # out-of-frame pixels ignored


def test_distortion_masks_out_of_frame_pixels_and_weights_depth():
    torch.manual_seed(1)
    target = torch.rand(3, 4, 24, 24)
    pred = (target + 0.05 * torch.randn_like(target)).clamp(0, 1)
    mask = torch.ones(3, 1, 24, 24, dtype=torch.bool)
    mask[:, :, 16:] = False
    garbage = pred.clone()
    garbage[:, :, 16:] = 1.0 - target[:, :, 16:]
    w = LossWeights(depth_loss="mse", depth_weight=2.0)
    d1, d2 = distortion(pred, target, mask, w), distortion(garbage, target, mask, w)
    torch.testing.assert_close(d1.total, d2.total)
    mse_depth = (pred[:, 3, :16] - target[:, 3, :16]).square().mean()
    torch.testing.assert_close(d1.depth, mse_depth)
    torch.testing.assert_close(d1.total, d1.texture + 2.0 * d1.depth)
    l1 = (pred[:, :3, :16] - target[:, :3, :16]).abs().mean()
    one_minus_msssim = 1 - ms_ssim(pred[:, :3], target[:, :3], mask).mean()
    torch.testing.assert_close(d1.texture, 0.7 * l1 + 0.3 * one_minus_msssim)
    assert math.isclose(float(d1.mse_rgb), float((pred[:, :3, :16] - target[:, :3, :16]).square().mean()), rel_tol=1e-5)


def test_single_scale_ssim_matches_scikit_image():
    """With one scale (image side < 2 windows) MS-SSIM is SSIM: compare with skimage's."""
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(5)
    x = rng.random((3, 18, 21))
    y = np.clip(x + 0.15 * rng.standard_normal(x.shape), 0, 1)
    ours = ms_ssim(torch.from_numpy(y)[None].float(), torch.from_numpy(x)[None].float(), window=11)
    ref = structural_similarity(y, x, channel_axis=0, data_range=1.0, gaussian_weights=True, sigma=1.5,
                                use_sample_covariance=False)
    assert float(ours) == pytest.approx(ref, rel=1e-4)


def test_docs_hold_the_generated_schedule_tables():
    from pathlib import Path

    from mvhinerv.train.schedule import all_schedule_tables

    doc = (Path(__file__).resolve().parents[1] / "docs" / "training.md").read_text()
    assert all_schedule_tables().count("| stage1 |") == len(SCHEDULES)
    for name in SCHEDULES:
        assert schedule_table(SCHEDULES[name]) in doc


# --------------------------------------------------------------------------------------------
# non-finite steps and command-line overrides


@pytest.mark.parametrize("fused", [True, False])
def test_a_step_with_non_finite_gradients_is_skipped(fused):
    """Like GradScaler: the parameters and Adam's state stay as they were, and the step is counted."""
    from types import SimpleNamespace

    from mvhinerv.train.step import ITERATION_OUTPUTS, train_iteration

    w = torch.nn.Parameter(torch.ones(3))
    opt = torch.optim.Adam([{"params": [w], "lr": 0.1}], fused=fused)
    batch = SimpleNamespace(views=None, frames=None, y0=None, x0=None, target=None, mask=None, patch=None)
    scale = {"value": 1.0}

    def fn(*_):
        loss = (w * scale["value"]).sum()
        return [loss] * 5

    out = train_iteration(fn, batch, torch.zeros(()), opt, [w], 1.0)
    assert out.shape == (len(ITERATION_OUTPUTS),) and out[-1] == 0 and out[0] == 3.0
    after_good = w.detach().clone()
    assert not torch.equal(after_good, torch.ones(3))
    scale["value"] = float("nan")
    out = train_iteration(fn, batch, torch.zeros(()), opt, [w], 1.0)
    assert out[-1] == 1 and torch.all(out[:-1] == 0)  # no NaN leaks into the logged means
    assert torch.equal(w.detach(), after_good) and float(opt.state[w]["step"]) == 1.0


def test_overrides_parse_yaml_values_and_reject_bad_items():
    from mvhinerv.config import parse_overrides

    got = parse_overrides(["patch=[120, 120]", "bf16_stages=true", "init_bits=6", "compile_mode=reduce-overhead"])
    assert got == {"patch": [120, 120], "bf16_stages": True, "init_bits": 6, "compile_mode": "reduce-overhead"}
    config = EncodeConfig.from_dict(got)
    assert config.patch == (120, 120) and config.init_bits == 6
    assert EncodeConfig.from_dict(parse_overrides(["patch=frame"])).patch is None
    for items, message in ((["patch"], "KEY=VALUE"), (["lam=2"], "--lambda"), (["seed=1"], "--seed"),
                           (["batch=1", "batch=2"], "twice"), (["batch=[1"], "not a YAML value")):
        with pytest.raises(ConfigError, match=message):
            parse_overrides(items)
    with pytest.raises(ConfigError, match="compile_mode"):
        EncodeConfig(compile_mode="fastest")


def test_a_non_finite_gradient_outside_the_clipped_network_also_skips_the_step():
    """The log-steps are not clipped (HiNeRV clips the network only), but a NaN there must skip too."""
    from types import SimpleNamespace

    from mvhinerv.train.step import train_iteration

    w, log_step = torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.Adam([{"params": [w], "lr": 0.1}, {"params": [log_step], "lr": 0.1}])
    batch = SimpleNamespace(views=None, frames=None, y0=None, x0=None, target=None, mask=None, patch=None)

    def fn(*_):
        loss = w.sum() + (log_step * float("nan")).sum()
        return [loss] * 5

    out = train_iteration(fn, batch, torch.zeros(()), opt, [w], 1.0)
    assert out[-1] == 1
    assert torch.equal(w.detach(), torch.ones(3)) and torch.equal(log_step.detach(), torch.zeros(2))


def test_lambda_is_a_graph_input_so_a_rate_ladder_compiles_once():
    """λ must not be a constant of the compiled step: Inductor keys its cache on the graph, so a
    float λ made every rate point of a ladder recompile (≈ 100 s each on an H200)."""
    from mvhinerv.arch import arch_from_preset
    from mvhinerv.model import MVHiNeRV
    from mvhinerv.quant import QuantSteps
    from mvhinerv.train.step import StepSetup, make_step_fn

    data = _tiny_data(views=1, frames=2, height=16, width=24)
    model = MVHiNeRV(arch_from_preset("tiny", 24, 16, 2, 1))
    steps = QuantSteps(model, model.coded_parameters())
    steps.fit(model, 7)
    batch = PatchSampler(data, None, batch=1, seed=0, align=model.arch.total_scale).batch_at(torch.arange(2), 0)
    graphs: list[str] = []

    def capture(gm, _inputs):
        graphs.append(gm.code)
        return gm.forward

    lam = 1234.5678
    fn = torch.compile(make_step_fn(model, steps, StepSetup("noise", True, lam, data.num_pixels, LossWeights(), False),
                                    torch.device("cpu")), backend=capture)
    loss = fn(batch.views, batch.frames, batch.y0, batch.x0, batch.target, batch.mask, torch.tensor(0.5), batch.patch)[0]
    assert graphs and torch.isfinite(loss)
    assert not any("1234.5678" in g for g in graphs), "λ was baked into the graph as a constant"


def test_halving_matches_ceil_mode_pooling_and_compiles_to_the_same_gradient():
    """MS-SSIM's 2×2 pyramid step averages the real pixels of an odd last row/column, as
    ``avg_pool2d(ceil_mode=True)`` does in eager mode; Inductor's backward of ceil_mode divides
    those windows by 4 (pytorch/pytorch#198119), hence ``losses._halve``."""
    from mvhinerv.train.losses import _halve

    torch.manual_seed(3)
    x = torch.rand(2, 3, 45, 50, dtype=torch.float64, requires_grad=True)
    weights = torch.rand(2, 3, 23, 25, dtype=torch.float64)
    torch.testing.assert_close(_halve(x), F.avg_pool2d(x, 2, ceil_mode=True))
    expected = torch.autograd.grad((F.avg_pool2d(x, 2, ceil_mode=True) * weights).sum(), x)[0]
    torch.testing.assert_close(torch.autograd.grad((_halve(x) * weights).sum(), x)[0], expected)
    compiled = torch.compile(lambda v: (_halve(v) * weights).sum())
    torch.testing.assert_close(torch.autograd.grad(compiled(x), x)[0], expected)


@pytest.mark.parametrize("mode, cudagraphs", [("reduce-overhead", True), ("default", None), (None, None)])
def test_compile_step_keeps_the_mode_and_turns_stride_padding_off(monkeypatch, mode, cudagraphs):
    """The step is compiled with its mode's Inductor options plus comprehensive_padding off (a
    padded map is copied before every custom op it reaches) and combo kernels on; passed as ``options`` so that the
    lazily compiled backward gets them too."""
    from mvhinerv.train import step

    seen = {}

    def fake_compile(fn, **kwargs):
        seen.update(kwargs)
        return fn

    monkeypatch.setattr(torch, "compile", fake_compile)
    fn = step.compile_step(abs, mode)
    assert fn is abs
    assert set(seen) == {"options"}
    assert seen["options"]["comprehensive_padding"] is False
    assert seen["options"]["combo_kernels"] is True
    assert seen["options"].get("triton.cudagraphs") is cudagraphs
    # Every option is a real Inductor setting (a misspelt one would be rejected only on a GPU).
    import torch._inductor.config as inductor_config

    assert all(hasattr(inductor_config, k.split(".")[0]) for k in seen["options"])
