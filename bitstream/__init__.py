"""bitstream: the MV-HiNeRV file format (torch-free; numpy and constriction only).

A file is a 16-byte preamble (magic ``MVHR``, version, header length, header CRC), a header of
declared records (sequence, cameras, architecture config, tensor side information, section table)
and range-coded payload sections: one for the weights shared by all views, one per coded view for
its feature grids, so that a decoder can read some views without touching the others.
``docs/bitstream.md`` is the normative spec; :mod:`bitstream.layout` declares every field once.

Determinism rule (``../shared/ARCHITECTURE.md``): the decoder recovers every symbol bit-exactly on
any machine because each probability comes from constriction's fixed-point ``QuantizedGaussian``
with a mean and std that are float16 values read from the file (see :mod:`bitstream.entropy`).
"""

from bitstream.container import Header, SectionInfo, read_bitstream, read_header, write_bitstream
from bitstream.errors import (
    BadMagic,
    BitstreamError,
    ChecksumError,
    CorruptPayload,
    FieldOutOfRange,
    HeaderCRCError,
    InconsistentSizes,
    SectionCRCError,
    TruncatedPayload,
    UnsupportedVersion,
)
from bitstream.layout import FORMAT_MAJOR, FORMAT_MINOR
from bitstream.params import (
    BitstreamContents,
    CameraParams,
    SequenceParams,
    TensorInfo,
    parameter_digest,
)
from bitstream.summary import bitstream_summary
from bitstream.tensors import QuantizedTensor

__all__ = [
    "FORMAT_MAJOR",
    "FORMAT_MINOR",
    "BadMagic",
    "BitstreamContents",
    "BitstreamError",
    "CameraParams",
    "ChecksumError",
    "CorruptPayload",
    "FieldOutOfRange",
    "Header",
    "HeaderCRCError",
    "InconsistentSizes",
    "QuantizedTensor",
    "SectionCRCError",
    "SectionInfo",
    "SequenceParams",
    "TensorInfo",
    "TruncatedPayload",
    "UnsupportedVersion",
    "bitstream_summary",
    "parameter_digest",
    "read_bitstream",
    "read_header",
    "write_bitstream",
]
