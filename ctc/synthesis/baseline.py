"""The comparison point for the synthesizer: nearest view, forward-warped, no blending.

Every pixel of the single source view nearest to the target (largest camera weight, the VWS
distance rule of :func:`ctc.synthesis.weights.camera_weights`, among the sources that see most of
the target) is reprojected and written into
the target pixel containing it, nearest depth first; nothing is splatted, blended or filtered.
Holes (disocclusions, cracks where the surface is magnified, regions outside the view) are filled
by the same two-way inpainter as the VWS output, so the comparison isolates what multi-view
blending and splatting buy (tools/eval_synthesis.py, docs/results/synthesis.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ctc.camera import Camera
from ctc.synthesis.inpaint import inpaint
from ctc.synthesis.params import SynthParams
from ctc.synthesis.setup import prepare_frame
from ctc.synthesis.views import SourceView, SynthOutput, disparity_samples, make_output, source_tensors
from ctc.synthesis.warp import CameraPose, reproject_group


COVERAGE_SLACK = 0.9
"""A source counts as "useful" when it covers at least this fraction of the best coverage."""


def _forward_warp(src: SourceView, target: Camera, device: torch.device
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Warp every pixel of ``src`` into the target pixel containing it, nearest depth first.

    Returns ``(color [3, H, W], depth [H, W] (0 = none), hit [H, W] bool)``. The z-test packs each
    fragment's float32 depth bits (positive floats order like their bit patterns) above its
    source pixel index into one int64 and keeps the ``amin`` per target pixel: one
    ``scatter_reduce`` yields both the nearest depth and which pixel's colour to copy.
    """
    h, w = target.height, target.width
    color, depth = source_tensors(src, device)
    rep = reproject_group([src.camera], depth[None], color[None], target, CameraPose.of(target, device),
                          kappa=[1.0], weight=[1.0], first_view=0)
    uv, z_t, kept = rep.uv[0], rep.z[0], rep.kept[0]
    x = torch.floor(uv[..., 0]).long()
    y = torch.floor(uv[..., 1]).long()
    keep = kept & (x >= 0) & (x < w) & (y >= 0) & (y < h) & (z_t > 0)
    pix = (y * w + x)[keep]
    z = z_t[keep].to(torch.float32).contiguous()
    src_index = torch.arange(depth.numel(), device=device).view_as(depth)[keep]
    key = (z.view(torch.int32).to(torch.int64) << 32) | src_index
    sentinel = torch.iinfo(torch.int64).max
    zkey = torch.full((h * w,), sentinel, dtype=torch.int64, device=device)
    zkey.scatter_reduce_(0, pix, key, reduce="amin")
    hit = zkey != sentinel
    winner = torch.where(hit, zkey & 0xFFFFFFFF, torch.zeros_like(zkey))
    out_z = torch.where(hit, (zkey >> 32).to(torch.int32).view(torch.float32),
                        torch.zeros(h * w, dtype=torch.float32, device=device))
    out_color = torch.where(hit[None], color.reshape(3, -1)[:, winner],
                            torch.full((3, h * w), 0.5, device=device))
    return out_color.view(3, h, w), out_z.view(h, w), hit.view(h, w)


def nearest_view_baseline(sources: Sequence[SourceView], target: Camera,
                          params: SynthParams = SynthParams(),
                          device: str | torch.device | None = "auto") -> SynthOutput:
    """Forward-warp the nearest useful source into ``target`` and inpaint (output as :func:`synthesize`).

    "Nearest useful": every source that passes the VWS visibility culling is forward-warped; among
    those covering at least 90 % of the best coverage, the one with the largest camera weight
    wins. For perspective rigs that is simply the nearest camera; in an ERP rig whose cameras
    look in all directions, the nearest camera position may look away from the target.
    Only ``params.inpaint``, ``params.inpaint_depth_threshold`` and ``params.culling_far_limit``
    are used.
    """
    setup = prepare_frame(sources, target, params.culling_far_limit, device)
    dev, weights, visible = setup.device, setup.weights, setup.visible
    with torch.no_grad():
        warps = {i: _forward_warp(s, target, dev) for i, s in enumerate(sources) if visible[i]}
        if not warps:
            warps = {0: _forward_warp(sources[0], target, dev)}
        coverage = {i: float(hit.float().mean()) for i, (_, _, hit) in warps.items()}
        best_cov = max(coverage.values())
        best = max((i for i in warps if coverage[i] >= COVERAGE_SLACK * best_cov), key=lambda i: weights[i])
        out_color, out_z, synthesized = warps[best]
        disp = disparity_samples(out_z, target)
        filled = torch.zeros_like(synthesized)
        if params.inpaint:
            out_color, disp, filled = inpaint(out_color, disp, params.inpaint_depth_threshold)
        return make_output(out_color, disp, synthesized, filled, target, [sources[best].camera.name],
                           setup.weights_by_name())
