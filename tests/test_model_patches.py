"""Patch geometry against HiNeRV's published numbers (inr_codecs.md §1.3) and its invariants."""

from __future__ import annotations

import pytest
import torch

from mvhinerv.arch import arch_from_preset
from mvhinerv.model import output_mask, patch_origins, patch_plan


def test_hinerv_s_120_patch_windows_and_overhead():
    """UVG HiNeRV-S, 120×120 patches: 8² base (stem padding 3) → 22² → 42² → 68² → 122² → 120²,
    ×2.08 MACs; 480×360 patches ×1.25."""
    arch = arch_from_preset("S", 1920, 1080, frames=600, views=1)
    plan = patch_plan(arch, (120, 120))
    assert plan.rows.base.size == 8 and plan.rows.base.lo == -3
    assert [w.size for w in plan.rows.work] == [22, 42, 68, 122]
    assert (plan.rows.base, plan.rows.exact, plan.rows.work) == (plan.cols.base, plan.cols.exact, plan.cols.work)
    assert plan.overhead(arch) == pytest.approx(2.08, abs=0.01)
    assert patch_plan(arch, (360, 480)).overhead(arch) == pytest.approx(1.25, abs=0.01)
    assert patch_plan(arch, None).overhead(arch) == 1.0


@pytest.mark.parametrize("size,patch", [((135, 77), (16, 24)), ((1920, 1080), (120, 120)),
                                        ((2048, 1088), (360, 480)), ((480, 270), (30, 90))])
def test_windows_cover_what_each_layer_reads(size, patch):
    arch = arch_from_preset("S", *size, frames=9, views=1)
    plan = patch_plan(arch, patch)
    for axis in (plan.rows, plan.cols):
        n = arch.num_stages
        assert axis.exact[n].lo == 0
        for i in range(n):
            s, d = arch.scales[i], arch.depths[i]
            work, nxt = axis.work[i], axis.exact[i + 1]
            assert work.lo == nxt.lo - d and work.hi == nxt.hi + d
            up = axis.upsampled(i, s)
            assert up.lo <= work.lo and up.hi >= work.hi  # the crop is inside what is produced
            for r in (work.lo, work.hi - 1):  # bilinear taps of the extreme rows are exact rows
                q = (r + 0.5) / s - 0.5
                assert axis.exact[i].lo <= int(q // 1) and int(q // 1) + 1 < axis.exact[i].hi
        assert axis.base.lo == axis.exact[0].lo - 1 and axis.base.size == axis.exact[0].size + 2


def test_patch_origins_tile_the_frame_and_mask():
    arch = arch_from_preset("tiny", 135, 77, frames=5, views=1)
    origins = patch_origins(arch, (24, 40))
    assert origins[0] == (0, 0) and len(origins) == 4 * 4
    covered = torch.zeros(77, 135)
    y0 = torch.tensor([y for y, _ in origins])
    x0 = torch.tensor([x for _, x in origins])
    mask = output_mask(arch, y0, x0, (24, 40))
    for b, (y, x) in enumerate(origins):
        covered[y:y + 24, x:x + 40] += mask[b, 0, :min(24, 77 - y), :min(40, 135 - x)]
        assert mask[b].sum() == min(24, 77 - y) * min(40, 135 - x)
    assert torch.all(covered == 1)
