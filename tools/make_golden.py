"""Build the golden bitstreams of ``tests/data/golden/`` (and check that they still reproduce).

    python tools/make_golden.py                      # check: rebuild in memory, compare bytes
    GENERATE_EXPECTED=1 python tools/make_golden.py  # (re)write the files

It also writes ``tests/data/corrupt/``: damaged variants of the entropy golden and the error each
must raise (``expected.json``).

Golden files are never edited by hand (style.md §7 practice 8). A format change bumps the version
(``bitstream.layout.FORMAT_MAJOR/MINOR``) and adds a *new* golden file named after it; the old
ones stay and keep being decoded (same major) or keep failing cleanly (older major).

Two files (each with a ``.json`` of hashes):

``v1_0_entropy.bin`` is the *entropy-layer* golden: fixed pseudo-random tensors (numpy PCG64,
seed 2026) covering every header feature: coded and uncoded cameras of both projections, a far
plane at infinity, every arch value kind, per-tensor/per-row/per-column/per-element side
information, a 0-dim tensor and a constant tensor. Its ``.json`` holds the
SHA-256 of the file and of the recovered parameters (:func:`bitstream.parameter_digest`). Its
bytes depend only on numpy's PCG64, so the check mode rebuilds it and compares bytes.

``v1_0_model_tiny.bin`` is a *model* golden: the ``tiny`` preset for 2 views × 2 frames of
64×48, random-initialised (torch seed 2026; grids drawn from U(−½, ½) so that the output has
structure) and quantised with 7-bit steps. ``v1_0_model_tiny.npz`` holds the reconstruction it
must give (RGB-D of every view and frame, float16, CPU float32 forward): the decoder test compares
within a tolerance, because pixels may differ across devices and torch versions while the
recovered parameters may not. Its bytes depend on torch's initialisers, so the check mode decodes
it rather than rebuilding it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "data" / "golden"
sys.path.insert(0, str(REPO))

from bitstream import (  # noqa: E402
    BitstreamContents,
    CameraParams,
    QuantizedTensor,
    SequenceParams,
    read_bitstream,
    write_bitstream,
)


def sample_sequence() -> SequenceParams:
    """Three source views (two coded, one held out) and an ERP viewport."""

    def persp(name: str, coded: bool, x: float) -> CameraParams:
        return CameraParams(
            name=name, coded=coded, projection="Perspective", resolution=(64, 48),
            position=(x, 0.25 * x, 0.0), rotation=(5.0 * x, -1.5, 0.0), depth_range=(0.5, 25.0),
            has_invalid_depth=False, intrinsics=(58.5, 58.5, 32.0, 24.0),
        )

    cameras = (
        persp("v0", True, 0.0),
        persp("v1", False, 0.1),
        persp("v2", True, -0.1),
        CameraParams(
            name="viewport", coded=False, projection="Equirectangular", resolution=(128, 64),
            position=(0.0, 0.0, 0.0), rotation=(0.0, 0.0, 0.0), depth_range=(0.3, math.inf),
            has_invalid_depth=True, intrinsics=(-180.0, 180.0, -90.0, 90.0),
        ),
    )
    return SequenceParams("GoldenScene", 30.0, 4, 0, 10, 16, cameras)


def _gaussian_tensor(rng, name, view, shape, side_shape, spread) -> QuantizedTensor:
    std = rng.uniform(0.3, spread, side_shape).astype(np.float16)
    mean = rng.uniform(-2.0, 2.0, side_shape).astype(np.float16)
    step = rng.uniform(1e-3, 1e-1, side_shape).astype(np.float16)
    values = rng.normal(mean.astype(np.float64), std.astype(np.float64), shape)
    return QuantizedTensor(name, view, np.round(values).astype(np.int32), step, mean, std)


def sample_contents(seed: int = 2026) -> BitstreamContents:
    """The golden file's contents, rebuilt identically from ``seed`` on any machine."""
    rng = np.random.default_rng(seed)
    tensors = [
        _gaussian_tensor(rng, "stem.weight", None, (16, 8, 3, 3), (16, 1, 1, 1), 6.0),
        _gaussian_tensor(rng, "stem.bias", None, (16,), (1,), 3.0),
        _gaussian_tensor(rng, "head.weight", None, (4, 16), (1, 16), 20.0),
        _gaussian_tensor(rng, "head.scale", None, (), (), 2.0),
        QuantizedTensor(
            "head.zero", None, np.full((3, 5), 7, np.int32),
            np.full((1, 1), 0.5, np.float16), np.zeros((1, 1), np.float16), np.ones((1, 1), np.float16),
        ),
        _gaussian_tensor(rng, "grids.base.0", 0, (4, 6, 8, 5), (1, 1, 1, 5), 9.0),
        _gaussian_tensor(rng, "grids.hier.0", 0, (2, 12, 16), (2, 12, 16), 1.5),
        _gaussian_tensor(rng, "grids.base.1", 1, (4, 6, 8, 5), (1, 1, 1, 5), 9.0),
    ]
    arch = {
        "views": 2,
        "width": 64,
        "height": 48,
        "frames": 4,
        "grid_scale": 0.5,
        "depth_lo": -0.125,
        "depth_hi": 1.0,
        "rgbd": True,
        "channels": [16, 12, 8],
        "strides": [],
        "ratios": [0.25, 0.5],
    }
    return BitstreamContents(sample_sequence(), arch, tuple(tensors))


MODEL_SIZE = (64, 48, 2, 2)  # width, height, frames, views


def random_quantized_model(arch, seed: int, grid_amplitude: float = 0.5):
    """A random-initialised MVHiNeRV quantised with 7-bit steps: (model holding exactly the
    dequantised parameters, its ``QuantizedTensor`` list). Grids are drawn from
    U(−grid_amplitude, grid_amplitude) instead of HiNeRV's ±1e-3 so the frames have structure."""
    import torch

    from mvhinerv.model import MVHiNeRV
    from mvhinerv.quant import QuantSteps, export_quantized, load_quantized

    torch.manual_seed(seed)
    model = MVHiNeRV(arch).eval()
    params = dict(model.named_parameters())
    with torch.no_grad():
        for coded in model.coded_parameters():
            if coded.kind == "grid":
                params[coded.name].uniform_(-grid_amplitude, grid_amplitude)
    steps = QuantSteps(model, model.coded_parameters())
    steps.fit(model, 7)
    tensors = export_quantized(model, steps)
    load_quantized(model, tensors)
    return model, tensors


def model_sequence() -> SequenceParams:
    """Two coded 64×48 views and a viewport (the model golden's sequence)."""
    width, height, frames, _ = MODEL_SIZE
    base = sample_sequence().cameras[0]
    cams = tuple(
        dataclasses.replace(base, name=name, coded=coded, resolution=(width, height), position=(x, 0.0, 0.0))
        for name, coded, x in (("v0", True, 0.0), ("v1", True, 0.1), ("viewport", False, 0.05))
    )
    return SequenceParams("GoldenModel", 25.0, frames, 0, 10, 16, cams)


def render_all(model, arch):
    """RGB-D of every view and frame, float32 ``(views, frames, 4, H, W)`` (CPU, float32)."""
    import torch

    from mvhinerv.codec import render

    return torch.stack([render(model, v, list(range(arch.frames))) for v in range(arch.views)]).numpy()


def model_contents(seed: int = 2026):
    """(contents, reference reconstruction) of the model golden."""
    from mvhinerv.arch import arch_from_preset

    width, height, frames, views = MODEL_SIZE
    arch = arch_from_preset("tiny", width, height, frames, views, depth_lo=1000, depth_hi=60000)
    model, tensors = random_quantized_model(arch, seed)
    contents = BitstreamContents(model_sequence(), arch.to_dict(), tuple(tensors))
    return contents, render_all(model, arch)


def decode_model_golden(data: bytes):
    """(contents, reconstruction) of a model bitstream, decoded on the CPU as the decoder does."""
    from mvhinerv.codec import load_decoder

    decoded = load_decoder(data, source="golden", device="cpu")
    return decoded.contents, render_all(decoded.model, decoded.arch)


CORRUPT = REPO / "tests" / "data" / "corrupt"


def corrupt_files(golden: bytes) -> dict[str, tuple[bytes, str]]:
    """Damaged variants of the entropy golden: name → (bytes, the error class a reader must raise).

    In the spirit of safetensors' ``attacks/`` (style.md §5c): files other implementations of the
    format can test their reader with. ``absurd_count`` and ``huge_tensor`` have *valid* CRCs.
    """
    from bitstream import layout
    from bitstream.container import assemble, header_records

    def crafted(record, select, changes) -> bytes:
        records, payloads = header_records(sample_contents())
        next(v for r, v, _ in records if r is record and select(v)).update(changes)
        return assemble(b"".join(r.pack(v, w, check=False) for r, v, w in records), payloads)

    major = golden[:4] + (2).to_bytes(2, "little") + golden[6:]
    return {
        "bad_magic.bin": (b"MVHX" + golden[4:], "BadMagic"),
        "future_major.bin": (major, "UnsupportedVersion"),
        "truncated_header.bin": (golden[:100], "TruncatedPayload"),
        "truncated_payload.bin": (golden[:-7], "TruncatedPayload"),
        "header_crc.bin": (golden[:40] + bytes([golden[40] ^ 1]) + golden[41:], "HeaderCRCError"),
        "section_crc.bin": (golden[:-2] + bytes([golden[-2] ^ 0x80]) + golden[-1:], "SectionCRCError"),
        "trailing_bytes.bin": (golden + b"\0" * 4, "InconsistentSizes"),
        "absurd_count.bin": (crafted(layout.CONTENTS, lambda v: True, {"num_tensors": 2**24}), "InconsistentSizes"),
        "huge_tensor.bin": (crafted(layout.TENSOR, lambda v: v["ndim"] == 2, {"shape": [2**20, 2**20]}),
                            "FieldOutOfRange"),
    }


def expected_record(data: bytes, contents: BitstreamContents) -> dict:
    return {
        "format": "1.0",
        "file_bytes": len(data),
        "file_sha256": hashlib.sha256(data).hexdigest(),
        "parameter_sha256": contents.parameter_digest(),
    }


def main() -> int:
    generate = os.environ.get("GENERATE_EXPECTED") == "1"
    status = 0
    # 1. entropy-layer golden: rebuilt from numpy's PCG64, compared byte for byte.
    contents = sample_contents()
    data = write_bitstream(contents)
    assert read_bitstream(data).same_as(contents), "round trip failed"
    path = GOLDEN / "v1_0_entropy.bin"
    if generate:
        _write(path, data, expected_record(data, contents))
    elif not path.exists() or path.read_bytes() != data:
        print(f"{path}: does not match a fresh build (set GENERATE_EXPECTED=1 to rewrite)")
        status = 1
    else:
        print(f"{path}: reproduces bit-exactly ({len(data)} bytes)")
    corrupt = corrupt_files(data)
    if generate:
        CORRUPT.mkdir(parents=True, exist_ok=True)
        for name, (content, _) in corrupt.items():
            (CORRUPT / name).write_bytes(content)
        expected = {name: error for name, (_, error) in corrupt.items()}
        (CORRUPT / "expected.json").write_text(json.dumps(expected, indent=2) + "\n")
        print(f"wrote {len(corrupt)} files to {CORRUPT}")
    elif any(not (CORRUPT / n).exists() or (CORRUPT / n).read_bytes() != c for n, (c, _) in corrupt.items()):
        print(f"{CORRUPT}: does not match a fresh build")
        status = 1
    # 2. model golden: built once (torch initialisers), then only decoded and compared.
    path = GOLDEN / "v1_0_model_tiny.bin"
    if generate:
        contents, recon = model_contents()
        data = write_bitstream(contents)
        decoded, decoded_recon = decode_model_golden(data)
        assert decoded.same_as(contents) and np.allclose(decoded_recon, recon, atol=1e-6)
        _write(path, data, expected_record(data, decoded))
        np.savez_compressed(path.with_suffix(".npz"), rgbd=recon.astype(np.float16))
    else:
        data = path.read_bytes()
        decoded, recon = decode_model_golden(data)
        expected = json.loads(path.with_suffix(".json").read_text())
        reference = np.load(path.with_suffix(".npz"))["rgbd"].astype(np.float32)
        err = float(np.abs(recon - reference).max())
        ok = decoded.parameter_digest() == expected["parameter_sha256"] and err <= 2e-3
        print(f"{path}: parameters {'match' if ok else 'DIFFER'}; max reconstruction error {err:.2e}")
        status |= 0 if ok else 1
    return status


def _write(path: Path, data: bytes, record: dict) -> None:
    GOLDEN.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {path} ({len(data)} bytes) and {path.with_suffix('.json').name}")


if __name__ == "__main__":
    raise SystemExit(main())
