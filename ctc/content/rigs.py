"""Scales and camera rigs: where the cameras of a synthetic sequence are and what they see.

A rig is described once, at full scale, like the CTC JSONs (positions in metres, rotations in
degrees, focal lengths in pixels of a 1920-wide image); :meth:`Rig.cameras` turns it into
:class:`ctc.camera.Camera` objects at a :class:`Scale`. Focal lengths scale with the image width,
so the field of view is the same at every scale (a tiny sequence is a low-resolution version of
the full one, not a crop).

Scales (docs/content.md):

======  ==========================  ===========  ======  ===========  ==================
scale   perspective (ERP) size      views        frames  pose rows    use
======  ==========================  ===========  ======  ===========  ==================
full    1920×1080 (2048×2048)       whole rig    65      300          CTC-like runs
mini    480×270 (512×512)           whole rig    17      60           quick experiments
tiny    128×72 (128×128)            3 of the rig 5       5            tests
======  ==========================  ===========  ======  ===========  ==================

65 frames and 300 pose-trace rows are the current CTC numbers (miv_ctc.md §1.2, §1.5); 17 frames
is the CTC's short ("A17") range.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import numpy as np

from ctc.camera import Camera
from ctc.geometry import look_at_rotation

Vec3 = tuple[float, float, float]
ScaleName = Literal["tiny", "mini", "full"]
FULL_WIDTH = 1920
"""Image width at which rig focal lengths are given."""


@dataclasses.dataclass(frozen=True)
class Scale:
    """Image sizes, frame and view counts of one scale."""

    name: ScaleName
    size: tuple[int, int]
    """(width, height) of perspective cameras (the ``viewport`` of ERP content included)."""
    erp_side: int
    """Width = height of 180°×180° ERP cameras."""
    frames: int
    pose_rows: int
    """Rows of each pose-trace CSV (output frames)."""
    subset: bool
    """If true, only the rig's ``tiny_views`` are source views."""


SCALES: dict[str, Scale] = {
    "tiny": Scale("tiny", (128, 72), 128, 5, 5, True),
    "mini": Scale("mini", (480, 270), 512, 17, 60, False),
    "full": Scale("full", (1920, 1080), 2048, 65, 300, False),
}


@dataclasses.dataclass(frozen=True)
class Pose:
    """A named camera placement: centre (m) and (yaw, pitch, roll) in degrees."""

    name: str
    position: Vec3
    rotation: Vec3 = (0.0, 0.0, 0.0)
    """Default: looking along +x (OMAF forward), upright."""

    @classmethod
    def looking_at(cls, name: str, position: Vec3, target: Vec3) -> Pose:
        """A camera at ``position`` whose optical axis goes through ``target`` (roll 0)."""
        return cls(name, position, _rounded(look_at_rotation(position, target)))


def _rounded(values: Vec3, digits: int = 4) -> Vec3:
    """Values rounded for the JSON (a rig is a design, not a measurement)."""
    return tuple(round(float(v), digits) for v in values)  # type: ignore[return-value]


@dataclasses.dataclass(frozen=True)
class Lens:
    """Intrinsics of every camera of a rig, at full scale."""

    projection: Literal["Perspective", "Equirectangular"]
    focal: float = 0.0
    """Perspective: focal length in pixels for a 1920-pixel-wide image (fx = fy)."""
    hor_range: tuple[float, float] = (-90.0, 90.0)
    """ERP: horizontal range in degrees."""
    ver_range: tuple[float, float] = (-90.0, 90.0)
    """ERP: vertical range in degrees."""

    def camera(self, pose: Pose, scale: Scale, depth_range: tuple[float, float]) -> Camera:
        """The :class:`Camera` of ``pose`` at ``scale`` (principal point at the image centre)."""
        common = dict(name=pose.name, position=pose.position, rotation=pose.rotation,
                      depth_range=depth_range, bit_depth_color=10, bit_depth_depth=16)
        if self.projection == "Equirectangular":
            side = scale.erp_side
            return Camera(projection="Equirectangular", resolution=(side, side),
                          hor_range=self.hor_range, ver_range=self.ver_range, **common)
        width, height = scale.size
        f = self.focal * width / FULL_WIDTH
        return Camera(projection="Perspective", resolution=(width, height), focal=(f, f),
                      principal_point=(width / 2, height / 2), **common)

    def field_of_view(self) -> tuple[float, float]:
        """(horizontal, vertical) field of view in degrees (16:9 image for perspective)."""
        if self.projection == "Equirectangular":
            return (self.hor_range[1] - self.hor_range[0], self.ver_range[1] - self.ver_range[0])
        w, h = SCALES["full"].size
        return (2 * math.degrees(math.atan(w / 2 / self.focal)),
                2 * math.degrees(math.atan(h / 2 / self.focal)))


@dataclasses.dataclass(frozen=True)
class PoseTrace:
    """A smooth viewing path, as offsets from the ``viewport`` camera (TMIV semantics, §1.5).

    Over the trace (parameter s from 0 to 1) the offset is
    ``centre + amplitude ⊙ sin(2π·cycles·s + phase)`` per axis. The orientation either keeps the
    optical axis on ``look_at`` (a world point) or sways around ``rotation`` by
    ``sway ⊙ sin(2π·s·sway_cycles)``.
    """

    amplitude: Vec3
    cycles: Vec3 = (1.0, 1.0, 1.0)
    phase: Vec3 = (0.0, 0.0, 0.0)
    centre: Vec3 = (0.0, 0.0, 0.0)
    look_at: Vec3 | None = None
    rotation: Vec3 = (0.0, 0.0, 0.0)
    sway: Vec3 = (0.0, 0.0, 0.0)
    sway_cycles: float = 1.0

    def rows(self, viewport: Camera, count: int) -> np.ndarray:
        """``(count, 6)`` rows X, Y, Z, Yaw, Pitch, Roll for a trace of ``count`` frames."""
        s = np.linspace(0.0, 1.0, count) if count > 1 else np.zeros(1)
        offset = np.stack([c + a * np.sin(2 * np.pi * k * s + p) for c, a, k, p in
                           zip(self.centre, self.amplitude, self.cycles, self.phase)], axis=1)
        if self.look_at is None:
            wave = np.sin(2 * np.pi * self.sway_cycles * s)[:, None]
            ypr = np.asarray(self.rotation)[None] + np.asarray(self.sway)[None] * wave
        else:
            origin = np.asarray(viewport.position)
            ypr = np.array([look_at_rotation(tuple(origin + o), self.look_at) for o in offset])
        return np.round(np.concatenate([offset, ypr], axis=1), 6) + 0.0  # + 0.0: no "-0" in CSVs


@dataclasses.dataclass(frozen=True)
class Rig:
    """Source cameras, held-out cameras and the viewport of a sequence, at full scale."""

    lens: Lens
    sources: tuple[Pose, ...]
    held_out: tuple[Pose, ...]
    """Cameras with ground truth that no codec sees (not in ``sourceCameraNames``)."""
    viewport: Pose
    tiny_views: tuple[str, ...]
    """The 3 source views kept at the tiny scale."""
    kind: str
    """Rig shape in words, for listings: "linear", "planar 4x4", "arc", "ERP cluster"."""
    viewport_lens: Lens | None = None
    """The viewport's lens; None: the sources' :attr:`lens`. The viewport is perspective even for
    ERP rigs (TMIV, miv_ctc.md §1.5), so an ERP rig names a perspective one here."""

    def __post_init__(self) -> None:
        if self.viewport_lens is None and self.lens.projection != "Perspective":
            raise ValueError(f"{self.kind} rig: {self.lens.projection} sources need a perspective "
                             "viewport_lens")

    def cameras(self, scale: Scale, depth_range: tuple[float, float]
                ) -> tuple[list[Camera], list[Camera], Camera]:
        """(source cameras, held-out cameras, viewport) at ``scale``."""
        sources = [p for p in self.sources if not scale.subset or p.name in self.tiny_views]
        make = lambda p: self.lens.camera(p, scale, depth_range)  # noqa: E731
        return ([make(p) for p in sources], [make(p) for p in self.held_out],
                (self.viewport_lens or self.lens).camera(self.viewport, scale, depth_range))


# Rig builders (the geometry of the CTC rigs, miv_ctc.md §1.1).


def linear_rig(count: int, spacing: float, height: float) -> tuple[Pose, ...]:
    """``count`` cameras on a horizontal line along y, centred at y = 0, all looking along +x.

    Names ``v0``… run from the left end (+y) to the right, like the views of a CTC linear rig.
    """
    half = (count - 1) / 2
    return tuple(Pose(f"v{i}", (0.0, round((half - i) * spacing, 6), height))
                 for i in range(count))


def planar_rig(rows: int, cols: int, spacing: float, height: float) -> tuple[Pose, ...]:
    """A ``rows``×``cols`` grid in the plane x = 0 (row-major from top left), looking along +x."""
    poses = []
    for r in range(rows):
        for c in range(cols):
            y = ((cols - 1) / 2 - c) * spacing
            z = height + ((rows - 1) / 2 - r) * spacing
            poses.append(Pose(f"v{r * cols + c}", (0.0, round(y, 6), round(z, 6))))
    return tuple(poses)


def arc_rig(count: int, radius: float, azimuths: tuple[float, float], heights: tuple[float, ...],
            target: Vec3) -> tuple[Pose, ...]:
    """``count`` cameras on a circular arc of ``radius`` around ``target``, looking at it.

    Azimuths (degrees, measured from −x towards −y, i.e. camera 0 sits at −x when the range
    starts at 0) are spread evenly over ``azimuths``; heights cycle through ``heights``.
    """
    poses = []
    for i in range(count):
        a = math.radians(azimuths[0] + (azimuths[1] - azimuths[0]) * i / (count - 1))
        position = (round(target[0] - radius * math.cos(a), 4),
                    round(target[1] - radius * math.sin(a), 4), heights[i % len(heights)])
        poses.append(Pose.looking_at(f"v{i}", position, target))
    return tuple(poses)


def outward_rig(centre: Vec3, radius: float, yaws: tuple[float, ...], heights: tuple[float, ...],
                up_down: float) -> tuple[Pose, ...]:
    """An omnidirectional cluster: cameras on a horizontal circle, each looking outwards at its
    yaw, then one looking straight down above the centre and one looking up below it
    (``up_down`` metres from the centre), like B02's 10 cameras pointing in every direction."""
    poses = []
    for i, yaw in enumerate(yaws):
        a = math.radians(yaw)
        position = (round(centre[0] + radius * math.cos(a), 4),
                    round(centre[1] + radius * math.sin(a), 4),
                    round(centre[2] + heights[i % len(heights)], 4))
        poses.append(Pose(f"v{i}", position, (float(yaw), 0.0, 0.0)))
    n = len(yaws)
    poses.append(Pose(f"v{n}", (centre[0], centre[1], centre[2] + up_down), (0.0, 90.0, 0.0)))
    poses.append(Pose(f"v{n + 1}", (centre[0], centre[1], centre[2] - up_down), (0.0, -90.0, 0.0)))
    return tuple(poses)
