"""The codec: encode a sequence into a bitstream, decode a bitstream into a sequence.

::

    encode_sequence:  seq.yaml ─► load_sequence ─► arch_from_preset ─► train_model ─► TrainResult
                          ─► BitstreamContents (sequence + cameras, arch dict, tensors) ─► write_bitstream
                          ─► OUT.bin (atomic) ─► verify: read the written bytes back, rebuild the model,
                             render every frame, PSNR against the input (Cool-chic's encoder-runs-
                             the-decoder, style.md §7 practice 6)
    decode_bitstream: OUT.bin ─► read_bitstream(views=…) (only those views' grid sections)
                          ─► MVHiNeRV(arch) + load_quantized ─► render frames (frame mode)
                          ─► RGB → YUV 4:2:0 10-bit, depth level → 16-bit samples
                          ─► write_sequence (JSON with every camera + YUVs + seq.yaml)

The decoder recovers every parameter bit-exactly on any machine (the entropy layer only uses
integers and float16 values read from the file, ``bitstream/entropy.py``); the reconstructed
pixels may differ between devices within float tolerance.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from bitstream import (
    BitstreamContents,
    CameraParams,
    Header,
    SequenceParams,
    bitstream_summary,
    read_bitstream,
    read_header,
    write_bitstream,
)
from ctc.atomic import atomic_path, write_bytes_atomic
from ctc.camera import Camera
from ctc.color import rgb_to_yuv420
from ctc.errors import InputError, MissingFileError
from ctc.sequence import DEPTH_BITS, MultiViewVideo, Sequence as MivSequence, load_sequence, write_sequence
from mvhinerv.arch import MVHiNeRVArch, arch_from_preset
from mvhinerv.config import EncodeConfig

# ============================================================================================
# ctc.camera.Camera <-> bitstream.CameraParams (bitstream may not import ctc)


def camera_params(cam: Camera, coded: bool) -> CameraParams:
    """The bitstream record of a camera (``extra`` JSON keys are not carried)."""
    if cam.is_erp:
        intrinsics = (*cam.hor_range, *cam.ver_range)
    else:
        intrinsics = (*cam.focal, *cam.principal_point)
    return CameraParams(
        name=cam.name, coded=coded, projection=cam.projection, resolution=tuple(cam.resolution),
        position=tuple(float(x) for x in cam.position), rotation=tuple(float(x) for x in cam.rotation),
        depth_range=(float(cam.depth_range[0]), float(cam.depth_range[1])),
        has_invalid_depth=bool(cam.has_invalid_depth), intrinsics=tuple(float(x) for x in intrinsics),
    )


def camera_from_params(p: CameraParams, texture_bits: int, depth_bits: int) -> Camera:
    """The ``ctc`` camera of a bitstream record, at the sequence's bit depths."""
    erp = p.projection == "Equirectangular"
    a, b, c, d = p.intrinsics
    return Camera(
        name=p.name, projection=p.projection, resolution=p.resolution, position=p.position,
        rotation=p.rotation, depth_range=p.depth_range,
        focal=None if erp else (a, b), principal_point=None if erp else (c, d),
        hor_range=(a, b) if erp else None, ver_range=(c, d) if erp else None,
        bit_depth_color=texture_bits, bit_depth_depth=depth_bits, has_invalid_depth=p.has_invalid_depth,
    )


def sequence_params(mvv: MultiViewVideo) -> SequenceParams:
    """Sequence parameters of a loaded sequence: every camera of its JSON, coded views flagged.

    Coded views must appear in coding order (``mvv.views``, the model's view index); they take
    the JSON positions of the coded cameras in that order, so other cameras keep their places.
    """
    coded = iter(mvv.views)
    chosen = set(mvv.views)
    cameras = tuple(
        camera_params(mvv.sequence.camera(next(coded)), True) if cam.name in chosen else camera_params(cam, False)
        for cam in mvv.sequence.cameras
    )
    return SequenceParams(
        name=mvv.sequence.content_name, fps=float(mvv.fps), num_frames=mvv.num_frames,
        start_frame=mvv.start_frame, texture_bit_depth=mvv.texture_bits, depth_bit_depth=DEPTH_BITS,
        cameras=cameras,
    )


def output_sequence(seq: SequenceParams, views: Sequence[str]) -> MivSequence:
    """The TMIV JSON of a decoded sequence: every camera; the decoded views are its source views."""
    return MivSequence(
        version="4.0", content_name=seq.name, fps=seq.fps, frames_number=seq.num_frames,
        cameras=tuple(camera_from_params(c, seq.texture_bit_depth, seq.depth_bit_depth) for c in seq.cameras),
        source_camera_names=tuple(views),
    )


# ============================================================================================
# the decoder's model


@dataclasses.dataclass(frozen=True, eq=False)
class DecodedModel:
    """A network rebuilt from a file, ready to render.

    Attributes:
        sequence: the file's sequence parameters and cameras.
        arch: the architecture rebuilt from the file's config.
        model: :class:`mvhinerv.model.MVHiNeRV` on ``device`` with the file's parameters
            (grids of views not read are zero).
        views: coded view indices whose grids were read.
        contents: what the bitstream reader returned.
    """

    sequence: SequenceParams
    arch: MVHiNeRVArch
    model: torch.nn.Module
    views: tuple[int, ...]
    contents: BitstreamContents


def read_file(path: str | Path) -> bytes:
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(path, "no such bitstream file")
    return path.read_bytes()


def view_indices(seq: SequenceParams, names: Sequence[str] | None, where: str) -> tuple[int, ...]:
    """Coded view indices of ``names`` (all views if ``None``); :class:`InputError` for others."""
    if names is None:
        return tuple(range(len(seq.coded_cameras)))
    out = []
    for name in names:
        if name not in seq.view_names:
            raise InputError(where, f"view {name!r} is not coded in the file (coded: {', '.join(seq.view_names)})")
        out.append(seq.view_index(name))
    if not out:
        raise InputError(where, "no views requested")
    return tuple(dict.fromkeys(out))


def check_arch(header: Header, source: str) -> MVHiNeRVArch:
    """The file's architecture, checked against its sequence and tensor records *before* any
    payload is decoded or any network is allocated (a damaged config must not make the decoder
    build a huge model): views, resolution, frames and the total parameter count must agree."""
    from mvhinerv.arch import count_parameters

    seq = header.sequence
    arch = MVHiNeRVArch.from_dict(dict(header.arch), where=f"{source}: architecture")
    cam = seq.coded_cameras[0]
    if arch.views != len(seq.coded_cameras):
        raise InputError(source, f"architecture has {arch.views} views but the file codes {len(seq.coded_cameras)}")
    if (arch.width, arch.height) != cam.resolution or arch.frames != seq.num_frames:
        raise InputError(source, f"architecture is {arch.width}x{arch.height}x{arch.frames} frames but the "
                                 f"sequence is {cam.width}x{cam.height}x{seq.num_frames}")
    expected = count_parameters(arch)["total"]
    stored = sum(t.numel for t in header.tensors)
    if stored != expected:
        raise InputError(source, f"the architecture has {expected} parameters but the file holds {stored}")
    return arch


#: Rendered pixels from which compiling the decoder pays off on a GPU: compilation costs
#: 10-60 s, eager S renders ≈ 26 and compiled ≈ 113 frames/s of 1080p (docs/performance.md).
COMPILE_FROM_PIXELS = 300 * 1920 * 1080


def should_compile(device: torch.device, pixels: int, compile: bool | None = None) -> bool:
    """``compile`` when given; otherwise compile on CUDA for at least :data:`COMPILE_FROM_PIXELS`."""
    if compile is not None:
        return compile
    return device.type == "cuda" and pixels >= COMPILE_FROM_PIXELS


def decoder_network(arch: MVHiNeRVArch, device: torch.device, compile: bool,
                    tensors: Sequence[Any] | None = None, views: Sequence[int] | None = None) -> torch.nn.Module:
    """The network that renders decoded frames: an ``eval()`` :class:`MVHiNeRV` on ``device``,
    loaded with ``tensors`` (:func:`mvhinerv.quant.load_quantized`, only ``views``' grids) when
    given, and wrapped in ``torch.compile`` when ``compile`` (:func:`should_compile` decides for
    ``mvcodec decode``).

    Compiling costs tens of seconds once per model and frame-batch size, and makes frame-mode
    rendering about 4× faster on a GPU (``docs/performance.md`` § Decoding). The depthwise
    convolutions are those of :func:`~mvhinerv.model.default_dwconv` for inference (the fusible
    "shift" form when compiled): the same numbers as cuDNN's within float tolerance.
    """
    from mvhinerv.model import MVHiNeRV, default_dwconv
    from mvhinerv.quant import load_quantized

    model = MVHiNeRV(arch, dwconv=default_dwconv(device, compile, training=False)).to(device).eval()
    if tensors is not None:
        load_quantized(model, tensors, views=views)
    return torch.compile(model) if compile else model


def load_decoder(data: bytes, *, source: str, views: Sequence[str] | None = None,
                 device: str | torch.device = "cpu", compile: bool | None = None) -> DecodedModel:
    """Read a file (only the grids of ``views``) and rebuild its network on ``device``;
    ``compile``: True/False, or None to decide by :func:`should_compile` (all frames of ``views``)."""
    from ctc.device import resolve_device

    header = read_header(data, source=source)
    seq = header.sequence
    indices = view_indices(seq, views, source)
    arch = check_arch(header, source)
    contents = read_bitstream(data, views=indices, source=source)
    device = resolve_device(device)
    pixels = len(indices) * arch.frames * arch.width * arch.height
    model = decoder_network(arch, device, should_compile(device, pixels, compile), contents.tensors, indices)
    return DecodedModel(seq, arch, model, indices, contents)


@torch.no_grad()
def render(model: torch.nn.Module, view: int, frames: Sequence[int], *, bf16: bool = True) -> torch.Tensor:
    """RGB-D of ``frames`` of coded view ``view``: float32 ``(len(frames), 4, H, W)`` in [0, 1],
    on the model's device (frame mode; bf16 autocast on CUDA, the decode speed path)."""
    from mvhinerv.train.step import autocast

    device = next(model.parameters()).device
    views_t = torch.full((len(frames),), view, dtype=torch.long, device=device)
    frames_t = torch.as_tensor(list(frames), dtype=torch.long, device=device)
    with autocast(device, bf16):
        out = model(views_t, frames_t)
    return out.float().contiguous()


def depth_level_to_samples(level: torch.Tensor, lo: int, hi: int) -> torch.Tensor:
    """Normalised depth level → 16-bit samples ``round(lo + level·(hi − lo))`` (int32, clipped).

    Inverse of the per-sequence normalisation of ``mvhinerv.train.data`` (paper §III).
    """
    samples = torch.floor(lo + level.double() * (hi - lo) + 0.5)
    return samples.clamp_(0, 2**DEPTH_BITS - 1).to(torch.int32)


def to_samples(rgbd: torch.Tensor, arch: MVHiNeRVArch, texture_bits: int) -> tuple[list[np.ndarray], np.ndarray]:
    """(Y, U, V) uint16 planes at ``texture_bits`` and uint16 depth samples of rendered frames."""
    y, u, v = rgb_to_yuv420(rgbd[:, :3], texture_bits)
    depth = depth_level_to_samples(rgbd[:, 3], arch.depth_lo, arch.depth_hi)
    return [p.cpu().numpy().astype(np.uint16) for p in (y, u, v)], depth.cpu().numpy().astype(np.uint16)


def frame_chunks(frames: Sequence[int], batch: int) -> Iterator[list[int]]:
    frames = list(frames)
    for i in range(0, len(frames), batch):
        yield frames[i : i + batch]


# ============================================================================================
# decode


def parse_frames(text: str | None, num_frames: int, where: str = "--frames") -> range:
    """``"0:16"`` → ``range(0, 16)``; ``"a:"``, ``":b"``, ``"n"`` as in Python; checked against the file."""
    if text is None:
        return range(num_frames)
    try:
        if ":" in text:
            a, b = text.split(":", 1)
            start = int(a) if a.strip() else 0
            stop = int(b) if b.strip() else num_frames
        else:
            start = int(text)
            stop = start + 1
    except ValueError:
        raise InputError(where, f"expected START:STOP frame indices, got {text!r}") from None
    if not 0 <= start < stop <= num_frames:
        raise InputError(where, f"frames {start}:{stop} outside the file's 0:{num_frames}")
    return range(start, stop)


def decode_bitstream(path: str | Path, out_dir: str | Path, *, views: Sequence[str] | None = None,
                     frames: str | range | None = None, device: str | torch.device = "auto",
                     batch: int = 1, bf16: bool = True, compile: bool | None = None) -> Path:
    """Decode a file into a sequence folder (MIV YUVs + TMIV JSON + ``seq.yaml``); returns the ``seq.yaml``.

    Args:
        path: the bitstream.
        out_dir: the output folder (written atomically: a failure leaves nothing behind).
        views: coded view names to decode (default: all); only their grid sections are read.
        frames: ``"START:STOP"`` or a ``range`` of frame indices (default: all).
        device: ``auto``, ``cpu`` or ``cuda``.
        batch: frames per forward pass.
        bf16: bf16 autocast on CUDA.
        compile: ``torch.compile`` the network; None: :func:`should_compile` decides.

    Raises:
        MissingFileError, BitstreamError, InputError: the file is missing or damaged, an unknown
            view, frames outside the file.
    """
    source = str(path)
    decoded = load_decoder(read_file(path), source=source, views=views, device=device, compile=compile)
    seq = decoded.sequence
    chosen = frames if isinstance(frames, range) else parse_frames(frames, seq.num_frames)
    names = [seq.view_names[v] for v in decoded.views]
    out_dir = Path(out_dir)
    h, w = decoded.arch.height, decoded.arch.width
    # Decoded planes go to memory-mapped scratch files: 21 views × 65 frames of 1080p are 14 GB.
    with tempfile.TemporaryDirectory(prefix=".decode.", dir=_existing_parent(out_dir)) as scratch:
        textures, depths = {}, {}
        for v, name in zip(decoded.views, names):
            planes = [_scratch(scratch, f"{name}.{p}", (len(chosen), *shape))
                      for p, shape in (("y", (h, w)), ("u", (-(-h // 2), -(-w // 2))), ("v", (-(-h // 2), -(-w // 2))))]
            depth = _scratch(scratch, f"{name}.d", (len(chosen), h, w))
            for i, chunk in enumerate(frame_chunks(chosen, batch)):
                yuv, d = to_samples(render(decoded.model, v, chunk, bf16=bf16), decoded.arch, seq.texture_bit_depth)
                lo = i * batch
                for plane, values in zip(planes, yuv):
                    plane[lo : lo + len(chunk)] = values
                depth[lo : lo + len(chunk)] = d
            textures[name], depths[name] = planes, depth
        sequence = output_sequence(seq, names)
        return write_sequence(out_dir, sequence, textures, depths)


def _existing_parent(path: Path) -> Path:
    parent = path.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    return parent


def _scratch(folder: str, name: str, shape: tuple[int, ...]) -> np.memmap:
    return np.memmap(Path(folder) / name, dtype=np.uint16, mode="w+", shape=shape)


# ============================================================================================
# encode


@dataclasses.dataclass(frozen=True)
class EncodeReport:
    """What ``mvcodec encode`` prints, as data.

    Attributes:
        path: the bitstream written.
        config_path: the resolved settings written next to it (``OUT.bin.config.yaml``).
        file_bytes: size of the file.
        estimated_bits: the training's exact Gaussian code length of the symbols (no side info,
            headers or coder overhead); compare with ``payload_bits`` and ``file_bytes``.
        payload_bits: bits of the range-coded sections (shared weights + grids).
        bpp: file bits / (views · frames · W · H); ``mbps``: file bits per second of video / 10^6.
        estimated: training's final whole-frame metrics (``psnr_rgb``, ``psnr_depth`` on the
            depth level, peak 1).
        decoded: the same measured on the decoded file (``psnr_rgb``, ``psnr_depth_level``) plus the
            output samples: ``psnr_y``, ``psnr_yuv611`` (6:1:1 weighted, 10-bit) and ``psnr_depth``
            (16-bit samples); empty with ``verify=False``. MSE pooled over all views and frames.
        seconds: ``train``, ``write``, ``verify``, ``total``.
        parameter_digest: :func:`bitstream.parameter_digest` of the coded parameters.
        summary: :func:`bitstream.bitstream_summary` of the file.
        skipped_steps: training steps skipped for non-finite gradients (all phases; normally 0).
    """

    path: Path
    config_path: Path
    file_bytes: int
    estimated_bits: float
    payload_bits: int
    bpp: float
    mbps: float
    estimated: dict[str, float]
    decoded: dict[str, float]
    seconds: dict[str, float]
    parameter_digest: str
    summary: dict[str, Any]
    skipped_steps: int = 0


class _ErrorSums:
    """Sums of squared errors over views and frames (pooled MSE, like training's evaluation)."""

    def __init__(self) -> None:
        self.sse: dict[str, float] = {}
        self.count: dict[str, int] = {}

    def add(self, key: str, a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray) -> None:
        a, b = torch.as_tensor(a).double(), torch.as_tensor(b).double()
        self.sse[key] = self.sse.get(key, 0.0) + float(((a - b) ** 2).sum())
        self.count[key] = self.count.get(key, 0) + a.numel()

    def psnr(self, key: str, peak: float) -> float:
        mse = self.sse[key] / self.count[key]
        return math.inf if mse == 0 else 10 * math.log10(peak * peak / mse)


def measure(decoded: DecodedModel, mvv: MultiViewVideo, *, batch: int = 1, bf16: bool = True) -> dict[str, float]:
    """PSNRs of a decoded model against its source sequence (all views and frames)."""
    sums = _ErrorSums()
    bits = decoded.sequence.texture_bit_depth
    lo, hi = decoded.arch.depth_lo, decoded.arch.depth_hi
    for v, name in zip(decoded.views, decoded.sequence.view_names):
        for chunk in frame_chunks(range(decoded.sequence.num_frames), batch):
            rgbd = render(decoded.model, v, chunk, bf16=bf16).cpu()
            start, count = chunk[0], len(chunk)
            sums.add("rgb", rgbd[:, :3], mvv.texture_rgb(name, start, count))
            source_depth = mvv.depth_samples(name, start, count).astype(np.int64)
            level = torch.from_numpy((source_depth - lo) / (hi - lo))
            sums.add("depth_level", rgbd[:, 3], level)
            yuv, depth = to_samples(rgbd, decoded.arch, bits)
            for key, got, ref in zip("yuv", yuv, mvv.texture_yuv(name, start, count)):
                sums.add(key, got.astype(np.int64), ref.astype(np.int64))
            sums.add("depth", depth.astype(np.int64), source_depth)
    peak = 2**bits - 1
    y, u, v = (sums.psnr(k, peak) for k in "yuv")
    return {
        "psnr_rgb": sums.psnr("rgb", 1.0),
        "psnr_depth_level": sums.psnr("depth_level", 1.0),
        "psnr_y": y,
        "psnr_yuv611": (6 * y + u + v) / 8,
        "psnr_depth": sums.psnr("depth", 2**DEPTH_BITS - 1),
    }


def encode_sequence(seq_path: str | Path, out_path: str | Path, *, preset: str = "S", schedule: str = "paper",
                    lmbda: float = 1.0, device: str | torch.device = "auto", resume: bool = False,
                    verify: bool = True, progress: bool = True, work_dir: str | Path | None = None,
                    settings: dict[str, Any] | None = None) -> EncodeReport:
    """Train MV-HiNeRV on a sequence and write its bitstream.

    Args:
        seq_path: a ``seq.yaml``, TMIV JSON or folder (``ctc.sequence.load_sequence``).
        out_path: the bitstream to write (atomically, after verification).
        preset: model size (``mvhinerv.arch.PRESETS``: tiny, S, M, L, XL, XXL).
        schedule: training schedule (``mvhinerv.train.SCHEDULES``: paper, fast, ci).
        lmbda: λ, the rate-distortion trade-off (larger: higher quality, more bits).
        device: ``auto``, ``cpu`` or ``cuda`` for training (verification decodes on it too).
        resume: continue from the checkpoint in ``work_dir``.
        verify: decode the written bytes, check every parameter is recovered bit-exactly and
            measure PSNR against the input.
        progress: print the schedule table and progress bars.
        work_dir: checkpoints and the training's ``config.yaml`` (default ``OUT.bin.work``).
        settings: other :class:`mvhinerv.config.EncodeConfig` fields (seed, patch, ...).

    Raises:
        InputError / ConfigError: a bad sequence, preset, schedule or λ (one line, CLI exit 2).
        RuntimeError: verification found a parameter that did not survive the round trip (a bug).
    """
    from mvhinerv.train import train_model

    t0 = time.monotonic()
    out_path = Path(out_path)
    work_dir = Path(work_dir) if work_dir is not None else out_path.with_name(out_path.name + ".work")
    config = EncodeConfig.from_dict({"lam": float(lmbda), "schedule": schedule, **(settings or {})}, where="encoder settings")
    mvv = load_sequence(seq_path)
    if not mvv.has_depth:
        raise InputError(seq_path, "MV-HiNeRV codes texture + depth: the sequence has no depth files")
    arch = arch_from_preset(preset, mvv.width, mvv.height, mvv.num_frames, len(mvv.views))
    result = train_model(mvv, arch, config, device=device, work_dir=work_dir, resume=resume, progress=progress)
    t1 = time.monotonic()
    contents = BitstreamContents(sequence_params(mvv), result.arch.to_dict(), tuple(result.tensors))
    data = write_bitstream(contents)
    digest = contents.parameter_digest()
    t2 = time.monotonic()
    decoded_metrics: dict[str, float] = {}
    with atomic_path(out_path) as tmp:
        tmp.write_bytes(data)
        if verify:
            decoded = load_decoder(tmp.read_bytes(), source=str(out_path), device=device)
            if decoded.contents.parameter_digest() != digest or not decoded.contents.same_as(contents):
                raise RuntimeError(f"{out_path}: decoded parameters differ from the encoder's (a bug)")
            decoded_metrics = measure(decoded, mvv, bf16=config.bf16)
    t3 = time.monotonic()
    summary = bitstream_summary(data, source=str(out_path))
    final = result.metrics.get("final", {})
    report = EncodeReport(
        path=out_path,
        config_path=out_path.with_name(out_path.name + ".config.yaml"),
        file_bytes=len(data),
        estimated_bits=float(result.estimated_bits),
        payload_bits=8 * (summary["bytes"]["shared_weights"] + sum(summary["bytes"]["grids"].values())),
        bpp=summary["bpp"],
        mbps=summary["mbps"],
        estimated={k: float(final[k]) for k in ("psnr_rgb", "psnr_depth") if k in final},
        decoded=decoded_metrics,
        seconds={"train": t1 - t0, "write": t2 - t1, "verify": t3 - t2, "total": t3 - t0},
        parameter_digest=digest,
        summary=summary,
        skipped_steps=int(sum(m.get("skipped_steps", 0) for m in result.metrics.values() if isinstance(m, dict))),
    )
    _write_resolved_config(report, seq_path, preset, config, result.arch, device, data)
    return report


def _write_resolved_config(report: EncodeReport, seq_path: str | Path, preset: str, config: EncodeConfig,
                           arch: MVHiNeRVArch, device: str | torch.device, data: bytes) -> None:
    """Everything needed to reproduce the file, next to it (nerfstudio's ``config.yml``)."""
    from importlib.metadata import version

    from mvhinerv import __version__

    resolved = {
        "sequence": str(Path(seq_path).resolve()),
        "bitstream": str(report.path.resolve()),
        "file_sha256": hashlib.sha256(data).hexdigest(),
        "parameter_sha256": report.parameter_digest,
        "preset": preset,
        "device": str(device),
        "encoder": config.to_dict(),
        "arch": arch.to_dict(),
        "versions": {"mvcodec": __version__, "torch": str(torch.__version__), "numpy": str(np.__version__),
                     "constriction": version("constriction")},
    }
    write_bytes_atomic(report.config_path, yaml.safe_dump(resolved, sort_keys=False).encode())
