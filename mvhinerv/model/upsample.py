"""Bilinear ×s upsampling in global coordinates, with the hierarchical encoding added per phase.

HiNeRV's upsampler (``hmkx/HiNeRV:models/upsample.py``) is LayerNorm (no affine) then bilinear
×s with ``align_corners=False`` semantics: output row r reads input position
``(r + 0.5)/s − 0.5``, clamped to the frame. For an integer s that is a fixed 3-tap stencil per
sub-pixel phase p (with f = (p + 0.5)/s − 0.5 ∈ (−0.5, 0.5))::

    out[s·i + p] = max(−f, 0)·in[i − 1] + (1 − |f|)·in[i] + max(f, 0)·in[i + 1]

HiNeRV evaluates patches with interpolation matrices built from global coordinates (two matmuls
of O(n²) per row); the stencil is O(n), elementwise (fusible by ``torch.compile``), identical in
frame and patch mode and exact at any alignment of the phases.

Frame edges. Rows outside the frame are zero (masked) on the input, so at the first and last
in-frame rows the stencil misses the weight of its outside tap. Clamping replicates the edge
row, which equals dividing by the in-frame weight sum: :func:`edge_factor` gives that factor
(1 inside) from global row numbers, so a patch touching the frame edge and the whole frame agree.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

LN_EPS = 1e-6


def _phase_offsets(scale: int, device: torch.device) -> Tensor:
    """f_p = (p + 0.5)/s − 0.5 for p = 0 .. s−1: where phase p samples, relative to its cell."""
    return (torch.arange(scale, device=device, dtype=torch.float64) + 0.5) / scale - 0.5


def _taps(scale: int, device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
    """Stencil weights [s] on rows i−1, i, i+1 for every phase."""
    f = _phase_offsets(scale, device)
    return (-f).clamp(min=0.0), 1.0 - f.abs(), f.clamp(min=0.0)


def edge_factor(rows: Tensor, scale: int, in_size: int) -> Tensor:
    """[B, n] factor that turns the zero-padded stencil into clamped bilinear at frame edges.

    ``rows`` are global output rows [B, n] of the upsampled level; ``in_size`` is the in-frame
    length of the input level. Rows outside the frame get an arbitrary finite factor (masked).
    """
    cell = torch.div(rows, scale, rounding_mode="floor")
    f = (torch.remainder(rows, scale).to(torch.float64) + 0.5) / scale - 0.5
    missing = (-f).clamp(min=0.0) * (cell - 1 < 0) + f.clamp(min=0.0) * (cell + 1 >= in_size)
    return 1.0 / (1.0 - missing)


def layer_norm_dtype(x: Tensor) -> torch.dtype:
    """The dtype ``F.layer_norm`` returns for x: float32 under CUDA autocast (which runs it in
    float32), else x's. The fused path's default output dtype follows it, so that stage 0's
    residual stream stays float32 under autocast, as on the PyTorch path and in HiNeRV."""
    if x.device.type == "cuda" and torch.is_autocast_enabled("cuda"):
        return torch.promote_types(x.dtype, torch.float32)
    return x.dtype


def upsample(x: Tensor, scale: int, tile: Tensor, row_factor: Tensor, col_factor: Tensor,
             fused: bool = False, out_dtype: torch.dtype | None = None, width: int | None = None,
             channels: int | None = None) -> Tensor:
    """LayerNorm + zero border + bilinear ×``scale`` of ``x`` plus the encoding ``tile``, channels last.

    Args:
        x: [B, n, m, C] input window (a stage's input map); the stencil reads a border of one
            zero cell around it (the window's padding, zero before and after the LayerNorm).
        scale: the integer factor s.
        tile: [B, s, s, C] hierarchical encoding, added at phase (row mod s, col mod s); the
            first produced row must have phase 0 (true for the windows of :mod:`.patches`).
        row_factor: [B, n·s] :func:`edge_factor` of the produced rows.
        col_factor: [B, m·s] likewise for columns.
        fused: run the LayerNorm and the stencil as Triton kernels (:mod:`.upsample_op`; needs
            :func:`mvhinerv.model.dwconv_ln.fused_available`), else as PyTorch ops.
        out_dtype: dtype of the result (default the LayerNorm's: fp32 under CUDA autocast). Both
            paths compute in float32 (the LayerNorm's dtype under autocast); the Triton kernels
            round once when they store, so a narrower map costs no extra pass.
        width: with ``fused``, the values per pixel of the map the result is cut from (≥ C,
            default C; zeros past C): the fused depthwise kernels read rows of a multiple of 8
            values as 16-byte vectors (:func:`mvhinerv.model.upsample_op.upsample_ln_fused`).
        channels: the map's C where x has more values per pixel (a block's aligned row on the
            fused path, zeros past C); default all.

    Returns:
        [B, n·s, m·s, C]: produced row ``s·j + p`` belongs to input row ``j``.
    """
    if fused:
        from mvhinerv.model.upsample_op import upsample_ln_fused

        out_dtype = layer_norm_dtype(x) if out_dtype is None else out_dtype
        return upsample_ln_fused(x, tile, row_factor, col_factor, scale, LN_EPS, out_dtype, width, channels)
    if channels is not None:
        x = x[..., :channels]
    x = F.pad(F.layer_norm(x, (x.shape[-1],), eps=LN_EPS), (0, 0, 1, 1, 1, 1))
    u = upsample_stencil(x, scale, tile, row_factor, col_factor)
    return u if out_dtype is None else u.to(out_dtype)


def upsample_stencil(x: Tensor, scale: int, tile: Tensor, row_factor: Tensor, col_factor: Tensor) -> Tensor:
    """The bilinear ×s stencil of :func:`upsample` (without its LayerNorm), in PyTorch ops:
    ``x`` [B, n, m, C] → [B, (n − 2)·s, (m − 2)·s, C], rows first, then columns, then the edge
    factors and the tile."""
    b, n, m, c = x.shape
    w0, w1, w2 = (w.to(x.dtype) for w in _taps(scale, x.device))
    # Rows: [B, n-2, s, m, C].
    y = (x[:, :-2, None] * w0[:, None, None] + x[:, 1:-1, None] * w1[:, None, None]
         + x[:, 2:, None] * w2[:, None, None])
    # Columns: [B, n-2, s, m-2, s, C].
    z = (y[:, :, :, :-2, None] * w0[:, None] + y[:, :, :, 1:-1, None] * w1[:, None]
         + y[:, :, :, 2:, None] * w2[:, None])
    rf = row_factor.to(z.dtype).view(b, n - 2, scale, 1, 1, 1)
    cf = col_factor.to(z.dtype).view(b, 1, 1, m - 2, scale, 1)
    z = z * rf * cf + tile.to(z.dtype)[:, None, :, None, :, :]
    return z.reshape(b, (n - 2) * scale, (m - 2) * scale, c)
