"""``mvcodec metrics`` (PSNR / WS-PSNR / IV-PSNR of two raw YUV files) and ``mvcodec bdrate``.

Both are thin: parse options, call :func:`ctc.metrics.compare_yuv_files` or
:func:`ctc.bdrate.bd_rate_table`, print. Definitions: ``docs/metrics.md``.
"""

from __future__ import annotations

import json
import math

import click

from ctc.bdrate import METHODS, bd_rate_table, read_rd_csv
from ctc.errors import InputError
from ctc.metrics import ErpRange, compare_yuv_files
from ctc.metrics.aggregate import parse_frames
from mvhinerv.cli.group import main


def parse_size(text: str) -> tuple[int, int]:
    """``"1920x1080"`` → ``(1920, 1080)``; anything else is an :class:`InputError` on ``--size``."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise InputError("--size", f"expected WxH (e.g. 1920x1080), got {text!r}") from None
    if w <= 0 or h <= 0:
        raise InputError("--size", f"width and height must be positive, got {text!r}")
    return w, h


def parse_range(text: str, option: str) -> tuple[float, float]:
    """``"-180,180"`` → ``(-180.0, 180.0)``."""
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise InputError(option, f"expected MIN,MAX in degrees, got {text!r}") from None
    return lo, hi


def _fmt(value: float) -> str:
    return f"{value:8.4f}" if math.isfinite(value) else "     n/a"


@main.command("metrics")
@click.option("--ref", "ref", required=True, type=click.Path(dir_okay=False), help="Reference raw YUV file.")
@click.option("--test", "test", required=True, type=click.Path(dir_okay=False), help="Test raw YUV file.")
@click.option("--size", required=True, metavar="WxH", help="Luma size, e.g. 1920x1080.")
@click.option("--pix-fmt", "pix_fmt", required=True, help="ffmpeg pix_fmt, e.g. yuv420p10le (sets the bit depth).")
@click.option("--frames", default=None, metavar="A:B", help="Frames A..B-1 (either side may be empty; N = one frame).")
@click.option("--erp", is_flag=True, help="Equirectangular: adds WS-PSNR and ERP-weighted IV-PSNR.")
@click.option("--lon-range", default="-180,180", show_default=True, help="ERP longitude range (degrees).")
@click.option("--lat-range", default="-90,90", show_default=True, help="ERP latitude range (degrees).")
@click.option("--mask", "mask", default=None, type=click.Path(dir_okay=False),
              help="Mask YUV (luma used, 0 = ignored): masked PSNR/IV-PSNR as the reference's -im.")
@click.option("--mask-pix-fmt", default=None, help="pix_fmt of the mask file (default: --pix-fmt).")
@click.option("--device", type=click.Choice(("cpu", "cuda", "auto")), default="cpu", show_default=True,
              help="Where IV-PSNR's window search runs.")
@click.option("--json", "as_json", is_flag=True, help="Print settings, per-frame and mean values as JSON.")
def metrics_command(ref: str, test: str, size: str, pix_fmt: str, frames: str | None, erp: bool, lon_range: str,
                    lat_range: str, mask: str | None, mask_pix_fmt: str | None, device: str, as_json: bool) -> None:
    """PSNR (Y, Cb, Cr, 6:1:1), WS-PSNR (ERP) and IV-PSNR (reference software v7.1) of two YUV files.

    Values are per frame and their arithmetic mean in dB, as the IV-PSNR software reports them.
    """
    width, height = parse_size(size)
    erp_range = ErpRange(parse_range(lon_range, "--lon-range"), parse_range(lat_range, "--lat-range")) if erp else None
    result = compare_yuv_files(ref, test, width, height, pix_fmt, frames=parse_frames(frames), erp=erp_range,
                               mask_path=mask, mask_pix_fmt=mask_pix_fmt, device=device)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    keys = list(result.mean)
    click.echo("frame    " + " ".join(f"{k:>11}" for k in keys))
    for index, values in zip(result.frames, result.per_frame):
        click.echo(f"{index:<8} " + " ".join(f"{_fmt(values[k]):>11}" for k in keys))
    click.echo("mean     " + " ".join(f"{_fmt(result.mean[k]):>11}" for k in keys))


@main.command("bdrate")
@click.option("--anchor", required=True, type=click.Path(dir_okay=False), help="Anchor RD points (CSV).")
@click.option("--test", required=True, type=click.Path(dir_okay=False), help="Test RD points (CSV).")
@click.option("--method", type=click.Choice(METHODS), default="pchip", show_default=True,
              help="Interpolation: pchip (JVET CTC sheet), cubic (VCEG-M33) or akima.")
@click.option("--quality", default="psnr", show_default=True, help="Name of the quality column.")
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON.")
def bdrate_command(anchor: str, test: str, method: str, quality: str, as_json: bool) -> None:
    """BD-rate (%) and BD-PSNR (dB) of TEST against ANCHOR, per sequence and their mean.

    Each CSV has a header with a ``rate`` column and the quality column (``psnr`` by default) and,
    optionally, a ``sequence`` column. Rates may be in any unit common to both files.
    """
    table = bd_rate_table(read_rd_csv(anchor, quality), read_rd_csv(test, quality), method)
    if as_json:
        click.echo(json.dumps(table, indent=2))
        return
    width = max([len("sequence")] + [len(r["sequence"]) for r in table["rows"]])
    click.echo(f"{'sequence':<{width}}  BD-rate (%)  BD-{quality} (dB)  note")
    for row in table["rows"]:
        click.echo(f"{row['sequence']:<{width}}  {_fmt(row['bd_rate']):>11}  {_fmt(row['bd_psnr']):>14}  {row['note']}")
    mean = table["mean"]
    click.echo(f"{'mean':<{width}}  {_fmt(mean['bd_rate']):>11}  {_fmt(mean['bd_psnr']):>14}  ({method})")
