"""What the quantiser needs to know about every parameter: :class:`CodedParam`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: ``weight``: linear/conv weights (quantised, entropy-regularised); ``grid``: feature grids
#: (quantised, regularised); ``bias``: biases (quantised, not regularised). MV-HiNeRV §II-B
#: regularises "the feature grids and the weights of the linear and convolutional layers".
ParamKind = Literal["weight", "grid", "bias"]


@dataclass(frozen=True)
class CodedParam:
    """How one parameter of :class:`~mvhinerv.model.MVHiNeRV` is quantised and coded.

    Attributes:
        name: the ``named_parameters()`` name (also the key for ``torch.func.functional_call``).
        kind: ``"weight"``, ``"grid"`` or ``"bias"`` (see :data:`ParamKind`).
        view_axis: the axis that indexes views for per-view tensors (grids are stored stacked,
            view axis first, so a batch of patches from mixed views is one gather; the export
            splits along it into one tensor per view), ``None`` for shared parameters.
        channel_axis: the axis along which quantisation steps are shared "per row or column"
            (output channel of weights and biases, feature channel of grids).
    """

    name: str
    kind: ParamKind
    view_axis: int | None
    channel_axis: int
