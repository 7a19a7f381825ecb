"""Inputs and outputs of the synthesizer, and their conversion to and from tensors.

Sources come in as what a MIV decoder produces (miv_ctc.md §2.2): YUV 4:2:0 texture planes at the
camera's ``bit_depth_color`` and depth samples at ``bit_depth_depth`` coding normalised disparity.
Inside, the synthesizer works on YUV 4:4:4 floats in [0, 1] (chroma upsampled by replication, as
TMIV's ``expandTexture``) and metric depth (NaN = invalid). The output goes back to 4:2:0 planes
(2×2 chroma mean) and 16-bit normalised-disparity samples in the target camera's depth range.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ctc.camera import Camera
from ctc.color import samples_to_metric_depth
from ctc.errors import InputError
from ctc.yuv import downsample_chroma_420, upsample_chroma_420

Planes = tuple[Any, Any, Any]
"""(Y, U, V): numpy arrays or torch tensors, ``[H, W]``, ``[H/2, W/2]``, ``[H/2, W/2]``."""


@dataclasses.dataclass(frozen=True)
class SourceView:
    """One decoded source view at one frame.

    Attributes:
        camera: its camera (resolution, intrinsics, pose, depth range, bit depths).
        texture: (Y, U, V) planes, 4:2:0, integer samples of ``camera.bit_depth_color`` bits.
        depth: ``[H, W]`` integer depth samples of ``camera.bit_depth_depth`` bits.
        valid: optional ``[H, W]`` bool mask of pixels that may be used. Pruned or unoccupied
            pixels (a TMIV-style atlas decoder's output) are False; ``None`` means all pixels,
            except sample 0 when ``camera.has_invalid_depth``.
    """

    camera: Camera
    texture: Planes
    depth: Any
    valid: Any = None


@dataclasses.dataclass(frozen=True)
class SynthOutput:
    """A synthesised view.

    Attributes:
        texture: (Y, U, V) uint16 numpy planes, 4:2:0, ``bit_depth_color`` bits of the target.
        depth: ``[H, W]`` uint16 numpy normalised-disparity samples (16 bits, the target's depth
            range); 0 where nothing could be synthesised and inpainting is off.
        synthesized_mask: ``[H, W]`` bool: pixels that got a colour from the sources.
        filled_mask: ``[H, W]`` bool: pixels the inpainter filled (disocclusions, outside every source).
        visible_views: names of the sources that passed the visibility culling.
        camera_weights: ``{name: w_v}`` of all sources.
    """

    texture: tuple[np.ndarray, np.ndarray, np.ndarray]
    depth: np.ndarray
    synthesized_mask: np.ndarray
    filled_mask: np.ndarray
    visible_views: tuple[str, ...]
    camera_weights: dict[str, float]

    @property
    def inpainted_fraction(self) -> float:
        """Fraction of output pixels filled by the inpainter."""
        return float(self.filled_mask.mean())

    @property
    def hole_fraction(self) -> float:
        """Fraction of output pixels neither synthesised nor inpainted."""
        return float((~self.synthesized_mask & ~self.filled_mask).mean())


def _tensor(x: Any, device: torch.device) -> Tensor:
    if isinstance(x, Tensor):
        return x.to(device)
    return torch.from_numpy(np.ascontiguousarray(np.asarray(x)).astype(np.int32, copy=False)).to(device)


def check_source(src: SourceView, where: str) -> None:
    """Raise :class:`InputError` unless the planes have the sizes the camera declares."""
    cam = src.camera
    h, w = cam.height, cam.width
    expected = ((h, w), ((h + 1) // 2, (w + 1) // 2), ((h + 1) // 2, (w + 1) // 2))
    if len(src.texture) != 3:
        raise InputError(where, f"texture must be 3 planes (Y, U, V), got {len(src.texture)}")
    for name, plane, shape in zip("YUV", src.texture, expected):
        if tuple(plane.shape) != shape:
            raise InputError(where, f"{name} plane is {tuple(plane.shape)[::-1]} (w, h), camera "
                                    f"{cam.name} needs {shape[::-1]}")
    if tuple(src.depth.shape) != (h, w):
        raise InputError(where, f"depth map is {tuple(src.depth.shape)[::-1]} (w, h), camera "
                                f"{cam.name} needs {(w, h)}")
    if src.valid is not None and tuple(src.valid.shape) != (h, w):
        raise InputError(where, f"validity mask is {tuple(src.valid.shape)[::-1]} (w, h), camera "
                                f"{cam.name} needs {(w, h)}")


def source_tensors(src: SourceView, device: torch.device) -> tuple[Tensor, Tensor]:
    """``(color [3, H, W] float32 YUV 4:4:4 in [0, 1], depth [H, W] float32 metres, NaN invalid)``."""
    cam = src.camera
    scale = float((1 << cam.bit_depth_color) - 1)
    y, u, v = (_tensor(p, device).to(torch.float32) for p in src.texture)
    shape = (cam.height, cam.width)
    color = torch.stack((y, upsample_chroma_420(u, shape), upsample_chroma_420(v, shape))) / scale
    samples = _tensor(src.depth, device)
    near, far = cam.depth_range
    depth = samples_to_metric_depth(samples, cam.bit_depth_depth, near, far).to(torch.float32)
    valid = torch.isfinite(depth) & (depth > 0)
    if cam.has_invalid_depth:
        valid &= samples > 0
    if src.valid is not None:
        valid &= _tensor(src.valid, device).bool()
    return color, torch.where(valid, depth, torch.full_like(depth, float("nan")))


def disparity_samples(depth: Tensor, camera: Camera) -> Tensor:
    """Metric depth ``[H, W]`` (≤ 0 or NaN = invalid) → 16-bit normalised disparity samples as
    float ``[H, W]``: clamped to the camera's [1/far, 1/near] and quantised, valid pixels ≥ 1 so
    that 0 keeps meaning "invalid" (TMIV ``quantizeNormDisp(x, 1)``)."""
    low, high = camera.disparity_range
    valid = torch.isfinite(depth) & (depth > 0)
    disp = torch.where(valid, 1.0 / depth.clamp_min(1e-30), torch.zeros_like(depth))
    level = (disp.clamp(low, high) - low) / (high - low)
    samples = torch.floor(level * 65535.0 + 0.5).clamp(1.0, 65535.0)
    return torch.where(valid, samples, torch.zeros_like(samples))


def output_planes(color: Tensor, camera: Camera) -> tuple[Tensor, Tensor, Tensor]:
    """YUV 4:4:4 ``[3, H, W]`` in [0, 1] → 4:2:0 integer-valued float planes at
    ``camera.bit_depth_color`` bits (still on the device)."""
    scale = float((1 << camera.bit_depth_color) - 1)
    y = color[0]
    u, v = downsample_chroma_420(color[1]), downsample_chroma_420(color[2])
    return tuple(torch.floor(p.clamp(0.0, 1.0) * scale + 0.5) for p in (y, u, v))  # type: ignore[return-value]


def _to_host_uint16(x: Tensor) -> np.ndarray:
    """Integer-valued floats in 0..65535 → numpy uint16, copying 2 bytes per sample off the device
    (int16 has the same low 16 bits; numpy reinterprets them as unsigned)."""
    return x.to(torch.int32).to(torch.int16).cpu().numpy().view(np.uint16)


def make_output(color: Tensor, disp: Tensor, synthesized: Tensor, filled: Tensor, target: Camera,
                visible: Sequence[str], weights: dict[str, float]) -> SynthOutput:
    """Package the final YUV 4:4:4 ``[3, H, W]``, disparity samples ``[H, W]`` and masks as a
    :class:`SynthOutput` (4:2:0 planes and uint16 depth on the host)."""
    y, u, v = (_to_host_uint16(p) for p in output_planes(color, target))
    return SynthOutput(
        texture=(y, u, v),
        depth=_to_host_uint16(disp.round().clamp(0, 65535)),
        synthesized_mask=synthesized.cpu().numpy(),
        filled_mask=filled.cpu().numpy(),
        visible_views=tuple(visible),
        camera_weights=dict(weights),
    )
