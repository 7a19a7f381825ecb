"""The named synthetic sequences: one scene and one rig per CTC rig type.

Each mirrors the rig of a mandatory MIV CTC sequence (miv_ctc.md §1.1) so that a codec, the
synthesizer and the harness meet the same geometry they will meet on real CTC content:

============  ======  ============================================================================
name          like    rig
============  ======  ============================================================================
linear13      E01     13 perspective views on a 0.44 m horizontal line (Frog: tabletop close-up)
planar16      D01     4×4 perspective views in a vertical plane, 7 cm apart (Painter)
arc11         W01     11 views on an arc of radius 4 m, 2.6–3.4 m high, looking down (Group)
erp10         B02     10 ERP 180°×180° cameras pointing in every direction (Chess), far = inf
============  ======  ============================================================================

(The real stereo pair, ``motorcycle``, lives in :mod:`ctc.content.stereo`.)

Scenes are described in metres in OMAF axes (+x forward from the rig, +y left, +z up). Every
scene is closed by a textured room or has a sky at infinity, has several independently moving
objects (occlusions and disocclusions change over time) and uses only photographs that
scikit-image ships.
"""

from __future__ import annotations

import dataclasses
import math

import torch

from ctc.content.plan import ContentPlan
from ctc.content.renderer import Renderer
from ctc.content.rigs import (SCALES, Lens, Pose, PoseTrace, Rig, Scale, arc_rig, linear_rig,
                              outward_rig, planar_rig)
from ctc.content.scene import Material, Motion, Scene, SceneObject, box, cylinder, rect, sphere
from ctc.sequence import Sequence

Vec3 = tuple[float, float, float]
FLOOR = (0.0, -90.0, 0.0)
"""Rotation that lays a :func:`rect` flat, front face up (pitch −90° turns local +x to +z)."""
FACING_RIG = (180.0, 0.0, 0.0)
"""Rotation that turns a :func:`rect` to face cameras looking along +x."""


@dataclasses.dataclass(frozen=True)
class SyntheticSequence:
    """A named synthetic sequence: scene, rig, depth range, pose traces."""

    name: str
    like: str
    """The CTC sequence whose rig it mirrors, e.g. "E01 Frog"."""
    content_name: str
    """``Content_name`` in the JSON."""
    scene: Scene
    rig: Rig
    depth_range: tuple[float, float]
    """(near, far) in metres for every camera; far may be ``math.inf``."""
    pose_traces: tuple[PoseTrace, ...]
    bounding_box_center: Vec3
    fps: int = 30

    def summary(self) -> str:
        """One line for ``mvcodec content list`` (after the name)."""
        lens = self.rig.lens
        fov = "x".join(f"{a:.0f}" for a in lens.field_of_view())
        sizes = " / ".join(
            f"{s.name} {s.erp_side}x{s.erp_side}" if lens.projection == "Equirectangular"
            else f"{s.name} {s.size[0]}x{s.size[1]}" for s in SCALES.values())
        far = "inf" if math.isinf(self.depth_range[1]) else f"{self.depth_range[1]:g}"
        return (f"like {self.like}: {self.rig.kind} rig, {len(self.rig.sources)} views "
                f"(tiny: 3), {lens.projection} {fov} deg, synthetic, depth "
                f"{self.depth_range[0]:g}-{far} m; {sizes}")

    def plan(self, scale: Scale, device: torch.device) -> ContentPlan:
        """Cameras at ``scale``, the renderer on ``device``, pose-trace rows."""
        sources, held_out, viewport = self.rig.cameras(scale, self.depth_range)
        sequence = Sequence(
            version="4.0",
            content_name=self.content_name,
            fps=self.fps,
            frames_number=scale.frames,
            cameras=(*sources, *held_out, viewport),
            source_camera_names=tuple(c.name for c in sources),
            bounding_box_center=self.bounding_box_center,
            extra={"Informative": {
                "Converted_by": f"mvcodec content make {self.name} --scale {scale.name}",
                "Like": self.like,
                "Rig": self.rig.kind,
                "Cameras_number": len(sources),
                "Held_out_cameras": [c.name for c in held_out],
            }},
        )
        return ContentPlan(
            name=self.name,
            sequence=sequence,
            source=Renderer(self.scene, device),
            pose_traces=tuple(t.rows(viewport, scale.pose_rows) for t in self.pose_traces),
            pose_truth=True,
        )


# Tints of the grey photographs (brick, gravel, grass): RGB factors.
BRICK_RED = (0.95, 0.62, 0.5)
GRAVEL_SAND = (0.9, 0.82, 0.68)
GRASS_GREEN = (0.6, 0.85, 0.45)


def room(size: Vec3, centre: Vec3, walls: str, wall_tiles: float, floor: str,
         floor_tiles: float) -> tuple[SceneObject, ...]:
    """A box seen from inside (brick-red walls) plus a floor panel (sand-coloured) 2 mm above
    its bottom face (no z-fighting)."""
    floor_z = centre[2] - size[2] / 2 + 0.002
    return (
        box(size, walls, centre, tiles=(wall_tiles, wall_tiles), tint=BRICK_RED),
        rect(size[1], size[0], floor, (centre[0], centre[1], floor_z), rotation=FLOOR,
             tiles=(floor_tiles, floor_tiles), tint=GRAVEL_SAND),
    )


def person(x: float, y: float, body: str, head: str, motion: Motion = Motion(),
           height: float = 1.3) -> tuple[SceneObject, ...]:
    """A standing figure: a cylinder body on the floor (z = 0) and a sphere head, moving together."""
    return (
        cylinder(0.22, height, body, (x, y, height / 2), motion=motion),
        sphere(0.15, head, (x, y, height + 0.16), rotation=(180.0, 0.0, 0.0), motion=motion),
    )


# --- linear13: like E01 Frog (13 views, y in ±0.22 m, f = 1546.74 px at 1920; E01 depth 0.3-1.62) ---

LINEAR13 = SyntheticSequence(
    name="linear13",
    like="E01 Frog",
    content_name="SynTabletop",
    scene=Scene(objects=(
        *room((2.2, 2.6, 1.0), (0.45, 0.0, 0.15), "brick", 5, "gravel", 4),
        rect(0.5, 0.36, "rocket", (1.35, -0.3, 0.12), rotation=FACING_RIG),
        sphere(0.14, "astronaut", (0.85, 0.12, -0.205), rotation=FACING_RIG,
               motion=Motion(amplitude=(0.0, 0.15, 0.0), period=2.0)),
        cylinder(0.07, 0.28, "coffee", (0.62, -0.22, -0.205), motion=Motion(spin=45.0)),
        box((0.22, 0.22, 0.22), "chelsea", (1.05, 0.4, -0.17), rotation=(30.0, 0.0, 0.0),
            motion=Motion(amplitude=(0.0, 0.0, 0.06), period=1.6, spin=-25.0)),
        sphere(0.05, "immunohistochemistry", (0.5, 0.05, -0.25),
               motion=Motion(amplitude=(0.06, 0.1, 0.0), phase=(math.pi / 2, 0.0, 0.0), period=1.5)),
    )),
    rig=Rig(
        lens=Lens("Perspective", focal=1546.74),
        sources=linear_rig(13, 0.0364, 0.0),
        held_out=(Pose("h0", (0.0, 0.0728 + 0.0182, 0.0)),
                  Pose("h1", (0.0, -0.1092 - 0.0182, 0.0)),
                  Pose("h2", (0.05, 0.0, 0.03))),
        viewport=Pose("viewport", (0.0, 0.0, 0.0)),
        tiny_views=("v3", "v6", "v9"),
        kind="linear",
    ),
    depth_range=(0.35, 2.0),
    pose_traces=(
        PoseTrace(amplitude=(0.0, 0.2, 0.0), sway=(5.0, 0.0, 0.0), sway_cycles=2.0),
        PoseTrace(amplitude=(0.08, 0.15, 0.05), cycles=(1.0, 2.0, 1.5), look_at=(1.0, 0.0, -0.1)),
        PoseTrace(amplitude=(0.05, 0.1, 0.06), cycles=(2.0, 1.0, 2.0), phase=(0.0, math.pi / 2, 0.0),
                  sway=(0.0, 4.0, 0.0), sway_cycles=1.5),
    ),
    bounding_box_center=(0.9, 0.0, -0.1),
)

# --- planar16: like D01 Painter (4x4 views 7 cm apart; D01's f = 2410.34 px at 2048 is 46° wide) ---

_PAINTER_SWAY = Motion(amplitude=(0.0, 0.05, 0.0), period=3.0)
PLANAR16 = SyntheticSequence(
    name="planar16",
    like="D01 Painter",
    content_name="SynPainter",
    scene=Scene(objects=(
        *room((6.4, 5.6, 3.2), (2.0, 0.0, 1.6), "brick", 6, "gravel", 5),
        rect(0.9, 1.1, "astronaut", (2.7, 0.55, 1.25), rotation=(200.0, 0.0, 0.0)),
        *person(3.3, -0.35, "coffee", "chelsea", _PAINTER_SWAY, height=1.2),
        box((0.55, 0.07, 0.07), "colorwheel", (3.0, -0.1, 1.05), rotation=(30.0, 0.0, 0.0),
            motion=Motion(amplitude=(0.1, 0.12, 0.08), period=1.4, phase=(0.0, math.pi / 2, 0.0))),
        box((0.5, 0.5, 0.8), "rocket", (2.1, -0.6, 0.4), rotation=(15.0, 0.0, 0.0)),
        cylinder(0.12, 0.3, "immunohistochemistry", (2.1, -0.6, 0.95), motion=Motion(spin=30.0)),
    )),
    rig=Rig(
        lens=Lens("Perspective", focal=2260.0),
        sources=planar_rig(4, 4, 0.07, 1.1),
        held_out=(Pose("h0", (0.0, 0.0, 1.1)),
                  Pose("h1", (0.0, 0.07, 1.17)),
                  Pose("h2", (0.1, -0.035, 1.065))),
        viewport=Pose("viewport", (0.0, 0.0, 1.1)),
        tiny_views=("v0", "v5", "v10"),
        kind="planar 4x4",
    ),
    depth_range=(1.4, 5.8),
    pose_traces=(
        PoseTrace(amplitude=(0.0, 0.1, 0.1), phase=(0.0, 0.0, math.pi / 2)),
        PoseTrace(amplitude=(0.3, 0.05, 0.0), look_at=(3.0, 0.0, 1.0)),
        PoseTrace(amplitude=(0.0, 0.08, 0.05), cycles=(1.0, 2.0, 1.0), sway=(6.0, 3.0, 0.0)),
    ),
    bounding_box_center=(3.0, 0.0, 1.0),
)

# --- arc11: like W01 Group (an arc of radius 4 m, 2.6-3.4 m high, looking down, f = 1251.1) ---

_GROUP_TARGET = (0.0, 0.0, 1.0)
ARC11 = SyntheticSequence(
    name="arc11",
    like="W01 Group",
    content_name="SynGroup",
    scene=Scene(objects=(
        *room((18.0, 18.0, 7.0), (0.0, 0.0, 3.5), "brick", 6, "gravel", 9),
        rect(3.0, 2.0, "hubble_deep_field", (8.95, 0.0, 2.5), rotation=FACING_RIG),
        *person(0.6, 0.9, "astronaut", "chelsea", Motion(amplitude=(0.0, 0.5, 0.0), period=4.0)),
        *person(-0.5, 0.4, "coffee", "astronaut", Motion(spin=20.0)),
        *person(0.3, -0.8, "rocket", "coffee",
                Motion(amplitude=(0.4, 0.3, 0.0), phase=(0.0, math.pi / 2, 0.0), period=5.0)),
        *person(1.5, -0.1, "immunohistochemistry", "chelsea"),
        box((1.0, 0.6, 0.75), "colorwheel", (-0.2, -1.8, 0.375), rotation=(20.0, 0.0, 0.0)),
        sphere(0.2, "colorwheel", (-0.3, -0.3, 0.2), motion=Motion(amplitude=(0.6, 0.0, 0.0), period=3.0)),
    )),
    rig=Rig(
        lens=Lens("Perspective", focal=1251.1),
        sources=arc_rig(11, 4.0, (-60.0, 60.0), (2.6, 3.0, 3.4), _GROUP_TARGET),
        held_out=(Pose.looking_at("h0", (-3.804, 1.236, 2.8), _GROUP_TARGET),
                  Pose.looking_at("h1", (-3.464, -2.0, 3.2), _GROUP_TARGET),
                  Pose.looking_at("h2", (-3.5, 0.0, 2.0), _GROUP_TARGET)),
        viewport=Pose.looking_at("viewport", (-4.0, 0.0, 3.0), _GROUP_TARGET),
        tiny_views=("v3", "v5", "v7"),
        kind="arc",
    ),
    depth_range=(2.0, 20.0),
    pose_traces=(
        PoseTrace(amplitude=(0.3, 2.0, 0.0), look_at=_GROUP_TARGET),
        PoseTrace(amplitude=(0.8, 1.0, 0.3), cycles=(1.0, 1.0, 2.0), phase=(math.pi / 2, 0.0, 0.0),
                  look_at=(0.5, 0.0, 0.8)),
        PoseTrace(amplitude=(0.5, 1.5, 0.4), cycles=(2.0, 1.0, 1.0), look_at=(0.0, -0.5, 1.2)),
    ),
    bounding_box_center=(0.0, 0.0, 1.0),
)

# --- erp10: like B02 Chess (10 ERP 180°x180° cameras around (-0.5, -0.5, 1.0), RigRadius 0.3) ---

_CLUSTER = (-0.5, -0.5, 1.0)
_BOARD = (0.55, -0.45, 0.721)
ERP10 = SyntheticSequence(
    name="erp10",
    like="B02 Chess",
    content_name="SynChessGarden",
    scene=Scene(
        objects=(
            rect(120.0, 120.0, "grass", (0.0, 0.0, 0.0), rotation=FLOOR, tiles=(60.0, 60.0),
                 tint=GRASS_GREEN),
            box((0.9, 0.9, 0.72), "coffee", (0.55, -0.45, 0.36)),
            rect(0.6, 0.6, "checkerboard", _BOARD, rotation=FLOOR),
            cylinder(0.03, 0.1, "camera", (0.4, -0.6, 0.771)),
            cylinder(0.03, 0.1, "camera", (0.7, -0.3, 0.771),
                     motion=Motion(amplitude=(0.15, 0.0, 0.0), period=3.0)),
            sphere(0.035, "moon", (0.55, -0.3, 0.757), motion=Motion(amplitude=(0.0, 0.1, 0.0), period=2.5)),
            sphere(0.035, "coins", (0.45, -0.45, 0.757)),
            cylinder(0.3, 2.0, "brick", (-2.5, 1.5, 1.0), tiles=(2.0, 1.0), tint=BRICK_RED),
            sphere(0.8, "hubble_deep_field", (-1.0, -3.5, 0.8),
                   motion=Motion(amplitude=(0.5, 0.0, 0.0), period=4.0, spin=15.0)),
            rect(3.0, 2.0, "astronaut", (4.0, 1.0, 1.5), rotation=(200.0, 0.0, 0.0)),
            box((2.0, 2.0, 2.0), "rocket", (-4.0, 3.0, 1.0), rotation=(10.0, 0.0, 0.0)),
            *person(1.5, 1.5, "immunohistochemistry", "chelsea",
                    Motion(amplitude=(0.6, 0.4, 0.0), phase=(0.0, math.pi / 2, 0.0), period=5.0)),
        ),
        sky=Material("hubble_deep_field", (2.0, 1.0)),
    ),
    rig=Rig(
        lens=Lens("Equirectangular", hor_range=(-90.0, 90.0), ver_range=(-90.0, 90.0)),
        sources=outward_rig(_CLUSTER, 0.3, (0.0, 45.0, 90.0, 135.0, 180.0, -135.0, -90.0, -45.0),
                            (0.15, -0.15), 0.3),
        held_out=(Pose("h0", _CLUSTER, (22.5, 0.0, 0.0)),
                  Pose("h1", (-0.6, -0.4, 1.1), (200.0, 30.0, 0.0)),
                  Pose("h2", (-0.35, -0.65, 0.9), (-60.0, -20.0, 0.0))),
        viewport=Pose("viewport", _CLUSTER, (0.0, 10.0, 0.0)),
        tiny_views=("v0", "v1", "v8"),
        kind="ERP cluster",
        viewport_lens=Lens("Perspective", focal=960.0),
    ),
    depth_range=(0.3, math.inf),
    pose_traces=(
        PoseTrace(amplitude=(0.2, 0.2, 0.1), phase=(0.0, math.pi / 2, 0.0), sway=(90.0, 10.0, 0.0)),
        PoseTrace(amplitude=(0.15, 0.25, 0.1), cycles=(1.0, 1.0, 2.0), look_at=(0.55, -0.45, 0.75)),
        PoseTrace(amplitude=(0.25, 0.1, 0.15), cycles=(2.0, 1.0, 1.0), rotation=(180.0, 0.0, 0.0),
                  sway=(60.0, 30.0, 0.0), sway_cycles=1.5),
    ),
    bounding_box_center=(0.55, -0.45, 0.75),
)

SYNTHETIC: dict[str, SyntheticSequence] = {s.name: s for s in (LINEAR13, PLANAR16, ARC11, ERP10)}
