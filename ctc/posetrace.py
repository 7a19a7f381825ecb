"""MIV pose traces: the CSV files, poses → viewport cameras, mirrored frame indexing.

A CTC pose trace (``config/ctc/pose_traces/{ID}p{NN}.csv`` in TMIV) is a header line exactly
``X,Y,Z,Yaw,Pitch,Roll`` followed by one row per output frame (miv_ctc.md §1.5). TMIV's
``IO::loadViewportMetadata`` gives each row this meaning:

- take the sequence's camera named ``viewport`` (projection, resolution, intrinsics, depth range);
- position = viewport.position + (X, Y, Z): the trace stores an *offset* in world metres;
- rotation = (Yaw, Pitch, Roll) in degrees, *absolute*: it replaces the viewport's rotation.

A trace has 300 (sometimes 301) rows while a coded sequence has fewer frames (65 in the current
CTC), so output frame k shows decoded frame :func:`mirrored_frame_index` (k, n): the frames are
played forwards, then backwards, then forwards again (0 … n−1, n−1 … 0, 0 … n−1, …).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ctc.atomic import atomic_path
from ctc.camera import Camera
from ctc.errors import FormatError, InputError, MissingFileError

POSE_TRACE_COLUMNS: tuple[str, ...] = ("X", "Y", "Z", "Yaw", "Pitch", "Roll")
"""The header fields of a pose-trace CSV, in order."""


def read_pose_trace(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a pose-trace CSV into an ``(N, 6)`` float64 array of ``X, Y, Z, Yaw, Pitch, Roll``.

    The header must be exactly ``X,Y,Z,Yaw,Pitch,Roll`` (whitespace around the line and around
    each name is accepted, as TMIV's regex does). Reading stops at the first empty line; only
    empty lines may follow it (TMIV stops at trailing empty lines; rows after a blank line would
    be dropped silently there, so they are an error here).

    Raises:
        MissingFileError: the file does not exist.
        FormatError: not UTF-8 text, a wrong header, a row without exactly 6 values, a value that
            is not a finite number, or no rows; the message names the file and the line.
    """
    path = Path(path)
    if not path.is_file():
        if path.exists():
            raise InputError(path, "not a file")
        raise MissingFileError(path, "pose trace not found")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise FormatError(path, f"not UTF-8 text ({err.reason} at byte {err.start})") from None
    lines = text.splitlines()
    header = [name.strip() for name in lines[0].split(",")] if lines else []
    if tuple(header) != POSE_TRACE_COLUMNS:
        found = lines[0].strip()[:60] if lines else "an empty file"
        raise FormatError(path, f"line 1: header must be {','.join(POSE_TRACE_COLUMNS)}, "
                          f"found {found!r}")
    rows: list[list[float]] = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            trailing = [n for n, rest in enumerate(lines[number:], start=number + 1) if rest.strip()]
            if trailing:
                raise FormatError(path, f"line {trailing[0]}: pose row after the empty line "
                                  f"{number}")
            break
        rows.append(_parse_row(path, number, line))
    if not rows:
        raise FormatError(path, "no pose rows after the header")
    return np.asarray(rows, dtype=np.float64)


def _parse_row(path: Path, number: int, line: str) -> list[float]:
    """The 6 finite floats of CSV line ``number`` (1-based) of ``path``."""
    fields = line.split(",")
    if len(fields) != len(POSE_TRACE_COLUMNS):
        raise FormatError(path, f"line {number}: expected {len(POSE_TRACE_COLUMNS)} values, "
                          f"found {len(fields)}")
    values = []
    for name, field in zip(POSE_TRACE_COLUMNS, fields):
        try:
            value = float(field)
        except ValueError:
            raise FormatError(path, f"line {number}: {name} is not a number: "
                              f"{field.strip()[:30]!r}") from None
        if not np.isfinite(value):
            raise FormatError(path, f"line {number}: {name} is not finite: {field.strip()!r}")
        values.append(value)
    return values


def _format_value(value: float) -> str:
    """Shortest positional decimal that parses back to exactly ``value`` (no exponent, so any
    CSV reader, TMIV's included, reads it)."""
    return np.format_float_positional(value, unique=True, trim="-")


def write_pose_trace(path: str | os.PathLike[str], poses: np.ndarray | Sequence[Sequence[float]]
                     ) -> None:
    """Write ``poses`` (``(N, 6)`` X, Y, Z, Yaw, Pitch, Roll) as a pose-trace CSV, atomically.

    Values are written as the shortest decimal that reads back to the same float64, so
    :func:`read_pose_trace` returns exactly ``poses``.

    Raises:
        InputError: ``poses`` is not ``(N, 6)`` with N ≥ 1, or holds NaN/infinite values.
    """
    array = np.asarray(poses, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != len(POSE_TRACE_COLUMNS) or array.shape[0] == 0:
        raise InputError(path, f"poses must have shape (N>=1, 6), got {array.shape}")
    if not np.isfinite(array).all():
        raise InputError(path, "poses hold NaN or infinite values")
    lines = [",".join(POSE_TRACE_COLUMNS)]
    lines += [",".join(_format_value(v) for v in row) for row in array]
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")


def pose_camera(viewport: Camera, pose_row: Sequence[float] | np.ndarray,
                name: str | None = None) -> Camera:
    """The camera of one pose-trace row (TMIV ``IO::loadViewportMetadata``).

    Args:
        viewport: the sequence's ``viewport`` camera: projection, resolution, intrinsics, depth
            range and bit depths are taken from it unchanged.
        pose_row: (X, Y, Z, Yaw, Pitch, Roll): a position offset in metres added to
            ``viewport.position`` and an absolute rotation in degrees that replaces
            ``viewport.rotation``.
        name: the new camera's name (default: the viewport's).

    Example (miv_ctc.md §1.5, W01): viewport at (3.0353, −4.3637, 2.5) and the first row of
    W01p01 (3.019, 3.861, −0.100, …) give a camera at (6.0543, −0.5027, 2.4), next to v00.
    """
    row = np.asarray(pose_row, dtype=np.float64)
    if row.shape != (len(POSE_TRACE_COLUMNS),):
        raise ValueError(f"pose_row must have 6 values (X,Y,Z,Yaw,Pitch,Roll), got shape {row.shape}")
    x, y, z, yaw, pitch, roll = (float(v) for v in row)
    px, py, pz = viewport.position
    return viewport.replace(name=viewport.name if name is None else name,
                            position=(px + x, py + y, pz + z), rotation=(yaw, pitch, roll))


def pose_cameras(viewport: Camera, poses: np.ndarray) -> list[Camera]:
    """One camera per row of ``poses`` (``(N, 6)``), named ``"{viewport.name}@{k}"``."""
    return [pose_camera(viewport, row, name=f"{viewport.name}@{k}") for k, row in enumerate(poses)]


def mirrored_frame_index(i: int, num_source_frames: int) -> int:
    """The decoded frame shown at output frame ``i`` when only ``num_source_frames`` exist.

    With n source frames, g = ⌊i/n⌋ and r = i mod n: the index is r when g is even and n−1−r
    when g is odd (TMIV's mirroring, miv_ctc.md §1.2). The end frames are shown twice at each
    turn: n = 3 gives 0 1 2 2 1 0 0 1 2 … . For i < n this is i itself, so source-view outputs
    (never longer than the sequence) are unaffected.
    """
    if num_source_frames < 1:
        raise InputError("num_source_frames", f"must be at least 1, got {num_source_frames}")
    if i < 0:
        raise ValueError(f"output frame index must be >= 0, got {i}")
    group, rest = divmod(i, num_source_frames)
    return rest if group % 2 == 0 else num_source_frames - 1 - rest


def pose_trace_frames(num_output_frames: int, num_source_frames: int) -> list[int]:
    """Source frame indices of output frames ``0 … num_output_frames−1`` (see
    :func:`mirrored_frame_index`)."""
    if num_output_frames < 0:
        raise InputError("num_output_frames", f"must be >= 0, got {num_output_frames}")
    return [mirrored_frame_index(i, num_source_frames) for i in range(num_output_frames)]
