"""Helpers shared by the ``tests/test_bitstream_*.py`` files (not a test module)."""

from __future__ import annotations

import importlib.util
import json
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOLDEN_DIR = REPO / "tests" / "data" / "golden"


@cache
def make_golden():
    """``tools/make_golden.py`` as a module (its ``sample_contents`` builds the golden contents)."""
    spec = importlib.util.spec_from_file_location("make_golden", REPO / "tools" / "make_golden.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def golden_bytes(name: str = "v1_0_entropy") -> bytes:
    return (GOLDEN_DIR / f"{name}.bin").read_bytes()


def golden_expected(name: str = "v1_0_entropy") -> dict:
    return json.loads((GOLDEN_DIR / f"{name}.json").read_text())
