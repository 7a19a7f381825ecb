"""The codec ↔ bitstream interface: quantised tensors as plain numpy.

The trained model leaves ``mvhinerv`` as a list of :class:`QuantizedTensor`: integer symbols plus
the side information the entropy coder needs. Everything that sets a probability (the Gaussian
``mean`` and ``std``, in *symbol* units) is a float16 value that is written to the file as is, so
the decoder computes nothing in floating point before it calls the range coder (determinism rule,
``../shared/ARCHITECTURE.md``). The parameter the network uses is ``symbols * step`` (float32).
"""

from __future__ import annotations

import dataclasses

import numpy as np


def _broadcastable(side: np.ndarray, shape: tuple[int, ...]) -> bool:
    return side.ndim == len(shape) and all(s in (1, n) for s, n in zip(side.shape, shape))


@dataclasses.dataclass(frozen=True, eq=False)
class QuantizedTensor:
    """One quantised parameter tensor and its entropy-coding side information.

    Attributes:
        name: the parameter's name in the model (``"stages.0.blocks.1.pw1.weight"``,
            ``"grids.base.0"``); unique within a file.
        view: ``None`` for parameters shared by all views (stem, ConvNeXt stages, head); else the
            index of the source view whose grid this is (written in that view's own section, so a
            decoder can skip the grids of other views).
        symbols: int32 array of any shape: the quantised values θ̂/δ.
        step: float16 array with ``symbols.ndim`` dims, each 1 or equal to the symbols' size
            (e.g. ``(out, 1)`` for one step per row of a linear weight): the quantisation step δ.
        mean: float16, broadcastable like ``step``: Gaussian mean in symbol units.
        std: float16 > 0, broadcastable like ``step``: Gaussian standard deviation in symbol units.
    """

    name: str
    view: int | None
    symbols: np.ndarray
    step: np.ndarray
    mean: np.ndarray
    std: np.ndarray

    def __post_init__(self) -> None:
        if self.symbols.dtype != np.int32:
            raise TypeError(f"{self.name}: symbols must be int32, got {self.symbols.dtype}")
        for field in ("step", "mean", "std"):
            side = getattr(self, field)
            if side.dtype != np.float16:
                raise TypeError(f"{self.name}: {field} must be float16, got {side.dtype}")
            if not _broadcastable(side, self.symbols.shape):
                raise ValueError(
                    f"{self.name}: {field} shape {side.shape} does not broadcast to {self.symbols.shape}"
                )
        if not np.all(np.isfinite(self.std)) or np.any(self.std <= 0):
            raise ValueError(f"{self.name}: std must be finite and > 0")

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.symbols.shape)

    @property
    def numel(self) -> int:
        return int(self.symbols.size)

    def dequantize(self) -> np.ndarray:
        """The parameter values ``symbols * step`` as float32 (what the network uses)."""
        return self.symbols.astype(np.float32) * self.step.astype(np.float32)

    def same_as(self, other: QuantizedTensor) -> bool:
        """Bit-exact equality of everything the file carries for this tensor."""
        return (
            self.name == other.name
            and self.view == other.view
            and all(
                np.array_equal(getattr(self, f), getattr(other, f))
                and getattr(self, f).shape == getattr(other, f).shape
                for f in ("symbols", "step", "mean", "std")
            )
        )
