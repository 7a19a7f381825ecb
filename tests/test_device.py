"""``ctc.device.resolve_device``: the one meaning of ``--device`` for every command."""

from __future__ import annotations

import pytest
import torch

from ctc.device import resolve_device
from ctc.errors import InputError


def test_names():
    expected_auto = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected_auto
    assert resolve_device(None).type == expected_auto
    assert resolve_device(None, default="cpu") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu") == resolve_device(torch.device("cpu"))


@pytest.mark.parametrize("name", ["tpu", "gpu0", "meta", ""])
def test_unknown_names_are_input_errors(name):
    with pytest.raises(InputError, match="unknown device"):
        resolve_device(name)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("name", ["cuda", "cuda:1"])
def test_cuda_without_a_cuda_device(name):
    with pytest.raises(InputError, match="no CUDA device"):
        resolve_device(name)


def test_training_and_decoding_refuse_cuda_without_it(tmp_path):
    """The training loop once fell through to torch's own error here (now one line, exit 2)."""
    from codec_support import make_sequence

    from mvhinerv.codec import encode_sequence

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(InputError, match="no CUDA device"):
        encode_sequence(make_sequence(tmp_path / "src"), tmp_path / "o.bin", preset="tiny", schedule="smoke",
                        lmbda=1.0, device="cuda", progress=False)
    assert not (tmp_path / "o.bin").exists()
