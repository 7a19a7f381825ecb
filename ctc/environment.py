"""What this machine has: versions, devices and encoders (``mvcodec env``, result files).

Every result file of the harness embeds this report so that numbers can be traced to the
software that produced them.
"""

from __future__ import annotations

import functools
import platform
import re
import subprocess
import sys
from importlib import metadata


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def ffmpeg_exe() -> str | None:
    """Path of the ffmpeg binary shipped by ``imageio-ffmpeg`` (None when unavailable)."""
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError:
        return None


@functools.lru_cache(maxsize=1)
def ffmpeg_capabilities() -> dict[str, object]:
    """ffmpeg's version line and whether it has libvvenc, libx265 and the native VVC/HEVC decoders."""
    exe = ffmpeg_exe()
    if exe is None:
        return {"ffmpeg": None, "ffmpeg_version": "not found", "libvvenc": False, "libx265": False,
                "vvc_decoder": False, "hevc_decoder": False}
    version = subprocess.run([exe, "-hide_banner", "-version"], capture_output=True, text=True,
                             check=False).stdout.splitlines()
    encoders = subprocess.run([exe, "-hide_banner", "-encoders"], capture_output=True, text=True,
                              check=False).stdout
    decoders = subprocess.run([exe, "-hide_banner", "-decoders"], capture_output=True, text=True,
                              check=False).stdout

    def has(table: str, name: str) -> bool:
        return re.search(rf"^\s*\S+\s+{re.escape(name)}\s", table, re.MULTILINE) is not None

    return {
        "ffmpeg": exe,
        "ffmpeg_version": version[0] if version else "unknown",
        "libvvenc": has(encoders, "libvvenc"),
        "libx265": has(encoders, "libx265"),
        "vvc_decoder": has(decoders, "vvc"),
        "hevc_decoder": has(decoders, "hevc"),
    }


def torch_devices() -> list[str]:
    """CUDA devices as ``"cuda:i NAME (X GiB)"``; empty when there is none."""
    try:
        import torch
    except ImportError:
        return []
    if not torch.cuda.is_available():
        return []
    out = []
    for i in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(i)
        out.append(f"cuda:{i} {props.name} ({props.total_memory / 2**30:.0f} GiB)")
    return out


def environment_report() -> dict[str, object]:
    """A flat, JSON-serialisable description of the software and hardware in use."""
    try:
        import torch

        torch_version = torch.__version__
        cuda = torch.version.cuda or "none"
        threads = torch.get_num_threads()
    except ImportError:  # pragma: no cover - torch is a dependency
        torch_version, cuda, threads = "not installed", "none", 0
    ff = ffmpeg_capabilities()
    return {
        "mvcodec": _version("mvcodec"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch_version,
        "torch_cuda": cuda,
        "torch_threads": threads,
        "cuda_devices": torch_devices(),
        "numpy": _version("numpy"),
        "constriction": _version("constriction"),
        "av (PyAV)": _version("av"),
        "imageio-ffmpeg": _version("imageio-ffmpeg"),
        "ffmpeg": ff["ffmpeg"] or "not found",
        "ffmpeg_version": ff["ffmpeg_version"],
        "libvvenc": ff["libvvenc"],
        "libx265": ff["libx265"],
        "vvc_decoder": ff["vvc_decoder"],
        "hevc_decoder": ff["hevc_decoder"],
    }
