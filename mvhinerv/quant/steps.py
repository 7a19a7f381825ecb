"""Learned quantisation steps δ, parametrised by their logarithm (paper §II-B, eq. 4).

Following the paper (and TensorFlow Compression / NVRC), ``log δ`` is the trainable value, so a
step can never become negative and Adam's updates are relative. Steps are *shared*:

- linear / conv weights (``kind="weight"``): one step per slice along ``channel_axis`` (a row or a
  column of the weight matrix), shape ``(…, C, …)`` with ones elsewhere;
- feature grids (``kind="grid"``): one step per channel, and per view for stacked per-view grids
  (``view_axis`` set), so each view's grid is a self-contained tensor in the file;
- biases (``kind="bias"``): one step per tensor (they are few and not rate-regularised, but they
  are coded as integers like everything else).

Every step is stored in the bitstream as float16, so the forward pass uses the float16-rounded
value (straight-through for the gradient): the network trains with the very step the decoder
will read. Shapes: a parameter ``θ`` of shape ``S`` has a step tensor of ``len(S)`` dims that
broadcasts against ``S``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Protocol

import torch
from torch import nn

# log-step range: 2^-20 (fp16 subnormal, exact) to 2^4. Narrow enough that the float16 cast of
# the step is never zero or infinite.
LOG_STEP_MIN = -20 * math.log(2)
LOG_STEP_MAX = 4 * math.log(2)

# Per-channel steps only when each channel holds ≥ this many entries: the float16 step then costs
# ≤ 16/256 = 0.0625 bits per parameter of side information.
MIN_STEP_GROUP = 256

# Biases are not rate-regularised (paper: only grids and weights are), so they start finer.
BIAS_INIT_BITS = 10


class CodedParamLike(Protocol):
    """What the quantiser needs to know about a parameter (``mvhinerv.model.CodedParam``)."""

    name: str
    kind: str  # "weight" | "grid" | "bias"
    view_axis: int | None
    channel_axis: int


def step_shape(shape: Sequence[int], coded: CodedParamLike) -> tuple[int, ...]:
    """Shape of the step tensor of a parameter of ``shape`` (broadcastable to it).

    Per view (``view_axis``) always; per channel (``channel_axis``) for weights and grids whose
    channels each hold ≥ :data:`MIN_STEP_GROUP` entries (counted within one view); else 1.
    """
    keep: set[int] = set()
    view_axis = None if coded.view_axis is None else coded.view_axis % len(shape)
    if view_axis is not None:
        keep.add(view_axis)
    if coded.kind in ("weight", "grid"):
        channel_axis = coded.channel_axis % len(shape)
        group = math.prod(n for i, n in enumerate(shape) if i not in (channel_axis, view_axis))
        if group >= MIN_STEP_GROUP:
            keep.add(channel_axis)
    return tuple(n if i in keep else 1 for i, n in enumerate(shape))


def reduce_dims(shape: Sequence[int], target: Sequence[int]) -> tuple[int, ...]:
    """The axes of ``shape`` that are reduced (size 1) in the broadcastable ``target``."""
    return tuple(i for i, (n, t) in enumerate(zip(shape, target)) if t == 1 and n != 1)


def round_fp16_ste(x: torch.Tensor) -> torch.Tensor:
    """``x`` rounded to float16 (returned as float32), identity gradient."""
    return x + (x.detach().half().float() - x.detach())


def init_log_step(theta: torch.Tensor, shape: tuple[int, ...], bits: int) -> torch.Tensor:
    """Log of ``2·max|θ| / (2^bits − 1)`` over each group of entries that share a step.

    This is HiNeRV's symmetric per-channel ``bits``-bit quantiser
    (``hmkx/HiNeRV:compression/quant_utils.py``), used as the starting point of the learned steps:
    the paper initialises stage 2 "such that the quantisation width [is] 7" (``init_bits = 7``).
    """
    dims = reduce_dims(theta.shape, shape)
    amax = theta.detach().abs().float().amax(dim=dims, keepdim=True) if dims else theta.detach().abs().float()
    step = 2 * amax.reshape(shape) / (2**bits - 1)
    return step.clamp_min(math.exp(LOG_STEP_MIN)).log().clamp(LOG_STEP_MIN, LOG_STEP_MAX)


class QuantSteps(nn.Module):
    """The log-steps of every coded parameter of a model (its own module: own optimiser group).

    ``log_steps[key(name)]`` has the shape :func:`step_shape`. ``initialised`` records whether
    the steps were fitted to trained weights (done once, when the first quantised phase starts).
    """

    def __init__(self, model: nn.Module, coded: Iterable[CodedParamLike]) -> None:
        super().__init__()
        params = dict(model.named_parameters())
        self.coded: dict[str, CodedParamLike] = {c.name: c for c in coded}
        self.log_steps = nn.ParameterDict()
        for name, c in self.coded.items():
            theta = params[name]
            shape = step_shape(theta.shape, c)
            self.log_steps[self.key(name)] = nn.Parameter(init_log_step(theta, shape, self.init_bits(c, 8)))
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))

    @staticmethod
    def key(name: str) -> str:
        """ParameterDict keys may not contain dots."""
        return name.replace(".", "__")

    @staticmethod
    def init_bits(coded: CodedParamLike, bits: int) -> int:
        return BIAS_INIT_BITS if coded.kind == "bias" else bits

    @torch.no_grad()
    def fit(self, model: nn.Module, bits: int) -> None:
        """Re-initialise every step from the current weights (``bits``-bit symmetric quantiser)."""
        params = dict(model.named_parameters())
        for name, c in self.coded.items():
            log_step = self.log_steps[self.key(name)]
            log_step.copy_(init_log_step(params[name], tuple(log_step.shape), self.init_bits(c, bits)))
        self.initialised.fill_(True)

    def step(self, name: str) -> torch.Tensor:
        """The float16-rounded step δ of parameter ``name`` as float32 (gradient to log δ)."""
        log_step = self.log_steps[self.key(name)].clamp(LOG_STEP_MIN, LOG_STEP_MAX)
        return round_fp16_ste(log_step.exp())

    def step_fp16(self, name: str) -> torch.Tensor:
        """The step exactly as it is written to the bitstream (float16, no gradient)."""
        with torch.no_grad():
            return self.step(name).half()
