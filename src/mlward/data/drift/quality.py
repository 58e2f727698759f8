"""Data-quality drift reported beside each column's distribution test.

* **Null rate**: the share of null (missing or NaN) cells, compared with a two-proportion
  z-test; it drifts when the share moved by at least the threshold (absolute, default
  0.05) and p < alpha, so "null rate 0% → 30%" is its own verdict even when the non-null
  values are unchanged.
* **New and vanished categories**: categories the reference never had (listed with their
  current share; only when the reference kept exact counts, so "new" is certain), and
  reference categories expected at least ``VANISHED_MIN_EXPECTED`` times in the current
  data but absent (a rare category missing from a small window is not news).
"""

from __future__ import annotations

import math

from scipy.stats import norm

from mlward.data.drift.interface import NullRateDrift
from mlward.data.profile import ColumnProfile

DEFAULT_NULL_RATE_THRESHOLD = 0.05
VANISHED_MIN_EXPECTED = 5.0
LISTED_CATEGORIES = 20


def null_rate_drift(
    reference: ColumnProfile,
    current: ColumnProfile | None,
    current_rows: int,
    *,
    threshold: float,
    alpha: float,
) -> NullRateDrift:
    """Compare the null shares of a column (a column absent from the current data is all null)."""
    ref_rows, ref_nulls = reference.count, reference.nulls
    cur_rows, cur_nulls = (current.count, current.nulls) if current else (current_rows, current_rows)
    ref_share = ref_nulls / ref_rows if ref_rows else 0.0
    cur_share = cur_nulls / cur_rows if cur_rows else 0.0
    pooled = (ref_nulls + cur_nulls) / max(ref_rows + cur_rows, 1)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / max(ref_rows, 1) + 1 / max(cur_rows, 1)))
    p_value = float(2 * norm.sf(abs(cur_share - ref_share) / spread)) if spread > 0 else 1.0
    drifted = abs(cur_share - ref_share) >= threshold and p_value < alpha
    return NullRateDrift(ref_share, cur_share, threshold, p_value, drifted)


def category_changes(
    reference: ColumnProfile, current: ColumnProfile
) -> tuple[tuple[tuple[str, float], ...], tuple[tuple[str, float], ...]]:
    """Return (new categories with current share, vanished ones with reference share)."""
    ref_counts, _ = reference.category_counts()
    cur_counts, _ = current.category_counts()
    new: list[tuple[str, float]] = []
    vanished: list[tuple[str, float]] = []
    if reference.counts is not None and current.n:
        new = [(k, v / current.n) for k, v in cur_counts.items() if k not in ref_counts and v > 0]
    if current.counts is not None and reference.n:
        vanished = [
            (k, v / reference.n)
            for k, v in ref_counts.items()
            if cur_counts.get(k, 0) == 0 and v / reference.n * current.n >= VANISHED_MIN_EXPECTED
        ]

    def top(items: list[tuple[str, float]]) -> tuple[tuple[str, float], ...]:
        return tuple(sorted(items, key=lambda kv: (-kv[1], kv[0]))[:LISTED_CATEGORIES])

    return top(new), top(vanished)
