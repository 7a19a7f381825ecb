"""Training data on the device, and random patches over all views and frames.

The whole multi-view video is one float32 tensor ``(V·T, 4, H, W)`` on the training device (RGB
from the YUV 4:2:0 texture, as the paper converts it, plus the depth level), so a training step
never touches the host: batches are index arithmetic and one gather on the device. float32 is
needed for the depth level, whose 16-bit samples do not fit a float16/bf16 mantissa.
(21 views × 65 frames of 1080p is 11.3 GB: fine on an H200's 139 GB.)

Depth is normalised **per sequence** (paper §III): ``level = (sample − lo) / (hi − lo)`` with
``lo``/``hi`` the smallest/largest depth sample over all views and frames. ``lo``/``hi`` go into
the architecture config (``arch.depth_lo/depth_hi``) so the decoder maps a level back with
``sample = lo + level·(hi − lo)``.

Patches (HiNeRV §3.2 / MV-HiNeRV §II-A): the frame is cut into ``ceil(H/ph) × ceil(W/pw)`` tiles at
global positions ``(y0, x0) = (iy·ph, ix·pw)``; border tiles overhang the frame and carry a mask.
An epoch visits every tile of every frame of every view once, in a random order drawn from a
generator seeded by ``(seed, phase, epoch)`` (so a resumed run sees the same order). Every batch
has the same size (the last one of an epoch wraps around to the epoch's first tiles): static
shapes for ``torch.compile``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Protocol

import numpy as np
import torch

from mvhinerv.errors import ConfigError


class MultiViewVideoLike(Protocol):
    """The part of ``ctc.sequence.MultiViewVideo`` that training reads."""

    views: list[str]
    num_frames: int
    width: int
    height: int

    def texture_rgb(self, view: int, start: int, count: int) -> torch.Tensor: ...

    def depth_samples(self, view: int, start: int, count: int) -> np.ndarray: ...


@dataclasses.dataclass(frozen=True, eq=False)
class TrainingData:
    """All views × frames on the device.

    Attributes:
        frames: float32 ``(V·T, 4, H, W)``; index ``v·T + t``; channels RGB + depth level.
        views, num_frames, height, width: V, T, H, W.
        depth_lo, depth_hi: depth samples that map to level 0 and 1 (``hi > lo``).
    """

    frames: torch.Tensor
    views: int
    num_frames: int
    height: int
    width: int
    depth_lo: int
    depth_hi: int

    @property
    def num_pixels(self) -> int:
        """V·T·H·W: the denominator of bits per pixel."""
        return self.views * self.num_frames * self.height * self.width


# Frames read from the host per call: bounds host memory (8 frames of 1080p RGB-D ≈ 0.2 GB).
LOAD_CHUNK = 8


def _chunks(num_frames: int):
    for start in range(0, num_frames, LOAD_CHUNK):
        yield start, min(LOAD_CHUNK, num_frames - start)


def depth_range(mvv: MultiViewVideoLike) -> tuple[int, int]:
    """(lo, hi) of the depth samples of all views and frames; ``hi = lo + 1`` for a constant depth."""
    lo, hi = None, None
    for v in range(len(mvv.views)):
        for start, count in _chunks(int(mvv.num_frames)):
            d = np.asarray(mvv.depth_samples(v, start, count))
            lo = int(d.min()) if lo is None else min(lo, int(d.min()))
            hi = int(d.max()) if hi is None else max(hi, int(d.max()))
    return lo, max(hi, lo + 1)


def load_training_data(mvv: MultiViewVideoLike, device: torch.device | str) -> TrainingData:
    """Read every view and frame of ``mvv`` onto ``device``, ``LOAD_CHUNK`` frames at a time.

    Two passes over the depth (range, then levels), so host memory stays bounded for long
    many-view sequences.

    Raises:
        ConfigError: the video has no views or no frames.
    """
    num_views, num_frames = len(mvv.views), int(mvv.num_frames)
    if num_views == 0:
        raise ConfigError("views", "the sequence has no source views to encode")
    if num_frames < 1:
        raise ConfigError("frames", "the sequence has no frames to encode")
    lo, hi = depth_range(mvv)
    frames = torch.empty((num_views * num_frames, 4, mvv.height, mvv.width), dtype=torch.float32, device=device)
    for v in range(num_views):
        for start, count in _chunks(num_frames):
            block = frames[v * num_frames + start:v * num_frames + start + count]
            block[:, :3].copy_(torch.as_tensor(mvv.texture_rgb(v, start, count), dtype=torch.float32))
            depth = torch.from_numpy(np.asarray(mvv.depth_samples(v, start, count)).astype(np.float32))
            block[:, 3].copy_((depth - lo) / (hi - lo))
    return TrainingData(frames, num_views, num_frames, int(mvv.height), int(mvv.width), lo, hi)


@dataclasses.dataclass(frozen=True)
class Batch:
    """One training batch, all on the device.

    ``views``/``frames``/``y0``/``x0``: LongTensor (B,); ``target`` (B, 4, ph, pw);
    ``mask`` bool (B, 1, ph, pw) or ``None`` when every pixel is in the frame;
    ``patch`` (ph, pw), or ``None`` in frame mode (then ``y0``/``x0`` are ``None``).
    """

    views: torch.Tensor
    frames: torch.Tensor
    y0: torch.Tensor | None
    x0: torch.Tensor | None
    patch: tuple[int, int] | None
    target: torch.Tensor
    mask: torch.Tensor | None

    def model_kwargs(self) -> dict[str, object]:
        return {"y0": self.y0, "x0": self.x0, "patch": self.patch}


class PatchSampler:
    """Random tiles over all views and frames, in epochs (see the module docstring)."""

    def __init__(self, data: TrainingData, patch: tuple[int, int] | None, batch: int | None, seed: int,
                 align: int = 1) -> None:
        """``align``: patch sides must be multiples of it (the model's total scale, so patch
        origins fall on base-grid pixels); ``ConfigError`` otherwise."""
        if patch is not None and (patch[0] % align or patch[1] % align):
            raise ConfigError("patch", f"{patch[0]}x{patch[1]} is not a multiple of the model's total scale {align}")
        self.data = data
        if patch is not None and patch[0] * patch[1] >= data.height * data.width:
            # A patch as large as the frame only adds out-of-frame work (a 120x120 patch grid over a
            # 128x72 frame computes 3.1x the pixels it trains on): train on whole frames instead.
            patch = None
        self.frame_mode = patch is None
        self.patch = (data.height, data.width) if patch is None else (int(patch[0]), int(patch[1]))
        ph, pw = self.patch
        self.tiles_y = math.ceil(data.height / ph)
        self.tiles_x = math.ceil(data.width / pw)
        self.tiles_per_frame = self.tiles_y * self.tiles_x
        self.num_tiles = data.views * data.num_frames * self.tiles_per_frame
        self.batch = min(self.tiles_per_frame if batch is None else int(batch), self.num_tiles)
        self.steps_per_epoch = math.ceil(self.num_tiles / self.batch)
        self.seed = seed
        self.exact = data.height % ph == 0 and data.width % pw == 0
        device = data.frames.device
        self._rows = torch.arange(ph, device=device)
        self._cols = torch.arange(pw, device=device)

    def permutation(self, phase: int, epoch: int) -> torch.Tensor:
        """The epoch's tile order (on the device); deterministic in (seed, phase, epoch)."""
        g = torch.Generator().manual_seed((self.seed * 1_000_003 + phase * 10_007 + epoch) % (2**63))
        return torch.randperm(self.num_tiles, generator=g).to(self.data.frames.device)

    def batch_at(self, order: torch.Tensor, index: int) -> Batch:
        """Batch ``index`` (0 ≤ index < steps_per_epoch) of an epoch's ``order``."""
        start = index * self.batch
        if start + self.batch <= self.num_tiles:
            tiles = order[start:start + self.batch]
        else:  # last batch: wrap around so every batch has the same shape
            tiles = torch.cat([order[start:], order[: start + self.batch - self.num_tiles]])
        return self.tiles(tiles)

    def tiles(self, tiles: torch.Tensor) -> Batch:
        """The batch of tile indices ``tiles`` (LongTensor on the device)."""
        d = self.data
        frame_index = tiles // self.tiles_per_frame
        views, frames = frame_index // d.num_frames, frame_index % d.num_frames
        if self.frame_mode:
            return Batch(views, frames, None, None, None, d.frames[frame_index], None)
        ph, pw = self.patch
        within = tiles % self.tiles_per_frame
        y0, x0 = (within // self.tiles_x) * ph, (within % self.tiles_x) * pw
        rows = y0[:, None] + self._rows  # (B, ph)
        cols = x0[:, None] + self._cols  # (B, pw)
        r = rows.clamp_max(d.height - 1)[:, :, None]
        c = cols.clamp_max(d.width - 1)[:, None, :]
        # Advanced indices go first: (B, ph, pw, 4) → (B, 4, ph, pw).
        target = d.frames[frame_index[:, None, None], :, r, c].permute(0, 3, 1, 2)
        mask = None
        if not self.exact:
            mask = ((rows < d.height)[:, :, None] & (cols < d.width)[:, None, :])[:, None]
        return Batch(views, frames, y0, x0, self.patch, target.contiguous(), mask)

    def frames_batches(self, batch: int):
        """Whole frames in order ``(v, t)``, ``batch`` at a time, for evaluation (frame mode)."""
        d = self.data
        device = d.frames.device
        total = d.views * d.num_frames
        for start in range(0, total, batch):
            index = torch.arange(start, min(start + batch, total), device=device)
            yield Batch(index // d.num_frames, index % d.num_frames, None, None, None, d.frames[index], None)
