"""MV-HiNeRV as a codec of the CTC harness (``ctc.harness.Codec``).

``ctc`` never imports ``mvhinerv``; the CLI passes :func:`mvhinerv_codec` to
:func:`ctc.harness.run_ctc` as the factory for codec type ``mvhinerv``. A rate point is a λ; the
preset (model size), training schedule, device and any other encoder settings come from the codec's
options in CTC.yaml.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ctc.harness import CodecRun, CodecSpec, CtcConfig
from mvhinerv.errors import ConfigError



class MVHiNeRVCodec:
    """Encode with :func:`mvhinerv.codec.encode_sequence`, decode with :func:`decode_bitstream`."""

    def __init__(self, name: str, preset: str, schedule: str, device: str,
                 settings: Mapping[str, Any] | None = None) -> None:
        self.name = name
        self.preset = preset
        self.schedule = schedule
        self.device = device
        self.settings = dict(settings or {})

    def describe(self) -> Mapping[str, Any]:
        import constriction  # noqa: F401  (its version is part of the format)
        import torch

        from mvhinerv import __version__

        return {"codec": "MV-HiNeRV (mvcodec)", "version": __version__, "preset": self.preset,
                "schedule": self.schedule, "device": self.device, "settings": self.settings,
                "torch": torch.__version__}

    def run(self, sequence: Path, rate_point: Mapping[str, Any], work_dir: Path, frames: int | None) -> CodecRun:
        from ctc.harness import limit_frames
        from mvhinerv.codec import decode_bitstream, encode_sequence

        sequence = limit_frames(sequence, frames, work_dir)
        out = work_dir / "out.bin"
        t0 = time.perf_counter()
        report = encode_sequence(sequence, out, preset=self.preset, schedule=self.schedule,
                                 lmbda=float(rate_point["lambda"]), device=self.device, resume=True,
                                 verify=False, progress=False, work_dir=work_dir / "train",
                                 settings=self.settings)
        t1 = time.perf_counter()
        decoded = decode_bitstream(out, work_dir / "decoded", device=self.device)
        t2 = time.perf_counter()
        details = {"estimated_bits": report.estimated_bits, "actual_bits": 8 * out.stat().st_size,
                   "preset": self.preset, "schedule": self.schedule, "lambda": float(rate_point["lambda"]),
                   "bits_per_param": report.summary["bits_per_param"], "skipped_steps": report.skipped_steps,
                   "train_seconds": report.seconds["train"]}
        return CodecRun(total_bytes=out.stat().st_size, decoded=decoded, encode_seconds=t1 - t0,
                        decode_seconds=t2 - t1, details=details)


@dataclasses.dataclass(frozen=True)
class CodecOptions:
    """The options of a ``type: mvhinerv`` codec in CTC.yaml (besides its λ rate points)."""

    preset: str = "S"
    """Model size (:data:`mvhinerv.arch.PRESETS`)."""
    schedule: str = "fast"
    """Training schedule (:data:`mvhinerv.train.SCHEDULES`)."""
    device: str | None = None
    """``auto``, ``cpu`` or ``cuda``; None: the sweep's ``device``."""
    settings: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    """Other encoder settings (:class:`mvhinerv.config.EncodeConfig` fields, e.g. ``patch: frame``);
    ``lam`` and ``schedule`` come from the rate point and ``schedule``."""

    @classmethod
    def from_spec(cls, spec: CodecSpec) -> CodecOptions:
        """Validated options of ``spec``.

        ``ctc`` cannot check these (it never imports ``mvhinerv``), and a typo found only by the
        factory mid-sweep would become failed jobs; ``mvcodec ctc run`` calls this before the
        sweep starts.

        Raises:
            ConfigError: an unknown option, preset or schedule, a bad device, or a rate point
                without a positive ``lambda``.
        """
        from mvhinerv.arch import PRESETS
        from mvhinerv.train.schedule import get_schedule

        where = f"codec {spec.name}"
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(spec.options) - set(known))
        if unknown:
            raise ConfigError(where, f"unknown option(s) {', '.join(unknown)} (known: {', '.join(known)})")
        from mvhinerv.config import EncodeConfig

        settings = spec.options.get("settings") or {}
        if not isinstance(settings, Mapping) or {"lam", "schedule"} & set(settings):
            raise ConfigError(where, "settings must be a mapping of encoder settings other than lam and schedule")
        EncodeConfig.from_dict(dict(settings), where=f"{where} settings")
        options = cls(**{k: str(v) for k, v in spec.options.items() if k != "settings"}, settings=dict(settings))
        if options.preset not in PRESETS:
            raise ConfigError(where, f"unknown preset {options.preset!r} (known: {', '.join(PRESETS)})")
        get_schedule(options.schedule)
        if options.device not in (None, "auto", "cpu", "cuda"):
            raise ConfigError(where, f"device must be auto, cpu or cuda, got {options.device!r}")
        for point in spec.rate_points:
            lam = point.get("lambda")
            if not isinstance(lam, (int, float)) or not lam > 0:
                raise ConfigError(where, f"every rate point needs a positive 'lambda', got {dict(point)}")
        return options


def mvhinerv_codec(spec: CodecSpec, config: CtcConfig) -> MVHiNeRVCodec:
    """The harness factory for codec type ``mvhinerv`` (options: :class:`CodecOptions`)."""
    options = CodecOptions.from_spec(spec)
    return MVHiNeRVCodec(spec.name, preset=options.preset, schedule=options.schedule,
                         device=options.device or config.device, settings=options.settings)
