"""DriftDetector on planted drift: right columns flagged, same-distribution data never."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from mlward.core.errors import ConfigError
from mlward.data.drift import (
    ColumnRule,
    DriftDetector,
    default_test,
    label_drift,
    prediction_drift,
)
from mlward.data.profile import profile_dataset

from .conftest import PLANTED, STABLE


@pytest.mark.parametrize("size", ["small", "large"])
def test_same_distribution_with_another_seed_is_not_flagged(frames, size) -> None:
    report = DriftDetector().fit(frames[f"{size}_ref"]).compare(frames[f"{size}_same"])
    assert report.drifted_columns == []
    assert not report.drifted


@pytest.mark.parametrize("size", ["small", "large"])
def test_planted_drift_is_flagged_exactly_where_planted(frames, size) -> None:
    report = DriftDetector().fit(frames[f"{size}_ref"]).compare(frames[f"{size}_drift"])
    assert sorted(report.drifted_columns) == sorted(PLANTED.values())
    assert report.drift_share == pytest.approx(0.5) and report.drifted
    for name in STABLE:
        assert not report.column(name).drifted


def test_default_tests_follow_type_and_size(frames) -> None:
    small = DriftDetector().fit(frames["small_ref"]).compare(frames["small_same"])
    large = DriftDetector().fit(frames["large_ref"]).compare(frames["large_same"])
    assert small.column("income").test == "ks" and large.column("income").test == "wasserstein"
    assert small.column("plan").test == "chisquare" and large.column("plan").test == "jensenshannon"
    # integers with at most five values are categorical, as in Evidently
    assert large.column("rating").kind == "categorical" and large.column("age").kind == "numeric"
    assert default_test("numeric", 1_000) == "ks" and default_test("numeric", 1_001) == "wasserstein"
    # hypothesis tests carry their own p-value; distances a calibrated one, with an interval
    assert small.column("income").p_value is not None and small.column("income").interval is None
    wasserstein = large.column("income")
    assert wasserstein.p_value is not None and wasserstein.alpha == 0.01
    assert wasserstein.interval is not None and wasserstein.interval[0] <= wasserstein.statistic


NUMERIC_TESTS = ["ks", "wasserstein", "psi", "jensenshannon", "hellinger", "anderson", "tvd"]


@pytest.mark.parametrize("test", NUMERIC_TESTS)
def test_every_numeric_test_separates_shift_from_noise(frames, test) -> None:
    detector = DriftDetector(tests={"numeric": test}).fit(frames["small_ref"])
    same = detector.compare(frames["small_same"])
    drifted = detector.compare(frames["small_drift"])
    assert drifted.column("income").drifted and drifted.column("income").test == test
    assert not same.column("income").drifted
    assert not same.column("score").drifted


@pytest.mark.parametrize("test", ["chisquare", "psi", "jensenshannon", "hellinger", "tvd"])
def test_every_categorical_test_sees_new_and_missing_categories(frames, test) -> None:
    detector = DriftDetector(tests={"categorical": test}).fit(frames["large_ref"])
    drifted = detector.compare(frames["large_drift"])
    assert drifted.column("channel").drifted and drifted.column("region").drifted
    if test != "chisquare":  # at n = 60 000 chi-square flags trivial differences, by design
        assert not drifted.column("plan").drifted


def test_per_column_overrides_and_thresholds(frames) -> None:
    detector = DriftDetector(
        thresholds={"wasserstein": 5.0},
        per_column={"latency": "psi", "region": ColumnRule(skip=True), "channel": 0.9},
    ).fit(frames["large_ref"])
    report = detector.compare(frames["large_drift"])
    assert not report.column("income").drifted and report.column("income").threshold == 5.0
    assert report.column("latency").test == "psi" and report.column("latency").drifted
    assert not report.column("channel").drifted and report.column("channel").threshold == 0.9
    assert ("region", "skipped by configuration") in report.skipped
    with pytest.raises(KeyError):
        report.column("region")


def test_configuration_errors_are_clear() -> None:
    with pytest.raises(ConfigError, match="unknown drift test 'kss'"):
        DriftDetector(tests={"numeric": "kss"})
    with pytest.raises(ConfigError, match="does not apply to categorical"):
        DriftDetector(tests={"categorical": "ks"})
    with pytest.raises(ConfigError, match="unknown column kind"):
        DriftDetector(tests={"text": "psi"})
    table = pa.table({"c": ["a", "b"] * 10})
    with pytest.raises(ConfigError, match="does not apply"):
        DriftDetector(per_column={"c": "wasserstein"}).fit(table).compare(table)
    with pytest.raises(ConfigError, match="before fit"):
        DriftDetector().compare(table)


def test_share_threshold_sets_the_dataset_verdict(frames) -> None:
    # The share alone decides once the domain classifier (which sees the drift too) is off.
    strict = (
        DriftDetector(share_threshold=0.6, multivariate=False)
        .fit(frames["large_ref"])
        .compare(frames["large_drift"])
    )
    assert strict.drift_share == pytest.approx(0.5) and not strict.drifted
    with_rows = DriftDetector(share_threshold=0.6).fit(frames["large_ref"]).compare(frames["large_drift"])
    assert with_rows.multivariate is not None and with_rows.multivariate.drifted and with_rows.drifted


def test_missing_or_empty_columns_count_as_drift() -> None:
    ref = pa.table({"a": np.arange(100.0), "b": np.arange(100.0), "c": ["x"] * 100})
    cur = pa.table({"a": np.arange(100.0), "b": pa.nulls(100, pa.float64())})
    report = DriftDetector().fit(ref).compare(cur)
    assert report.column("b").test == "missing" and report.column("b").drifted
    assert report.column("c").test == "missing" and report.column("c").drifted
    assert not report.column("a").drifted


def test_json_document_is_schema_v1(frames) -> None:
    report = (
        DriftDetector(multivariate=True, sample_rows=400)
        .fit(frames["small_ref"])
        .compare(frames["small_drift"])
    )
    doc = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert doc["schema_version"] == 1 and doc["kind"] == "mlward.drift"
    entry = doc["columns"][0]
    assert set(entry) == {
        "column",
        "type",
        "test",
        "statistic",
        "p_value",
        "threshold",
        "drifted",
        "approximate",
        "error_bound",
        "reference_rows",
        "current_rows",
        "distribution_drifted",
        "interval",
        "null_quantile",
        "alpha",
        "null_rate",
        "new_categories",
        "vanished_categories",
        "withheld",
        "summary",
    }
    assert [c["column"] for c in doc["columns"]] == frames["small_ref"].column_names
    assert doc["dataset"] == {
        "columns": 8,
        "drifted_columns": 4,
        "drift_share": 0.5,
        "share_threshold": 0.5,
        "drifted": True,
    }
    assert doc["multivariate"]["test"] == "domain_classifier" and doc["multivariate"]["drifted"]


def test_reference_can_be_a_stored_profile(frames) -> None:
    stored = profile_dataset(frames["large_ref"]).to_json()
    from mlward.data.profile import DatasetProfile

    report = DriftDetector().fit(DatasetProfile.from_json(stored)).compare(frames["large_drift"])
    assert sorted(report.drifted_columns) == sorted(PLANTED.values())


def test_multivariate_drift_catches_a_changed_correlation_with_stable_marginals() -> None:
    rng = np.random.default_rng(21)
    n = 3_000
    x_ref, y_ref = rng.normal(size=n), rng.normal(size=n)
    x_cur = rng.normal(size=n)
    y_cur = 0.95 * x_cur + np.sqrt(1 - 0.95**2) * rng.normal(size=n)  # still N(0, 1)
    ref = pa.table({"x": x_ref, "y": y_ref})
    cur = pa.table({"x": x_cur, "y": y_cur})
    detector = DriftDetector(multivariate=True, sample_rows=2_000).fit(ref)
    report = detector.compare(cur)
    assert report.drifted_columns == []
    assert report.multivariate is not None and report.multivariate.auc > 0.7
    assert report.multivariate.drifted and report.drifted
    same = detector.compare(pa.table({"x": rng.normal(size=n), "y": rng.normal(size=n)}))
    assert same.multivariate is not None and not same.multivariate.drifted
    from_profile = DriftDetector(multivariate=True).fit(profile_dataset(ref)).compare(cur)
    assert from_profile.multivariate is None
    assert any(name == "(multivariate)" for name, _ in from_profile.skipped)


def test_prediction_and_label_drift() -> None:
    rng = np.random.default_rng(5)
    scores_ref, scores_cur = rng.beta(2, 5, 5_000), rng.beta(3, 3, 5_000)
    scores = prediction_drift(scores_ref, scores_cur)
    assert scores.kind == "numeric" and scores.test == "wasserstein" and scores.drifted
    stable = prediction_drift(scores_ref, rng.beta(2, 5, 5_000))
    assert not stable.drifted
    labels = label_drift(rng.random(900) < 0.2, rng.random(900) < 0.5)
    assert labels.kind == "categorical" and labels.test == "chisquare" and labels.drifted
    override = prediction_drift(scores_ref, scores_cur, test="psi", threshold=10.0)
    assert override.test == "psi" and not override.drifted
