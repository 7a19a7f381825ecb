"""Training checkpoints: save atomically, resume exactly where a run stopped.

A checkpoint (``work_dir/checkpoint.pt``) holds the model and step parameters, the optimiser
state of the phase in progress, the position ``(phase, step)`` (``step`` = optimiser steps
completed in that phase), the metrics and timings of finished phases, the RNG states, and the
encoder config + architecture it was made with. ``resume`` refuses a checkpoint whose
result-shaping settings differ from the current ones (a different λ or schedule would silently
give a different rate point). Speed switches (compile, bf16, logging, checkpoint interval, eval
batch) may change between runs.

Files are written with :func:`ctc.atomic.atomic_path`: a run killed while saving leaves the
previous checkpoint intact.
"""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from ctc.atomic import atomic_path
from mvhinerv.errors import ConfigError

CHECKPOINT_NAME = "checkpoint.pt"
CONFIG_NAME = "config.yaml"

# EncodeConfig fields that may differ between a checkpoint and the resuming run.
SPEED_FIELDS = frozenset({"bf16", "bf16_stages", "compile", "compile_mode", "dwconv", "log_every", "checkpoint_every_s",
                          "eval_batch"})


@dataclasses.dataclass
class TrainState:
    """Where training stands (mutable; the loop advances it)."""

    phase: int = 0
    step: int = 0
    metrics: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)
    timings: dict[str, float] = dataclasses.field(default_factory=dict)


def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"python": random.getstate(), "numpy": np.random.get_state(),
                             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(work_dir: Path, *, state: TrainState, model: torch.nn.Module, steps: torch.nn.Module,
                    optimizer: torch.optim.Optimizer | None, config: dict[str, Any], arch: dict[str, Any]) -> Path:
    """Write ``work_dir/checkpoint.pt`` atomically; returns its path."""
    path = Path(work_dir) / CHECKPOINT_NAME
    payload = {
        "state": dataclasses.asdict(state),
        "model": model.state_dict(),
        "steps": steps.state_dict(),
        "optimizer": None if optimizer is None else optimizer.state_dict(),
        "rng": rng_state(),
        "config": config,
        "arch": arch,
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def load_checkpoint(work_dir: Path, config: dict[str, Any], arch: dict[str, Any]) -> dict[str, Any] | None:
    """The checkpoint in ``work_dir`` (CPU tensors), or ``None`` if there is none.

    Raises:
        ConfigError: it was made with a different architecture or result-shaping settings.
    """
    path = Path(work_dir) / CHECKPOINT_NAME
    if not path.is_file():
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # a damaged file is a user-visible problem, one line
        raise ConfigError(path, f"cannot read checkpoint ({type(err).__name__})") from None
    changed = sorted(k for k in set(config) | set(payload["config"])
                     if k not in SPEED_FIELDS and config.get(k) != payload["config"].get(k))
    if changed:
        raise ConfigError(path, f"checkpoint was made with different settings ({', '.join(changed)}); "
                                "use another work dir or drop --resume")
    if payload["arch"] != arch:
        raise ConfigError(path, "checkpoint was made for a different architecture; use another work dir")
    return payload


def write_config_yaml(work_dir: Path, config: dict[str, Any], arch: dict[str, Any],
                      schedule: list[dict[str, Any]]) -> Path:
    """The resolved settings next to the checkpoint (``work_dir/config.yaml``)."""
    path = Path(work_dir) / CONFIG_NAME
    text = yaml.safe_dump({"encode": config, "arch": arch, "schedule": schedule}, sort_keys=False)
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return path
