"""Quantise parameters in the forward pass: float, Quant-Noise, or hard rounding.

Paper eq. 4: ``θ̂ = δ·round(θ/δ)``. Rounding has no useful gradient, so training uses
Quant-Noise (Stock et al., "Training with Quantization Noise for Extreme Model Compression",
ICLR 2021), as HiNeRV does: at every step a random fraction ``p`` of the entries is replaced by
its quantised value and the rest keeps its float value. Unlike HiNeRV (which detaches the
quantised part), the quantised entries use a straight-through estimator:

    θ̂ = δ · (θ/δ + sg(round(θ/δ) − θ/δ))      (sg = stop-gradient)

so ∂θ̂/∂θ = 1 and ∂θ̂/∂δ = round(θ/δ) − θ/δ (the LSQ step gradient): the distortion also
trains the steps. ``p = 1`` (``hard``) is what evaluation and the exported file use; its values
are bit-identical to ``symbols · step`` computed by :mod:`mvhinerv.quant.export`.
"""

from __future__ import annotations

import torch

from mvhinerv.quant.rate import REGULARISED_KINDS, relaxed_bits
from mvhinerv.quant.steps import QuantSteps


def ste_round(x: torch.Tensor) -> torch.Tensor:
    """``round(x)`` in the forward pass, identity gradient."""
    return x + (torch.round(x) - x).detach()


def fake_quantize(theta: torch.Tensor, step: torch.Tensor) -> torch.Tensor:
    """``step · round(θ/step)`` with the straight-through gradient (θ and step float32)."""
    return ste_round(theta / step) * step


def quant_noise(theta: torch.Tensor, step: torch.Tensor, p: torch.Tensor | float) -> torch.Tensor:
    """Quant-Noise: each entry is quantised with probability ``p`` (fresh mask every call).

    ``p`` may be a 0-dim tensor (no recompilation when it changes under ``torch.compile``).
    """
    mask = torch.rand_like(theta) < p
    return torch.where(mask, fake_quantize(theta, step), theta)


def quantized_parameters(
    params: dict[str, torch.Tensor],
    steps: QuantSteps,
    mode: str,
    p: torch.Tensor | float = 1.0,
) -> dict[str, torch.Tensor]:
    """The parameter dict to run the model with (``torch.func.functional_call``).

    Args:
        params: the model's float parameters by name.
        steps: learned steps of the coded parameters (others pass through unchanged).
        mode: ``none`` (float), ``noise`` (Quant-Noise with rate ``p``) or ``hard``.
    """
    if mode == "none":
        return dict(params)
    out: dict[str, torch.Tensor] = {}
    for name, theta in params.items():
        if name not in steps.coded:
            out[name] = theta
            continue
        step = steps.step(name)
        out[name] = fake_quantize(theta, step) if mode == "hard" else quant_noise(theta, step, p)
    return out


def rate_bits(params: dict[str, torch.Tensor], steps: QuantSteps) -> torch.Tensor:
    """R of paper eq. 6: relaxed Gaussian bits of every grid and weight tensor (0-dim, float32).

    Biases are coded too but, as in the paper, not regularised (they are < 0.1 % of the bits).
    """
    total = torch.zeros((), device=next(iter(params.values())).device)
    for name, coded in steps.coded.items():
        if coded.kind in REGULARISED_KINDS:
            total = total + relaxed_bits(params[name], steps.step(name), coded.view_axis)
    return total
