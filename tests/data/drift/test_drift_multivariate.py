"""Multivariate drift: the domain classifier's AUC against its permutation null."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from mlward.data.drift import DriftDetector
from mlward.data.drift.multivariate import domain_classifier


def _mixed(rng: np.random.Generator, n: int) -> pa.Table:
    return pa.table(
        {
            "x": rng.normal(size=n),
            "y": rng.lognormal(size=n),
            "k": rng.integers(0, 30, n),
            "c": rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2]),
        }
    )


@pytest.mark.parametrize("rows", [89, 500])
def test_controls_from_one_distribution_raise_no_multivariate_alarm(rows: int) -> None:
    # The fixed AUC >= 0.55 rule alone alarmed on 89-vs-89-row controls (AUC 0.58).
    aucs = []
    for seed in range(20):
        rng = np.random.default_rng(1_000 + seed)
        result = domain_classifier(_mixed(rng, rows), _mixed(rng, rows), ["x", "y", "k", "c"])
        assert not result.drifted, (seed, result)
        assert result.p_value is not None and result.permutations == 200
        aucs.append(result.auc)
    if rows == 89:  # chance separations above the practical threshold do happen here
        assert max(aucs) >= 0.55


def test_correlation_flip_with_unchanged_marginals_is_caught_by_default() -> None:
    rng = np.random.default_rng(7)
    n = 2_000
    x_cur = rng.normal(size=n)
    y_cur = -0.9 * x_cur + np.sqrt(1 - 0.9**2) * rng.normal(size=n)  # still N(0, 1)
    x_ref = rng.normal(size=n)
    y_ref = 0.9 * x_ref + np.sqrt(1 - 0.9**2) * rng.normal(size=n)
    report = (
        DriftDetector().fit(pa.table({"x": x_ref, "y": y_ref})).compare(pa.table({"x": x_cur, "y": y_cur}))
    )
    assert report.drifted_columns == []
    multi = report.multivariate
    assert multi is not None and multi.drifted and report.drifted
    assert multi.auc > 0.7 and multi.p_value is not None and multi.p_value < 0.01
    assert multi.null_quantile is not None and multi.null_quantile < 0.55
    doc = json.loads(json.dumps(report.to_dict(), allow_nan=False))["multivariate"]
    assert doc["p_value"] == multi.p_value and doc["permutations"] == 200
    assert doc["null_quantile"] == multi.null_quantile and doc["alpha"] == 0.01


def test_multivariate_verdict_is_identical_across_runs() -> None:
    rng = np.random.default_rng(3)
    ref, cur = _mixed(rng, 300), _mixed(rng, 300)
    first = DriftDetector().fit(ref).compare(cur).to_dict()["multivariate"]
    second = DriftDetector().fit(ref).compare(cur).to_dict()["multivariate"]
    assert first == second and first["p_value"] is not None


def test_nulls_and_categories_enter_the_classifier() -> None:
    rng = np.random.default_rng(11)
    ref = _mixed(rng, 1_000)
    cur = _mixed(rng, 1_000)
    x = cur.column("x").to_numpy().copy()
    spiked = pa.array(x, mask=rng.random(x.size) < 0.3)
    result = domain_classifier(ref, cur.set_column(0, "x", spiked), ["x", "y", "k", "c"])
    assert result.drifted and result.auc > 0.6


def test_no_multivariate_test_when_switched_off_or_from_a_profile() -> None:
    rng = np.random.default_rng(5)
    ref, cur = _mixed(rng, 200), _mixed(rng, 200)
    assert DriftDetector(multivariate=False).fit(ref).compare(cur).multivariate is None
    from mlward.data.profile import profile_dataset

    report = DriftDetector().fit(profile_dataset(ref)).compare(cur)
    assert report.multivariate is None
    assert ("(multivariate)", "needs raw rows on both sides, not profiles") in report.skipped
