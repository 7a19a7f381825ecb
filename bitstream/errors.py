"""Typed errors of the bitstream reader and writer.

Each error also inherits the natural builtin (as PyAV's errors do), so callers that only know
``ValueError`` or ``EOFError`` still catch them. ``str(err)`` is one line the CLI can print:
``"<where>: <problem>"`` once the reader knows the file's name, else ``"<problem>"``.

The reader raises these *before* it allocates anything sized by a value read from the file
(style.md §5c, safetensors' "validate before trusting"), so a hostile or damaged file ends in one
of them, never in a crash, a hang or a huge allocation.
"""

from __future__ import annotations

import copy


class BitstreamError(ValueError):
    """Base class: the file is not a valid MV-HiNeRV bitstream of a supported version.

    Args:
        problem: what is wrong, in a few words, with the values that matter (one line).
        where: the file (or ``None`` while the reader only has bytes); see :meth:`at`.
    """

    def __init__(self, problem: str = "invalid bitstream", where: str | None = None) -> None:
        self.problem = " ".join(str(problem).split())
        self.where = where
        super().__init__(self._line())

    def _line(self) -> str:
        return self.problem if self.where is None else f"{self.where}: {self.problem}"

    def __str__(self) -> str:
        return self._line()

    def at(self, where: str | None) -> BitstreamError:
        """A copy of this error (same class) that names ``where`` as the file at fault."""
        if where is None or self.where is not None:
            return self
        err = copy.copy(self)
        err.where = where
        err.args = (err._line(),)
        return err


class BadMagic(BitstreamError):
    """The file does not start with the magic ``b"MVHR"``: not an MV-HiNeRV bitstream."""


class UnsupportedVersion(BitstreamError):
    """The file's major format version is not one this decoder reads."""


class ChecksumError(BitstreamError):
    """A CRC-32 stored in the file does not match the bytes it covers."""


class HeaderCRCError(ChecksumError):
    """The header's CRC-32 does not match: the header is damaged."""


class SectionCRCError(ChecksumError):
    """A payload section's CRC-32 does not match: that section is damaged."""


class FieldOutOfRange(BitstreamError):
    """A header field holds a value outside its declared range (or breaks a cross-field rule)."""


class TruncatedPayload(BitstreamError, EOFError):
    """The file (or a record inside the header) ends before the data it declares."""


class InconsistentSizes(BitstreamError):
    """Declared sizes disagree: counts, record lengths, section lengths or trailing bytes."""


class CorruptPayload(BitstreamError):
    """The range decoder met compressed data that no valid encoder could have produced."""
