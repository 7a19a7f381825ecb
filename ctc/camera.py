"""Camera parameters of a MIV sequence (one entry of the TMIV JSON ``cameras`` array).

Conventions (miv_ctc.md §2.1, §2.3; TMIV annex B):

- world axes OMAF: +x forward, +y left, +z up (right-handed), metres;
- ``rotation`` = (yaw, pitch, roll) in degrees, R = Rz(yaw)·Ry(pitch)·Rx(roll); camera→world is
  X_w = R·X_c + position; positive pitch looks down;
- image axes: u right, v down, the top-left pixel *corner* is (0, 0), pixel (i, j) has its centre
  at (j + 0.5, i + 0.5);
- ``depth_range`` = (near, far) in metres, far may be ``math.inf`` (JSON ``"inf"``); depth samples
  code normalised disparity linearly between 1/far and 1/near (see :mod:`ctc.color`).

This module only holds the parameters; projection lives in :mod:`ctc.geometry`, JSON I/O in
:mod:`ctc.sequence`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, Literal

Projection = Literal["Perspective", "Equirectangular"]
PROJECTIONS: tuple[str, ...] = ("Perspective", "Equirectangular")


@dataclasses.dataclass(frozen=True)
class Camera:
    """One camera (a source view, a held-out view or the ``viewport``)."""

    name: str
    """Camera name as in the JSON (``"v0"``, ``"v00"``, ``"viewport"``)."""
    projection: Projection
    """``"Perspective"`` or ``"Equirectangular"``."""
    resolution: tuple[int, int]
    """(width, height) in pixels."""
    position: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """Camera centre in world metres (x forward, y left, z up)."""
    rotation: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """(yaw, pitch, roll) in degrees; R = Rz(yaw)·Ry(pitch)·Rx(roll)."""
    depth_range: tuple[float, float] = (0.5, 25.0)
    """(near, far) in metres; far may be ``math.inf``."""
    focal: tuple[float, float] | None = None
    """Perspective only: (fx, fy) in pixels."""
    principal_point: tuple[float, float] | None = None
    """Perspective only: (cx, cy) in pixels, top-left corner at (0, 0) (JSON ``Principle_point``)."""
    hor_range: tuple[float, float] | None = None
    """Equirectangular only: (φmin, φmax) in degrees, e.g. (-180, 180)."""
    ver_range: tuple[float, float] | None = None
    """Equirectangular only: (θmin, θmax) in degrees, e.g. (-90, 90)."""
    bit_depth_color: int = 10
    """Bits per texture sample (``BitDepthColor``)."""
    bit_depth_depth: int = 16
    """Bits per depth sample (``BitDepthDepth``)."""
    has_invalid_depth: bool = False
    """If true, depth sample 0 means "invalid" (``HasInvalidDepth``)."""
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict, compare=False)
    """JSON keys this class does not model (``ColorSpace``, ``Depthmap``...), kept for round trips."""

    @property
    def width(self) -> int:
        return self.resolution[0]

    @property
    def height(self) -> int:
        return self.resolution[1]

    @property
    def is_erp(self) -> bool:
        return self.projection == "Equirectangular"

    @property
    def disparity_range(self) -> tuple[float, float]:
        """(low, high) normalised disparity = (1/far, 1/near); low is 0 for far = inf."""
        near, far = self.depth_range
        return (0.0 if math.isinf(far) else 1.0 / far, 1.0 / near)

    def replace(self, **changes: Any) -> Camera:
        """A copy with some fields changed (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)
