"""Helpers of ``tests/test_ctc_*.py`` and ``tests/test_bdrate_cli.py``: tiny sequences, a fake codec,
hand-made job records with known RD numbers."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np

from ctc.camera import Camera
from ctc.harness import CodecRun, CodecSpec, CtcConfig, SequenceSpec
from ctc.sequence import Sequence, load_sequence, write_seq_yaml, write_sequence

W, H, T = 16, 8, 2


def make_tiny_sequence(folder: Path, *, erp: bool = False, views=("v0", "v1"), held_out=()) -> Path:
    """Two views × two frames of 16×8 texture + depth, values far from the clipping limits.

    ``held_out`` cameras get ground-truth files too but are not source views (for synthesis).
    """
    cams = []
    for i, name in enumerate((*views, *held_out)):
        if erp:
            cams.append(Camera(name, "Equirectangular", (W, H), position=(0.0, 0.1 * i, 0.0),
                               depth_range=(0.5, 10.0), hor_range=(-180.0, 180.0), ver_range=(-90.0, 90.0)))
        else:
            cams.append(Camera(name, "Perspective", (W, H), position=(0.0, 0.1 * i, 0.0), depth_range=(0.5, 10.0),
                               focal=(12.0, 12.0), principal_point=(8.0, 4.0)))
    seq = Sequence("4.0", "Tiny", 30.0, T, tuple(cams), tuple(views))
    yy, xx = np.mgrid[0:H, 0:W]
    textures, depths = {}, {}
    for i, name in enumerate((*views, *held_out)):
        y = np.stack([300 + 20 * xx + 10 * yy + 30 * t + 15 * i for t in range(T)])
        u = np.full((T, H // 2, W // 2), 500 + 10 * i)
        v = np.full((T, H // 2, W // 2), 530 - 10 * i)
        textures[name] = [a.astype(np.uint16) for a in (y, u, v)]
        depths[name] = np.stack([20000 + 300 * xx + 100 * yy + 500 * t for t in range(T)]).astype(np.uint16)
    path = write_sequence(folder, seq, textures, depths)
    if held_out:  # the seq.yaml lists every written view; keep the source views only
        write_seq_yaml(dataclasses.replace(load_sequence(path).spec, views=tuple(views)), path)
    return path


Y_OFFSET = {"v0": (1, 2), "v1": (4, 4)}
"""Luma error of the fake decoder per view and frame; U is off by 1, V by 2, depth by 8."""


class OffsetCodec:
    """A fake codec: the 'decoded' views are the originals plus known offsets; bytes = 1000·λ.

    ``fail_on`` labels raise ``RuntimeError``; ``interrupt_on`` labels raise ``KeyboardInterrupt``.
    """

    def __init__(self, name: str, fail_on=(), interrupt_on=()):
        self.name = name
        self.fail_on = set(fail_on)
        self.interrupt_on = set(interrupt_on)
        self.calls: list[str] = []

    def describe(self):
        return {"codec": "offset (test double)"}

    def run(self, sequence, rate_point, work_dir, frames):
        label = f"lambda-{rate_point['lambda']:g}"
        self.calls.append(label)
        if label in self.interrupt_on:
            raise KeyboardInterrupt
        if label in self.fail_on:
            raise RuntimeError(f"boom at {label}")
        mvv = load_sequence(sequence)
        n = min(mvv.num_frames, frames or mvv.num_frames)
        textures, depths = {}, {}
        for view in mvv.views:
            y, u, v = (p.astype(np.int64) for p in mvv.texture_yuv(view, 0, n))
            offset = np.array(Y_OFFSET[view][:n]).reshape(n, 1, 1)
            textures[view] = [(y + offset).astype(np.uint16), (u + 1).astype(np.uint16), (v + 2).astype(np.uint16)]
            depths[view] = (mvv.depth_samples(view, 0, n).astype(np.int64) + 8).astype(np.uint16)
        decoded = write_sequence(Path(work_dir) / "decoded", mvv.sequence, textures, depths)
        return CodecRun(total_bytes=int(1000 * rate_point["lambda"]), decoded=decoded, encode_seconds=0.5,
                        decode_seconds=0.25, details={"lambda": rate_point["lambda"]})


def psnr(d: float, peak: float = 1023.0) -> float:
    """PSNR of a constant error ``d``: MSE = d²."""
    return 20 * math.log10(peak / d)


def fake_config(seq_path: Path, *, lambdas=(1.0, 2.0), frames=None, anchor_type: str | None = None) -> CtcConfig:
    """One sequence, one fake codec (type ``fake``) and optionally one anchor of ``anchor_type``."""
    codecs = [CodecSpec("fake", "fake", tuple({"lambda": lam} for lam in lambdas))]
    if anchor_type is not None:
        codecs.append(CodecSpec(anchor_type, anchor_type, ({"qp_texture": 32, "qp_depth": 27},)))
    return CtcConfig("test", (SequenceSpec("tiny", path=str(seq_path)),), tuple(codecs), frames=frames)


# --------------------------------------------------------------------------------------------
# hand-made records with known RD numbers

ANCHOR_RATES = (1000.0, 2000.0, 4000.0, 8000.0)
QUALITIES = (30.0, 33.0, 36.0, 39.0)
MEASURE_KEYS = ("y_psnr", "yuv_psnr", "ivpsnr", "depth_psnr")


def record(sequence: str, codec: str, codec_type: str, label: str, nbytes: float, means: dict,
           status: str = "ok") -> dict:
    """A job record as ``ctc.harness.run_job`` writes it (only the keys the report reads)."""
    out = {"sequence": sequence, "codec": codec, "codec_type": codec_type, "label": label, "status": status,
           "rate_point": {"label": label}}
    if status != "ok":
        return {**out, "error": "RuntimeError: boom"}
    return {**out, "bytes": nbytes, "mbps": 8 * nbytes / 1e6, "bpp": 0.1, "encode_seconds": 1.0,
            "decode_seconds": 0.5, "metrics": {"mean": means}, "codec_description": {"codec": codec}}


def curve(sequence: str, codec: str, codec_type: str, rates, qualities=QUALITIES, extra=None) -> list[dict]:
    """One record per RD point, every measure of :data:`MEASURE_KEYS` equal to the quality."""
    return [record(sequence, codec, codec_type, f"p{i}", r, {**{k: q for k in MEASURE_KEYS}, **(extra or {})})
            for i, (r, q) in enumerate(zip(rates, qualities))]


def known_records() -> list[dict]:
    """Anchor ``x265`` and test ``mvh`` on two sequences: the test needs 0.9× and 0.8× the rate
    at equal quality, so its BD-rates are −10 % and −20 % (mean −15 %) on every measure."""
    out = []
    for seq, factor in (("s1", 0.9), ("s2", 0.8)):
        out += curve(seq, "x265", "x265", ANCHOR_RATES)
        out += curve(seq, "mvh", "mvhinerv", [factor * r for r in ANCHOR_RATES])
    return out


def write_records(out_dir: Path, records: list[dict]) -> Path:
    """Lay records out as ``mvcodec ctc run`` does: ``DIR/jobs/<seq>/<codec>/<label>.json``."""
    for r in records:
        path = out_dir / "jobs" / r["sequence"] / r["codec"] / f"{r['label']}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(r))
    return out_dir
