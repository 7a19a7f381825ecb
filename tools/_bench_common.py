"""What the benchmarks (``tools/bench_model.py``, ``bench_train.py``, ``bench_decode.py``,
``bench_content.py``) share: device choice, torch CPU threads, TF32, timing synchronisation, the
machine's name and the JSON report file.

One place for them because a benchmark number is only comparable with another taken under the
same settings: every tool resolves ``--device`` and ``--threads`` the same way and names the
machine the same way in its report (docs/performance.md quotes these reports).

Importing this module also puts the repository root on ``sys.path``, so that a tool run as
``python tools/bench_x.py`` (``sys.path[0]`` = ``tools/``) imports ``ctc``/``mvhinerv`` from the
checkout even without ``pip install -e``.
"""

from __future__ import annotations

import json
import platform
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from ctc.atomic import write_bytes_atomic  # noqa: E402


def bench_device(name: str, threads: int | None = None, tf32: bool = False) -> torch.device:
    """The device of ``--device`` (``auto``: CUDA when available, else CPU), set up for timing.

    Args:
        threads: torch CPU threads (0 or None: torch's default, usually one per core).
        tf32: allow TF32 for fp32 matmuls and convolutions on CUDA (Ampere and later). The
            network benchmarks use it so that their fp32 rows measure the tensor cores, as the
            bf16 rows do; it does not change anything on CPU.

    Raises:
        SystemExit: ``cuda`` asked for but torch sees no CUDA device (a one-line message, not a
            traceback from deep inside the first CUDA call).
    """
    if threads:
        torch.set_num_threads(threads)
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"{Path(sys.argv[0]).name}: --device cuda but torch sees no CUDA device")
    device = torch.device(name)
    if tf32 and device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    return device


def sync(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA runs asynchronously): call it on both sides of a
    timed region, or the clock measures only the kernel launches."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def device_name(device: torch.device) -> str:
    """The GPU's name on CUDA, else the CPU's (``platform.processor()``, or the machine type where
    the platform does not say, e.g. on many Linux distributions)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return platform.processor() or platform.machine()


def write_report(path: Path, report: Mapping[str, Any]) -> None:
    """Write a benchmark's JSON report atomically (no half-written file if the run is killed)."""
    write_bytes_atomic(path, (json.dumps(report, indent=2) + "\n").encode("utf-8"))
