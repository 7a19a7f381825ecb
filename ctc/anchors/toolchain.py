"""The ffmpeg binary the anchors run, its encoders and their versions.

Every anchor result records the exact tools (style.md §10): the ffmpeg version line, the libvvenc
version libvvenc prints when it opens (``libvvenc version: 1.15.0-dev``) and the x265 version
x265 prints (``HEVC encoder version 4.3+…``). The versions are found once per process by encoding
one 64×64 grey frame and reading those banners.
"""

from __future__ import annotations

import functools
import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from ctc.anchors.commands import PIX_FMT, Codec, RawVideo, raw_input_args
from ctc.environment import ffmpeg_capabilities, ffmpeg_exe
from ctc.errors import InputError

ENCODER_OF: dict[Codec, str] = {"vvenc": "libvvenc", "x265": "libx265"}
DECODER_KEY: dict[Codec, str] = {"vvenc": "vvc_decoder", "x265": "hevc_decoder"}
_BANNERS: dict[Codec, tuple[list[str], re.Pattern[str]]] = {
    "vvenc": (["-c:v", "libvvenc", "-preset", "faster"], re.compile(r"libvvenc version:\s*(\S+)")),
    "x265": (["-c:v", "libx265", "-x265-params", "log-level=info"], re.compile(r"HEVC encoder version\s*(\S+)")),
}


class AnchorError(RuntimeError):
    """An encoder or decoder run failed (its command and the end of its stderr are in the message)."""


def require_ffmpeg(codec: Codec) -> str:
    """Path of an ffmpeg with ``codec``'s encoder and native decoder.

    Raises:
        InputError: imageio-ffmpeg / its binary is missing, or it lacks the encoder or decoder.
    """
    exe = ffmpeg_exe()
    if exe is None:
        raise InputError("ffmpeg", "not found: install imageio-ffmpeg (its binary carries libvvenc and libx265)")
    caps = ffmpeg_capabilities()
    if not caps.get(ENCODER_OF[codec]):
        raise InputError(exe, f"this ffmpeg has no {ENCODER_OF[codec]} encoder (needed by the {codec} anchor)")
    if not caps.get(DECODER_KEY[codec]):
        decoder = DECODER_KEY[codec].split("_")[0]
        raise InputError(exe, f"this ffmpeg has no native {decoder} decoder (needed by the {codec} anchor)")
    return exe


@functools.lru_cache(maxsize=None)
def encoder_version(ffmpeg: str, codec: Codec) -> str:
    """The encoder library's version string, from its banner on a one-frame encode."""
    args, pattern = _BANNERS[codec]
    with tempfile.TemporaryDirectory(prefix="mvcodec-probe-") as tmp:
        frame = Path(tmp) / "grey.yuv"
        np.full(64 * 64 * 3 // 2, 512, np.uint16).tofile(frame)
        cmd = [ffmpeg, "-hide_banner", "-nostdin", "-y", "-loglevel", "info",
               *raw_input_args(RawVideo(frame, 64, 64, 30, 1)), *args, "-pix_fmt", PIX_FMT, "-f", "null", "-"]
        run = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)
    match = pattern.search(run.stderr + run.stdout)
    return match.group(1) if match else "unknown"


def describe_tools(ffmpeg: str, codec: Codec) -> dict[str, str]:
    """``{"ffmpeg": version line, "encoder": name, "encoder_version": ..., "decoder": ...}``."""
    return {
        "ffmpeg": str(ffmpeg_capabilities().get("ffmpeg_version", "unknown")),
        "ffmpeg_path": ffmpeg,
        "encoder": ENCODER_OF[codec],
        "encoder_version": encoder_version(ffmpeg, codec),
        "decoder": f"ffmpeg native {DECODER_KEY[codec].split('_')[0]}",
    }


def run_tool(cmd: list[str], what: str) -> None:
    """Run one encoder/decoder command; raise :class:`AnchorError` with its stderr tail on failure."""
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        raise AnchorError(f"{what} failed (exit {proc.returncode}): {tail} [command: {' '.join(cmd)}]")
