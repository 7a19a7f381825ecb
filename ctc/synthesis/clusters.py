"""Depth clustering with the 3 % rule (TMIV ``insertWeightedDepthInStack``; miv_ctc.md §3.3 steps 5, 7).

Per target pixel, K candidate depths with weights are grouped front to back into surfaces: a depth
joins the current cluster when it lies less than ``blending_factor`` (relative) behind the
cluster's weighted mean. TMIV inserts candidates one by one in view order into a sorted stack; we
sort the candidates first and sweep once, which gives the same clusters whenever the stack would
not have had to fuse two clusters (rare, and only at the 3 % boundary). Vectorised over pixels;
the loop runs over the K candidates only.
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
    """Group candidate depths into surfaces.

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
    return DepthClusters(*_sweep(z, w.contiguous(), blending_factor))


@fused
def _sweep(z: Tensor, w: Tensor, blending_factor: float) -> tuple[Tensor, Tensor, Tensor]:
    """The sorted front-to-back sweep of :func:`cluster_depths`: ``(sum_wz, sum_w, count)``."""
    valid = torch.isfinite(z) & (z > 0) & (w > 0)
    key = torch.where(valid, z, torch.full_like(z, float("inf")))
    key, order = torch.sort(key, dim=0)
    ws = torch.where(valid, w, torch.zeros_like(w)).gather(0, order)
    valid = torch.isfinite(key)
    k_max, n = z.shape
    sum_wz = torch.zeros_like(z)
    sum_w = torch.zeros_like(z)
    slot = torch.zeros(n, dtype=torch.long, device=z.device)
    cols = torch.arange(n, device=z.device)
    cur_wz = torch.where(valid[0], ws[0] * key[0], torch.zeros_like(key[0]))
    cur_w = torch.where(valid[0], ws[0], torch.zeros_like(key[0]))
    for k in range(1, k_max):
        zk = torch.where(valid[k], key[k], torch.zeros_like(key[k]))
        wk = ws[k]
        has = cur_w > 0
        mean = cur_wz / torch.where(has, cur_w, torch.ones_like(cur_w))
        merge = valid[k] & has & (zk - mean < blending_factor * mean)
        start = valid[k] & has & ~merge
        _store(sum_wz, sum_w, slot, cols, start, cur_wz, cur_w)  # close the current cluster
        slot = slot + start.long()
        cur_wz = torch.where(merge, cur_wz + wk * zk, torch.where(start, wk * zk, cur_wz))
        cur_w = torch.where(merge, cur_w + wk, torch.where(start, wk, cur_w))
    has = cur_w > 0
    _store(sum_wz, sum_w, slot, cols, has, cur_wz, cur_w)
    return sum_wz, sum_w, slot + has.long()


def _store(sum_wz: Tensor, sum_w: Tensor, slot: Tensor, cols: Tensor, where: Tensor,
           cur_wz: Tensor, cur_w: Tensor) -> None:
    """Write the running cluster into its slot where ``where`` holds (no host sync: every column
    is written, with its old value where ``where`` is false)."""
    sum_wz[slot, cols] = torch.where(where, cur_wz, sum_wz[slot, cols])
    sum_w[slot, cols] = torch.where(where, cur_w, sum_w[slot, cols])


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
