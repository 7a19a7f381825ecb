"""A declarative description of header records: one :class:`Field` per value, read and written
by the same code.

Following Cool-chic's ``HeaderElement`` (style.md §2, §7 practice 2), every header value is
declared **once**, with its binary type, its count (for arrays), its allowed range, any rule that
ties it to earlier fields of its record, and its meaning. From these declarations come:

- the writer (:meth:`Record.pack`), which refuses values outside their range;
- the reader (:meth:`Record.unpack`), which checks every range *before* the value is used and
  checks every count against the bytes left *before* it allocates anything;
- the field tables of the normative spec, ``docs/bitstream.md`` (:meth:`Record.markdown`).

Binary types (all little-endian): ``u8 u16 u32 u64`` unsigned, ``i32 i64`` two's complement,
``f16 f64`` IEEE 754 binary16/binary64, ``str`` = one ``u8`` byte count *n* then *n* bytes of
UTF-8, and two variable-length integer types for the small integers that dominate the tensor
records (shapes, symbol ranges, arch values): ``uv`` = unsigned LEB128 (7 bits per byte, least
significant group first, high bit set on every byte but the last; at most 9 bytes, so values
< 2^63; canonical: no trailing zero group) and ``sv`` = a signed value ``x`` written as the ``uv``
of its zig-zag map ``2x`` (x ≥ 0) / ``−2x − 1`` (x < 0), as in Protocol Buffers. A shape
dimension of 48 then takes 1 byte instead of 4. A field with a ``count`` is an array of that many
elements of its type.

Framing: a record is written as its body length (``uv``) followed by the body (the fields in
declaration order). A reader that knows a *newer minor version* than the file's ignores body bytes
past the fields it knows (a newer minor version may append fields); otherwise leftover bytes are an
error (:class:`~bitstream.errors.InconsistentSizes`).
"""

from __future__ import annotations

import dataclasses
import math
import struct
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from bitstream.errors import FieldOutOfRange, InconsistentSizes, TruncatedPayload

# Binary type -> numpy little-endian dtype (``str`` is handled apart).
DTYPES: Mapping[str, np.dtype] = {
    "u8": np.dtype("<u1"),
    "u16": np.dtype("<u2"),
    "u32": np.dtype("<u4"),
    "u64": np.dtype("<u8"),
    "i32": np.dtype("<i4"),
    "i64": np.dtype("<i8"),
    "f16": np.dtype("<f2"),
    "f64": np.dtype("<f8"),
}
VARINTS: Mapping[str, bool] = {"uv": False, "sv": True}
"""Variable-length integer types → signed (zig-zag)."""
VARINT_MAX_BYTES = 9
VARINT_LIMIT = 2**63
"""``uv`` values and zig-zag mapped ``sv`` values are < 2^63 (9 groups of 7 bits)."""
TYPES: tuple[str, ...] = (*DTYPES, *VARINTS, "str")


def encode_varint(value: int, signed: bool) -> bytes:
    """LEB128 bytes of ``value`` (zig-zag mapped first when ``signed``)."""
    value = int(value)
    u = (2 * value if value >= 0 else -2 * value - 1) if signed else value
    if not 0 <= u < VARINT_LIMIT:
        raise FieldOutOfRange(f"{value} does not fit a {'signed' if signed else 'unsigned'} varint")
    out = bytearray()
    while True:
        low, u = u & 0x7F, u >> 7
        out.append(low | (0x80 if u else 0))
        if not u:
            return bytes(out)


RECORD_MIN_BYTES = 1
"""The smallest framed record (an empty body: its ``uv`` length 0): bounds record counts before
any is read."""

Values = dict[str, Any]
"""The fields of one record by name: ints, floats, str, or numpy arrays for array fields."""


@dataclasses.dataclass(frozen=True)
class Field:
    """One header value (or array of values) of a record.

    Attributes:
        name: the field's name in the spec and in the values dict.
        type: a binary type (:data:`TYPES`); with ``type_of``, only the spec's text for a type
            chosen by earlier fields (the architecture values: ``i64 or f64``).
        meaning: one line for the spec.
        lo, hi: inclusive bounds of every element (for ``str``: of the UTF-8 byte count).
        lo_open: ``lo`` is exclusive (``fps > 0``).
        allow_inf: floats may be +inf (a far depth plane at infinity); NaN is never allowed.
        choices: an enumeration coded as its index (``0 = Perspective``...).
        count: for an array, the name of an earlier integer field of the record that gives the
            number of elements, or a function of the earlier values (``count_text`` says which).
        count_text: the spec's text for a computed ``count``.
        type_of: function of the earlier values giving the binary type of this field.
        rule: a cross-field condition (text for the spec), checked by ``check(value, earlier
            values) -> bool`` on both writing and reading.
    """

    name: str
    type: str
    meaning: str
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    allow_inf: bool = False
    choices: tuple[str, ...] = ()
    count: str | Callable[[Values], int] | None = None
    count_text: str = ""
    type_of: Callable[[Values], str] | None = None
    rule: str = ""
    check: Callable[[Any, Values], bool] | None = None

    def __post_init__(self) -> None:
        if self.type_of is None and self.type not in TYPES:
            raise ValueError(f"field {self.name}: unknown type {self.type}")
        if self.choices and (self.lo is not None or self.hi is not None):
            raise ValueError(f"field {self.name}: choices imply the range")
        if callable(self.count) and not self.count_text:
            raise ValueError(f"field {self.name}: a computed count needs count_text")
        if (self.rule == "") != (self.check is None):
            raise ValueError(f"field {self.name}: rule and check go together")

    # -- spec text -------------------------------------------------------------------------
    def range_text(self) -> str:
        if self.choices:
            return ", ".join(f"{i} = {c}" for i, c in enumerate(self.choices))
        parts = []
        if self.type == "str":
            parts.append(f"{_num(self.lo)}..{_num(self.hi)} bytes UTF-8")
        elif self.lo is not None or self.hi is not None:
            lo = "" if self.lo is None else f"{_num(self.lo)} {'<' if self.lo_open else '≤'} "
            hi = "" if self.hi is None else f" ≤ {_num(self.hi)}"
            parts.append(f"{lo}x{hi}")
        if self.type in ("f16", "f64") or self.type_of is not None:
            parts.append("finite or +inf" if self.allow_inf else "finite")
        if self.rule:
            parts.append(self.rule)
        return "; ".join(parts) or "any"

    def count_spec(self) -> str:
        if self.count is None:
            return "1"
        return self.count if isinstance(self.count, str) else self.count_text

    # -- validation ------------------------------------------------------------------------
    def element_type(self, values: Values) -> str:
        return self.type_of(values) if self.type_of is not None else self.type

    def n_elements(self, values: Values) -> int | None:
        if self.count is None:
            return None
        n = values[self.count] if isinstance(self.count, str) else self.count(values)
        return int(n)

    def validate(self, value: Any, values: Values, where: str) -> None:
        """Raise :class:`FieldOutOfRange` unless every element of ``value`` is in range."""
        etype = self.element_type(values)
        label = f"{where}.{self.name}"
        if etype == "str":
            size = len(value.encode("utf-8"))
            if not (_ge(size, self.lo, False) and _le(size, self.hi)):
                raise FieldOutOfRange(f"{label}: string of {size} bytes, allowed {self.range_text()}")
        else:
            arr = np.asarray(value)
            if etype in ("f16", "f64"):
                arr = arr.astype(np.float64)
                bad = np.isnan(arr) | (np.isinf(arr) & ~(self.allow_inf & (arr > 0)))
                if np.any(bad):
                    raise FieldOutOfRange(f"{label} = {_first(arr, bad)} is not {self.range_text()}")
            lo = 0 if self.choices else self.lo
            hi = len(self.choices) - 1 if self.choices else self.hi
            if lo is not None:
                bad = arr <= lo if self.lo_open else arr < lo
                if np.any(bad):
                    raise FieldOutOfRange(f"{label} = {_first(arr, bad)} out of range {self.range_text()}")
            if hi is not None and np.any(arr > hi):
                raise FieldOutOfRange(f"{label} = {_first(arr, arr > hi)} out of range {self.range_text()}")
        if self.check is not None and not self.check(value, values):
            shown = value if np.ndim(value) == 0 else np.asarray(value).tolist()
            raise FieldOutOfRange(f"{label} = {shown} breaks the rule: {self.rule}")


def _num(x: float | None) -> str:
    if x is None:
        return ""
    if float(x).is_integer() and abs(x) >= 2**16:
        e = int(math.log2(abs(x))) if x else 0
        if 2**e == abs(x):
            return f"{'-' if x < 0 else ''}2^{e}"
        if 2**(e + 1) - 1 == abs(x):
            return f"{'-' if x < 0 else ''}2^{e + 1}−1"
    return f"{int(x)}" if float(x).is_integer() else f"{x:g}"


def _ge(x: float, lo: float | None, open_: bool) -> bool:
    return lo is None or (x > lo if open_ else x >= lo)


def _le(x: float, hi: float | None) -> bool:
    return hi is None or x <= hi


def _first(arr: np.ndarray, bad: np.ndarray) -> Any:
    return np.asarray(arr)[np.asarray(bad)].reshape(-1)[0].item() if np.ndim(arr) else arr.item()


class ByteReader:
    """Bounds-checked little-endian reads from a buffer (raises :class:`TruncatedPayload`)."""

    def __init__(self, data: bytes | memoryview, where: str) -> None:
        self.data = memoryview(data)
        self.pos = 0
        self.where = where

    @property
    def remaining(self) -> int:
        return len(self.data) - self.pos

    def take(self, n: int, what: str) -> memoryview:
        if n < 0 or n > self.remaining:
            raise TruncatedPayload(
                f"{self.where}: {what} needs {n} bytes at offset {self.pos}, only {self.remaining} left"
            )
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def array(self, dtype: np.dtype, n: int, what: str) -> np.ndarray:
        # The size check (in take) comes before the allocation: n is bounded by the bytes left.
        if n > self.remaining // dtype.itemsize:
            raise TruncatedPayload(
                f"{self.where}: {what} declares {n} elements of {dtype.itemsize} bytes, "
                f"only {self.remaining} bytes left"
            )
        return np.frombuffer(self.take(n * dtype.itemsize, what), dtype=dtype).copy()

    def scalar(self, dtype: np.dtype, what: str) -> Any:
        return self.array(dtype, 1, what)[0].item()

    def varint(self, signed: bool, what: str) -> int:
        """One ``uv``/``sv`` value; over-long (> 9 bytes) and non-canonical encodings are errors."""
        u = 0
        for k in range(VARINT_MAX_BYTES):
            byte = self.take(1, what)[0]
            u |= (byte & 0x7F) << (7 * k)
            if not byte & 0x80:
                if byte == 0 and k > 0:
                    raise FieldOutOfRange(f"{self.where}: {what} is a non-canonical varint (trailing zero byte)")
                return (u >> 1) ^ -(u & 1) if signed else u
        raise FieldOutOfRange(f"{self.where}: {what} is a varint longer than {VARINT_MAX_BYTES} bytes")

    def varints(self, signed: bool, n: int, what: str) -> np.ndarray:
        # Each value takes ≥ 1 byte: n is bounded by the bytes left before anything is allocated.
        if n > self.remaining:
            raise TruncatedPayload(
                f"{self.where}: {what} declares {n} varints, only {self.remaining} bytes left"
            )
        return np.array([self.varint(signed, what) for _ in range(n)], dtype=np.int64)


@dataclasses.dataclass(frozen=True)
class Record:
    """An ordered list of fields, written as ``uv`` body length + body (or bare: ``framed=False``,
    only for the fixed-size preamble)."""

    name: str
    meaning: str
    fields: tuple[Field, ...]
    framed: bool = True

    def __post_init__(self) -> None:
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            raise ValueError(f"record {self.name}: duplicate field names")
        for i, f in enumerate(self.fields):
            if isinstance(f.count, str) and f.count not in names[:i]:
                raise ValueError(f"record {self.name}: {f.name} counted by unknown {f.count}")

    # -- writing ---------------------------------------------------------------------------
    def pack(self, values: Mapping[str, Any], where: str | None = None, *, check: bool = True) -> bytes:
        """The framed record (``uv`` length + body); every value is range checked first.

        ``check=False`` skips the range checks (tests use it to craft invalid files).
        """
        where = where or self.name
        done: Values = {}
        body = bytearray()
        for f in self.fields:
            if f.name not in values:
                raise KeyError(f"{where}: missing field {f.name}")
            value = values[f.name]
            n = f.n_elements(done)
            etype = f.element_type(done)
            if check and n is not None and len(value) != n:
                raise InconsistentSizes(f"{where}.{f.name}: {len(value)} elements, count says {n}")
            if check:
                f.validate(value, done, where)
            done[f.name] = value
            if etype == "str":
                raw = value.encode("utf-8")
                body += struct.pack("<B", len(raw)) + raw
            elif etype in VARINTS:
                body += b"".join(encode_varint(x, VARINTS[etype]) for x in np.ravel(value).tolist())
            else:
                body += np.asarray(value, dtype=DTYPES[etype]).tobytes()
        if not self.framed:
            return bytes(body)
        return encode_varint(len(body), False) + bytes(body)

    # -- reading ---------------------------------------------------------------------------
    def unpack(self, reader: ByteReader, where: str, *, allow_extension: bool) -> Values:
        """Read one framed record; ``allow_extension``: the file is a newer minor version."""
        if self.framed:
            length = reader.varint(False, f"{where} length")
            body = ByteReader(reader.take(length, f"{where} body"), reader.where)
        else:
            body = reader
        values: Values = {}
        for f in self.fields:
            n = f.n_elements(values)
            etype = f.element_type(values)
            what = f"{where}.{f.name}"
            if etype == "str":
                size = body.scalar(DTYPES["u8"], what)
                try:
                    value: Any = bytes(body.take(size, what)).decode("utf-8")
                except UnicodeDecodeError:
                    raise FieldOutOfRange(f"{what}: not valid UTF-8") from None
            elif etype in VARINTS:
                value = body.varint(VARINTS[etype], what) if n is None else body.varints(VARINTS[etype], n, what)
            elif n is None:
                value = body.scalar(DTYPES[etype], what)
            else:
                value = body.array(DTYPES[etype], n, what)
            f.validate(value, values, where)
            values[f.name] = value
        if self.framed and body.remaining and not allow_extension:
            raise InconsistentSizes(f"{where}: {body.remaining} unexpected bytes after the last field")
        return values

    # -- spec ------------------------------------------------------------------------------
    def markdown(self) -> str:
        rows = [
            f"### Record `{self.name}`",
            "",
            self.meaning,
            "",
            "| # | field | type | count | range | meaning |",
            "|---|---|---|---|---|---|",
        ]
        for i, f in enumerate(self.fields):
            rows.append(
                f"| {i} | `{f.name}` | {f.type} | {f.count_spec()} | {f.range_text()} | {f.meaning} |"
            )
        return "\n".join(rows)


def markdown_tables(records: Sequence[Record]) -> str:
    """The spec's field tables (``docs/bitstream.md`` embeds this text verbatim)."""
    return "\n\n".join(r.markdown() for r in records) + "\n"
