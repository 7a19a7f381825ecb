"""Every hand-written Triton kernel compiles for an H100/H200 (sm_90), on any machine.

Triton's interpreter (the CPU tests of test_model_dwconv_ln.py, test_model_upsample.py, …)
checks what the kernels compute but accepts code that the compiler rejects; the GPU tests run
only where there is a GPU. Compiling ahead of time for a ``GPUTarget`` needs no GPU (Triton
ships its LLVM backend and ptxas), so CI catches such errors too."""

from __future__ import annotations

import pytest

triton = pytest.importorskip("triton", reason="Triton is a test dependency (pyproject [test])")

from triton.backends.compiler import GPUTarget  # noqa: E402
from triton.compiler import ASTSource  # noqa: E402

HOPPER = GPUTarget("cuda", 90, 32)


def _compile(fn, types: dict[str, str], constexprs: dict[str, object], num_warps: int = 4) -> str:
    """PTX of ``fn`` for sm_90; pointer arguments 16-byte aligned, as PyTorch's allocations are
    (Triton specialises them so at run time)."""
    signature = {name: types.get(name, "constexpr" if name in constexprs else "i32") for name in fn.arg_names}
    aligned = {(i,): [["tt.divisibility", 16]] for i, name in enumerate(fn.arg_names)
               if signature[name].startswith("*")}
    compiled = triton.compile(ASTSource(fn=fn, signature=signature, constexprs=constexprs, attrs=aligned),
                              target=HOPPER, options={"num_warps": num_warps})
    assert ".entry" in compiled.asm["ptx"] and compiled.asm["cubin"]  # ptxas ran too
    return compiled.asm["ptx"]


@pytest.mark.parametrize("cm, ct, padded", [(64, 8, False), (32, 0, False), (64, 8, True)])
def test_dwconv_ln_kernels_compile_for_sm90(cm, ct, padded):
    from mvhinerv.model import dwconv_ln_kernels as k

    _compile(k.fwd_kernel, {"x_ptr": "*fp32", "wt_ptr": "*fp32", "y_ptr": "*bf16", "rstd_ptr": "*fp32", "eps": "fp32"},
             {"BLOCK_W": 16, "CM": cm, "CT": ct, "MAIN_REAL": True, "WS": cm + ct, "ALIGN": 8 if padded else 1})
    _compile(k.bwd_z_kernel, {"y_ptr": "*bf16", "g_ptr": "*bf16", "rstd_ptr": "*fp32", "dz_ptr": "*bf16"},
             {"C": cm + ct - 2, "XS": cm + ct if padded else cm + ct - 2, "CY": cm + ct, "BLOCK_W": 16, "CM": cm,
              "CT": ct})
    bm = 256 // cm
    bt = 256 // ct if ct else bm
    _compile(k.bwd_wx_kernel, {"x_ptr": "*fp32", "dz_ptr": "*bf16", "w_ptr": "*fp32", "dx_ptr": "*fp32",
                               "dwm_ptr": "*fp32", "dwt_ptr": "*fp32"},
             {"ROWS": 32, "BM": bm, "CM": cm, "BT": bt, "CT": ct, "K": bt // bm, "SUBS": bt // bm + (ct > 0)},
             num_warps=8)


@pytest.mark.parametrize("align", [1, 8])
def test_aligned_forward_loads_eight_channels_per_instruction(align):
    """The point of ``fwd_kernel``'s ALIGN: with rows of a multiple of 8 values per pixel, each
    tap of the main group is one 16-byte load per thread (``ld.global.v4.b32``: 8 bf16), where
    the same kernel without the hint issues only 2-byte loads. A Triton upgrade that loses this
    would slow the fused layer by a fifth without changing any result."""
    from mvhinerv.model import dwconv_ln_kernels as k

    ptx = _compile(k.fwd_kernel, {"x_ptr": "*bf16", "wt_ptr": "*fp32", "y_ptr": "*bf16", "rstd_ptr": "*fp32",
                                  "eps": "fp32"},
                   {"BLOCK_W": 32, "CM": 64, "CT": 8, "MAIN_REAL": True, "WS": 72, "ALIGN": align})
    vector_loads = ptx.count("ld.global.v4.b32")
    if align == 8:
        assert vector_loads >= 9  # the nine taps of x (the weights' rows may add more)
    else:
        assert "ld.global.b16" in ptx and vector_loads == 0


@pytest.mark.parametrize("scale, ct, align", [(1, 8, 8), (2, 8, 8), (3, 8, 8), (5, 8, 8), (2, 1, 1)])
def test_upsample_kernels_compile_for_sm90(scale, ct, align):
    """LayerNorm statistics, LayerNorm + stencil, the stencil's adjoint and the LayerNorm's
    backward; with rows of a multiple of 8 values (``ALIGN``) the main group's loads of x and ∂x̂
    and gathers of ∂U load several channels at once."""
    from mvhinerv.model import upsample_kernels as k

    consts = {"S": scale, "BLOCK_W": 16, "CM": 64, "CT": ct, "ALIGN": align}
    stats = _compile(k.ln_stats_kernel, {"x_ptr": "*bf16", "mean_ptr": "*fp32", "rstd_ptr": "*fp32", "eps": "fp32"},
                     {"BLOCK_P": 16, "CM": 64, "CT": ct, "ALIGN": align})
    fwd = _compile(k.up_fwd_kernel, {"x_ptr": "*bf16", "mean_ptr": "*fp32", "rstd_ptr": "*fp32", "tile_ptr": "*bf16",
                                     "rf_ptr": "*fp32", "cf_ptr": "*fp32", "u_ptr": "*bf16"}, consts)
    bwd = _compile(k.up_bwd_kernel, {"du_ptr": "*bf16", "rf_ptr": "*fp32", "cf_ptr": "*fp32", "gx_ptr": "*fp32",
                                     "dtile_ptr": "*fp32"},
                   consts | {"BLOCK_W": 2, "ROWS": 16, "SS": 1 << (scale * scale - 1).bit_length()}, num_warps=1)
    ln_bwd = _compile(k.ln_bwd_kernel, {"g_ptr": "*fp32", "x_ptr": "*bf16", "mean_ptr": "*fp32", "rstd_ptr": "*fp32",
                                        "dx_ptr": "*bf16"}, {"BLOCK_P": 16, "CM": 64, "CT": ct, "ALIGN": align})
    if align > 1:
        assert all("ld.global.v2.b32" in ptx or "ld.global.v4.b32" in ptx for ptx in (stats, fwd, bwd, ln_bwd))


@pytest.mark.parametrize("lum, has_valid, want_grad", [(False, False, True), (True, True, False)])
def test_ssim_kernels_compile_for_sm90(lum, has_valid, want_grad):
    from mvhinerv.train import ssim_kernels as k

    _compile(k.ssim_fwd_kernel, {"x_ptr": "*fp32", "y_ptr": "*fp32", "g_ptr": "*fp32", "valid_ptr": "*fp32",
                                 "part_ptr": "*fp32", "coef_ptr": "*fp32", "c1": "fp32", "c2": "fp32"},
             {"K": 5, "KP": 8, "RS": 32, "BW": 128, "LUM": lum, "HAS_VALID": has_valid, "WANT_GRAD": want_grad})
    _compile(k.ssim_bwd_kernel, {"x_ptr": "*fp32", "y_ptr": "*fp32", "g_ptr": "*fp32", "coef_ptr": "*fp32",
                                 "go_ptr": "*fp32", "dx_ptr": "*fp32"}, {"K": 5, "KP": 8, "RS": 32, "BW": 128})


@pytest.mark.parametrize("dtype", ["bf16", "fp32"])
def test_gelu_kernels_compile_for_sm90(dtype):
    from mvhinerv.model import gelu_kernels as k

    _compile(k.gelu_fwd_kernel, {"h_ptr": f"*{dtype}", "a_ptr": f"*{dtype}"}, {"BLOCK": 4096})
    _compile(k.gelu_bwd_kernel, {"g_ptr": f"*{dtype}", "h_ptr": f"*{dtype}", "dh_ptr": f"*{dtype}"}, {"BLOCK": 4096})


@pytest.mark.parametrize("rows", [16, 128])
def test_colsum_kernel_compiles_for_sm90(rows):
    from mvhinerv.model import colsum_kernels as k

    _compile(k.colsum_kernel, {"x_ptr": "*fp32", "out_ptr": "*fp32"}, {"ROWS": rows, "BR": 16, "BN": 64})


@pytest.mark.parametrize("inputs, hidden", [((64, 16), (32, 16)), ((64, 0), (64, 0))])
def test_mlp_head_kernels_compile_for_sm90(inputs, hidden):
    """The last block's MLP + head (S's last stage: rows of 72 inputs, 70 real → 35 → 4, inputs
    as 64 + 16 lanes), with and without tail groups of inputs and hidden units."""
    from mvhinerv.model import mlp_head_kernels as k

    types = {"y_ptr": "*bf16", "w1_ptr": "*fp32", "w2_ptr": "*fp32", "b_ptr": "*fp32", "o_ptr": "*fp32",
             "do_ptr": "*fp32", "dy_ptr": "*bf16", "dw1_ptr": "*fp32", "dw2_ptr": "*fp32", "db_ptr": "*fp32"}
    (km, kt), (hm, ht) = inputs, hidden
    shape = {"K": 72 if kt else 64, "H": 35, "O": 4, "KM": km, "KT": kt, "OP": 16, "ALIGN": 8, "IEEE": False}
    ptx = _compile(k.mlp_head_fwd_kernel, types, shape | {"BM": 128, "HM": hm, "HT": ht})
    assert ptx.count("ld.global.v4.b32") > 0  # y's rows of 72 bf16: 16-byte loads
    _compile(k.mlp_head_bwd_kernel, types, shape | {"BM": 64, "HP": 64, "PER_PROGRAM": 4})


@pytest.mark.parametrize("k, c, tiling, wide", [(72, 280, "_NARROW", False), (144, 560, "_WIDE", False),
                                                (280, 1120, "_WIDE", True)])
def test_gelu_linear_grad_kernel_compiles_for_sm90(k, c, tiling, wide):
    """∂h = (∂y·W) ⊙ GELU'(h) at S's shapes (stages 2, 1, 0) with the tilings the op uses: h and ∂h
    move as 16-byte vectors (the masks compare with the constant C; a run-time bound there made
    the accesses scalar and the kernel ≈ 20 % slower on an H200)."""
    from mvhinerv.model import gelu_linear as op
    from mvhinerv.model import gelu_linear_kernels as kern
    from mvhinerv.model.mlp_head_op import _split

    t = getattr(op, tiling)
    km, kt = _split(k)
    types = {"dy_ptr": "*bf16", "w_ptr": "*bf16", "h_ptr": "*bf16", "dh_ptr": "*bf16"}
    ptx = _compile(kern.gelu_linear_grad_kernel, types,
                   {"K": k, "C": c, "BM": t.bm, "BN": t.bn, "KM": km, "KT": kt, "CHUNKS": 3, "PRE_W": t.pre_w,
                    "STAGES": t.stages, "ALIGN": 8, "WIDE": wide, "IEEE": False}, num_warps=t.warps)
    assert ptx.count("st.global.v4.b32") > 0 and "st.global.b16" not in ptx
    assert ptx.count("ld.global.v4.b32") > 0 and "ld.global.b16" not in ptx
