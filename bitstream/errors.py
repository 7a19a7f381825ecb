"""Typed errors of the bitstream reader and writer.

Each error also inherits the natural builtin (as PyAV's errors do), so callers that only know
``ValueError`` or ``EOFError`` still catch them. ``str(err)`` is one line the CLI can print.
"""

from __future__ import annotations


class BitstreamError(ValueError):
    """Base class: the file is not a valid MV-HiNeRV bitstream of a supported version."""
