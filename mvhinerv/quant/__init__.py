"""Compression-aware training pieces: learned steps, Quant-Noise, Gaussian rate, export.

Data flow (paper §II-B)::

    θ (float) ──► QuantSteps (log δ, fp16) ──► quantized_parameters(mode none|noise|hard) ──► model
          │                                 └─► relaxed_bits(θ/δ + U) ──► R (bits)
          └──────────────────────────────────► export_quantized ──► [QuantizedTensor] ──► bitstream
                                                                   └─► estimated_bits (exact)
"""

from mvhinerv.quant.export import estimated_bits, export_quantized, load_quantized, tensor_bits, view_tensor_name
from mvhinerv.quant.quantizer import fake_quantize, quant_noise, quantized_parameters, rate_bits, ste_round
from mvhinerv.quant.rate import REGULARISED_KINDS, fit_gaussian, gaussian_bits, gaussian_params, relaxed_bits
from mvhinerv.quant.steps import QuantSteps, step_shape

__all__ = [
    "REGULARISED_KINDS",
    "QuantSteps",
    "estimated_bits",
    "export_quantized",
    "fake_quantize",
    "fit_gaussian",
    "gaussian_bits",
    "gaussian_params",
    "load_quantized",
    "quant_noise",
    "quantized_parameters",
    "rate_bits",
    "relaxed_bits",
    "ste_round",
    "step_shape",
    "tensor_bits",
    "view_tensor_name",
]
