"""One training step and the whole-frame evaluation, as plain functions of tensors.

The step is the unit ``torch.compile`` sees (on CUDA): quantise the parameters (mode fixed per
phase, the Quant-Noise rate ``p`` a 0-dim tensor so changing it does not recompile), run the
network with ``torch.func.functional_call`` under bf16 autocast, compute D in float32 and, when
the phase has the rate term, ``loss = R / num_pixels + λ·D`` with R from the float32 rate model.
It returns tensors only: the loop reads them back to the host every ``log_every`` steps.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable

import torch
from torch import nn
from torch.func import functional_call

from mvhinerv.quant import QuantSteps, quantized_parameters, rate_bits
from mvhinerv.train.data import Batch, PatchSampler
from mvhinerv.train.losses import LossWeights, distortion
from mvhinerv.train.schedule import Phase

StepFn = Callable[..., tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]


@dataclasses.dataclass(frozen=True)
class StepSetup:
    """What a phase's step function is built from."""

    mode: str  # quantiser: none | noise | hard
    rate: bool
    lam: float
    num_pixels: int
    weights: LossWeights
    bf16: bool


def autocast(device: torch.device, bf16: bool) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA when asked; float32 elsewhere."""
    if device.type == "cuda" and bf16:
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def make_step_fn(model: nn.Module, steps: QuantSteps, setup: StepSetup, device: torch.device) -> StepFn:
    """``fn(views, frames, y0, x0, target, mask, p, patch) -> (loss, D, mse_rgb, mse_depth, bits)``.

    ``bits`` is the relaxed rate R (0 when the phase has no rate term); all outputs are 0-dim.
    λ enters as a captured 0-dim tensor, not a Python float: Inductor bakes float constants into
    the compiled graph, so every λ of a rate ladder missed the compile cache (≈ 100 s each for
    S at mini size on an H200); a tensor makes the graphs of all λ identical.
    """
    lam = torch.tensor(setup.lam, dtype=torch.float32, device=device)

    def step_fn(views, frames, y0, x0, target, mask, p, patch):
        params = dict(model.named_parameters())
        used = quantized_parameters(params, steps, setup.mode, p)
        with autocast(device, setup.bf16):
            pred = functional_call(model, used, (views, frames), {"y0": y0, "x0": x0, "patch": patch})
        d = distortion(pred, target, mask, setup.weights)
        if setup.rate:
            bits = rate_bits(params, steps)
            loss = bits / setup.num_pixels + lam * d.total
        else:
            bits = torch.zeros((), device=target.device)
            loss = d.total
        return loss, d.total, d.mse_rgb, d.mse_depth, bits

    return step_fn


def compile_step(fn: StepFn, mode: str | None) -> StepFn:
    """``torch.compile(fn, mode=mode)`` with Inductor's stride padding off and its combo kernels
    on.

    Inductor pads the row stride of the buffers it allocates to 128 bytes when the stride is
    over 1024 elements (``torch._inductor.config.comprehensive_padding``), for matmuls with
    unaligned operands. Ours are aligned already (:func:`mvhinerv.model.blocks.aligned_width`),
    and a padded map has to be copied before it reaches a custom op: with S at 1080p, stage 0's
    1120-wide hidden map was padded to 1152 and copied once before the GELU op and twice
    before its backward (≈ 47 µs per block on an H200, docs/performance.md § Training step).

    Combo kernels (``combo_kernels``): Inductor launches independent small kernels that it
    schedules next to each other as one (a "horizontal" fusion; each keeps its own code and
    values). Between the custom ops the step has hundreds of kernels of a few microseconds
    (weights padded and cast, grid indices, their gradients' scatters, sums): with S at 1080p
    on an H200, 327 of its 519 kernels took under 3 µs each. One frame per step: 158.3 → 160.6
    and 160.7 Mpx·it/s (docs/performance.md § Training step, twenty-first session).

    The options go through ``torch.compile``'s ``options`` (the mode's own options plus these),
    which also reach the backward graph that AOTAutograd compiles lazily, unlike a
    ``config.patch`` around the call."""
    from torch._inductor import list_mode_options

    options = {**list_mode_options(mode or "default"), "comprehensive_padding": False, "combo_kernels": True}
    return torch.compile(fn, options=options)


def make_optimizer(model: nn.Module, steps: QuantSteps, phase: Phase, lr_scale: float, total_steps: int,
                   steps_per_epoch: int) -> torch.optim.Optimizer:
    """Adam (β 0.9/0.999, no weight decay; fused on CUDA): the network at ``phase.lr`` and, in
    quantised phases, the log-steps at ``phase.step_lr(...)`` (``lr_step``, both × ``lr_scale``,
    raised for short phases so that the steps can travel ``phase.step_travel`` over the phase's
    ``total_steps``). Each group
    remembers its ``peak`` lr, which the loop scales by the warm-up/cosine factor every step."""
    lr, lr_step = phase.lr * lr_scale, phase.step_lr(total_steps, steps_per_epoch, lr_scale)
    groups = [{"params": list(model.parameters()), "lr": lr, "peak": lr}]
    if phase.quant != "none":
        groups.append({"params": list(steps.parameters()), "lr": lr_step, "peak": lr_step})
    fused = next(model.parameters()).device.type == "cuda"
    return torch.optim.Adam(groups, betas=(0.9, 0.999), fused=fused)


#: Entries of :func:`train_iteration`'s result.
ITERATION_OUTPUTS = ("loss", "D", "mse_rgb", "mse_depth", "bits", "skipped")


def train_iteration(fn: StepFn, batch: Batch, p: torch.Tensor, optimizer: torch.optim.Optimizer,
                    clip: list[torch.Tensor], grad_clip: float) -> torch.Tensor:
    """One optimiser step; returns ``[loss, D, mse_rgb, mse_depth, bits, skipped]`` (as
    :data:`ITERATION_OUTPUTS`) on the device, without a host sync.

    Only the network's gradient norm (``clip``) is clipped, as in HiNeRV; the log-steps are not
    (Adam normalises their updates, and their rate gradients would dominate a joint norm).

    A step whose gradients are not all finite is skipped, as mixed-precision training does
    (``torch.amp.GradScaler``): on CUDA the fused Adam kernel reads the flag itself
    (``found_inf``), so no sync is needed; on the CPU the check is a plain branch. ``skipped``
    is 1 for such a step (its loss entries are reported as 0), so the loop can count them.
    """
    out = fn(batch.views, batch.frames, batch.y0, batch.x0, batch.target, batch.mask, p, batch.patch)
    out[0].backward()
    if grad_clip > 0:
        norm = torch.nn.utils.clip_grad_norm_(clip, grad_clip, foreach=True)
    else:
        norm = torch.nn.utils.get_total_norm([q.grad for q in clip if q.grad is not None], foreach=True)
    clipped = {id(q) for q in clip}
    others = [q.grad for group in optimizer.param_groups for q in group["params"]
              if q.grad is not None and id(q) not in clipped]
    finite = norm.isfinite()
    if others:
        finite = finite & torch.nn.utils.get_total_norm(others, foreach=True).isfinite()
    if optimizer.defaults.get("fused"):
        optimizer.found_inf = (~finite).float()  # shape [] like the fused kernel's step counters
        optimizer.step()
    elif bool(finite):
        optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    values = torch.stack([o.detach().float() for o in out])
    values = torch.where(finite, values, torch.zeros_like(values))
    return torch.cat([values, (~finite).float().reshape(1)])


@torch.no_grad()
def evaluate(model: nn.Module, sampler: PatchSampler, *, steps: QuantSteps | None = None, batch: int = 4,
             bf16: bool = False) -> dict[str, float]:
    """Whole-frame (frame mode) MSE of texture and depth level over all views and frames.

    With ``steps`` the parameters are hard-quantised (the exported integers × steps), else the
    model runs as it is.
    """
    device = sampler.data.frames.device
    params = dict(model.named_parameters())
    used = params if steps is None else quantized_parameters(params, steps, "hard")
    sse_rgb = torch.zeros((), dtype=torch.float64, device=device)
    sse_depth = torch.zeros((), dtype=torch.float64, device=device)
    for b in sampler.frames_batches(batch):
        with autocast(device, bf16):
            pred = functional_call(model, used, (b.views, b.frames), {"y0": None, "x0": None, "patch": None})
        err = pred.float() - b.target
        sse_rgb += err[:, :3].double().square().sum()
        sse_depth += err[:, 3].double().square().sum()
    pixels = sampler.data.num_pixels
    return {"mse_rgb": float(sse_rgb) / (3 * pixels), "mse_depth": float(sse_depth) / pixels}
