"""One MS-SSIM scale as Triton kernels: the per-image sum of the SSIM term and its gradient.

Why: in the training step of S at 1080p on an H200 (``tools/bench_train.py --timeline``,
docs/performance.md § Training step) the texture loss's MS-SSIM took ≈ 1.4 ms of the 18.6 ms
step (0.53 ms forward, 0.86 ms backward) in ≈ 60 Inductor kernels, because the PyTorch form
(:func:`ssim_term`) writes the five moment images, their row-filtered and column-filtered maps
and as many gradients, each a float32 map of 3 × 2 M values, at scale 0. Here a scale is two
kernels:

- forward: the five moments of every output position by the separable window (rows filtered
  as a program walks down its strip, the last K in a register ring: :mod:`.ssim_kernels`),
  then cs and, at the last scale, lum; per-program sums of the term are added afterwards in a
  fixed order (deterministic). When a gradient is wanted it also writes three coefficient
  maps, the derivatives of the term by μx, E[x²] and E[xy];
- backward: every input pixel gathers the coefficients of the K × K window positions that read
  it, by the same separable walk: ∂x(p) = Σ_t g_t · (A(q) + 2 x(p) B(q) + y(p) C(q)),
  q = p − o_t.

Maths (per position q of the 'valid' window, σ's biased as in :func:`ssim_term`)::

    cs  = (2 σxy + C2) / (σx² + σy² + C2),  lum = (2 μx μy + C1) / (μx² + μy² + C1)
    ∂cs/∂σxy = 2 / D,  ∂cs/∂σx² = −cs / D   (D the denominator of cs)
    ∂/∂μx = −2 μx ∂/∂σx² − μy ∂/∂σxy  (through σx² = E[x²] − μx², σxy = E[xy] − μx μy)

Only x (the prediction) gets a gradient; y is the target. Arithmetic is float32. The op is
``torch.ops.mvhinerv.ssim_sums`` (``torch.library.custom_op``), so ``torch.compile`` keeps it
as one opaque call and fuses the pooling between scales around it.
"""

from __future__ import annotations

import importlib.util

import torch
from torch import Tensor

#: Whether Triton is installed (CUDA builds of torch ship it; CPU ones do not). A constant, so
#: that choosing the kernels inside a compiled step is no call torch.compile has to trace.
TRITON_AVAILABLE = importlib.util.find_spec("triton") is not None

#: Columns per program, along the contiguous axis of the target (its loads coalesce).
_BW = 128
#: Rows per program: the most of these (each program also filters the K − 1 rows above its
#: own) that still gives _MIN_PROGRAMS programs; the small scales get short segments, or a
#: few programs would walk their whole height one row after the other.
_ROWS = (32, 16, 8)
_MIN_PROGRAMS = 264
#: Warps per program.
_WARPS = 4


def _moment_term(x: Tensor, y: Tensor, blur, c1: float, c2: float, lum: bool) -> Tensor:
    """cs (or lum·cs) per 'valid' window position of (B, C, H, W) x, y; ``blur`` maps a (B, 5C,
    H, W) stack to its windowed means."""
    moments = blur(torch.cat([x, y, x * x, y * y, x * y], dim=1)).chunk(5, dim=1)
    mu_x, mu_y = moments[0], moments[1]
    sxx = moments[2] - mu_x**2
    syy = moments[3] - mu_y**2
    sxy = moments[4] - mu_x * mu_y
    cs = (2 * sxy + c2) / (sxx + syy + c2)
    if not lum:
        return cs
    return cs * (2 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1)


def ssim_term(x: Tensor, y: Tensor, valid: Tensor | None, kernel: Tensor, c1: float, c2: float,
              lum: bool) -> Tensor:
    """Per-image sum over channels and valid positions of the SSIM term, in PyTorch.

    ``x``, ``y`` (B, C, H, W); ``valid`` (B, 1, H − K + 1, W − K + 1) float weights (0/1) or
    None = all; ``kernel`` the (K,) Gaussian; the term is cs, or lum·cs when ``lum`` (the last
    scale). → (B,), in x's dtype. The reference of :func:`ssim_term_fused`."""
    k = kernel.numel()

    def blur(v: Tensor) -> Tensor:
        # Separable 'valid' filter as k shifted multiply-adds per axis: under torch.compile the
        # taps fuse with the arithmetic (cuDNN's float32 depthwise conv was a slow generic path).
        h, w = v.shape[-2] - k + 1, v.shape[-1] - k + 1
        rows = sum(kernel[i] * v[..., i:i + h, :] for i in range(k))
        return sum(kernel[i] * rows[..., :, i:i + w] for i in range(k))

    term = _moment_term(x, y, blur, c1, c2, lum)
    if valid is not None:
        term = term * valid.to(term.dtype)
    return term.sum(dim=(1, 2, 3))


def _geometry(x: Tensor, y: Tensor, valid: Tensor | None, kernel: Tensor) -> tuple[int, int]:
    k = kernel.numel()
    if x.dim() != 4 or y.shape != x.shape or kernel.dim() != 1:
        raise ValueError(f"ssim_term: x, y (B, C, H, W) of one shape and a 1-D kernel expected, got "
                         f"{tuple(x.shape)}, {tuple(y.shape)}, {tuple(kernel.shape)}")
    ho, wo = x.shape[2] - k + 1, x.shape[3] - k + 1
    if ho < 1 or wo < 1:
        raise ValueError(f"ssim_term: a {x.shape[2]}×{x.shape[3]} image holds no {k}×{k} window")
    if valid is not None and tuple(valid.shape) != (x.shape[0], 1, ho, wo):
        raise ValueError(f"ssim_term: valid {(x.shape[0], 1, ho, wo)} expected, got {tuple(valid.shape)}")
    return ho, wo


def _grid(planes: int, h: int, w: int) -> tuple[tuple[int, int, int], int]:
    """(grid, RS) for ``planes`` images of h × w positions."""
    strips = -(-w // _BW)
    rs = next((r for r in _ROWS if planes * strips * -(-h // r) >= _MIN_PROGRAMS), _ROWS[-1])
    return (planes, -(-h // rs), strips), rs


def _ring(kernel: Tensor) -> int:
    """KP: the ring's rows, K rounded up to a power of two."""
    return 1 << (kernel.numel() - 1).bit_length()


@torch.library.custom_op("mvhinerv::ssim_sums", mutates_args=())
def _ssim_op(x: Tensor, y: Tensor, valid: Tensor | None, kernel: Tensor, c1: float, c2: float, lum: bool,
             want_grad: bool) -> tuple[Tensor, Tensor]:
    """(per-image sums (B,) float32, coefficient maps [3, B·C, Ho, Wo] float32 or empty)."""
    from mvhinerv.train import ssim_kernels as k

    ho, wo = _geometry(x, y, valid, kernel)
    b, c = x.shape[:2]
    grid, rs = _grid(b * c, ho, wo)
    part = torch.empty((b * c, grid[1] * grid[2]), dtype=torch.float32, device=x.device)
    coef = torch.empty((3, b * c, ho, wo) if want_grad else (0,), dtype=torch.float32, device=x.device)
    kernel = kernel.to(torch.float32).contiguous()
    valid_arg = part if valid is None else valid.to(torch.float32).contiguous()
    k.ssim_fwd_kernel[grid](x, y, kernel, valid_arg, part, coef, c, ho, wo, *x.stride(), *y.stride(), c1, c2,
                            K=kernel.numel(), KP=_ring(kernel), RS=rs, BW=_BW, LUM=lum, HAS_VALID=valid is not None,
                            WANT_GRAD=want_grad, num_warps=_WARPS)
    return part.view(b, -1).sum(1), coef


@_ssim_op.register_fake
def _(x: Tensor, y: Tensor, valid: Tensor | None, kernel: Tensor, c1: float, c2: float, lum: bool,
      want_grad: bool) -> tuple[Tensor, Tensor]:
    ho, wo = _geometry(x, y, valid, kernel)
    shape = (3, x.shape[0] * x.shape[1], ho, wo) if want_grad else (0,)
    return x.new_empty(x.shape[:1], dtype=torch.float32), x.new_empty(shape, dtype=torch.float32)


@torch.library.custom_op("mvhinerv::ssim_sums_backward", mutates_args=())
def _ssim_backward_op(grad: Tensor, x: Tensor, y: Tensor, kernel: Tensor, coef: Tensor) -> Tensor:
    from mvhinerv.train import ssim_kernels as k

    b, c, h, w = x.shape
    ho, wo = coef.shape[2:]
    dx = torch.empty((b, c, h, w), dtype=torch.float32, device=x.device)
    grid, rs = _grid(b * c, h, w)
    k.ssim_bwd_kernel[grid](x, y, kernel.to(torch.float32).contiguous(), coef, grad.to(torch.float32).contiguous(),
                            dx, c, h, w, ho, wo, *x.stride(), *y.stride(), K=kernel.numel(), KP=_ring(kernel),
                            RS=rs, BW=_BW, num_warps=_WARPS)
    return dx


@_ssim_backward_op.register_fake
def _(grad: Tensor, x: Tensor, y: Tensor, kernel: Tensor, coef: Tensor) -> Tensor:
    return x.new_empty(x.shape, dtype=torch.float32)


def _setup_context(ctx, inputs, output) -> None:
    x, y, _, kernel, _, _, _, want_grad = inputs
    if not want_grad:  # asked for without a gradient: the coefficient maps were not written
        ctx.no_grad = True
        return
    ctx.no_grad = False
    ctx.save_for_backward(x, y, kernel, output[1])
    ctx.mark_non_differentiable(output[1])
    ctx.x_dtype = x.dtype


def _backward(ctx, grad: Tensor, _grad_coef: Tensor | None):
    if ctx.no_grad:
        raise RuntimeError("ssim_term_fused: called with want_grad=False, cannot differentiate")
    x, y, kernel, coef = ctx.saved_tensors
    dx = _ssim_backward_op(grad, x, y, kernel, coef)
    return dx.to(ctx.x_dtype), None, None, None, None, None, None, None


_ssim_op.register_autograd(_backward, setup_context=_setup_context)


def ssim_term_fused(x: Tensor, y: Tensor, valid: Tensor | None, kernel: Tensor, c1: float, c2: float,
                    lum: bool) -> Tensor:
    """:func:`ssim_term` by the Triton kernels (float32 arithmetic; any strides of x and y).
    Differentiable in x only (y is the target). Needs
    :func:`mvhinerv.model.dwconv_ln.fused_available`."""
    if y.requires_grad and torch.is_grad_enabled():
        raise ValueError("ssim_term_fused: no gradient for y (the target); use ssim_term")
    want_grad = x.requires_grad and torch.is_grad_enabled()
    return _ssim_op(x, y, valid, kernel, c1, c2, lum, want_grad)[0]


__all__ = ["TRITON_AVAILABLE", "ssim_term", "ssim_term_fused"]
