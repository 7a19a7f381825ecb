"""The training loop: ``train_model`` runs a schedule's phases and returns the quantised model.

Per phase (:class:`mvhinerv.train.schedule.Phase`)::

    steps fitted to the weights (first quantised phase only, init_bits-bit quantiser)
    Adam(β 0.9/0.999; fused on CUDA): network at phase.lr, log-steps at phase.step_lr(…)
    (lr_step, raised for short phases so the steps can travel phase.step_travel)
    for each step: lr = peak · warm-up/cosine factor; p = linear Quant-Noise rate
        loss = λ·D + R/num_pixels   (rate phases)      |   loss = D   (float phases)
        backward, clip the network's gradient norm, optimiser step
        every log_every steps: one host sync → progress bar
        every checkpoint_every_s seconds: checkpoint
    evaluate whole frames (hard-quantised in quantised phases) and, if quantised, the exact size

Ctrl-C saves a checkpoint and re-raises; ``resume=True`` continues from it (same step count).
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from bitstream.tensors import QuantizedTensor
from ctc.device import resolve_device
from mvhinerv.arch import MVHiNeRVArch
from mvhinerv.config import EncodeConfig
from mvhinerv.errors import ConfigError
from mvhinerv.quant import QuantSteps, estimated_bits, export_quantized
from mvhinerv.train.checkpoint import (
    CHECKPOINT_NAME,
    TrainState,
    load_checkpoint,
    save_checkpoint,
    set_rng_state,
    write_config_yaml,
)
from mvhinerv.train.data import MultiViewVideoLike, PatchSampler, TrainingData, load_training_data
from mvhinerv.train.losses import LossWeights, psnr
from mvhinerv.train.progress import PhaseProgress, announce
from mvhinerv.train.schedule import Phase, Schedule, get_schedule, schedule_table
from mvhinerv.train.step import (ITERATION_OUTPUTS, StepSetup, compile_step, evaluate, make_optimizer, make_step_fn,
                                 train_iteration)


@dataclasses.dataclass(frozen=True, eq=False)
class TrainResult:
    """What training hands to the bitstream writer.

    Attributes:
        arch: the architecture with ``depth_lo``/``depth_hi`` set from the content.
        tensors: every coded parameter (per-view grid slices separate), ready for the bitstream.
        estimated_bits: exact Gaussian code length of all symbols (no side info, no headers).
        metrics: per phase name and ``final``: ``psnr_rgb``, ``psnr_depth`` (dB, peak 1, whole
            frames), ``steps``, ``loss``; quantised phases add ``bits``, ``bpp``,
            ``bits_per_param``, ``bits_at_init`` (size right after the step initialisation) and
            ``lr_step_peak`` (the steps' peak learning rate, :meth:`Phase.step_lr`).
        timings: seconds for ``load``, each phase, ``export`` and ``total`` (summed over resumes);
            ``<phase>.first_step``: the first step each run of the process made in that phase,
            already counted in the phase's time. With ``torch.compile`` it is mostly compilation,
            so ``<phase>`` − ``<phase>.first_step`` is the time the steps themselves took.
    """

    arch: MVHiNeRVArch
    tensors: tuple[QuantizedTensor, ...]
    estimated_bits: float
    metrics: dict[str, dict[str, float]]
    timings: dict[str, float]


def seed_everything(seed: int) -> None:
    """Seed ``random``, ``numpy`` and ``torch`` (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class _Trainer:
    """Holds the state of one ``train_model`` call (model, steps, optimiser, position)."""

    def __init__(self, data: TrainingData, model: torch.nn.Module, steps: QuantSteps, config: EncodeConfig,
                 schedule: Schedule, work_dir: Path, arch_dict: dict, progress: bool,
                 on_step: Callable[[TrainState], None] | None) -> None:
        self.data, self.model, self.steps, self.config, self.schedule = data, model, steps, config, schedule
        self.work_dir, self.arch_dict, self.progress, self.on_step = work_dir, arch_dict, progress, on_step
        self.device = data.frames.device
        self.sampler = PatchSampler(data, config.patch, config.batch, config.seed, model.arch.total_scale)
        self.state = TrainState()
        self.optimizer: torch.optim.Optimizer | None = None
        self.pending_optimizer_state: dict | None = None
        self.weights = LossWeights(config.texture_l1, config.ssim_window, config.depth_loss, config.depth_weight)
        self.num_params = sum(p.numel() for p in model.parameters())

    # -- checkpoints ---------------------------------------------------------------------------

    def save(self) -> None:
        save_checkpoint(self.work_dir, state=self.state, model=self.model, steps=self.steps,
                        optimizer=self.optimizer, config=self.config.to_dict(), arch=self.arch_dict)

    def restore(self, payload: dict) -> None:
        self.model.load_state_dict(payload["model"])
        self.steps.load_state_dict(payload["steps"])
        self.state = TrainState(**payload["state"])
        self.pending_optimizer_state = payload["optimizer"]
        set_rng_state(payload["rng"])

    # -- phases --------------------------------------------------------------------------------

    def run(self) -> None:
        for index in range(self.state.phase, len(self.schedule.phases)):
            self.run_phase(index, self.schedule.phases[index])

    def run_phase(self, index: int, phase: Phase) -> None:
        cfg, state = self.config, self.state
        started = time.monotonic()
        metrics = state.metrics.setdefault(phase.name, {})
        if phase.quant != "none" and not bool(self.steps.initialised):
            self.steps.fit(self.model, cfg.init_bits)
            metrics["bits_at_init"] = estimated_bits(export_quantized(self.model, self.steps))
        per_epoch = self.sampler.steps_per_epoch
        total = phase.epochs * per_epoch
        self.optimizer = make_optimizer(self.model, self.steps, phase, cfg.lr_scale, total, per_epoch)
        if phase.quant != "none":
            peak = metrics["lr_step_peak"] = self.optimizer.param_groups[1]["peak"]
            if peak > phase.lr_step * cfg.lr_scale:
                announce(f"{phase.name}: {total} steps, too few for lr {phase.lr_step * cfg.lr_scale:g} to move the "
                         f"quantisation steps by {phase.step_travel:g} in ln δ: their peak lr is {peak:.4g}",
                         self.progress)
        if self.pending_optimizer_state is not None:
            self.optimizer.load_state_dict(self.pending_optimizer_state)
            self.pending_optimizer_state = None
        setup = StepSetup(phase.quant, phase.rate, cfg.lam, self.data.num_pixels, self.weights, cfg.bf16)
        fn = make_step_fn(self.model, self.steps, setup, self.device)
        if self.device.type == "cuda" and cfg.compile:
            fn = compile_step(fn, cfg.compile_mode)
        bar = PhaseProgress(phase.name, total, state.step, self.progress)
        sums = torch.zeros(len(ITERATION_OUTPUTS), device=self.device)
        logged, last_save = state.step, time.monotonic()
        p = torch.zeros((), device=self.device)
        clip = list(self.model.parameters())
        order, order_epoch = None, -1
        first = state.step < total
        try:
            while state.step < total:
                epoch, within = divmod(state.step, per_epoch)
                if epoch != order_epoch:
                    order, order_epoch = self.sampler.permutation(index, epoch), epoch
                factor = phase.lr_factor(state.step, total, per_epoch)
                for group in self.optimizer.param_groups:
                    group["lr"] = group["peak"] * factor
                p.fill_(phase.noise_rate(state.step, total))
                sums += train_iteration(fn, self.sampler.batch_at(order, within), p, self.optimizer,
                                        clip, cfg.grad_clip)
                state.step += 1
                if first:  # one host sync per phase: compilation happens in this step
                    first = False
                    _sync(self.device)
                    key = f"{phase.name}.first_step"
                    state.timings[key] = state.timings.get(key, 0.0) + time.monotonic() - started
                if state.step - logged >= cfg.log_every or state.step == total:
                    n = state.step - logged
                    mean = (sums / n).tolist()  # the loop's host sync (and the first step's, above)
                    metrics["loss"] = mean[0]
                    metrics["skipped_steps"] = metrics.get("skipped_steps", 0.0) + round(mean[5] * n)
                    bar.update(n, mean[0], mean[2], mean[3], mean[4] / self.data.num_pixels if phase.rate else None)
                    sums.zero_()
                    logged = state.step
                if self.on_step is not None:
                    self.on_step(state)
                if time.monotonic() - last_save > cfg.checkpoint_every_s:
                    self.save()
                    last_save = time.monotonic()
        finally:
            bar.close()
            _sync(self.device)
            state.timings[phase.name] = state.timings.get(phase.name, 0.0) + time.monotonic() - started
        metrics.update(self.evaluate_phase(phase))
        metrics["steps"] = float(total)
        state.phase, state.step = index + 1, 0
        self.optimizer = None
        self.save()

    def evaluate_phase(self, phase: Phase) -> dict[str, float]:
        """Whole-frame PSNR (hard-quantised for quantised phases) and the exact size."""
        quantised = phase.quant != "none"
        mse = evaluate(self.model, self.sampler, steps=self.steps if quantised else None,
                       batch=self.config.eval_batch, bf16=self.config.bf16)
        out = {"psnr_rgb": psnr(mse["mse_rgb"]), "psnr_depth": psnr(mse["mse_depth"])}
        if quantised:
            bits = estimated_bits(export_quantized(self.model, self.steps))
            out.update(bits=bits, bpp=bits / self.data.num_pixels, bits_per_param=bits / self.num_params)
        return out


def train_model(mvv: MultiViewVideoLike, arch: MVHiNeRVArch, config: EncodeConfig, *,
                device: str | torch.device = "auto", work_dir: str | Path, resume: bool = False, progress: bool = True,
                on_step: Callable[[TrainState], None] | None = None) -> TrainResult:
    """Train MV-HiNeRV on ``mvv`` with ``config``'s schedule and return the quantised model.

    Args:
        mvv: the content (``ctc.sequence.MultiViewVideo``); all views and frames are used.
        arch: the architecture (``mvhinerv.arch.MVHiNeRVArch``) for this content; its depth range
            is replaced by the content's.
        config: encoder settings (λ, schedule, seed...).
        device: ``auto``, ``cpu``, ``cuda`` or a ``torch.device``.
        work_dir: checkpoints (``checkpoint.pt``) and the resolved ``config.yaml`` go here.
        resume: continue from ``work_dir/checkpoint.pt`` if it exists (else start afresh).
        progress: show the schedule table and a progress bar per phase.
        on_step: called after every optimiser step with the current :class:`TrainState`
            (monitoring; raising ``KeyboardInterrupt`` there stops training as Ctrl-C does).

    Raises:
        ConfigError: no views / frames, unknown schedule, a checkpoint made with other settings.
        KeyboardInterrupt: after the checkpoint has been saved.
    """
    from mvhinerv.model import MVHiNeRV, resolve_dwconv  # the model package imports torch-heavy modules

    t0 = time.monotonic()
    schedule = get_schedule(config.schedule)
    device = resolve_device(device)
    work_dir = Path(work_dir)
    seed_everything(config.seed)
    data = load_training_data(mvv, device)
    content = (data.views, data.num_frames, data.width, data.height)
    if content != (arch.views, arch.frames, arch.width, arch.height):
        raise ConfigError("architecture", f"made for {arch.views} views x {arch.frames} frames of "
                          f"{arch.width}x{arch.height}, the content has {content[0]} x {content[1]} of "
                          f"{content[2]}x{content[3]}")
    arch = dataclasses.replace(arch, depth_lo=data.depth_lo, depth_hi=data.depth_hi)
    compiled = device.type == "cuda" and config.compile
    model = MVHiNeRV(arch, dwconv=resolve_dwconv(config.dwconv, device, compiled)).to(device)
    if device.type == "cuda" and config.bf16 and config.bf16_stages:
        model.stage_dtype = torch.bfloat16
    steps = QuantSteps(model, model.coded_parameters()).to(device)
    trainer = _Trainer(data, model, steps, config, schedule, work_dir, arch.to_dict(), progress, on_step)
    payload = load_checkpoint(work_dir, config.to_dict(), arch.to_dict()) if resume else None
    if not resume:  # a fresh run must never be resumed from an older run's checkpoint
        (work_dir / CHECKPOINT_NAME).unlink(missing_ok=True)
    if payload is not None:
        trainer.restore(payload)
    state = trainer.state
    state.timings["load"] = state.timings.get("load", 0.0) + time.monotonic() - t0
    write_config_yaml(work_dir, config.to_dict(), arch.to_dict(),
                      [dataclasses.asdict(p) for p in schedule.phases])
    announce(schedule_table(schedule), progress)
    try:
        trainer.run()
    except KeyboardInterrupt:
        trainer.save()
        raise
    t1 = time.monotonic()
    if not bool(steps.initialised):  # a schedule without a quantised phase: plain init_bits steps
        steps.fit(model, config.init_bits)
    tensors = export_quantized(model, steps)
    bits = estimated_bits(tensors)
    state.timings["export"] = time.monotonic() - t1
    state.timings["total"] = sum(v for k, v in state.timings.items()
                                 if k != "total" and not k.endswith(".first_step"))
    last = schedule.phases[-1]
    final = dict(state.metrics[last.name])
    if last.quant == "none":
        final.update(trainer.evaluate_phase(dataclasses.replace(last, quant="hard")))
    state.metrics["final"] = dict(final, bits=bits, bpp=bits / data.num_pixels,
                                  bits_per_param=bits / trainer.num_params)
    return TrainResult(arch, tuple(tensors), bits, state.metrics, state.timings)
