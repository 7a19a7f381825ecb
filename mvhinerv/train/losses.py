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
get all 5 scales, 64×36 frames 3.
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F

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


def _gaussian_kernel(window: int, sigma: float, device: torch.device) -> torch.Tensor:
    x = torch.arange(window, dtype=torch.float32, device=device) - (window - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def _blur(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Separable 'valid' Gaussian filter per channel: (B, C, h, w) → (B, C, h−k+1, w−k+1).

    Written as k shifted multiply-adds per axis rather than a depthwise ``conv2d``: under
    ``torch.compile`` the taps fuse with the SSIM arithmetic into a few kernels, where cuDNN's
    float32 depthwise convolution of the channels-last network output was a slow generic path.
    """
    k = kernel.numel()
    h, w = x.shape[-2] - k + 1, x.shape[-1] - k + 1
    rows = sum(kernel[i] * x[..., i:i + h, :] for i in range(k))
    return sum(kernel[i] * rows[..., :, i:i + w] for i in range(k))


def _masked_mean(value: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor:
    """Per-image mean of (B, C, h, w) over channels and valid positions → (B,)."""
    if valid is None:
        return value.mean(dim=(1, 2, 3))
    w = valid.to(value.dtype)
    return (value * w).sum(dim=(1, 2, 3)) / (w.sum(dim=(1, 2, 3)) * value.shape[1]).clamp_min(1)


def ms_ssim(x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None = None, window: int = 5) -> torch.Tensor:
    """Per-image MS-SSIM of (B, C, h, w) images in [0, 1] → (B,), float32.

    ``mask`` (B, 1, h, w), bool: in-frame pixels; ``None`` = all.
    """
    x, y = x.float(), y.float()
    scales = ms_ssim_scales(x.shape[-2], x.shape[-1], window)
    weights = torch.tensor(MS_SSIM_WEIGHTS[:scales], device=x.device)
    weights = weights / weights.sum()
    kernel = _gaussian_kernel(window, 1.5, x.device)
    c1, c2 = _K1**2, _K2**2
    valid_px = None if mask is None else mask.float()
    values = []
    for j in range(scales):
        # One separable blur of the five moment images.
        moments = _blur(torch.cat([x, y, x * x, y * y, x * y], dim=1), kernel).chunk(5, dim=1)
        mu_x, mu_y = moments[0], moments[1]
        sxx = moments[2] - mu_x**2
        syy = moments[3] - mu_y**2
        sxy = moments[4] - mu_x * mu_y
        cs_map = (2 * sxy + c2) / (sxx + syy + c2)
        valid = None if valid_px is None else F.avg_pool2d(valid_px, window, stride=1) > 0.999
        if j == scales - 1:
            lum = (2 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1)
            values.append(_masked_mean(lum * cs_map, valid))
        else:
            values.append(_masked_mean(cs_map, valid))
            x, y = F.avg_pool2d(x, 2, ceil_mode=True), F.avg_pool2d(y, 2, ceil_mode=True)
            if valid_px is not None:
                valid_px = (F.avg_pool2d(valid_px, 2, ceil_mode=True) > 0.999).float()
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


def distortion(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None, w: LossWeights) -> Distortion:
    """D of a batch: ``pred``/``target`` (B, 4, h, w) = RGB + depth level in [0, 1]."""
    pred = pred.float()
    rgb_p, rgb_t = pred[:, :3], target[:, :3]
    dep_p, dep_t = pred[:, 3:], target[:, 3:]
    l1 = _masked_average((rgb_p - rgb_t).abs(), mask)
    texture = w.texture_l1 * l1
    if w.texture_l1 < 1:
        texture = texture + (1 - w.texture_l1) * (1 - ms_ssim(rgb_p, rgb_t, mask, w.ssim_window).mean())
    d_err = dep_p - dep_t
    depth = _masked_average(d_err.abs() if w.depth_loss == "l1" else d_err.square(), mask)
    with torch.no_grad():
        mse_rgb = _masked_average((rgb_p - rgb_t).square(), mask)
        mse_depth = _masked_average(d_err.square(), mask)
    return Distortion(texture + w.depth_weight * depth, texture, depth, mse_rgb, mse_depth)


def psnr(mse: float, peak: float = 1.0) -> float:
    """PSNR in dB of a mean squared error (``inf`` for 0)."""
    return float("inf") if mse <= 0 else 10.0 * math.log10(peak * peak / mse)
