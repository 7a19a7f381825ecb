"""User-facing errors of the codec (bad presets, λ, view lists...)."""

from __future__ import annotations

from ctc.errors import InputError


class ConfigError(InputError):
    """An encoder/architecture setting the user gave cannot be used (``str()`` is one line)."""
