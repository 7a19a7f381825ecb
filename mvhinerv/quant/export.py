"""Trained model ⇄ :class:`bitstream.tensors.QuantizedTensor` (integer symbols + float16 side info).

Export rounds every coded parameter with its float16 step: ``s = round(θ/δ)`` (int32). The
float32 product ``s·δ`` is exact (|s| < 2^13, δ has an 11-bit mantissa), so the decoder's
parameters equal the ``hard`` quantiser's values in training bit for bit.

Stacked per-view grids (``view_axis`` set) are split into one tensor per view, named
``"<param>.view<k>"`` with ``view=k`` and the view axis removed, so each view's grids live in that
view's section of the file and a decoder may skip the views it does not need. Shared parameters
keep their name and ``view=None``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import torch
from torch import nn

from bitstream.errors import BitstreamError
from bitstream.tensors import QuantizedTensor
from mvhinerv.quant.rate import fit_gaussian, histogram_bits, symbol_histogram
from mvhinerv.quant.steps import CodedParamLike, QuantSteps


def view_tensor_name(name: str, view: int) -> str:
    """File name of view ``view``'s slice of the stacked grid ``name``."""
    return f"{name}.view{view}"


def _side(value: np.float16, ndim: int) -> np.ndarray:
    return np.full((1,) * ndim, value, dtype=np.float16)


def _make_tensor(name: str, view: int | None, symbols: np.ndarray, step: np.ndarray) -> QuantizedTensor:
    mean, std = fit_gaussian(symbols)
    return QuantizedTensor(name, view, symbols, step, _side(mean, symbols.ndim), _side(std, symbols.ndim))


@torch.no_grad()
def export_quantized(model: nn.Module, steps: QuantSteps) -> list[QuantizedTensor]:
    """All coded parameters of ``model`` as quantised tensors, in ``steps.coded`` order.

    Returns:
        shared tensors with ``view=None``; per-view grid slices with ``view=k``; ``symbols``
        int32, ``step`` float16 with the step's broadcast shape, ``mean``/``std`` float16 of
        shape ``(1,)·ndim``, fitted by :func:`mvhinerv.quant.rate.fit_gaussian`.
    """
    params = dict(model.named_parameters())
    out: list[QuantizedTensor] = []
    for name, coded in steps.coded.items():
        step16 = steps.step_fp16(name)
        theta = params[name].detach().float()
        symbols = torch.round(theta / step16.float().to(theta.device)).to(torch.int32).cpu().numpy()
        step_np = step16.cpu().numpy()
        if coded.view_axis is None:
            out.append(_make_tensor(name, None, symbols, step_np))
            continue
        axis = coded.view_axis % symbols.ndim
        for v in range(symbols.shape[axis]):
            view_step = np.take(step_np, v if step_np.shape[axis] > 1 else 0, axis=axis)
            out.append(_make_tensor(view_tensor_name(name, v), v, np.take(symbols, v, axis=axis), view_step))
    return out


def tensor_bits(qt: QuantizedTensor) -> float:
    """Exact code length of one tensor under the coder's Gaussian model (float64), in bits."""
    if qt.mean.size != 1 or qt.std.size != 1:
        raise ValueError(f"{qt.name}: one Gaussian per tensor expected")
    values, counts = symbol_histogram(qt.symbols)
    return histogram_bits(values, counts, float(qt.mean.ravel()[0]), float(qt.std.ravel()[0]))


def estimated_bits(tensors: Iterable[QuantizedTensor]) -> float:
    """Σ :func:`tensor_bits` (symbols only: side info and headers are the bitstream's)."""
    return float(sum(tensor_bits(t) for t in tensors))


@torch.no_grad()
def load_quantized(
    model: nn.Module,
    tensors: Iterable[QuantizedTensor],
    coded: Sequence[CodedParamLike] | None = None,
    views: Iterable[int] | None = None,
) -> None:
    """Set the model's coded parameters to ``symbols · step`` (the decoder's side of export).

    Args:
        model: the network built from the file's architecture config.
        tensors: what the bitstream reader returned.
        coded: the model's ``coded_parameters()`` (default: asked from the model).
        views: views whose grids must be present (default: all). Grids of other views are set
            to zero (a decoder that renders a subset of the views skips their sections).

    Raises:
        BitstreamError: a tensor is missing or its shape does not fit the model.
    """
    coded = list(model.coded_parameters() if coded is None else coded)
    by_name = {t.name: t for t in tensors}
    params = dict(model.named_parameters())
    needed = None if views is None else set(views)
    for c in coded:
        param = params[c.name]
        if c.view_axis is None:
            param.copy_(_dequantized(by_name, c.name, tuple(param.shape), param))
            continue
        axis = c.view_axis % param.ndim
        slice_shape = tuple(n for i, n in enumerate(param.shape) if i != axis)
        for v in range(param.shape[axis]):
            name = view_tensor_name(c.name, v)
            if name not in by_name and needed is not None and v not in needed:
                param.select(axis, v).zero_()
                continue
            param.select(axis, v).copy_(_dequantized(by_name, name, slice_shape, param))


def _dequantized(by_name: dict[str, QuantizedTensor], name: str, shape: tuple[int, ...],
                 like: torch.Tensor) -> torch.Tensor:
    if name not in by_name:
        raise BitstreamError(f"tensor {name!r} missing from the bitstream")
    qt = by_name[name]
    if qt.shape != shape:
        raise BitstreamError(f"tensor {name!r} has shape {qt.shape}, the model needs {shape}")
    return torch.from_numpy(qt.dequantize()).to(device=like.device, dtype=like.dtype)
