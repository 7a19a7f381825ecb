"""MIV sequences: the TMIV sequence JSON, the ``seq.yaml`` wrapper and the multi-view video.

Three layers, each usable alone:

1. :class:`Sequence` ⇄ TMIV sequence-configuration JSON (Version 2.x of TMIV ≤ 8 and 4.x of
   TMIV 19; miv_ctc.md §2.1): :func:`read_sequence_json`, :func:`write_sequence_json`. Keys
   this module does not model are kept in ``extra`` and written back, so a CTC JSON survives a
   read/write round trip.
2. :class:`SeqSpec` ⇄ ``seq.yaml``: where the JSON and the raw YUV files are, which views and
   frames to use (docs/sequence.md has every key, miv_ctc.md §7.2 the motivation).
3. :class:`MultiViewVideo` (from :func:`load_sequence`): lazy, memory-mapped access to the
   texture and depth of the selected views and frames, in the shapes the codec and the
   synthesizer expect (docs/architecture.md, "Content in"). :func:`write_sequence` writes the
   reverse: a folder that is itself a valid sequence (decoder output, synthetic content).

Every problem with a user's files raises :class:`ctc.errors.InputError` (or a subclass) whose
``str()`` is one line naming the file.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from collections.abc import Mapping, Sequence as SequenceABC
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from ctc.atomic import atomic_dir, write_bytes_atomic
from ctc.camera import PROJECTIONS, Camera
from ctc.color import depth_level as _depth_level
from ctc.color import requantize, yuv420_to_rgb
from ctc.errors import FormatError, InputError, MissingFileError
from ctc.yuv import (
    PixFmt,
    YuvReader,
    check_frame_range,
    parse_pix_fmt,
    pix_fmt_for,
    pix_fmt_from_filename,
    write_yuv,
    yuv_filename,
)

#: CTC file-name patterns (miv_ctc.md §2.2).
DEFAULT_TEXTURE_PATTERN = "{view}_texture_{w}x{h}_yuv420p10le.yuv"
DEFAULT_DEPTH_PATTERN = "{view}_depth_{w}x{h}_yuv420p16le.yuv"
#: Bits of the depth samples MultiViewVideo hands out (TMIV rescales other depths to this).
DEPTH_BITS = 16
#: Names TMIV takes as source views when ``sourceCameraNames`` is absent.
SOURCE_NAME_RULE = re.compile(r"v[0-9]+")
#: Camera names that are never source or held-out views.
SPECIAL_CAMERAS = ("viewport", "center")
SUPPORTED_VERSIONS = (2, 3, 4)
#: A view of a MultiViewVideo: its camera name, or its index in ``mvv.views``.
ViewKey = str | int


def _name_list(names: SequenceABC[str], limit: int = 8) -> str:
    """``v0, v1, ..., v20`` for error messages (at most ``limit`` names)."""
    names = list(names)
    if len(names) <= limit:
        return ", ".join(names)
    return ", ".join(names[: limit - 1]) + f", ..., {names[-1]}"


# ============================================================================================
# 1. Sequence <-> TMIV JSON


@dataclasses.dataclass(frozen=True)
class Sequence:
    """One TMIV sequence-configuration JSON: the content's metadata and all its cameras."""

    version: str
    """``Version``: "2.0" (TMIV ≤ 8), "4.0" (TMIV 19)."""
    content_name: str
    """``Content_name``, e.g. "Group"."""
    fps: float
    """``Fps``: frames per second (25 or 30 for CTC content)."""
    frames_number: int
    """``Frames_number``: frames in the content's YUV files."""
    cameras: tuple[Camera, ...]
    """``cameras``: source views, held-out views and ``viewport``/``center``, in file order."""
    source_camera_names: tuple[str, ...]
    """``sourceCameraNames``, or (if absent) the cameras named ``v<digits>``, in file order."""
    bounding_box_center: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """``BoundingBox_center``: scene centre in metres."""
    lengths_in_meters: bool = True
    """``lengthsInMeters``: true for all CTC content."""
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)
    """Top-level keys not modelled here (``Informative``, ``sourceCameraIds``, ``frameRanges``...)."""

    def __post_init__(self) -> None:
        # Accept lists from callers; store tuples so that equality and hashing of parts work.
        for name in ("cameras", "source_camera_names", "bounding_box_center"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        names = [c.name for c in self.cameras]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise InputError(None, f"sequence {self.content_name!r}: duplicate camera names {duplicates}")
        unknown = [n for n in self.source_camera_names if n not in names]
        if unknown:
            raise InputError(
                None,
                f"sequence {self.content_name!r}: source views {unknown} are not cameras "
                f"({_name_list(names)})",
            )

    def camera(self, name: str) -> Camera:
        """The camera called ``name``.

        Raises:
            InputError: no camera has that name (the message lists the cameras).
        """
        for cam in self.cameras:
            if cam.name == name:
                return cam
        raise InputError(
            None,
            f"no camera named {name!r} in sequence {self.content_name!r} "
            f"(cameras: {_name_list([c.name for c in self.cameras])})",
        )

    @property
    def camera_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.cameras)

    @property
    def source_cameras(self) -> tuple[Camera, ...]:
        """The source views, in ``source_camera_names`` order."""
        return tuple(self.camera(n) for n in self.source_camera_names)

    @property
    def viewport(self) -> Camera | None:
        """The ``viewport`` camera that pose traces move (miv_ctc.md §1.5), if the JSON has one."""
        return next((c for c in self.cameras if c.name == "viewport"), None)

    @property
    def held_out_cameras(self) -> tuple[Camera, ...]:
        """Cameras that are neither source views nor ``viewport``/``center``."""
        skip = set(self.source_camera_names) | set(SPECIAL_CAMERAS)
        return tuple(c for c in self.cameras if c.name not in skip)

    def replace(self, **changes: Any) -> Sequence:
        """A copy with some fields changed (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

    # -- JSON --------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The TMIV JSON object (``far = inf`` as ``"inf"``), top-level keys in TMIV order."""
        out: dict[str, Any] = {
            "Version": self.version,
            "Content_name": self.content_name,
            "BoundingBox_center": _floats(self.bounding_box_center),
            "Fps": _plain_number(self.fps),
            "Frames_number": self.frames_number,
            "lengthsInMeters": self.lengths_in_meters,
            "sourceCameraNames": list(self.source_camera_names),
        }
        out.update(self.extra)
        out["cameras"] = [_camera_to_dict(c) for c in self.cameras]
        return out

    @classmethod
    def from_dict(cls, data: Any, where: str | os.PathLike[str] | None = None) -> Sequence:
        """Parse a TMIV JSON object; errors name ``where`` (the file)."""
        return _sequence_from_dict(data, where)


def _plain_number(x: float) -> float | int:
    """30.0 → 30 (as TMIV files write ``Fps``), other values unchanged."""
    return int(x) if float(x).is_integer() else float(x)


class _JsonError(Exception):
    """A structural problem inside the JSON; converted to InputError with the file name."""


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _JsonError(f"{key} must be a finite number, got {value!r}")
    return float(value)


def _numbers(value: Any, n: int, key: str) -> tuple[float, ...]:
    if not isinstance(value, list) or len(value) != n:
        raise _JsonError(f"{key} must be a list of {n} numbers, got {value!r}")
    return tuple(_number(v, key) for v in value)


def _integer(value: Any, key: str, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise _JsonError(f"{key} must be an integer, got {value!r}")
    if value < lo or (hi is not None and value > hi):
        bound = f">= {lo}" if hi is None else f"in {lo}..{hi}"
        raise _JsonError(f"{key} must be {bound}, got {value!r}")
    return int(value)


def _far(value: Any) -> float:
    """``Depth_range`` far: a number, or ``"inf"`` (any case) / ``Infinity`` for infinite depth."""
    if isinstance(value, str) and value.strip().lower() in ("inf", "+inf", "infinity"):
        return math.inf
    if isinstance(value, float) and math.isinf(value) and value > 0:
        return math.inf
    return _number(value, "Depth_range far")


def _flag(value: Any, key: str) -> bool:
    if isinstance(value, bool) or value in (0, 1):
        return bool(value)
    raise _JsonError(f"{key} must be true/false, got {value!r}")


# Camera keys this module models, in the order they are written (TMIV spelling).
_CAMERA_KEYS = (
    "Name", "Position", "Rotation", "Depth_range", "Resolution", "Projection", "Focal",
    "Principle_point", "Hor_range", "Ver_range", "BitDepthColor", "BitDepthDepth",
    "ColorSpace", "DepthColorSpace", "HasInvalidDepth",
)
_DEFAULT_COLOR_SPACES = {"ColorSpace": "YUV420", "DepthColorSpace": "YUV420"}


def _camera_from_dict(data: Any, index: int) -> Camera:
    """One entry of ``cameras``; raises :class:`_JsonError` naming the camera."""
    if not isinstance(data, dict):
        raise _JsonError(f"cameras[{index}] must be an object")
    name = data.get("Name")
    if not isinstance(name, str) or not name:
        raise _JsonError(f"cameras[{index}] has no Name")
    try:
        return _camera_fields(data, name)
    except _JsonError as err:
        raise _JsonError(f"camera {name!r}: {err}") from None


def _camera_fields(data: dict[str, Any], name: str) -> Camera:
    projection = data.get("Projection")
    if projection == "Orthographic":
        raise _JsonError("unsupported projection 'Orthographic' (only Perspective and Equirectangular)")
    if projection not in PROJECTIONS:
        raise _JsonError(f"unknown projection {projection!r} (expected {' or '.join(PROJECTIONS)})")
    if "Resolution" not in data:
        raise _JsonError("missing Resolution")
    resolution = data["Resolution"]
    if not isinstance(resolution, list) or len(resolution) != 2:
        raise _JsonError(f"Resolution must be [width, height], got {resolution!r}")
    width, height = (_integer(v, "Resolution", 1) for v in resolution)
    depth_range = data.get("Depth_range", [0.5, 25.0])
    if not isinstance(depth_range, list) or len(depth_range) != 2:
        raise _JsonError(f"Depth_range must be [near, far], got {depth_range!r}")
    near, far = _number(depth_range[0], "Depth_range near"), _far(depth_range[1])
    if not 0 < near < far:
        raise _JsonError(f"Depth_range must have 0 < near < far, got {depth_range!r}")
    fields: dict[str, Any] = {
        "name": name,
        "projection": projection,
        "resolution": (width, height),
        "position": _numbers(data.get("Position", [0, 0, 0]), 3, "Position"),
        "rotation": _numbers(data.get("Rotation", [0, 0, 0]), 3, "Rotation"),
        "depth_range": (near, far),
        "bit_depth_color": _integer(data.get("BitDepthColor", 10), "BitDepthColor", 1, 16),
        "bit_depth_depth": _integer(data.get("BitDepthDepth", 16), "BitDepthDepth", 1, 16),
        "has_invalid_depth": _flag(data.get("HasInvalidDepth", False), "HasInvalidDepth"),
    }
    if projection == "Perspective":
        for key in ("Focal", "Principle_point"):
            if key not in data:
                raise _JsonError(f"perspective camera without {key}")
        fields["focal"] = _numbers(data["Focal"], 2, "Focal")
        fields["principal_point"] = _numbers(data["Principle_point"], 2, "Principle_point")
    else:
        fields["hor_range"] = _numbers(data.get("Hor_range", [-180, 180]), 2, "Hor_range")
        fields["ver_range"] = _numbers(data.get("Ver_range", [-90, 90]), 2, "Ver_range")
    modelled = set(_CAMERA_KEYS) - set(_DEFAULT_COLOR_SPACES)
    if projection == "Perspective":
        modelled -= {"Hor_range", "Ver_range"}
    else:
        modelled -= {"Focal", "Principle_point"}
    # ColorSpace/DepthColorSpace are always written ("YUV420" unless extra says otherwise), so
    # only a non-default value needs keeping: then read → write → read is the identity.
    fields["extra"] = {
        k: v for k, v in data.items()
        if k not in modelled and _DEFAULT_COLOR_SPACES.get(k) != v
    }
    return Camera(**fields)


def _floats(values: SequenceABC[float] | None) -> list[float]:
    return [float(v) for v in values or ()]


def _camera_to_dict(cam: Camera) -> dict[str, Any]:
    near, far = cam.depth_range
    out: dict[str, Any] = {
        "Name": cam.name,
        "Position": _floats(cam.position),
        "Rotation": _floats(cam.rotation),
        "Depth_range": [float(near), "inf" if math.isinf(far) else float(far)],
        "Resolution": [int(v) for v in cam.resolution],
        "Projection": cam.projection,
    }
    if cam.projection == "Perspective":
        out["Focal"] = _floats(cam.focal)
        out["Principle_point"] = _floats(cam.principal_point)
    else:
        out["Hor_range"] = _floats(cam.hor_range or (-180.0, 180.0))
        out["Ver_range"] = _floats(cam.ver_range or (-90.0, 90.0))
    out["BitDepthColor"] = cam.bit_depth_color
    out["BitDepthDepth"] = cam.bit_depth_depth
    for key, default in _DEFAULT_COLOR_SPACES.items():
        out[key] = cam.extra.get(key, default)
    out["HasInvalidDepth"] = cam.has_invalid_depth
    out.update({k: v for k, v in cam.extra.items() if k not in out})
    return out


_TOP_KEYS = (
    "Version", "Content_name", "BoundingBox_center", "Fps", "Frames_number", "lengthsInMeters",
    "sourceCameraNames", "cameras",
)


def _sequence_from_dict(data: Any, where: str | os.PathLike[str] | None) -> Sequence:
    try:
        return _sequence_fields(data, where)
    except _JsonError as err:
        raise FormatError(where, str(err)) from None
    except InputError as err:  # Sequence.__post_init__: duplicate names, unknown source views
        raise FormatError(where, err.problem) from None


def _sequence_fields(data: Any, where: str | os.PathLike[str] | None) -> Sequence:
    if not isinstance(data, dict):
        raise _JsonError("top level must be a JSON object")
    for key in ("Version", "Fps", "Frames_number", "cameras"):
        if key not in data:
            raise _JsonError(f"missing required key {key!r}")
    version = data["Version"]
    if isinstance(version, (int, float)) and not isinstance(version, bool):
        version = f"{float(version):.1f}"
    match = re.fullmatch(r"(\d+)\.(\d+)", str(version))
    if match is None or int(match[1]) not in SUPPORTED_VERSIONS:
        raise _JsonError(
            f"unsupported Version {data['Version']!r} (TMIV sequence JSON 2.x to 4.x)"
        )
    raw_cameras = data["cameras"]
    if not isinstance(raw_cameras, list) or not raw_cameras:
        raise _JsonError("cameras must be a non-empty list")
    cameras = tuple(_camera_from_dict(c, i) for i, c in enumerate(raw_cameras))
    names = [c.name for c in cameras]
    if "sourceCameraNames" in data:
        source = data["sourceCameraNames"]
        if not isinstance(source, list) or not all(isinstance(n, str) for n in source):
            raise _JsonError("sourceCameraNames must be a list of camera names")
    else:
        source = [n for n in names if SOURCE_NAME_RULE.fullmatch(n)]
    content_name = data.get("Content_name", Path(where).stem if where else "sequence")
    return Sequence(
        version=str(version),
        content_name=str(content_name),
        fps=_number(data["Fps"], "Fps"),
        frames_number=_integer(data["Frames_number"], "Frames_number", 1),
        cameras=cameras,
        source_camera_names=tuple(source),
        bounding_box_center=_numbers(data.get("BoundingBox_center", [0, 0, 0]), 3, "BoundingBox_center"),
        lengths_in_meters=_flag(data.get("lengthsInMeters", True), "lengthsInMeters"),
        extra={k: v for k, v in data.items() if k not in _TOP_KEYS},
    )


def parse_sequence_json(text: str, where: str | os.PathLike[str] | None = None) -> Sequence:
    """Parse TMIV sequence JSON text (e.g. carried inside a bitstream); errors name ``where``.

    Raises:
        FormatError: malformed JSON (with line and column) or a structural problem (missing
            key, unknown or orthographic projection, bad Depth_range...).
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise FormatError(
            where, f"malformed JSON at line {err.lineno}, column {err.colno}: {err.msg}"
        ) from None
    return Sequence.from_dict(data, where)


def read_sequence_json(path: str | os.PathLike[str]) -> Sequence:
    """Read a TMIV sequence JSON (Version 2.x or 4.x).

    Raises:
        MissingFileError: no such file.
        FormatError: malformed JSON (with line and column) or content (see
            :func:`parse_sequence_json`).
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(path, "no such file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise FormatError(path, f"not UTF-8 text ({err.reason} at byte {err.start})") from None
    return parse_sequence_json(text, path)


def sequence_json_text(seq: Sequence) -> str:
    """The JSON text :func:`write_sequence_json` writes: 4-space indent, number lists on one line."""
    text = json.dumps(seq.to_dict(), indent=4, allow_nan=False)
    # Put short lists of scalars on one line, as TMIV's files do ("Position": [0.0, 0.1, 1.2]).
    return re.sub(
        r"\[\s*([^\[\]{}]*?)\s*\]",
        lambda m: "[" + ", ".join(p.strip() for p in m[1].split(",")) + "]" if m[1] else "[]",
        text,
    ) + "\n"


def write_sequence_json(seq: Sequence, path: str | os.PathLike[str]) -> None:
    """Write ``seq`` as TMIV JSON, atomically (reading it back gives an equal :class:`Sequence`)."""
    write_bytes_atomic(path, sequence_json_text(seq).encode("utf-8"))


# ============================================================================================
# 2. seq.yaml


@dataclasses.dataclass(frozen=True)
class SeqSpec:
    """A ``seq.yaml``: which JSON, where the YUV files are, which views and frames.

    Paths are absolute once loaded (the YAML gives them relative to its own folder).
    """

    json: Path
    """``json``: the TMIV sequence JSON (required)."""
    content: Path
    """``content``: folder holding the YUV files (default: the YAML's folder)."""
    texture: str = DEFAULT_TEXTURE_PATTERN
    """``texture``: file-name pattern with ``{view}``, ``{w}``, ``{h}`` (and optionally ``{pix_fmt}``)."""
    depth: str | None = DEFAULT_DEPTH_PATTERN
    """``depth``: the same for depth; ``null`` for texture-only content."""
    texture_pix_fmt: PixFmt = dataclasses.field(default_factory=lambda: parse_pix_fmt("yuv420p10le"))
    """``texture_pix_fmt``: default taken from the pattern's ``_<pix_fmt>.yuv`` suffix."""
    depth_pix_fmt: PixFmt | None = dataclasses.field(default_factory=lambda: parse_pix_fmt("yuv420p16le"))
    """``depth_pix_fmt``: default taken from the pattern's suffix; None without depth."""
    start_frame: int = 0
    """``start_frame``: first frame used, an index into the files (default 0)."""
    frames: int | None = None
    """``frames``: number of frames used (default: all from ``start_frame`` to the end)."""
    views: tuple[str, ...] | None = None
    """``views``: cameras to use, in order (default: the JSON's source views)."""
    origin: Path | None = dataclasses.field(default=None, compare=False)
    """The file this spec was read from (the YAML, or the JSON for a bare JSON); for messages."""

    @classmethod
    def for_json(cls, json_path: str | os.PathLike[str]) -> SeqSpec:
        """The spec of a bare TMIV JSON: content beside it, CTC patterns, all source views."""
        json_path = Path(json_path).resolve()
        return cls(json=json_path, content=json_path.parent, origin=json_path)


_YAML_KEYS = (
    "json", "content", "texture", "depth", "texture_pix_fmt", "depth_pix_fmt", "start_frame",
    "frames", "views",
)


def _resolve_pix_fmt(where: Path, key: str, pattern: str, given: Any) -> PixFmt:
    """The pix_fmt of a pattern: the ``*_pix_fmt`` key if given, else the pattern's suffix."""
    from_name = pix_fmt_from_filename(pattern)
    if given is None:
        if from_name is None:
            raise InputError(
                where, f"cannot tell the pix_fmt of {pattern!r}: end it with _<pix_fmt>.yuv or "
                f"give {key}",
            )
        return from_name
    try:
        fmt = parse_pix_fmt(str(given))
    except InputError as err:
        raise InputError(where, f"{key}: {err.problem}") from None
    if from_name is not None and from_name != fmt:
        raise InputError(where, f"{key} {fmt.name} contradicts the pattern {pattern!r}")
    return fmt


def _check_pattern(where: Path, key: str, pattern: Any) -> str:
    if not isinstance(pattern, str) or "{view}" not in pattern:
        raise InputError(where, f"{key} must be a file-name pattern containing {{view}}, got {pattern!r}")
    try:
        yuv_filename(pattern, "v0", 1, 1, "yuv420p")
    except InputError as err:
        raise InputError(where, f"{key}: {err.problem}") from None
    return pattern


def _yaml_int(where: Path, key: str, value: Any, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise InputError(where, f"{key} must be an integer >= {lo}, got {value!r}")
    return value


def _yaml_views(where: Path, value: Any) -> tuple[str, ...] | None:
    if value is None or value == "all":
        return None
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise InputError(where, f"views must be 'all' or a list of camera names, got {value!r}")
    if len(set(value)) != len(value):
        raise InputError(where, f"views lists a camera twice: {value!r}")
    return tuple(value)


def _yaml_error(err: yaml.YAMLError) -> str:
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return " ".join(f"malformed YAML{where}: {problem}".split())


def read_seq_yaml(path: str | os.PathLike[str]) -> SeqSpec:
    """Load a ``seq.yaml`` (``yaml.safe_load``); see docs/sequence.md for the keys.

    Raises:
        MissingFileError: no such file.
        InputError: malformed YAML (with line), not a mapping, an unknown key, a missing
            ``json`` key, a bad value (pattern without ``{view}``, negative frames, unknown
            pix_fmt...).
    """
    path = Path(path).resolve()
    if not path.is_file():
        raise MissingFileError(path, "no such file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise FormatError(path, _yaml_error(err)) from None
    except UnicodeDecodeError as err:
        raise FormatError(path, f"not UTF-8 text ({err.reason} at byte {err.start})") from None
    if not isinstance(data, dict):
        raise FormatError(path, "expected a mapping of keys (json, content, texture, ...)")
    unknown = [str(k) for k in data if k not in _YAML_KEYS]
    if unknown:
        raise InputError(path, f"unknown key {unknown[0]!r} (known keys: {', '.join(_YAML_KEYS)})")
    if not isinstance(data.get("json"), str):
        raise InputError(path, "missing 'json' (path of the TMIV sequence JSON)")
    content = data.get("content", ".")
    if not isinstance(content, str):
        raise InputError(path, f"content must be a folder path, got {content!r}")
    texture = _check_pattern(path, "texture", data.get("texture", DEFAULT_TEXTURE_PATTERN))
    depth = data.get("depth", DEFAULT_DEPTH_PATTERN)
    depth = None if depth is None else _check_pattern(path, "depth", depth)
    frames = data.get("frames")
    return SeqSpec(
        json=(path.parent / data["json"]).resolve(),
        content=(path.parent / content).resolve(),
        texture=texture,
        depth=depth,
        texture_pix_fmt=_resolve_pix_fmt(path, "texture_pix_fmt", texture, data.get("texture_pix_fmt")),
        depth_pix_fmt=None if depth is None else _resolve_pix_fmt(
            path, "depth_pix_fmt", depth, data.get("depth_pix_fmt")
        ),
        start_frame=_yaml_int(path, "start_frame", data.get("start_frame", 0), 0),
        frames=None if frames is None else _yaml_int(path, "frames", frames, 1),
        views=_yaml_views(path, data.get("views")),
        origin=path,
    )


def seq_yaml_text(spec: SeqSpec, yaml_dir: str | os.PathLike[str]) -> str:
    """The ``seq.yaml`` text for ``spec`` placed in ``yaml_dir`` (paths made relative if possible)."""

    def rel(p: Path) -> str:
        try:
            return Path(os.path.relpath(p, yaml_dir)).as_posix()
        except ValueError:  # another drive on Windows
            return str(p)

    data: dict[str, Any] = {"json": rel(spec.json)}
    if Path(spec.content).resolve() != Path(yaml_dir).resolve():
        data["content"] = rel(spec.content)
    data["texture"] = spec.texture
    if pix_fmt_from_filename(spec.texture) != spec.texture_pix_fmt:
        data["texture_pix_fmt"] = spec.texture_pix_fmt.name
    data["depth"] = spec.depth
    if spec.depth is not None and spec.depth_pix_fmt is not None and (
        pix_fmt_from_filename(spec.depth) != spec.depth_pix_fmt
    ):
        data["depth_pix_fmt"] = spec.depth_pix_fmt.name
    data["start_frame"] = spec.start_frame
    if spec.frames is not None:
        data["frames"] = spec.frames
    if spec.views is not None:
        data["views"] = list(spec.views)
    header = "# mvcodec sequence description (docs/sequence.md)\n"
    return header + yaml.safe_dump(data, sort_keys=False, default_flow_style=None)


def write_seq_yaml(spec: SeqSpec, path: str | os.PathLike[str]) -> None:
    """Write ``spec`` as a ``seq.yaml`` at ``path``, atomically."""
    path = Path(path)
    write_bytes_atomic(path, seq_yaml_text(spec, path.resolve().parent).encode("utf-8"))


# ============================================================================================
# 3. MultiViewVideo


class View:
    """The files of one camera over the sequence's frame range (frame 0 = ``start_frame``).

    Texture is required; depth is optional (``depth_samples`` raises if absent). Depth comes
    out at 16 bits whatever the file holds: TMIV rescales e.g. Kitchen's 10-bit depth by
    ``round(65535·v/1023)`` (miv_ctc.md §2.2).
    """

    def __init__(
        self, camera: Camera, texture: YuvReader, depth: YuvReader | None, start_frame: int,
        num_frames: int,
    ) -> None:
        self.camera = camera
        self.texture = texture
        self.depth = depth
        self.start_frame = start_frame
        self.num_frames = num_frames

    @property
    def name(self) -> str:
        return self.camera.name

    @property
    def texture_bits(self) -> int:
        return self.texture.pix_fmt.bits

    def _absolute(self, reader: YuvReader, start: int, count: int | None) -> tuple[int, int]:
        """(file frame index, count) of a range given relative to ``start_frame``."""
        count = check_frame_range(reader.path, start, count, self.num_frames, "the sequence",
                                  f" (from file frame {self.start_frame})")
        return self.start_frame + start, count

    def texture_yuv(self, start: int = 0, count: int | None = None) -> tuple[np.ndarray, ...]:
        """(Y, U, V) uint16: ``(count, H, W)``, ``(count, ⌈H/2⌉, ⌈W/2⌉)`` ×2."""
        first, count = self._absolute(self.texture, start, count)
        return tuple(p.astype(np.uint16, copy=False) for p in self.texture.read(first, count))

    def texture_rgb(
        self, start: int = 0, count: int | None = None, device: torch.device | str | None = None
    ) -> torch.Tensor:
        """R'G'B' float32 ``(count, 3, H, W)`` in [0, 1] (BT.709 limited range, chroma replicated)."""
        y, u, v = self.texture_yuv(start, count)
        return yuv420_to_rgb(y, u, v, self.texture_bits, device=device)

    def _depth_reader(self) -> YuvReader:
        if self.depth is None:
            raise InputError(self.texture.path, f"view {self.name!r} has no depth file")
        return self.depth

    def depth_samples(self, start: int = 0, count: int | None = None) -> np.ndarray:
        """16-bit depth samples (normalised disparity), uint16 ``(count, H, W)``."""
        reader = self._depth_reader()
        first, count = self._absolute(reader, start, count)
        luma = reader.read_luma(first, count)
        bits = reader.pix_fmt.bits
        return luma.astype(np.uint16) if bits == DEPTH_BITS else requantize(luma, bits, DEPTH_BITS)

    def depth_level(
        self, start: int = 0, count: int | None = None, device: torch.device | str | None = None
    ) -> torch.Tensor:
        """Depth level v/65535 as float32 ``(count, H, W)`` in [0, 1] on ``device``."""
        samples = torch.from_numpy(self.depth_samples(start, count).astype(np.int32))
        return _depth_level(samples.to(device), DEPTH_BITS)


def _open_view(spec: SeqSpec, camera: Camera, start_frame: int, frames: int | None,
               require_depth: bool) -> tuple[View, int]:
    """Open a camera's files; returns the view and the frames its files have from ``start_frame``."""
    w, h = camera.resolution
    tex_fmt = spec.texture_pix_fmt
    if tex_fmt.chroma != 420:
        raise InputError(spec.origin, f"texture_pix_fmt {tex_fmt.name}: texture must be 4:2:0")
    texture = YuvReader(spec.content / yuv_filename(spec.texture, camera.name, w, h, tex_fmt), w, h, tex_fmt)
    if camera.bit_depth_color != tex_fmt.bits:
        raise InputError(
            texture.path,
            f"camera {camera.name!r} has BitDepthColor {camera.bit_depth_color} but the file is "
            f"{tex_fmt.name}",
        )
    depth = None
    if spec.depth is not None and spec.depth_pix_fmt is not None:
        depth_path = spec.content / yuv_filename(spec.depth, camera.name, w, h, spec.depth_pix_fmt)
        if require_depth or depth_path.exists():
            depth = YuvReader(depth_path, w, h, spec.depth_pix_fmt)
            if camera.bit_depth_depth != spec.depth_pix_fmt.bits:
                raise InputError(
                    depth.path,
                    f"camera {camera.name!r} has BitDepthDepth {camera.bit_depth_depth} but the "
                    f"file is {spec.depth_pix_fmt.name}",
                )
    readers = [r for r in (texture, depth) if r is not None]
    shortest = min(readers, key=lambda r: r.num_frames)
    available = shortest.num_frames - start_frame
    if available <= 0 or (frames is not None and frames > available):
        wanted = f"{frames} frames" if frames is not None else "frames"
        raise InputError(
            shortest.path,
            f"{wanted} from start_frame {start_frame} requested but the file has "
            f"{shortest.num_frames} frames",
        )
    view = View(camera, texture, depth, start_frame, frames if frames is not None else available)
    return view, available


class MultiViewVideo:
    """The selected views × frames of a sequence, texture and depth, read lazily from disk.

    Built by :func:`load_sequence`. Frame indices of all methods are relative to
    ``start_frame``: frame 0 is file frame ``start_frame``. A view is named by its camera name
    or by its index in :attr:`views` (training code iterates indices). Shapes
    (docs/architecture.md):
    texture planes uint16 ``(count, H, W)`` and ``(count, H/2, W/2)`` ×2; RGB torch float32
    ``(count, 3, H, W)``; depth uint16 ``(count, H, W)`` at 16 bits.

    Attributes:
        sequence: the parsed JSON (:class:`Sequence`).
        spec: the :class:`SeqSpec` it was opened with.
        views: names of the selected views, in order.
        cameras: their :class:`Camera` objects, same order.
        num_frames, width, height, fps, start_frame, texture_bits: as named; all views share
            one resolution (the codec needs it).
    """

    def __init__(self, spec: SeqSpec, sequence: Sequence) -> None:
        self.spec = spec
        self.sequence = sequence
        where = spec.origin or spec.json
        names = spec.views if spec.views is not None else sequence.source_camera_names
        if not names:
            raise InputError(where, "no views: the JSON has no source cameras and seq.yaml no 'views'")
        try:
            cameras = [sequence.camera(n) for n in names]
        except InputError as err:
            raise InputError(where, err.problem) from None
        size = cameras[0].resolution
        for cam in cameras[1:]:
            if cam.resolution != size:
                raise InputError(
                    where,
                    f"view {cam.name!r} is {cam.width}x{cam.height} but {cameras[0].name!r} is "
                    f"{size[0]}x{size[1]}: all coded views must have one resolution",
                )
        opened = [_open_view(spec, cam, spec.start_frame, spec.frames, True) for cam in cameras]
        self.num_frames = spec.frames if spec.frames is not None else min(a for _, a in opened)
        self._views: dict[str, View] = {}
        for view, _ in opened:
            view.num_frames = self.num_frames
            self._views[view.name] = view
        self._names = tuple(names)
        self.width, self.height = size
        self.fps = sequence.fps
        self.start_frame = spec.start_frame
        self.texture_bits = spec.texture_pix_fmt.bits
        self.has_depth = spec.depth is not None

    def __repr__(self) -> str:
        return (
            f"MultiViewVideo({self.sequence.content_name!r}: {len(self._names)} views "
            f"{self.width}x{self.height}, frames {self.start_frame}.."
            f"{self.start_frame + self.num_frames - 1})"
        )

    @property
    def views(self) -> list[str]:
        return list(self._names)

    @property
    def cameras(self) -> list[Camera]:
        return [self._views[n].camera for n in self._names]

    def _name(self, view: ViewKey) -> str:
        """A camera name from a name or an index into :attr:`views`."""
        if isinstance(view, (int, np.integer)) and not isinstance(view, bool):
            if not 0 <= view < len(self._names):
                raise InputError(
                    self.spec.origin, f"view index {view} outside 0..{len(self._names) - 1}"
                )
            return self._names[view]
        return view

    def view(self, view: ViewKey) -> View:
        """A selected view; other cameras go through :meth:`open_view`."""
        name = self._name(view)
        if name not in self._names:
            raise InputError(
                self.spec.origin, f"{name!r} is not a selected view ({_name_list(self._names)})"
            )
        return self._views[name]

    def camera(self, view: ViewKey) -> Camera:
        """The camera of any camera name in the JSON (selected view or not), or of a view index."""
        try:
            return self.sequence.camera(self._name(view))
        except InputError as err:
            raise InputError(self.spec.origin, err.problem) from None

    def open_view(self, name: ViewKey) -> View:
        """Any camera of the JSON whose texture file exists (held-out views: ground truth).

        Same frame range as the selected views; depth is opened when its file exists.

        Raises:
            InputError: unknown camera; MissingFileError: no texture file; InputError: the file
                is shorter than the selected frame range.
        """
        name = self._name(name)
        if name not in self._views:
            view, _ = _open_view(self.spec, self.camera(name), self.start_frame, self.num_frames, False)
            self._views[name] = view
        return self._views[name]

    def texture_path(self, view: ViewKey) -> Path:
        """Path of a camera's texture file (whether or not it exists)."""
        cam = self.camera(view)
        return self.spec.content / yuv_filename(
            self.spec.texture, cam.name, cam.width, cam.height, self.spec.texture_pix_fmt
        )

    def depth_path(self, view: ViewKey) -> Path | None:
        """Path of a camera's depth file (None for texture-only content)."""
        if self.spec.depth is None:
            return None
        cam = self.camera(view)
        return self.spec.content / yuv_filename(
            self.spec.depth, cam.name, cam.width, cam.height, self.spec.depth_pix_fmt
        )

    def texture_yuv(self, view: ViewKey, start: int = 0, count: int | None = None) -> tuple[np.ndarray, ...]:
        """(Y, U, V) uint16 planes of ``count`` frames from ``start`` (see :meth:`View.texture_yuv`)."""
        return self.view(view).texture_yuv(start, count)

    def texture_rgb(
        self, view: ViewKey, start: int = 0, count: int | None = None,
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """R'G'B' float32 ``(count, 3, H, W)`` in [0, 1] on ``device`` (BT.709 limited range)."""
        return self.view(view).texture_rgb(start, count, device)

    def depth_samples(self, view: ViewKey, start: int = 0, count: int | None = None) -> np.ndarray:
        """16-bit depth samples, uint16 ``(count, H, W)``."""
        return self.view(view).depth_samples(start, count)

    def depth_level(
        self, view: ViewKey, start: int = 0, count: int | None = None,
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """Depth level (sample/65535) float32 ``(count, H, W)`` in [0, 1] on ``device``."""
        return self.view(view).depth_level(start, count, device)


def _find_description(folder: Path) -> Path:
    """In a folder: its ``seq.yaml``, else its only ``*.json``."""
    if (folder / "seq.yaml").is_file():
        return folder / "seq.yaml"
    jsons = sorted(folder.glob("*.json"))
    if len(jsons) == 1:
        return jsons[0]
    found = "no" if not jsons else f"{len(jsons)}"
    raise InputError(folder, f"folder has no seq.yaml and {found} .json files (expected one)")


def load_sequence(path: str | os.PathLike[str]) -> MultiViewVideo:
    """Open a sequence from a ``seq.yaml``, a TMIV JSON, or a folder holding either.

    A bare JSON means: YUV files beside it with the CTC names, all source views, all frames.

    Raises:
        MissingFileError: the description, the JSON or a YUV file is missing.
        InputError / FormatError: any problem in them (malformed JSON/YAML, unknown key or
            camera, unsupported projection, file size not a whole number of frames, too few
            frames, views of different resolutions...).
    """
    path = Path(path)
    if path.is_dir():
        path = _find_description(path)
    if not path.exists():
        raise MissingFileError(path, "no such file")
    suffix = path.suffix.lower()
    if suffix == ".json":
        spec = SeqSpec.for_json(path)
    elif suffix in (".yaml", ".yml"):
        spec = read_seq_yaml(path)
    else:
        raise InputError(path, "expected a seq.yaml, a TMIV .json or a folder holding one")
    return MultiViewVideo(spec, read_sequence_json(spec.json))


# ============================================================================================
# writing a sequence folder


def _planes_numpy(planes: Any) -> list[np.ndarray]:
    return [np.asarray(p.detach().cpu() if hasattr(p, "detach") else p) for p in planes]


def write_sequence(
    out_dir: str | os.PathLike[str],
    sequence: Sequence,
    textures: Mapping[str, SequenceABC[Any]],
    depths: Mapping[str, Any] | None,
    *,
    start_frame: int = 0,
) -> Path:
    """Write a sequence folder: ``sequence.json``, the YUVs and a ``seq.yaml``; returns its path.

    Args:
        out_dir: the folder (created; same-named files are replaced, others kept).
        sequence: the JSON to write (all its cameras: source, held-out, viewport); its
            ``Frames_number`` becomes the number of frames written, and written depth views get
            ``BitDepthDepth`` 16.
        textures: view name → (Y, U, V) integer planes ``(N, H, W)``, ``(N, ⌈H/2⌉, ⌈W/2⌉)``
            ×2 at the camera's ``BitDepthColor`` (10 for CTC), written as ``yuv420p10le``; the
            mapping's order is the ``views`` order of the seq.yaml.
        depths: view name → 16-bit depth samples ``(N, H, W)``, written as ``yuv420p16le``
            with neutral chroma 32768; either the same views as ``textures`` or empty/None
            (texture-only; the seq.yaml then says ``depth: null``).
        start_frame: the ``start_frame`` written into the seq.yaml (an index into the files
            written here, so it must be below N).

    Everything is written into a temporary folder and moved into place at the end
    (:func:`ctc.atomic.atomic_dir`), so a failure leaves no partial sequence.

    Raises:
        InputError: a view is not a camera of ``sequence``.
        ValueError: inconsistent arrays (shapes, frame counts, sample ranges, view sets).
    """
    out_dir = Path(out_dir)
    names = list(textures)
    if not names:
        raise ValueError("write_sequence needs at least one texture view")
    if depths and set(depths) != set(names):
        raise ValueError(f"depth views {sorted(depths)} differ from texture views {sorted(names)}")
    cameras = {n: sequence.camera(n) for n in names}
    bits = {cameras[n].bit_depth_color for n in names}
    if len(bits) != 1:
        raise ValueError(f"texture views have different BitDepthColor {sorted(bits)}")
    tex_fmt = pix_fmt_for(420, bits.pop())
    depth_fmt = parse_pix_fmt("yuv420p16le")
    texture_pattern = f"{{view}}_texture_{{w}}x{{h}}_{tex_fmt.name}.yuv"
    frame_counts = set()
    blocks: dict[str, tuple[list[np.ndarray], list[np.ndarray] | None]] = {}
    for name in names:
        planes = _planes_numpy(textures[name])
        frame_counts.add(planes[0].shape[0])
        depth_planes = None
        if depths:
            luma = np.asarray(_planes_numpy([depths[name]])[0])
            h_c, w_c = depth_fmt.plane_shapes(luma.shape[-1], luma.shape[-2])[1]
            neutral = np.full((luma.shape[0], h_c, w_c), depth_fmt.neutral_chroma, np.uint16)
            depth_planes = [luma, neutral, neutral]
            frame_counts.add(luma.shape[0])
        blocks[name] = (planes, depth_planes)
    if len(frame_counts) != 1:
        raise ValueError(f"views have different frame counts {sorted(frame_counts)}")
    num_frames = frame_counts.pop()
    if not 0 <= start_frame < num_frames:
        raise ValueError(f"start_frame {start_frame} outside the {num_frames} frames written")

    written = sequence.replace(
        frames_number=num_frames,
        cameras=tuple(
            c.replace(bit_depth_depth=DEPTH_BITS) if depths and c.name in cameras else c
            for c in sequence.cameras
        ),
    )
    spec = SeqSpec(
        json=out_dir.resolve() / "sequence.json",
        content=out_dir.resolve(),
        texture=texture_pattern,
        depth=DEFAULT_DEPTH_PATTERN if depths else None,
        texture_pix_fmt=tex_fmt,
        depth_pix_fmt=depth_fmt if depths else None,
        start_frame=start_frame,
        views=None if tuple(names) == written.source_camera_names else tuple(names),
    )
    with atomic_dir(out_dir) as tmp:
        for name, (planes, depth_planes) in blocks.items():
            w, h = cameras[name].resolution
            if planes[0].shape[1:] != (h, w):
                raise ValueError(
                    f"texture of {name!r} is {planes[0].shape[2]}x{planes[0].shape[1]}, camera says {w}x{h}"
                )
            write_yuv(tmp / yuv_filename(texture_pattern, name, w, h), planes, tex_fmt)
            if depth_planes is not None:
                write_yuv(tmp / yuv_filename(DEFAULT_DEPTH_PATTERN, name, w, h), depth_planes, depth_fmt)
        (tmp / "sequence.json").write_text(sequence_json_text(written), encoding="utf-8")
        (tmp / "seq.yaml").write_text(seq_yaml_text(spec, out_dir.resolve()), encoding="utf-8")
    return out_dir / "seq.yaml"
