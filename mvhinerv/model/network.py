"""The MV-HiNeRV network: per-view grids, shared stem / ConvNeXt stages / RGB-D head.

Dataflow (MV-HiNeRV eq. 1-3; shapes for HiNeRV-S at 1080p, channels last)::

    (view k, frame t, window)
       │
       ├─ base grid γ_k,base ── time lerp, 2 levels concat ──► [B, 18, 32, 6]
       │                                   stem 3×3 conv + bias
       │                                                     ► [B, 18, 32, 280]
       │   stage i = 0..3 (s = 5, 3, 2, 2):
       │     LayerNorm → bilinear ×s  ─┐
       ├─ γ_k,i: hierarchical grids ─ linear ─► [B, s, s, C_in] tile, added per phase
       │                               └► ConvNeXt × depth_i (C_in → C_out)
       │                                   [B, 90,160,280] [B,270,480,140] [B,540,960,70] [B,1080,1920,35]
       │                                   head: linear + sigmoid (with the last fc2
       │                                   as one matmul, Head.after; on the fused path
       │                                   the last block's fc1 and GELU too, as one
       │                                   Triton kernel, Head.mlp_head)
       └────────────────────────────────────────────────────► [B, 4, 1080, 1920] (RGB, depth)

Frame mode (``patch=None``) computes whole frames; patch mode computes overlapped windows in
global coordinates (:mod:`mvhinerv.model.patches`) and gives the same values. The forward pass
reads every parameter afresh (no caches), so ``torch.func.functional_call`` with quantised or
noised parameters works; all shapes are static per patch size, so ``torch.compile(fullgraph=True)``
traces one graph per size.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mvhinerv.arch import MVHiNeRVArch
from mvhinerv.config import DWCONV_IMPLS
from mvhinerv.errors import ConfigError
from mvhinerv.model.blocks import ConvNeXtBlock, Head, Stem
from mvhinerv.model.coded import CodedParam
from mvhinerv.model.dwconv_ln import aligned_width, fused_available
from mvhinerv.model.grids import BaseGrid, HierarchicalEncoding
from mvhinerv.model.patches import (
    PatchPlan,
    Window,
    global_index,
    in_frame,
    level_anchor,
    patch_plan,
)
from mvhinerv.model.upsample import edge_factor, upsample


def default_dwconv(device: torch.device | str, compiled: bool, training: bool = True) -> str:
    """The fastest depthwise-conv + LayerNorm implementation measured for the job.

    Training on a GPU: the fused Triton kernels (:mod:`mvhinerv.model.dwconv_ln`, with aligned
    MLP and head operands, and the upsamplers and GELU as Triton kernels; the S step at 1080p
    64.2 Mpx·it/s with Inductor's kernels, 155 now, docs/performance.md § Training step). Compiled inference on a GPU: the "shift" form,
    which Inductor fuses with its neighbours (107 against 104 frames/s of 1080p for S). Without
    Triton: "shift" when compiled, else cuDNN/oneDNN's convolution. All give the same function
    within float tolerance.
    """
    if fused_available(device) and (training or not compiled):
        return "fused"
    return "shift" if compiled else "conv"


def resolve_dwconv(choice: str, device: torch.device | str, compiled: bool) -> str:
    """``EncodeConfig.dwconv`` for training on ``device``: ``auto`` becomes
    :func:`default_dwconv`'s choice; ``fused`` where it cannot run is a :class:`ConfigError`."""
    dwconv = default_dwconv(device, compiled) if choice == "auto" else choice
    if dwconv == "fused" and not fused_available(device):
        raise ConfigError("dwconv", f"'fused' needs a CUDA GPU and Triton (device {torch.device(device).type})")
    return dwconv


class Stage(nn.Module):
    """One HiNeRV stage's parameters: the hierarchical encoding and the ConvNeXt blocks."""

    def __init__(self, arch: MVHiNeRVArch, index: int, dwconv: str) -> None:
        super().__init__()
        c_in, c_out = arch.stage_widths[index]
        self.scale = arch.scales[index]
        self.encoding = HierarchicalEncoding(arch, index)
        self.blocks = nn.ModuleList(
            ConvNeXtBlock(c_in if b == 0 else c_out, c_out, arch.expansions[index], dwconv)
            for b in range(arch.depths[index])
        )


class _Axis:
    """Per-call row (or column) quantities of one level: global indices and in-frame mask."""

    def __init__(self, anchor: Tensor, window: Window, size: int) -> None:
        self.index = global_index(anchor, window)
        self.mask = in_frame(self.index, size)


def _crop(x: Tensor, rows: tuple[int, int], cols: tuple[int, int]) -> Tensor:
    """Static crop of [B, H, W, C] to rows [r0, r0 + nr) and columns [c0, c0 + nc)."""
    (r0, nr), (c0, nc) = rows, cols
    if r0 == 0 and c0 == 0 and nr == x.shape[1] and nc == x.shape[2]:
        return x
    return x[:, r0:r0 + nr, c0:c0 + nc]


def _mask2d(rows: Tensor, cols: Tensor) -> Tensor:
    return rows[:, :, None, None] * cols[:, None, :, None]


class MVHiNeRV(nn.Module):
    """MV-HiNeRV (Kwan et al., arXiv 2402.01596): HiNeRV with per-view grids and 4 outputs.

    Args:
        arch: the architecture (sizes, widths, grids).
        dwconv: ``"conv"`` (cuDNN/oneDNN depthwise conv, best in eager mode on a CPU),
            ``"shift"`` (nine shifted multiply-adds, fusible under ``torch.compile``) or
            ``"fused"`` (depthwise conv + LayerNorm as Triton kernels,
            :mod:`mvhinerv.model.dwconv_ln`; GPU only). Same numbers within float tolerance;
            :func:`default_dwconv` picks one.

    Parameter names (``named_parameters()``): ``base.levels.{l}`` [V, T_l, H_b, W_b, C_l],
    ``stem.weight/bias``, ``stages.{i}.encoding.grids.{j}`` [V, T_j, s, s, C_j],
    ``stages.{i}.encoding.linear.weight/bias``, ``stages.{i}.blocks.{b}.dwconv/fc1/fc2``,
    ``head.weight/bias``.
    """

    def __init__(self, arch: MVHiNeRVArch, dwconv: str = "conv") -> None:
        super().__init__()
        if dwconv not in DWCONV_IMPLS:
            raise ConfigError("dwconv", f"must be one of {', '.join(DWCONV_IMPLS)} (got {dwconv!r})")
        self.arch = arch
        self.base = BaseGrid(arch)
        self.stem = Stem(arch.base_channels, arch.channels, arch.stem_kernel)
        self.stages = nn.ModuleList(Stage(arch, i, dwconv) for i in range(arch.num_stages))
        self.head = Head(arch.stage_widths[-1][1], arch.outputs)
        self.fused_upsample = dwconv == "fused"
        """Run the upsamplers (LayerNorm + stencil) as Triton kernels
        (:mod:`mvhinerv.model.upsample_op`), with the fused depthwise conv + LayerNorm (GPU
        training)."""
        self.stage_dtype: torch.dtype | None = None
        """Dtype of every stage map as the upsampler writes it, or None for :meth:`_map_dtype`'s
        rule. Under CUDA autocast LayerNorm returns float32, so the upsampler's output and with
        it a residual stream are float32 unless this is the autocast dtype (bf16)."""

    # -- bookkeeping ---------------------------------------------------------------------------

    def coded_parameters(self) -> list[CodedParam]:
        """Every parameter exactly once, in ``named_parameters()`` order, with its coding role."""
        specs = self.base.coded("base.") + self.stem.coded("stem.")
        for i, stage in enumerate(self.stages):
            specs += stage.encoding.coded(f"stages.{i}.encoding.")
            for b, block in enumerate(stage.blocks):
                specs += block.coded(f"stages.{i}.blocks.{b}.")
        specs += self.head.coded("head.")
        by_name = {s.name: s for s in specs}
        names = [name for name, _ in self.named_parameters()]
        if sorted(names) != sorted(by_name) or len(by_name) != len(specs):
            raise RuntimeError("coded_parameters() out of sync with named_parameters()")
        return [by_name[name] for name in names]

    # -- forward -------------------------------------------------------------------------------

    def forward(self, views: Tensor, frames: Tensor, y0: Tensor | None = None,
                x0: Tensor | None = None, patch: tuple[int, int] | None = None) -> Tensor:
        """Render frames or patches of frames.

        Args:
            views: [B] long view indices.
            frames: [B] long frame indices.
            y0, x0: [B] long top-left output pixel of each patch, in global frame coordinates;
                multiples of ``arch.total_scale``; the patch may run past the frame edge
                (outside pixels are zero and must be ignored by the loss: see
                :func:`mvhinerv.model.patches.output_mask`). Ignored in frame mode.
            patch: (ph, pw) patch size, or ``None`` for frame mode (whole H×W frames).

        Returns:
            [B, outputs, h, w] in [0, 1] (RGB then normalised depth), channels-last strides.
        """
        plan = patch_plan(self.arch, None if patch is None else tuple(patch))
        if plan.frame_mode:
            zeros = torch.zeros_like(views)
            y0 = x0 = zeros
        elif y0 is None or x0 is None:
            raise ConfigError("patch", "patch mode needs y0 and x0")
        else:
            self._check_origins(y0, x0)
        x = self._forward_nhwc(views, frames, y0, x0, plan)
        return x.permute(0, 3, 1, 2)

    def _check_origins(self, y0: Tensor, x0: Tensor) -> None:
        """Eager CPU check that origins are multiples of the total scale (no GPU sync)."""
        if torch.compiler.is_compiling() or y0.device.type != "cpu":
            return
        p = self.arch.total_scale
        if bool(((y0 % p) != 0).any() | ((x0 % p) != 0).any()):
            raise ConfigError("patch", f"y0 and x0 must be multiples of the total scale {p}")

    def _forward_nhwc(self, views: Tensor, frames: Tensor, y0: Tensor, x0: Tensor,
                      plan: PatchPlan) -> Tensor:
        arch = self.arch
        rp, cp = plan.rows, plan.cols
        masked = not plan.frame_mode

        def axes(level: int, rw: Window, cw: Window) -> tuple[_Axis, _Axis]:
            return (_Axis(level_anchor(y0, arch, level), rw, rp.frame_sizes[level]),
                    _Axis(level_anchor(x0, arch, level), cw, cp.frame_sizes[level]))

        # Base map window and stem.
        r, c = axes(0, rp.base, cp.base)
        rows = r.index.clamp(0, rp.frame_sizes[0] - 1)
        cols = c.index.clamp(0, cp.frame_sizes[0] - 1)
        x = self.base(views, frames, rows, cols)
        if masked:
            x = x * _mask2d(r.mask, c.mask)
        x = self.stem(x)
        off_r, off_c = rp.exact[0].lo - rp.base.lo, cp.exact[0].lo - cp.base.lo
        x = _crop(x, (off_r, rp.exact[0].size), (off_c, cp.exact[0].size))
        if masked:
            r, c = axes(0, rp.exact[0], cp.exact[0])
            x = x * _mask2d(r.mask, c.mask).to(x.dtype)

        for i, stage in enumerate(self.stages):
            x = self._stage(x, i, stage, views, frames, y0, x0, plan)

        last = self.stages[-1].blocks[-1]
        if last.residual:
            x = self.head(x)
        elif last.fused:  # x is the last block's normed map (_stage)
            x = self.head.mlp_head(x, last.fc1, last.fc2)
        else:
            x = self.head.after(x, last.fc2)
        if masked:
            n = arch.num_stages
            r, c = axes(n, rp.exact[n], cp.exact[n])
            x = x * _mask2d(r.mask, c.mask).to(x.dtype)
        return x

    def _map_dtype(self, stage: Stage, device: torch.device) -> torch.dtype | None:
        """Dtype of a stage's map as its upsampler writes it, or None for the LayerNorm's.

        :attr:`stage_dtype` when set. Otherwise, under autocast, the autocast dtype where the
        stage's first block has no residual: the map's only reader is then that block's depthwise
        convolution, which autocast would run on a bf16 copy anyway (HiNeRV's code under fp16
        autocast does), so the float32 map bought no precision, only traffic: the upsampler's
        store, the fused layer's two reads and ∂x's store and read, each twice as wide. S at
        1080p: stages 1–3 (36, 73 and 145 M values per frame); stage 0 keeps its float32
        residual stream."""
        if self.stage_dtype is not None:
            return self.stage_dtype
        if stage.blocks[0].residual or not torch.is_autocast_enabled(device.type):
            return None
        return torch.get_autocast_dtype(device.type)

    def _stage(self, x: Tensor, i: int, stage: Stage, views: Tensor, frames: Tensor,
               y0: Tensor, x0: Tensor, plan: PatchPlan) -> Tensor:
        arch, s = self.arch, stage.scale
        rp, cp = plan.rows, plan.cols
        # Produced rows of the upsampler, as a window of level i+1.
        up_r, up_c = rp.upsampled(i, s), cp.upsampled(i, s)
        ay, ax = level_anchor(y0, arch, i + 1), level_anchor(x0, arch, i + 1)
        rf = edge_factor(global_index(ay, up_r), s, rp.frame_sizes[i])
        cf = edge_factor(global_index(ax, up_c), s, cp.frame_sizes[i])
        # On the fused path the map is cut from a row of A(C) values per pixel (aligned_width),
        # and the input is a block's whole aligned row (ConvNeXtBlock.forward) or the stem's map.
        c = arch.stage_widths[i][0]
        x = upsample(x, s, stage.encoding(views, frames), rf, cf, fused=self.fused_upsample,
                     out_dtype=self._map_dtype(stage, x.device), width=aligned_width(c), channels=c)
        work_r, work_c = rp.work[i], cp.work[i]
        x = _crop(x, (work_r.lo - up_r.lo, work_r.size), (work_c.lo - up_c.lo, work_c.size))
        mask = None
        if not plan.frame_mode:
            r = _Axis(ay, work_r, rp.frame_sizes[i + 1])
            c = _Axis(ax, work_c, cp.frame_sizes[i + 1])
            mask = _mask2d(r.mask, c.mask)
            x = x * mask.to(x.dtype)
        blocks = list(stage.blocks)
        if i == len(self.stages) - 1 and not blocks[-1].residual:
            # The last block ends at its hidden map (the head applies its fc2, Head.after) or, on
            # the fused path, at its normed map (its pointwise rest and the head are one kernel,
            # Head.mlp_head). Its mask is not needed: the output is masked after the head.
            *blocks, last = blocks
        else:
            last = None
        for block in blocks:
            x = block(x, mask)
        if last is not None:
            x = last.normed(x) if last.fused else last.hidden(x)
        ex_r, ex_c = rp.exact[i + 1], cp.exact[i + 1]
        return _crop(x, (ex_r.lo - work_r.lo, ex_r.size), (ex_c.lo - work_c.lo, ex_c.size))


def build_model(arch: MVHiNeRVArch, device: str | torch.device = "cpu", dwconv: str = "conv") -> MVHiNeRV:
    """An initialised :class:`MVHiNeRV` on ``device`` (the decoder then loads parameters)."""
    return MVHiNeRV(arch, dwconv=dwconv).to(device)


__all__ = ["DWCONV_IMPLS", "MVHiNeRV", "Stage", "build_model", "default_dwconv", "resolve_dwconv"]
