"""Shared test fixtures: the repository path and a CLI runner."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def one_thread():
    """Torch on one CPU thread for a test module, restored after it.

    Tests work on tiny tensors: one thread is as fast, and on a shared CI machine OpenMP threads
    contending with other processes cost far more than they bring. Use it with
    ``pytestmark = pytest.mark.usefixtures("one_thread")`` or as a fixture argument.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture()
def cli():
    """Invoke ``mvcodec`` in-process: ``cli(["env", "--json"])`` -> click Result."""
    from click.testing import CliRunner

    from mvhinerv.cli import main

    runner = CliRunner()

    def run(args: list[str]):
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)

    return run
