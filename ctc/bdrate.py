"""Bjøntegaard-delta rate and PSNR: how much less rate a test codec needs for the same quality.

Definitions (miv_ctc.md §5.1; Bjøntegaard, VCEG-M33, 2001): with x = log10(rate),

- **BD-rate**: interpolate x as a function of the quality D for each curve, integrate both over the
  quality interval the curves share, ``Δ = (∫x_test − ∫x_anchor) / (D_high − D_low)`` and
  ``BD-rate = (10^Δ − 1)·100 %`` (negative: the test needs less rate).
- **BD-PSNR**: interpolate D as a function of x, integrate over the shared log-rate interval and
  divide by its length (dB; positive: the test is better).

Interpolation (``method``):

- ``pchip`` (default): monotone piecewise cubic Hermite (Fritsch–Carlson; scipy's
  ``PchipInterpolator``), the JCT-VC/JVET CTC spreadsheet's choice (JCTVC-L1100, JVET-T2010).
- ``cubic``: one least-squares cubic per curve (VCEG-M33; through all 4 points when there are 4;
  degree ``n − 1`` for fewer points).
- ``akima``: Akima spline (Herglotz et al., "Bjøntegaard Bible", IEEE TIP 2024); linear for 2 points.

Across sequences the BD-rates are averaged arithmetically (per-sequence first; never an averaged RD
curve, miv_ctc.md §5.3). The overlap of the two curves (shared interval / union interval) below 75 %
is *recorded* (``low_overlap``), not an error: the number is still computed and the report shows
the flag, like the ``bjontegaard`` package's warning.

Error policy: :func:`bd_rate` / :func:`bd_psnr` raise :class:`~ctc.errors.InputError` for RD data
that has no BD value (fewer than 2 points, rates ≤ 0, quality not strictly increasing with rate,
curves that do not overlap); :func:`bd_compare` and :func:`bd_rate_table` — what the harness and
``mvcodec bdrate`` call — turn the same problems into ``NaN`` with a ``note`` so that a sweep with
one bad sequence still reports the others (the mean is then NaN too, visibly).
"""

from __future__ import annotations

import csv
import dataclasses
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import scipy.interpolate

from ctc.errors import FormatError, InputError, MissingFileError

METHODS = ("pchip", "cubic", "akima")
MIN_OVERLAP = 0.75
"""Overlap fraction under which a result is flagged ``low_overlap`` (the bjontegaard package's default)."""


@dataclasses.dataclass(frozen=True)
class RdCurve:
    """Rate–quality points of one codec on one sequence, sorted by rate.

    ``rate`` may be in any unit (bytes, kbps) as long as anchor and test use the same one.
    """

    rate: tuple[float, ...]
    quality: tuple[float, ...]

    @classmethod
    def from_points(cls, rate: Sequence[float], quality: Sequence[float], where: str = "RD points") -> RdCurve:
        """Validate and sort; quality must rise strictly with rate (a proper RD curve)."""
        r = np.asarray(rate, dtype=np.float64)
        q = np.asarray(quality, dtype=np.float64)
        if r.shape != q.shape or r.ndim != 1:
            raise InputError(where, f"{r.size} rates but {q.size} quality values")
        if r.size < 2:
            raise InputError(where, f"at least 2 RD points needed, got {r.size}")
        if not (np.all(np.isfinite(r)) and np.all(np.isfinite(q))):
            raise InputError(where, "rates and quality values must be finite")
        if np.any(r <= 0):
            raise InputError(where, "rates must be positive (they are log-transformed)")
        order = np.argsort(r, kind="stable")
        r, q = r[order], q[order]
        if np.any(np.diff(r) <= 0) or np.any(np.diff(q) <= 0):
            raise InputError(where, "not monotone: quality must rise strictly with rate "
                                    f"(rates {r.tolist()}, quality {q.tolist()})")
        return cls(tuple(r.tolist()), tuple(q.tolist()))

    @property
    def log_rate(self) -> np.ndarray:
        return np.log10(np.asarray(self.rate))


def _interpolant(x: np.ndarray, y: np.ndarray, method: str):
    """A callable with ``.integrate(a, b)`` through (x, y); x strictly increasing."""
    if method == "pchip":
        return scipy.interpolate.PchipInterpolator(x, y)
    if method == "akima":
        if x.size == 2:
            return scipy.interpolate.make_interp_spline(x, y, k=1)
        return scipy.interpolate.Akima1DInterpolator(x, y)
    if method == "cubic":
        return np.polynomial.Polynomial.fit(x, y, deg=min(3, x.size - 1)).convert()
    raise InputError("--method", f"unknown interpolation {method!r} (pchip, cubic, akima)")


def _integral(f, lo: float, hi: float) -> float:
    if isinstance(f, np.polynomial.Polynomial):
        antiderivative = f.integ()
        return float(antiderivative(hi) - antiderivative(lo))
    return float(f.integrate(lo, hi))


def _overlap(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """Shared interval ``(lo, hi)`` of two sample sets and its fraction of their union."""
    lo, hi = max(a.min(), b.min()), min(a.max(), b.max())
    union = max(a.max(), b.max()) - min(a.min(), b.min())
    return float(lo), float(hi), float(max(hi - lo, 0.0) / union) if union > 0 else 0.0


def _mean_delta(x_anchor: np.ndarray, y_anchor: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                method: str) -> tuple[float, float]:
    """Mean of ``y_test − y_anchor`` over the shared x interval, and the overlap fraction."""
    lo, hi, fraction = _overlap(x_anchor, x_test)
    if fraction <= 0.0:
        raise InputError("RD curves", f"do not overlap (anchor {x_anchor.min():.4g}..{x_anchor.max():.4g}, "
                                      f"test {x_test.min():.4g}..{x_test.max():.4g})")
    fa = _interpolant(x_anchor, y_anchor, method)
    ft = _interpolant(x_test, y_test, method)
    return (_integral(ft, lo, hi) - _integral(fa, lo, hi)) / (hi - lo), fraction


@dataclasses.dataclass(frozen=True)
class BdResult:
    """BD-rate and BD-PSNR of one test curve against one anchor curve."""

    bd_rate: float
    """Percent; negative means the test needs less rate for the same quality."""
    bd_psnr: float
    """dB (or the unit of the quality measure); positive means the test is better."""
    overlap_quality: float
    """Shared / union fraction of the quality intervals (BD-rate's integration domain)."""
    overlap_rate: float
    """Shared / union fraction of the log-rate intervals (BD-PSNR's integration domain)."""
    method: str

    @property
    def low_overlap(self) -> bool:
        return bool(min(self.overlap_quality, self.overlap_rate) < MIN_OVERLAP)


def bd(anchor: RdCurve, test: RdCurve, method: str = "pchip") -> BdResult:
    """BD-rate and BD-PSNR of ``test`` against ``anchor`` (raises on curves without a BD value)."""
    if method not in METHODS:
        raise InputError("--method", f"unknown interpolation {method!r} (pchip, cubic, akima)")
    qa, qt = np.asarray(anchor.quality), np.asarray(test.quality)
    xa, xt = anchor.log_rate, test.log_rate
    # BD-rate integrates over the shared quality interval, BD-PSNR over the shared rate interval:
    # each exists on its own (curves may share qualities at disjoint rates), so one missing
    # overlap makes only its own value NaN; with neither there is no BD value at all.
    try:
        delta_log_rate, overlap_q = _mean_delta(qa, xa, qt, xt, method)
        bd_rate_value = (10.0 ** delta_log_rate - 1.0) * 100.0
    except InputError:
        if _overlap(xa, xt)[2] <= 0.0:
            raise
        bd_rate_value, overlap_q = math.nan, 0.0
    try:
        delta_quality, overlap_r = _mean_delta(xa, qa, xt, qt, method)
    except InputError:
        if overlap_q <= 0.0:
            raise
        delta_quality, overlap_r = math.nan, 0.0
    return BdResult(bd_rate=bd_rate_value, bd_psnr=delta_quality,
                    overlap_quality=overlap_q, overlap_rate=overlap_r, method=method)


def bd_rate(rate_anchor: Sequence[float], quality_anchor: Sequence[float], rate_test: Sequence[float],
            quality_test: Sequence[float], method: str = "pchip") -> float:
    """BD-rate in percent (see module docstring); raises :class:`InputError` on unusable data."""
    return _strict(bd(RdCurve.from_points(rate_anchor, quality_anchor, "anchor"),
                      RdCurve.from_points(rate_test, quality_test, "test"), method).bd_rate, "qualities")


def bd_psnr(rate_anchor: Sequence[float], quality_anchor: Sequence[float], rate_test: Sequence[float],
            quality_test: Sequence[float], method: str = "pchip") -> float:
    """BD-PSNR in dB (see module docstring); raises :class:`InputError` on unusable data."""
    return _strict(bd(RdCurve.from_points(rate_anchor, quality_anchor, "anchor"),
                      RdCurve.from_points(rate_test, quality_test, "test"), method).bd_psnr, "rates")


def _strict(value: float, what: str) -> float:
    """``value``, or :class:`InputError` when it is NaN because the curves share no ``what``."""
    if math.isnan(value):
        raise InputError("RD curves", f"do not overlap: the two curves share no {what}")
    return value


def bd_compare(rate_anchor: Sequence[float], quality_anchor: Sequence[float], rate_test: Sequence[float],
               quality_test: Sequence[float], method: str = "pchip") -> dict[str, Any]:
    """Like :func:`bd` but never raises for bad RD data: ``NaN`` values and a ``note`` instead.

    Returns:
        ``{"bd_rate", "bd_psnr", "low_overlap", "overlap", "method", "note"}``.
    """
    try:
        result = bd(RdCurve.from_points(rate_anchor, quality_anchor, "anchor"),
                    RdCurve.from_points(rate_test, quality_test, "test"), method)
    except InputError as err:
        if err.where == "--method":
            raise
        return {"bd_rate": math.nan, "bd_psnr": math.nan, "low_overlap": False, "overlap": math.nan,
                "method": method, "note": str(err)}
    note = f"overlap {100 * min(result.overlap_quality, result.overlap_rate):.0f} % < 75 %" if result.low_overlap else ""
    return {"bd_rate": result.bd_rate, "bd_psnr": result.bd_psnr, "low_overlap": result.low_overlap,
            "overlap": min(result.overlap_quality, result.overlap_rate), "method": method, "note": note}


Points = Sequence[tuple[float, float]]
"""``[(rate, quality), ...]`` of one codec on one sequence."""


def bd_rate_table(anchor_points: Mapping[str, Points], test_points: Mapping[str, Points],
                  method: str = "pchip") -> dict[str, Any]:
    """Per-sequence BD-rate / BD-PSNR of ``test`` against ``anchor``, and their arithmetic means.

    Args:
        anchor_points, test_points: sequence name → ``[(rate, quality), ...]``. Sequences present in
            only one of them get a row with a note and NaN.
    Returns:
        ``{"method", "rows": [{"sequence", "bd_rate", "bd_psnr", "low_overlap", "overlap", "note"}],
        "mean": {"bd_rate", "bd_psnr"}}``; a mean is NaN if any row is.
    """
    rows = []
    for name in sorted(set(anchor_points) | set(test_points)):
        if name not in anchor_points or name not in test_points:
            side = "anchor" if name not in anchor_points else "test"
            rows.append({"sequence": name, "bd_rate": math.nan, "bd_psnr": math.nan, "low_overlap": False,
                         "overlap": math.nan, "method": method, "note": f"no {side} points"})
            continue
        ra, qa = zip(*anchor_points[name]) if anchor_points[name] else ((), ())
        rt, qt = zip(*test_points[name]) if test_points[name] else ((), ())
        rows.append({"sequence": name, **bd_compare(ra, qa, rt, qt, method)})
    mean = {key: (float(np.mean([r[key] for r in rows])) if rows else math.nan) for key in ("bd_rate", "bd_psnr")}
    return {"method": method, "rows": rows, "mean": mean}


def read_rd_csv(path: str | os.PathLike[str], quality: str = "psnr") -> dict[str, list[tuple[float, float]]]:
    """RD points from a CSV with a header: a ``rate`` column, the ``quality`` column, optionally ``sequence``.

    Without a ``sequence`` column all rows are one sequence named after the file. Column names are
    matched case-insensitively.

    Raises:
        MissingFileError: no such file.
        FormatError: no header, missing columns, or a value that is not a number (with its line).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise MissingFileError(path, "no such file")
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames:
            raise FormatError(path, "empty file (a header with 'rate' and a quality column is expected)")
        columns = {name.strip().lower(): name for name in reader.fieldnames}
        for needed in ("rate", quality.lower()):
            if needed not in columns:
                raise FormatError(path, f"no {needed!r} column (columns: {', '.join(reader.fieldnames)})")
        points: dict[str, list[tuple[float, float]]] = {}
        default = os.path.splitext(os.path.basename(path))[0]
        for row in reader:
            line = reader.line_num
            try:
                rate = float(row[columns["rate"]])
                value = float(row[columns[quality.lower()]])
            except (TypeError, ValueError):
                raise FormatError(path, f"line {line}: rate and {quality} must be numbers") from None
            name = row[columns["sequence"]].strip() if "sequence" in columns else default
            points.setdefault(name, []).append((rate, value))
    if not points:
        raise FormatError(path, "no data rows")
    return points
