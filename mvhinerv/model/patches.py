"""Patch geometry: which window of every level a forward pass computes, in global coordinates.

HiNeRV trains on overlapped patches (``hmkx/HiNeRV:models/patch_utils.py``, inr_codecs.md §1.3):
walking from the output back to the input, each 3×3 layer adds 1 px of margin and each ×s
upsampler divides by s and adds 1. Positions outside the frame are zeroed after every layer, so
a patch sees exactly the zero padding that the whole frame sees and the patch output *equals*
the frame-mode output.

Coordinates. A patch's top-left output pixel (y0, x0) must be a multiple of the total scale
``P = prod(scales)``. Then the patch's anchor at level ``k`` (level 0 = base map, level ``n`` =
output), ``A_k = y0 / P · prod(scales[:k])``, is a multiple of every later scale, so all
windows below are *static* offsets from the anchor (one compiled graph per patch size) and the
sub-pixel phase of every row is known in advance. Only the masks depend on (y0, x0).

Per axis and level the plan keeps two windows, relative to the anchor:

* ``exact[k]``: rows whose values are exact (what the next stage reads);
* ``work[k]`` (k >= 1): rows a stage computes after upsampling: ``exact[k]`` widened by one
  row per 3×3 ConvNeXt block of the stage (the blocks' garbage creeps in 1 px per block).

Frame mode uses the same plan with the anchor 0 and ``exact[k] = work[k] = [0, size_k)``: there is
nothing outside the frame to get wrong. In both modes the upsampler zero-pads its input by one row
and produces every phase of every input row; the rows that read the padding lie outside the
window that is kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import math

import torch
from torch import Tensor

from mvhinerv.arch import MVHiNeRVArch
from mvhinerv.errors import ConfigError


@dataclass(frozen=True)
class Window:
    """Rows ``[lo, lo + size)`` relative to the level's anchor."""

    lo: int
    size: int

    @property
    def hi(self) -> int:
        return self.lo + self.size


@dataclass(frozen=True)
class AxisPlan:
    """The static windows along one axis (rows or columns) for one patch length.

    Attributes:
        frame_sizes: in-frame length of every level (ceil rule), level 0 .. n.
        base: base-map window fed to the stem (``exact[0]`` widened by the stem radius).
        exact: exact window of every level 0 .. n (``exact[n]`` is the output).
        work: window each stage computes after its upsampler (index i = stage i; level i+1).
    """

    frame_sizes: tuple[int, ...]
    base: Window
    exact: tuple[Window, ...]
    work: tuple[Window, ...]

    def upsampled(self, stage: int, scale: int) -> Window:
        """Rows produced by the upsampler of ``stage``: all s phases of every row of
        ``exact[stage]`` (the input is zero-padded by one row on each side)."""
        return Window(scale * self.exact[stage].lo, scale * self.exact[stage].size)


def _upsampler_input(out: Window, scale: int) -> Window:
    """Input rows that bilinear ×s (align_corners=False) reads for output rows ``out``.

    Output row r reads rows floor(q) and floor(q) + 1 with q = (r + 0.5)/s − 0.5, i.e.
    floor((2r + 1 − s) / 2s) in integers (the tight bound of HiNeRV's ``compute_paddings``).
    """
    lo = (2 * out.lo + 1 - scale) // (2 * scale)
    hi = (2 * (out.hi - 1) + 1 - scale) // (2 * scale) + 2
    return Window(lo, hi - lo)


def _axis_plan(arch: MVHiNeRVArch, axis: int, length: int | None) -> AxisPlan:
    n = arch.num_stages
    sizes = tuple(arch.level_size(k)[axis] for k in range(n + 1))
    radius = arch.stem_kernel // 2
    if length is None:  # frame mode: every level is exactly the frame
        exact = tuple(Window(0, s) for s in sizes)
        return AxisPlan(sizes, exact[0], exact, exact[1:])
    exact_rev = [Window(0, length)]
    work_rev = []
    for i in reversed(range(n)):
        d = arch.depths[i]  # one 3x3 depthwise conv per block
        out = exact_rev[-1]
        work = Window(out.lo - d, out.size + 2 * d)
        work_rev.append(work)
        exact_rev.append(_upsampler_input(work, arch.scales[i]))
    exact = tuple(reversed(exact_rev))
    base = Window(exact[0].lo - radius, exact[0].size + 2 * radius)
    return AxisPlan(sizes, base, exact, tuple(reversed(work_rev)))


@dataclass(frozen=True)
class PatchPlan:
    """Rows and columns plans of one patch size (``patch=None``: frame mode)."""

    patch: tuple[int, int] | None
    rows: AxisPlan
    cols: AxisPlan

    @property
    def frame_mode(self) -> bool:
        return self.patch is None

    def overhead(self, arch: MVHiNeRVArch) -> float:
        """MACs of the ConvNeXt stages per patch / MACs of the same pixels in frame mode
        (HiNeRV-S, 120×120 patches: 2.07, as inr_codecs.md §1.3; 1.0 in frame mode)."""
        from mvhinerv.arch import _block_macs  # noqa: PLC0415 (one formula for MACs)

        if self.patch is None:
            return 1.0
        done = useful = 0.0
        for i, (c_in, c_out) in enumerate(arch.stage_widths):
            per_px = sum(_block_macs(c_in if b == 0 else c_out, c_out, arch.expansions[i])
                         for b in range(arch.depths[i]))
            share = math.prod(arch.scales[i + 1:]) ** 2  # output pixels per level-(i+1) pixel
            done += self.rows.work[i].size * self.cols.work[i].size * per_px
            useful += self.patch[0] * self.patch[1] / share * per_px
        return done / useful


def patch_plan(arch: MVHiNeRVArch, patch: tuple[int, int] | None) -> PatchPlan:
    """The static geometry for ``patch`` = (rows, cols) output patches, or frame mode.

    Pure integer arithmetic (microseconds), recomputed per call on purpose: ``torch.compile``
    traces it into constants, and no cache can go stale.
    """
    if patch is not None:
        if (len(patch) != 2 or any(not isinstance(p, int) or p < 1 for p in patch)):
            raise ConfigError("patch", f"must be two integers >= 1 (got {patch!r})")
        patch = (int(patch[0]), int(patch[1]))
    return PatchPlan(
        patch,
        _axis_plan(arch, 0, None if patch is None else patch[0]),
        _axis_plan(arch, 1, None if patch is None else patch[1]),
    )


def patch_origins(arch: MVHiNeRVArch, patch: tuple[int, int]) -> list[tuple[int, int]]:
    """Top-left corners (y0, x0) of non-overlapping ``patch``-sized output patches that cover
    the frame (the last row/column of patches may run past the edge; those pixels are masked).

    Needs patch sides that are multiples of ``arch.total_scale``, so every origin is valid.
    """
    p = arch.total_scale
    if patch[0] % p or patch[1] % p:
        raise ConfigError("patch", f"sides {patch[0]}x{patch[1]} must be multiples of the total "
                                   f"scale {p} to tile a frame")
    return [(y, x) for y in range(0, arch.height, patch[0]) for x in range(0, arch.width, patch[1])]


# -- per-call (dynamic) helpers -------------------------------------------------------------


def level_anchor(origin: Tensor, arch: MVHiNeRVArch, level: int) -> Tensor:
    """Anchor of ``level`` for output origins ``origin`` [B] (multiples of the total scale)."""
    ratio = 1
    for s in arch.scales[:level]:
        ratio *= s
    return torch.div(origin, arch.total_scale, rounding_mode="floor") * ratio


def global_index(anchor: Tensor, window: Window) -> Tensor:
    """[B, size] global rows of ``window`` for per-sample anchors ``anchor`` [B]."""
    return anchor[:, None] + torch.arange(window.lo, window.hi, device=anchor.device)


def in_frame(index: Tensor, size: int) -> Tensor:
    """Float mask [B, n]: 1 where ``0 <= index < size``."""
    return ((index >= 0) & (index < size)).float()


def output_mask(arch: MVHiNeRVArch, y0: Tensor, x0: Tensor, patch: tuple[int, int]) -> Tensor:
    """[B, 1, ph, pw] float mask of the patch pixels that lie inside the frame (for the loss)."""
    plan = patch_plan(arch, patch)
    n = arch.num_stages
    rows = in_frame(global_index(y0, plan.rows.exact[n]), arch.height)
    cols = in_frame(global_index(x0, plan.cols.exact[n]), arch.width)
    return (rows[:, :, None] * cols[:, None, :])[:, None]
