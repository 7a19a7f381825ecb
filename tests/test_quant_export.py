"""Export to QuantizedTensor and back: bit-exact symbols, identical outputs, exact rate estimate."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.func import functional_call

from bitstream.errors import BitstreamError
from bitstream.tensors import QuantizedTensor
from mvhinerv.arch import arch_from_preset
from mvhinerv.model import MVHiNeRV
from mvhinerv.quant import QuantSteps, estimated_bits, export_quantized, load_quantized, quantized_parameters, tensor_bits


@pytest.fixture(scope="module")
def trained_like():
    """A tiny 3-view model with non-trivial weights and 6-bit steps."""
    torch.manual_seed(0)
    arch = arch_from_preset("tiny", 64, 36, 5, 3)
    model = MVHiNeRV(arch)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    steps = QuantSteps(model, model.coded_parameters())
    steps.fit(model, 6)
    return arch, model, steps


def test_export_layout(trained_like):
    arch, model, steps = trained_like
    tensors = export_quantized(model, steps)
    names = [t.name for t in tensors]
    assert len(names) == len(set(names))
    params = dict(model.named_parameters())
    for c in model.coded_parameters():
        if c.view_axis is None:
            (t,) = [t for t in tensors if t.name == c.name]
            assert t.view is None and t.shape == tuple(params[c.name].shape)
        else:
            per_view = [t for t in tensors if t.name.startswith(c.name + ".view")]
            assert [t.view for t in per_view] == list(range(arch.views))
            assert all(t.shape == tuple(params[c.name].shape[1:]) for t in per_view)
    for t in tensors:
        assert t.symbols.dtype == np.int32 and t.step.dtype == np.float16
        assert t.mean.size == 1 and t.std.size == 1


def test_round_trip_is_bit_exact_and_outputs_identical(trained_like):
    arch, model, steps = trained_like
    tensors = export_quantized(model, steps)
    decoder = MVHiNeRV(arch)
    load_quantized(decoder, tensors)
    hard = quantized_parameters(dict(model.named_parameters()), steps, "hard")
    for name, value in decoder.named_parameters():
        assert torch.equal(value, hard[name].detach()), name
    views, frames = torch.tensor([0, 1, 2]), torch.tensor([0, 2, 4])
    with torch.no_grad():
        expected = functional_call(model, {k: v.detach() for k, v in hard.items()}, (views, frames))
        assert torch.equal(decoder(views, frames), expected)
    # Re-exporting the decoded model gives the same file content.
    decoder_steps = QuantSteps(decoder, decoder.coded_parameters())
    decoder_steps.load_state_dict(steps.state_dict())
    again = export_quantized(decoder, decoder_steps)
    assert all(a.same_as(b) for a, b in zip(tensors, again, strict=True))


def test_load_subset_of_views_zeroes_the_others(trained_like):
    arch, model, steps = trained_like
    tensors = [t for t in export_quantized(model, steps) if t.view in (None, 1)]
    decoder = MVHiNeRV(arch)
    load_quantized(decoder, tensors, views=[1])
    grid = dict(decoder.named_parameters())["base.levels.0"]
    assert torch.count_nonzero(grid[0]) == 0 and torch.count_nonzero(grid[1]) > 0
    with pytest.raises(BitstreamError, match=r"base\.levels\.0\.view0.*missing"):
        load_quantized(MVHiNeRV(arch), tensors)


def test_load_rejects_a_wrong_shape(trained_like):
    arch, model, steps = trained_like
    tensors = export_quantized(model, steps)
    bad = [QuantizedTensor(t.name, t.view, t.symbols[:1], t.step[:1], t.mean, t.std) if t.name == "head.weight" else t
           for t in tensors]
    with pytest.raises(BitstreamError, match="head.weight.*shape") as err:
        load_quantized(MVHiNeRV(arch), bad)
    assert "\n" not in str(err.value)


def test_estimate_matches_constriction_coded_size(trained_like):
    """The exact estimate is what constriction's QuantizedGaussian range coder produces."""
    constriction = pytest.importorskip("constriction")
    _, model, steps = trained_like
    tensors = export_quantized(model, steps)
    big = [t for t in tensors if t.numel >= 200]
    coder = constriction.stream.queue.RangeEncoder()
    for t in big:
        dist = constriction.stream.model.QuantizedGaussian(
            int(t.symbols.min()), int(t.symbols.max()), float(t.mean.ravel()[0]), float(t.std.ravel()[0]))
        coder.encode(t.symbols.ravel(), dist)
    actual = coder.num_bits()
    estimate = estimated_bits(big)
    assert estimate == pytest.approx(actual, rel=0.002, abs=64)
    assert estimate == pytest.approx(sum(tensor_bits(t) for t in big))
