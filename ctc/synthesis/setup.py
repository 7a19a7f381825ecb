"""What both renderers (:func:`ctc.synthesis.synthesize`, :func:`ctc.synthesis.nearest_view_baseline`)
establish before touching a pixel: the device, valid inputs, and the per-source camera weights
and visibility of TMIV VWS step 0 (miv_ctc.md §3.3). One function, so that the baseline picks its
source by exactly the rules the VWS weights and culls by.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch

from ctc.camera import Camera
from ctc.device import resolve_device
from ctc.errors import InputError
from ctc.synthesis.views import SourceView, check_source
from ctc.synthesis.weights import camera_weights, visible_sources


@dataclasses.dataclass(frozen=True)
class FrameSetup:
    """Step 0 of one target frame.

    Attributes:
        device: where the frame is rendered.
        cameras: the ``V`` source cameras, in input order.
        weights: ``[V]`` float64 camera weights w_v (:func:`ctc.synthesis.weights.camera_weights`).
        visible: ``V`` bools, the visibility culling (:func:`ctc.synthesis.weights.visible_sources`).
    """

    device: torch.device
    cameras: list[Camera]
    weights: torch.Tensor
    visible: list[bool]

    def weights_by_name(self) -> dict[str, float]:
        """``{camera name: w_v}`` for :class:`ctc.synthesis.SynthOutput`."""
        return {c.name: float(x) for c, x in zip(self.cameras, self.weights)}


def prepare_frame(sources: Sequence[SourceView], target: Camera, culling_far_limit: float,
                  device: str | torch.device | None) -> FrameSetup:
    """Check the inputs and compute the camera weights and visibility of ``target``.

    Raises:
        InputError: no sources, planes whose sizes do not match their cameras, or a device that
            cannot be used.
    """
    if not sources:
        raise InputError("synthesis", "no source views given")
    for src in sources:
        check_source(src, f"source view {src.camera.name}")
    dev = resolve_device(device)
    cams = [s.camera for s in sources]
    return FrameSetup(dev, cams, camera_weights(cams, target),
                      visible_sources(cams, target, culling_far_limit))
