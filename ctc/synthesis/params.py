"""Parameters of the view-weighting synthesizer and its inpainter.

The defaults are the MIV CTC values of the TMIV renderer (``R_1_TMIV_render.json`` and the decoder
configs; miv_ctc.md §1.7 and §3.3). The few fields that have no TMIV counterpart are marked
"(ours)": they bound work that TMIV does with unbounded per-pixel loops, or switch off steps for
experiments.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ctc.errors import InputError


@dataclasses.dataclass(frozen=True)
class SynthParams:
    """Configuration of :func:`ctc.synthesis.synthesize` (TMIV ``ViewWeightingSynthesizer``)."""

    angular_scaling: float = 1.5
    """``angularScaling``: the splat kernel width κ_v is this times two pixel pitches of source v
    (in radians). It sets how quickly a neighbour's weight falls with the angle between the rays
    from the target to the two points (step 0c/3)."""
    minimal_weight: float = 2.5
    """``minimalWeight``: a source pixel whose 8 neighbours' kernel weights sum to less than this
    is not splatted (it sits on a depth edge or is isolated; step 3)."""
    stretch_factor: float = 100.0
    """``stretchFactor``: splats whose major half-axis reaches this many target pixels fall back to
    a single pixel (step 3)."""
    blending_factor: float = 0.03
    """``blendingFactor``: depths within this relative distance belong to one surface (the 3 %
    rule of the depth clustering, step 5, and of the shading's depth-consistency weight, step 7)."""
    overload_factor: float = 2.0
    """``overloadFactor``: a farther depth cluster replaces the nearer one only if its weight is
    this many times larger (only used when ``trust_depth`` is false; step 5)."""
    filtering_pass: int = 1
    """``filteringPass``: passes of the 3×3 median on the target depth map (step 6)."""
    edge_blur_block: int = 5
    """``edgeBlurringBlockSize``: side of the window of the luma edge blurring (step 8); 0 disables it."""
    edge_blur_threshold: float = 0.04
    """``edgeBlurringDepthThreshold``: normalised-disparity range (1/m) inside the window from which
    a pixel counts as on a depth edge and its luma is blurred (step 8)."""
    prune_filter_erode: int = 5
    """``filterReprojectedPrunedDepthMaps.erode``: 3×3 erosions of every warped depth map (step 3.5)."""
    prune_filter_dilate: int = 5
    """``filterReprojectedPrunedDepthMaps.dilate``: 3×3 dilations after the erosions, restoring only
    the warped values that were there (an opening; step 3.5)."""
    trust_depth: bool = True
    """False for content whose depth TMIV flags as low quality: then the depth selection scans all
    clusters with the overload rule instead of taking the front-most (step 5)."""
    inpaint: bool = True
    """Run the two-way inpainter on the holes that synthesis leaves (step 9)."""
    inpaint_depth_threshold: float = 655.36
    """Inpainter: a neighbour is blended only if its 16-bit disparity is within this of the farther
    neighbour's (1 % of 2^16; step 9)."""
    max_splat_radius: int = 8
    """(ours) Splats are rasterised over at most ±this many pixels around their centre. TMIV loops
    over the full bounding box (up to ``stretch_factor``); the cap bounds the vectorised work and
    only affects target regions magnified more than 8× over their source."""
    culling_far_limit: float = 1000.0
    """(ours) The visibility culling (step 0b) unprojects target pixels at the farthest source
    depth; an infinite far plane is replaced by this many metres."""
    scatter_chunk: int = 1 << 24
    """(ours) Splat fragments scattered per batch (memory bound of the z-buffer step)."""

    def __post_init__(self) -> None:
        positive = ("angular_scaling", "stretch_factor", "blending_factor", "overload_factor",
                    "culling_far_limit")
        for name in positive:
            if not getattr(self, name) > 0:
                raise InputError(f"synthesis parameter {name}", f"must be > 0, got {getattr(self, name)}")
        counts = ("filtering_pass", "edge_blur_block", "prune_filter_erode", "prune_filter_dilate",
                  "max_splat_radius")
        for name in counts:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise InputError(f"synthesis parameter {name}", f"must be an integer >= 0, got {value!r}")
        if self.minimal_weight < 0 or self.edge_blur_threshold < 0 or self.inpaint_depth_threshold < 0:
            raise InputError("synthesis parameters", "weights and thresholds must be >= 0")
        if self.scatter_chunk < 1:
            raise InputError("synthesis parameter scatter_chunk", f"must be >= 1, got {self.scatter_chunk}")

    @classmethod
    def from_mapping(cls, values: dict[str, Any], where: str = "synthesis parameters") -> SynthParams:
        """Build from a config mapping (YAML ``renderer.vws``); unknown keys are an :class:`InputError`."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise InputError(where, f"unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(names))})")
        return cls(**values)
