"""Anchors: the :class:`AnchorCodec` interface and the simulcast "view anchor" (VVenC or x265).

The simulcast anchor codes every source view completely and independently — texture and depth,
each its own 2D video stream — with a real 2D codec, then decodes them. It is the MIV "view
anchor" idea (all views coded, no pruning; miv_ctc.md §1.3, §7.1(2)) without the TMIV atlas
machinery, and the paper's "VVenC simulcast" baseline. A later TMIV-style anchor (pruning,
patches, atlases) implements the same :class:`AnchorCodec` interface.

Data flow of :meth:`SimulcastAnchor.encode_sequence` (per view ``v``)::

    texture  (F, H, W) 10-bit 4:2:0 ─► raw .yuv ─► encoder @ qp_texture ─► v_texture.266 ─► decoder ─┐
    depth    (F, H, W) 16-bit       ─► 10-bit luma + chroma 512 ─► encoder @ qp_depth ─► v_depth.266 ─┤
                                                                                                   ▼
    decoded/ : sequence.json + YUVs + seq.yaml (texture 10-bit, depth back on 16 bits) ◄──────────────┘

Rate = the bytes of all streams (no container, no metadata: the camera JSON is not counted, as
for TMIV's out-of-band video sub-bitstreams it is small and the same for every codec).
Texture that is not 10-bit is requantised to 10 bits for coding and back after decoding.
"""

from __future__ import annotations

import abc
import dataclasses
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ctc.anchors.commands import VVENC_PRESETS, X265_PRESETS, Codec, RawVideo, decode_cmd, encode_cmd
from ctc.anchors.depth import VIDEO_BITS, depth_to_video, video_to_depth
from ctc.anchors.toolchain import describe_tools, require_ffmpeg, run_tool
from ctc.color import requantize
from ctc.errors import InputError
from ctc.yuv import YuvReader, parse_pix_fmt, write_yuv

QP_RANGE: dict[Codec, tuple[int, int]] = {"vvenc": (0, 63), "x265": (0, 51)}

DEFAULT_RATE_POINTS = ((22, 17), (27, 22), (32, 27), (37, 32))
"""Our default (texture QP, depth QP) pairs — **not CTC values** (the CTC's per-sequence QPs are not
public, miv_ctc.md §1.4): four texture QPs 5 apart, depth 5 lower (depth errors move pixels in
synthesis, so depth gets the finer QP; the old HEVC anchors used 10 lower)."""


@dataclasses.dataclass(frozen=True)
class RatePoint:
    """One anchor rate point: a texture QP and a depth QP."""

    qp_texture: int
    qp_depth: int

    @classmethod
    def from_mapping(cls, point: Mapping[str, Any], codec: Codec) -> RatePoint:
        """From ``{"qp_texture": .., "qp_depth": ..}``, range-checked for ``codec``."""
        lo, hi = QP_RANGE[codec]
        try:
            qps = int(point["qp_texture"]), int(point["qp_depth"])
        except (KeyError, TypeError, ValueError):
            raise InputError("rate point", f"expected integer qp_texture and qp_depth, got {dict(point)}") from None
        for name, qp in zip(("qp_texture", "qp_depth"), qps):
            if not lo <= qp <= hi:
                raise InputError("rate point", f"{name} {qp} outside {lo}..{hi} for {codec}")
        return cls(*qps)

    @property
    def label(self) -> str:
        return f"qp-{self.qp_texture}-{self.qp_depth}"


@dataclasses.dataclass(frozen=True)
class AnchorResult:
    """One anchor encode + decode of one sequence at one rate point."""

    stream_bytes: Mapping[str, int]
    """``"{view}/texture"`` / ``"{view}/depth"`` → bytes of that stream."""
    total_bytes: int
    """Sum over all streams: the anchor's rate."""
    decoded: Path
    """``seq.yaml`` of the decoded sequence (MIV format: YUVs + JSON), readable by metrics/synthesis."""
    encode_seconds: float
    decode_seconds: float
    description: Mapping[str, Any]
    """Codec name, tool versions, settings and the rate point."""


class AnchorCodec(abc.ABC):
    """An anchor the harness can sweep: encode + decode a sequence at a rate point.

    Subclasses set :attr:`name` and implement :meth:`description` and :meth:`encode_sequence`;
    :meth:`run` adapts the result to the harness's ``Codec`` protocol (:mod:`ctc.harness`).
    """

    name: str

    @abc.abstractmethod
    def description(self) -> dict[str, Any]:
        """Tool versions and settings; goes into every result."""

    @abc.abstractmethod
    def encode_sequence(self, sequence: str | Path, rate_point: RatePoint | Mapping[str, Any], work_dir: str | Path,
                        frames: int | None = None) -> AnchorResult:
        """Code ``sequence`` (``seq.yaml`` or TMIV JSON) at ``rate_point`` in ``work_dir``; decode it."""

    def describe(self) -> Mapping[str, Any]:
        """The harness's name for :meth:`description`."""
        return self.description()

    def run(self, sequence: Path, rate_point: Mapping[str, Any], work_dir: Path, frames: int | None):
        """Harness adapter: :meth:`encode_sequence` → ``ctc.harness.CodecRun``."""
        from ctc.harness import CodecRun

        result = self.encode_sequence(sequence, rate_point, work_dir, frames)
        return CodecRun(total_bytes=result.total_bytes, decoded=result.decoded,
                        encode_seconds=result.encode_seconds, decode_seconds=result.decode_seconds,
                        details={"stream_bytes": dict(result.stream_bytes), **dict(result.description)})


@dataclasses.dataclass(frozen=True)
class SimulcastSettings:
    """Settings of a simulcast anchor (``options`` of a codec in ``CTC.yaml``)."""

    codec: Codec
    preset: str = "medium"
    """Encoder preset (VVenC: faster…slower; x265: ultrafast…placebo)."""
    intra_period: int = 32
    """Frames between random-access points (CTC: 32)."""
    gop_size: int = 32
    """VVenC GOP size, 16 or 32 (CTC cfg: 32); x265 uses its own B-pyramid."""
    threads: int | None = None
    """VVenC worker threads (None: libvvenc's default)."""
    keep_streams: bool = True
    """Keep the coded streams in ``work_dir/streams`` (the raw inputs are always deleted)."""

    def __post_init__(self) -> None:
        presets = VVENC_PRESETS if self.codec == "vvenc" else X265_PRESETS
        if self.preset not in presets:
            raise InputError("preset", f"{self.preset!r} is not a {self.codec} preset ({', '.join(presets)})")
        if self.intra_period < 1:
            raise InputError("intra_period", f"must be ≥ 1, got {self.intra_period}")
        if self.codec == "vvenc" and (self.gop_size not in (16, 32) or self.intra_period % self.gop_size):
            raise InputError("gop_size", f"VVenC random access needs gop_size 16 or 32 dividing intra_period "
                                         f"{self.intra_period}, got {self.gop_size}")

    @classmethod
    def from_options(cls, codec: Codec, options: Mapping[str, Any]) -> SimulcastSettings:
        fields = {f.name for f in dataclasses.fields(cls)} - {"codec"}
        unknown = sorted(set(options) - fields)
        if unknown:
            raise InputError(f"{codec} options", f"unknown option(s) {', '.join(unknown)} "
                                                 f"(known: {', '.join(sorted(fields))})")
        return cls(codec=codec, **dict(options))


class SimulcastAnchor(AnchorCodec):
    """Every view's texture and depth coded as separate 2D streams by VVenC or x265 (module docstring)."""

    def __init__(self, settings: SimulcastSettings, name: str | None = None):
        self.settings = settings
        self.name = name or f"{settings.codec}-{settings.preset}"
        self.ffmpeg = require_ffmpeg(settings.codec)

    def description(self) -> dict[str, Any]:
        s = self.settings
        label = {"vvenc": "VVenC (libvvenc via ffmpeg)", "x265": "x265 HEVC Main10 (libx265 via ffmpeg)"}[s.codec]
        return {"anchor": "simulcast", "name": self.name,
                "summary": f"simulcast view anchor: every view's texture and 10-bit depth coded with {label}",
                "settings": {"preset": s.preset, "intra_period": s.intra_period,
                             "gop_size": s.gop_size if s.codec == "vvenc" else None, "threads": s.threads,
                             "random_access": True, "qpa": 0 if s.codec == "vvenc" else None,
                             "tune": "psnr" if s.codec == "x265" else None,
                             "depth": "16-bit normalised disparity requantised to 10-bit full range luma, "
                                      "chroma 512"},
                **describe_tools(self.ffmpeg, s.codec)}

    def _code(self, planes: tuple[np.ndarray, ...], fps: float, qp: int, stem: Path, decoded: Path) -> tuple[int, float, float]:
        """Encode 10-bit 4:2:0 planes ``(F, ·, ·)`` to ``stem.26x`` and decode to ``decoded``."""
        s = self.settings
        frames, height, width = planes[0].shape
        raw = stem.with_suffix(".input.yuv")
        stream = stem.with_suffix(".266" if s.codec == "vvenc" else ".265")
        write_yuv(raw, planes, "yuv420p10le")
        try:
            video = RawVideo(raw, width, height, fps, frames)
            t0 = time.perf_counter()
            run_tool(encode_cmd(s.codec, self.ffmpeg, video, stream, qp, preset=s.preset,
                                intra_period=s.intra_period, gop_size=s.gop_size, threads=s.threads),
                     f"{s.codec} encode of {stem.name}")
            t1 = time.perf_counter()
            run_tool(decode_cmd(self.ffmpeg, s.codec, stream, decoded), f"{s.codec} decode of {stream.name}")
            t2 = time.perf_counter()
        finally:
            raw.unlink(missing_ok=True)
        return stream.stat().st_size, t1 - t0, t2 - t1

    def encode_sequence(self, sequence: str | Path, rate_point: RatePoint | Mapping[str, Any], work_dir: str | Path,
                        frames: int | None = None) -> AnchorResult:
        from ctc.sequence import load_sequence, write_sequence

        s = self.settings
        point = rate_point if isinstance(rate_point, RatePoint) else RatePoint.from_mapping(rate_point, s.codec)
        mvv = load_sequence(sequence)
        if not mvv.has_depth:
            raise InputError(sequence, "the simulcast anchor codes texture and depth; this sequence has no depth")
        count = min(mvv.num_frames, frames or mvv.num_frames)
        work = Path(work_dir)
        streams = work / "streams"
        streams.mkdir(parents=True, exist_ok=True)
        bits = mvv.texture_bits
        sizes: dict[str, int] = {}
        textures: dict[str, tuple[np.ndarray, ...]] = {}
        depths: dict[str, np.ndarray] = {}
        scratch: list[Path] = []
        enc_s = dec_s = 0.0
        try:
            for view in mvv.views:
                tex = tuple(requantize(p, bits, VIDEO_BITS) for p in mvv.texture_yuv(view, 0, count))
                dec_tex = streams / f"{view}_texture.decoded.yuv"
                dec_dep = streams / f"{view}_depth.decoded.yuv"
                dep16 = streams / f"{view}_depth.decoded16.raw"
                scratch += [dec_tex, dec_dep, dep16]
                n, te, td = self._code(tex, mvv.fps, point.qp_texture, streams / f"{view}_texture", dec_tex)
                m, de, dd = self._code(depth_to_video(mvv.depth_samples(view, 0, count)), mvv.fps, point.qp_depth,
                                       streams / f"{view}_depth", dec_dep)
                sizes[f"{view}/texture"], sizes[f"{view}/depth"] = n, m
                enc_s += te + de
                dec_s += td + dd
                planes = _mapped_planes(dec_tex, mvv.width, mvv.height, count)
                textures[view] = planes if bits == VIDEO_BITS else tuple(requantize(p, VIDEO_BITS, bits) for p in planes)
                depths[view] = _depth_back(_mapped_planes(dec_dep, mvv.width, mvv.height, count)[0], dep16)
            # the decoded views stay memory-mapped until written: a CTC sequence (21 views ×
            # 65 frames × 1080p) would not fit in memory as arrays
            decoded = write_sequence(work / "decoded", mvv.sequence, textures, depths)
        finally:
            textures.clear()
            depths.clear()
            for path in scratch:
                path.unlink(missing_ok=True)
        if not s.keep_streams:
            shutil.rmtree(streams, ignore_errors=True)
        return AnchorResult(stream_bytes=sizes, total_bytes=sum(sizes.values()), decoded=Path(decoded),
                            encode_seconds=enc_s, decode_seconds=dec_s,
                            description={**self.description(), "rate_point": dataclasses.asdict(point),
                                         "frames": count})


def _mapped_planes(path: Path, width: int, height: int, count: int) -> tuple[np.ndarray, ...]:
    """The decoder's ``yuv420p10le`` output as memory-mapped ``(F, h, w)`` planes (no copy).

    Raises:
        InputError: the file does not hold exactly ``count`` frames.
    """
    fmt = parse_pix_fmt("yuv420p10le")
    frames = YuvReader(path, width, height, fmt).num_frames
    if frames != count:
        raise InputError(path, f"decoder returned {frames} frames, {count} were coded")
    block = np.memmap(path, dtype=fmt.file_dtype, mode="r", shape=(count, fmt.frame_samples(width, height)))
    planes, offset = [], 0
    for h, w in fmt.plane_shapes(width, height):
        planes.append(block[:, offset:offset + h * w].reshape(count, h, w))
        offset += h * w
    return tuple(planes)


def _depth_back(luma: np.ndarray, scratch: Path, chunk: int = 8) -> np.ndarray:
    """Decoded 10-bit depth luma ``(F, H, W)`` → 16-bit samples in a memory-mapped scratch file."""
    out = np.memmap(scratch, dtype=np.uint16, mode="w+", shape=luma.shape)
    for f in range(0, luma.shape[0], chunk):
        out[f:f + chunk] = video_to_depth(luma[f:f + chunk])
    out.flush()
    return out
