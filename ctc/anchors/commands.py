"""Command lines of the anchor codecs, as pure functions (argv lists; nothing is run here).

Every anchor runs the ffmpeg binary shipped by ``imageio-ffmpeg`` (toolchain.md §2): it holds
``libvvenc`` (VVenC 1.15.0-dev) and ``libx265`` encoders and ffmpeg's native ``vvc`` and ``hevc``
decoders. Building the argv in pure functions keeps the exact command of every result testable
and printable (``docs/anchors.md`` lists them) — the pattern of CompressAI's
``utils/video/bench/codecs.py`` (style.md §10).

Input is always raw ``yuv420p10le`` (the only format libvvenc accepts); depth is coded as 10-bit
luma with neutral chroma (:mod:`ctc.anchors.depth`).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Literal

Codec = Literal["vvenc", "x265"]

VVENC_PRESETS = ("faster", "fast", "medium", "slow", "slower")
X265_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow",
                "placebo")
PIX_FMT = "yuv420p10le"
QUIET = ("-hide_banner", "-nostdin", "-loglevel", "error", "-y")
"""Common ffmpeg options: no banner, never read stdin, errors only, overwrite outputs."""


@dataclasses.dataclass(frozen=True)
class RawVideo:
    """A raw ``yuv420p10le`` file to encode: where, luma size, frame rate and frame count."""

    path: str | os.PathLike[str]
    width: int
    height: int
    fps: float
    frames: int


def _fps(fps: float) -> str:
    """Frame rate as ffmpeg reads it (``30``, ``29.97``)."""
    return f"{fps:g}"


def raw_input_args(video: RawVideo) -> list[str]:
    """ffmpeg input options of a raw 10-bit 4:2:0 file (format, size and rate are not in the file)."""
    return ["-f", "rawvideo", "-pix_fmt", PIX_FMT, "-s", f"{video.width}x{video.height}", "-r", _fps(video.fps),
            "-i", os.fspath(video.path), "-frames:v", str(video.frames)]


def vvenc_encode_cmd(ffmpeg: str, video: RawVideo, output: str | os.PathLike[str], qp: int, *,
                     preset: str = "medium", intra_period: int = 32, gop_size: int = 32,
                     threads: int | None = None) -> list[str]:
    """VVenC (libvvenc) random access at a fixed QP, perceptual QPA off (PSNR anchor).

    Random access as the MIV CTC VVenC cfg (miv_ctc.md §1.4): ``IntraPeriod 32``, ``GOPSize 32``,
    ``DecodingRefreshType 1`` (CRA). ``-qpa 0`` switches off libvvenc's default perceptual QP
    adaptation, which would otherwise trade PSNR for subjective quality. Writes a raw ``.266``
    Annex-B stream.
    """
    params = f"intraperiod={intra_period}:gopsize={gop_size}:decodingrefreshtype=cra"
    if threads is not None:
        params += f":threads={threads}"
    return [ffmpeg, *QUIET, *raw_input_args(video), "-c:v", "libvvenc", "-preset", preset, "-qp", str(qp),
            "-qpa", "0", "-vvenc-params", params, "-f", "vvc", os.fspath(output)]


def x265_encode_cmd(ffmpeg: str, video: RawVideo, output: str | os.PathLike[str], qp: int, *,
                    preset: str = "medium", intra_period: int = 32) -> list[str]:
    """x265 (HEVC Main10) random access at a fixed QP, ``-tune psnr``.

    ``keyint=min-keyint=32`` with ``scenecut=0`` gives a fixed 32-frame intra period (x265's
    default B-frame pyramid makes it random access); ``info=0`` drops the ~2.3 KB SEI with the
    encoder's options that x265 otherwise writes into the stream (toolchain.md §2).
    Writes a raw ``.265`` Annex-B stream.
    """
    params = f"qp={qp}:keyint={intra_period}:min-keyint={intra_period}:scenecut=0:info=0:log-level=error"
    return [ffmpeg, *QUIET, *raw_input_args(video), "-c:v", "libx265", "-pix_fmt", PIX_FMT, "-preset", preset,
            "-tune", "psnr", "-x265-params", params, "-f", "hevc", os.fspath(output)]


DECODERS: dict[Codec, tuple[str, str]] = {"vvenc": ("vvc", "vvc"), "x265": ("hevc", "hevc")}
"""Codec → (ffmpeg demuxer, native decoder)."""


def decode_cmd(ffmpeg: str, codec: Codec, stream: str | os.PathLike[str], output: str | os.PathLike[str]) -> list[str]:
    """Decode a raw stream with ffmpeg's native decoder (``vvc`` / ``hevc``) to raw ``yuv420p10le``."""
    demuxer, decoder = DECODERS[codec]
    return [ffmpeg, *QUIET, "-f", demuxer, "-c:v", decoder, "-i", os.fspath(stream), "-f", "rawvideo",
            "-pix_fmt", PIX_FMT, os.fspath(output)]


def encode_cmd(codec: Codec, ffmpeg: str, video: RawVideo, output: str | os.PathLike[str], qp: int, *,
               preset: str, intra_period: int = 32, gop_size: int = 32, threads: int | None = None) -> list[str]:
    """The encode command of ``codec`` (dispatch to :func:`vvenc_encode_cmd` / :func:`x265_encode_cmd`)."""
    if codec == "vvenc":
        return vvenc_encode_cmd(ffmpeg, video, output, qp, preset=preset, intra_period=intra_period,
                                gop_size=gop_size, threads=threads)
    return x265_encode_cmd(ffmpeg, video, output, qp, preset=preset, intra_period=intra_period)
