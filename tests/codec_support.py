"""Helpers of the ``tests/test_codec_*.py`` files: a tiny sequence on disk, a training double."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from bitstream_support import make_golden

from ctc.camera import Camera
from ctc.sequence import Sequence, write_sequence
from mvhinerv.quant import estimated_bits
from mvhinerv.train.data import depth_range
from mvhinerv.train.loop import TrainResult

W, H, T = 64, 48, 2


def make_sequence(folder, views=("v0", "v1"), extra=("v2", "viewport")):
    """A tiny MIV sequence on disk: smooth texture + depth, coded views plus uncoded cameras."""
    rng = np.random.default_rng(0)
    cams = []
    for i, name in enumerate((*views, *extra)):
        if name == "viewport":
            cams.append(Camera(name, "Equirectangular", (W, H), depth_range=(0.5, math.inf),
                               hor_range=(-180.0, 180.0), ver_range=(-90.0, 90.0)))
        else:
            cams.append(Camera(name, "Perspective", (W, H), position=(0.0, 0.1 * i, 0.0),
                               depth_range=(0.5, 10.0), focal=(50.0, 50.0), principal_point=(32.0, 24.0)))
    seq = Sequence("4.0", "Tiny", 30.0, T, tuple(cams), tuple(views))
    yy, xx = np.mgrid[0:H, 0:W]
    textures, depths = {}, {}
    for i, name in enumerate(views):
        y = np.stack([(200 + 4 * xx + 3 * yy + 40 * t + 20 * i + rng.integers(0, 8, (H, W))) for t in range(T)])
        u = np.full((T, H // 2, W // 2), 500 + 10 * i)
        v = np.full((T, H // 2, W // 2), 530 - 10 * i)
        textures[name] = [a.clip(64, 940).astype(np.uint16) for a in (y, u, v)]
        depths[name] = np.stack([20000 + 300 * xx + 100 * yy + 500 * t for t in range(T)]).astype(np.uint16)
    return write_sequence(folder, seq, textures, depths)


def fake_train(mvv, arch, config, *, device, work_dir, resume, progress):
    """Training double: the content's depth range, a random model with 7-bit steps."""
    lo, hi = depth_range(mvv)
    arch = dataclasses.replace(arch, depth_lo=lo, depth_hi=hi)
    _, tensors = make_golden().random_quantized_model(arch, seed=config.seed)
    bits = estimated_bits(tensors)
    return TrainResult(arch, tuple(tensors), bits, {"final": {"psnr_rgb": 10.0, "psnr_depth": 10.0}}, {})
