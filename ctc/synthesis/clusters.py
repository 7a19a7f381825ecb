"""Depth clustering with the 3 % rule (TMIV ``insertWeightedDepthInStack``; miv_ctc.md §3.3 steps 5, 7).

Per target pixel, K candidate depths with weights are grouped front to back into surfaces. As in
TMIV the candidates are inserted one by one, *in the order given* (view order for the depth
selection of step 5, TMIV's 3×3 offset order for the shading stack of step 7), into a stack of
clusters sorted by mean depth. A candidate z lands before the first cluster whose mean is larger
than z; it joins the cluster before it when z − z_before < f·z_before, the cluster after it when
z_after − z < f·z, and when both hold the two clusters and z fuse into one (f = blendingFactor).
The result depends on the insertion order: three depths 1.00, 1.05, 1.025 inserted in that order
become one cluster (1.025 bridges the other two), in sorted order two. Vectorised over pixels;
the loop runs over the K candidates.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor

from ctc.synthesis.fused import fused


@dataclasses.dataclass
class DepthClusters:
    """Clusters front to back per pixel: ``sum_wz``/``sum_w`` ``[K, N]`` (slot k of a pixel is
    empty, with ``sum_w`` 0, when the pixel has fewer than k + 1 clusters) and ``count`` ``[N]``."""

    sum_wz: Tensor
    sum_w: Tensor
    count: Tensor

    def depth(self, k: int) -> Tensor:
        """Mean depth ``[N]`` of slot k (0 where the slot is empty)."""
        w = self.sum_w[k]
        return torch.where(w > 0, self.sum_wz[k] / w.clamp_min(1e-30), torch.zeros_like(w))


def cluster_depths(z: Tensor, w: Tensor, blending_factor: float) -> DepthClusters:
    """Group candidate depths into surfaces, inserting them in the order of the first axis.

    Args:
        z: ``[K, N]`` candidate depths; invalid ones are NaN, ``inf`` or ≤ 0.
        w: ``[K, N]`` (or broadcastable) weights; candidates with weight ≤ 0 are ignored (as in TMIV).
        blending_factor: relative depth tolerance (0.03 in the CTC).

    Returns:
        :class:`DepthClusters` with slots sorted front to back.
    """
    w = torch.broadcast_to(w, z.shape)
    if z.shape[0] == 0:
        empty = torch.zeros(1, z.shape[1], dtype=z.dtype, device=z.device)
        return DepthClusters(empty, empty.clone(), torch.zeros(z.shape[1], dtype=torch.long, device=z.device))
    return DepthClusters(*_insert_all(z, w.contiguous(), blending_factor))


@fused
def _insert_all(z: Tensor, w: Tensor, blending_factor: float) -> tuple[Tensor, Tensor, Tensor]:
    """TMIV's stack insertion of the K candidates in order: ``(sum_wz, sum_w, count)``.

    Each step works on the occupied rows plus one: at most k + 1 before candidate k, in practice
    a few surfaces per pixel. On the CPU the bound is read from the data, which saves most of the
    work where pixels hold one or two surfaces. The stack is shifted with slices, right by one
    from the insertion slot for a new cluster and left by one behind it for a fusion.
    """
    k_max, n = z.shape
    sum_wz = torch.zeros_like(z)
    sum_w = torch.zeros_like(z)
    count = torch.zeros(n, dtype=torch.long, device=z.device)
    slots = torch.arange(k_max, device=z.device)[:, None]                   # [K, 1]
    big = torch.finfo(z.dtype).max
    zero_row = torch.zeros(1, n, dtype=z.dtype, device=z.device)
    for k in range(k_max):
        # Rows in play; on CUDA all k + 1 (reading count.max() would sync and break the fusion).
        m = k + 1 if z.is_cuda else min(k, int(count.max())) + 1
        zk, wk = z[k], w[k]
        valid = torch.isfinite(zk) & (zk > 0) & (wk > 0)
        zk = torch.where(valid, zk, torch.ones_like(zk))
        swz, sw, j = sum_wz[:m], sum_w[:m], slots[:m]
        occupied = j < count[None]                                           # [m, N]
        mean = swz / torch.where(occupied, sw, torch.ones_like(sw))
        ahead = occupied & (mean <= zk[None])                                # clusters in front of z
        pos = ahead.sum(dim=0)                                               # insertion slot
        before = torch.where(ahead, mean, torch.full_like(mean, -big)).amax(dim=0)
        after = torch.where(occupied & ~ahead, mean, torch.full_like(mean, big)).amin(dim=0)
        merge_before = valid & (pos > 0) & (zk - before < before * blending_factor)
        merge_after = valid & (pos < count) & (after - zk < zk * blending_factor)
        fuse = merge_before & merge_after
        new = valid & ~merge_before & ~merge_after
        target = torch.where(merge_before, pos - 1, pos)
        at_target = valid[None] & (j == target[None])
        shift_right = new[None] & (j >= pos[None])                           # slot pos is the new one
        shift_left = fuse[None] & (j >= pos[None])
        absorb = fuse[None] & (j == (pos - 1)[None])                         # takes old slot pos
        stacks = []
        for s, add in ((swz, wk * zk), (sw, wk)):
            right = torch.cat((zero_row, s[:-1]))
            left = torch.cat((s[1:], zero_row))
            out = torch.where(shift_right, right, torch.where(shift_left, left, s))
            out = torch.where(new[None] & (j == pos[None]), torch.zeros_like(out), out)
            out = out + torch.where(absorb, left, torch.zeros_like(out))
            stacks.append(out + torch.where(at_target, add[None], torch.zeros_like(out)))
        sum_wz = torch.cat((stacks[0], sum_wz[m:]))
        sum_w = torch.cat((stacks[1], sum_w[m:]))
        count = count + new.long() - fuse.long()
    return sum_wz, sum_w, count


def select_depth(clusters: DepthClusters, overload_factor: float, trust_depth: bool) -> Tensor:
    """The target depth per pixel ``[N]`` (0 = none) from its clusters (TMIV step 5).

    Scanning front to back, a cluster replaces the current choice when its weight exceeds both the
    choice's weight and ``overload_factor`` times it. With trusted depth only the front-most cluster
    is considered: the nearest surface always wins.
    """
    if trust_depth:
        return clusters.depth(0)
    best_w = torch.zeros_like(clusters.sum_w[0])
    best_z = torch.zeros_like(best_w)
    for k in range(clusters.sum_w.shape[0]):
        w = clusters.sum_w[k]
        better = (w > best_w) & (w > overload_factor * best_w)
        best_z = torch.where(better, clusters.depth(k), best_z)
        best_w = torch.where(better, w, best_w)
    return best_z
