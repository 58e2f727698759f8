"""Tests on numeric distributions: Kolmogorov-Smirnov, Wasserstein, Anderson-Darling.

Each runs exactly (scipy) when both profiles still hold every value, and from quantile summaries
otherwise:

* KS: the largest CDF gap over a grid made of both sketches' quantiles (``GRID`` points
  each). With rank error ε per summary (``rank_error``), the sketch statistic is within
  ``3 (ε_ref + ε_cur) + 1 / (GRID - 1)`` of the exact one; the p-value uses the asymptotic
  Kolmogorov distribution for the two sample sizes (scipy's ``method="asymp"``) applied to
  the statistic less ``ε_ref + ε_cur``, so that sketch noise alone is never significant.
* Wasserstein-1: the mean gap between the two quantile functions on ``GRID`` midpoints,
  divided by the reference standard deviation (Evidently's "normed" variant).
* Anderson-Darling (k-sample): needs values; from sketches it runs on samples rebuilt
  from quantiles (at most ``AD_POINTS`` per side), which loses power: marked approximate.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats

from mlward.data.drift.calibration import (
    Calibration,
    binned_wasserstein,
    calibrate_masses,
    deflated_wasserstein,
    numeric_bins,
)
from mlward.data.drift.interface import DriftTest, TestOutcome
from mlward.data.profile import NUMERIC, ColumnProfile

GRID = 2001
AD_POINTS = 2000
_STD_FLOOR = 1e-3  # a constant reference column would otherwise divide by zero


def _grid(*columns: ColumnProfile) -> np.ndarray:
    ranks = np.linspace(0.0, 1.0, GRID)
    points = np.concatenate([c.quantiles(ranks) for c in columns])
    return np.unique(points[np.isfinite(points)])


def ks_statistic(reference: ColumnProfile, current: ColumnProfile) -> tuple[float, float]:
    """Return (KS statistic, error bound) for two profiles; the bound is 0 when exact."""
    ref, cur = reference.exact_values(), current.exact_values()
    if ref is not None and cur is not None:
        return float(stats.ks_2samp(ref, cur).statistic), 0.0
    grid = _grid(reference, current)
    gap = float(np.max(np.abs(reference.cdf(grid) - current.cdf(grid)))) if grid.size else 0.0
    bound = 3 * (reference.rank_error() + current.rank_error()) + 1 / (GRID - 1)
    return gap, bound


class KSTest(DriftTest):
    """Two-sample Kolmogorov-Smirnov test (drift when p < 0.05)."""

    name = "ks"
    kinds = frozenset({NUMERIC})
    uses_p_value = True
    default_threshold = 0.05

    def compute(self, reference: ColumnProfile, current: ColumnProfile, kind: str) -> TestOutcome:
        ref, cur = reference.exact_values(), current.exact_values()
        if ref is not None and cur is not None:
            result = stats.ks_2samp(ref, cur)
            return TestOutcome(float(result.statistic), float(result.pvalue))
        statistic, bound = ks_statistic(reference, current)
        effective = round(reference.n * current.n / max(reference.n + current.n, 1))
        # At large n a sketch's own noise would look significant: the p-value is taken for
        # the statistic less both sketches' rank error, so sketches never invent drift.
        deflated = max(statistic - reference.rank_error() - current.rank_error(), 0.0)
        p_value = float(stats.kstwo.sf(deflated, max(effective, 1)))
        return TestOutcome(statistic, p_value, True, bound)


def wasserstein_distance(reference: ColumnProfile, current: ColumnProfile) -> tuple[float, bool]:
    """Return (Wasserstein-1 distance, approximate?) between two numeric profiles."""
    ref, cur = reference.exact_values(), current.exact_values()
    if ref is not None and cur is not None:
        return float(stats.wasserstein_distance(ref, cur)), False
    mid = (np.arange(GRID - 1) + 0.5) / (GRID - 1)
    gap = np.abs(reference.quantiles(mid) - current.quantiles(mid))
    return float(np.mean(gap)), True


class WassersteinTest(DriftTest):
    """Wasserstein-1 distance in units of the reference standard deviation (drift >= 0.1)."""

    name = "wasserstein"
    kinds = frozenset({NUMERIC})
    uses_p_value = False
    default_threshold = 0.1

    def compute(self, reference: ColumnProfile, current: ColumnProfile, kind: str) -> TestOutcome:
        distance, approximate = wasserstein_distance(reference, current)
        return TestOutcome(distance / _scale(reference), None, approximate)

    def calibrate(
        self,
        reference: ColumnProfile,
        current: ColumnProfile,
        kind: str,
        outcome: TestOutcome,
        alpha: float,
    ) -> Calibration:
        edges, ref, cur = numeric_bins(reference, current)
        scale = _scale(reference)
        error = reference.rank_error() + current.rank_error()
        tested = deflated_wasserstein(edges, scale, ref, cur, error) if error > 0 else None
        return calibrate_masses(
            binned_wasserstein(edges, scale),
            ref,
            cur,
            reference.n,
            current.n,
            alpha=alpha,
            tested=tested,
            statistic=outcome.statistic,
        )


def _scale(reference: ColumnProfile) -> float:
    """The reference standard deviation, computed the same way on every engine."""
    values = reference.exact_values()
    if values is not None:
        std = float(np.std(values))  # sorted, so the sum runs in one order
    elif reference.quantile_histogram is not None:
        std = reference.quantile_histogram.std()
    else:
        std = reference.std
    return max(std, _STD_FLOOR)


def _rebuilt_sample(column: ColumnProfile) -> tuple[np.ndarray, bool]:
    values = column.exact_values()
    if values is not None:
        return values, False
    points = min(column.n, AD_POINTS)
    return column.quantiles((np.arange(points) + 0.5) / points), True


class AndersonDarlingTest(DriftTest):
    """k-sample Anderson-Darling test (scipy; p-values are clipped to [0.001, 0.25])."""

    name = "anderson"
    kinds = frozenset({NUMERIC})
    uses_p_value = True
    default_threshold = 0.05

    def compute(self, reference: ColumnProfile, current: ColumnProfile, kind: str) -> TestOutcome:
        ref, ref_approx = _rebuilt_sample(reference)
        cur, cur_approx = _rebuilt_sample(current)
        if np.unique(np.concatenate([ref, cur])).size < 2:
            return TestOutcome(0.0, 1.0, ref_approx or cur_approx)
        with warnings.catch_warnings():
            # scipy warns whenever the p-value is clipped to its table; the clip is documented
            warnings.simplefilter("ignore", UserWarning)
            result = stats.anderson_ksamp([ref, cur])
        return TestOutcome(float(result.statistic), float(result.pvalue), ref_approx or cur_approx)
