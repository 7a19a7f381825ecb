"""The ``mvcodec`` click group and its one rule for errors.

User errors (:class:`ctc.errors.InputError`, :class:`bitstream.errors.BitstreamError` and their
subclasses) print one line, ``mvcodec: error: <file>: <problem>``, and exit with status 2: never a
traceback. Ctrl-C exits with status 130 after the command has saved what it can (training writes a
checkpoint). Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys

import click

from bitstream.errors import BitstreamError
from ctc.errors import InputError

USER_ERRORS: tuple[type[BaseException], ...] = (InputError, BitstreamError)


class MvcodecGroup(click.Group):
    """A click group that turns user errors into one line and exit status 2."""

    def invoke(self, ctx: click.Context):  # noqa: D102 (click API)
        try:
            return super().invoke(ctx)
        except USER_ERRORS as err:
            click.echo(f"mvcodec: error: {err}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("mvcodec: interrupted", err=True)
            sys.exit(130)


@click.group(cls=MvcodecGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mvcodec", prog_name="mvcodec")
def main() -> None:
    """mvcodec: MV-HiNeRV, a neural codec for MPEG Immersive Video (texture + depth).

    Encode multi-view sequences into a bitstream, decode them, synthesise novel views and
    measure everything against VVenC/x265 anchors with IV-PSNR and BD-rate.
    """
