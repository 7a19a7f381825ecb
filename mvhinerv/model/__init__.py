"""The MV-HiNeRV ``nn.Module`` and its parts (grids, upsampling, blocks, patch geometry).

Only modules live here: no training, no quantisation. See ``docs/model.md``.
"""

from __future__ import annotations

from mvhinerv.model.coded import CodedParam, ParamKind
from mvhinerv.model.network import MVHiNeRV, build_model, default_dwconv, resolve_dwconv
from mvhinerv.model.patches import PatchPlan, output_mask, patch_origins, patch_plan

__all__ = [
    "CodedParam",
    "MVHiNeRV",
    "ParamKind",
    "PatchPlan",
    "build_model",
    "default_dwconv",
    "resolve_dwconv",
    "output_mask",
    "patch_origins",
    "patch_plan",
]
