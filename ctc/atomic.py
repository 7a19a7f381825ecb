"""Write outputs atomically: to a temporary name beside the target, renamed on success.

A command that fails half-way must leave no partial output file behind (MISSION.md, bad input).
Every writer of user-visible files goes through :func:`atomic_path` or :func:`atomic_dir`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


@functools.cache
def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _publish_mode(path: Path, directory: bool = False) -> None:
    """Give a temporary file/folder the permissions a plain ``open``/``mkdir`` would have.

    ``mkstemp``/``mkdtemp`` create private (0600/0700) entries; outputs are meant to be shared.
    """
    path.chmod((0o777 if directory else 0o666) & ~_umask())


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it to ``target`` on success.

    On any exception (including ``KeyboardInterrupt``) the temporary file is removed and the
    target is left untouched (an older file of that name survives).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():
            _publish_mode(tmp_path)
        os.replace(tmp_path, target)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def write_bytes_atomic(target: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike[str], *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary folder beside ``target``; move it into place on success.

    Files written into the yielded folder appear in ``target`` only when the block completes.
    With ``overwrite``, files already in ``target`` that the block did not write are kept and the
    new files replace same-named old ones; otherwise an existing ``target`` is an error.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
    _publish_mode(tmp, directory=True)
    try:
        yield tmp
        if not target.exists():
            os.replace(tmp, target)
            return
        if not overwrite:
            raise FileExistsError(f"{target}: already exists")
        for src in sorted(tmp.rglob("*")):
            if src.is_file():
                dst = target / src.relative_to(tmp)
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.replace(src, dst)
        shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
