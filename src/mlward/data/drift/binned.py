"""Tests on binned frequencies: PSI, Jensen-Shannon, Hellinger, total variation, chi-square.

Numeric columns are binned on the reference's deciles (open-ended end bins, so current
values outside the reference range still count); categorical columns use one bin per
category. From sketches, bin masses come from quantile-summary CDFs (error at most 2ε per bin) and
categories from the frequent-items sketch (rare categories lumped into one ``other`` bin).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2_contingency

from mlward.data.drift.calibration import Calibration, calibrate_masses, deflated_masses
from mlward.data.drift.interface import DriftTest, TestOutcome
from mlward.data.profile import CATEGORICAL, NUMERIC, ColumnProfile

NUMERIC_BINS = 10
_PSI_FLOOR = 1e-4  # PSI is undefined for empty bins; the usual floor (as Evidently does)


def reference_edges(reference: ColumnProfile, bins: int = NUMERIC_BINS) -> np.ndarray:
    """Return bin edges at the reference's quantiles, with -inf / +inf at the ends."""
    inner = np.unique(reference.quantiles(np.linspace(0.0, 1.0, bins + 1)[1:-1]))
    return np.concatenate([[-np.inf], inner[np.isfinite(inner)], [np.inf]])


def binned_frequencies(
    reference: ColumnProfile, current: ColumnProfile, kind: str
) -> tuple[np.ndarray, np.ndarray, float]:
    """Return (reference masses, current masses, per-bin error bound) on shared bins."""
    if kind == NUMERIC:
        edges = reference_edges(reference)
        error = 2 * (reference.rank_error() + current.rank_error())
        return reference.histogram(edges), current.histogram(edges), error
    ref_counts, ref_other = reference.category_counts()
    cur_counts, cur_other = current.category_counts()
    keys = sorted(set(ref_counts) | set(cur_counts))
    ref = np.array([ref_counts.get(k, 0.0) for k in keys] + [ref_other])
    cur = np.array([cur_counts.get(k, 0.0) for k in keys] + [cur_other])
    error = _frequent_error(reference) + _frequent_error(current)
    return ref / max(ref.sum(), 1.0), cur / max(cur.sum(), 1.0), error


def _frequent_error(column: ColumnProfile) -> float:
    if column.counts is not None or column.frequent is None:
        return 0.0
    return float(column.frequent.epsilon)  # per-category error, as a share of the total


def psi(ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """Population stability index of two mass vectors (vectorized over the last axis)."""
    r = np.maximum(ref, _PSI_FLOOR)
    c = np.maximum(cur, _PSI_FLOOR)
    return np.asarray(np.sum((c - r) * np.log(c / r), axis=-1))


class _Binned(DriftTest):
    kinds = frozenset({NUMERIC, CATEGORICAL})
    uses_p_value = False
    default_threshold = 0.1

    def compute(self, reference: ColumnProfile, current: ColumnProfile, kind: str) -> TestOutcome:
        ref, cur, error = binned_frequencies(reference, current, kind)
        approximate = error > 0
        return TestOutcome(float(self.distance(ref, cur)), None, approximate, None)

    def calibrate(
        self,
        reference: ColumnProfile,
        current: ColumnProfile,
        kind: str,
        outcome: TestOutcome,
        alpha: float,
    ) -> Calibration:
        ref, cur, error = binned_frequencies(reference, current, kind)
        tested = float(self.distance(*deflated_masses(ref, cur, error))) if error > 0 else None
        return calibrate_masses(self.distance, ref, cur, reference.n, current.n, alpha=alpha, tested=tested)

    def distance(self, ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
        """The distance between mass vectors, vectorized over the last axis."""
        raise NotImplementedError


class PSITest(_Binned):
    """Population stability index (0.1: moderate shift, 0.25: major shift)."""

    name = "psi"

    def distance(self, ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
        return psi(ref, cur)


class JensenShannonTest(_Binned):
    """Jensen-Shannon distance (natural log, so in [0, sqrt(ln 2)])."""

    name = "jensenshannon"

    def distance(self, ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
        return np.asarray(jensenshannon(ref, cur, axis=-1))


class HellingerTest(_Binned):
    """Hellinger distance, in [0, 1]."""

    name = "hellinger"

    def distance(self, ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
        return np.asarray(np.sqrt(np.maximum(0.0, 1.0 - np.sum(np.sqrt(ref * cur), axis=-1))))


class TVDTest(_Binned):
    """Total variation distance: half the L1 distance between the mass vectors."""

    name = "tvd"

    def distance(self, ref: np.ndarray, cur: np.ndarray) -> np.ndarray:
        return np.asarray(0.5 * np.abs(ref - cur).sum(axis=-1))


class ChiSquareTest(DriftTest):
    """Chi-square test of homogeneity on the 2 x K table of category counts.

    Evidently uses a goodness-of-fit test against the reference shares, which breaks on a
    category the reference never saw; the two-sample table handles it, and on two
    categories it equals the two-proportion z-test (no continuity correction).
    """

    name = "chisquare"
    kinds = frozenset({CATEGORICAL})
    uses_p_value = True
    default_threshold = 0.05

    def compute(self, reference: ColumnProfile, current: ColumnProfile, kind: str) -> TestOutcome:
        ref, cur, error = binned_frequencies(reference, current, CATEGORICAL)
        table = np.vstack([ref * reference.n, cur * current.n])
        table = table[:, table.sum(axis=0) > 0]
        if table.shape[1] < 2:
            return TestOutcome(0.0, 1.0, error > 0)
        result = chi2_contingency(table, correction=False)
        return TestOutcome(float(result.statistic), float(result.pvalue), error > 0)
