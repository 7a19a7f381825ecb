"""The shared layers: stem convolution, ConvNeXt block and RGB-D head, all channels last.

Every tensor is [B, H, W, C] so the linears are plain matmuls over the last axis (no permutes);
convolutions see an NCHW *view* with channels-last strides, which cuDNN/oneDNN run natively.
Layer facts follow ``hmkx/HiNeRV:models/layers.py`` (inr_codecs.md §1.2).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from mvhinerv.model.coded import CodedParam
from mvhinerv.model.dwconv_ln import aligned_width, dwconv_ln
from mvhinerv.model.gelu_linear import gelu_linear
from mvhinerv.model.gelu_op import gelu
from mvhinerv.model.mlp_head_op import mlp_head
from mvhinerv.model.upsample import LN_EPS


def conv2d_nhwc(x: Tensor, weight: Tensor, bias: Tensor | None, groups: int = 1) -> Tensor:
    """'Same' zero-padded convolution of channels-last ``x`` [B, H, W, C_in] → [B, H, W, C_out]."""
    pad = weight.shape[-1] // 2
    y = F.conv2d(x.permute(0, 3, 1, 2), weight, bias, padding=pad, groups=groups)
    return y.permute(0, 2, 3, 1)


def depthwise3x3_shift(x: Tensor, weight: Tensor) -> Tensor:
    """Depthwise 3×3 'same' convolution as nine shifted multiply-adds ([B, H, W, C]).

    Same result as :func:`conv2d_nhwc` with ``groups=C``; under ``torch.compile`` the nine reads
    fuse with the following LayerNorm into one memory pass (HiNeRV is bound by such
    memory-heavy layers, inr_codecs.md §9). Slower in eager mode.
    """
    h, w = x.shape[1], x.shape[2]
    xp = F.pad(x, (0, 0, 1, 1, 1, 1))
    k = weight.view(weight.shape[0], 9).to(x.dtype)
    out = xp[:, 0:h, 0:w] * k[:, 0]
    for tap in range(1, 9):
        dy, dx = divmod(tap, 3)
        out = out + xp[:, dy:dy + h, dx:dx + w] * k[:, tap]
    return out


def _linear_init(weight: Tensor) -> None:
    """PyTorch's default Linear/Conv init (kaiming-uniform, a=√5), as HiNeRV inherits."""
    nn.init.kaiming_uniform_(weight, a=math.sqrt(5))


class Stem(nn.Module):
    """k×k convolution, base channels → C, with bias, no norm or activation (HiNeRV conv_stem).

    ``weight``: [C, C_base, k, k]; ``bias``: [C] (zero-initialised).
    """

    def __init__(self, c_in: int, c_out: int, kernel: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(c_out, c_in, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(c_out))
        _linear_init(self.weight)

    def forward(self, x: Tensor) -> Tensor:
        """[B, H, W, C_base] → [B, H, W, C]."""
        return conv2d_nhwc(x, self.weight, self.bias)

    def coded(self, prefix: str) -> list[CodedParam]:
        return [CodedParam(f"{prefix}weight", "weight", None, 0),
                CodedParam(f"{prefix}bias", "bias", None, 0)]


class ConvNeXtBlock(nn.Module):
    """Depthwise 3×3 → LayerNorm (no affine, eps 1e-6) → Linear C1→e·C2 → GELU → Linear → C2.

    No biases anywhere (HiNeRV ``block_bias False``); the residual is added only when C1 = C2.
    ``dwconv``: [C1, 1, 3, 3]; ``fc1``: [e·C2, C1]; ``fc2``: [C2, e·C2].
    """

    def __init__(self, c1: int, c2: int, expansion: int, dwconv: str = "conv") -> None:
        super().__init__()
        hidden = expansion * c2
        self.dwconv = nn.Parameter(torch.empty(c1, 1, 3, 3))
        self.fc1 = nn.Parameter(torch.empty(hidden, c1))
        self.fc2 = nn.Parameter(torch.empty(c2, hidden))
        for p in (self.dwconv, self.fc1, self.fc2):
            _linear_init(p)
        self.residual = c1 == c2
        self.dwconv_impl = dwconv

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """[B, H, W, C1] → [B, H, W, C2]; ``mask`` [B, H, W, 1] zeroes out-of-frame positions.

        On the fused path the result is the block's whole aligned row [B, H, W, A(C2)] (zeros
        past C2, A = :func:`aligned_width`), and x may be such a row too ([B, H, W, A(C1)]): the
        next block's fused layer reads the first C channels of 16-byte aligned rows in place
        (dwconv_ln.pixel_stride; a row of 70 values per pixel made its forward 20 % slower,
        docs/model.md § Speed), the residual sum needs no pad, and the upsampler reads the
        row whole (``upsample(..., channels=)``), so that no gradient is copied into a wider
        row in the backward (≈ 0.05 ms per S step at 1080p; with the residual sums' backward
        ≈ 0.1 ms).
        """
        if self.fused:  # GELU and fc2 as one op: its backward forms ∂h in one Triton kernel
            h = self.pre_activation(x)
            y = gelu_linear(h, self.fc2_for(h))  # [B, H, W, A(C2)]
        else:
            g = self.hidden(x)
            y = F.linear(g, self.fc2_for(g))
        if self.residual:
            # A sum in cuBLAS's epilogue (addmm, where x has g's dtype) was no faster: PyTorch
            # copies x into the output before the product (nineteenth session).
            y = y + (F.pad(x, (0, y.shape[-1] - x.shape[-1])) if y.shape[-1] > x.shape[-1] else x)
        if mask is not None:
            y = y * mask.to(y.dtype)
        return y

    def hidden(self, x: Tensor) -> Tensor:
        """The block before its second linear, GELU(fc1(LN(dwconv(x)))): [B, H, W, e·C2].

        On the fused path the result is [B, H, W, A(e·C2)] with zeros past e·C2 (A(n) =
        :func:`aligned_width`): the depthwise conv + LayerNorm op writes a row of A(C1)
        channels (zeros past C1) and fc1 is zero-padded to [A(e·C2), A(C1)]. The same function
        (the pad products are exact zeros, GELU(0) = 0), but the matmuls' operands are 16-byte
        aligned: with HiNeRV's widths (35, 70, 140 …) cuBLAS falls back to CUTLASS ``align1``/
        ``align2`` kernels. Measured on an H200 (docs/performance.md § Training step): every block
        MLP of S at 1080p 17.2 → 12.1 ms alone (``tools/bench_mlp_align.py``); in the training
        step the matmuls 6.7 → 5.6 ms per frame. GELU is then :func:`mvhinerv.model.gelu_op.gelu`
        (Triton kernels; erf to 1.5e-7)."""
        if self.fused:
            return gelu(self.pre_activation(x))  # GELU as Triton kernels too (mvhinerv.model.gelu_op)
        if self.dwconv_impl == "shift":
            y = depthwise3x3_shift(x, self.dwconv)
        else:
            y = conv2d_nhwc(x, self.dwconv, None, groups=x.shape[-1])
        y = F.layer_norm(y, (y.shape[-1],), eps=LN_EPS)
        return F.gelu(F.linear(y, self.fc1))

    def pre_activation(self, x: Tensor) -> Tensor:
        """fc1(LN(dwconv(x))) on the fused path: [B, H, W, A(e·C2)], zeros past e·C2 (fc1
        zero-padded to [A(e·C2), A(C1)], :meth:`hidden`)."""
        y = self.normed(x)
        hidden, c1 = self.fc1.shape
        return F.linear(y, F.pad(self.fc1, (0, y.shape[-1] - c1, 0, aligned_width(hidden) - hidden)))

    @property
    def fused(self) -> bool:
        """Whether the block runs on the fused path (Triton kernels; ``dwconv="fused"``)."""
        return self.dwconv_impl == "fused"

    def normed(self, x: Tensor) -> Tensor:
        """LN(dwconv(x)) on the fused path: [B, H, W, A(C1)], zeros past C1 (the fused op's
        aligned row, :func:`mvhinerv.model.dwconv_ln.dwconv_ln`); x has C1 or more values per
        pixel (:meth:`forward`), its first C1 read in place."""
        c1 = self.dwconv.shape[0]
        return dwconv_ln(x[..., :c1], self.dwconv, LN_EPS, width=aligned_width(c1))

    def fc2_for(self, g: Tensor) -> Tensor:
        """fc2 [C2, e·C2] zero-padded to ``g``'s width (the :meth:`hidden` or
        :meth:`pre_activation` map it multiplies) and, on the fused path, to A(C2) outputs (cut
        back by the caller)."""
        c2, hidden = self.fc2.shape
        rows = aligned_width(c2) if self.fused else c2
        if (rows, g.shape[-1]) == (c2, hidden):
            return self.fc2
        return F.pad(self.fc2, (0, g.shape[-1] - hidden, 0, rows - c2))

    def coded(self, prefix: str) -> list[CodedParam]:
        return [CodedParam(f"{prefix}{n}", "weight", None, 0) for n in ("dwconv", "fc1", "fc2")]


class Head(nn.Module):
    """Linear C_last → outputs with bias, then sigmoid: RGB and normalised depth in [0, 1].

    ``weight``: [outputs, C_last]; ``bias``: [outputs] (zero-initialised).
    """

    def __init__(self, c_in: int, outputs: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(outputs, c_in))
        self.bias = nn.Parameter(torch.zeros(outputs))
        _linear_init(self.weight)

    def forward(self, x: Tensor) -> Tensor:
        """[B, H, W, C_last] (or more values per pixel: an aligned row) → [B, H, W, outputs]."""
        return torch.sigmoid(F.linear(x[..., :self.weight.shape[1]], self.weight, self.bias))

    def after(self, g: Tensor, fc2: Tensor) -> Tensor:
        """``forward(g @ fc2ᵀ)`` as one matmul: the head applied to the output of a last block
        without a residual, given that block's :meth:`ConvNeXtBlock.hidden` map ``g``
        [B, H, W, n] (zeros past fc2's width) and ``fc2`` [C_last, e·C_last].

        Two linear maps in a row are one: weight · fc2 [outputs, e·C_last] is formed in float32
        (or the parameters' wider dtype; a few hundred products), zero-padded to n inputs and
        A(outputs) outputs (16-byte aligned operands; cut back before the sigmoid). The
        full-resolution C_last-wide map and its gradient are never formed: on an H200 that
        saved fc2's full-resolution matmul and two of its backward matmuls, ≈ 0.4 ms of the S
        step at 1080p (docs/performance.md § Training step). Gradients reach weight and fc2
        through the product, so the parameters, their coding and the function are unchanged;
        only the rounding differs (one bf16 rounding fewer)."""
        outputs = self.weight.shape[0]
        weight = self._folded(fc2).to(g.dtype)
        pad = aligned_width(outputs) - outputs
        weight = F.pad(weight, (0, g.shape[-1] - weight.shape[1], 0, pad))
        return torch.sigmoid(F.linear(g, weight, F.pad(self.bias, (0, pad)))[..., :outputs])

    def _folded(self, fc2: Tensor) -> Tensor:
        """weight · fc2 [outputs, e·C_last], formed in float32 (or the parameters' wider dtype)."""
        dtype = torch.promote_types(self.weight.dtype, torch.float32)
        with torch.autocast(fc2.device.type, enabled=False):
            return self.weight.to(dtype) @ fc2.to(dtype)

    def mlp_head(self, y: Tensor, fc1: Tensor, fc2: Tensor) -> Tensor:
        """``after(GELU(y · fc1ᵀ), fc2)`` as one Triton kernel per direction
        (:func:`mvhinerv.model.mlp_head_op.mlp_head`), for a last block on the fused path:
        ``y`` [B, H, W, n] is its :meth:`ConvNeXtBlock.normed` map (zeros past fc1's width),
        ``fc1`` [e·C_last, C] and ``fc2`` [C_last, e·C_last] its linears. Returns [B, H, W,
        outputs] in float32.

        The e·C-wide hidden map, the pre-activations and their gradients are never stored: at
        1080p those were nine passes over 40- and 72-wide maps, ≈ 1.15 ms of the S step on an H200
        (docs/performance.md § Training step). Same parameters, same function; h and the
        pre-activation stay in float32 where autocast rounds them to bf16."""
        w1 = F.pad(fc1, (0, y.shape[-1] - fc1.shape[1]))
        return mlp_head(y, w1, self._folded(fc2), self.bias)

    def coded(self, prefix: str) -> list[CodedParam]:
        return [CodedParam(f"{prefix}weight", "weight", None, 0),
                CodedParam(f"{prefix}bias", "bias", None, 0)]
