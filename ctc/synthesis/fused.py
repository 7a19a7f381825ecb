"""Kernel fusion for the synthesizer's element-wise hot spots on CUDA (``torch.compile``).

The splat rasterisation, the splat kernel weights and the shading blend are chains of 20–40
element-wise operations over tens of millions of elements: run eagerly, each op makes a round
trip through GPU memory, so they are memory-bound many times over. On CUDA these functions are
compiled once (``dynamic=True``: the number of splats changes from frame to frame) so that each
chain becomes a few fused kernels; results are the same up to float rounding. On CPU, and
whenever compilation is unavailable or fails, the same Python functions run eagerly — one code
path, two speeds. Set ``MVCODEC_SYNTH_COMPILE=0`` to disable compilation.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

import torch

F = TypeVar("F", bound=Callable[..., Any])

_disabled = os.environ.get("MVCODEC_SYNTH_COMPILE", "1") == "0"


def _first_device(args: tuple[Any, ...]) -> torch.device | None:
    for a in args:
        if isinstance(a, torch.Tensor):
            return a.device
    return None


def fused(fn: F) -> F:
    """Decorator: call a ``torch.compile``'d ``fn`` when its first tensor argument is on CUDA."""
    compiled: list[Callable[..., Any]] = []

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        global _disabled
        dev = _first_device(args)
        if _disabled or dev is None or dev.type != "cuda":
            return fn(*args, **kwargs)
        if not compiled:
            compiled.append(torch.compile(fn, dynamic=True))
        try:
            return compiled[0](*args, **kwargs)
        except Exception as err:  # noqa: BLE001 (any compiler failure: fall back, keep working)
            _disabled = True
            warnings.warn(f"torch.compile failed for {fn.__name__} ({type(err).__name__}: {err}); "
                          "running the synthesizer eagerly", RuntimeWarning, stacklevel=2)
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
