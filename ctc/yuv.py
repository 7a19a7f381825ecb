"""Raw planar YUV video files, named and sized the way ffmpeg and the MIV CTC name them.

MIV content is stored as headerless planar files (miv_ctc.md §2.2): texture
``{view}_texture_{W}x{H}_yuv420p10le.yuv`` (4:2:0, 10 bits in little-endian 16-bit words) and
depth ``{view}_depth_{W}x{H}_yuv420p16le.yuv`` (4:2:0, 16 bits, only luma used). A file is a
sequence of frames; a frame is its planes one after another (Y, then U, then V), each plane
row-major. Nothing in the file says its size or format, so the reader checks that the file
length is a whole number of frames and reports otherwise.

Shapes: a plane stack is ``(frames, h_p, w_p)``; 4:2:0 chroma planes are
``(frames, ceil(H/2), ceil(W/2))`` (ffmpeg rounds odd sizes up); 4:0:0 (``gray*``) has one plane.
Samples are ``uint8`` for 8-bit formats and ``uint16`` otherwise (bits ≤ 16, LSB-aligned).

Readers are memory-mapped and lazy: a 300-frame 2048×2048 CTC view is 3.5 GiB, and the codec
reads it a few frames at a time. Writers go through :mod:`ctc.atomic`, so a failed run leaves no
partial file behind.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ctc.atomic import atomic_path
from ctc.errors import FormatError, InputError, MissingFileError

Chroma = Literal[420, 444, 400]

_PIX_FMT_RE = re.compile(r"^(?P<family>gray|yuv420p|yuv444p)(?:(?P<bits>9|10|12|14|16)le)?$")
_CHROMA_OF_FAMILY: dict[str, Chroma] = {"gray": 400, "yuv420p": 420, "yuv444p": 444}
_FAMILY_OF_CHROMA = {chroma: family for family, chroma in _CHROMA_OF_FAMILY.items()}


@dataclasses.dataclass(frozen=True)
class PixFmt:
    """A planar pixel format in ffmpeg naming (``yuv420p10le``, ``gray16le``, ...)."""

    name: str
    """The ffmpeg ``pix_fmt`` name."""
    chroma: Chroma
    """Chroma subsampling: 420 (chroma planes halved both ways), 444 (full) or 400 (luma only)."""
    bits: int
    """Bits per sample (8, 9, 10, 12, 14 or 16); samples are LSB-aligned."""
    bytes_per_sample: int
    """1 for 8-bit formats, 2 (little-endian words) otherwise."""

    @property
    def num_planes(self) -> int:
        """3 for YUV formats, 1 for ``gray*``."""
        return 1 if self.chroma == 400 else 3

    @property
    def dtype(self) -> np.dtype:
        """In-memory sample type: ``uint8`` or ``uint16`` (native order)."""
        return np.dtype(np.uint8 if self.bytes_per_sample == 1 else np.uint16)

    @property
    def file_dtype(self) -> np.dtype:
        """On-disk sample type: ``u1`` or little-endian ``<u2``."""
        return np.dtype("u1" if self.bytes_per_sample == 1 else "<u2")

    @property
    def max_value(self) -> int:
        """Largest code value, 2^bits − 1."""
        return (1 << self.bits) - 1

    @property
    def neutral_chroma(self) -> int:
        """The "no colour" chroma value, 2^(bits−1) (512 at 10 bits, 32768 at 16)."""
        return 1 << (self.bits - 1)

    def plane_shapes(self, width: int, height: int) -> tuple[tuple[int, int], ...]:
        """(rows, columns) of each plane of one ``width``×``height`` frame."""
        if self.chroma == 400:
            return ((height, width),)
        if self.chroma == 444:
            return ((height, width),) * 3
        chroma = (math.ceil(height / 2), math.ceil(width / 2))
        return ((height, width), chroma, chroma)

    def frame_samples(self, width: int, height: int) -> int:
        """Samples in one frame, all planes."""
        return sum(h * w for h, w in self.plane_shapes(width, height))

    def frame_bytes(self, width: int, height: int) -> int:
        """Bytes in one frame, all planes (e.g. W·H·1.5·2 for ``yuv420p10le``)."""
        return self.frame_samples(width, height) * self.bytes_per_sample

    def with_bits(self, bits: int) -> PixFmt:
        """The same chroma layout at another bit depth (``yuv420p`` → ``yuv420p10le``)."""
        return pix_fmt_for(self.chroma, bits)

    def __str__(self) -> str:
        return self.name


def parse_pix_fmt(name: str | PixFmt) -> PixFmt:
    """The :class:`PixFmt` of an ffmpeg pix_fmt name; a :class:`PixFmt` passes through.

    Supported: ``gray``, ``yuv420p``, ``yuv444p`` at 8 bits and their ``<bits>le`` variants at
    9, 10, 12, 14 and 16 bits (``gray10le``, ``yuv420p16le``...).

    Raises:
        InputError: the name is not one of those (semi-planar, RGB and big-endian formats are
            not raw MIV formats).
    """
    if isinstance(name, PixFmt):
        return name
    match = _PIX_FMT_RE.match(str(name))
    if match is None:
        raise InputError(
            None,
            f"unknown pix_fmt {name!r} (expected gray, yuv420p or yuv444p, optionally with "
            "10le/12le/16le..., e.g. yuv420p10le)",
        )
    bits = int(match["bits"] or 8)
    return PixFmt(
        name=str(name),
        chroma=_CHROMA_OF_FAMILY[match["family"]],
        bits=bits,
        bytes_per_sample=1 if bits == 8 else 2,
    )


def pix_fmt_for(chroma: Chroma, bits: int) -> PixFmt:
    """The :class:`PixFmt` with this chroma layout and bit depth (``(420, 10)`` → ``yuv420p10le``)."""
    family = _FAMILY_OF_CHROMA[chroma]
    return parse_pix_fmt(family if bits == 8 else f"{family}{bits}le")


def pix_fmt_from_filename(name: str | os.PathLike[str]) -> PixFmt | None:
    """The pix_fmt named by a CTC-style file name's last ``_``-separated field, if any.

    ``v0_texture_1920x1080_yuv420p10le.yuv`` → ``yuv420p10le``; ``clip.yuv`` → ``None``.
    """
    stem = Path(name).name
    match = re.search(r"_([a-z0-9]+)\.yuv$", stem)
    if match is None or _PIX_FMT_RE.match(match[1]) is None:
        return None
    return parse_pix_fmt(match[1])


def yuv_filename(pattern: str, view: str, w: int, h: int, pix_fmt: str | PixFmt | None = None) -> str:
    """Fill a file-name pattern: ``{view}``, ``{w}``, ``{h}`` and optionally ``{pix_fmt}``.

    ``yuv_filename("{view}_texture_{w}x{h}_yuv420p10le.yuv", "v0", 1920, 1080)`` →
    ``"v0_texture_1920x1080_yuv420p10le.yuv"``.

    Raises:
        InputError: the pattern has a placeholder other than those four (or a stray brace), or
            uses ``{pix_fmt}`` while ``pix_fmt`` is None.
    """
    fields = {"view": view, "w": w, "h": h}
    if pix_fmt is not None:
        fields["pix_fmt"] = str(pix_fmt)
    try:
        return pattern.format(**fields)
    except KeyError as err:
        raise InputError(
            None, f"file pattern {pattern!r}: unknown placeholder {{{err.args[0]}}} "
            "(use {view}, {w}, {h}, {pix_fmt})",
        ) from None
    except (ValueError, IndexError) as err:
        raise InputError(None, f"file pattern {pattern!r}: {err}") from None


def _as_planes(planes: Sequence[Any] | np.ndarray, fmt: PixFmt) -> list[np.ndarray]:
    """Planes as a list of numpy arrays; a lone ``(N, H, W)`` array counts as the luma plane."""
    if isinstance(planes, np.ndarray):
        planes = [planes]
    out = [np.asarray(p.detach().cpu() if hasattr(p, "detach") else p) for p in planes]
    if len(out) != fmt.num_planes:
        raise ValueError(f"{fmt.name} needs {fmt.num_planes} planes, got {len(out)}")
    return out


# --------------------------------------------------------------------------------------------
# reading


def check_frame_range(where: str | os.PathLike[str], start: int, count: int | None, available: int,
                      holder: str = "the file", note: str = "") -> int:
    """Validate frames ``start .. start+count-1`` of ``available`` and return the count.

    One rule for every frame range the CTC code reads (a file's, or a sequence's window onto
    its files): ``count=None`` means "to the end"; a negative start or count, or a range past
    the last frame, is the caller's mistake, reported against ``where``.

    Args:
        holder, note: name what has the ``available`` frames in the error message,
            "… requested but {holder} has {available} frames{note}".

    Raises:
        InputError: the range does not fit in ``available`` frames.
    """
    if count is None:
        count = max(available - start, 0)
    has = f"{holder} has {available} frames{note}"
    if start < 0 or count < 0:
        raise InputError(where, f"negative frame range (start {start}, count {count}) requested; {has}")
    if start + count > available:
        span = f"frames {start}..{start + count - 1}" if count else f"frame {start}"
        raise InputError(where, f"{span} requested but {has}")
    return count


class YuvReader:
    """A raw planar YUV file, memory-mapped on first read.

    Args:
        path: the file.
        width, height: luma size in pixels.
        pix_fmt: ffmpeg pix_fmt name or :class:`PixFmt`.

    Raises:
        MissingFileError: the file does not exist.
        FormatError: its size is not a whole number of ``width``×``height`` ``pix_fmt`` frames.
        InputError: unknown ``pix_fmt`` or a non-positive size.
    """

    def __init__(
        self, path: str | os.PathLike[str], width: int, height: int, pix_fmt: str | PixFmt
    ) -> None:
        self.path = Path(path)
        try:
            self.pix_fmt = parse_pix_fmt(pix_fmt)
        except InputError as err:
            raise InputError(self.path, err.problem) from None
        if width <= 0 or height <= 0:
            raise InputError(self.path, f"invalid frame size {width}x{height}")
        self.width = int(width)
        self.height = int(height)
        if not self.path.is_file():
            raise MissingFileError(self.path, "no such file")
        size = self.path.stat().st_size
        self.frame_bytes = self.pix_fmt.frame_bytes(self.width, self.height)
        if size % self.frame_bytes:
            raise FormatError(
                self.path,
                f"size {size} bytes is not a whole number of {self.width}x{self.height} "
                f"{self.pix_fmt.name} frames ({self.frame_bytes} bytes each; "
                f"{size / self.frame_bytes:.3f} frames)",
            )
        self.num_frames = size // self.frame_bytes
        self._map: np.memmap | None = None

    def __repr__(self) -> str:
        return (
            f"YuvReader({str(self.path)!r}, {self.width}, {self.height}, {self.pix_fmt.name!r}: "
            f"{self.num_frames} frames)"
        )

    def _frames(self) -> np.ndarray:
        """The whole file as ``(num_frames, frame_samples)`` on-disk samples (memory-mapped)."""
        if self._map is None:
            samples = self.pix_fmt.frame_samples(self.width, self.height)
            self._map = np.memmap(
                self.path, dtype=self.pix_fmt.file_dtype, mode="r",
                shape=(self.num_frames, samples),
            )
        return self._map

    def check_range(self, start: int, count: int | None) -> int:
        """Validate a frame range of this file and return its count (``None`` = to the end).

        Raises:
            InputError: negative start or count, or the range goes past the last frame.
        """
        return check_frame_range(self.path, start, count, self.num_frames)

    def read(self, start: int = 0, count: int | None = None) -> tuple[np.ndarray, ...]:
        """Frames ``start .. start+count-1`` as planes, each ``(count, h_p, w_p)``.

        The arrays are copies (native ``uint8``/``uint16``), safe to modify. One plane for
        ``gray*`` formats, three otherwise.
        """
        count = self.check_range(start, count)
        if count == 0:  # also covers empty files, which cannot be memory-mapped
            return tuple(
                np.empty((0, *shape), self.pix_fmt.dtype)
                for shape in self.pix_fmt.plane_shapes(self.width, self.height)
            )
        block = self._frames()[start : start + count]
        planes = []
        offset = 0
        for h_p, w_p in self.pix_fmt.plane_shapes(self.width, self.height):
            plane = block[:, offset : offset + h_p * w_p].reshape(count, h_p, w_p)
            planes.append(plane.astype(self.pix_fmt.dtype, copy=True))
            offset += h_p * w_p
        return tuple(planes)

    def read_luma(self, start: int = 0, count: int | None = None) -> np.ndarray:
        """Luma only, ``(count, H, W)``: how TMIV reads depth files (chroma ignored)."""
        count = self.check_range(start, count)
        h, w = self.height, self.width
        if count == 0:
            return np.empty((0, h, w), self.pix_fmt.dtype)
        block = self._frames()[start : start + count, : h * w]
        return block.reshape(count, h, w).astype(self.pix_fmt.dtype, copy=True)

    def close(self) -> None:
        """Drop the memory map (it is reopened by the next read)."""
        self._map = None

    def __enter__(self) -> YuvReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------------------------
# writing


def _frame_block(planes: Sequence[Any], fmt: PixFmt, width: int, height: int) -> np.ndarray:
    """Interleave planes frame by frame: ``(N, frame_samples)`` in on-disk sample type.

    Raises:
        ValueError: wrong number of planes, wrong shapes, or samples outside 0..2^bits−1 (a
            programming error of the caller, not a user-input problem).
    """
    arrays = _as_planes(planes, fmt)
    if arrays[0].ndim == 2:
        arrays = [a[None] for a in arrays]
    n = arrays[0].shape[0]
    expected = fmt.plane_shapes(width, height)
    for i, (a, shape) in enumerate(zip(arrays, expected, strict=True)):
        if a.shape != (n, *shape):
            raise ValueError(
                f"plane {i} has shape {a.shape}, {fmt.name} {width}x{height} needs {(n, *shape)}"
            )
        if a.size and (a.min() < 0 or a.max() > fmt.max_value):
            raise ValueError(
                f"plane {i} has samples in {a.min()}..{a.max()}, outside 0..{fmt.max_value} "
                f"of {fmt.name}"
            )
    return np.concatenate([a.reshape(n, -1) for a in arrays], axis=1).astype(fmt.file_dtype)


def write_yuv(path: str | os.PathLike[str], planes: Sequence[Any], pix_fmt: str | PixFmt) -> None:
    """Write whole planes ``(N, h_p, w_p)`` (or one frame ``(h_p, w_p)``) as a raw file, atomically.

    The frame size is taken from the luma plane. Planes may be numpy arrays or CPU/GPU tensors.
    """
    fmt = parse_pix_fmt(pix_fmt)
    arrays = _as_planes(planes, fmt)
    height, width = arrays[0].shape[-2:]
    block = _frame_block(arrays, fmt, width, height)
    with atomic_path(path) as tmp:
        block.tofile(tmp)


class YuvWriter:
    """Append frames to a raw YUV file; it appears under its name only if the block succeeds.

    For outputs too long to hold in memory (pose traces of 300 frames, decoded CTC views)::

        with YuvWriter(out, 1920, 1080, "yuv420p10le") as writer:
            for frame in frames:
                writer.write(frame)          # (Y, U, V), each (h_p, w_p) or (n, h_p, w_p)

    On an exception inside the block the partial file is deleted (:func:`ctc.atomic.atomic_path`).
    """

    def __init__(
        self, path: str | os.PathLike[str], width: int, height: int, pix_fmt: str | PixFmt
    ) -> None:
        self.path = Path(path)
        self.width = int(width)
        self.height = int(height)
        self.pix_fmt = parse_pix_fmt(pix_fmt)
        self.frames_written = 0
        self._stack: ExitStack | None = None
        self._file: Any = None

    def __enter__(self) -> YuvWriter:
        stack = ExitStack()
        tmp = stack.enter_context(atomic_path(self.path))
        self._file = stack.enter_context(open(tmp, "wb"))
        self._stack = stack
        return self

    def write(self, planes: Sequence[Any]) -> None:
        """Append one frame (planes ``(h_p, w_p)``) or several (``(n, h_p, w_p)``)."""
        if self._file is None:
            raise RuntimeError("YuvWriter.write() outside its 'with' block")
        block = _frame_block(planes, self.pix_fmt, self.width, self.height)
        block.tofile(self._file)
        self.frames_written += block.shape[0]

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        stack, self._stack, self._file = self._stack, None, None
        assert stack is not None
        return bool(stack.__exit__(exc_type, exc, tb))


# --------------------------------------------------------------------------------------------
# chroma resampling (numpy arrays or torch tensors, any leading dimensions)


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


def upsample_chroma_420(
    plane: Any, out_shape: tuple[int, int] | None = None
) -> Any:
    """4:2:0 chroma ``(..., h, w)`` to luma size ``(..., 2h, 2w)`` by 2×2 sample replication.

    Replication (nearest neighbour) is what IV-PSNR does before every metric (miv_ctc.md §4.1),
    so colour conversions for evaluation use it too. ``out_shape`` = luma (rows, columns) crops
    the result for odd luma sizes. Works on numpy arrays and torch tensors (any device).
    """
    if _is_torch(plane):
        up = plane.repeat_interleave(2, dim=-2).repeat_interleave(2, dim=-1)
    else:
        up = np.repeat(np.repeat(np.asarray(plane), 2, axis=-2), 2, axis=-1)
    if out_shape is not None:
        up = up[..., : out_shape[0], : out_shape[1]]
    return up


def downsample_chroma_420(plane: Any) -> Any:
    """Full-resolution chroma ``(..., H, W)`` to 4:2:0 ``(..., ceil(H/2), ceil(W/2))`` by 2×2 mean.

    Integer input gives integer output rounded half up, ``(a+b+c+d+2) >> 2``, in the input's
    dtype; float input gives the exact float mean (round after any further arithmetic). Odd
    sizes are padded by repeating the last row/column, so the edge sample averages with itself.
    Works on numpy arrays and torch tensors.
    """
    h, w = plane.shape[-2:]
    if _is_torch(plane):
        import torch

        if h % 2 or w % 2:
            idx_r = torch.arange(h + h % 2, device=plane.device).clamp(max=h - 1)
            idx_c = torch.arange(w + w % 2, device=plane.device).clamp(max=w - 1)
            plane = plane[..., idx_r, :][..., idx_c]
        if plane.dtype.is_floating_point:
            quads = plane.unflatten(-1, (-1, 2)).unflatten(-3, (-1, 2))
            return quads.mean(dim=(-3, -1))
        wide = plane.to(torch.int64)
        quads = wide.unflatten(-1, (-1, 2)).unflatten(-3, (-1, 2))
        return ((quads.sum(dim=(-3, -1)) + 2) // 4).to(plane.dtype)
    arr = np.asarray(plane)
    if h % 2 or w % 2:
        pad = [(0, 0)] * (arr.ndim - 2) + [(0, h % 2), (0, w % 2)]
        arr = np.pad(arr, pad, mode="edge")
    quads = arr.reshape(*arr.shape[:-2], arr.shape[-2] // 2, 2, arr.shape[-1] // 2, 2)
    if np.issubdtype(arr.dtype, np.floating):
        return quads.mean(axis=(-3, -1))
    total = quads.astype(np.int64).sum(axis=(-3, -1))
    return ((total + 2) // 4).astype(arr.dtype)


# --------------------------------------------------------------------------------------------
# convenience input: PNG sequences and ordinary video files


def read_video_file(path: str | os.PathLike[str]) -> tuple[tuple[np.ndarray, ...], PixFmt]:
    """Read a PNG image, a folder of PNGs (sorted by name) or a video file (MP4...) via PyAV.

    A convenience for bringing non-MIV content in; MIV content is raw YUV (:class:`YuvReader`).

    - Planar YUV/gray streams in a supported format (``yuv420p``, ``yuv420p10le``, ``gray16le``
      ...) come back unchanged, planes ``(N, h_p, w_p)``.
    - Gray images come back as ``gray``/``gray16le`` (one plane); 16-bit gray PNGs are how
      depth maps are often shipped.
    - Anything else (RGB PNGs, other pixel formats) is converted by PyAV to RGB and then by
      :func:`ctc.color.rgb_to_yuv420` to ``yuv420p10le`` (BT.709, limited range), the CTC
      texture format.

    Raises:
        MissingFileError: no such file or folder; a folder without PNGs.
        FormatError: PyAV cannot decode it, the frames differ in size, or it has no frames.
    """
    import av

    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.png"))
        if not files:
            raise MissingFileError(path, "folder has no .png files")
    elif path.is_file():
        files = [path]
    else:
        raise MissingFileError(path, "no such file or folder")

    frames: list[Any] = []
    for file in files:
        try:
            with av.open(str(file)) as container:
                frames.extend(container.decode(video=0))
        except (av.error.FFmpegError, ValueError, IndexError) as err:
            raise FormatError(file, f"cannot decode as image/video ({err})") from None
    if not frames:
        raise FormatError(path, "no video frames")
    sizes = {(f.width, f.height) for f in frames}
    if len(sizes) > 1:
        raise FormatError(path, f"frames differ in size: {sorted(sizes)}")
    return _frames_to_planes(frames)


_GRAY_FORMATS = {"gray": "gray", "gray16le": "gray16le", "gray16be": "gray16le",
                 "gray10le": "gray10le", "gray12le": "gray12le", "ya8": "gray", "ya16le": "gray16le",
                 "ya16be": "gray16le"}


def _frames_to_planes(frames: list[Any]) -> tuple[tuple[np.ndarray, ...], PixFmt]:
    """Decoded PyAV frames → planes ``(N, h_p, w_p)`` and their :class:`PixFmt` (see above)."""
    src = frames[0].format.name
    if _PIX_FMT_RE.match(src):
        fmt = parse_pix_fmt(src)
        return _stack_planes([_frame_planes(f, fmt) for f in frames]), fmt
    if src in _GRAY_FORMATS:
        fmt = parse_pix_fmt(_GRAY_FORMATS[src])
        converted = [_frame_planes(f.reformat(format=fmt.name), fmt) for f in frames]
        return _stack_planes(converted), fmt
    from ctc.color import rgb_to_yuv420

    # 8-bit sources go through rgb24 (swscale's rgb24 -> rgb48 scales 255 to 65280, not 65535).
    deep = max(c.bits for c in frames[0].format.components) > 8
    rgb_fmt, peak = ("rgb48le", 65535.0) if deep else ("rgb24", 255.0)
    rgb = np.stack([f.to_ndarray(format=rgb_fmt) for f in frames]).astype(np.float32) / peak
    planes = rgb_to_yuv420(np.moveaxis(rgb, -1, -3), 10)
    return tuple(planes), parse_pix_fmt("yuv420p10le")


def _frame_planes(frame: Any, fmt: PixFmt) -> tuple[np.ndarray, ...]:
    """The planes of one PyAV frame (row padding of ``line_size`` removed)."""
    out = []
    for plane, (h_p, w_p) in zip(frame.planes, fmt.plane_shapes(frame.width, frame.height)):
        row = plane.line_size // fmt.bytes_per_sample
        data = np.frombuffer(memoryview(plane), dtype=fmt.file_dtype)
        out.append(data[: h_p * row].reshape(h_p, row)[:, :w_p].astype(fmt.dtype))
    return tuple(out)


def _stack_planes(frames: list[tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
    return tuple(np.stack(planes) for planes in zip(*frames))
