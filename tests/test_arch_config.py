"""MVHiNeRVArch: serialisation, validation, presets, scale rule, ceil rule, counts vs HiNeRV."""

from __future__ import annotations

import dataclasses
import json

import pytest

from mvhinerv.arch import (
    PRESETS,
    MVHiNeRVArch,
    arch_from_preset,
    base_grid_frames_for,
    choose_scales,
    count_parameters,
    macs_per_pixel,
)
from mvhinerv.errors import ConfigError
from ctc.errors import InputError


def test_hinerv_s_uvg_regression():
    """HiNeRV-S on UVG (600 frames of 1080p, scales 5,3,2,2, T_g 150): 3.19 M params, 87 k
    MACs/px (inr_codecs.md §1.2; C3's baseline table: 87 287) - each within 2 %."""
    arch = arch_from_preset("S", 1920, 1080, frames=600, views=1)
    assert arch.scales == (5, 3, 2, 2) and arch.base_grid_frames == 150
    params = count_parameters(arch)
    assert abs(params["total"] / 3.19e6 - 1) < 0.02
    assert abs(params["base_grid"] / 0.35e6 - 1) < 0.02
    assert abs(params["enc_grids"] / 0.23e6 - 1) < 0.02
    assert abs(macs_per_pixel(arch)["total"] / 87e3 - 1) < 0.02


@pytest.mark.parametrize("name,params_m,kmacs", [
    ("M", 6.49, 177), ("L", 12.8, 346), ("XL", 25.7, 668), ("XXL", 50.7, 1283),
])
def test_hinerv_larger_models_regression(name, params_m, kmacs):
    arch = arch_from_preset(name, 1920, 1080, frames=600, views=1)
    assert abs(count_parameters(arch)["total"] / (params_m * 1e6) - 1) < 0.02
    assert abs(macs_per_pixel(arch)["total"] / (kmacs * 1e3) - 1) < 0.02


def test_grids_scale_with_views_shared_does_not():
    one = count_parameters(arch_from_preset("S", 1920, 1080, frames=65, views=1))
    many = count_parameters(arch_from_preset("S", 1920, 1080, frames=65, views=13))
    assert many["shared"] == one["shared"]
    assert many["grids"] == 13 * one["grids_per_view"] == 13 * many["grids_per_view"]
    assert many["total"] == many["shared"] + many["grids"]


def test_to_dict_from_dict_round_trip_through_json():
    arch = arch_from_preset("tiny", 480, 270, frames=17, views=5, depth_lo=100, depth_hi=4000)
    data = arch.to_dict()
    assert list(data) == [f.name for f in dataclasses.fields(MVHiNeRVArch)]
    assert all(isinstance(v, (int, float, list)) for v in data.values())
    again = MVHiNeRVArch.from_dict(json.loads(json.dumps(data)))
    assert again == arch and hash(again) == hash(arch)


@pytest.mark.parametrize("change,message", [
    ({"frames": 0}, "frames"),
    ({"scales": [5, 3]}, "depths"),
    ({"scales": [5, 0, 2, 2]}, "scales"),
    ({"stem_kernel": 2}, "stem_kernel"),
    ({"depth_lo": 70000}, "depth_lo"),
    ({"depth_lo": 500, "depth_hi": 400}, "depth_hi"),
    ({"channels": 2.5}, "channels"),
    ({"channel_reduction": "2"}, "channel_reduction"),
    ({"expansions": [4, 4, 4.5, 1]}, "expansions"),
])
def test_from_dict_rejects_bad_values_in_one_line(change, message):
    data = arch_from_preset("tiny", 128, 72, frames=5, views=3).to_dict() | change
    with pytest.raises(ConfigError) as info:
        MVHiNeRVArch.from_dict(data, where="x.bin")
    text = str(info.value)
    assert "\n" not in text and text.startswith("x.bin: ") and message in text
    assert isinstance(info.value, InputError)


def test_from_dict_missing_and_unknown_keys():
    data = arch_from_preset("tiny", 128, 72, frames=5, views=3).to_dict()
    with pytest.raises(ConfigError, match="unknown architecture key.*lambda"):
        MVHiNeRVArch.from_dict(data | {"lambda": 1.0})
    del data["views"]
    with pytest.raises(ConfigError, match="missing architecture key.*views"):
        MVHiNeRVArch.from_dict(data)
    with pytest.raises(ConfigError, match="mapping"):
        MVHiNeRVArch.from_dict([1, 2])  # type: ignore[arg-type]


@pytest.mark.parametrize("width,height,scales,base", [
    (1920, 1080, (5, 3, 2, 2), (18, 32)),
    (2048, 1088, (5, 3, 2, 2), (19, 35)),   # neither side a multiple of 60: ceil rule
    (4096, 2048, (5, 3, 2, 2), (35, 69)),
    (480, 270, (5, 3, 2, 1), (9, 16)),
    (128, 72, (2, 2, 2, 1), (9, 16)),
    (1024, 768, (5, 3, 2, 2), (13, 18)),
])
def test_scale_rule_and_ceil_rule(width, height, scales, base):
    assert choose_scales(width, height) == scales
    arch = arch_from_preset("S", width, height, frames=65, views=1)
    assert arch.level_size(0) == base
    assert arch.level_size(arch.num_stages) == (height, width)
    for k in range(arch.num_stages):  # every level can be made from the one before
        rows, cols = arch.level_size(k)
        nxt = arch.level_size(k + 1)
        assert rows * arch.scales[k] >= nxt[0] and cols * arch.scales[k] >= nxt[1]


def test_base_grid_frames_rule():
    assert base_grid_frames_for(600) == 150
    assert base_grid_frames_for(65) == 17
    assert base_grid_frames_for(1) == 1
    assert arch_from_preset("tiny", 128, 72, frames=5, views=3).base_grid_shapes[1][0] == 1


def test_preset_errors_are_one_line_config_errors():
    with pytest.raises(ConfigError, match="unknown preset.*tiny, S, M"):
        arch_from_preset("XS", 1920, 1080, frames=65, views=1)
    with pytest.raises(ConfigError, match="too small"):
        arch_from_preset("S", 12, 8, frames=65, views=1)
    with pytest.raises(ConfigError, match="does not fit 64x17.*under 2 px"):
        arch_from_preset("S", 64, 17, frames=65, views=1, scales=(5, 3, 2, 2))
    with pytest.raises(ConfigError, match="unknown architecture field.*lr"):
        arch_from_preset("S", 1920, 1080, frames=65, views=1, lr=1e-3)
    with pytest.raises(ConfigError, match="views"):
        arch_from_preset("S", 1920, 1080, frames=65, views=0)


def test_presets_follow_hinerv_widths():
    widths = {n: (p.channels, p.base_grid_channels, p.enc_channels) for n, p in PRESETS.items()}
    assert widths["S"] == (280, 2, 4) and widths["M"] == (400, 4, 8)
    assert widths["L"] == (560, 8, 16) and widths["XL"] == (688, 16, 32)
    assert widths["XXL"] == (864, 32, 64)
    assert PRESETS["XL"].depths == (4, 4, 4, 1) and PRESETS["XXL"].depths == (5, 5, 5, 1)
    tiny = count_parameters(arch_from_preset("tiny", 128, 72, frames=5, views=3))["total"]
    assert 2_000 <= tiny <= 60_000
