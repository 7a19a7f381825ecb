"""``mvcodec metrics`` (PSNR / WS-PSNR / IV-PSNR of two raw YUV files) and ``mvcodec bdrate``.

Both are thin: parse options, call :func:`ctc.metrics.compare_yuv_files`,
:func:`ctc.bdrate.bd_rate_table` (CSV files) or :func:`ctc.report.compare` (``--results DIR``: a
harness result folder, the report's own numbers), print. Definitions: ``docs/metrics.md``,
``docs/ctc.md``.
"""

from __future__ import annotations

import json
import math

import click

from ctc.bdrate import METHODS, bd_rate_table, read_rd_csv
from ctc.errors import InputError
from ctc.metrics import ErpRange, compare_yuv_files
from ctc.metrics.aggregate import parse_frames
from ctc.report import MEASURES
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
@click.option("--anchor", default=None, help="Anchor: a CSV of RD points; with --results a codec name "
                                              "(default: every anchor codec in the results).")
@click.option("--test", default=None, help="Test: a CSV of RD points; with --results a codec name "
                                           "(default: every MV-HiNeRV codec in the results).")
@click.option("--results", "results_dir", default=None, type=click.Path(file_okay=False), metavar="DIR",
              help="A `mvcodec ctc run` output folder: BD-rates from its job results (DIR/jobs).")
@click.option("--measure", type=click.Choice([m.name for m in MEASURES]), default=None,
              help="With --results: the quality measure [default: ivpsnr] (Y/YUV-PSNR are WS-PSNR for ERP).")
@click.option("--method", type=click.Choice(METHODS), default="pchip", show_default=True,
              help="Interpolation: pchip (JVET CTC sheet), cubic (VCEG-M33) or akima.")
@click.option("--quality", default=None, help="With CSV files: name of the quality column [default: psnr].")
@click.option("--json", "as_json", is_flag=True, help="Print the table(s) as JSON.")
def bdrate_command(anchor: str | None, test: str | None, results_dir: str | None, measure: str | None, method: str,
                   quality: str | None, as_json: bool) -> None:
    """BD-rate (%) and BD-PSNR (dB) of TEST against ANCHOR, per sequence and their mean.

    From CSV files: each has a header with a ``rate`` column and the quality column (``psnr`` by
    default) and, optionally, a ``sequence`` column; rates may be in any unit common to both.

    From harness results (``--results DIR``): rates are the jobs' bytes and quality the job's mean
    of ``--measure``, exactly as in DIR/report.md; one table per (test, anchor) pair.
    """
    if results_dir is not None:
        if quality is not None:
            raise InputError("--quality", "applies to CSV files; with --results choose --measure")
        _bdrate_results(results_dir, anchor, test, measure or "ivpsnr", method, as_json)
        return
    if measure is not None:
        raise InputError("--measure", "applies to --results; with CSV files choose --quality")
    for option, value in (("--anchor", anchor), ("--test", test)):
        if value is None:
            raise InputError(option, "a CSV file of RD points is needed (or --results DIR)")
    quality = quality or "psnr"
    table = bd_rate_table(read_rd_csv(anchor, quality), read_rd_csv(test, quality), method)
    if as_json:
        click.echo(json.dumps(table, indent=2))
        return
    _echo_bd_table(table, f"BD-{quality} (dB)", method)


def _echo_bd_table(table: dict, quality_header: str, method: str) -> None:
    """One :func:`ctc.bdrate.bd_rate_table` result as aligned text, its mean last."""
    width = max([len("sequence")] + [len(r["sequence"]) for r in table["rows"]])
    qw = len(quality_header)
    click.echo(f"{'sequence':<{width}}  BD-rate (%)  {quality_header}  note")
    for row in table["rows"]:
        click.echo(f"{row['sequence']:<{width}}  {_fmt(row['bd_rate']):>11}  {_fmt(row['bd_psnr']):>{qw}}  {row['note']}")
    mean = table["mean"]
    click.echo(f"{'mean':<{width}}  {_fmt(mean['bd_rate']):>11}  {_fmt(mean['bd_psnr']):>{qw}}  ({method})")


def _pick(option: str, given: str | None, codecs: dict[str, str], anchors: bool, results_dir: str) -> list[str]:
    """The codec named by ``option``, or every anchor (or every non-anchor) codec of the results."""
    if given is not None:
        if given not in codecs:
            raise InputError(option, f"no codec {given!r} in {results_dir} (codecs: {', '.join(codecs)})")
        return [given]
    found = [name for name, ctype in codecs.items() if (ctype != "mvhinerv") == anchors]
    if not found:
        kind = "anchor (vvenc, x265)" if anchors else "MV-HiNeRV"
        raise InputError(results_dir, f"no {kind} codec in the results (codecs: {', '.join(codecs)}); "
                                      f"name one with {option}")
    return found


def _bdrate_results(results_dir: str, anchor: str | None, test: str | None, measure_name: str, method: str,
                    as_json: bool) -> None:
    from ctc.harness import load_results
    from ctc.report import compare, measure_named

    records = load_results(results_dir)
    codecs = {r["codec"]: r["codec_type"] for r in records}
    measure = measure_named(measure_name)
    pairs = [(t, a) for t in _pick("--test", test, codecs, False, results_dir)
             for a in _pick("--anchor", anchor, codecs, True, results_dir) if t != a]
    comparisons = [c for t, a in pairs if (c := compare(records, t, a, measure, method)) is not None]
    if not comparisons:
        raise InputError("--measure", f"no finished job in {results_dir} has {measure.label} for these codecs")
    if as_json:
        click.echo(json.dumps({"results": results_dir, "measure": measure.name, "method": method,
                               "comparisons": comparisons}, indent=2))
        return
    for index, comparison in enumerate(comparisons):
        if index:
            click.echo("")
        click.echo(f"{comparison['test']} vs {comparison['anchor']}: {measure.label}")
        _echo_bd_table(comparison, f"BD-{measure.label} (dB)", method)
