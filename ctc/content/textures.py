"""Photographic textures as mip pyramids, sampled trilinearly without aliasing.

The synthetic scenes are covered with real photographs that scikit-image ships with its wheel
(``skimage.data``; no download, toolchain.md §4), so the content has natural image statistics
rather than the flat colours of a procedural scene. A codec test on aliased content would measure
the aliasing, so every texture is stored as a mip pyramid (level 0 = the photograph resized to
power-of-two sides, level k+1 = 2×2 box average of level k, as in OpenGL mipmapping) and sampled
*trilinearly*: bilinear within the two levels around the pixel footprint, then linearly between
them. The footprint (texels per pixel) comes from the renderer (screen-space derivatives of the
texture coordinates, :func:`ctc.content.renderer.mip_level`).

Sampling is a pure function of (texture coordinate, level): two cameras that see the same surface
point at a similar footprint get the same colour, which is what lets the consistency test
(reproject one view into another) reach > 40 dB.

Addressing is "repeat" (coordinates wrap), so floors and walls can tile a photograph.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F

# Loaders of skimage.data that work offline (toolchain.md §4); the pooch-backed ones (brain,
# cells3d, eagle, lily...) need a download and are deliberately absent.
PHOTOS: tuple[str, ...] = (
    "astronaut", "coffee", "chelsea", "rocket", "camera", "brick", "grass", "gravel",
    "hubble_deep_field", "immunohistochemistry", "colorwheel", "coins", "moon", "checkerboard",
)
_MAX_SIDE = 1024


def _pow2(n: int) -> int:
    """The power of two nearest to ``n`` (in log scale), between 32 and ``_MAX_SIDE``."""
    return int(min(_MAX_SIDE, max(32, 2 ** round(np.log2(n)))))


@functools.lru_cache(maxsize=None)
def photo(name: str) -> np.ndarray:
    """A bundled photograph as float32 RGB ``[H, W, 3]`` in [0, 1], sides resized to powers of two.

    Grey images are replicated to three channels; an alpha channel is dropped. The resize uses
    scikit-image's anti-aliased ``resize`` (Gaussian prefilter when shrinking).
    """
    if name not in PHOTOS:
        raise KeyError(f"unknown texture {name!r}; known: {', '.join(PHOTOS)}")
    import skimage.data
    import skimage.transform
    import skimage.util

    img = skimage.util.img_as_float32(getattr(skimage.data, name)())
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    img = img[:, :, :3]
    shape = (_pow2(img.shape[0]), _pow2(img.shape[1]))
    if shape != img.shape[:2]:
        img = skimage.transform.resize(img, shape, order=1, anti_aliasing=True, mode="reflect")
    return np.ascontiguousarray(np.clip(img, 0.0, 1.0), dtype=np.float32)


class MipPyramid:
    """Mip levels of one texture, packed into one flat table for vectorised lookups.

    Level k is ``[H/2^k, W/2^k, 3]`` float32 (level 0 = the photograph, level k+1 = the 2×2 box
    average of level k); all levels are stored one after the other, channels last, in ``flat``
    ``[Σ_k H_k·W_k, 3]`` so that one gather fetches any texel of any level.
    """

    def __init__(self, image: np.ndarray, device: torch.device | str = "cpu") -> None:
        level = torch.from_numpy(np.ascontiguousarray(image)).to(device=device, dtype=torch.float32)
        levels = [level]
        while min(level.shape[0], level.shape[1]) > 1:
            level = F.avg_pool2d(level.permute(2, 0, 1)[None], 2)[0].permute(1, 2, 0).contiguous()
            levels.append(level)
        self.size: tuple[int, int] = (levels[0].shape[0], levels[0].shape[1])
        """(height, width) of level 0 in texels."""
        self.num_levels = len(levels)
        sizes = [lv.shape[0] * lv.shape[1] for lv in levels]
        as_long = lambda values: torch.tensor(values, dtype=torch.int64, device=device)  # noqa: E731
        self.flat = torch.cat([lv.reshape(-1, 3) for lv in levels])
        self.offsets = as_long([sum(sizes[:k]) for k in range(len(levels))])
        self.heights = as_long([lv.shape[0] for lv in levels])
        self.widths = as_long([lv.shape[1] for lv in levels])

    def sample(self, uv: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        """Trilinear lookup with repeat addressing.

        Args:
            uv: ``[N, 2]`` texture coordinates in *level-0 texels* (u along the width, v along the
                height, texel (i, j) centred at (j + 0.5, i + 0.5)); any real value (they wrap).
            level: ``[N]`` mip level (log2 of the footprint in level-0 texels), any real value;
                clamped to [0, last level].

        Returns:
            ``[N, 3]`` colours.
        """
        level = level.clamp(0.0, self.num_levels - 1)
        low = level.floor()
        frac = (level - low)[:, None]
        low = low.to(torch.int64)
        high = (low + 1).clamp(max=self.num_levels - 1)
        return torch.lerp(self._bilinear(low, uv), self._bilinear(high, uv), frac)

    def _bilinear(self, k: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
        """Bilinear lookup ``[N, 3]`` in per-point levels ``k`` ``[N]`` at level-0 texel coordinates."""
        w, h, base = self.widths[k], self.heights[k], self.offsets[k]
        scale = torch.exp2(k.to(uv.dtype))
        x = uv[:, 0] / scale - 0.5  # continuous coordinates with texel centres at integers
        y = uv[:, 1] / scale - 0.5
        x0f, y0f = x.floor(), y.floor()
        fx, fy = (x - x0f)[:, None], (y - y0f)[:, None]
        x0 = x0f.to(torch.int64).remainder(w)
        y0 = y0f.to(torch.int64).remainder(h)
        x1 = (x0 + 1).remainder(w)
        row0 = base + y0 * w
        row1 = base + (y0 + 1).remainder(h) * w
        top = torch.lerp(self.flat[row0 + x0], self.flat[row0 + x1], fx)
        bottom = torch.lerp(self.flat[row1 + x0], self.flat[row1 + x1], fx)
        return torch.lerp(top, bottom, fy)


def pyramid(name: str, device: torch.device | str = "cpu") -> MipPyramid:
    """The mip pyramid of bundled photograph ``name`` on ``device``."""
    return MipPyramid(photo(name), device)
