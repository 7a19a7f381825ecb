"""Anchor codecs for the CTC harness: VVenC and x265 simulcast (see ``docs/anchors.md``).

- :mod:`~ctc.anchors.commands`: pure command-line builders (encode/decode argv lists).
- :mod:`~ctc.anchors.toolchain`: the ffmpeg binary, encoder versions, running a tool.
- :mod:`~ctc.anchors.depth`: 16-bit depth ↔ 10-bit luma video.
- :mod:`~ctc.anchors.simulcast`: the :class:`AnchorCodec` interface and :class:`SimulcastAnchor`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ctc.anchors.commands import decode_cmd, encode_cmd, vvenc_encode_cmd, x265_encode_cmd
from ctc.anchors.simulcast import (DEFAULT_RATE_POINTS, AnchorCodec, AnchorResult, RatePoint, SimulcastAnchor,
                                   SimulcastSettings)
from ctc.anchors.toolchain import AnchorError
from ctc.errors import InputError

ANCHOR_TYPES = ("vvenc", "x265")


def make_anchor_codec(name: str, codec_type: str, options: Mapping[str, Any] | None = None) -> AnchorCodec:
    """The anchor of a ``CTC.yaml`` codec entry: ``type`` vvenc or x265, ``options`` → :class:`SimulcastSettings`.

    Raises:
        InputError: unknown type or option, or ffmpeg / the encoder is missing.
    """
    if codec_type not in ANCHOR_TYPES:
        raise InputError("codec type", f"{codec_type!r} is not an anchor ({', '.join(ANCHOR_TYPES)})")
    options = dict(options or {})
    return SimulcastAnchor(SimulcastSettings.from_options(codec_type, options), name=name)  # type: ignore[arg-type]


__all__ = ["ANCHOR_TYPES", "AnchorCodec", "AnchorError", "AnchorResult", "DEFAULT_RATE_POINTS", "RatePoint",
           "SimulcastAnchor", "SimulcastSettings", "decode_cmd", "encode_cmd", "make_anchor_codec",
           "vvenc_encode_cmd", "x265_encode_cmd"]
