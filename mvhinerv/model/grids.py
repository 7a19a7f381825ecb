"""Per-view feature grids: the base grid and the hierarchical (temporal-local) encodings.

MV-HiNeRV (arXiv 2402.01596, §II-A, eq. 1-2) gives every view k its own base grid γ_k,base and
its own hierarchical grids γ_k,n; everything else is shared. Grids of all views are stored as
*one* parameter with the view axis first, so a batch mixing views is a single gather.

Time sampling follows HiNeRV (``hmkx/HiNeRV:models/layers.py:GridTrilinear3D`` and
``models/encoding.py``, both ``align_corners=False``): frame t of T reads slice position
``(t + 0.5)·T_l/T − 0.5`` clamped to ``[0, T_l − 1]``, linearly interpolated.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from mvhinerv.arch import GRID_INIT_SCALE, MVHiNeRVArch
from mvhinerv.model.coded import CodedParam


def time_lerp(frames: Tensor, total: int, slices: int) -> tuple[Tensor, Tensor, Tensor]:
    """Slice indices and weight for frames [B] (long) of a ``total``-frame video on ``slices``.

    Returns (i0, i1, w), each [B]: the sample is ``(1 − w)·grid[i0] + w·grid[i1]``.
    """
    pos = (frames.to(torch.float64) + 0.5) * (slices / total) - 0.5
    pos = pos.clamp(0.0, float(slices - 1))
    i0 = pos.floor()
    w = pos - i0
    i0 = i0.long()
    i1 = (i0 + 1).clamp(max=slices - 1)
    return i0, i1, w


def _init_grid(shape: tuple[int, ...]) -> nn.Parameter:
    grid = torch.empty(shape)
    nn.init.uniform_(grid, -GRID_INIT_SCALE, GRID_INIT_SCALE)
    return nn.Parameter(grid)


class BaseGrid(nn.Module):
    """HiNeRV's multi-temporal-resolution base grid, one per view.

    Level l has per-view shape (T_g/2^l, H_b, W_b, C_g·2^l): dense in space (the base map
    itself), coarse in time; the levels are sampled in time and concatenated on channels.
    Parameters ``levels.{l}``: [V, T_l, H_b, W_b, C_l].
    """

    def __init__(self, arch: MVHiNeRVArch) -> None:
        super().__init__()
        self.frames = arch.frames
        self.levels = nn.ParameterList(
            _init_grid((arch.views, *shape)) for shape in arch.base_grid_shapes
        )

    def forward(self, views: Tensor, frames: Tensor, rows: Tensor, cols: Tensor) -> Tensor:
        """Features [B, n, m, ΣC_l] at base-map rows [B, n] and columns [B, m] (in range)."""
        v = views[:, None, None]
        r = rows[:, :, None]
        c = cols[:, None, :]
        out = []
        for grid in self.levels:
            i0, i1, w = time_lerp(frames, self.frames, grid.shape[1])
            g0 = grid[v, i0[:, None, None], r, c]
            g1 = grid[v, i1[:, None, None], r, c]
            out.append(torch.lerp(g0, g1, w[:, None, None, None].to(g0.dtype)))
        return torch.cat(out, dim=-1)

    def coded(self, prefix: str) -> list[CodedParam]:
        return [CodedParam(f"{prefix}levels.{i}", "grid", 0, 4) for i in range(len(self.levels))]


class HierarchicalEncoding(nn.Module):
    """HiNeRV's temporal-local grid encoding of one stage: per-view grids, one shared linear.

    Level j has per-view shape (T/2^j, s, s, C_j): a feature for every coarse frame and every
    sub-pixel phase (y mod s, x mod s) of the ×s upsampling cell. The levels are sampled in time,
    concatenated and mapped by ``linear`` (ΣC_j → C_in, with bias, shared by all views). The
    result depends only on (view, frame, phase), so it is computed once per sample as an
    [s, s, C_in] tile that the upsampler adds at every cell: s²·ΣC_j·C_in MACs per frame.
    Parameters ``grids.{j}``: [V, T_j, s, s, C_j]; ``linear.weight``: [C_in, ΣC_j].
    """

    def __init__(self, arch: MVHiNeRVArch, stage: int) -> None:
        super().__init__()
        self.frames = arch.frames
        shapes = arch.enc_grid_shapes(stage)
        self.grids = nn.ParameterList(_init_grid((arch.views, *shape)) for shape in shapes)
        c_in = arch.stage_widths[stage][0]
        self.linear = nn.Linear(arch.enc_channels_total(stage), c_in)
        nn.init.zeros_(self.linear.bias)  # HiNeRV zero-initialises every bias

    def forward(self, views: Tensor, frames: Tensor) -> Tensor:
        """The encoding tile [B, s, s, C_in] of every sample."""
        feats = []
        for grid in self.grids:
            i0, i1, w = time_lerp(frames, self.frames, grid.shape[1])
            g0, g1 = grid[views, i0], grid[views, i1]
            feats.append(torch.lerp(g0, g1, w[:, None, None, None].to(g0.dtype)))
        return F.linear(torch.cat(feats, dim=-1), self.linear.weight, self.linear.bias)

    def coded(self, prefix: str) -> list[CodedParam]:
        grids = [CodedParam(f"{prefix}grids.{j}", "grid", 0, 4) for j in range(len(self.grids))]
        return grids + [CodedParam(f"{prefix}linear.weight", "weight", None, 0),
                        CodedParam(f"{prefix}linear.bias", "bias", None, 0)]
