"""``mvcodec arch``: the architecture of a preset at a size, its parameters and MACs per pixel."""

from __future__ import annotations

import json
from typing import Any

import click

from mvhinerv.arch import PRESETS, MVHiNeRVArch, arch_from_preset, count_parameters, macs_per_pixel
from mvhinerv.errors import ConfigError
from mvhinerv.cli.group import main


def parse_size(text: str) -> tuple[int, int]:
    """``"1920x1080"`` → (1920, 1080); anything else is a :class:`ConfigError` on ``--size``."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise ConfigError("--size", f"expected WIDTHxHEIGHT such as 1920x1080 (got {text!r})")
    return int(parts[0]), int(parts[1])


def parse_int_list(option: str, text: str) -> tuple[int, ...]:
    """``"5,3,2,2"`` → (5, 3, 2, 2); anything else is a :class:`ConfigError` on ``option``."""
    parts = [p.strip() for p in text.split(",")]
    if not parts or not all(p.isdigit() for p in parts):
        raise ConfigError(option, f"expected comma-separated integers such as 5,3,2,2 (got {text!r})")
    return tuple(int(p) for p in parts)


def arch_report(arch: MVHiNeRVArch) -> dict[str, Any]:
    """Everything ``mvcodec arch`` prints: the config, map sizes, parameters and MACs/pixel."""
    levels = []
    for k in range(arch.num_stages + 1):
        rows, cols = arch.level_size(k)
        width = arch.channels if k == 0 else arch.stage_widths[k - 1][1]
        levels.append({"level": k, "height": rows, "width": cols, "channels": width})
    return {
        "arch": arch.to_dict(),
        "levels": levels,
        "parameters": count_parameters(arch),
        "macs_per_pixel": macs_per_pixel(arch),
    }


def format_report(report: dict[str, Any]) -> str:
    """The human-readable table of :func:`arch_report`."""
    a, params, macs = report["arch"], report["parameters"], report["macs_per_pixel"]
    lines = [
        f"MV-HiNeRV  {a['views']} view(s) x {a['frames']} frames x {a['width']}x{a['height']}",
        f"scales {','.join(map(str, a['scales']))}  C {a['channels']}  depths "
        f"{','.join(map(str, a['depths']))}  expansions {','.join(map(str, a['expansions']))}  "
        f"T_g {a['base_grid_frames']}  C_g {a['base_grid_channels']}  C_enc {a['enc_channels']}",
        "maps: " + "  ".join(f"L{lv['level']} {lv['width']}x{lv['height']}x{lv['channels']}"
                             for lv in report["levels"]),
        "",
        f"{'component':<22}{'parameters':>14}{'MACs/pixel':>14}",
    ]
    rows = [("base grid (per view)", params["base_grid"], None),
            ("hier. grids (per view)", params["enc_grids"], None),
            (f"grids (x{a['views']} views)", params["grids"], None),
            ("stem", params["stem"], macs["stem"])]
    stages = [k for k in params if k.startswith("stage")]
    rows += [(key, params[key], macs[key]) for key in stages]
    rows += [("head", params["head"], macs["head"]),
             ("shared", params["shared"], None),
             ("total", params["total"], macs["total"])]
    for name, count, mac in rows:
        mac_text = "" if mac is None else f"{mac:,.0f}"
        lines.append(f"{name:<22}{count:>14,}{mac_text:>14}")
    return "\n".join(lines)


def presets_markdown(width: int, height: int, frames: int, views: tuple[int, ...]) -> str:
    """The presets table of ``docs/model.md``: parameters and MACs/pixel of every preset."""
    head = ["preset", "C", "C_g", "C_enc", "depths", "scales", "shared"]
    head += [f"grids ×{v} views" for v in views] + [f"total ×{v} views" for v in views]
    head += ["MACs/px"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in PRESETS:
        archs = [arch_from_preset(name, width, height, frames, v) for v in views]
        counts = [count_parameters(a) for a in archs]
        a = archs[0]
        row = [name, str(a.channels), str(a.base_grid_channels), str(a.enc_channels),
               ",".join(map(str, a.depths)), ",".join(map(str, a.scales)),
               f"{counts[0]['shared'] / 1e6:.3f} M"]
        row += [f"{c['grids'] / 1e6:.3f} M" for c in counts]
        row += [f"{c['total'] / 1e6:.3f} M" for c in counts]
        row += [f"{macs_per_pixel(a)['total'] / 1e3:.1f} k"]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


@main.command("arch")
@click.option("--preset", required=True, help=f"Model size: {', '.join(PRESETS)}.")
@click.option("--size", "size", required=True, help="Frame size WIDTHxHEIGHT, e.g. 1920x1080.")
@click.option("--frames", type=int, required=True, help="Frames per view.")
@click.option("--views", type=int, default=1, show_default=True, help="Number of views.")
@click.option("--scales", default=None, help="Override the stage scales, e.g. 5,3,2,2.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def arch_command(preset: str, size: str, frames: int, views: int, scales: str | None,
                 as_json: bool) -> None:
    """Parameters (per-view grids, shared layers) and MACs/pixel of a preset at a size."""
    width, height = parse_size(size)
    overrides = {} if scales is None else {"scales": parse_int_list("--scales", scales)}
    report = arch_report(arch_from_preset(preset, width, height, frames, views, **overrides))
    click.echo(json.dumps(report, indent=2) if as_json else format_report(report))
