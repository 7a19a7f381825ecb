"""User-facing errors of the ``ctc`` package.

Every problem a user can fix (a missing file, a file whose size is not a whole number of frames,
malformed JSON/YAML, an unknown name) is raised as :class:`InputError`. Its ``str()`` is the single
line the CLI prints before exiting with status 2: it names the file (or option) and the problem.
"""

from __future__ import annotations

import os


class InputError(ValueError):
    """A user input problem; ``str(err)`` is one line: ``"<where>: <problem>"``.

    Args:
        where: the file path, option or name at fault (``None`` when there is none).
        problem: what is wrong, in a few words, with the values that matter.
    """

    def __init__(self, where: str | os.PathLike[str] | None, problem: str) -> None:
        self.where = None if where is None else os.fspath(where)
        self.problem = problem
        super().__init__(problem if self.where is None else f"{self.where}: {problem}")


class MissingFileError(InputError, FileNotFoundError):
    """A file the user named (or a sequence refers to) does not exist."""


class FormatError(InputError):
    """A file exists but its content or size does not fit its declared format."""
