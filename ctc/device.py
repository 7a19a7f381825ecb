"""The one place that turns a ``--device`` value into a ``torch.device``.

Content, synthesis, metrics, training and decoding all take ``auto``, ``cpu``, ``cuda`` or
``cuda:N``; they must agree on what ``auto`` means and fail the same way when CUDA is asked for
on a machine without it (one line, exit 2, via :class:`ctc.errors.InputError`).
"""

from __future__ import annotations

import torch

from ctc.errors import InputError


def resolve_device(device: str | torch.device | None, *, default: str = "auto") -> torch.device:
    """``auto`` → CUDA when torch sees one, else CPU; ``None`` → ``default``; others as given.

    Raises:
        InputError: an unknown device name, or CUDA requested where torch sees no CUDA device.
    """
    if device is None:
        device = default
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise InputError("--device", f"unknown device {device!r} (auto, cpu, cuda or cuda:N)") from None
    if dev.type not in ("cpu", "cuda"):
        raise InputError("--device", f"unknown device {device!r} (auto, cpu, cuda or cuda:N)")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError("--device", "CUDA was requested but torch sees no CUDA device")
    return dev
