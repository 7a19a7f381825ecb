"""What a ``mvcodec content make`` run writes, independent of where the pixels come from.

A :class:`ContentPlan` holds the sequence JSON (all cameras), which cameras are held out, the
pose-trace rows and a :class:`FrameSource` that produces texture and metric depth for any camera
at any time: the ray caster for synthetic scenes (:class:`ctc.content.renderer.Renderer`), or the
stored images of the real stereo pair (:class:`ctc.content.stereo.StereoPair`). The writer
(:mod:`ctc.content.make`) only talks to this interface.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol

import numpy as np
import torch

from ctc.camera import Camera
from ctc.color import metric_depth_to_samples, rgb_to_yuv420
from ctc.sequence import Sequence


class FrameSource(Protocol):
    """Produces one camera's image at one time."""

    def frame(self, camera: Camera, time: float) -> tuple[torch.Tensor, torch.Tensor]:
        """(rgb ``[3, H, W]`` float in [0, 1], depth ``[H, W]`` float metres).

        Depth is the MIV depth of ``camera`` (z or radius); ``inf`` means "at infinity" (sky),
        NaN means "unknown" (written as the invalid sample 0, ``HasInvalidDepth``).
        """
        ...


@dataclasses.dataclass(frozen=True)
class ContentPlan:
    """Everything needed to write one sequence at one scale."""

    name: str
    """Catalogue name; pose-trace files are ``{name}p01.csv``..."""
    sequence: Sequence
    """The JSON: source views, held-out cameras, ``viewport``; ``Frames_number`` set."""
    source: FrameSource
    pose_traces: tuple[np.ndarray, ...]
    """Rows (X, Y, Z, Yaw, Pitch, Roll) of each trace, relative to ``viewport`` (TMIV)."""
    pose_truth: bool
    """Whether ground truth of the pose traces can be produced (false for real content)."""

    @property
    def frames(self) -> int:
        return self.sequence.frames_number

    @property
    def truth_cameras(self) -> tuple[Camera, ...]:
        """Source views then held-out cameras: every camera whose files are written."""
        return self.sequence.source_cameras + self.sequence.held_out_cameras


def frame_planes(camera: Camera, rgb: torch.Tensor, depth: torch.Tensor
                 ) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
    """Texture planes (Y, U, V) at ``BitDepthColor`` bits and 16-bit depth samples of one frame.

    Texture: BT.709 limited range 4:2:0 (:func:`ctc.color.rgb_to_yuv420`). Depth: MIV normalised
    disparity over the camera's ``Depth_range`` (:func:`ctc.color.metric_depth_to_samples`);
    ``inf`` gives 0 when far is ``inf`` (disparity 0); NaN (unknown) gives the invalid sample 0.
    """
    y, u, v = rgb_to_yuv420(rgb, camera.bit_depth_color)
    near, far = camera.depth_range
    samples = metric_depth_to_samples(depth, camera.bit_depth_depth, near, far)
    samples = torch.where(torch.isnan(depth), torch.zeros_like(samples), samples)
    to_numpy = lambda t: t.to("cpu").numpy().astype(np.uint16)  # noqa: E731
    return (to_numpy(y), to_numpy(u), to_numpy(v)), to_numpy(samples)
