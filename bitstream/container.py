"""The file container: preamble, header records, payload sections; writer and reader.

The reader validates in the order that keeps a damaged or hostile file harmless (style.md §5c, §13):

1. magic (:class:`BadMagic`), major version (:class:`UnsupportedVersion`), header length against
   the file size (:class:`TruncatedPayload`), header CRC (:class:`HeaderCRCError`);
2. each record's fields against their declared ranges, each count against the bytes left
   (:class:`FieldOutOfRange`, :class:`TruncatedPayload`, :class:`InconsistentSizes`);
3. cross-record rules (unique names, view indices, section order, total symbols, the sections
   exactly covering the rest of the file);
4. only then, per section that is read: its CRC (:class:`SectionCRCError`) and the range decoder.

Nothing sized by a file value is allocated before the check that bounds it.
"""

from __future__ import annotations

import dataclasses
import struct
import zlib
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from bitstream import layout
from bitstream.entropy import decode_section, encode_section
from bitstream.errors import (
    BadMagic,
    BitstreamError,
    FieldOutOfRange,
    HeaderCRCError,
    InconsistentSizes,
    SectionCRCError,
    TruncatedPayload,
    UnsupportedVersion,
)
from bitstream.fields import RECORD_MIN_BYTES, ByteReader, Record, Values
from bitstream.layout import PROJECTIONS, SHARED_VIEW
from bitstream.params import (
    BitstreamContents,
    CameraParams,
    SequenceParams,
    TensorInfo,
    arch_records,
    arch_value,
)
from bitstream.tensors import QuantizedTensor


@dataclasses.dataclass(frozen=True)
class SectionInfo:
    """A section record plus where its bytes are (``offset`` from the start of the file)."""

    kind: int
    view: int | None
    offset: int
    length: int
    crc: int


@dataclasses.dataclass(frozen=True, eq=False)
class Header:
    """Everything before the payload, parsed and validated (what :func:`read_header` returns).

    Attributes:
        version: (major, minor) of the file.
        coder: entropy coder id (index into :data:`bitstream.layout.CODERS`).
        sequence: sequence parameters and cameras.
        arch: the architecture config.
        tensors: the tensor records, in file order.
        sections: the section records, in file order.
        header_bytes: preamble + header length.
        side_info_bytes: bytes of the tensor records inside the header (names, shapes, alphabets,
            step/mean/std arrays): the entropy side information.
        file_bytes: size of the whole file.
    """

    version: tuple[int, int]
    coder: int
    sequence: SequenceParams
    arch: Mapping[str, object]
    tensors: tuple[TensorInfo, ...]
    sections: tuple[SectionInfo, ...]
    header_bytes: int
    side_info_bytes: int
    file_bytes: int

    def section_of(self, view: int | None) -> SectionInfo:
        return self.sections[0 if view is None else view + 1]


# ---------------------------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------------------------


def write_bitstream(contents: BitstreamContents) -> bytes:
    """Serialise ``contents`` as a format 1.0 file.

    The bytes depend only on ``contents`` (arch entries sorted by key, tensors in the given order,
    floats written exactly), so encoding twice gives identical files.

    Raises:
        FieldOutOfRange, InconsistentSizes: a value the format cannot carry (a 2^21-wide symbol
            range, a tensor of an uncoded view, duplicate names...).
        TypeError: an arch value of an unsupported type.
    """
    records, payloads = header_records(contents)
    return assemble(b"".join(r.pack(v, where) for r, v, where in records), payloads)


def header_records(contents: BitstreamContents) -> tuple[list[tuple[Record, Values, str]], list[bytes]]:
    """The header records as (record, field values, label) in file order, and the coded sections.

    :func:`write_bitstream` packs them; tests alter single values to craft invalid files.
    """
    seq = contents.sequence
    num_views = len(seq.coded_cameras)
    _check_unique([c.name for c in seq.cameras], "camera name")
    _check_unique([t.name for t in contents.tensors], "tensor name")
    infos = [TensorInfo.of(t) for t in contents.tensors]
    for info in infos:
        if info.view is not None and not 0 <= info.view < num_views:
            raise FieldOutOfRange(f"tensor {info.name}: view {info.view} is not one of {num_views} coded views")
    _check_total_symbols(infos)
    previous = [""] + [i.name for i in infos[:-1]]
    tensor_records = [(layout.TENSOR, _tensor_values(i, p), f"tensor {i.name}") for i, p in zip(infos, previous)]
    for record, values, label in tensor_records:  # range checks before the coder sees any value
        record.pack(values, label)

    payloads = [
        encode_section((i, t.symbols) for i, t in zip(infos, contents.tensors) if i.view == view)
        for view in [None, *range(num_views)]
    ]
    counts = {
        "coder": 0,
        "num_cameras": len(seq.cameras),
        "num_arch_entries": len(contents.arch),
        "num_tensors": len(infos),
        "num_sections": len(payloads),
    }
    sequence = seq.scalar_fields()
    records: list[tuple[Record, Values, str]] = [
        (layout.CONTENTS, counts, "contents"),
        (layout.SEQUENCE, sequence, "sequence"),
    ]
    records += [(layout.CAMERA, _camera_values(c), f"camera {c.name}") for c in seq.cameras]
    records += [
        (layout.ARCH_ENTRY, {"key": k, "kind": kind, "count": len(v), "value": v}, f"arch {k}")
        for k, kind, v in arch_records(contents.arch)
    ]
    records += tensor_records
    records += [
        (
            layout.SECTION,
            {
                "kind": 0 if k == 0 else 1,
                "view": SHARED_VIEW if k == 0 else k - 1,
                "length": len(p),
                "crc": zlib.crc32(p),
            },
            f"section[{k}]",
        )
        for k, p in enumerate(payloads)
    ]
    return records, payloads


def assemble(header: bytes, payloads: Iterable[bytes], *, minor: int = layout.FORMAT_MINOR) -> bytes:
    """Preamble (with the header CRC) + header + payloads. Also used by tests to craft files."""
    start = layout.PREAMBLE.pack(
        {
            "magic": np.frombuffer(layout.MAGIC, np.uint8),
            "major": layout.FORMAT_MAJOR,
            "minor": minor,
            "header_length": len(header),
            "header_crc": 0,
        }
    )[:12]
    crc = zlib.crc32(header, zlib.crc32(start))
    return start + struct.pack("<I", crc) + header + b"".join(payloads)


def _check_unique(names: Sequence[str], what: str) -> None:
    seen = set()
    for n in names:
        if n in seen:
            raise FieldOutOfRange(f"{what} {n!r} appears twice")
        seen.add(n)


def _check_total_symbols(infos: Sequence[TensorInfo]) -> None:
    total = sum(i.numel for i in infos)
    if total > layout.MAX_FILE_SYMBOLS:
        raise FieldOutOfRange(f"tensors hold {total} symbols in total, the format allows 2^28")


def _camera_values(c: CameraParams) -> Values:
    if c.projection not in PROJECTIONS:
        raise FieldOutOfRange(f"camera {c.name}: projection {c.projection!r} is not one of {PROJECTIONS}")
    return {
        "name": c.name,
        "coded": int(c.coded),
        "projection": PROJECTIONS.index(c.projection),
        "width": c.resolution[0],
        "height": c.resolution[1],
        "position": list(c.position),
        "rotation": list(c.rotation),
        "depth_near": c.depth_range[0],
        "depth_far": c.depth_range[1],
        "has_invalid_depth": int(c.has_invalid_depth),
        "intrinsics": list(c.intrinsics),
    }


def _dims_mask(side: np.ndarray, shape: tuple[int, ...]) -> int:
    # QuantizedTensor guarantees side dims are 1 or the symbols' size: a set bit = full size.
    # A dim of size 1 in the tensor is written as "broadcast" (the two are the same).
    return sum(1 << d for d, (s, n) in enumerate(zip(side.shape, shape)) if s == n and n != 1)


def shared_prefix_bytes(name: str, previous: str) -> int:
    """UTF-8 bytes of the longest common prefix of two names, cut at a character boundary (so
    that the suffix is valid UTF-8 on its own), at most 255 (it is a ``u8``)."""
    n = 0
    for a, b in zip(name, previous):
        if a != b:
            break
        n += 1
    shared = len(name[:n].encode("utf-8"))
    while shared > 255:  # only names of > 255 bytes get here; the range check rejects those
        n -= 1
        shared = len(name[:n].encode("utf-8"))
    return shared


def join_name(previous: str, shared: int, suffix: str, where: str) -> str:
    """The name a tensor record codes as (``name_shared``, ``name_suffix``) after ``previous``."""
    head = previous.encode("utf-8")
    if shared > len(head):
        raise FieldOutOfRange(f"{where}.name_shared = {shared} but the previous name has {len(head)} bytes")
    try:
        name = (head[:shared] + suffix.encode("utf-8")).decode("utf-8")
    except UnicodeDecodeError:
        raise FieldOutOfRange(f"{where}: name_shared splits a UTF-8 character") from None
    size = len(name.encode("utf-8"))
    if not 1 <= size <= 255:
        raise FieldOutOfRange(f"{where}: name of {size} bytes, allowed 1..255")
    return name


def _tensor_values(info: TensorInfo, previous: str) -> Values:
    if len(info.shape) > layout.MAX_NDIM:
        raise FieldOutOfRange(f"tensor {info.name}: {len(info.shape)} dims, the format allows {layout.MAX_NDIM}")
    size = len(info.name.encode("utf-8"))
    if not 1 <= size <= 255:
        raise FieldOutOfRange(f"tensor {info.name[:40]!r}: name of {size} bytes, allowed 1..255")
    shared = shared_prefix_bytes(info.name, previous)
    values: Values = {
        "name_shared": shared,
        "name_suffix": info.name.encode("utf-8")[shared:].decode("utf-8"),
        "view": SHARED_VIEW if info.view is None else info.view,
        "ndim": len(info.shape),
        "shape": list(info.shape),
        "min_symbol": info.min_symbol,
        "max_symbol": info.max_symbol,
    }
    for side in ("step", "mean", "std"):
        arr = getattr(info, side)
        values[f"{side}_dims"] = _dims_mask(arr, info.shape)
        values[side] = arr.reshape(-1)
    return values


# ---------------------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------------------


def read_header(data: bytes | memoryview, *, source: str | None = None) -> Header:
    """Parse and validate everything before the payload (no entropy decoding).

    Args:
        data: the whole file (the section table is checked against its size).
        source: the file name, prefixed to error messages.

    Raises:
        BitstreamError: a subclass naming the first problem found.
    """
    try:
        return _read_header(memoryview(data))
    except BitstreamError as err:
        raise err.at(source) from None


def read_bitstream(
    data: bytes | memoryview, *, views: Iterable[int] | None = None, source: str | None = None
) -> BitstreamContents:
    """Decode a file: header, shared weights, and the grids of ``views`` (default: all).

    Sections of other views are neither CRC-checked nor decoded, so reading one view of a
    many-view file costs only that view's grids.

    Args:
        data: the whole file.
        views: coded view indices to decode (see :meth:`SequenceParams.view_index`).
        source: the file name, prefixed to error messages.

    Returns:
        the contents; ``tensors`` holds the shared tensors and those of the chosen views, in file
        order.

    Raises:
        BitstreamError: a subclass naming the first problem found.
        ValueError: ``views`` names a view the file does not have (a caller error, not the file's).
    """
    data = memoryview(data)
    try:
        header = _read_header(data)
    except BitstreamError as err:
        raise err.at(source) from None
    num_views = len(header.sequence.coded_cameras)
    wanted = list(range(num_views)) if views is None else sorted(set(int(v) for v in views))
    bad = [v for v in wanted if not 0 <= v < num_views]
    if bad:
        raise ValueError(f"views {bad} not in the file's {num_views} coded views")
    try:
        decoded: dict[str, QuantizedTensor] = {}
        for view in [None, *wanted]:
            decoded.update(_read_section(data, header, view))
    except BitstreamError as err:
        raise err.at(source) from None
    tensors = tuple(decoded[t.name] for t in header.tensors if t.name in decoded)
    return BitstreamContents(header.sequence, header.arch, tensors)


def _read_section(data: memoryview, header: Header, view: int | None) -> dict[str, QuantizedTensor]:
    section = header.section_of(view)
    payload = data[section.offset : section.offset + section.length]
    label = "shared section" if view is None else f"section of view {view}"
    if zlib.crc32(payload) != section.crc:
        raise SectionCRCError(f"{label}: CRC mismatch (damaged payload)")
    infos = [t for t in header.tensors if t.view == view]
    try:
        symbols = decode_section(payload, infos)
    except BitstreamError as err:
        raise type(err)(f"{label}: {err.problem}") from None
    return {i.name: i.with_symbols(s) for i, s in zip(infos, symbols)}


def _read_preamble(data: memoryview) -> Values:
    if len(data) < layout.PREAMBLE_BYTES:
        if bytes(data[:4]) == layout.MAGIC[: len(data[:4])]:
            raise TruncatedPayload(f"file of {len(data)} bytes ends inside the 16-byte preamble")
        raise BadMagic("not an MV-HiNeRV bitstream (no MVHR magic)")
    if bytes(data[:4]) != layout.MAGIC:
        raise BadMagic(f"not an MV-HiNeRV bitstream (starts with {bytes(data[:4])!r}, expected b'MVHR')")
    major, minor = struct.unpack_from("<HH", data, 4)
    if major != layout.FORMAT_MAJOR:
        raise UnsupportedVersion(
            f"unsupported version {major}.{minor} (this decoder reads {layout.FORMAT_MAJOR}.x)"
        )
    pre = layout.PREAMBLE.unpack(ByteReader(data[: layout.PREAMBLE_BYTES], "preamble"), "preamble",
                                 allow_extension=False)
    end = layout.PREAMBLE_BYTES + pre["header_length"]
    if end > len(data):
        raise TruncatedPayload(f"header of {pre['header_length']} bytes runs past the end of the "
                               f"{len(data)}-byte file")
    crc = zlib.crc32(data[layout.PREAMBLE_BYTES : end], zlib.crc32(data[:12]))
    if crc != pre["header_crc"]:
        raise HeaderCRCError(f"header CRC mismatch (stored {pre['header_crc']:08x}, computed {crc:08x})")
    return pre


def _read_header(data: memoryview) -> Header:
    pre = _read_preamble(data)
    newer = pre["minor"] > layout.FORMAT_MINOR
    end = layout.PREAMBLE_BYTES + pre["header_length"]
    reader = ByteReader(data[layout.PREAMBLE_BYTES : end], "header")

    def records(record, count: int, label) -> list[Values]:
        if count * RECORD_MIN_BYTES > reader.remaining:
            raise InconsistentSizes(f"{count} {record.name} records cannot fit in {reader.remaining} header bytes")
        return [record.unpack(reader, label(k), allow_extension=newer) for k in range(count)]

    counts = layout.CONTENTS.unpack(reader, "contents", allow_extension=newer)
    seq_values = layout.SEQUENCE.unpack(reader, "sequence", allow_extension=newer)
    cameras = tuple(_camera(v) for v in records(layout.CAMERA, counts["num_cameras"], lambda k: f"camera[{k}]"))
    arch_values = records(layout.ARCH_ENTRY, counts["num_arch_entries"], lambda k: f"arch_entry[{k}]")
    side_start = reader.pos
    tensor_values = records(layout.TENSOR, counts["num_tensors"], lambda k: f"tensor[{k}]")
    side_bytes = reader.pos - side_start
    section_values = records(layout.SECTION, counts["num_sections"], lambda k: f"section[{k}]")
    if reader.remaining and not newer:
        raise InconsistentSizes(f"header has {reader.remaining} unexpected bytes after the section table")

    sequence = SequenceParams(
        name=seq_values["name"],
        fps=seq_values["fps"],
        num_frames=seq_values["num_frames"],
        start_frame=seq_values["start_frame"],
        texture_bit_depth=seq_values["texture_bit_depth"],
        depth_bit_depth=seq_values["depth_bit_depth"],
        cameras=cameras,
    )
    num_views = len(sequence.coded_cameras)
    _check_unique([c.name for c in cameras], "camera name")
    if num_views == 0:
        raise FieldOutOfRange("no camera is coded")
    arch = _arch(arch_values)
    tensors: tuple[TensorInfo, ...] = ()
    previous = ""
    for k, v in enumerate(tensor_values):
        previous = join_name(previous, v["name_shared"], v["name_suffix"], f"tensor[{k}]")
        tensors += (_tensor(v, previous, num_views),)
    _check_unique([t.name for t in tensors], "tensor name")
    _check_total_symbols(tensors)
    sections = _sections(section_values, num_views, end, len(data))
    return Header(
        version=(layout.FORMAT_MAJOR, pre["minor"]),
        coder=counts["coder"],
        sequence=sequence,
        arch=arch,
        tensors=tensors,
        sections=sections,
        header_bytes=end,
        side_info_bytes=side_bytes,
        file_bytes=len(data),
    )


def _camera(v: Values) -> CameraParams:
    return CameraParams(
        name=v["name"],
        coded=bool(v["coded"]),
        projection=PROJECTIONS[v["projection"]],
        resolution=(v["width"], v["height"]),
        position=tuple(float(x) for x in v["position"]),
        rotation=tuple(float(x) for x in v["rotation"]),
        depth_range=(v["depth_near"], v["depth_far"]),
        has_invalid_depth=bool(v["has_invalid_depth"]),
        intrinsics=tuple(float(x) for x in v["intrinsics"]),
    )


def _arch(entries: list[Values]) -> dict[str, object]:
    arch: dict[str, object] = {}
    for e in entries:
        if e["key"] in arch:
            raise FieldOutOfRange(f"arch key {e['key']!r} appears twice")
        arch[e["key"]] = arch_value(e["kind"], e["value"].tolist())
    return arch


def _side(v: Values, name: str, shape: tuple[int, ...]) -> np.ndarray:
    mask = v[f"{name}_dims"]
    side_shape = tuple(n if mask >> d & 1 else 1 for d, n in enumerate(shape))
    return v[name].astype(np.float16).reshape(side_shape)


def _tensor(v: Values, name: str, num_views: int) -> TensorInfo:
    view = None if v["view"] == SHARED_VIEW else v["view"]
    if view is not None and view >= num_views:
        raise FieldOutOfRange(f"tensor {name}: view {view} but the file codes {num_views} views")
    shape = tuple(int(n) for n in v["shape"])
    return TensorInfo(
        name=name,
        view=view,
        shape=shape,
        min_symbol=v["min_symbol"],
        max_symbol=v["max_symbol"],
        step=_side(v, "step", shape),
        mean=_side(v, "mean", shape),
        std=_side(v, "std", shape),
    )


def _sections(values: list[Values], num_views: int, start: int, file_bytes: int) -> tuple[SectionInfo, ...]:
    if len(values) != num_views + 1:
        raise InconsistentSizes(f"{len(values)} sections for {num_views} coded views (expected {num_views + 1})")
    out = []
    offset = start
    for k, v in enumerate(values):
        expected = SHARED_VIEW if k == 0 else k - 1
        if v["view"] != expected:
            raise FieldOutOfRange(f"section[{k}]: view {v['view']}, expected {expected} (sections are in view order)")
        out.append(SectionInfo(v["kind"], None if k == 0 else k - 1, offset, v["length"], v["crc"]))
        offset += v["length"]
    if offset > file_bytes:
        raise TruncatedPayload(f"sections end at byte {offset} but the file has {file_bytes} bytes")
    if offset < file_bytes:
        raise InconsistentSizes(f"{file_bytes - offset} unexpected bytes after the last section")
    return tuple(out)
