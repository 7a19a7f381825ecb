"""The CTC harness: sequences × codecs × rate points → one result JSON per job → report.

``mvcodec ctc run CTC.yaml -o DIR`` runs every job that has no finished result in ``DIR/jobs`` yet
(so an interrupted sweep resumes where it stopped), records a failed job with its error without
stopping the sweep, and writes ``DIR/report.md`` (:mod:`ctc.report`).

Failure policy (``docs/ctc.md``, "What fails how"): mistakes in CTC.yaml and missing sequence
files are :class:`~ctc.errors.InputError` raised before anything is written; whatever depends on
the machine or the run (a codec that cannot be set up here, an encoder or evaluation that raises)
is a ``failed`` result file and the sweep goes on; Ctrl-C leaves no result file for the running
job (each is written atomically once the job has ended).

Codecs are seen through the small :class:`Codec` protocol. The anchors (:mod:`ctc.anchors`) are
built here; the MV-HiNeRV codec is added by the CLI (``ctc`` never imports ``mvhinerv``), which
passes a factory for the codec types it knows.

Metric practice (miv_ctc.md §1.6): per view, the arithmetic mean over frames of the per-frame value;
per job, the mean over views. Texture: PSNR Y/Cb/Cr, YUV 6:1:1, IV-PSNR (WS-PSNR and ERP-weighted
IV-PSNR for equirectangular views); depth: PSNR of the 16-bit samples. Where the sequence has
held-out cameras with ground truth and synthesis is enabled, the same metrics on views synthesised
from the decoded source views (the CTC's synthesised-view evaluation).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import subprocess
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import yaml

from ctc.atomic import write_bytes_atomic
from ctc.errors import FormatError, InputError, MissingFileError

# --------------------------------------------------------------------------------------------
# Configuration (CTC.yaml)
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SequenceSpec:
    """One sequence of the sweep: a built-in synthetic sequence or an existing one."""

    name: str
    """Short name used in job paths and the report (defaults to the content name or folder)."""
    content: str | None = None
    """Built-in content name (``mvcodec content list``); made on demand into ``DIR/content``."""
    scale: str = "tiny"
    """Scale of built-in content: ``tiny``, ``mini`` or ``full``."""
    path: str | None = None
    """An existing ``seq.yaml`` or TMIV JSON (instead of ``content``)."""


@dataclasses.dataclass(frozen=True)
class CodecSpec:
    """One codec of the sweep and its rate points."""

    name: str
    """Name in job paths and the report (``mvhinerv-S``, ``vvenc-medium``)."""
    type: str
    """``mvhinerv``, ``vvenc`` or ``x265``."""
    rate_points: tuple[Mapping[str, Any], ...]
    """One mapping per rate point: ``{lambda: ...}`` for MV-HiNeRV, ``{qp_texture, qp_depth}`` for anchors."""
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    """Codec options (``preset``, ``schedule``, ``device``, ``settings`` for MV-HiNeRV; ``preset``... for anchors)."""

    @property
    def is_anchor(self) -> bool:
        return self.type != "mvhinerv"


@dataclasses.dataclass(frozen=True)
class SynthesisSpec:
    """Which synthesised views to evaluate (needs held-out cameras with ground truth)."""

    held_out: bool = True
    """Synthesise every held-out camera that has ground-truth files and compare."""
    max_frames: int | None = None
    """Evaluate at most this many frames of each synthesised view (None: all)."""


@dataclasses.dataclass(frozen=True)
class CtcConfig:
    """A whole sweep, as read from ``CTC.yaml`` (documented in ``docs/ctc.md``)."""

    name: str
    sequences: tuple[SequenceSpec, ...]
    codecs: tuple[CodecSpec, ...]
    frames: int | None = None
    """Limit every sequence to its first N frames (None: all)."""
    synthesis: SynthesisSpec | None = None
    """Evaluate synthesised held-out views too (None: source views only)."""
    device: str = "auto"
    """Device for MV-HiNeRV and synthesis: ``auto``, ``cpu`` or ``cuda``."""
    bd_method: str = "pchip"
    """Interpolation for BD-rate: ``pchip`` (JVET CTC sheet), ``cubic`` or ``akima``."""


_TOP_KEYS = {"name", "sequences", "codecs", "frames", "synthesis", "device", "bd_method"}


def _check_keys(where: str, got: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(got) - allowed)
    if unknown:
        raise InputError(where, f"unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})")


def load_ctc_config(path: str | Path) -> CtcConfig:
    """Parse and validate ``CTC.yaml``; every problem is an :class:`InputError` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(path, "no such file")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise FormatError(path, f"malformed YAML{where}") from None
    if not isinstance(raw, dict):
        raise FormatError(path, "expected a mapping at the top level")
    _check_keys(str(path), raw, _TOP_KEYS)
    base = path.parent
    sequences = []
    for i, entry in enumerate(raw.get("sequences") or []):
        if not isinstance(entry, dict):
            raise FormatError(path, f"sequences[{i}] must be a mapping")
        _check_keys(f"{path}: sequences[{i}]", entry, {"name", "content", "scale", "path"})
        if ("content" in entry) == ("path" in entry):
            raise FormatError(path, f"sequences[{i}] needs exactly one of 'content' or 'path'")
        seq_path = entry.get("path")
        if seq_path is not None:
            seq_path = str((base / seq_path).resolve())
        name = entry.get("name") or entry.get("content") or Path(seq_path).parent.name
        sequences.append(SequenceSpec(name=str(name), content=entry.get("content"),
                                      scale=str(entry.get("scale", "tiny")), path=seq_path))
    if not sequences:
        raise FormatError(path, "no sequences")
    codecs = []
    for i, entry in enumerate(raw.get("codecs") or []):
        if not isinstance(entry, dict) or "type" not in entry:
            raise FormatError(path, f"codecs[{i}] must be a mapping with a 'type'")
        ctype = str(entry["type"])
        if ctype not in ("mvhinerv", "vvenc", "x265"):
            raise FormatError(path, f"codecs[{i}]: unknown type {ctype!r} (mvhinerv, vvenc, x265)")
        rate_points = _rate_points(path, i, ctype, entry)
        options = {k: v for k, v in entry.items() if k not in ("name", "type", "lambdas", "qps", "rate_points")}
        if ctype != "mvhinerv":
            _check_anchor(path, i, ctype, options, rate_points)
        codecs.append(CodecSpec(name=str(entry.get("name", ctype)), type=ctype,
                                rate_points=tuple(rate_points), options=options))
    if not codecs:
        raise FormatError(path, "no codecs")
    names = [c.name for c in codecs]
    if len(set(names)) != len(names):
        raise FormatError(path, f"codec names must be unique, got {names}")
    synth = raw.get("synthesis")
    synthesis = None
    if synth:
        if synth is True:
            synth = {}
        _check_keys(f"{path}: synthesis", synth, {"held_out", "max_frames"})
        synthesis = SynthesisSpec(held_out=bool(synth.get("held_out", True)), max_frames=synth.get("max_frames"))
    frames = raw.get("frames")
    if frames is not None and (not isinstance(frames, int) or frames < 1):
        raise FormatError(path, f"frames must be a positive integer, got {frames!r}")
    device = str(raw.get("device", "auto"))
    if device not in ("auto", "cpu", "cuda"):
        raise FormatError(path, f"device must be auto, cpu or cuda, got {device!r}")
    bd_method = str(raw.get("bd_method", "pchip"))
    if bd_method not in ("pchip", "cubic", "akima"):
        raise FormatError(path, f"bd_method must be pchip, cubic or akima, got {bd_method!r}")
    for i, spec in enumerate(sequences):
        if spec.content is not None:
            _check_content(path, i, spec.content, spec.scale)
    return CtcConfig(name=str(raw.get("name", path.stem)), sequences=tuple(sequences), codecs=tuple(codecs),
                     frames=frames, synthesis=synthesis, device=device,
                     bd_method=bd_method)


def _check_content(path: Path, i: int, content: str, scale: str) -> None:
    """A built-in sequence must exist at that scale: caught when the file is read, not mid-sweep."""
    from ctc.content import CATALOG, SCALES

    if content not in CATALOG:
        raise FormatError(path, f"sequences[{i}]: unknown content {content!r} (mvcodec content list)")
    if scale not in SCALES:
        raise FormatError(path, f"sequences[{i}]: unknown scale {scale!r} ({', '.join(SCALES)})")


def _check_anchor(path: Path, i: int, ctype: str, options: Mapping[str, Any], points: list[dict[str, Any]]) -> None:
    """Anchor options and QPs are checked when the file is read (pure checks: no ffmpeg needed).

    So a typo is a one-line error before any job runs, while a missing encoder (which depends on
    the machine, not the file) becomes a recorded job failure (:class:`UnavailableCodec`).
    """
    from ctc.anchors import RatePoint, SimulcastSettings

    try:
        SimulcastSettings.from_options(ctype, options)  # type: ignore[arg-type]
        for point in points:
            RatePoint.from_mapping(point, ctype)  # type: ignore[arg-type]
    except InputError as err:
        raise FormatError(path, f"codecs[{i}]: {err}") from None


def _rate_points(path: Path, i: int, ctype: str, entry: Mapping[str, Any]) -> list[dict[str, Any]]:
    if "rate_points" in entry:
        points = [dict(p) for p in entry["rate_points"]]
    elif ctype == "mvhinerv":
        points = [{"lambda": float(lam)} for lam in entry.get("lambdas") or []]
        for p in points:
            if not p["lambda"] > 0:
                raise FormatError(path, f"codecs[{i}]: lambda must be > 0, got {p['lambda']}")
    else:
        points = []
        for pair in entry.get("qps") or []:
            if not (isinstance(pair, (list, tuple)) and len(pair) == 2):
                raise FormatError(path, f"codecs[{i}]: qps entries are [texture QP, depth QP] pairs")
            points.append({"qp_texture": int(pair[0]), "qp_depth": int(pair[1])})
    if not points:
        raise FormatError(path, f"codecs[{i}]: no rate points (give 'lambdas' or 'qps')")
    return points


def rate_point_label(point: Mapping[str, Any]) -> str:
    """A file-name-safe label of a rate point: ``lambda-0.5``, ``qp-32-27``."""
    if "lambda" in point:
        return f"lambda-{point['lambda']:g}"
    if "qp_texture" in point:
        return f"qp-{point['qp_texture']}-{point['qp_depth']}"
    return "-".join(f"{k}-{v}" for k, v in sorted(point.items()))


# --------------------------------------------------------------------------------------------
# Codecs
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CodecRun:
    """What a codec returns for one rate point."""

    total_bytes: int
    """Everything a decoder needs (all streams / the whole bitstream file)."""
    decoded: Path
    """``seq.yaml`` of the decoded sequence (MIV format: the same views, cameras and frames)."""
    encode_seconds: float
    decode_seconds: float
    details: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    """Codec-specific facts (bytes per stream, estimated vs actual rate, device...)."""


class Codec(Protocol):
    """A codec the harness can sweep: MV-HiNeRV or an anchor."""

    name: str

    def describe(self) -> Mapping[str, Any]:
        """Versions and settings that identify this codec in a result file."""

    def run(self, sequence: Path, rate_point: Mapping[str, Any], work_dir: Path, frames: int | None) -> CodecRun:
        """Encode ``sequence`` (a ``seq.yaml``) at ``rate_point`` in ``work_dir`` and decode it."""


CodecFactory = Callable[[CodecSpec, CtcConfig], Codec]


def anchor_codec(spec: CodecSpec, config: CtcConfig) -> Codec:
    """Build a VVenC or x265 simulcast anchor (:mod:`ctc.anchors`)."""
    from ctc.anchors import make_anchor_codec

    return make_anchor_codec(spec.name, spec.type, dict(spec.options))


class CodecUnavailableError(RuntimeError):
    """The codec could not be set up on this machine (its factory failed), so its jobs fail."""


class UnavailableCodec:
    """Stands in for a codec whose factory failed here (no ffmpeg, no encoder, no CUDA...).

    Every job of that codec is then *recorded* as failed with the reason and the sweep goes on:
    what a codec needs depends on the machine, not on CTC.yaml, and a sweep may be split between
    machines (MV-HiNeRV on a GPU host, the anchors where the encoders are), each finishing the
    other's failed jobs with ``--retry-failed``. Mistakes in CTC.yaml are caught when it is read.
    """

    def __init__(self, name: str, error: Exception) -> None:
        self.name = name
        self.reason = f"{type(error).__name__}: {error}"

    def describe(self) -> Mapping[str, Any]:
        return {"unavailable": self.reason}

    def run(self, sequence: Path, rate_point: Mapping[str, Any], work_dir: Path, frames: int | None) -> CodecRun:
        raise CodecUnavailableError(f"codec {self.name} is unavailable here: {self.reason}")


def build_codec(factory: CodecFactory, spec: CodecSpec, config: CtcConfig) -> Codec:
    """``factory(spec, config)``, or an :class:`UnavailableCodec` carrying the reason it failed."""
    try:
        return factory(spec, config)
    except Exception as err:  # noqa: BLE001  (any set-up failure is recorded per job)
        return UnavailableCodec(spec.name, err)


# --------------------------------------------------------------------------------------------
# Jobs
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Job:
    sequence: SequenceSpec
    codec: CodecSpec
    rate_point: Mapping[str, Any]

    @property
    def label(self) -> str:
        return rate_point_label(self.rate_point)

    def result_path(self, out_dir: Path) -> Path:
        return out_dir / "jobs" / self.sequence.name / self.codec.name / f"{self.label}.json"


def plan_jobs(config: CtcConfig) -> list[Job]:
    """Every (sequence, codec, rate point) of the sweep, in a stable order."""
    return [Job(s, c, rp) for s in config.sequences for c in config.codecs for rp in c.rate_points]


def git_revision() -> str:
    """The git commit of this checkout (``unknown`` outside a repository), ``+dirty`` if modified."""
    here = Path(__file__).resolve().parent
    try:
        rev = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=here, capture_output=True,
                             text=True, check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return rev + ("+dirty" if dirty else "")


def prepare_sequence(spec: SequenceSpec, out_dir: Path, device: str) -> Path:
    """The ``seq.yaml`` of a sweep sequence; built-in content is made once into ``out_dir/content``.

    (A ``path`` sequence is returned as is: :func:`check_runnable` has seen that it exists.)
    """
    if spec.path is not None:
        return Path(spec.path)
    from ctc.content import make_sequence

    target = out_dir / "content" / f"{spec.content}-{spec.scale}"
    seq_yaml = target / "seq.yaml"
    if not seq_yaml.is_file():
        seq_yaml = make_sequence(spec.content, spec.scale, target, device=device)
    return seq_yaml


def limit_frames(seq_path: Path, frames: int | None, work_dir: Path) -> Path:
    """A ``seq.yaml`` in ``work_dir`` for the first ``frames`` frames of ``seq_path``.

    ``seq_path`` itself when ``frames`` is None or not below its frame count.

    The derived file points at the original JSON and YUV files, so nothing is copied.
    """
    from ctc.sequence import load_sequence, write_seq_yaml

    if frames is None:
        return Path(seq_path)
    mvv = load_sequence(seq_path)
    if mvv.num_frames <= frames:
        return Path(seq_path)
    spec = mvv.spec
    target = Path(work_dir) / "seq.limited.yaml"
    write_seq_yaml(dataclasses.replace(spec, frames=frames), target)
    return target


# --------------------------------------------------------------------------------------------
# Metrics of one decoded sequence
# --------------------------------------------------------------------------------------------


def _erp_range(camera) -> tuple[tuple[float, float], tuple[float, float]] | None:
    if not camera.is_erp:
        return None
    return tuple(camera.hor_range), tuple(camera.ver_range)


def view_metrics(ref_tex, test_tex, ref_depth, test_depth, camera) -> dict[str, float]:
    """Metrics of one frame of one view: texture planes ``(Y, U, V)`` and 16-bit depth samples.

    Keys as :mod:`ctc.metrics.aggregate` (``y_psnr`` … ``yuv_psnr``, ``ivpsnr``; ``ws_*`` for
    equirectangular cameras) plus ``depth_psnr``.
    """
    from ctc import metrics as M

    bits = camera.bit_depth_color
    erp = _erp_range(camera)
    out = dict(M.texture_metrics(ref_tex, test_tex, bits, erp=erp))
    if ref_depth is not None and test_depth is not None:
        out["depth_psnr"] = M.depth_psnr(ref_depth, test_depth, bits=16)
    return out


def aggregate_per_view(per_view: Mapping[str, list[dict[str, float]]]) -> tuple[dict[str, Any], dict[str, float]]:
    """Per-frame values of each view → ``({view: {"per_frame", "mean"}}, mean over views)``.

    MPEG practice (miv_ctc.md §1.6): a view's value is the mean of its per-frame dB values, the
    sequence's the mean of the views' values (keys common to all views; none without views).
    """
    from ctc.metrics.aggregate import aggregate_views, mean_of

    blocks = {name: {"per_frame": frames, "mean": mean_of(frames)} for name, frames in per_view.items()}
    mean = aggregate_views({name: b["mean"] for name, b in blocks.items()})["mean"] if blocks else {}
    return blocks, mean


def evaluate_decoded(original: Path, decoded: Path, frames: int | None) -> dict[str, Any]:
    """Per-view per-frame metrics of a decoded sequence against the original, and their means."""
    from ctc.sequence import load_sequence

    ref = load_sequence(original)
    test = load_sequence(decoded)
    n = min(ref.num_frames, frames or ref.num_frames)
    if test.num_frames < n:
        raise FormatError(decoded, f"decoded sequence has {test.num_frames} frames, expected {n}")
    per_view: dict[str, list[dict[str, float]]] = {}
    for view in ref.views:
        if view not in test.views:
            raise FormatError(decoded, f"decoded sequence lacks view {view}")
        camera = ref.camera(view)
        per_view[view] = [view_metrics(ref.texture_yuv(view, t, 1), test.texture_yuv(view, t, 1),
                                       ref.depth_samples(view, t, 1), test.depth_samples(view, t, 1), camera)
                          for t in range(n)]
    views, mean = aggregate_per_view(per_view)
    return {"views": views, "mean": mean}


def evaluate_synthesis(original: Path, decoded: Path, frames: int | None, device: str,
                       work_dir: Path) -> dict[str, Any]:
    """Synthesise every held-out camera from the decoded source views and compare with ground truth."""
    from ctc.sequence import load_sequence
    from ctc.synthesis import synthesize_sequence
    from ctc.yuv import YuvReader

    ref = load_sequence(original)
    n = min(ref.num_frames, frames or ref.num_frames)
    per_camera: dict[str, list[dict[str, float]]] = {}
    for cam in ref.sequence.held_out_cameras:
        try:
            truth = ref.open_view(cam.name)
        except InputError:
            continue  # no ground truth for this camera
        out_tex = work_dir / f"synth_{cam.name}_texture.yuv"
        out_depth = work_dir / f"synth_{cam.name}_depth.yuv"
        synthesize_sequence(decoded, camera=cam.name, frames=n, out_texture=out_tex, out_depth=out_depth,
                            device=device)
        tex = YuvReader(out_tex, cam.width, cam.height, "yuv420p10le")
        dep = YuvReader(out_depth, cam.width, cam.height, "yuv420p16le")
        per_camera[cam.name] = [view_metrics(truth.texture_yuv(t, 1), tex.read(t, 1),
                                             truth.depth_samples(t, 1), dep.read_luma(t, 1), cam)
                                for t in range(n)]
        out_tex.unlink(missing_ok=True)
        out_depth.unlink(missing_ok=True)
    cameras, mean = aggregate_per_view(per_camera)
    return {"cameras": cameras, "mean": mean}


# --------------------------------------------------------------------------------------------
# The sweep
# --------------------------------------------------------------------------------------------

RESULT_KEYS = ("sequence", "codec", "codec_type", "label", "status")
"""Keys every result file has (``ok`` results add rate, timing and metric keys: ``docs/ctc.md``)."""


def run_job(job: Job, codec: Codec, seq_path: Path, config: CtcConfig, out_dir: Path,
            environment: Mapping[str, Any]) -> dict[str, Any]:
    """Run one job and return its result record (``status`` ``ok`` or ``failed``).

    Any exception of the codec or the evaluation makes a ``failed`` record (error and traceback)
    instead of stopping the sweep; ``KeyboardInterrupt`` is not caught, so Ctrl-C stops the sweep
    and, as the record is written by the caller only after this returns, leaves no result file.
    """
    from ctc.sequence import load_sequence

    work = out_dir / "work" / job.sequence.name / job.codec.name / job.label
    work.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {
        "sequence": job.sequence.name,
        "sequence_path": str(seq_path),
        "codec": job.codec.name,
        "codec_type": job.codec.type,
        "rate_point": dict(job.rate_point),
        "label": job.label,
        "environment": dict(environment),
        "started": _now(),
    }
    try:
        record["codec_description"] = dict(codec.describe())
        mvv = load_sequence(seq_path)
        frames = min(mvv.num_frames, config.frames or mvv.num_frames)
        run = codec.run(seq_path, job.rate_point, work, config.frames)
        seconds = frames / float(mvv.fps)
        pixels = frames * len(mvv.views) * mvv.width * mvv.height
        record.update({
            "status": "ok",
            "frames": frames,
            "views": list(mvv.views),
            "fps": mvv.fps,
            "bytes": int(run.total_bytes),
            "mbps": 8.0 * run.total_bytes / seconds / 1e6,
            "bpp": 8.0 * run.total_bytes / pixels,
            "encode_seconds": run.encode_seconds,
            "decode_seconds": run.decode_seconds,
            "details": dict(run.details),
        })
        record["metrics"] = evaluate_decoded(seq_path, run.decoded, config.frames)
        if config.synthesis is not None and config.synthesis.held_out:
            limit = config.synthesis.max_frames or config.frames
            record["synthesis"] = evaluate_synthesis(seq_path, run.decoded, limit, config.device, work)
    except Exception as err:  # noqa: BLE001  (a failed job is recorded and does not stop the sweep)
        record.update({"status": "failed", "error": f"{type(err).__name__}: {err}",
                       "traceback": traceback.format_exc(limit=8)})
    record["finished"] = _now()
    return record


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def check_runnable(config: CtcConfig, factories: Mapping[str, CodecFactory]) -> None:
    """Problems that would stop the sweep half-way, raised before anything is written.

    Raises:
        InputError: a codec type without a factory here.
        MissingFileError: a ``path`` sequence that does not exist.
    """
    for spec in config.codecs:
        if spec.type not in factories:
            raise InputError(f"codec {spec.name}", f"no codec of type {spec.type!r} is available here")
    for seq in config.sequences:
        if seq.path is not None and not Path(seq.path).is_file():
            raise MissingFileError(seq.path, f"sequence {seq.name} not found")


def check_selection(config: CtcConfig, codecs: Iterable[str] | None, sequences: Iterable[str] | None) -> None:
    """Every name in a ``--codec``/``--sequence`` selection is one of the sweep's.

    Raises:
        InputError: an unknown name (the known ones are listed).
    """
    for kind, chosen, known in (("codec", codecs, [c.name for c in config.codecs]),
                                ("sequence", sequences, [s.name for s in config.sequences])):
        unknown = sorted(set(chosen or ()) - set(known))
        if unknown:
            raise InputError(f"--{kind} {', '.join(unknown)}", f"not a {kind} of this sweep ({', '.join(known)})")


def run_ctc(config: CtcConfig, out_dir: str | Path, *, extra_factories: Mapping[str, CodecFactory] | None = None,
            log: Callable[[str], None] = print, retry_failed: bool = False,
            codecs: Iterable[str] | None = None, sequences: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Run (or resume) a sweep and write ``out_dir/report.md``; returns all job records.

    A job whose result file exists with status ``ok`` is skipped (resumability); failed jobs are
    re-run only with ``retry_failed``. A codec that cannot be set up here (:class:`UnavailableCodec`)
    gives failed jobs, not an error. Each result file is written atomically when its job ends.

    ``codecs`` / ``sequences`` (names) restrict which jobs run, so that one sweep can be split
    between machines (MV-HiNeRV on a GPU machine, the anchors where ffmpeg is) or into shorter
    sessions; the jobs left out are not run, but their existing results still enter the report.

    Raises:
        InputError: see :func:`check_runnable` and :func:`check_selection`; a result file in
            ``out_dir`` that is not a result.
    """
    from ctc.environment import environment_report
    from ctc.report import write_report

    factories: dict[str, CodecFactory] = {"vvenc": anchor_codec, "x265": anchor_codec, **(extra_factories or {})}
    check_runnable(config, factories)
    check_selection(config, codecs, sequences)
    chosen_codecs = None if codecs is None else set(codecs)
    chosen_sequences = None if sequences is None else set(sequences)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    environment = environment_report()
    environment["git"] = git_revision()
    write_bytes_atomic(out_dir / "ctc.resolved.yaml",
                       yaml.safe_dump(dataclasses.asdict(config), sort_keys=False).encode())
    codecs: dict[str, Codec] = {}
    seq_paths: dict[str, Path] = {}
    records = []
    jobs = plan_jobs(config)
    for index, job in enumerate(jobs, 1):
        tag = f"[{index}/{len(jobs)}] {job.sequence.name} {job.codec.name} {job.label}"
        path = job.result_path(out_dir)
        previous = read_result(path) if path.is_file() else None
        selected = ((chosen_codecs is None or job.codec.name in chosen_codecs)
                    and (chosen_sequences is None or job.sequence.name in chosen_sequences))
        if not selected:
            if previous is not None:
                records.append(previous)
            continue
        if previous is not None and (previous["status"] == "ok" or not retry_failed):
            log(f"{tag}: {previous['status']} (kept)")
            records.append(previous)
            continue
        if job.codec.name not in codecs:
            codecs[job.codec.name] = build_codec(factories[job.codec.type], job.codec, config)
        if job.sequence.name not in seq_paths:
            seq_paths[job.sequence.name] = prepare_sequence(job.sequence, out_dir, config.device)
        log(f"{tag}: running")
        record = run_job(job, codecs[job.codec.name], seq_paths[job.sequence.name], config, out_dir, environment)
        summary = (f"{record['bytes']} B, Y-PSNR {record['metrics']['mean'].get('y_psnr', math.nan):.2f} dB"
                   if record["status"] == "ok" else record["error"])
        log(f"{tag}: {record['status']}: {summary}")
        write_bytes_atomic(path, json.dumps(record, indent=1, default=_json_default).encode())
        records.append(record)
    write_report(config, records, out_dir)
    return records


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def read_result(path: str | Path) -> dict[str, Any]:
    """One job's result file.

    Raises:
        FormatError: not JSON, or not a job record (lacks one of :data:`RESULT_KEYS`). Result files
            are written atomically, so this means the file was edited or is not ours.
    """
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise FormatError(path, f"unreadable job result ({err})") from None
    if not isinstance(record, dict) or any(k not in record for k in RESULT_KEYS):
        raise FormatError(path, f"not a job result (needs the keys {', '.join(RESULT_KEYS)})")
    return record


def load_results(out_dir: str | Path) -> list[dict[str, Any]]:
    """All job records under ``out_dir/jobs`` (for re-reporting and ``mvcodec bdrate --results``).

    Raises:
        MissingFileError: ``out_dir/jobs`` holds no result file.
        FormatError: a result file is malformed (:func:`read_result`).
    """
    paths = sorted(Path(out_dir).glob("jobs/*/*/*.json"))
    if not paths:
        raise MissingFileError(Path(out_dir) / "jobs", "no job results (run mvcodec ctc run first)")
    return [read_result(p) for p in paths]


_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(text: str) -> str:
    """A file-name-safe version of ``text``."""
    return _SAFE.sub("_", text)


__all__ = [
    "CodecRun", "Codec", "CodecSpec", "CodecUnavailableError", "CtcConfig", "Job", "RESULT_KEYS", "SequenceSpec",
    "SynthesisSpec", "UnavailableCodec", "aggregate_per_view", "build_codec", "check_runnable",
    "evaluate_decoded", "evaluate_synthesis", "load_ctc_config", "load_results", "plan_jobs", "rate_point_label",
    "read_result", "run_ctc", "run_job",
]
