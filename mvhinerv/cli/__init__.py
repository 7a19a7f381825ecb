"""Command-line interface: ``mvcodec <command>``.

The CLI is thin: every command parses its options, calls one library function and prints.
Each command lives in its own module below; importing it registers it on :data:`main`.
"""

from __future__ import annotations

import importlib

from mvhinerv.cli.group import main

# One module per command family; each registers its commands on ``main`` when imported.
_COMMAND_MODULES = (
    "env",
    "arch",
    "ctc_cmd",
    "metrics",
    "synth",
    "content",
    "info",
    "codec",
)

for _name in _COMMAND_MODULES:
    importlib.import_module(f"mvhinerv.cli.{_name}")

__all__ = ["main"]
