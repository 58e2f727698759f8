"""``QuantileHistogram``: the same multiset of values gives the same summary, in any order."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlward.data.profile import QuantileHistogram
from mlward.data.profile.quantiles import key_values, order_keys


def _summary(parts: list[np.ndarray], cap: int, order: list[int]) -> QuantileHistogram:
    pieces = []
    for part in parts:
        piece = QuantileHistogram(cap)
        piece.update(part)
        pieces.append(piece)
    whole = QuantileHistogram(cap)
    for i in order:
        whole.merge(pieces[i])
    return whole


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=1, max_size=400),
    cuts=st.lists(st.integers(0, 400), max_size=5),
    cap=st.integers(2, 64),
    seed=st.integers(0, 2**32 - 1),
)
def test_summary_does_not_depend_on_partitioning_or_merge_order(values, cuts, cap, seed) -> None:
    x = np.array(values, dtype=np.float64)
    parts = [p for p in np.split(x, sorted(c for c in cuts if c < x.size)) if p.size]
    order = list(np.random.default_rng(seed).permutation(len(parts)))
    one = QuantileHistogram(cap)
    one.update(x)
    many = _summary(parts, cap, order)
    assert many == one
    assert QuantileHistogram.from_bytes(one.to_bytes()) == one
    assert one.buckets.size <= cap and one.n == x.size


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=2))
def test_order_keys_sort_like_the_values_and_invert(values) -> None:
    x = np.array(values, dtype=np.float64)
    keys = order_keys(x)
    assert np.array_equal(np.argsort(x, kind="stable"), np.argsort(keys, kind="stable"))
    assert np.array_equal(key_values(keys), np.where(x == 0.0, 0.0, x))


@pytest.mark.parametrize("kind", ["normal", "lognormal", "offset", "integers"])
def test_cdf_error_is_within_the_reported_bound(kind) -> None:
    rng = np.random.default_rng(5)
    x = {
        "normal": rng.normal(0, 1, 300_000),
        "lognormal": rng.lognormal(0, 1, 300_000),
        "offset": rng.normal(1e6, 1, 300_000),
        "integers": rng.integers(0, 2_000, 300_000).astype(float),
    }[kind]
    summary = QuantileHistogram()
    for start in range(0, x.size, 65_536):
        summary.update(x[start : start + 65_536])
    points = np.quantile(x, np.linspace(0.001, 0.999, 999))
    truth = np.searchsorted(np.sort(x), points, side="right") / x.size
    error = summary.rank_error()
    assert error < 0.01
    assert np.max(np.abs(summary.cdf(points) - truth)) <= error
    if kind == "integers":  # fewer distinct values than buckets: exact
        assert error == 0.0 and np.array_equal(summary.quantiles([0.0, 1.0]), [x.min(), x.max()])
