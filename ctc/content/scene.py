"""Scene description: textured shapes that move along smooth trajectories, a light, a sky.

A :class:`Scene` is plain, frozen data (no tensors), so the catalogue of named sequences is a
readable table and a scene can be rendered on any device. Time is in *seconds*, not frames: the
same scene at 5 (tiny), 17 (mini) or 65 (full) frames at 30 fps shows the same motion over its
first frames.

Shading is deliberately view-independent (Lambertian + ambient, no specular, no shadows): the
colour of a surface point does not depend on the camera that sees it, as assumed by depth-based
view synthesis (TMIV, miv_ctc.md §3.3). Real content violates that mildly; our content does not,
so synthesis errors measured on it are the synthesizer's and the codec's own.
"""

from __future__ import annotations

import dataclasses
import math

from ctc.content.shapes import Box, Cylinder, Rect, Shape, Sphere

Vec3 = tuple[float, float, float]


@dataclasses.dataclass(frozen=True)
class Material:
    """A photograph on a surface."""

    texture: str
    """Name of a bundled photograph (:data:`ctc.content.textures.PHOTOS`)."""
    tiles: tuple[float, float] = (1.0, 1.0)
    """How often the photograph repeats across the shape's surface coordinates (s, t)."""
    tint: tuple[float, float, float] = (1.0, 1.0, 1.0)
    """RGB factors applied to the photograph: colours the grey ones (brick, gravel, grass), so
    that large surfaces carry chroma detail too."""


@dataclasses.dataclass(frozen=True)
class Motion:
    """A smooth rigid motion: ``offset(t) = amplitude ⊙ sin(2π·t/period + phase)`` and a spin.

    A sinusoid per axis gives straight back-and-forth or (with per-axis phases) elliptic paths
    with continuous velocity, like the people and objects of the CTC scenes; objects moving in
    front of the background create disocclusions that change from frame to frame.
    """

    amplitude: Vec3 = (0.0, 0.0, 0.0)
    """Peak offset in metres along world x, y, z."""
    period: float = 4.0
    """Seconds per cycle."""
    phase: Vec3 = (0.0, 0.0, 0.0)
    """Phase per axis in radians."""
    spin: float = 0.0
    """Yaw rate in degrees per second (rotation about the world z axis through the centre)."""

    def offset(self, time: float) -> Vec3:
        """World offset of the object's centre at ``time`` seconds."""
        w = 2 * math.pi * time / self.period
        (ax, ay, az), (px, py, pz) = self.amplitude, self.phase
        return (ax * math.sin(w + px), ay * math.sin(w + py), az * math.sin(w + pz))

    def yaw(self, time: float) -> float:
        """Extra yaw in degrees at ``time`` seconds."""
        return self.spin * time


STILL = Motion()


@dataclasses.dataclass(frozen=True)
class SceneObject:
    """A shape with a material, placed in the world and possibly moving."""

    shape: Shape
    material: Material
    position: Vec3
    """Centre in world metres at rest."""
    rotation: Vec3 = (0.0, 0.0, 0.0)
    """(yaw, pitch, roll) in degrees, as for cameras: local +x is rotated to R·(1, 0, 0)."""
    motion: Motion = STILL

    def pose(self, time: float) -> tuple[Vec3, Vec3]:
        """(centre, (yaw, pitch, roll)) at ``time`` seconds."""
        offset = self.motion.offset(time)
        centre = tuple(p + o for p, o in zip(self.position, offset))
        yaw, pitch, roll = self.rotation
        return centre, (yaw + self.motion.yaw(time), pitch, roll)  # type: ignore[return-value]


@dataclasses.dataclass(frozen=True)
class Scene:
    """Everything the renderer needs besides the camera and the time."""

    objects: tuple[SceneObject, ...]
    sky: Material | None = None
    """A photograph at infinite distance, looked up by ray direction as an ERP image
    (u from φ, v from θ), seen where no object is hit; depth there is ``inf``. Without a sky
    every ray must hit an object (the scene is enclosed)."""
    light: Vec3 = (-0.4, 0.3, 0.85)
    """Direction *towards* the directional light (normalised by the renderer)."""
    ambient: float = 0.55
    """Shade = ambient + (1 − ambient)·max(0, n·l): never darker than ``ambient``."""


# Short constructors used by the catalogue (keep the scene tables readable).


def rect(width: float, height: float, texture: str, position: Vec3, rotation: Vec3 = (0, 0, 0),
         tiles: tuple[float, float] = (1, 1), motion: Motion = STILL,
         tint: Vec3 = (1, 1, 1)) -> SceneObject:
    """A photograph/panel; rotation (0, 0, 0) shows its front to a viewer looking along −x."""
    return SceneObject(Rect(width, height), Material(texture, tiles, tint), position, rotation, motion)


def box(size: Vec3, texture: str, position: Vec3, rotation: Vec3 = (0, 0, 0),
        tiles: tuple[float, float] = (1, 1), motion: Motion = STILL,
        tint: Vec3 = (1, 1, 1)) -> SceneObject:
    """A box (an object, or a room seen from inside)."""
    return SceneObject(Box(size), Material(texture, tiles, tint), position, rotation, motion)


def sphere(radius: float, texture: str, position: Vec3, rotation: Vec3 = (0, 0, 0),
           tiles: tuple[float, float] = (1, 1), motion: Motion = STILL,
           tint: Vec3 = (1, 1, 1)) -> SceneObject:
    """A sphere (the photograph wraps around it as an ERP image)."""
    return SceneObject(Sphere(radius), Material(texture, tiles, tint), position, rotation, motion)


def cylinder(radius: float, height: float, texture: str, position: Vec3,
             rotation: Vec3 = (0, 0, 0), tiles: tuple[float, float] = (1, 1),
             motion: Motion = STILL, tint: Vec3 = (1, 1, 1)) -> SceneObject:
    """An upright (axis along world z at rotation 0) closed cylinder."""
    return SceneObject(Cylinder(radius, height), Material(texture, tiles, tint), position,
                       rotation, motion)
