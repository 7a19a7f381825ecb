"""Entropy layer: range coding of int symbols under float16 Gaussians (unit + round trip)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from bitstream import entropy
from bitstream.entropy import decode_section, encode_section, gaussian_parameter
from bitstream.errors import CorruptPayload, InconsistentSizes
from bitstream.params import TensorInfo
from bitstream.tensors import QuantizedTensor


def random_tensor(rng, name, shape, side_shape, *, std_range=(0.2, 30.0), view=None) -> QuantizedTensor:
    mean = rng.uniform(-5, 5, side_shape).astype(np.float16)
    std = np.exp(rng.uniform(*np.log(std_range), side_shape)).astype(np.float16)
    step = rng.uniform(0.001, 0.1, side_shape).astype(np.float16)
    sym = np.round(rng.normal(mean.astype(np.float64), std.astype(np.float64), shape)).astype(np.int32)
    return QuantizedTensor(name, view, sym, step, mean, std)


def side_shapes(rng, shape):
    """A random broadcast pattern: each dim full or 1."""
    return tuple(n if rng.random() < 0.5 else 1 for n in shape)


def test_gaussian_parameter_matches_numpy_broadcast():
    rng = np.random.default_rng(0)
    for _ in range(50):
        shape = tuple(int(n) for n in rng.integers(1, 6, rng.integers(0, 5)))
        side = rng.normal(size=side_shapes(rng, shape)).astype(np.float16)
        full = np.broadcast_to(side, shape).astype(np.float64).reshape(-1)
        a = int(rng.integers(0, full.size))
        b = int(rng.integers(a, full.size + 1))
        np.testing.assert_array_equal(gaussian_parameter(side, shape, a, b), full[a:b])


def test_round_trip_random_tensors_bit_exact():
    rng = np.random.default_rng(1)
    for trial in range(20):
        tensors = []
        for k in range(int(rng.integers(1, 5))):
            shape = tuple(int(n) for n in rng.integers(1, 9, rng.integers(0, 4)))
            tensors.append(random_tensor(rng, f"t{k}", shape, side_shapes(rng, shape)))
        infos = [TensorInfo.of(t) for t in tensors]
        data = encode_section(zip(infos, (t.symbols for t in tensors)))
        assert len(data) % 4 == 0
        out = decode_section(data, infos)
        for t, s in zip(tensors, out):
            assert s.dtype == np.int32 and s.shape == t.shape
            np.testing.assert_array_equal(s, t.symbols)


def test_constant_tensor_costs_nothing():
    t = QuantizedTensor("c", None, np.full((4, 4), -3, np.int32), *(np.ones((1, 1), np.float16),) * 3)
    info = TensorInfo.of(t)
    assert info.coded_symbols == 0
    assert encode_section([(info, t.symbols)]) == b""
    np.testing.assert_array_equal(decode_section(b"", [info])[0], t.symbols)


def test_chunking_does_not_change_the_bytes(monkeypatch):
    rng = np.random.default_rng(2)
    t = random_tensor(rng, "big", (37, 53, 11), (37, 1, 11))
    info = TensorInfo.of(t)
    whole = encode_section([(info, t.symbols)])
    monkeypatch.setattr(entropy, "CHUNK_SYMBOLS", 1000)
    assert encode_section([(info, t.symbols)]) == whole
    np.testing.assert_array_equal(decode_section(whole, [info])[0], t.symbols)


def ideal_bits(t: QuantizedTensor, lo: int, hi: int) -> float:
    """Σ −log2 p under the Gaussian clipped to [lo − ½, hi + ½] and renormalised (float64)."""
    mean = np.broadcast_to(t.mean.astype(np.float64), t.shape)
    std = np.broadcast_to(t.std.astype(np.float64), t.shape)
    x = t.symbols.astype(np.float64)
    total = norm.cdf(hi + 0.5, mean, std) - norm.cdf(lo - 0.5, mean, std)
    p = (norm.cdf(x + 0.5, mean, std) - norm.cdf(x - 0.5, mean, std)) / total
    return float(-np.log2(p).sum())


def test_overhead_against_ideal_is_below_one_percent():
    rng = np.random.default_rng(3)
    tensors = [
        random_tensor(rng, "a", (64, 1024), (64, 1), std_range=(0.5, 8.0)),
        random_tensor(rng, "b", (256, 512), (1, 512), std_range=(1.0, 30.0)),
        random_tensor(rng, "c", (100_000,), (1,), std_range=(3.0, 3.0)),
    ]
    infos = [TensorInfo.of(t) for t in tensors]
    data = encode_section(zip(infos, (t.symbols for t in tensors)))
    ideal = sum(ideal_bits(t, i.min_symbol, i.max_symbol) for t, i in zip(tensors, infos))
    actual = 8 * len(data)
    assert ideal < actual < 1.01 * ideal, (actual, ideal)


def test_encoding_is_deterministic():
    rng = np.random.default_rng(4)
    t = random_tensor(rng, "d", (50, 40), (50, 1))
    info = TensorInfo.of(t)
    assert encode_section([(info, t.symbols)]) == encode_section([(info, t.symbols.copy())])


def test_wrong_word_count_is_inconsistent():
    rng = np.random.default_rng(5)
    t = random_tensor(rng, "e", (30,), (1,))
    info = TensorInfo.of(t)
    with pytest.raises(InconsistentSizes):
        decode_section(b"", [info])


def test_garbage_words_end_in_a_clean_error_or_a_decode():
    rng = np.random.default_rng(6)
    t = random_tensor(rng, "f", (300,), (1,), std_range=(0.2, 0.3))
    info = TensorInfo.of(t)
    errors = 0
    for _ in range(300):
        words = rng.integers(0, 2**32, int(rng.integers(1, 6)), dtype=np.uint64).astype("<u4")
        try:
            out = decode_section(words.tobytes(), [info])[0]
        except CorruptPayload:
            errors += 1
            continue
        assert out.shape == info.shape
        assert out.min() >= info.min_symbol and out.max() <= info.max_symbol
    assert errors > 0  # the coder does detect some impossible data


def test_extreme_alphabets_round_trip():
    rng = np.random.default_rng(7)
    lo = -(2**31)
    span = 2**20
    sym = np.array([lo, lo + span, lo + 5, lo + 17], np.int32)
    one = np.ones((1,), np.float16)
    t = QuantizedTensor("x", None, sym, one, np.array([np.float16(-65504)]), np.array([np.float16(65504)]))
    info = TensorInfo.of(t)
    assert info.max_symbol - info.min_symbol == span
    np.testing.assert_array_equal(decode_section(encode_section([(info, sym)]), [info])[0], sym)
    tiny = QuantizedTensor("y", None, rng.integers(-2, 3, 100).astype(np.int32), one,
                           np.zeros(1, np.float16), np.array([np.float16(6e-8)]))
    info = TensorInfo.of(tiny)
    np.testing.assert_array_equal(decode_section(encode_section([(info, tiny.symbols)]), [info])[0],
                                  tiny.symbols)
