"""Test content: synthetic CTC-like multi-view sequences with exact depth, and a real stereo pair.

``mvcodec content list`` prints :data:`CATALOG`; ``mvcodec content make NAME --scale S -o DIR``
calls :func:`make_sequence`. docs/content.md describes the scenes, rigs, scales and the files.

Modules: :mod:`~ctc.content.textures` (photographs as mip pyramids), :mod:`~ctc.content.shapes`
(ray/shape intersection), :mod:`~ctc.content.scene` (scene description),
:mod:`~ctc.content.renderer` (batched ray casting), :mod:`~ctc.content.rigs` (scales, camera
rigs, pose traces), :mod:`~ctc.content.catalog` (the named synthetic sequences),
:mod:`~ctc.content.stereo` (Middlebury motorcycle), :mod:`~ctc.content.plan` and
:mod:`~ctc.content.make` (writing a sequence folder), :mod:`~ctc.content.consistency`
(cross-view texture agreement).
"""

from __future__ import annotations

from ctc.content.catalog import SYNTHETIC
from ctc.content.make import make_sequence, plan_sequence
from ctc.content.rigs import SCALES
from ctc.content.stereo import MOTORCYCLE

CATALOG = {**SYNTHETIC, MOTORCYCLE.name: MOTORCYCLE}
"""Every sequence ``mvcodec content make`` knows, by name (listing order)."""


def list_sequences() -> list[tuple[str, str]]:
    """(name, one-line description) of every catalogue sequence."""
    return [(name, entry.summary()) for name, entry in CATALOG.items()]


__all__ = ["CATALOG", "SCALES", "list_sequences", "make_sequence", "plan_sequence"]
