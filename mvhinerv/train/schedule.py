"""Training schedules as data: a preset is an ordered list of phases.

MV-HiNeRV (paper §II-C) trains in two stages: stage 1 (300 epochs) fits the network without
regularisation; stage 2 (60 epochs) re-initialises the quantisation steps, switches on the
Gaussian rate term and Quant-Noise (linear noise-rate schedule), with a smaller learning rate for
the network and a larger one for the steps. Learning rates and warm-up of stage 1 are HiNeRV's
(``hmkx/HiNeRV:cfgs/train/hinerv_1920x1080.txt``: Adam 2e-3, 30 warm-up epochs from 2e-5, cosine
to 2e-5). Stage 2's values (2e-4 for the network, as HiNeRV's QAT phase; 1e-2 for the log-steps;
noise rate 0.5 → 1.0 as NVRC's stage 2) are ours: the paper does not give them.

The log-steps must be able to *reach* their rate–distortion equilibrium within stage 2. Adam
moves a parameter by at most about its learning rate per step, so a short stage 2 (few frames,
several frames per step, the ``fast`` and ``ci`` schedules) cannot carry a step from its 7-bit
initialisation to where λ wants it: the rate then depends on the initialisation more than on λ
(measured, docs/training.md "Rate"). ``Phase.step_travel`` states the distance the steps must be
able to cover, and raises the steps' peak learning rate where the phase is too short for it.

The loop (:mod:`mvhinerv.train.loop`) is the only code that interprets a :class:`Phase`; a
schedule prints itself as a table when training starts (:func:`schedule_table`).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

from mvhinerv.errors import ConfigError

QuantMode = Literal["none", "noise", "hard"]


@dataclasses.dataclass(frozen=True)
class Phase:
    """One training phase.

    Attributes:
        name: shown in the progress bar and the metrics (``stage1``, ``stage2``).
        epochs: one epoch visits every patch of every frame of every view once.
        lr: peak learning rate of the network parameters (grids and layers).
        lr_step: peak learning rate of the log quantisation steps (0 in float phases).
        lr_min_ratio: the cosine decay ends at ``lr_min_ratio · lr``.
        warmup_epochs: linear warm-up from ``warmup_start_ratio · lr`` to ``lr``.
        warmup_start_ratio: see ``warmup_epochs``.
        quant: ``none`` (float), ``noise`` (Quant-Noise: a fraction p of the entries is
            quantised with a straight-through estimator, the rest stays float) or ``hard``
            (every entry quantised, straight-through).
        noise_start, noise_end: Quant-Noise rate p, linear in the step index over the phase.
        rate: add the Gaussian rate term ``R / num_pixels`` to ``λ·D``.
        step_travel: distance in ``ln δ`` that each log-step must be able to move over the phase
            (0: no floor). Adam moves a parameter by at most ≈ its learning rate per step, so
            the steps' peak learning rate is raised to ``step_travel / Σ_t lr_factor(t)`` when
            ``lr_step`` is below that (:meth:`step_lr`). 3.0 is ≈ 4.3 bits per parameter: room to
            go from the 7-bit initialisation (≈ 6 bits) to the 2–3 bits of low rate points.
    """

    name: str
    epochs: int
    lr: float
    lr_step: float = 0.0
    lr_min_ratio: float = 0.01
    warmup_epochs: float = 0.0
    warmup_start_ratio: float = 0.01
    quant: QuantMode = "none"
    noise_start: float = 1.0
    noise_end: float = 1.0
    rate: bool = False
    step_travel: float = 0.0

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.lr <= 0 or self.lr_step < 0:
            raise ConfigError(f"phase {self.name}", "epochs must be >= 1 and learning rates > 0")
        if self.quant not in ("none", "noise", "hard"):
            raise ConfigError(f"phase {self.name}", f"unknown quantiser mode {self.quant!r}")
        if not (0 <= self.noise_start <= 1 and 0 <= self.noise_end <= 1):
            raise ConfigError(f"phase {self.name}", "noise rates must be in [0, 1]")
        if not (math.isfinite(self.step_travel) and self.step_travel >= 0):
            raise ConfigError(f"phase {self.name}", f"step_travel must be >= 0, got {self.step_travel}")
        if self.rate and self.quant == "none":
            raise ConfigError(f"phase {self.name}", "the rate term needs quantisation steps (quant != none)")

    def noise_rate(self, step: int, total_steps: int) -> float:
        """Quant-Noise rate p at ``step`` of ``total_steps`` (linear; 1 in ``hard`` mode)."""
        if self.quant == "hard":
            return 1.0
        t = step / max(total_steps - 1, 1)
        return self.noise_start + (self.noise_end - self.noise_start) * t

    def lr_factor(self, step: int, total_steps: int, steps_per_epoch: int) -> float:
        """Multiplier of the peak learning rates at ``step``: linear warm-up, then cosine.

        The same factor scales ``lr`` and ``lr_step`` (timm's per-step cosine scheduler, as
        HiNeRV uses it).
        """
        warm = int(round(self.warmup_epochs * steps_per_epoch))
        if step < warm:
            return self.warmup_start_ratio + (1 - self.warmup_start_ratio) * step / warm
        span = max(total_steps - warm, 1)
        t = min((step - warm) / span, 1.0)
        return self.lr_min_ratio + (1 - self.lr_min_ratio) * 0.5 * (1 + math.cos(math.pi * t))

    def factor_sum(self, total_steps: int, steps_per_epoch: int) -> float:
        """``Σ_t lr_factor(t)`` over the phase: how far, in units of the peak lr, Adam can move."""
        return math.fsum(self.lr_factor(t, total_steps, steps_per_epoch) for t in range(total_steps))

    def step_lr(self, total_steps: int, steps_per_epoch: int, lr_scale: float = 1.0) -> float:
        """Peak learning rate of the log-steps: ``lr_step · lr_scale``, raised so that the steps
        can travel ``step_travel`` over the phase's ``total_steps`` optimiser steps."""
        lr = self.lr_step * lr_scale
        if self.quant == "none" or self.step_travel == 0:
            return lr
        return max(lr, self.step_travel / max(self.factor_sum(total_steps, steps_per_epoch), 1e-12))


@dataclasses.dataclass(frozen=True)
class Schedule:
    """A named, ordered list of phases."""

    name: str
    description: str
    phases: tuple[Phase, ...]

    @property
    def epochs(self) -> int:
        return sum(p.epochs for p in self.phases)


#: Default ``Phase.step_travel`` of stage 2 (ln δ). On the ci content, stage-2 results no longer
#: depend on the step initialisation from a travel of ≈ 3 on (docs/training.md "Rate").
STEP_TRAVEL = 3.0


def _two_stage(name: str, description: str, epochs: tuple[int, int], warmup: tuple[float, float],
               lr: float = 2e-3, lr2: float = 2e-4, lr_step: float = 1e-2,
               step_travel: float = STEP_TRAVEL) -> Schedule:
    """The paper's shape: float stage 1, then rate + Quant-Noise stage 2."""
    return Schedule(
        name,
        description,
        (
            Phase("stage1", epochs[0], lr=lr, warmup_epochs=warmup[0]),
            Phase("stage2", epochs[1], lr=lr2, lr_step=lr_step, warmup_epochs=warmup[1],
                  quant="noise", noise_start=0.5, noise_end=1.0, rate=True, step_travel=step_travel),
        ),
    )


SCHEDULES: dict[str, Schedule] = {
    s.name: s
    for s in (
        _two_stage("paper", "MV-HiNeRV paper: 300 + 60 epochs, HiNeRV learning rates", (300, 60), (30, 6)),
        _two_stage("fast", "same shape, 10x fewer epochs (quick rate points)", (30, 6), (3, 0.6)),
        # Tiny content converges in few steps only with a larger learning rate (measured: 100
        # epochs of 3 views x 5 frames of 64x36 reach ~30 dB RGB in ~15 s on 2 CPU threads).
        _two_stage("ci", "seconds on a CPU for tests on tiny content (larger learning rates)", (100, 20), (2, 1),
                   lr=1e-2, lr2=1e-3, lr_step=5e-2),
        # The round trip of every tiny catalogue sequence (tests/test_codec_tiny_sequences.py):
        # ci's learning rates and a tenth of its epochs, so that five real encodes fit in CI; it
        # checks that content of every kind trains and decodes, not the quality ci reaches.
        _two_stage("smoke", "ci's learning rates, a tenth of its epochs (round-trip tests)", (10, 2), (1, 0.5),
                   lr=1e-2, lr2=1e-3, lr_step=5e-2, step_travel=0.0),
    )
}


def get_schedule(name: str) -> Schedule:
    """The registered schedule ``name``; ``ConfigError`` (one line) if unknown."""
    try:
        return SCHEDULES[name]
    except KeyError:
        raise ConfigError("schedule", f"unknown schedule {name!r} (known: {', '.join(sorted(SCHEDULES))})") from None


def schedule_table(schedule: Schedule) -> str:
    """A Markdown table of the phases (printed when training starts, pasted in the docs)."""
    head = ("phase", "epochs", "lr", "lr steps", "steps' travel", "warm-up ep.", "lr min", "quantiser", "noise p",
            "rate")
    rows = [head, tuple("---" for _ in head)]
    for p in schedule.phases:
        rows.append((
            p.name, str(p.epochs), f"{p.lr:g}", f"{p.lr_step:g}" if p.lr_step else "-",
            f"≥ {p.step_travel:g}" if p.step_travel and p.quant != "none" else "-",
            f"{p.warmup_epochs:g}", f"{p.lr * p.lr_min_ratio:g}", p.quant,
            f"{p.noise_start:g} → {p.noise_end:g}" if p.quant == "noise" else "-",
            "on" if p.rate else "off",
        ))
    title = f"schedule `{schedule.name}` ({schedule.epochs} epochs): {schedule.description}"
    return title + "\n\n" + "\n".join("| " + " | ".join(r) + " |" for r in rows)


def all_schedule_tables() -> str:
    """Every registered schedule's table (pasted into ``docs/training.md``; a test checks it)."""
    return "\n\n".join(schedule_table(s) for s in SCHEDULES.values())
