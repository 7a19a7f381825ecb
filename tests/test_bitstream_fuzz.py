"""Fuzzing the reader with the golden file: every damaged file ends in a clean BitstreamError or
decodes identically; never another exception, a crash or a hang.

Two kinds of damage:

- *raw*: random byte flips, insertions, deletions and truncations. The CRCs catch almost all of
  them; what gets through must decode to exactly the golden contents.
- *CRC-repaired*: the same damage inside the header or one section, with the CRCs recomputed, so
  the field checks and the range decoder (not the CRCs) must cope. Any successful decode is
  acceptable there (the damage may produce another valid file).

The default run does a few hundred cases of each; ``-m slow`` runs many thousands.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from bitstream_support import golden_bytes

from bitstream import BitstreamError, read_bitstream, read_header

GOLDEN = golden_bytes()
EXPECTED = read_bitstream(GOLDEN)
HEADER_END = read_header(GOLDEN).header_bytes
SECTIONS = read_header(GOLDEN).sections


def damage(data: bytes, rng: np.random.Generator, lo: int = 0, hi: int | None = None) -> bytes:
    """1-4 random edits (flip, insert, delete, truncate) at positions in [lo, hi)."""
    buf = bytearray(data)
    hi = len(buf) if hi is None else hi
    for _ in range(int(rng.integers(1, 5))):
        if hi <= lo:
            break
        pos = int(rng.integers(lo, hi))
        op = rng.choice(["flip", "flip", "insert", "delete", "truncate"])
        if op == "flip":
            buf[pos] ^= int(rng.integers(1, 256))
        elif op == "insert":
            buf[pos:pos] = rng.integers(0, 256, int(rng.integers(1, 9)), dtype=np.uint8).tobytes()
        elif op == "delete":
            del buf[pos : pos + int(rng.integers(1, 9))]
            hi = min(hi, len(buf))
        else:
            del buf[pos:]
            hi = min(hi, len(buf))
    return bytes(buf)


def repair_header_crc(buf: bytearray) -> None:
    (length,) = struct.unpack_from("<I", buf, 8)
    body = bytes(buf[16 : 16 + length])
    buf[12:16] = struct.pack("<I", zlib.crc32(body, zlib.crc32(bytes(buf[:12]))))


def damaged_header(rng) -> bytes:
    """Header bytes damaged in place (same length), header CRC recomputed."""
    buf = bytearray(GOLDEN)
    for _ in range(int(rng.integers(1, 4))):
        pos = int(rng.integers(16, HEADER_END))
        buf[pos] = int(rng.integers(0, 256)) if rng.random() < 0.5 else buf[pos] ^ (1 << int(rng.integers(0, 8)))
    repair_header_crc(buf)
    return bytes(buf)


def damaged_section(rng) -> bytes:
    """One section's words damaged in place, its CRC (and so the header CRC) recomputed."""
    buf = bytearray(GOLDEN)
    section = SECTIONS[int(rng.integers(0, len(SECTIONS)))]
    for _ in range(int(rng.integers(1, 4))):
        pos = section.offset + int(rng.integers(0, section.length))
        buf[pos] ^= int(rng.integers(1, 256))
    new_crc = zlib.crc32(bytes(buf[section.offset : section.offset + section.length]))
    old = struct.pack("<I", section.crc)
    # The crc field is the last 4 bytes of its section record; find it by value in the header.
    where = bytes(buf[:HEADER_END]).rfind(old)
    assert where > 0
    buf[where : where + 4] = struct.pack("<I", new_crc)
    repair_header_crc(buf)
    return bytes(buf)


def check_raw(data: bytes) -> None:
    try:
        out = read_bitstream(data)
    except BitstreamError:
        return
    assert out.same_as(EXPECTED), "damage went undetected and changed the decode"


def check_repaired(data: bytes) -> None:
    try:
        read_bitstream(data)
    except BitstreamError as err:
        assert "\n" not in str(err)


def run(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(n):
        check_raw(damage(GOLDEN, rng))
        check_raw(damage(GOLDEN, rng, 0, 16))  # the preamble
        check_repaired(damaged_header(rng))
        check_repaired(damaged_section(rng))


def test_fuzz_golden_default():
    run(150, seed=11)


@pytest.mark.slow
def test_fuzz_golden_many():
    run(3000, seed=12)
