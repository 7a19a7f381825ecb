"""Range coding of one payload section: integer symbols under Gaussians read from the file.

Coder (``coder = 0`` in the ``contents`` record, the only one of format 1.x): constriction 0.5.0
``stream.queue.RangeEncoder`` with the model family ``stream.model.QuantizedGaussian(min_symbol,
max_symbol)`` (a Gaussian clipped to ``[min − ½, max + ½]``, renormalised, integrated over unit bins,
every symbol of the alphabet given a non-zero 24-bit probability). constriction's models are
fixed-point and exactly invertible *given identical parameters* (constriction ``src/stream/model.rs``,
"Motivation"), so the determinism rule (``../shared/ARCHITECTURE.md``) comes down to: the decoder
builds every mean and std by converting a float16 value read from the file to float64 — an exact
conversion — and nothing else. ``QuantizedGaussian`` has no ``perfect`` switch in 0.5.0 (only
``Categorical`` does), so there is no compatibility flag to pin.

A section's symbols are the tensors of that section, in header order, each in C order; constant
tensors (``min_symbol == max_symbol``) are skipped. All go through **one** coder (no per-tensor word
padding, style.md §7 practice 7), written as little-endian ``u32`` words. Large tensors are coded in
chunks of :data:`CHUNK_SYMBOLS`: a queue coder's output does not depend on how the symbols are split
into ``encode`` calls, so chunking only bounds memory (two float64 arrays per chunk).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import constriction
import numpy as np

from bitstream.errors import CorruptPayload, InconsistentSizes
from bitstream.params import TensorInfo

CHUNK_SYMBOLS = 1 << 20
WORD = np.dtype("<u4")


def gaussian_parameter(side: np.ndarray, shape: tuple[int, ...], start: int, stop: int) -> np.ndarray:
    """float64 values of a float16 side array for flat symbol indices ``start..stop-1``.

    ``side`` has one dim per symbol dim, each 1 (broadcast) or equal to ``shape``'s; element i of
    the result is ``float64(side[broadcast index of flat index start + i])``: an exact conversion.

    Returns:
        float64 array of shape ``(stop - start,)``.
    """
    flat = side.reshape(-1).astype(np.float64)
    if flat.size == 1:
        return np.full(stop - start, flat[0])
    idx = np.arange(start, stop, dtype=np.int64)
    side_idx = np.zeros_like(idx)
    inner = 1  # product of symbol dims right of d (C-order stride of d in the symbols)
    side_inner = 1  # the same in the side array
    for d in range(len(shape) - 1, -1, -1):
        if side.shape[d] != 1:
            side_idx += (idx // inner) % shape[d] * side_inner
            side_inner *= side.shape[d]
        inner *= shape[d]
    return flat[side_idx]


def _family(info: TensorInfo):
    return constriction.stream.model.QuantizedGaussian(info.min_symbol, info.max_symbol)


def _chunks(info: TensorInfo):
    for start in range(0, info.numel, CHUNK_SYMBOLS):
        stop = min(start + CHUNK_SYMBOLS, info.numel)
        yield (
            start,
            stop,
            gaussian_parameter(info.mean, info.shape, start, stop),
            gaussian_parameter(info.std, info.shape, start, stop),
        )


def encode_section(items: Iterable[tuple[TensorInfo, np.ndarray]]) -> bytes:
    """Range code the symbols of one section.

    Args:
        items: (record, int32 symbols of ``record.shape`` within its alphabet), in header order.

    Returns:
        the section's bytes: little-endian ``u32`` words (empty when nothing is coded).
    """
    encoder = constriction.stream.queue.RangeEncoder()
    for info, symbols in items:
        if info.coded_symbols == 0:
            continue
        flat = np.ascontiguousarray(symbols, dtype=np.int32).reshape(-1)
        family = _family(info)
        for start, stop, means, stds in _chunks(info):
            encoder.encode(flat[start:stop], family, means, stds)
    return encoder.get_compressed().astype(WORD, copy=False).tobytes()


def decode_section(data: bytes | memoryview, infos: Sequence[TensorInfo]) -> list[np.ndarray]:
    """Decode the symbols of one section (inverse of :func:`encode_section`).

    Args:
        data: the section's bytes (length a multiple of 4, checked by the container).
        infos: the section's tensor records, in header order.

    Returns:
        one int32 array of ``info.shape`` per record.

    Raises:
        InconsistentSizes: words present without coded symbols or the reverse.
        CorruptPayload: the coder rejects the data, or words are left over after the last symbol.
    """
    words = np.frombuffer(data, dtype=WORD).astype(np.uint32)
    coded = sum(info.coded_symbols for info in infos)
    if (coded == 0) != (words.size == 0):
        raise InconsistentSizes(f"section of {words.size} words codes {coded} symbols")
    decoder = constriction.stream.queue.RangeDecoder(words)
    out = []
    for info in infos:
        if info.coded_symbols == 0:
            out.append(np.full(info.shape, info.min_symbol, dtype=np.int32))
            continue
        flat = np.empty(info.numel, dtype=np.int32)
        family = _family(info)
        for start, stop, means, stds in _chunks(info):
            flat[start:stop] = _decode(decoder, family, means, stds, info.name)
        out.append(flat.reshape(info.shape))
    if coded and not decoder.maybe_exhausted():
        raise CorruptPayload("section has compressed words left after its last symbol")
    return out


def _decode(decoder, family, means: np.ndarray, stds: np.ndarray, name: str) -> np.ndarray:
    try:
        return decoder.decode(family, means, stds)
    except (KeyboardInterrupt, SystemExit, MemoryError):
        raise
    except BaseException as err:  # constriction raises AssertionError / pyo3 PanicException
        raise CorruptPayload(f"range decoder rejected the data of tensor {name}: {err}") from None
