"""Shared by the view-synthesis tests (tests/test_synth_*.py).

The synthesis tests work on images of a few thousand pixels: torch's intra-op thread pool costs
more than it gains there, and on a busy 2-core CI machine spinning threads slow every other test.
Importing :func:`one_thread` into a test module runs each of its tests on one thread.
"""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """Run the test with one intra-op torch thread, restoring the previous count afterwards."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
