"""The MV-HiNeRV architecture: one frozen config, named presets, parameter and MAC counts.

:class:`MVHiNeRVArch` holds everything the *decoder* needs to rebuild the network (it is written
into the bitstream through :meth:`MVHiNeRVArch.to_dict`) and nothing about how it was trained (no
λ, no learning rates, no initialisation scales).

The network is HiNeRV (Kwan et al., NeurIPS 2023, ``hmkx/HiNeRV:models/hinerv.py``) with the
multi-view change of MV-HiNeRV (Kwan et al., PCS 2024, arXiv 2402.01596, §II-A): every view owns
its base grid and its hierarchical grids; the stem, the ConvNeXt stages, the hierarchical-encoding
linears and the RGB-D head are shared by all views.

Resolutions that are not a multiple of the total scale (1088, 2048, 270...) use the *ceil rule*:
the map of level ``k`` (level 0 = base map, level ``n`` = output) has
``ceil(H / prod(scales[k:]))`` rows (likewise columns). Each stage upsamples its input by ``s``
(``ceil(a/s)·s >= ceil(a)``, so there is always enough) and keeps the first rows, i.e. the map of
every level is the top-left crop of an infinitely extended frame in global coordinates. Patch mode
uses the same global coordinates, so cropping is exact (see ``docs/model.md``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from mvhinerv.errors import ConfigError

#: Sizes of the grids' uniform initialisation (HiNeRV ``--base-grid-init-scale``); training only.
GRID_INIT_SCALE = 1e-3


def _doc(text: str, **kwargs: Any) -> Any:
    """A dataclass field whose ``metadata["help"]`` is its help text (CLI, docs and errors)."""
    return field(metadata={"help": text}, **kwargs)


@dataclass(frozen=True)
class MVHiNeRVArch:
    """Everything the decoder needs to rebuild an MV-HiNeRV network (and nothing else).

    Derived sizes (per-level map sizes, stage widths, grid shapes) are properties so that the
    stored fields stay minimal and cannot disagree with each other.
    """

    views: int = _doc("number of views; each view owns its base and hierarchical grids")
    frames: int = _doc("number of frames T represented (per view)")
    width: int = _doc("output width W in pixels")
    height: int = _doc("output height H in pixels")
    scales: tuple[int, ...] = _doc(
        "spatial upsampling factor of each stage (HiNeRV scales_hw, e.g. 5,3,2,2 for 1080p)",
        default=(5, 3, 2, 2),
    )
    channels: int = _doc("width C of the first stage (HiNeRV-S: 280)", default=280)
    channel_reduction: float = _doc(
        "each later stage has width int(previous / this) (HiNeRV: 2.0)", default=2.0
    )
    depths: tuple[int, ...] = _doc("ConvNeXt blocks per stage", default=(3, 3, 3, 1))
    expansions: tuple[int, ...] = _doc(
        "ConvNeXt MLP expansion per stage (hidden = expansion × stage width)", default=(4, 4, 4, 1)
    )
    stem_kernel: int = _doc("kernel size of the stem convolution (odd)", default=3)
    base_grid_frames: int = _doc(
        "T_g: time slices of the first base-grid level (HiNeRV: 150 for 600 frames)", default=1
    )
    base_grid_channels: int = _doc("C_g: channels of the first base-grid level", default=2)
    base_grid_levels: int = _doc("levels of the multi-temporal-resolution base grid", default=2)
    base_grid_level_scale: int = _doc(
        "per base-grid level, time slices are divided and channels multiplied by this", default=2
    )
    enc_channels: int = _doc(
        "C_enc: channels of the first hierarchical-grid level of stage 1 (halved per stage, min 1)",
        default=4,
    )
    enc_levels: int = _doc(
        "levels of each hierarchical grid (level j: T/2^j slices, C_enc,i·2^j channels)", default=3
    )
    outputs: int = _doc("output channels of the head (4 = RGB + normalised depth)", default=4)
    depth_lo: int = _doc("depth sample value mapped to output 0 (uint16)", default=0)
    depth_hi: int = _doc("depth sample value mapped to output 1 (uint16)", default=65535)

    def __post_init__(self) -> None:
        # Accept lists (from JSON/YAML) but store tuples, so the config stays hashable and frozen.
        for name in ("scales", "depths", "expansions"):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
        _validate(self)

    # -- serialisation -------------------------------------------------------------------------

    def to_dict(self) -> dict[str, int | float | list[int]]:
        """A flat, JSON-able dict in field order (the bitstream's architecture record)."""
        out: dict[str, int | float | list[int]] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "architecture") -> MVHiNeRVArch:
        """Rebuild from :meth:`to_dict` output; missing, unknown or out-of-range keys raise
        :class:`ConfigError` naming ``where`` (a file name, a bitstream section...)."""
        if not isinstance(data, dict):
            raise ConfigError(where, f"expected a mapping of architecture fields, got {type(data).__name__}")
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ConfigError(where, f"unknown architecture key(s): {', '.join(map(str, unknown))}")
        missing = [name for name in known if name not in data]
        if missing:
            raise ConfigError(where, f"missing architecture key(s): {', '.join(missing)}")
        kwargs = {name: _coerce(where, name, known[name].type, data[name]) for name in known}
        try:
            return cls(**kwargs)
        except ConfigError as err:
            raise ConfigError(where, f"{err.where}: {err.problem}") from None

    # -- derived sizes -------------------------------------------------------------------------

    @property
    def num_stages(self) -> int:
        return len(self.scales)

    @property
    def total_scale(self) -> int:
        """Product of the stage scales: output pixels per base-map pixel along each axis."""
        return math.prod(self.scales)

    def level_size(self, level: int) -> tuple[int, int]:
        """(rows, cols) of the map at ``level`` (0 = base map, ``num_stages`` = output), ceil rule."""
        div = math.prod(self.scales[level:])
        return -(-self.height // div), -(-self.width // div)

    @property
    def stage_widths(self) -> tuple[tuple[int, int], ...]:
        """(C_in, C_out) of every stage: C, C/r, C/r², ... (HiNeRV ``channels_reduce``)."""
        widths, c_in, c_out = [], self.channels, self.channels
        for i in range(self.num_stages):
            if i > 0:
                c_in, c_out = c_out, max(1, int(c_out / self.channel_reduction))
            widths.append((c_in, c_out))
        return tuple(widths)

    @property
    def base_channels(self) -> int:
        """Channels of the base map (all base-grid levels concatenated): C_g·(1 + 2 + ...)."""
        return sum(shape[-1] for shape in self.base_grid_shapes)

    @property
    def base_grid_shapes(self) -> tuple[tuple[int, int, int, int], ...]:
        """Per-view shape (T_l, H_b, W_b, C_l) of every base-grid level."""
        h_b, w_b = self.level_size(0)
        k = self.base_grid_level_scale
        return tuple(
            (max(1, self.base_grid_frames // k**lvl), h_b, w_b, self.base_grid_channels * k**lvl)
            for lvl in range(self.base_grid_levels)
        )

    def enc_grid_shapes(self, stage: int) -> tuple[tuple[int, int, int, int], ...]:
        """Per-view shape (T_j, s, s, C_j) of every hierarchical-grid level of ``stage``.

        HiNeRV ``temp_local_grid``: T_j = T/2^j, C_j = C_enc,i·2^j with C_enc,i = C_enc·0.5^i
        (at least 1); one feature per coarse frame and sub-pixel phase of the ×s upsampling cell.
        """
        s = self.scales[stage]
        c_stage = max(1, int(self.enc_channels * 0.5**stage))
        return tuple(
            (max(1, self.frames // 2**j), s, s, c_stage * 2**j) for j in range(self.enc_levels)
        )

    def enc_channels_total(self, stage: int) -> int:
        """ΣC_j: input width of the shared linear of ``stage``'s hierarchical encoding."""
        return sum(shape[-1] for shape in self.enc_grid_shapes(stage))


def _validate(arch: MVHiNeRVArch) -> None:
    """Raise :class:`ConfigError` (where = the field) for any value the network cannot use."""

    def need(ok: bool, name: str, problem: str) -> None:
        if not ok:
            raise ConfigError(name, f"{problem} (got {getattr(arch, name)!r})")

    for name in ("views", "frames", "width", "height", "channels", "base_grid_frames",
                 "base_grid_channels", "base_grid_levels", "enc_channels", "enc_levels", "outputs"):
        value = getattr(arch, name)
        need(isinstance(value, int) and not isinstance(value, bool) and value >= 1, name,
             "must be an integer >= 1")
    need(arch.width <= 65536 and arch.height <= 65536, "width", "frame sides must be <= 65536")
    for name, low in (("scales", 1), ("depths", 1), ("expansions", 1)):
        value = getattr(arch, name)
        need(isinstance(value, tuple) and len(value) >= 1
             and all(isinstance(v, int) and not isinstance(v, bool) and v >= low for v in value),
             name, f"must be a non-empty list of integers >= {low}")
    need(len(arch.depths) == len(arch.scales), "depths", "needs one entry per stage (len(scales))")
    need(len(arch.expansions) == len(arch.scales), "expansions",
         "needs one entry per stage (len(scales))")
    need(max(arch.scales) <= 16, "scales", "each stage scale must be <= 16")
    need(isinstance(arch.channel_reduction, (int, float)) and not isinstance(arch.channel_reduction, bool)
         and 1.0 <= float(arch.channel_reduction) <= 16.0, "channel_reduction", "must be in [1, 16]")
    need(isinstance(arch.stem_kernel, int) and arch.stem_kernel >= 1 and arch.stem_kernel % 2 == 1,
         "stem_kernel", "must be an odd integer >= 1")
    need(isinstance(arch.base_grid_level_scale, int) and arch.base_grid_level_scale >= 1,
         "base_grid_level_scale", "must be an integer >= 1")
    for name in ("depth_lo", "depth_hi"):
        value = getattr(arch, name)
        need(isinstance(value, int) and 0 <= value <= 65535, name, "must be a uint16 sample value")
    need(arch.depth_lo < arch.depth_hi, "depth_hi", "must be greater than depth_lo")


def _coerce(where: str, name: str, annotation: Any, value: Any) -> Any:
    """Check the JSON type of one field (ints stay ints: a float where an int belongs is an error)."""
    text = str(annotation)
    if "tuple" in text:
        if not isinstance(value, (list, tuple)) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        ):
            raise ConfigError(where, f"{name} must be a list of integers (got {value!r})")
        return tuple(value)
    if text == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(where, f"{name} must be a number (got {value!r})")
        return float(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(where, f"{name} must be an integer (got {value!r})")
    return value


# -- presets ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preset:
    """Size-independent widths of a named model (the HiNeRV UVG configs, ``cfgs/models``)."""

    name: str
    channels: int
    base_grid_channels: int
    enc_channels: int
    depths: tuple[int, ...] = (3, 3, 3, 1)
    expansions: tuple[int, ...] = (4, 4, 4, 1)
    description: str = ""


#: The named presets. S..XXL are HiNeRV's UVG models (C = 280/400/560/688/864, C_g = 2..32,
#: C_enc = 4..64); ``tiny`` is for CI: tens of thousands of parameters, trains on a CPU. Its C = 64
#: halves to a last stage 8 wide; C = 24 ended 3 wide, and a LayerNorm over 3 channels leaves about
#: one degree of freedom per pixel (it stayed near 22 dB on linear13 tiny, docs/model.md).
PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("tiny", 64, 2, 2, (1, 1, 1, 1), (2, 2, 2, 1), "CI: tens of k params, CPU-trainable"),
        Preset("S", 280, 2, 4, description="HiNeRV-S (3.19 M params for 600 frames of 1080p)"),
        Preset("M", 400, 4, 8, description="HiNeRV-M"),
        Preset("L", 560, 8, 16, description="HiNeRV-L"),
        Preset("XL", 688, 16, 32, (4, 4, 4, 1), description="HiNeRV-XL"),
        Preset("XXL", 864, 32, 64, (5, 5, 5, 1), description="HiNeRV-XXL"),
    )
}

#: Candidate stage scales, largest total first. :func:`choose_scales` takes the first one that
#: leaves the base map's longer side at least :data:`MIN_BASE_SIDE` pixels, so the base map is
#: 16-32 px wide for the usual sizes (1920 → 5,3,2,2 → 32; 480 → 5,3,2,1 → 16; 128 → 2,2,2,1 → 16).
SCALE_TABLE: tuple[tuple[int, int, int, int], ...] = (
    (5, 3, 2, 2),  # 60: HiNeRV's 1080p choice
    (5, 2, 2, 2),  # 40
    (4, 2, 2, 2),  # 32
    (5, 3, 2, 1),  # 30
    (3, 2, 2, 2),  # 24
    (2, 2, 2, 2),  # 16
    (3, 2, 2, 1),  # 12
    (2, 2, 2, 1),  # 8
    (2, 2, 1, 1),  # 4
    (2, 1, 1, 1),  # 2
    (1, 1, 1, 1),  # 1
)
MIN_BASE_SIDE = 16


def choose_scales(width: int, height: int) -> tuple[int, int, int, int]:
    """Stage scales for a resolution: the largest total in :data:`SCALE_TABLE` whose base map
    has a longer side of at least :data:`MIN_BASE_SIDE` px (``ConfigError`` if none fits)."""
    side = max(width, height)
    for scales in SCALE_TABLE:
        if side / math.prod(scales) >= MIN_BASE_SIDE:
            return scales
    raise ConfigError(f"{width}x{height}",
                      f"frame too small: the longer side must be at least {MIN_BASE_SIDE} px")


def base_grid_frames_for(frames: int) -> int:
    """T_g = ceil(frames / 4): one base-grid slice per 4 frames, as HiNeRV's 150 for 600."""
    return max(1, -(-frames // 4))


def arch_from_preset(name: str, width: int, height: int, frames: int, views: int,
                     **overrides: Any) -> MVHiNeRVArch:
    """The architecture of preset ``name`` for a ``views`` × ``frames`` × ``height`` × ``width`` video.

    Scales come from :func:`choose_scales`, T_g from :func:`base_grid_frames_for`; any field of
    :class:`MVHiNeRVArch` may be overridden by keyword. Raises :class:`ConfigError` for an
    unknown preset or field, a bad value, or a preset that does not fit the resolution (the base
    map's shorter side must be at least 2 px).
    """
    preset = PRESETS.get(name)
    if preset is None:
        raise ConfigError(f"preset {name!r}", f"unknown preset; choose one of {', '.join(PRESETS)}")
    fields = {f.name for f in dataclasses.fields(MVHiNeRVArch)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ConfigError(f"preset {name!r}", f"unknown architecture field(s): {', '.join(unknown)}")
    for dim_name, dim in (("width", width), ("height", height), ("frames", frames), ("views", views)):
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise ConfigError(dim_name, f"must be an integer >= 1 (got {dim!r})")
    kwargs: dict[str, Any] = dict(
        views=views, frames=frames, width=width, height=height,
        scales=overrides.get("scales") or choose_scales(width, height),
        channels=preset.channels, depths=preset.depths, expansions=preset.expansions,
        base_grid_frames=base_grid_frames_for(frames),
        base_grid_channels=preset.base_grid_channels, enc_channels=preset.enc_channels,
    )
    kwargs.update(overrides)
    arch = MVHiNeRVArch(**kwargs)
    rows, cols = arch.level_size(0)
    if min(rows, cols) < 2:
        raise ConfigError(f"preset {name!r}",
                          f"does not fit {width}x{height}: base map {cols}x{rows} is under 2 px "
                          f"with scales {','.join(map(str, arch.scales))}")
    return arch


# -- counts -------------------------------------------------------------------------------------


def count_parameters(arch: MVHiNeRVArch) -> dict[str, int]:
    """Parameter counts by component, equal to ``numel`` of the built model.

    Keys: ``base_grid`` and ``enc_grids`` (per view), ``grids_per_view``, ``grids`` (all views),
    ``stem``, ``stage{i}`` (shared: encoding linear + ConvNeXt blocks), ``head``, ``shared``
    and ``total``.
    """
    counts: dict[str, int] = {}
    counts["base_grid"] = sum(math.prod(s) for s in arch.base_grid_shapes)
    counts["enc_grids"] = sum(
        math.prod(s) for i in range(arch.num_stages) for s in arch.enc_grid_shapes(i)
    )
    counts["grids_per_view"] = counts["base_grid"] + counts["enc_grids"]
    counts["grids"] = counts["grids_per_view"] * arch.views
    k = arch.stem_kernel
    counts["stem"] = arch.base_channels * arch.channels * k * k + arch.channels
    for i, (c_in, c_out) in enumerate(arch.stage_widths):
        linear = arch.enc_channels_total(i) * c_in + c_in
        counts[f"stage{i}"] = linear + sum(
            _block_params(c_in if b == 0 else c_out, c_out, arch.expansions[i])
            for b in range(arch.depths[i])
        )
    c_last = arch.stage_widths[-1][1]
    counts["head"] = c_last * arch.outputs + arch.outputs
    counts["shared"] = counts["stem"] + counts["head"] + sum(
        counts[f"stage{i}"] for i in range(arch.num_stages)
    )
    counts["total"] = counts["shared"] + counts["grids"]
    return counts


def _block_params(c1: int, c2: int, expansion: int) -> int:
    """ConvNeXt block: depthwise 3×3 (c1·9) + Linear c1→e·c2 + Linear e·c2→c2, no biases."""
    hidden = expansion * c2
    return 9 * c1 + c1 * hidden + hidden * c2


def _block_macs(c1: int, c2: int, expansion: int) -> int:
    """Multiply-accumulates per pixel of one ConvNeXt block (same as its weight count)."""
    return _block_params(c1, c2, expansion)


def macs_per_pixel(arch: MVHiNeRVArch) -> dict[str, float]:
    """Multiply-accumulates per output pixel in frame mode, by component and ``total``.

    Counted: stem, ConvNeXt depthwise convs and linears, the head, and the hierarchical-encoding
    linears (evaluated once per frame on the s×s phase tile, as the encoding depends only on the
    frame and the phase). Not counted: grid interpolation, LayerNorm, GELU, bilinear upsampling
    (elementwise work, as in the published HiNeRV counts). Map sizes follow the ceil rule.
    """
    pixels = arch.height * arch.width
    macs: dict[str, float] = {}
    rows, cols = arch.level_size(0)
    k = arch.stem_kernel
    macs["stem"] = rows * cols * arch.base_channels * arch.channels * k * k / pixels
    for i, (c_in, c_out) in enumerate(arch.stage_widths):
        rows, cols = arch.level_size(i + 1)
        s = arch.scales[i]
        per_px = sum(
            _block_macs(c_in if b == 0 else c_out, c_out, arch.expansions[i])
            for b in range(arch.depths[i])
        )
        enc = s * s * arch.enc_channels_total(i) * c_in
        macs[f"stage{i}"] = (rows * cols * per_px + enc) / pixels
    macs["head"] = float(arch.stage_widths[-1][1] * arch.outputs)
    macs["total"] = sum(macs.values())
    return macs
