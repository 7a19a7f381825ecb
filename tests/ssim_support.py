"""Run by tests/test_train_ssim.py in a subprocess with ``TRITON_INTERPRET=1`` (or imported on a
GPU): MS-SSIM with each scale's term by the Triton kernels (:mod:`mvhinerv.train.ssim_op`)
against the float64 PyTorch form, value and ∂x, with and without a mask, for a channel slice of
a channels-last map (the network's prediction) and odd sizes (partial pooling windows). Prints
one JSON line of errors (relative to the reference's largest magnitude) per case."""

from __future__ import annotations

import json
import sys

import torch

from mvhinerv.train.losses import ms_ssim

#: (B, H, W, window, masked): 5 scales need min(H, W) ≥ 80 with a 5×5 window.
CASES = [(1, 83, 97, 5, False), (1, 41, 37, 5, True), (1, 24, 30, 11, False), (2, 21, 26, 3, True)]


def case_errors(b: int, h: int, w: int, window: int, masked: bool, device: str) -> dict[str, float]:
    g = torch.Generator().manual_seed(h * 1000 + w)
    target = torch.rand(b, 4, h, w, generator=g, dtype=torch.float64)
    # A prediction near the target, as channels last (B, h, w, 4) viewed as (B, 4, h, w).
    pred = (target + 0.1 * torch.randn(b, 4, h, w, generator=g, dtype=torch.float64)).clamp(0, 1)
    pred = pred.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)
    mask = None
    if masked:
        mask = torch.ones(b, 1, h, w, dtype=torch.bool)
        mask[:, :, h * 3 // 4:] = False
        mask[:, :, :, w * 2 // 3:] = False
    weights = torch.randn(b, generator=g, dtype=torch.float64)
    results = []
    for dtype, fused in ((torch.float64, False), (torch.float32, True)):
        x = pred.to(device, dtype).detach().requires_grad_()
        m = None if mask is None else mask.to(device)
        value = ms_ssim(x[:, :3], target[:, :3].to(device, dtype), m, window, fused=fused)
        (value * weights.to(device, dtype)).sum().backward()
        results.append((value.detach().double().cpu(), x.grad.double().cpu()))
    return {name: float((a - ref).abs().max() / ref.abs().max().clamp_min(1e-12))
            for name, a, ref in zip(("value", "dx"), results[1], results[0], strict=True)}


def main() -> int:
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(json.dumps({str(case): case_errors(*case, device) for case in CASES}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
