"""Container and header: every field's round trip and range error, versions, CRCs, sizes, golden."""

from __future__ import annotations

import json
import math
import re
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from bitstream_support import REPO, golden_bytes, golden_expected, make_golden

from bitstream import (
    BadMagic,
    BitstreamContents,
    BitstreamError,
    CameraParams,
    FieldOutOfRange,
    HeaderCRCError,
    InconsistentSizes,
    QuantizedTensor,
    SectionCRCError,
    SequenceParams,
    TruncatedPayload,
    UnsupportedVersion,
    bitstream_summary,
    read_bitstream,
    read_header,
    write_bitstream,
)
from bitstream import layout
from bitstream.container import assemble, header_records
from bitstream.fields import DTYPES, VARINT_LIMIT, VARINTS, ByteReader, encode_varint
from bitstream.layout import HEADER_RECORDS, MAX_SYMBOL_SPAN, spec_tables

# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def sample() -> BitstreamContents:
    return make_golden().sample_contents()


def craft(contents: BitstreamContents, mutate=None, *, minor: int = 0, extra: bytes = b"") -> bytes:
    """A file built from ``contents`` whose header values ``mutate(records)`` may alter (unchecked)."""
    records, payloads = header_records(contents)
    if mutate is not None:
        mutate(records)
    header = b"".join(r.pack(v, w, check=False) for r, v, w in records) + extra
    return assemble(header, payloads, minor=minor)


def first(records, record, pred=lambda v: True):
    return next(v for r, v, _ in records if r is record and pred(v))


def random_contents(rng) -> BitstreamContents:
    """Random valid contents that push every field to its limits."""
    cams = []
    for k in range(int(rng.integers(1, 6))):
        erp = bool(rng.random() < 0.3)
        far = math.inf if rng.random() < 0.3 else float(rng.uniform(10, 1e6))
        cams.append(CameraParams(
            name=f"cam{k}-é" * int(rng.integers(1, 4)),
            coded=bool(k == 0 or rng.random() < 0.6),
            projection="Equirectangular" if erp else "Perspective",
            resolution=(int(rng.integers(1, 65536)), int(rng.integers(1, 65536))),
            position=tuple(float(x) for x in rng.normal(0, 1e3, 3)),
            rotation=tuple(float(x) for x in rng.uniform(-180, 180, 3)),
            depth_range=(float(rng.uniform(1e-6, 9)), far),
            has_invalid_depth=bool(rng.random() < 0.5),
            intrinsics=(-180.0, 180.0, -90.0, 90.0) if erp else tuple(float(x) for x in rng.uniform(1, 5e3, 4)),
        ))
    seq = SequenceParams(
        name="" if rng.random() < 0.2 else "Séquence" * int(rng.integers(1, 20)),
        fps=float(rng.choice([1000.0, 29.97, 1e-3])),
        num_frames=int(rng.integers(1, 2**31)),
        start_frame=int(rng.integers(0, 2**31)),
        texture_bit_depth=int(rng.integers(8, 17)),
        depth_bit_depth=int(rng.integers(8, 17)),
        cameras=tuple(cams),
    )
    num_views = len(seq.coded_cameras)
    arch = {
        "i": int(rng.integers(-(2**62), 2**62 - 1)),  # the range of an sv value
        "f": float(rng.normal()),
        "b": bool(rng.random() < 0.5),
        "il": [int(x) for x in rng.integers(-100, 100, int(rng.integers(0, 9)))],
        "fl": [float(x) for x in rng.normal(size=int(rng.integers(1, 9)))],
    }
    tensors = []
    for k in range(int(rng.integers(0, 8))):
        ndim = int(rng.integers(0, layout.MAX_NDIM + 1))
        shape = tuple(int(n) for n in rng.integers(1, 4 if ndim > 4 else 7, ndim))
        side = tuple(n if rng.random() < 0.5 else 1 for n in shape)
        lo = int(rng.integers(-(2**31), 2**31 - MAX_SYMBOL_SPAN))
        sym = rng.integers(lo, lo + int(rng.choice([0, 3, MAX_SYMBOL_SPAN])) + 1, shape).astype(np.int32)
        tensors.append(QuantizedTensor(
            name=f"t{k}" if rng.random() < 0.5 else "blocks.é" * int(rng.integers(1, 5)) + f"{k}", view=None if rng.random() < 0.4 else int(rng.integers(0, num_views)),
            symbols=sym,
            step=rng.uniform(1e-4, 1, side).astype(np.float16),
            mean=np.clip(rng.normal(0, 1, side) + lo, -65504, 65504).astype(np.float16),
            std=rng.uniform(0.1, 1e3, side).astype(np.float16),
        ))
    return BitstreamContents(seq, arch, tuple(tensors))


# --------------------------------------------------------------------------------------------
# round trips
# --------------------------------------------------------------------------------------------


def test_sample_round_trip_and_determinism():
    contents = sample()
    data = write_bitstream(contents)
    assert data == write_bitstream(sample())
    assert read_bitstream(data).same_as(contents)


@pytest.mark.parametrize("seed", range(12))
def test_random_contents_round_trip(seed):
    contents = random_contents(np.random.default_rng(seed))
    data = write_bitstream(contents)
    back = read_bitstream(data)
    assert back.same_as(contents)
    assert back.sequence == contents.sequence
    assert back.arch == contents.arch
    assert write_bitstream(back) == data


def test_partial_view_decode_reads_only_those_sections():
    contents = sample()
    data = bytearray(write_bitstream(contents))
    header = read_header(bytes(data))
    v0 = header.section_of(0)
    data[v0.offset + 1] ^= 0xFF  # damage view 0's grids: reading view 1 alone must not notice
    part = read_bitstream(bytes(data), views=[1])
    expected = [t for t in contents.tensors if t.view in (None, 1)]
    assert [t.name for t in part.tensors] == [t.name for t in expected]
    assert all(a.same_as(b) for a, b in zip(part.tensors, expected))
    with pytest.raises(SectionCRCError, match="view 0"):
        read_bitstream(bytes(data), views=[0])
    with pytest.raises(ValueError, match="not in the file"):
        read_bitstream(bytes(data), views=[2])


def test_golden_file_decodes_to_its_recorded_hash():
    data = golden_bytes()
    expected = golden_expected()
    assert len(data) == expected["file_bytes"]
    contents = read_bitstream(data)
    assert contents.parameter_digest() == expected["parameter_sha256"]
    assert contents.same_as(sample())


def test_golden_file_is_reproduced_bit_exactly():
    """The writer's bytes depend only on its inputs: today's build equals the committed file."""
    assert write_bitstream(sample()) == golden_bytes()


# --------------------------------------------------------------------------------------------
# every field: range errors
# --------------------------------------------------------------------------------------------

RULE_BREAKERS = {
    # (record, field): (selector of the record instance, changes making the rule fail)
    ("camera", "depth_far"): (lambda v: v["projection"] == 0, {"depth_far": 0.25}),
    ("camera", "intrinsics"): (lambda v: v["projection"] == 0, {"intrinsics": [-1.0, 58.5, 32.0, 24.0]}),
    ("arch_entry", "count"): (lambda v: v["key"] == "views", {"count": 2, "value": [2, 3]}),
    ("arch_entry", "value"): (lambda v: v["key"] == "rgbd", {"value": [2]}),
    ("tensor", "shape"): (lambda v: v["ndim"] == 2, {"shape": [65536, 65536]}),
    ("tensor", "max_symbol"): (lambda v: v["ndim"] == 4, {"max_symbol": -(2**31) + 1 + MAX_SYMBOL_SPAN,
                                                           "min_symbol": -(2**31)}),
    ("tensor", "step_dims"): (lambda v: v["ndim"] == 1, {"step_dims": 2}),
    ("tensor", "mean_dims"): (lambda v: v["ndim"] == 1, {"mean_dims": 0x80}),
    ("tensor", "std_dims"): (lambda v: v["ndim"] == 0, {"std_dims": 1}),
    ("section", "view"): (lambda v: v["kind"] == 0, {"view": 0}),
    ("section", "length"): (lambda v: v["kind"] == 0, {"length": 6}),
}


def out_of_range_values(field, values):
    """Values just outside a field's declared range (or NaN/inf for floats, '' for names)."""
    etype = field.element_type(values)
    bad = []
    if field.choices:
        bad.append(len(field.choices))
    elif etype in ("f16", "f64"):
        bad.append(math.nan)
        if not field.allow_inf:
            bad.append(math.inf)
        if field.lo is not None:
            bad.append(field.lo if field.lo_open else field.lo - 1)
        if field.hi is not None:
            bad.append(field.hi * 2 + 1)
    elif etype == "str":
        if field.lo:
            bad.append("")
    else:
        if etype in VARINTS:  # what a varint can carry: zig-zag / plain values < 2^63
            type_min, type_max = (-(VARINT_LIMIT // 2), VARINT_LIMIT // 2 - 1) if VARINTS[etype] else (0, VARINT_LIMIT - 1)
        else:
            info = np.iinfo(DTYPES[etype])
            type_min, type_max = int(info.min), int(info.max)
        if field.hi is not None and field.hi < type_max:
            bad.append(int(field.hi) + 1)
        if field.lo is not None and field.lo > type_min:
            bad.append(int(field.lo) - 1)
    return bad


def field_cases():
    """Every header field that has a value outside its range (u16 `view` 0..65535 has none)."""
    records, _ = header_records(sample())
    for record in HEADER_RECORDS:
        for field in record.fields:
            if out_of_range_values(field, first(records, record)) or (record.name, field.name) in RULE_BREAKERS:
                yield pytest.param(record, field, id=f"{record.name}.{field.name}")


@pytest.mark.parametrize("record, field", list(field_cases()))
def test_every_header_field_rejects_out_of_range_values(record, field):
    contents = sample()
    records, _ = header_records(contents)
    template = first(records, record)
    cases = []
    for value in out_of_range_values(field, template):
        if field.count is not None and field.element_type(template) != "str":
            n = len(template[field.name])
            if n == 0:
                continue
            value = [value] + list(np.asarray(template[field.name]).tolist())[1:]
        cases.append((lambda v: True, {field.name: value}))
    if (record.name, field.name) in RULE_BREAKERS:
        cases.append(RULE_BREAKERS[(record.name, field.name)])
    assert cases
    for select, changes in cases:
        def mutate(rs, select=select, changes=changes):
            first(rs, record, select).update(changes)

        data = craft(contents, mutate)
        with pytest.raises(FieldOutOfRange, match=re.escape(field.name)):
            read_bitstream(data)


def test_invalid_utf8_name_is_rejected():
    data = bytearray(write_bitstream(sample()))
    i = data.index(b"GoldenScene")
    data[i] = 0xFF
    data[12:16] = struct.pack("<I", zlib.crc32(bytes(data[16 : 16 + read_length(data)]), zlib.crc32(bytes(data[:12]))))
    with pytest.raises(FieldOutOfRange, match="UTF-8"):
        read_bitstream(bytes(data))


def test_tensor_names_are_prefix_coded_at_character_boundaries():
    """``name_shared`` counts UTF-8 bytes of the common prefix, never splitting a character."""
    from bitstream.container import shared_prefix_bytes

    assert shared_prefix_bytes("base.levels.0.view1", "base.levels.0.view0") == 18
    assert shared_prefix_bytes("aé", "aè") == 1  # é and è share their first UTF-8 byte
    assert shared_prefix_bytes("x", "") == 0
    seq = sample().sequence
    names = ("stem.weight", "stem.bias", "stem.bias.é", "stem.bias.è", "s", "stem.weightless")
    tensors = tuple(QuantizedTensor(n, None, np.arange(3, dtype=np.int32), *(np.ones(1, np.float16),) * 3)
                    for n in names)
    contents = BitstreamContents(seq, {}, tensors)
    data = write_bitstream(contents)
    assert read_bitstream(data).same_as(contents)
    records, _ = header_records(contents)
    coded = [(v["name_shared"], v["name_suffix"]) for r, v, _ in records if r is layout.TENSOR]
    assert coded == [(0, "stem.weight"), (5, "bias"), (9, ".é"), (10, "è"), (1, ""), (1, "tem.weightless")]


@pytest.mark.parametrize("shared, match", [(12, "previous name has 11 bytes"), (0, "name of 0 bytes")])
def test_bad_name_prefix_is_out_of_range(shared, match):
    seq = sample().sequence
    tensors = tuple(QuantizedTensor(n, None, np.arange(3, dtype=np.int32), *(np.ones(1, np.float16),) * 3)
                    for n in ("stem.weight", "stem.bias"))
    suffix = "" if shared == 0 else "x"
    data = craft(BitstreamContents(seq, {}, tensors),
                 lambda rs: first(rs, layout.TENSOR, lambda v: v["name_suffix"] == "bias")
                 .update({"name_shared": shared, "name_suffix": suffix}))
    with pytest.raises(FieldOutOfRange, match=match):
        read_bitstream(data)


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 2**62, 2**63 - 1])
def test_unsigned_varints_round_trip(value):
    raw = encode_varint(value, False)
    assert len(raw) == max(1, -(-value.bit_length() // 7))
    assert ByteReader(raw, "t").varint(False, "v") == value


@pytest.mark.parametrize("value", [0, -1, 1, -64, 64, -(2**62), 2**62 - 1])
def test_signed_varints_round_trip_zigzag(value):
    raw = encode_varint(value, True)
    assert ByteReader(raw, "t").varint(True, "v") == value
    assert len(raw) == 1 or abs(value) >= 64


@pytest.mark.parametrize("raw, error, match", [
    (b"\x80\x00", FieldOutOfRange, "non-canonical"),
    (b"\xff" * 9 + b"\x01", FieldOutOfRange, "longer than 9"),
    (b"\x80\x80", TruncatedPayload, "needs 1 bytes"),
])
def test_malformed_varints_are_rejected(raw, error, match):
    with pytest.raises(error, match=match):
        ByteReader(raw, "t").varint(False, "v")


def test_varint_writer_refuses_what_does_not_fit():
    with pytest.raises(FieldOutOfRange, match="does not fit"):
        encode_varint(2**63, False)
    with pytest.raises(FieldOutOfRange, match="does not fit"):
        encode_varint(-1, False)
    with pytest.raises(FieldOutOfRange, match="does not fit"):
        write_bitstream(BitstreamContents(sample().sequence, {"i": 2**62}, ()))


def read_length(data) -> int:
    return struct.unpack_from("<I", data, 8)[0]


def test_writer_refuses_values_the_format_cannot_carry():
    contents = sample()
    wide = QuantizedTensor("w", None, np.array([0, MAX_SYMBOL_SPAN + 1], np.int32),
                           *(np.ones(1, np.float16),) * 3)
    with pytest.raises(FieldOutOfRange, match="max_symbol"):
        write_bitstream(BitstreamContents(contents.sequence, {}, (wide,)))
    huge = QuantizedTensor("h", None, np.array([-(2**31), 2**31 - 1], np.int32), *(np.ones(1, np.float16),) * 3)
    with pytest.raises(FieldOutOfRange, match="max_symbol"):  # before constriction would panic
        write_bitstream(BitstreamContents(contents.sequence, {}, (huge,)))
    inf_mean = QuantizedTensor("m", None, np.array([0, 1], np.int32), np.ones(1, np.float16),
                               np.array([np.inf], np.float16), np.ones(1, np.float16))
    with pytest.raises(FieldOutOfRange, match="mean"):
        write_bitstream(BitstreamContents(contents.sequence, {}, (inf_mean,)))
    stray = QuantizedTensor("g", 5, np.zeros(3, np.int32), *(np.ones(1, np.float16),) * 3)
    with pytest.raises(FieldOutOfRange, match="view 5"):
        write_bitstream(BitstreamContents(contents.sequence, {}, (stray,)))
    with pytest.raises(FieldOutOfRange, match="appears twice"):
        write_bitstream(BitstreamContents(contents.sequence, {}, contents.tensors[:1] * 2))
    with pytest.raises(TypeError, match="arch"):
        write_bitstream(BitstreamContents(contents.sequence, {"x": "text"}, ()))
    far = contents.sequence.cameras[0]
    bad_cam = CameraParams(**{**far.__dict__, "depth_range": (2.0, 1.0)})
    seq = SequenceParams(**{**contents.sequence.__dict__, "cameras": (bad_cam,)})
    with pytest.raises(FieldOutOfRange, match="depth_far"):
        write_bitstream(BitstreamContents(seq, {}, ()))


# --------------------------------------------------------------------------------------------
# preamble, versions, CRCs, sizes
# --------------------------------------------------------------------------------------------


def test_bad_magic():
    with pytest.raises(BadMagic):
        read_bitstream(b"GIF89a" + bytes(100))
    with pytest.raises(BadMagic):
        read_header(b"\x89PNG")


def test_unknown_major_version_is_unsupported():
    data = bytearray(write_bitstream(sample()))
    data[4:8] = struct.pack("<HH", 2, 3)
    with pytest.raises(UnsupportedVersion, match=re.escape("unsupported version 2.3 (this decoder reads 1.x)")):
        read_bitstream(bytes(data))


def extend(packed: bytes, extra: bytes) -> bytes:
    """A framed record with ``extra`` bytes appended to its body (what a newer minor may do)."""
    reader = ByteReader(packed, "record")
    length = reader.varint(False, "length")
    return encode_varint(length + len(extra), False) + packed[reader.pos:] + extra


def newer_minor_file(minor: int) -> bytes:
    contents = sample()
    records, payloads = header_records(contents)
    header = b"".join(extend(r.pack(v, w), b"\x07\x00new") for r, v, w in records)
    header += encode_varint(3, False) + b"rec"  # a record a later minor appends
    return assemble(header, payloads, minor=minor)


def test_newer_minor_version_fields_are_ignored():
    back = read_bitstream(newer_minor_file(minor=4))
    assert back.same_as(sample())
    assert read_header(newer_minor_file(minor=4)).version == (1, 4)


def test_appended_fields_are_an_error_in_a_known_minor_version():
    with pytest.raises(InconsistentSizes, match="unexpected bytes"):
        read_bitstream(newer_minor_file(minor=0))


def test_header_crc():
    data = bytearray(write_bitstream(sample()))
    data[40] ^= 0x10
    with pytest.raises(HeaderCRCError):
        read_bitstream(bytes(data))
    data = bytearray(write_bitstream(sample()))
    data[6] ^= 0x01  # the minor version is covered by the CRC too
    with pytest.raises(HeaderCRCError):
        read_bitstream(bytes(data))


def test_section_crc():
    data = bytearray(write_bitstream(sample()))
    data[-3] ^= 0x01
    with pytest.raises(SectionCRCError):
        read_bitstream(bytes(data))


def test_every_truncation_is_a_truncated_payload():
    data = write_bitstream(sample())
    for n in [*range(0, 80), *range(80, len(data), 13)]:
        with pytest.raises(TruncatedPayload) as info:
            read_bitstream(data[:n])
        assert isinstance(info.value, EOFError)


def test_trailing_bytes_are_rejected():
    with pytest.raises(InconsistentSizes, match="after the last section"):
        read_bitstream(write_bitstream(sample()) + b"\0\0\0\0")


@pytest.mark.parametrize(
    "field, value, error",
    [
        ("num_tensors", 2**24, InconsistentSizes),  # 16 M records claimed in a few kB
        ("num_cameras", 65535, InconsistentSizes),
        ("num_sections", 65536, InconsistentSizes),
        ("num_arch_entries", 60000, InconsistentSizes),
    ],
)
def test_absurd_counts_fail_before_allocating(field, value, error):
    data = craft(sample(), lambda rs: first(rs, layout.CONTENTS).update({field: value}))
    with pytest.raises(error):
        read_bitstream(data)


def test_absurd_array_lengths_fail_before_allocating():
    data = craft(sample(), lambda rs: first(rs, layout.ARCH_ENTRY, lambda v: v["kind"] == 3)
                 .update({"count": 65535}))
    with pytest.raises(TruncatedPayload, match="65535 varints"):
        read_bitstream(data)
    header = craft(sample(), lambda rs: first(rs, layout.SECTION)
                   .update({"length": 2**40}))
    with pytest.raises(TruncatedPayload, match="sections end"):
        read_bitstream(header)


def test_huge_header_length_is_out_of_range():
    data = bytearray(write_bitstream(sample()))
    data[8:12] = struct.pack("<I", 2**31)
    with pytest.raises(FieldOutOfRange, match="header_length"):
        read_bitstream(bytes(data))
    data[8:12] = struct.pack("<I", 2**20)
    with pytest.raises(TruncatedPayload, match="header"):
        read_bitstream(bytes(data))


def test_errors_are_one_line_and_name_the_source():
    data = bytearray(write_bitstream(sample()))
    data[-1] ^= 0xFF
    with pytest.raises(BitstreamError) as info:
        read_bitstream(bytes(data), source="out.bin")
    message = str(info.value)
    assert message.startswith("out.bin: ") and "\n" not in message
    assert info.value.where == "out.bin"


# --------------------------------------------------------------------------------------------
# summary and spec
# --------------------------------------------------------------------------------------------


def test_summary_adds_up():
    data = golden_bytes()
    s = bitstream_summary(data)
    b = s["bytes"]
    assert b["header"] + b["side_info"] + b["shared_weights"] + sum(b["grids"].values()) == len(data)
    assert s["params"]["total"] == sum(t.numel for t in sample().tensors)
    assert s["params"]["grids"] == {"v0": 4 * 6 * 8 * 5 + 2 * 12 * 16, "v2": 4 * 6 * 8 * 5}
    assert s["bpp"] == pytest.approx(8 * len(data) / (2 * 64 * 48 * 4))
    assert s["mbps"] == pytest.approx(8 * len(data) / (4 / 30.0) / 1e6)


def test_docs_embed_the_generated_field_tables():
    docs = (REPO / "docs" / "bitstream.md").read_text(encoding="utf-8")
    begin, end = "<!-- BEGIN FIELD TABLES (python -m bitstream) -->\n", "<!-- END FIELD TABLES -->"
    assert begin in docs and end in docs
    block = docs.split(begin, 1)[1].split(end, 1)[0]
    assert block == spec_tables(), "docs/bitstream.md is stale: paste the output of `python -m bitstream`"
    for record in layout.ALL_RECORDS:
        for field in record.fields:
            assert f"| `{field.name}` |" in block


def test_bitstream_imports_neither_torch_nor_ctc_nor_mvhinerv():
    code = ("import sys, bitstream, bitstream.__main__ as _; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'ctc', 'mvhinerv')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", sorted(json.loads((REPO / "tests/data/corrupt/expected.json").read_text())))
def test_committed_corrupt_files_raise_their_error(name):
    """``tests/data/corrupt/``: damaged files (two with valid CRCs) and the error each must raise."""
    import bitstream

    expected = json.loads((REPO / "tests/data/corrupt/expected.json").read_text())[name]
    data = (REPO / "tests/data/corrupt" / name).read_bytes()
    with pytest.raises(getattr(bitstream, expected)):
        read_bitstream(data)
