"""Fused depthwise 3×3 convolution + LayerNorm (no affine), channels last, as Triton kernels.

Why: profiling the training step of HiNeRV-S at 1080p on an H200 (``tools/bench_train.py
--profile``, docs/performance.md § Training step) showed that the kernels Inductor generates
for "depthwise 3×3 → LayerNorm" and its backward were the largest cost of the step: about 14 of
its 32 ms, at 0.3–0.6 TB/s on a GPU with 4.8 TB/s. These layers are memory-bound (9 multiply-adds
and a 2-pass reduction per value), so the speed is set by how many times each map crosses memory
and how cheaply each value is addressed:

- forward: read x once, write the normalised output once (in the autocast dtype, so the
  following matmul reads bf16); nothing else is saved: the backward recomputes the convolution
  and the statistics from x, which is cheaper than storing and re-reading them;
- backward ∂z: read x and the output gradient, write ∂z (the gradient at the convolution's
  output);
- backward ∂w: read x and ∂z, accumulate per program; the per-program sums are added afterwards
  in a fixed order (deterministic);
- backward ∂x: the transposed 3×3 stencil of ∂z.

The layer alone (forward + backward, every block of S at 1080p) is 1.9× faster than Inductor's
kernels; the whole training step gains 10 % (docs/performance.md § Training step).

Maths (per pixel, over the C channels; ``w``: [C, 1, 3, 3], zero padding as ``F.conv2d(...,
padding=1, groups=C)``)::

    z_c   = Σ_taps w_c,t · x_c(p + o_t)
    y_c   = (z_c − mean(z)) · rstd,          rstd = 1 / sqrt(var(z) + eps)   (biased var)
    ∂z_c  = rstd · (∂y_c − mean(∂y) − y_c · mean(∂y ⊙ y))
    ∂w_c,t = Σ_p x_c(p + o_t) · ∂z_c(p),     ∂x_c(q) = Σ_t w_c,t · ∂z_c(q − o_t)

All arithmetic is float32 whatever the storage dtype (the weight is read as float32, unlike the
unfused layers under autocast, which round it to bf16). :func:`dwconv_ln_reference` is the same
function in plain PyTorch: the tests compare the two (with ``TRITON_INTERPRET=1`` on a CPU, and
on a GPU).

The op is registered as ``torch.ops.mvhinerv.dwconv_ln`` (``torch.library.custom_op``) with its
autograd formula, so ``torch.compile(fullgraph=True)`` keeps it as one opaque call and fuses the
element-wise layers around it as before.
"""

from __future__ import annotations

import os

import torch
from torch import Tensor
from torch.nn import functional as F

try:  # Triton ships with CUDA builds of torch; the CPU build has none (the reference path runs).
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - depends on the installation
    triton = None

#: Values held in registers per tile (BLOCK_W pixels × CP channels): sets BLOCK_W from C. This
#: and _WARPS are the best of a sweep of 256–4096 values and 2–8 warps on an H200
#: (``tools/bench_dwconv_ln.py``, docs/performance.md § Training step).
_TILE_VALUES = 1024
#: Warps per program.
_WARPS = 4
#: The ∂z and ∂w kernels loop over column blocks; they launch about this many programs at least.
_MIN_PROGRAMS = 2048


def fused_available(device: torch.device | str) -> bool:
    """Whether :func:`dwconv_ln` can run on ``device``: Triton is installed and the device is a
    CUDA GPU, or the Triton interpreter is on (``TRITON_INTERPRET=1``, tests on a CPU)."""
    if triton is None:
        return False
    if torch.device(device).type == "cuda":
        return True
    return os.environ.get("TRITON_INTERPRET") == "1"


def dwconv_ln_reference(x: Tensor, weight: Tensor, eps: float) -> Tensor:
    """The unfused computation in PyTorch (any dtype, any device): [B, H, W, C] → same shape."""
    z = F.conv2d(x.permute(0, 3, 1, 2), weight.to(x.dtype), None, padding=1, groups=x.shape[-1])
    z = z.permute(0, 2, 3, 1)
    return F.layer_norm(z, (z.shape[-1],), eps=eps)


def _tiling(c: int) -> tuple[int, int]:
    """(CP, BLOCK_W): channels padded to a power of two, pixels per tile."""
    cp = triton.next_power_of_2(c)
    return cp, max(1, min(128, _TILE_VALUES // cp))


if triton is not None:

    @triton.jit
    def _tap(base, off, shift, mask):
        """One shifted tile ``base[off + shift]`` as float32 (0 where masked). Offsets are int32
        relative to the program's row: int64 index arithmetic per element made the first
        version of these kernels slower than Inductor's."""
        return tl.load(base + (off + shift), mask=mask, other=0.0).to(tl.float32)

    @triton.jit
    def _weight(w_ptr, offs_c, cmask, tap):
        return tl.load(w_ptr + offs_c * 9 + tap, mask=cmask, other=0.0).to(tl.float32)[None, :]

    @triton.jit
    def _column_masks(offs_w, W, cmask):
        """Masks of the tile's left, centre and right neighbours (in the row, real channels)."""
        left = ((offs_w >= 1) & (offs_w <= W))[:, None] & cmask[None, :]
        centre = (offs_w < W)[:, None] & cmask[None, :]
        right = (offs_w + 1 < W)[:, None] & cmask[None, :]
        return left, centre, right

    @triton.jit
    def _conv9(base, off, WC, C, ml, mc, mr, up, down, w_ptr, offs_c, cmask):
        """z = Σ_t w_t · x(p + o_t) for one tile, float32 [BLOCK_W, CP] (zero-padded borders)."""
        z = _tap(base, off, -WC - C, ml & up) * _weight(w_ptr, offs_c, cmask, 0)
        z += _tap(base, off, -WC, mc & up) * _weight(w_ptr, offs_c, cmask, 1)
        z += _tap(base, off, -WC + C, mr & up) * _weight(w_ptr, offs_c, cmask, 2)
        z += _tap(base, off, -C, ml) * _weight(w_ptr, offs_c, cmask, 3)
        z += _tap(base, off, 0, mc) * _weight(w_ptr, offs_c, cmask, 4)
        z += _tap(base, off, C, mr) * _weight(w_ptr, offs_c, cmask, 5)
        z += _tap(base, off, WC - C, ml & down) * _weight(w_ptr, offs_c, cmask, 6)
        z += _tap(base, off, WC, mc & down) * _weight(w_ptr, offs_c, cmask, 7)
        z += _tap(base, off, WC + C, mr & down) * _weight(w_ptr, offs_c, cmask, 8)
        return z

    @triton.jit
    def _normalise(z, cmask, C, eps):
        """(y, rstd) of LayerNorm over the last axis of z [BLOCK_W, CP] (C real channels)."""
        mean = tl.sum(z, axis=1) / C
        d = tl.where(cmask[None, :], z - mean[:, None], 0.0)
        var = tl.sum(d * d, axis=1) / C
        rstd = 1.0 / tl.sqrt(var + eps)
        return d * rstd[:, None], rstd

    @triton.jit
    def _fwd_kernel(x_ptr, w_ptr, y_ptr, H, W, C, eps, BLOCK_W: tl.constexpr, CP: tl.constexpr):
        h, up, down, start, offs_c, cmask = _row_setup(H, W, C, CP)
        offs_w = tl.program_id(1) * BLOCK_W + tl.arange(0, BLOCK_W)
        off = offs_w[:, None] * C + offs_c[None, :]
        ml, mc, mr = _column_masks(offs_w, W, cmask)
        z = _conv9(x_ptr + start, off, W * C, C, ml, mc, mr, up, down, w_ptr, offs_c, cmask)
        y, _ = _normalise(z, cmask, C, eps)
        tl.store(y_ptr + start + off, y.to(y_ptr.dtype.element_ty), mask=mc)

    @triton.jit
    def _row_setup(H, W, C, CP: tl.constexpr):
        """Per-program row quantities: (h, has a row above, has a row below, the row's first
        element as int64, channel offsets, real-channel mask)."""
        row = tl.program_id(0)  # b·H + h
        h = row % H
        offs_c = tl.arange(0, CP)
        return h, h > 0, h < H - 1, row.to(tl.int64) * W * C, offs_c, offs_c < C

    @triton.jit
    def _bwd_z_kernel(x_ptr, w_ptr, g_ptr, dz_ptr, H, W, C, eps, SPLITS, ITERS: tl.constexpr,
                      BLOCK_W: tl.constexpr, CP: tl.constexpr):
        """∂z for the column blocks split, split + SPLITS, … of one row (ITERS of them; the last
        ones may lie past the row's end)."""
        h, up, down, start, offs_c, cmask = _row_setup(H, W, C, CP)
        split = tl.program_id(1)
        for it in range(0, ITERS):
            offs_w = (split + it * SPLITS) * BLOCK_W + tl.arange(0, BLOCK_W)
            off = offs_w[:, None] * C + offs_c[None, :]
            ml, mc, mr = _column_masks(offs_w, W, cmask)
            z = _conv9(x_ptr + start, off, W * C, C, ml, mc, mr, up, down, w_ptr, offs_c, cmask)
            y, rstd = _normalise(z, cmask, C, eps)
            g = tl.load(g_ptr + start + off, mask=mc, other=0.0).to(tl.float32)
            mg = tl.sum(g, axis=1) / C
            mgy = tl.sum(g * y, axis=1) / C
            dz = tl.where(mc, rstd[:, None] * (g - mg[:, None] - y * mgy[:, None]), 0.0)
            tl.store(dz_ptr + start + off, dz.to(dz_ptr.dtype.element_ty), mask=mc)

    @triton.jit
    def _bwd_w_kernel(x_ptr, dz_ptr, dw_ptr, H, W, C, SPLITS, ITERS: tl.constexpr, BLOCK_W: tl.constexpr,
                      CP: tl.constexpr):
        """∂w over the same column blocks as :func:`_bwd_z_kernel`: a_t += x(p + o_t) · ∂z(p)
        element-wise per tap, reduced over the tile rows once at the end; this program's share
        goes to dw_ptr[program, t, c] (float32 [programs, 9, C]). (Computing ∂w inside the ∂z
        kernel was measured slower: the nine accumulators crowd the registers.)"""
        h, up, down, start, offs_c, cmask = _row_setup(H, W, C, CP)
        split = tl.program_id(1)
        xb = x_ptr + start
        WC = W * C
        a0 = tl.zeros((BLOCK_W, CP), dtype=tl.float32)
        a1 = tl.zeros((BLOCK_W, CP), dtype=tl.float32)
        a2 = tl.zeros((BLOCK_W, CP), dtype=tl.float32)
        a3 = tl.zeros((BLOCK_W, CP), dtype=tl.float32)
        a4 = tl.zeros((BLOCK_W, CP), dtype=tl.float32)
        a5 = tl.zeros((BLOCK_W, CP), dtype=tl.float32)
        a6 = tl.zeros((BLOCK_W, CP), dtype=tl.float32)
        a7 = tl.zeros((BLOCK_W, CP), dtype=tl.float32)
        a8 = tl.zeros((BLOCK_W, CP), dtype=tl.float32)
        for it in range(0, ITERS):
            offs_w = (split + it * SPLITS) * BLOCK_W + tl.arange(0, BLOCK_W)
            off = offs_w[:, None] * C + offs_c[None, :]
            ml, mc, mr = _column_masks(offs_w, W, cmask)
            dz = tl.load(dz_ptr + start + off, mask=mc, other=0.0).to(tl.float32)
            a0 += _tap(xb, off, -WC - C, ml & up) * dz
            a1 += _tap(xb, off, -WC, mc & up) * dz
            a2 += _tap(xb, off, -WC + C, mr & up) * dz
            a3 += _tap(xb, off, -C, ml) * dz
            a4 += _tap(xb, off, 0, mc) * dz
            a5 += _tap(xb, off, C, mr) * dz
            a6 += _tap(xb, off, WC - C, ml & down) * dz
            a7 += _tap(xb, off, WC, mc & down) * dz
            a8 += _tap(xb, off, WC + C, mr & down) * dz
        out = dw_ptr + (tl.program_id(0) * SPLITS + split).to(tl.int64) * 9 * C + offs_c
        tl.store(out, tl.sum(a0, axis=0), mask=cmask)
        tl.store(out + C, tl.sum(a1, axis=0), mask=cmask)
        tl.store(out + 2 * C, tl.sum(a2, axis=0), mask=cmask)
        tl.store(out + 3 * C, tl.sum(a3, axis=0), mask=cmask)
        tl.store(out + 4 * C, tl.sum(a4, axis=0), mask=cmask)
        tl.store(out + 5 * C, tl.sum(a5, axis=0), mask=cmask)
        tl.store(out + 6 * C, tl.sum(a6, axis=0), mask=cmask)
        tl.store(out + 7 * C, tl.sum(a7, axis=0), mask=cmask)
        tl.store(out + 8 * C, tl.sum(a8, axis=0), mask=cmask)

    @triton.jit
    def _bwd_x_kernel(dz_ptr, w_ptr, dx_ptr, H, W, C, BLOCK_W: tl.constexpr, CP: tl.constexpr):
        """∂x(q) = Σ_t w_t · ∂z(q − o_t): the transposed stencil (tap t reads the mirrored
        neighbour)."""
        h, up, down, start, offs_c, cmask = _row_setup(H, W, C, CP)
        offs_w = tl.program_id(1) * BLOCK_W + tl.arange(0, BLOCK_W)
        off = offs_w[:, None] * C + offs_c[None, :]
        ml, mc, mr = _column_masks(offs_w, W, cmask)
        b = dz_ptr + start
        WC = W * C
        acc = _tap(b, off, WC + C, mr & down) * _weight(w_ptr, offs_c, cmask, 0)
        acc += _tap(b, off, WC, mc & down) * _weight(w_ptr, offs_c, cmask, 1)
        acc += _tap(b, off, WC - C, ml & down) * _weight(w_ptr, offs_c, cmask, 2)
        acc += _tap(b, off, C, mr) * _weight(w_ptr, offs_c, cmask, 3)
        acc += _tap(b, off, 0, mc) * _weight(w_ptr, offs_c, cmask, 4)
        acc += _tap(b, off, -C, ml) * _weight(w_ptr, offs_c, cmask, 5)
        acc += _tap(b, off, -WC + C, mr & up) * _weight(w_ptr, offs_c, cmask, 6)
        acc += _tap(b, off, -WC, mc & up) * _weight(w_ptr, offs_c, cmask, 7)
        acc += _tap(b, off, -WC - C, ml & up) * _weight(w_ptr, offs_c, cmask, 8)
        tl.store(dx_ptr + start + off, acc.to(dx_ptr.dtype.element_ty), mask=mc)


def _check(x: Tensor, weight: Tensor) -> None:
    if x.dim() != 4 or weight.shape != (x.shape[-1], 1, 3, 3):
        raise ValueError(f"dwconv_ln: x [B, H, W, C] and weight [C, 1, 3, 3] expected, got "
                         f"{tuple(x.shape)} and {tuple(weight.shape)}")


@torch.library.custom_op("mvhinerv::dwconv_ln", mutates_args=())
def _dwconv_ln_op(x: Tensor, weight: Tensor, eps: float, out_dtype: torch.dtype) -> Tensor:
    _check(x, weight)
    x, weight = x.contiguous(), weight.contiguous()
    b, h, w, c = x.shape
    y = torch.empty(x.shape, dtype=out_dtype, device=x.device)
    cp, block_w = _tiling(c)
    _fwd_kernel[(b * h, triton.cdiv(w, block_w))](x, weight, y, h, w, c, eps, BLOCK_W=block_w, CP=cp,
                                                       num_warps=_WARPS)
    return y


@_dwconv_ln_op.register_fake
def _(x: Tensor, weight: Tensor, eps: float, out_dtype: torch.dtype) -> Tensor:
    return x.new_empty(x.shape, dtype=out_dtype)


@torch.library.custom_op("mvhinerv::dwconv_ln_backward", mutates_args=())
def _dwconv_ln_backward_op(grad: Tensor, x: Tensor, weight: Tensor, eps: float) -> tuple[Tensor, Tensor]:
    x, weight, grad = x.contiguous(), weight.contiguous(), grad.contiguous()
    b, h, w, c = x.shape
    cp, block_w = _tiling(c)
    blocks = triton.cdiv(w, block_w)
    splits = max(1, min(blocks, triton.cdiv(_MIN_PROGRAMS, b * h)))
    dz = torch.empty(x.shape, dtype=grad.dtype, device=x.device)
    partial = torch.empty((b * h * splits, 9, c), dtype=torch.float32, device=x.device)
    iters = triton.cdiv(blocks, splits)
    _bwd_z_kernel[(b * h, splits)](x, weight, grad, dz, h, w, c, eps, splits, iters,
                                   BLOCK_W=block_w, CP=cp, num_warps=_WARPS)
    _bwd_w_kernel[(b * h, splits)](x, dz, partial, h, w, c, splits, iters, BLOCK_W=block_w, CP=cp,
                                   num_warps=_WARPS)
    dx = torch.empty_like(x)
    _bwd_x_kernel[(b * h, triton.cdiv(w, block_w))](dz, weight, dx, h, w, c, BLOCK_W=block_w, CP=cp,
                                                       num_warps=_WARPS)
    dw = partial.sum(0).t().contiguous().view(c, 1, 3, 3).to(weight.dtype)
    return dx, dw


@_dwconv_ln_backward_op.register_fake
def _(grad: Tensor, x: Tensor, weight: Tensor, eps: float) -> tuple[Tensor, Tensor]:
    # Contiguous, like the real outputs, whatever the strides of the inputs.
    return x.new_empty(x.shape), weight.new_empty(weight.shape)


def _setup_context(ctx, inputs, output) -> None:
    x, weight, eps, _ = inputs
    ctx.save_for_backward(x, weight)
    ctx.eps = eps


def _backward(ctx, grad: Tensor):
    x, weight = ctx.saved_tensors
    dx, dw = _dwconv_ln_backward_op(grad, x, weight, ctx.eps)
    return dx, dw, None, None


_dwconv_ln_op.register_autograd(_backward, setup_context=_setup_context)


def dwconv_ln(x: Tensor, weight: Tensor, eps: float) -> Tensor:
    """LayerNorm(depthwise3×3(x)) of channels-last ``x`` [B, H, W, C], weight [C, 1, 3, 3].

    The output has the autocast dtype when autocast is on for x's device (what the next linear
    would cast it to anyway), else x's dtype. Differentiable in x and weight. Needs
    :func:`fused_available`.
    """
    kind = x.device.type
    out_dtype = torch.get_autocast_dtype(kind) if torch.is_autocast_enabled(kind) else x.dtype
    return _dwconv_ln_op(x, weight, eps, out_dtype)


__all__ = ["dwconv_ln", "dwconv_ln_reference", "fused_available"]
