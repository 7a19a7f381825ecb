"""Encoder settings: everything that shapes training but never goes into the bitstream.

The architecture (:class:`mvhinerv.arch.MVHiNeRVArch`) is written into the file so the decoder
can rebuild the network; :class:`EncodeConfig` is the other half (Cool-chic's split between
``CoolChicEncoderParameter`` and the encoder options): the rate-distortion trade-off λ, the
training schedule, the seed, the loss weights and the speed switches. Two encodes that differ
only in an ``EncodeConfig`` field produce files that decode with the same decoder.

The resolved config is written as YAML next to the training checkpoints
(``work_dir/config.yaml``) so that a run can be reproduced and resumed.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal

from mvhinerv.errors import ConfigError

DepthLoss = Literal["l1", "mse"]


#: Implementations of the blocks' depthwise 3×3 conv + LayerNorm (:class:`mvhinerv.model.MVHiNeRV`).
DWCONV_IMPLS = ("conv", "shift", "fused")

#: ``torch.compile`` modes accepted by :attr:`EncodeConfig.compile_mode`.
COMPILE_MODES = (None, "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


@dataclasses.dataclass(frozen=True)
class EncodeConfig:
    """Training settings of one rate point (a rate point is a (model preset, λ) pair).

    The loss minimised in the rate-regularised phases is ``R / num_pixels + lam * D``
    (paper eq. 5 with the rate in bits per pixel of all views; ``docs/training.md``).
    """

    lam: float = 1.0
    """λ: weight of the distortion against the rate in bits per pixel (> 0). Larger λ = higher
    quality and more bits. Only the rate-regularised phases use it."""

    schedule: str = "paper"
    """Name of the training schedule in :data:`mvhinerv.train.schedule.SCHEDULES`
    (``paper``: 300 + 60 epochs as in the paper; ``fast``; ``ci``)."""

    seed: int = 0
    """Seed of ``random``, ``numpy`` and ``torch`` (model init, patch order, Quant-Noise)."""

    patch: tuple[int, int] | None = (120, 120)
    """Training patch size (height, width) in output pixels, or ``None`` (``frame`` in YAML and
    ``--set``) for whole frames (frame mode). HiNeRV trains on 120×120 patches; larger patches cost
    fewer overlap MACs."""

    batch: int | None = None
    """Patches (or frames, in frame mode) per optimiser step. ``None``: one frame's worth of
    patches, ``ceil(H/ph)·ceil(W/pw)``, as HiNeRV's 144 patches of 120² per 1080p frame
    (one epoch then takes ``views × frames`` steps and HiNeRV's learning rates carry over)."""

    lr_scale: float = 1.0
    """Multiplies the learning rates of every phase of the schedule (> 0); e.g. HiNeRV's
    auto-lr-scaling, ``batch·ph·pw / (H·W)``, when a step holds more than one frame's pixels."""

    texture_l1: float = 0.7
    """Weight of L1 in the texture loss ``texture_l1·L1 + (1 − texture_l1)·(1 − MS-SSIM)``
    (HiNeRV: 0.7)."""

    ssim_window: int = 5
    """MS-SSIM Gaussian window size in pixels (HiNeRV uses 5; σ = 1.5)."""

    depth_loss: DepthLoss = "l1"
    """Distortion on the normalised depth level: ``"l1"`` or ``"mse"`` (the paper: MSE)."""

    depth_weight: float = 1.0
    """Weight of the depth term against the texture term in D (≥ 0)."""

    grad_clip: float = 1.0
    """Gradient-norm clipping threshold (HiNeRV: 1.0); ``0`` disables clipping."""

    init_bits: int = 7
    """Step initialisation when the first quantised phase starts: every step is set to
    ``2·max|θ| / (2^init_bits − 1)`` over the parameters that share it (the paper's
    "quantisation width 7", read as HiNeRV's 7-bit symmetric quantiser)."""

    bf16: bool = True
    """bf16 autocast of the network on CUDA (ignored on CPU, which trains in float32)."""

    bf16_stages: bool = False
    """With ``bf16``: keep every stage's maps (the upsampler's output and the blocks' residual
    stream) in bf16 instead of the float32 that LayerNorm returns under autocast. Without it only
    the maps whose first block has no residual are bf16 (stages 1–3 of S; ``docs/model.md``
    § Speed #19); this adds stage 0's residual stream (no faster: 140.8 against 140.3 Mpx·it/s)."""

    compile: bool = True
    """``torch.compile`` the training step on CUDA (ignored on CPU)."""

    compile_mode: str | None = "reduce-overhead"
    """``torch.compile`` mode of the training step: ``reduce-overhead`` (CUDA graphs: the step's
    kernels replayed without the host's launch work; S at 1080p +2 %, more on a busy host,
    docs/performance.md § Training step), None or ``default`` (torch's default, no graphs),
    ``max-autotune`` or ``max-autotune-no-cudagraphs``; in every mode Inductor's stride padding
    is off (:func:`mvhinerv.train.step.compile_step`)."""

    dwconv: str = "auto"
    """Implementation of the blocks' depthwise 3×3 conv + LayerNorm: ``auto`` (the fused Triton
    kernels on a GPU, else the fastest PyTorch form), ``fused``, ``shift`` or ``conv``
    (``mvhinerv.model.network.default_dwconv``; same function, docs/model.md § Speed)."""

    log_every: int = 25
    """Steps between progress updates; the only host syncs in the loop happen then."""

    checkpoint_every_s: float = 600.0
    """Seconds between checkpoints (a checkpoint is also written at the end of every phase and
    on Ctrl-C)."""

    eval_batch: int = 4
    """Frames per forward pass when evaluating whole frames at the end of a phase."""

    def __post_init__(self) -> None:
        _check(math.isfinite(self.lam) and self.lam > 0, "lambda", f"must be > 0, got {self.lam}")
        from mvhinerv.train.schedule import SCHEDULES  # late: schedule imports nothing from here

        _check(
            self.schedule in SCHEDULES,
            "schedule",
            f"unknown schedule {self.schedule!r} (known: {', '.join(sorted(SCHEDULES))})",
        )
        if self.patch is not None:
            _check(
                len(self.patch) == 2 and all(isinstance(n, int) and n > 0 for n in self.patch),
                "patch",
                f"must be two positive ints (height, width) or None, got {self.patch!r}",
            )
        _check(self.batch is None or self.batch >= 1, "batch", f"must be >= 1, got {self.batch}")
        _check(math.isfinite(self.lr_scale) and self.lr_scale > 0, "lr_scale", f"must be > 0, got {self.lr_scale}")
        _check(0.0 <= self.texture_l1 <= 1.0, "texture_l1", f"must be in [0, 1], got {self.texture_l1}")
        _check(self.ssim_window >= 1 and self.ssim_window % 2 == 1, "ssim_window",
               f"must be a positive odd int, got {self.ssim_window}")
        _check(self.depth_loss in ("l1", "mse"), "depth_loss", f"must be l1 or mse, got {self.depth_loss!r}")
        _check(self.depth_weight >= 0, "depth_weight", f"must be >= 0, got {self.depth_weight}")
        _check(self.grad_clip >= 0, "grad_clip", f"must be >= 0, got {self.grad_clip}")
        _check(2 <= self.init_bits <= 16, "init_bits", f"must be in [2, 16], got {self.init_bits}")
        _check(self.dwconv in ("auto", *DWCONV_IMPLS), "dwconv",
               f"must be auto or one of {', '.join(DWCONV_IMPLS)}, got {self.dwconv!r}")
        _check(self.compile_mode in COMPILE_MODES, "compile_mode",
               f"must be one of {', '.join(map(str, COMPILE_MODES))}, got {self.compile_mode!r}")
        _check(self.log_every >= 1, "log_every", f"must be >= 1, got {self.log_every}")
        _check(self.checkpoint_every_s > 0, "checkpoint_every_s", f"must be > 0, got {self.checkpoint_every_s}")
        _check(self.eval_batch >= 1, "eval_batch", f"must be >= 1, got {self.eval_batch}")

    def to_dict(self) -> dict[str, Any]:
        """Plain YAML/JSON-safe dict (tuples become lists)."""
        out = dataclasses.asdict(self)
        if self.patch is not None:
            out["patch"] = list(self.patch)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "config") -> EncodeConfig:
        """Build from a dict (e.g. a ``seq.yaml`` section); unknown keys are a ``ConfigError``."""
        if not isinstance(data, dict):
            raise ConfigError(where, f"expected a mapping, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(where, f"unknown encoder setting(s): {', '.join(unknown)}")
        values = dict(data)
        if values.get("patch") == "frame":
            values["patch"] = None
        elif isinstance(values.get("patch"), (list, tuple)):
            values["patch"] = tuple(values["patch"])
        try:
            return cls(**values)
        except TypeError as err:  # wrong value types surface here as one line
            raise ConfigError(where, str(err)) from None


def _check(ok: bool, where: str, problem: str) -> None:
    if not ok:
        raise ConfigError(where, problem)


#: Settings with their own ``mvcodec encode`` option, so not accepted by ``--set``.
OWN_OPTIONS = {"lam": "--lambda", "schedule": "--schedule", "seed": "--seed"}


def parse_overrides(items: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` strings (``mvcodec encode --set``) → a settings dict; values are YAML.

    Only the syntax is checked here; names and values are checked by :class:`EncodeConfig`.

    Raises:
        ConfigError: an item without ``=``, malformed YAML, a repeated key, or a key that has its
            own command-line option.
    """
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError("--set", f"expected KEY=VALUE, got {item!r}")
        if key in OWN_OPTIONS:
            raise ConfigError("--set", f"use {OWN_OPTIONS[key]} for {key}")
        if key in out:
            raise ConfigError("--set", f"{key} given twice")
        try:
            out[key] = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise ConfigError("--set", f"{key}: not a YAML value ({str(err).splitlines()[0]})") from None
    return out
