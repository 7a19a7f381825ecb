"""The records of format version 1.0, declared once (the spec tables are generated from here).

File layout (``docs/bitstream.md`` is the normative text)::

    ┌──────────────────────────── preamble, 16 bytes ───────────────────────────┐
    │ "MVHR" │ major u16 │ minor u16 │ header_length u32 │ header_crc u32       │
    ├──────────────────────────── header, header_length bytes ──────────────────┤
    │ contents │ sequence │ camera × C │ arch_entry × A │ tensor × T │ section × S│
    ├──────────────────────────── payload ──────────────────────────────────────┤
    │ section 0: shared weights │ section 1: grids of view 0 │ … view K−1        │
    └───────────────────────────────────────────────────────────────────────────┘

Run ``python -m bitstream`` to print the field tables in Markdown.
"""

from __future__ import annotations

import numpy as np

from bitstream.fields import Field, Record, markdown_tables

MAGIC = b"MVHR"
FORMAT_MAJOR = 1
FORMAT_MINOR = 0
"""The version this code writes; it reads every ``1.x`` (ignoring what ``1.(x>0)`` appends)."""

PREAMBLE_BYTES = 16
MAX_HEADER_BYTES = 1 << 26
MAX_NDIM = 8
MAX_FILE_SYMBOLS = 2**28
"""Σ elements over all tensors (and so per tensor): 268 M parameters is about 5× the largest
HiNeRV model (XXL, 50.7 M; inr_codecs.md §1.2), and bounds what a hostile header can make a
decoder allocate (1 GiB of int32) and decode, since a constant or near-certain tensor may be
declared huge at almost no cost in payload bytes."""
MAX_TENSOR_ELEMENTS = MAX_FILE_SYMBOLS
MAX_SYMBOL_SPAN = 2**20
"""``max_symbol − min_symbol`` limit: constriction's 24-bit probabilities must give every symbol of
the alphabet a non-zero probability (0.5.0 panics for supports near 2^23)."""
MAX_LIST = 65535
SHARED_VIEW = 0xFFFF
"""The ``view`` value of tensors and sections shared by all views."""

PROJECTIONS = ("Perspective", "Equirectangular")
SECTION_KINDS = ("shared weights", "view grids")
CODERS = ("constriction 0.5.0 queue.RangeEncoder + QuantizedGaussian, 32-bit words",)
ARCH_KINDS = ("int", "float", "bool", "int list", "float list")
ARCH_FLOAT_KINDS = (1, 4)
ARCH_SCALAR_KINDS = (0, 1, 2)


def _product(dims) -> int:
    out = 1
    for d in np.asarray(dims).tolist():
        out *= int(d)
    return out


def _side_count(name: str):
    def count(values) -> int:
        mask = values[f"{name}_dims"]
        return _product([n for d, n in enumerate(np.asarray(values["shape"]).tolist()) if mask >> d & 1])

    return count


def _side_fields(name: str, meaning: str, *, lo: float | None, lo_open: bool) -> tuple[Field, Field]:
    return (
        Field(
            f"{name}_dims", "u8",
            f"bit d set: `{name}` has the tensor's size along dimension d, else 1 (broadcast)",
            lo=0, hi=255,
            rule="bits ≥ ndim are 0", check=lambda v, r: v >> r["ndim"] == 0,
        ),
        Field(
            name, "f16", meaning, lo=lo, lo_open=lo_open,
            count=_side_count(name), count_text=f"Π shape[d] for d in {name}_dims",
        ),
    )


PREAMBLE = Record(
    "preamble",
    "The first 16 bytes, not framed. `header_crc` is the CRC-32 (zlib.crc32, ISO-HDLC) of the "
    "preamble's first 12 bytes followed by the header's `header_length` bytes.",
    (
        Field("magic", "u8", "the bytes `4D 56 48 52` (\"MVHR\")", lo=0, hi=255,
              count=lambda v: 4, count_text="4",
              rule="= MVHR", check=lambda v, r: bytes(np.asarray(v, np.uint8)) == MAGIC),
        Field("major", "u16", "format major version; a decoder MUST reject majors it does not know",
              lo=1, hi=1),
        Field("minor", "u16", "format minor version; newer minors only append (see Versioning)",
              lo=0, hi=65535),
        Field("header_length", "u32", "bytes of header after the preamble", lo=0, hi=MAX_HEADER_BYTES),
        Field("header_crc", "u32", "CRC-32 of preamble bytes 0..11 and the header", lo=0, hi=2**32 - 1),
    ),
    framed=False,
)

CONTENTS = Record(
    "contents",
    "The first header record: the entropy coder and how many records of each kind follow.",
    (
        Field("coder", "u8", "entropy coder of the payload sections", choices=CODERS),
        Field("num_cameras", "u16", "camera records that follow (coded and not coded)", lo=1, hi=65535),
        Field("num_arch_entries", "u16", "arch_entry records", lo=0, hi=65535),
        Field("num_tensors", "u32", "tensor records", lo=0, hi=2**24),
        Field("num_sections", "u32", "section records (= 1 + number of coded cameras)", lo=1, hi=65536),
    ),
)

SEQUENCE = Record(
    "sequence",
    "Sequence parameters: what the decoder writes into the output sequence JSON.",
    (
        Field("name", "str", "content name (TMIV `Content_name`)", lo=0, hi=255),
        Field("fps", "f64", "frames per second", lo=0, lo_open=True, hi=1000),
        Field("num_frames", "u32", "frames coded per view", lo=1, hi=2**31 - 1),
        Field("start_frame", "u32", "index of the first coded frame in the source", lo=0, hi=2**31 - 1),
        Field("texture_bit_depth", "u8", "bits per decoded texture sample (YUV 4:2:0)", lo=8, hi=16),
        Field("depth_bit_depth", "u8", "bits per decoded depth sample", lo=8, hi=16),
    ),
)

CAMERA = Record(
    "camera",
    "One camera of the sequence, in output JSON order. Coded cameras (`coded` = 1) are the source "
    "views in coding order: the k-th coded camera is view k of the tensors and sections. The others "
    "(the `viewport`, held-out source views) are carried so that the output is a complete sequence.",
    (
        Field("name", "str", "camera name (`v0`, `viewport`...), unique in the file", lo=1, hi=255),
        Field("coded", "u8", "1: a coded source view; 0: a camera without coded data", lo=0, hi=1),
        Field("projection", "u8", "camera model", choices=PROJECTIONS),
        Field("width", "u16", "pixels", lo=1, hi=65535),
        Field("height", "u16", "pixels", lo=1, hi=65535),
        Field("position", "f64", "camera centre (x forward, y left, z up), metres",
              count=lambda v: 3, count_text="3"),
        Field("rotation", "f64", "(yaw, pitch, roll), degrees", count=lambda v: 3, count_text="3"),
        Field("depth_near", "f64", "nearest depth, metres", lo=0, lo_open=True),
        Field("depth_far", "f64", "farthest depth, metres (+inf: disparity 0)", allow_inf=True,
              rule="> depth_near", check=lambda v, r: v > r["depth_near"]),
        Field("has_invalid_depth", "u8", "1: depth sample 0 means invalid", lo=0, hi=1),
        Field("intrinsics", "f64",
              "Perspective: (fx, fy, cx, cy) pixels, top-left pixel corner at (0, 0); "
              "Equirectangular: (φmin, φmax, θmin, θmax) degrees",
              count=lambda v: 4, count_text="4",
              rule="Perspective: fx, fy > 0; Equirectangular: φmin < φmax, θmin < θmax",
              check=lambda v, r: bool(v[0] > 0 and v[1] > 0) if r["projection"] == 0
              else bool(v[0] < v[1] and v[2] < v[3])),
    ),
)

ARCH_ENTRY = Record(
    "arch_entry",
    "One entry of the architecture config (`MVHiNeRVArch.to_dict()`): the decoder rebuilds the "
    "model from these alone. Keys are unique; order is the writer's (sorted by key).",
    (
        Field("key", "str", "config key", lo=1, hi=255),
        Field("kind", "u8", "value kind", choices=ARCH_KINDS),
        Field("count", "uv", "number of values", lo=0, hi=MAX_LIST,
              rule="= 1 for int, float, bool",
              check=lambda v, r: v == 1 or r["kind"] not in ARCH_SCALAR_KINDS),
        Field("value", "sv or f64", "f64 for float and float list, else sv (signed varint)",
              count="count", type_of=lambda r: "f64" if r["kind"] in ARCH_FLOAT_KINDS else "sv",
              rule="bool: 0 or 1",
              check=lambda v, r: r["kind"] != 2 or bool(np.all((np.asarray(v) == 0) | (np.asarray(v) == 1)))),
    ),
)

TENSOR = Record(
    "tensor",
    "One quantised tensor and its entropy-coding side information. Its name is prefix-coded "
    "against the previous tensor record (`base.levels.0.view1` after `base.levels.0.view0` costs "
    "2 bytes: 18 shared + \"1\"). The parameter is "
    "`symbols × step`; symbol i is coded with QuantizedGaussian(min_symbol, max_symbol) of mean "
    "`mean[i]` and std `std[i]` (in symbol units, broadcast to `shape`, converted exactly to f64).",
    (
        Field("name_shared", "u8",
              "leading bytes of the name shared with the previous tensor record's name (0 in the first)",
              lo=0, hi=255),
        Field("name_suffix", "str",
              "the rest of the name: name = previous name's first `name_shared` bytes + this; "
              "names are unique, 1..255 bytes of UTF-8", lo=0, hi=255),
        Field("view", "u16", "index of the coded view whose section holds it; 65535: shared section",
              lo=0, hi=SHARED_VIEW),
        Field("ndim", "u8", "number of dimensions", lo=0, hi=MAX_NDIM),
        Field("shape", "uv", "size of each dimension (C order)", lo=1, hi=2**31 - 1,
              count="ndim", rule="Π shape ≤ 2^28",
              check=lambda v, r: _product(v) <= MAX_TENSOR_ELEMENTS),
        Field("min_symbol", "sv", "smallest symbol (all symbols equal it when max = min)",
              lo=-(2**31), hi=2**31 - 1),
        Field("max_symbol", "sv", "largest symbol", lo=-(2**31), hi=2**31 - 1,
              rule="min_symbol ≤ max_symbol ≤ min_symbol + 2^20",
              check=lambda v, r: r["min_symbol"] <= v <= r["min_symbol"] + MAX_SYMBOL_SPAN),
        *_side_fields("step", "quantisation step δ", lo=0, lo_open=True),
        *_side_fields("mean", "Gaussian mean, symbol units", lo=None, lo_open=False),
        *_side_fields("std", "Gaussian standard deviation, symbol units", lo=0, lo_open=True),
    ),
)

SECTION = Record(
    "section",
    "One payload section, in file order: first the shared section, then one per coded view in view "
    "order. Sections follow the header back to back and the file ends with the last one.",
    (
        Field("kind", "u8", "what the section holds", choices=SECTION_KINDS),
        Field("view", "u16", "coded view index; 65535 for the shared section", lo=0, hi=SHARED_VIEW,
              rule="65535 iff kind = 0", check=lambda v, r: (v == SHARED_VIEW) == (r["kind"] == 0)),
        Field("length", "u64", "bytes of the section", lo=0, hi=2**48,
              rule="multiple of 4", check=lambda v, r: v % 4 == 0),
        Field("crc", "u32", "CRC-32 of the section's bytes", lo=0, hi=2**32 - 1),
    ),
)

HEADER_RECORDS = (CONTENTS, SEQUENCE, CAMERA, ARCH_ENTRY, TENSOR, SECTION)
ALL_RECORDS = (PREAMBLE, *HEADER_RECORDS)


def spec_tables() -> str:
    """The Markdown field tables of every record (embedded in ``docs/bitstream.md``)."""
    return markdown_tables(ALL_RECORDS)
