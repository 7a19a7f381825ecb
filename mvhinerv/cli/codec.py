"""``mvcodec encode`` and ``mvcodec decode``: the codec's two commands (thin wrappers).

Both call one function of :mod:`mvhinerv.codec` and print its report. Bad input (missing or
damaged files, unknown preset/schedule/view, λ ≤ 0) prints one line and exits 2 (``group.py``);
outputs are written atomically, so a failed command leaves no partial file.
"""

from __future__ import annotations

import math

import click

from mvhinerv.cli.group import main

DEVICES = click.Choice(["auto", "cpu", "cuda"])


def _db(x: float | None) -> str:
    if x is None:
        return "-"
    return "inf" if math.isinf(x) else f"{x:.2f}"


@main.command("encode")
@click.argument("sequence", metavar="SEQ.yaml", type=click.Path(exists=False))
@click.option("-o", "--out", "out", required=True, type=click.Path(dir_okay=False), help="Bitstream to write.")
@click.option("--preset", default="S", show_default=True, help="Model size: tiny, S, M, L, XL, XXL.")
@click.option("--schedule", default="paper", show_default=True, help="Training schedule: paper, fast, ci.")
@click.option("--lambda", "lmbda", default=1.0, show_default=True, type=float,
              help="λ: rate-distortion trade-off (larger = higher quality, more bits).")
@click.option("--device", default="auto", show_default=True, type=DEVICES, help="Training device.")
@click.option("--resume", is_flag=True, help="Continue from the checkpoint in OUT.bin.work/.")
@click.option("--no-verify", is_flag=True, help="Do not decode the written file to check it.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the training run.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Any other encoder setting (docs/training.md § Settings), value in YAML; repeatable, "
                   "e.g. --set patch=[120,120] --set init_bits=6.")
@click.option("-q", "--quiet", is_flag=True, help="No schedule table or progress bars.")
def encode_command(sequence: str, out: str, preset: str, schedule: str, lmbda: float, device: str,
                   resume: bool, no_verify: bool, seed: int, overrides: tuple[str, ...], quiet: bool) -> None:
    """Train MV-HiNeRV on SEQ.yaml and write its bitstream (then decode it to verify)."""
    from mvhinerv.codec import encode_sequence
    from mvhinerv.config import parse_overrides

    settings = {"seed": seed, **parse_overrides(overrides)}
    r = encode_sequence(sequence, out, preset=preset, schedule=schedule, lmbda=lmbda, device=device,
                        resume=resume, verify=not no_verify, progress=not quiet, settings=settings)
    est, dec = r.estimated, r.decoded
    click.echo(f"{r.path}: {r.file_bytes} bytes, {r.bpp:.5f} bpp, {r.mbps:.4f} Mbps, "
               f"{r.summary['bits_per_param']['total']:.3f} bits/param; settings in {r.config_path}")
    rows = [
        ("", "estimated (training)", "actual (decoded file)"),
        ("bits", f"{r.estimated_bits:.0f} (symbols)", f"{r.payload_bits} payload, {8 * r.file_bytes} file"),
        ("RGB PSNR dB", _db(est.get("psnr_rgb")), _db(dec.get("psnr_rgb"))),
        ("depth level PSNR dB", _db(est.get("psnr_depth")), _db(dec.get("psnr_depth_level"))),
    ]
    if dec:
        rows += [
            ("texture Y PSNR dB", "", _db(dec["psnr_y"])),
            ("texture YUV 6:1:1 PSNR dB", "", _db(dec["psnr_yuv611"])),
            ("depth 16-bit PSNR dB", "", _db(dec["psnr_depth"])),
        ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    s = r.seconds
    click.echo(f"time: train {s['train']:.1f} s, write {s['write']:.2f} s, verify {s['verify']:.1f} s, "
               f"total {s['total']:.1f} s")


@main.command("decode")
@click.argument("bitstream_file", metavar="OUT.bin", type=click.Path(dir_okay=False))
@click.option("-o", "--out", "out", required=True, type=click.Path(file_okay=False),
              help="Folder for the decoded sequence (YUVs, JSON, seq.yaml).")
@click.option("--views", default=None, help="Comma-separated coded views to decode (default: all), e.g. v0,v3.")
@click.option("--frames", default=None, help="START:STOP frames to decode (default: all), e.g. 0:16.")
@click.option("--device", default="auto", show_default=True, type=DEVICES, help="Decoding device.")
@click.option("--batch", default=1, show_default=True, type=click.IntRange(min=1), help="Frames per forward pass.")
@click.option("--compile/--no-compile", "compile_", default=None,
              help="torch.compile the network (default: on a GPU for long decodes; docs/performance.md).")
def decode_command(bitstream_file: str, out: str, views: str | None, frames: str | None, device: str,
                   batch: int, compile_: bool | None) -> None:
    """Decode OUT.bin into a MIV sequence folder (all cameras in the JSON)."""
    from mvhinerv.codec import decode_bitstream

    names = None if views is None else [v.strip() for v in views.split(",") if v.strip()]
    seq_yaml = decode_bitstream(bitstream_file, out, views=names, frames=frames, device=device, batch=batch,
                                compile=compile_)
    click.echo(f"decoded {bitstream_file} -> {seq_yaml}")
