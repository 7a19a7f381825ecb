"""Distortion terms: HiNeRV's texture loss plus a depth term, masked to in-frame pixels.

Texture (HiNeRV, ``hmkx/HiNeRV:losses.py``): ``0.7·L1 + 0.3·(1 − MS-SSIM)`` on RGB in [0, 1].
Depth: L1 or MSE on the per-sequence normalised depth level (the paper uses MSE on RGBD; L1 keeps
the depth gradient comparable with the texture L1). D = texture + depth_weight·depth.

Patches that overhang the frame border carry out-of-frame pixels; a boolean ``mask`` (B, 1, h, w)
marks the in-frame ones. L1/MSE average over masked pixels only. MS-SSIM uses only windows that
lie entirely inside the frame (the mask is min-pooled with the window) and halves the mask with
the image at every scale.

MS-SSIM (Wang, Simoncelli, Bovik 2003): Gaussian window ``ssim_window`` (σ = 1.5), constants
K1 = 0.01, K2 = 0.03 for data range 1, the standard 5 scale weights
(0.0448, 0.2856, 0.3001, 0.2363, 0.1333). Small patches cannot be halved 4 times and still hold
one window, so the number of scales is ``1 + floor(log2(min(h, w) / window))`` (at most 5) and the
first weights of the list are renormalised to sum to 1: with HiNeRV's 5×5 window, 120×120 patches
get all 5 scales, 64×36 frames 3. On a GPU each scale's term and its gradient are Triton kernels
(:mod:`mvhinerv.train.ssim_op`; the PyTorch form there is the reference and the CPU path).
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F

from mvhinerv.train.ssim_op import TRITON_AVAILABLE, ssim_term, ssim_term_fused

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
_K1, _K2 = 0.01, 0.03


@dataclasses.dataclass(frozen=True)
class LossWeights:
    """The distortion's knobs (from :class:`mvhinerv.config.EncodeConfig`)."""

    texture_l1: float = 0.7
    ssim_window: int = 5
    depth_loss: str = "l1"
    depth_weight: float = 1.0


def ms_ssim_scales(height: int, width: int, window: int) -> int:
    """Number of MS-SSIM scales for an image of ``height × width`` (1 to 5)."""
    return max(1, min(len(MS_SSIM_WEIGHTS), 1 + int(math.floor(math.log2(max(min(height, width) / window, 1))))))


def _gaussian_kernel(window: int, sigma: float, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    x = torch.arange(window, dtype=dtype, device=device) - (window - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def _halve(v: torch.Tensor) -> torch.Tensor:
    """2×2 means of (B, C, h, w) → (B, C, ⌈h/2⌉, ⌈w/2⌉); the windows of an odd last row or column
    average their real pixels only, as ``F.avg_pool2d(v, 2, ceil_mode=True)`` does.

    Written without ``ceil_mode``: Inductor's backward of it divides those windows by 4 instead
    of by their 2 or 1 pixels (pytorch/pytorch#198119, CPU and CUDA; the forward is right), so
    the compiled training step got a wrong gradient on the last row or column of every odd-sized
    scale (1080p: the 135-row scale; 120×120 patches: the 15-pixel one)."""
    h, w = v.shape[-2:]
    if h % 2 == 0 and w % 2 == 0:
        return F.avg_pool2d(v, 2)
    pad = (0, w % 2, 0, h % 2)
    share = F.avg_pool2d(F.pad(torch.ones((1, 1, h, w), dtype=v.dtype, device=v.device), pad), 2)
    return F.avg_pool2d(F.pad(v, pad), 2) / share


def ms_ssim(x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None = None, window: int = 5,
            fused: bool | None = None) -> torch.Tensor:
    """Per-image MS-SSIM of (B, C, h, w) images in [0, 1] → (B,), float32 (float64 for float64
    input, the tests' reference).

    ``mask`` (B, 1, h, w), bool: in-frame pixels; ``None`` = all. ``fused``: each scale's term by
    the Triton kernels of :mod:`mvhinerv.train.ssim_op` (gradient for x only); default: on a
    CUDA device where Triton is available, else the PyTorch form.
    """
    dtype = torch.promote_types(x.dtype, torch.float32)
    x, y = x.to(dtype), y.to(dtype)
    if fused is None:  # plain constants: torch.compile traces this without a graph break
        fused = x.device.type == "cuda" and TRITON_AVAILABLE
    term = ssim_term_fused if fused else ssim_term
    scales = ms_ssim_scales(x.shape[-2], x.shape[-1], window)
    weights = torch.tensor(MS_SSIM_WEIGHTS[:scales], device=x.device, dtype=dtype)
    weights = weights / weights.sum()
    kernel = _gaussian_kernel(window, 1.5, x.device, dtype)
    valid_px = None if mask is None else mask.to(dtype)
    values = []
    for j in range(scales):
        channels, rows, cols = x.shape[1], x.shape[2] - window + 1, x.shape[3] - window + 1
        if valid_px is None:
            valid, count = None, channels * rows * cols
        else:  # windows entirely inside the frame
            valid = (F.avg_pool2d(valid_px, window, stride=1) > 0.999).to(dtype)
            count = (valid.sum(dim=(1, 2, 3)) * channels).clamp_min(1)
        values.append(term(x, y, valid, kernel, _K1**2, _K2**2, lum=j == scales - 1).to(dtype) / count)
        if j < scales - 1:
            x, y = _halve(x), _halve(y)
            if valid_px is not None:
                valid_px = (_halve(valid_px) > 0.999).to(dtype)
    stacked = torch.stack(values, dim=1).clamp_min(1e-4)  # (B, scales); relu-like, finite gradient
    return torch.exp((stacked.log() * weights).sum(dim=1))


@dataclasses.dataclass(frozen=True)
class Distortion:
    """Loss terms of one batch (0-dim tensors). ``total`` is D; the squared errors give PSNR."""

    total: torch.Tensor
    texture: torch.Tensor
    depth: torch.Tensor
    mse_rgb: torch.Tensor
    mse_depth: torch.Tensor


def _masked_average(err: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    if mask is None:
        return err.mean()
    m = mask.to(err.dtype)
    return (err * m).sum() / (m.sum() * err.shape[1]).clamp_min(1)


def distortion(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None, w: LossWeights,
               fused: bool | None = None) -> Distortion:
    """D of a batch: ``pred``/``target`` (B, 4, h, w) = RGB + depth level in [0, 1]; ``fused``:
    MS-SSIM's Triton kernels (:func:`ms_ssim`; default: on CUDA)."""
    pred = pred.float()
    rgb_p, rgb_t = pred[:, :3], target[:, :3]
    dep_p, dep_t = pred[:, 3:], target[:, 3:]
    l1 = _masked_average((rgb_p - rgb_t).abs(), mask)
    texture = w.texture_l1 * l1
    if w.texture_l1 < 1:
        texture = texture + (1 - w.texture_l1) * (1 - ms_ssim(rgb_p, rgb_t, mask, w.ssim_window, fused).mean())
    d_err = dep_p - dep_t
    depth = _masked_average(d_err.abs() if w.depth_loss == "l1" else d_err.square(), mask)
    with torch.no_grad():
        mse_rgb = _masked_average((rgb_p - rgb_t).square(), mask)
        mse_depth = _masked_average(d_err.square(), mask)
    return Distortion(texture + w.depth_weight * depth, texture, depth, mse_rgb, mse_depth)


def psnr(mse: float, peak: float = 1.0) -> float:
    """PSNR in dB of a mean squared error (``inf`` for 0)."""
    return float("inf") if mse <= 0 else 10.0 * math.log10(peak * peak / mse)
