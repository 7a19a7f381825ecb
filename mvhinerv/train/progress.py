"""Progress display: one tqdm bar per phase (loss, texture/depth PSNR, estimated bpp, ETA).

The loop accumulates its running sums on the device and hands them over only every
``log_every`` steps, so the bar costs one host sync per ``log_every`` steps. With
``enabled=False`` (tests, library use) nothing is printed.
"""

from __future__ import annotations

import sys

from tqdm import tqdm

from mvhinerv.train.losses import psnr


class PhaseProgress:
    """A per-phase progress bar; a no-op when disabled."""

    def __init__(self, name: str, total: int, initial: int, enabled: bool) -> None:
        self.bar = tqdm(total=total, initial=initial, desc=name, unit="step", dynamic_ncols=True,
                        file=sys.stderr) if enabled else None

    def update(self, steps: int, loss: float, mse_rgb: float, mse_depth: float, bpp: float | None) -> None:
        if self.bar is None:
            return
        post = {"loss": f"{loss:.4f}", "psnr_t": f"{psnr(mse_rgb):.2f}", "psnr_d": f"{psnr(mse_depth):.2f}"}
        if bpp is not None:
            post["bpp"] = f"{bpp:.4f}"
        self.bar.set_postfix(post, refresh=False)
        self.bar.update(steps)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def announce(text: str, enabled: bool) -> None:
    """Print a block of text (the schedule table) above the bars."""
    if enabled:
        tqdm.write(text, file=sys.stderr)
