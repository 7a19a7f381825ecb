"""The fused depthwise 3×3 + LayerNorm kernels (``mvhinerv.model.dwconv_ln``) against the
float64 PyTorch reference: output, ∂x and ∂w, alone and inside the network.

On a CPU the Triton kernels run in Triton's interpreter (``TRITON_INTERPRET=1``), in a subprocess
because Triton reads the flag when the kernels are defined; on a GPU they run compiled (marker
``gpu``). The float32 kernels must agree with float64 to float32 rounding; the bf16 case (x stored
in bf16, output in bf16 under autocast) to bf16 rounding of the output.
"""

from __future__ import annotations


import pytest
import torch
from interpreter_support import interpreter_report

from mvhinerv.config import EncodeConfig
from mvhinerv.errors import ConfigError
from mvhinerv.model import MVHiNeRV, default_dwconv
from mvhinerv.model.dwconv_ln import fused_available

F32 = {"y": 5e-6, "dx": 5e-6, "dw": 5e-6, "pad": 0.0}
BF16 = {"y": 3e-2, "dx": 2e-2, "dw": 1e-2, "pad": 0.0}
BLOCK = {"out": 1e-5, "pad": 0.0, "grads": 1e-5}


def _assert_within(errors: dict[str, float], limits: dict[str, float], what: str) -> None:
    bad = {k: v for k, v in errors.items() if not v <= limits[k]}
    assert not bad, f"{what}: {bad} above {limits}"


def test_kernels_match_float64_reference_in_triton_interpreter():
    report = interpreter_report("dwconv_ln_support.py")
    assert len(report["strided"]) == 4
    for shape, errors in (report["ops"] | report["padded"] | report["strided"]).items():
        _assert_within(errors, F32, shape)
    for block, errors in report["blocks"].items():
        _assert_within(errors, BLOCK, f"block {block}")
    _assert_within(report["bf16"], BF16, "bf16")
    assert report["opcheck"] == "ok"
    for name in ("model", "model_odd"):
        assert report[name]["out"] < 1e-5 and report[name]["grads"] < 1e-4, (name, report[name])


def test_default_choice_and_refusals():
    if not fused_available("cpu"):
        assert default_dwconv("cpu", compiled=False) == "conv"
        assert default_dwconv("cpu", compiled=True) == "shift"
    with pytest.raises(ConfigError, match="dwconv"):
        EncodeConfig(dwconv="cudnn")
    with pytest.raises(ConfigError, match="dwconv"):
        from mvhinerv.arch import arch_from_preset
        MVHiNeRV(arch_from_preset("tiny", 64, 36, frames=2, views=1), dwconv="triton")


def test_channel_groups_cover_the_padded_row():
    """The forward's tile covers every lane of the padded row, and its main group holds only real
    channels (its store reuses the loads' mask); blocks pad to multiples of 8."""
    from mvhinerv.model import dwconv_ln as op
    from mvhinerv.model.blocks import aligned_width

    assert [aligned_width(c) for c in (3, 8, 35, 70, 140, 280)] == [8, 8, 40, 72, 144, 280]
    assert op.channel_groups(70) == (64, 8) and op.channel_groups(35) == (32, 4) and op.channel_groups(64) == (64, 0)
    for c in range(1, 300):
        for width in {c, aligned_width(c)}:
            cm, ct = op.channel_groups(c, width)
            assert cm <= c and cm + ct >= width, (c, width, cm, ct)
            assert cm & (cm - 1) == 0 and ct & (ct - 1) == 0, (c, width, cm, ct)


@pytest.mark.gpu
def test_kernels_match_float64_reference_on_gpu():
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    from dwconv_ln_support import BLOCKS, GPU_SHAPES, PADDED, STRIDED, block_errors, model_errors, op_errors

    assert default_dwconv("cuda", compiled=True) == "fused"
    assert default_dwconv("cuda", compiled=True, training=False) == "shift"
    assert default_dwconv("cuda", compiled=False, training=False) == "fused"
    for shape in GPU_SHAPES:
        _assert_within(op_errors(shape, "cuda"), F32, str(shape))
        _assert_within(op_errors(shape, "cuda", torch.bfloat16), BF16, f"bf16 {shape}")
    for shape, width in PADDED:
        _assert_within(op_errors(shape, "cuda", width=width), F32, f"{shape} width {width}")
        _assert_within(op_errors(shape, "cuda", torch.bfloat16, width=width), BF16, f"bf16 {shape} width {width}")
    for shape, row in STRIDED + [((1, 45, 80, 140), 144), ((2, 64, 250, 35), 40)]:
        _assert_within(op_errors(shape, "cuda", width=row, row=row), F32, f"{shape} row {row}")
        _assert_within(op_errors(shape, "cuda", torch.bfloat16, width=row, row=row), BF16, f"bf16 {shape} row {row}")
    for block in BLOCKS:  # TF32 matmuls on the GPU
        _assert_within(block_errors(*block, "cuda"), {"out": 1e-2, "pad": 0.0, "grads": 1e-2}, f"block {block}")
    for overrides in ({}, {"channels": 40}, {"patch": (10, 14)}, {"patch": (10, 14), "channels": 40}):
        errors = model_errors("cuda", **overrides)
        assert errors["out"] < 1e-4 and errors["grads"] < 1e-3, (overrides, errors)


@pytest.mark.gpu
def test_fused_network_compiles_fullgraph_on_gpu():
    """The custom op stays one opaque call in a full graph; compiled = eager."""
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    from mvhinerv.arch import arch_from_preset

    arch = arch_from_preset("S", 480, 270, frames=4, views=2)
    torch.manual_seed(0)
    model = MVHiNeRV(arch, dwconv="fused").cuda()
    views, frames = torch.tensor([0, 1], device="cuda"), torch.tensor([2, 3], device="cuda")
    compiled = torch.compile(model, fullgraph=True)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        eager, fast = model(views, frames), compiled(views, frames)
    torch.testing.assert_close(fast.float(), eager.float(), atol=2e-2, rtol=0)
    fast.float().sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
