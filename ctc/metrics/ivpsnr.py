"""IV-PSNR, bit-exact with the reference software (jstankowski/ivpsnr v7.1; miv_ctc.md §4).

IV-PSNR (Dziembowski et al., IEEE TCSVT 32(11), 2022) is the MIV CTC texture metric. It forgives
the two errors view synthesis makes that a viewer does not notice: a small pixel shift and a
small global colour offset. For pictures A (reference) and B (test), with b-bit samples and
MAX = 2^b − 1:

1. Global colour difference, per component c: ``g_c = round(mean(A_c − B_c))`` (half away from
   zero), clipped to ``±round(0.01·MAX)`` (the "unnoticeable difference" coefficient).
2. Asymmetric quality ``Q(T → R, s)``: for every pixel p of T, ``t = T(p) + s`` is compared with
   every pixel q of R in the 5×5 window centred on p (search range 2; R padded by edge
   replication). The winner minimises ``4·ΔY² + ΔCb² + ΔCr²``; the window is scanned in raster
   order with a strict ``<`` so the first minimum wins. The winner's per-component squared errors
   are summed, ``PSNR_c = 10·log10(W·H·MAX² / SSE_c)`` (SSE 0 → 1), and
   ``Q = (4·PSNR_Y + PSNR_Cb + PSNR_Cr) / 6`` — a weighted mean of dB values.
3. ``IV-PSNR = min(Q(B → A, +g), Q(A → B, −g))``.

ERP pictures weight each row's SSE by the WS-PSNR row weight (:func:`erp_row_weights`) but, unlike
WS-PSNR, do **not** rescale by ``H/Σw``: the reference divides by ``W·H`` anyway, so ERP IV-PSNR
reads about 10·log10(π/2) ≈ 1.96 dB higher than a normalised weighting would (a quirk we keep).
Masked mode (the reference's ``-im``): only pixels with a non-zero mask are tested, window
positions with a zero mask are not candidates, errors are weighted by the mask sample, the colour
difference is the mask-weighted mean and ``PSNR_c = 10·log10(N·MAX²·MAXmask / SSE_c)`` with N the
number of non-zero mask samples. Chroma is upsampled to 4:4:4 by sample replication first.

Vectorisation: instead of a per-pixel loop over the window, the 25 window offsets are the outer
loop; for each offset the weighted distance of every pixel is computed at once (int32, or int64
above 10–12 bits — exact) and a running minimum keeps the first best offset. The offset index is
packed into the low bits of the distance (``key = d·K + k``, K ≥ number of offsets) so one
``minimum`` both finds the smallest distance and, among equal distances, the smallest raster
index — exactly the reference's strict-``<`` scan. The winner's errors are then gathered once.
On CPU this runs in numpy over row tiles that fit the cache, the two directions in two threads;
on CUDA it runs in torch over the whole picture.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from ctc.device import resolve_device
from ctc.errors import InputError
from ctc.metrics.planes import Planes, as_planes, check_mask, check_range, check_same_layout, max_value, to_444
from ctc.metrics.wspsnr import ErpRange, as_erp, erp_row_weights, weighted_sum


@dataclasses.dataclass(frozen=True)
class IvPsnrSettings:
    """The reference software's IV-specific options; the defaults are the CTC settings.

    The reference prints a "CONFORMANCE WARNING" when any of these differ (miv_ctc.md §1.6).
    """

    search_range: int = 2
    """Window half-size (``-sr``): 2 → 5×5."""
    weights_search: tuple[int, int, int] = (4, 1, 1)
    """Component weights of the matching distance (``-cws``)."""
    weights_average: tuple[int, int, int] = (4, 1, 1)
    """Component weights of the final mean of PSNRs (``-cwa``)."""
    unnoticeable: tuple[float, float, float] = (0.01, 0.01, 0.01)
    """Colour-difference clip as a fraction of MAX (``-unc``)."""

    def __post_init__(self) -> None:
        if not 0 <= self.search_range <= 7:
            raise InputError("search_range", f"must be 0..7, got {self.search_range}")
        if len(self.weights_search) != 3 or len(self.weights_average) != 3 or len(self.unnoticeable) != 3:
            raise InputError("IV-PSNR weights", "three components (Y, Cb, Cr) expected")
        if min(self.weights_search) < 0 or sum(self.weights_average) <= 0:
            raise InputError("IV-PSNR weights", "weights must be non-negative with a positive sum")

    @property
    def is_ctc(self) -> bool:
        """True for the CTC-conformant defaults."""
        return self == IvPsnrSettings()


CTC_SETTINGS = IvPsnrSettings()


@dataclasses.dataclass(frozen=True)
class IvPsnrResult:
    """IV-PSNR of one frame and its parts."""

    ivpsnr: float
    """``min(q_test_in_ref, q_ref_in_test)`` in dB."""
    q_test_in_ref: float
    """``Q(B → A, +g)``: test pixels, shifted by ``g``, matched in the reference (dB)."""
    q_ref_in_test: float
    """``Q(A → B, −g)``: reference pixels, shifted by ``−g``, matched in the test (dB)."""
    gcd: tuple[int, ...]
    """Global colour difference ``g`` per component (reference − test, clipped)."""


def round_half_away(x: np.ndarray | float) -> np.ndarray:
    """C's ``std::round``: halves go away from zero (numpy's ``round`` goes to even)."""
    x = np.asarray(x, dtype=np.float64)
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def global_colour_difference(ref: list[np.ndarray], test: list[np.ndarray], bits: int,
                             unnoticeable: Sequence[float], mask: np.ndarray | None = None,
                             mask_bits: int | None = None) -> tuple[int, ...]:
    """``g_c = round(mean(ref_c − test_c))`` clipped to ``±round(unc_c·MAX)``.

    Without a mask the planes may be subsampled: the mean of replicated 4:4:4 planes is the mean of
    the subsampled ones (sum and count both scale by a power of two, exactly). With a mask the planes
    must be 4:4:4 and the mean is ``Σ(diff·mask) / (N·MAXmask)``. The clip is computed in float32 as
    in the reference (``0.01f·MAX``), which only matters at exact halves.
    """
    peak = max_value(bits)
    out = []
    for c, (a, b) in enumerate(zip(ref, test)):
        diff = a.astype(np.int32) - b.astype(np.int32)
        if mask is None:
            mean = float(diff.sum(dtype=np.int64)) / float(diff.size)
        else:
            weight = int(np.count_nonzero(mask)) * max_value(mask_bits or bits)
            mean = float(np.dot(diff.ravel().astype(np.int64), mask.ravel().astype(np.int64))) / float(weight)
        limit = int(round_half_away(float(np.float32(unnoticeable[c]) * np.float32(peak))))
        out.append(int(np.clip(round_half_away(mean), -limit, limit)))
    return tuple(out)


class _Backend:
    """The few array operations the window search needs, on numpy (CPU) or torch (GPU).

    The search is memory-bound integer arithmetic. On CPU, numpy over cache-sized tiles was faster
    than torch in our measurements and, being single-threaded per call, does not stall in OpenMP
    barriers on a busy machine (torch did, by 30×); two Python threads share the tiles instead.
    On a GPU, torch processes the whole picture at once.
    """

    def __init__(self, device: str | torch.device | None, use_torch: bool | None = None):
        self.device = resolve_device(device, default="cpu")
        self.torch = self.device.type != "cpu" if use_torch is None else use_torch
        self.xp = torch if self.torch else np
        # Tile height: ~64k pixels keeps a tile's working set (field, term, key, two minima) in a
        # CPU core's L2; on a GPU the whole picture is one tile.
        self.tile_pixels = 1 << 62 if self.torch else 1 << 16

    def asarray(self, array: np.ndarray, dtype: np.dtype):
        array = np.ascontiguousarray(array, dtype=dtype)
        return torch.from_numpy(array).to(self.device) if self.torch else array

    def empty(self, shape: tuple[int, int], like):
        if self.torch:
            return torch.empty(shape, dtype=like.dtype, device=like.device)
        return np.empty(shape, dtype=like.dtype)

    def arange(self, start: int, stop: int):
        return torch.arange(start, stop, device=self.device) if self.torch else np.arange(start, stop)

    def keep_min(self, best, key):
        """Running element-wise minimum: a copy of ``key`` first, then ``min(best, key)`` in place."""
        if best is None:
            return key.clone() if self.torch else key.copy()
        self.xp.minimum(best, key, out=best)
        return best

    def row_sums(self, x) -> np.ndarray:
        """Per-row int64 sums, back on the host."""
        if self.torch:
            return x.to(torch.int64).sum(dim=1).cpu().numpy()
        return x.astype(np.int64).sum(axis=1)


def _pad_edge(plane: np.ndarray, margin: int) -> np.ndarray:
    """Edge-replication padding by ``margin`` on all four sides (the reference's ``extend()``)."""
    return np.pad(plane, margin, mode="edge")


class _Matcher:
    """Search layout of :func:`matched_row_sse`: window offsets, key packing, integer type."""

    def __init__(self, settings: IvPsnrSettings, bits: int, num_planes: int):
        r = settings.search_range
        self.r = r
        self.side = 2 * r + 1
        self.offsets = [(dy, dx) for dy in range(self.side) for dx in range(self.side)]  # raster order
        self.shift_bits = max(1, (len(self.offsets) - 1).bit_length())
        peak = max_value(bits)
        largest = sum(settings.weights_search[:num_planes]) * (2 * peak + 1) ** 2
        self.dtype = np.int32 if ((largest + 1) << self.shift_bits) < 2**31 - 1 else np.int64
        # "Not a candidate" (masked-out window position): larger than any real key, and with zero
        # low bits so that a fully masked-out pixel still decodes to a valid offset (its error is
        # multiplied by its zero mask anyway).
        self.never = (int(np.iinfo(self.dtype).max) >> self.shift_bits) << self.shift_bits
        self.weights = settings.weights_search[:num_planes]


def _slice(x, rows: int, cols: int, n: int, width: int):
    return x[rows:rows + n, cols:cols + width]


def matched_row_sse(ref: list[np.ndarray], test: list[np.ndarray], gcd: Sequence[int], matcher: _Matcher,
                    backend: _Backend, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-row, per-component SSE of both directions of IV-PSNR's window search.

    One distance field serves both directions. With ``X_δ(u) = Σ_c w_c (B_c(u) + g_c − A_c(u + δ))²``
    (B padded by r, A by 2r, edge replication): direction B → A at pixel p and offset δ reads
    ``X_δ(p)``; direction A → B at p and offset δ' = −δ compares ``A(p) − g`` with ``B(p + δ')``,
    the same squares, i.e. ``X_δ(p − δ)``. So each of the (2r+1)² fields is computed once, on a
    domain r pixels larger than the picture, and feeds two running minima. The offset index in the
    key (offset of δ for B → A, of −δ for A → B) keeps each direction's raster-order tie-break.

    Args:
        ref, test: 4:4:4 planes A and B, ``(H, W)`` arrays of ``matcher.dtype``.
        gcd: global colour difference g (reference − test) per component.
        matcher: search layout and integer type.
        backend: numpy (CPU, tiles split over two threads) or torch (GPU, one tile).
        mask: optional ``(H, W)`` mask; zero pixels are skipped and are not candidates.
    Returns:
        ``(sse_test_in_ref, sse_ref_in_test)``, each ``(C, H)`` int64:
        ``Σ_x (t_c(x, y) − R_c(q*))² · mask(x, y)`` per row y.
    """
    xp, dtype, r, side = backend.xp, matcher.dtype, matcher.r, matcher.side
    height, width = test[0].shape
    last = len(matcher.offsets) - 1
    b_pad = [backend.asarray(_pad_edge(p + dtype(g), r), dtype) for p, g in zip(test, gcd)]  # B + g, margin r
    a_pad = [backend.asarray(_pad_edge(p, 2 * r), dtype) for p in ref]                       # A, margin 2r
    b_mid = [p[r:r + height, r:r + width] for p in b_pad]
    a_mid = [p[2 * r:2 * r + height, 2 * r:2 * r + width] for p in a_pad]
    b_flat = [p.reshape(-1) for p in b_pad]
    a_flat = [p.reshape(-1) for p in a_pad]
    inactive = backend.asarray(_pad_edge(mask, r) == 0, bool) if mask is not None else None
    weight = backend.asarray(mask, np.int64) if mask is not None else None
    out_b = np.zeros((len(test), height), dtype=np.int64)
    out_a = np.zeros((len(test), height), dtype=np.int64)
    tile = max(1, min(height, backend.tile_pixels // max(width, 1)))

    def gather_sse(winner, t, flat, pad_width: int, origin: int, y0: int, y1: int, out: np.ndarray) -> None:
        rows = backend.arange(y0 + origin, y1 + origin).reshape(-1, 1) + winner // side
        cols = backend.arange(origin, width + origin).reshape(1, -1) + winner % side
        index = rows * pad_width + cols
        for c in range(len(t)):
            err = t[c][y0:y1] - flat[c].take(index)
            err = err.to(torch.int64) if backend.torch else err.astype(np.int64)
            err = err * err
            if weight is not None:
                err = err * weight[y0:y1]
            out[c, y0:y1] = backend.row_sums(err)

    def run_tile(y0: int) -> None:
        y1 = min(height, y0 + tile)
        n = y1 - y0
        field = backend.empty((n + 2 * r, width + 2 * r), b_pad[0])
        term = backend.empty((n + 2 * r, width + 2 * r), b_pad[0])
        key = backend.empty((n, width), b_pad[0])
        best_b = best_a = None
        for k, (dy, dx) in enumerate(matcher.offsets):
            field[...] = 0
            for c, w in enumerate(matcher.weights):
                if w == 0:
                    continue
                xp.subtract(_slice(b_pad[c], y0, 0, n + 2 * r, width + 2 * r),
                            _slice(a_pad[c], y0 + dy, dx, n + 2 * r, width + 2 * r), out=term)
                xp.multiply(term, term, out=term)
                xp.multiply(term, w << matcher.shift_bits, out=term)
                xp.add(field, term, out=field)
            # B -> A at p, offset δ = (dy, dx) - r: the field at u = p
            xp.add(_slice(field, r, r, n, width), k, out=key)
            if inactive is not None:
                key[_slice(inactive, y0 + dy, dx, n, width)] = matcher.never
            best_b = backend.keep_min(best_b, key)
            # A -> B at p, offset −δ (raster index last − k): the field at u = p − δ
            xp.add(_slice(field, 2 * r - dy, 2 * r - dx, n, width), last - k, out=key)
            if inactive is not None:
                key[_slice(inactive, y0 + 2 * r - dy, 2 * r - dx, n, width)] = matcher.never
            best_a = backend.keep_min(best_a, key)
        low = (1 << matcher.shift_bits) - 1
        gather_sse(best_b & low, b_mid, a_flat, width + 4 * r, r, y0, y1, out_b)
        gather_sse(best_a & low, a_mid, b_flat, width + 2 * r, 0, y0, y1, out_a)

    starts = list(range(0, height, tile))
    if backend.torch or len(starts) == 1:
        for y0 in starts:
            run_tile(y0)
    else:  # numpy releases the GIL: two threads take alternate tiles (they write disjoint rows)
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(run_tile, starts))
    return out_b, out_a


def _quality(row_sse: np.ndarray, bits: int, settings: IvPsnrSettings, width: int,
             row_weights: np.ndarray | None, active: int | None, mask_peak: int) -> float:
    """``Q`` from per-row SSEs: component PSNRs (SSE 0 → 1) averaged with ``weights_average``."""
    peak = max_value(bits)
    height = row_sse.shape[1]
    psnrs = []
    for c in range(row_sse.shape[0]):
        sse = weighted_sum(row_sse[c], row_weights) if row_weights is not None else float(int(row_sse[c].sum()))
        sse = sse if sse > 0 else 1.0
        count = width * height if active is None else active * mask_peak
        psnrs.append(10.0 * math.log10(float(count * peak * peak) / sse))
    weights = settings.weights_average[: len(psnrs)]
    return sum(w * q for w, q in zip(weights, psnrs)) / sum(weights)


def ivpsnr_frame(ref: Planes, test: Planes, bits: int, *, erp: ErpRange | Sequence | None = None,
                 mask: np.ndarray | None = None, mask_bits: int | None = None, search_range: int = 2,
                 settings: IvPsnrSettings | None = None, device: str | torch.device | None = None,
                 check_samples: bool = True) -> IvPsnrResult:
    """IV-PSNR of one frame, as the reference software v7.1 computes it.

    Args:
        ref, test: ``(Y, U, V)`` integer planes (4:2:0, 4:2:2 or 4:4:4) or ``(Y,)``.
        bits: sample bit depth (the reference accepts 8..14; up to 16 works here, in int64).
        erp: angular range of an equirectangular picture (unnormalised row weights, see module doc).
        mask: ``(H, W)`` mask at luma resolution (0 = inactive), the reference's ``-im``.
        mask_bits: bit depth of the mask (default ``bits``); the mask peak enters the PSNR.
        search_range: shorthand for ``settings.search_range`` (ignored when ``settings`` is given).
        settings: IV options; defaults are the CTC ones.
        device: ``None``/``"cpu"``, ``"cuda"`` or ``"auto"``.
        check_samples: refuse samples outside ``[0, 2^bits − 1]`` (the reference's ``-ipa STOP``).
    Returns:
        :class:`IvPsnrResult`.
    """
    settings = settings or IvPsnrSettings(search_range=search_range)
    erp = as_erp(erp)
    ref_p = as_planes(ref, "reference")
    test_p = as_planes(test, "test")
    check_same_layout(ref_p, test_p)
    if check_samples:
        check_range(ref_p, bits, "reference")
        check_range(test_p, bits, "test")
    height, width = ref_p[0].shape
    mask = check_mask(mask, (height, width))
    matcher = _Matcher(settings, bits, len(ref_p))
    if mask is None:
        gcd = global_colour_difference(ref_p, test_p, bits, settings.unnoticeable)
    # one conversion to the search's integer type, then chroma replication to 4:4:4
    ref_p = to_444([p.astype(matcher.dtype) for p in ref_p])
    test_p = to_444([p.astype(matcher.dtype) for p in test_p])
    if mask is not None:
        gcd = global_colour_difference(ref_p, test_p, bits, settings.unnoticeable, mask, mask_bits)
    backend = _Backend(device)
    row_weights = erp_row_weights(height, erp) if erp is not None else None
    active = int(np.count_nonzero(mask)) if mask is not None else None
    mask_peak = max_value(mask_bits or bits) if mask is not None else 1

    sse_test_in_ref, sse_ref_in_test = matched_row_sse(ref_p, test_p, gcd, matcher, backend, mask)
    q_test_in_ref, q_ref_in_test = (_quality(sse, bits, settings, width, row_weights, active, mask_peak)
                                    for sse in (sse_test_in_ref, sse_ref_in_test))
    return IvPsnrResult(ivpsnr=min(q_test_in_ref, q_ref_in_test), q_test_in_ref=q_test_in_ref,
                        q_ref_in_test=q_ref_in_test, gcd=gcd)
