"""How much of a distance is sampling noise: a null and an interval at the actual sizes.

A distance such as the normed Wasserstein or Jensen-Shannon is never zero between two
samples of one distribution, and the smaller the samples the larger it is by chance (100
rows against 20k give a normed Wasserstein near 0.07 on average). A verdict therefore needs
both an effect above the practical threshold and a p-value below ``alpha``:

* **null**: both sides are redrawn ``NULL_DRAWS`` times as multinomial samples of their
  actual sizes from the pooled bin masses (a parametric bootstrap of "current is more of
  the reference"), and the p-value is the share of redraws at least as far apart as
  observed, (1 + k) / (1 + draws). Redrawing bin counts costs O(draws x bins), whatever
  the number of rows.
* **interval**: each side is redrawn from its own masses (``INTERVAL_DRAWS`` times) and the
  2.5 / 97.5 % percentiles of the distance bound where it would fall on other samples of
  the same sizes.

Numeric columns are binned on the union of both sides' percentiles (``EDGE_RANKS`` each),
so the binned Wasserstein distance is the exact distance between the data snapped to those
edges. When masses come from sketches, each CDF is within its ``rank_error`` of the truth;
the observed gaps are reduced by that error before the p-value is taken (``deflated_*``),
so sketch error never looks like drift. The random generator is seeded with a constant: the same
inputs always give the same p-value and interval.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mlward.data.profile import ColumnProfile

NULL_DRAWS = 500
INTERVAL_DRAWS = 200
EDGE_RANKS = 101
DIRECT_ROWS = 200
GAUSSIAN_MIN_EXPECTED = 20.0
SEED = 19_0001  # constant on purpose: verdicts must not change between runs

Distance = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""A distance on mass vectors, vectorized over the last axis."""


@dataclass(frozen=True)
class Calibration:
    """Sampling uncertainty of one distance at the two sample sizes."""

    p_value: float
    """Share of null redraws at least as far apart as observed (Monte Carlo)."""
    null_quantile: float
    """The distance that sampling noise alone reaches with probability ``alpha``."""
    interval: tuple[float, float]
    """95 % bootstrap interval of the distance."""


def calibrate_masses(
    distance: Distance,
    ref: np.ndarray,
    cur: np.ndarray,
    n_ref: int,
    n_cur: int,
    *,
    alpha: float,
    tested: float | None = None,
    statistic: float | None = None,
) -> Calibration:
    """Calibrate ``distance(ref, cur)`` on bin masses of samples of ``n_ref`` / ``n_cur``.

    ``tested`` is the value compared with the null (default: the distance itself; lower
    when sketch error is taken off); ``statistic`` the reported value the interval is
    placed around (default: the distance itself).
    """
    rng = np.random.default_rng(SEED)
    binned = float(distance(ref, cur))
    tested = binned if tested is None else tested
    statistic = binned if statistic is None else statistic
    pooled = _normalized(ref * n_ref + cur * n_cur)
    null = distance(_redraw(rng, n_ref, pooled, NULL_DRAWS), _redraw(rng, n_cur, pooled, NULL_DRAWS))
    boot = distance(
        _redraw(rng, n_ref, _normalized(ref), INTERVAL_DRAWS),
        _redraw(rng, n_cur, _normalized(cur), INTERVAL_DRAWS),
    )
    # the spread is measured on the binned distance and placed around the reported
    # statistic, which may be computed more exactly than on bins
    low, high = (float(v) + statistic - binned for v in np.percentile(boot, [2.5, 97.5]))
    return Calibration(
        p_value=float((1 + np.count_nonzero(null >= tested - 1e-12)) / (1 + NULL_DRAWS)),
        null_quantile=float(np.quantile(null, 1 - alpha)),
        interval=(max(low, 0.0), max(high, 0.0)),
    )


def numeric_bins(reference: ColumnProfile, current: ColumnProfile) -> tuple[np.ndarray, ...]:
    """Return (edges, reference masses, current masses) on both sides' percentiles.

    Bin 0 holds the values at or below the first edge, bin i those in (e[i-1], e[i]].
    """
    ranks = np.linspace(0.0, 1.0, EDGE_RANKS)
    edges = np.concatenate([reference.quantiles(ranks), current.quantiles(ranks)])
    edges = np.unique(edges[np.isfinite(edges)])
    ref = np.diff(np.concatenate([[0.0], reference.cdf(edges)]))
    cur = np.diff(np.concatenate([[0.0], current.cdf(edges)]))
    return edges, _normalized(np.maximum(ref, 0.0)), _normalized(np.maximum(cur, 0.0))


def binned_wasserstein(edges: np.ndarray, scale: float) -> Distance:
    """Wasserstein-1 / ``scale`` between mass vectors on ``numeric_bins`` edges.

    This is the exact distance between the two samples with each value moved up to the
    edge that closes its bin.
    """
    widths = np.diff(edges) / scale

    def distance(ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
        gap = np.abs(np.cumsum(ref, axis=-1) - np.cumsum(cur, axis=-1))[..., :-1]
        return np.asarray(gap @ widths)

    return distance


def deflated_wasserstein(
    edges: np.ndarray, scale: float, ref: np.ndarray, cur: np.ndarray, error: float
) -> float:
    """``binned_wasserstein`` with each CDF gap reduced by the CDFs' combined error."""
    gap = np.abs(np.cumsum(ref) - np.cumsum(cur))[:-1]
    return float(np.maximum(gap - error, 0.0) @ (np.diff(edges) / scale))


def deflated_masses(ref: np.ndarray, cur: np.ndarray, error: float) -> tuple[np.ndarray, np.ndarray]:
    """Move the two mass vectors towards each other by up to ``error`` per bin."""
    gap = cur - ref
    shrink = np.sign(gap) * np.minimum(np.abs(gap), error) / 2
    return _normalized(ref + shrink), _normalized(cur - shrink)


def _redraw(rng: np.random.Generator, n: int, masses: np.ndarray, draws: int) -> np.ndarray:
    """``draws`` multinomial samples of ``n`` values from ``masses``, as shares."""
    n = max(n, 1)
    if n <= DIRECT_ROWS:
        # few values: draw them, cheaper than one binomial per bin and draw
        cells = np.searchsorted(np.cumsum(masses)[:-1], rng.random((draws, n)), side="right")
        cells += np.arange(draws)[:, None] * masses.size
        return np.bincount(cells.ravel(), minlength=draws * masses.size).reshape(draws, -1) / n
    if n * masses[masses > 0].min() >= GAUSSIAN_MIN_EXPECTED:
        # every bin expects many values: the multinomial's normal limit, covariance
        # (diag(m) - m m^T) / n, at a fraction of the cost
        root = np.sqrt(masses)
        z = rng.standard_normal((draws, masses.size)) * root
        shares = masses + (z - np.outer(z.sum(axis=1), masses)) / np.sqrt(n)
        shares = np.maximum(shares, 0.0)
        return np.asarray(shares / shares.sum(axis=1, keepdims=True))
    return rng.multinomial(n, masses, size=draws) / n


def _normalized(masses: np.ndarray) -> np.ndarray:
    total = masses.sum()
    return masses / total if total > 0 else np.full(masses.size, 1.0 / max(masses.size, 1))
