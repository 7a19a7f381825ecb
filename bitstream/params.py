"""Torch-free dataclasses for what a bitstream holds: sequence, cameras, arch config, tensors.

These mirror the header records of :mod:`bitstream.layout` one to one. The codec converts its own
types into them (``ctc.camera.Camera`` ↔ :class:`CameraParams` lives in ``mvhinerv/codec.py``,
because ``bitstream`` may not import ``ctc``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import numbers
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from bitstream.layout import ARCH_KINDS
from bitstream.tensors import QuantizedTensor

ArchValue = int | float | bool | list[int] | list[float]


@dataclasses.dataclass(frozen=True)
class CameraParams:
    """One camera of the sequence (record ``camera``).

    Attributes:
        name: camera name, unique in the file (``"v0"``, ``"viewport"``).
        coded: ``True`` for a source view whose grids are in the file; its view index is its rank
            among the coded cameras (coding order).
        projection: ``"Perspective"`` or ``"Equirectangular"``.
        resolution: (width, height) in pixels.
        position: camera centre, metres (OMAF axes: x forward, y left, z up).
        rotation: (yaw, pitch, roll) in degrees.
        depth_range: (near, far) in metres; far may be ``math.inf``.
        has_invalid_depth: depth sample 0 means "invalid".
        intrinsics: Perspective: (fx, fy, cx, cy) in pixels; Equirectangular: (φmin, φmax, θmin,
            θmax) in degrees.
    """

    name: str
    coded: bool
    projection: str
    resolution: tuple[int, int]
    position: tuple[float, float, float]
    rotation: tuple[float, float, float]
    depth_range: tuple[float, float]
    has_invalid_depth: bool
    intrinsics: tuple[float, float, float, float]

    @property
    def width(self) -> int:
        return self.resolution[0]

    @property
    def height(self) -> int:
        return self.resolution[1]


@dataclasses.dataclass(frozen=True)
class SequenceParams:
    """Sequence parameters (record ``sequence``) and all cameras (records ``camera``).

    Attributes:
        name: content name.
        fps: frames per second.
        num_frames: frames coded per view.
        start_frame: first coded frame's index in the source sequence.
        texture_bit_depth: bits per decoded texture sample.
        depth_bit_depth: bits per decoded depth sample.
        cameras: every camera, in output JSON order; coded ones in coding order.
    """

    name: str
    fps: float
    num_frames: int
    start_frame: int
    texture_bit_depth: int
    depth_bit_depth: int
    cameras: tuple[CameraParams, ...]

    def scalar_fields(self) -> dict[str, object]:
        """The scalar fields of the ``sequence`` header record (cameras are records of their own)."""
        return {
            "name": self.name,
            "fps": self.fps,
            "num_frames": self.num_frames,
            "start_frame": self.start_frame,
            "texture_bit_depth": self.texture_bit_depth,
            "depth_bit_depth": self.depth_bit_depth,
        }

    @property
    def coded_cameras(self) -> tuple[CameraParams, ...]:
        """The source views with coded data; index k here is view k of tensors and sections."""
        return tuple(c for c in self.cameras if c.coded)

    @property
    def view_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.coded_cameras)

    def view_index(self, name: str) -> int:
        """The coded view index of camera ``name`` (``KeyError`` if it is not coded)."""
        try:
            return self.view_names.index(name)
        except ValueError:
            raise KeyError(name) from None

    @property
    def coded_pixels(self) -> int:
        """Σ over coded views of width × height × frames (the denominator of bpp)."""
        return sum(c.width * c.height for c in self.coded_cameras) * self.num_frames


@dataclasses.dataclass(frozen=True, eq=False)
class BitstreamContents:
    """Everything a file holds: what :func:`~bitstream.write_bitstream` takes and
    :func:`~bitstream.read_bitstream` returns.

    Attributes:
        sequence: sequence parameters and cameras.
        arch: the architecture config, a flat ``str → int | float | bool | list`` dict.
        tensors: the quantised tensors; shared ones have ``view=None``. After a partial read only
            the shared tensors and those of the requested views are present.
    """

    sequence: SequenceParams
    arch: Mapping[str, ArchValue]
    tensors: tuple[QuantizedTensor, ...]

    def same_as(self, other: BitstreamContents) -> bool:
        """Bit-exact equality of everything the file carries (arch values compared by kind)."""
        return (
            self.sequence == other.sequence
            and arch_records(self.arch) == arch_records(other.arch)
            and len(self.tensors) == len(other.tensors)
            and all(a.same_as(b) for a, b in zip(self.tensors, other.tensors))
        )

    def parameter_digest(self) -> str:
        """SHA-256 of the recovered parameters; see :func:`parameter_digest`."""
        return parameter_digest(self.tensors)


def parameter_digest(tensors: Iterable[QuantizedTensor]) -> str:
    """SHA-256 (hex) of every tensor's name, view, shape, symbols and side information.

    Canonical (little-endian, C order), so the same parameters give the same digest on any machine:
    the determinism tests compare it across processes and devices.
    """
    h = hashlib.sha256()
    for t in tensors:
        h.update(f"{t.name}\0{t.view}\0{t.shape}\0".encode())
        h.update(np.ascontiguousarray(t.symbols, dtype="<i4").tobytes())
        for side in (t.step, t.mean, t.std):
            h.update(repr(side.shape).encode())
            h.update(np.ascontiguousarray(side, dtype="<f2").tobytes())
    return h.hexdigest()


def arch_kind(key: str, value: object) -> tuple[int, list[int] | list[float]]:
    """(kind index into :data:`~bitstream.layout.ARCH_KINDS`, values) of one arch entry.

    Raises:
        TypeError: the value is not an int, float, bool or a homogeneous list of ints or floats.
    """
    if isinstance(value, (bool, np.bool_)):
        return ARCH_KINDS.index("bool"), [int(value)]
    if isinstance(value, numbers.Integral):
        return ARCH_KINDS.index("int"), [int(value)]
    if isinstance(value, numbers.Real):
        return ARCH_KINDS.index("float"), [float(value)]
    if isinstance(value, (list, tuple)):
        if all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value):
            return ARCH_KINDS.index("int list"), [int(v) for v in value]
        if all(isinstance(v, numbers.Real) and not isinstance(v, numbers.Integral) for v in value):
            return ARCH_KINDS.index("float list"), [float(v) for v in value]
    raise TypeError(f"arch[{key!r}] = {value!r}: not an int, float, bool or list of ints/floats")


def arch_value(kind: int, values: Sequence[int] | Sequence[float]) -> ArchValue:
    """The Python value of an arch entry read from the file (inverse of :func:`arch_kind`)."""
    name = ARCH_KINDS[kind]
    if name == "bool":
        return bool(values[0])
    if name == "int":
        return int(values[0])
    if name == "float":
        return float(values[0])
    if name == "int list":
        return [int(v) for v in values]
    return [float(v) for v in values]


def arch_records(arch: Mapping[str, object]) -> list[tuple[str, int, list]]:
    """The arch entries as written: sorted by key, each (key, kind, values)."""
    return [(key, *arch_kind(key, arch[key])) for key in sorted(arch)]



@dataclasses.dataclass(frozen=True, eq=False)
class TensorInfo:
    """A tensor record: everything about one tensor except its symbols (record ``tensor``).

    Attributes:
        name, view: as in :class:`~bitstream.tensors.QuantizedTensor` (``view=None``: shared).
        shape: the symbols' shape.
        min_symbol, max_symbol: the coding alphabet; when equal, no symbol is coded (a constant
            tensor: constriction cannot code a one-symbol alphabet, and it would cost 0 bits).
        step, mean, std: float16 side arrays that broadcast to ``shape``.
    """

    name: str
    view: int | None
    shape: tuple[int, ...]
    min_symbol: int
    max_symbol: int
    step: np.ndarray
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def of(cls, tensor: QuantizedTensor) -> TensorInfo:
        """The record of a tensor the encoder wants to write (alphabet = its symbols' range)."""
        if tensor.numel == 0:
            raise ValueError(f"{tensor.name}: empty tensor {tensor.shape}")
        return cls(
            tensor.name, tensor.view, tensor.shape,
            int(tensor.symbols.min()), int(tensor.symbols.max()),
            tensor.step, tensor.mean, tensor.std,
        )

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def coded_symbols(self) -> int:
        """Symbols that go through the range coder (0 for a constant tensor)."""
        return self.numel if self.max_symbol > self.min_symbol else 0

    def with_symbols(self, symbols: np.ndarray) -> QuantizedTensor:
        return QuantizedTensor(self.name, self.view, symbols, self.step, self.mean, self.std)
