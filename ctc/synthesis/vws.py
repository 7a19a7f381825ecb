"""The TMIV-style view-weighting synthesizer (VWS): :func:`synthesize`.

Follows TMIV's ``ViewWeightingSynthesizer`` + ``Inpainter`` step by step (miv_ctc.md §3.3, the
renderer of the CTC "best reference" and of the MIV anchors; MV-HiNeRV evaluates its synthesised
views with it, arXiv 2402.01596 §III)::

    0  camera weights w_v, visibility culling, kernel widths κ_v         weights.py
    2  reproject every source pixel into the target                       warp.py
    3  splat (angular-distortion kernel, min weight) into per-view z-buffers
    3.5 opening (erode 5 / dilate 5) of the warped depth maps
    5  depth clustering (3 % rule), front-most / overload selection       clusters.py
    6  3×3 median of the target depth                                     shade.py
    7  shading: back-project, bilinear gather, depth-consistency weights, anti-ghosting
    8  output: disparity, holes, luma edge blurring                       edges.py
    9  two-way inpainting                                                 inpaint.py

Step 4 (weight recovery through a pruning graph) is not implemented: our codec decodes complete
views, exactly like the best reference; pruned sources can still be given as per-pixel validity
masks (:class:`SourceView.valid`), which every step honours.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby

import torch
from torch.profiler import record_function as stage

from ctc.camera import Camera
from ctc.synthesis.clusters import cluster_depths, select_depth
from ctc.synthesis.edges import blur_depth_edges
from ctc.synthesis.inpaint import inpaint
from ctc.synthesis.params import SynthParams
from ctc.synthesis.shade import median_filter_depth, shade
from ctc.synthesis.setup import prepare_frame
from ctc.synthesis.views import SourceView, SynthOutput, disparity_samples, make_output, source_tensors
from ctc.synthesis.warp import (CameraPose, SourceGroup, Splats, open_depth_maps, rasterize_splats,
                                reproject_group, splat_parameters)
from ctc.synthesis.weights import angular_widths

SHADING_EPSILON = 1e-3
"""TMIV: a pixel whose total shading weight is not above this gets no colour (a hole)."""


def synthesize(sources: Sequence[SourceView], target: Camera, params: SynthParams = SynthParams(),
               device: str | torch.device | None = "auto") -> SynthOutput:
    """Render ``target`` from decoded source views.

    Args:
        sources: the source views of one frame (any mix of perspective and ERP, any sizes).
        target: the camera to render (a held-out camera, a source camera, a pose-trace pose).
        params: synthesizer parameters (CTC defaults).
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or a ``torch.device``.

    Returns:
        :class:`SynthOutput`: 4:2:0 texture at the target's colour bit depth, 16-bit disparity,
        and the masks of synthesised and inpainted pixels.

    Raises:
        InputError: no sources, planes whose sizes do not match their cameras, an unusable device.
    """
    setup = prepare_frame(sources, target, params.culling_far_limit, device)
    dev, cams, visible = setup.device, setup.cameras, setup.visible
    kappas = angular_widths(cams, params.angular_scaling)
    h, w = target.height, target.width

    with torch.no_grad():
        target_pose = CameraPose.of(target, dev)
        with stage("vws.reproject"):
            groups = _reproject_visible(sources, visible, kappas, setup.weights.tolist(), target,
                                        target_pose, dev)
        num_views = sum(g.size for g in groups)
        if num_views:
            with stage("vws.splat_parameters"):
                splats = Splats.cat([splat_parameters(g, params.minimal_weight, params.stretch_factor)
                                     for g in groups])
            with stage("vws.rasterize"):
                zbuf = rasterize_splats(splats, num_views, h, w, params.max_splat_radius,
                                        params.scatter_chunk)
        else:
            zbuf = torch.full((0, h, w), float("inf"), device=dev)
        with stage("vws.select"):
            zbuf = open_depth_maps(zbuf, params.prune_filter_erode, params.prune_filter_dilate,
                                   skip_last=visible[-1])
            view_w = torch.cat([g.weight for g in groups]) if groups else torch.zeros(0, device=dev)
            clusters = cluster_depths(zbuf.reshape(num_views, h * w), view_w[:, None],
                                      params.blending_factor)
            depth = select_depth(clusters, params.overload_factor, params.trust_depth).view(h, w)
            depth = median_filter_depth(depth, params.filtering_pass)
        with stage("vws.shade"):
            color, total_w = shade(depth, target, target_pose, groups, params.blending_factor)
        with stage("vws.output"):
            synthesized = (depth > 0) & (total_w > SHADING_EPSILON)
            color = torch.where(synthesized[None], color / total_w.clamp_min(SHADING_EPSILON)[None],
                                torch.full_like(color, 0.5))
            depth = torch.where(synthesized, depth, torch.zeros_like(depth))
            disp = disparity_samples(depth, target)
            low, high = target.disparity_range
            norm_disp = torch.where(synthesized, (1.0 / depth.clamp_min(1e-30)).clamp(low, high),
                                    torch.zeros_like(depth))
            color[0] = blur_depth_edges(color[0], norm_disp, synthesized, params.edge_blur_block,
                                        params.edge_blur_threshold)
        filled = torch.zeros_like(synthesized)
        if params.inpaint:
            with stage("vws.inpaint"):
                color, disp, filled = inpaint(color, disp, params.inpaint_depth_threshold)
        with stage("vws.to_host"):
            return make_output(color, disp, synthesized, filled, target,
                               [c.name for c, v in zip(cams, visible) if v], setup.weights_by_name())


def _reproject_visible(sources: Sequence[SourceView], visible: list[bool], kappas: list[float],
                       weights: list[float], target: Camera, target_pose: CameraPose,
                       device: torch.device) -> list[SourceGroup]:
    """Load the visible sources onto ``device`` and reproject them, consecutive views of one
    resolution stacked into one :class:`SourceGroup` (the visible views keep their order)."""
    chosen = [(s, k, w) for s, v, k, w in zip(sources, visible, kappas, weights) if v]
    groups: list[SourceGroup] = []
    first = 0
    for _, run in groupby(chosen, key=lambda item: item[0].camera.resolution):
        members = list(run)
        tensors = [source_tensors(s, device) for s, _, _ in members]
        groups.append(reproject_group([s.camera for s, _, _ in members],
                                      torch.stack([d for _, d in tensors]),
                                      torch.stack([c for c, _ in tensors]), target, target_pose,
                                      [k for _, k, _ in members], [w for _, _, w in members], first))
        first += len(members)
    return groups
