"""The real content: the Middlebury 2014 "Motorcycle" stereo pair shipped with scikit-image.

``skimage.data.stereo_motorcycle()`` returns the left and right images (500×741, already
rectified and downsampled 4× from the benchmark's full resolution) and the left image's
ground-truth disparity (structured-light measurement; non-finite where unknown). Its docstring
gives the calibration of the downsampled pair (toolchain.md §4):

    f = 994.978 px, principal point (311.193, 254.877) px, doffs = cx_right − cx_left = 31.086 px,
    baseline B = 193.001 mm.

Conversion to MIV (miv_ctc.md §2):

- two perspective cameras looking along +x: ``v0`` (left) at the origin and ``v1`` (right) at
  y = −B (+y is left in OMAF axes), no rotation;
- principal points in MIV's pixel-*corner* convention: Middlebury's calibration counts pixel
  centres at integers (0-based), so 0.5 is added; the right camera's cx is the left's + doffs,
  which makes a left pixel at column x with disparity d appear at column x − d in the right
  image (checked on the data: that direction is photo-consistent, the other is not);
- depth z = f·B / (d + doffs) (the rectified views share their orientation, so z-depth is the
  same in both); unknown disparity → ``HasInvalidDepth`` with sample 0;
- the right view's depth is not given: it is derived by forward-warping the left depth (each
  left pixel splats onto the two right pixels around x − d, a z-buffer keeps the nearest).
  Right pixels that no left pixel reaches (disocclusions, and the right image's right border,
  which v0 never sees) stay *invalid*: we do not invent depth there;
- the image is cropped to an even size (741 → 740 columns) and, at the mini and tiny scales,
  downsampled by 2 and 6 (texture: block mean; disparity: block median of the valid samples,
  invalid when fewer than half are valid; f, c, doffs and d divided by the factor);
- it is a still: the frame is repeated for the scale's frame count (5, 17, 65), so the harness
  treats it like any other sequence. There are no held-out cameras and no pose-trace ground
  truth (only the CSVs).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings

import numpy as np
import torch

from ctc.camera import Camera
from ctc.content.plan import ContentPlan
from ctc.content.rigs import PoseTrace, Scale
from ctc.sequence import Sequence

FOCAL = 994.978
"""Focal length of the skimage-downsampled pair, pixels."""
PRINCIPAL_POINT = (311.193, 254.877)
"""Left principal point (Middlebury convention: pixel centres at integers)."""
DOFFS = 31.086
"""x-difference of the principal points, right − left, pixels."""
BASELINE = 0.193001
"""Camera distance in metres."""
DEPTH_RANGE = (2.0, 5.3)
"""(near, far) in metres around the valid depths 2.11 … 5.02 m (disparity 59.9 … 7.19 px)."""
DOWNSAMPLE = {"tiny": 6, "mini": 2, "full": 1}
"""Integer downsampling factor per scale (740×500, 370×250, 122×82)."""


@functools.lru_cache(maxsize=1)
def _load() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(left, right) float32 RGB ``[H, W, 3]`` in [0, 1] and disparity ``[H, W]`` (NaN = unknown)."""
    import skimage.data

    left, right, disparity = skimage.data.stereo_motorcycle()
    disparity = np.where(np.isfinite(disparity), disparity, np.nan).astype(np.float32)
    return left.astype(np.float32) / 255.0, right.astype(np.float32) / 255.0, disparity


def _blocks(image: np.ndarray, k: int) -> np.ndarray:
    """``[H, W, ...]`` → ``[H/k, W/k, k·k, ...]`` (sides must be multiples of k)."""
    h, w = image.shape[:2]
    blocks = image.reshape(h // k, k, w // k, k, *image.shape[2:]).swapaxes(1, 2)
    return blocks.reshape(h // k, w // k, k * k, *image.shape[2:])


def downsample_disparity(disparity: np.ndarray, k: int) -> np.ndarray:
    """Block median of the valid (non-NaN) disparities divided by ``k``; NaN where fewer than
    half of a block's samples are valid. The median keeps depth edges sharp (a mean would make
    up surfaces between foreground and background)."""
    if k == 1:
        return disparity
    blocks = _blocks(disparity, k)
    valid = np.isfinite(blocks).sum(axis=2)
    with warnings.catch_warnings():  # all-NaN blocks: the median is NaN, as wanted
        warnings.simplefilter("ignore", RuntimeWarning)
        median = np.nanmedian(blocks, axis=2)
    return np.where(valid * 2 >= k * k, median / k, np.nan).astype(np.float32)


def warp_left_to_right(disparity: np.ndarray) -> np.ndarray:
    """Disparity ``[H, W]`` of the *right* view from the left one by forward warping.

    Left pixel (i, j) lands at column x = j − d in the right image; it is splatted onto the two
    columns ⌊x⌋ and ⌊x⌋ + 1 (so surfaces that stretch between views leave no one-pixel cracks)
    and a z-buffer keeps the largest disparity (the nearest surface). Columns that nothing
    reaches are NaN (unknown). ``np.maximum.at`` makes the z-buffer order-independent, hence
    deterministic.
    """
    h, w = disparity.shape
    rows, cols = np.nonzero(np.isfinite(disparity))
    d = disparity[rows, cols]
    x = cols - d
    out = np.full(h * w, -np.inf, dtype=np.float32)
    for target in (np.floor(x), np.floor(x) + 1):
        inside = (target >= 0) & (target < w) & (np.abs(target - x) < 1)
        flat = rows[inside] * w + target[inside].astype(np.int64)
        np.maximum.at(out, flat, d[inside])
    out = out.reshape(h, w)
    return np.where(np.isfinite(out), out, np.nan).astype(np.float32)


def disparity_to_depth(disparity: np.ndarray, focal: float, doffs: float) -> np.ndarray:
    """z = f·B/(d + doffs) in metres (NaN stays NaN)."""
    return (focal * BASELINE / (disparity + doffs)).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class StereoPair:
    """The converted pair at one downsampling factor; a :class:`~ctc.content.plan.FrameSource`."""

    cameras: tuple[Camera, Camera]
    rgb: dict[str, torch.Tensor]
    """Camera name → ``[3, H, W]`` float32."""
    depth: dict[str, torch.Tensor]
    """Camera name → ``[H, W]`` float32 metres, NaN = unknown."""

    @classmethod
    def load(cls, factor: int, device: torch.device | str = "cpu") -> StereoPair:
        left, right, disparity = _load()
        h = left.shape[0] // (2 * factor) * 2 * factor
        w = left.shape[1] // (2 * factor) * 2 * factor
        left, right, disparity = left[:h, :w], right[:h, :w], disparity[:h, :w]
        if factor > 1:
            left, right = (_blocks(im, factor).mean(axis=2) for im in (left, right))
        disparity = downsample_disparity(disparity, factor)
        focal, doffs = FOCAL / factor, DOFFS / factor
        cx, cy = ((c + 0.5) / factor for c in PRINCIPAL_POINT)
        size = (w // factor, h // factor)
        common = dict(projection="Perspective", resolution=size, rotation=(0.0, 0.0, 0.0),
                      depth_range=DEPTH_RANGE, focal=(focal, focal), has_invalid_depth=True)
        cams = (Camera(name="v0", position=(0.0, 0.0, 0.0), principal_point=(cx, cy), **common),
                Camera(name="v1", position=(0.0, -BASELINE, 0.0),
                       principal_point=(cx + doffs, cy), **common))
        depths = (disparity_to_depth(disparity, focal, doffs),
                  disparity_to_depth(warp_left_to_right(disparity), focal, doffs))
        as_tensor = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(device)  # noqa: E731
        return cls(
            cameras=cams,
            rgb={c.name: as_tensor(im.transpose(2, 0, 1)) for c, im in zip(cams, (left, right))},
            depth={c.name: as_tensor(d) for c, d in zip(cams, depths)},
        )

    def frame(self, camera: Camera, time: float) -> tuple[torch.Tensor, torch.Tensor]:
        """The still of source camera ``camera`` (any time)."""
        if camera.name not in self.rgb:
            raise KeyError(f"the stereo pair has no ground truth for camera {camera.name!r}")
        return self.rgb[camera.name], self.depth[camera.name]


POSE_TRACES = (
    PoseTrace(amplitude=(0.0, BASELINE / 2, 0.0), centre=(0.0, -BASELINE / 2, 0.0)),
    PoseTrace(amplitude=(0.0, 0.05, 0.05), phase=(0.0, 0.0, math.pi / 2),
              centre=(0.0, -BASELINE / 2, 0.0)),
    PoseTrace(amplitude=(0.15, 0.03, 0.0), centre=(0.0, -BASELINE / 2, 0.0), sway=(3.0, 1.5, 0.0)),
)


@dataclasses.dataclass(frozen=True)
class StereoSequence:
    """Catalogue entry of the real stereo pair."""

    name: str = "motorcycle"
    content_name: str = "Motorcycle"

    def summary(self) -> str:
        sizes = []
        for scale, k in DOWNSAMPLE.items():
            w, h = 741 // (2 * k) * 2, 500 // (2 * k) * 2
            sizes.append(f"{scale} {w}x{h}")
        return ("real: Middlebury 2014 stereo pair with measured depth (skimage), 2 views, "
                f"Perspective, a still repeated, invalid depth marked; {' / '.join(sizes)}")

    def plan(self, scale: Scale, device: torch.device) -> ContentPlan:
        pair = StereoPair.load(DOWNSAMPLE[scale.name], device)
        left = pair.cameras[0]
        viewport = left.replace(name="viewport")
        sequence = Sequence(
            version="4.0",
            content_name=self.content_name,
            fps=30,
            frames_number=scale.frames,
            cameras=(*pair.cameras, viewport),
            source_camera_names=tuple(c.name for c in pair.cameras),
            bounding_box_center=(3.0, -BASELINE / 2, 0.0),
            extra={"Informative": {
                "Converted_by": f"mvcodec content make {self.name} --scale {scale.name}",
                "Source": "Middlebury 2014 Motorcycle (Scharstein et al., GCPR 2014) via "
                          "skimage.data.stereo_motorcycle",
                "Cameras_number": 2,
                "Note": "still image repeated; right-view depth forward-warped from the left, "
                        "unreached pixels invalid",
            }},
        )
        return ContentPlan(
            name=self.name,
            sequence=sequence,
            source=pair,
            pose_traces=tuple(t.rows(viewport, scale.pose_rows) for t in POSE_TRACES),
            pose_truth=False,
        )


MOTORCYCLE = StereoSequence()
