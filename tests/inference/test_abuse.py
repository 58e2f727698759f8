"""Abuse detection: PRADA model-extraction test, enumeration, duplicates, outlier floods, sampling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from serve_testlib import CONTRACT, FEATURES, training_data

from mlward.inference.abuse import AbuseMonitor, feature_scale, prada_statistic
from mlward.inference.schema import contract_columns
from mlward.inference.scorers import DetectorScorer
from mlward.inference.settings import GuardSettings


@pytest.fixture(scope="module")
def detector():
    from mlward.data.outliers import OutlierDetector

    X, _ = training_data(600)
    return OutlierDetector(target_fpr=0.02, n_estimators=50).fit(pd.DataFrame(X, columns=FEATURES))


@pytest.fixture(scope="module")
def traffic():
    X, _ = training_data(3000, seed=7)
    return X


def _monitor(detector, *, extra=None, **settings):
    """A monitor over the test contract; unless given, every request is scored, without budget."""
    columns = list(contract_columns(CONTRACT).values())
    settings.setdefault("outlier_sample_rate", 1.0)
    settings.setdefault("outlier_rows_per_second", 0)  # these feed thousands of queries a second
    return AbuseMonitor(
        GuardSettings(**settings),
        4,
        scale=feature_scale(columns, detector),
        scorer=DetectorScorer(detector),
        columns=FEATURES,
        **(extra or {}),
    )


def _feed(monitor, principal, rows, batch=1):
    kinds = []
    for start in range(0, len(rows), batch):
        chunk = rows[start : start + batch]
        kinds += [s.kind for s in monitor.observe(principal, chunk, chunk.tolist())]
    return kinds


def _jacobian_style_queries(seeds: np.ndarray, steps: int, rng) -> np.ndarray:
    # Papernot-style synthetic augmentation: from a few natural seeds, walk by small signed steps.
    queries = []
    for seed in seeds:
        current = seed.copy()
        queries.append(current.copy())
        for _ in range(steps):
            current = current + rng.choice([-1, 1], 4) * np.array([0.5, 250.0, 250.0, 0.0])
            queries.append(current.copy())
    return np.array(queries)


def test_prada_leaves_benign_clients_alone_and_flags_synthetic_queries(detector, traffic):
    rng = np.random.default_rng(3)
    monitor = _monitor(detector)
    for client in range(3):
        benign = traffic[rng.choice(len(traffic), 300, replace=False)]
        assert "extraction" not in _feed(monitor, f"benign-{client}", benign)
    attack = _jacobian_style_queries(traffic[:10], 30, rng)
    kinds = _feed(monitor, "attacker", attack)
    assert "extraction" in kinds
    distances = np.fromiter(monitor._clients["attacker"].distances, dtype=float)
    assert prada_statistic(distances) < GuardSettings().prada_threshold


def test_enumeration_of_one_feature_is_flagged(detector):
    monitor = _monitor(detector, enumeration_run=10)
    base = np.array([40.0, 50_000.0, 10_000.0, 36.0])
    sweep = np.array([base + np.array([0, 0, 500.0 * i, 0]) for i in range(15)])
    kinds = _feed(monitor, "sweeper", sweep)
    assert kinds.count("enumeration") == 1  # raised once, not on every request
    # Varying several features at once is not a sweep.
    rng = np.random.default_rng(0)
    mixed = base + rng.normal(0, 1, (15, 4)) * [5, 5000, 5000, 0]
    assert "enumeration" not in _feed(_monitor(detector, enumeration_run=10), "mixed", mixed)


def test_enumeration_inside_batches_is_flagged(detector):
    monitor = _monitor(detector, enumeration_run=10, rows_per_request=8)
    base = np.array([40.0, 50_000.0, 10_000.0, 36.0])
    sweep = np.array([base + np.array([i, 0, 0, 0]) for i in range(64)])
    assert "enumeration" in _feed(monitor, "batcher", sweep, batch=16)


def test_repeated_queries_are_flagged(detector):
    monitor = _monitor(detector)
    same = np.tile([40.0, 50_000.0, 10_000.0, 36.0], (60, 1))
    assert "duplicates" in _feed(monitor, "repeater", same)


def test_outlier_flood_is_flagged_and_normal_traffic_is_not(detector, traffic):
    # Every row scored here; the sampled default is checked below.
    monitor = _monitor(detector, outlier_min_rows=20, outlier_ratio=0.3, outlier_rows_per_request=10)
    assert "outliers" not in _feed(monitor, "normal", traffic[:200], batch=10)
    rng = np.random.default_rng(1)
    odd = np.column_stack(
        [
            rng.integers(95, 100, 40),
            rng.uniform(800_000, 1e6, 40),
            rng.uniform(900_000, 1e6, 40),
            np.full(40, 60),
        ]
    ).astype(float)
    assert "outliers" in _feed(monitor, "prober", odd, batch=10)


def test_sampled_outlier_scoring_still_sees_a_flood(detector):
    # Defaults: a quarter of the requests, one random row of each, is scored.
    sample_rate = GuardSettings().outlier_sample_rate
    monitor = _monitor(detector, outlier_min_rows=10, outlier_sample_rate=sample_rate, extra={"seed": 0})
    rng = np.random.default_rng(4)
    odd = np.column_stack(
        [rng.integers(95, 100, 800), rng.uniform(8e5, 1e6, 800), rng.uniform(9e5, 1e6, 800), np.full(800, 60)]
    ).astype(float)
    assert "outliers" in _feed(monitor, "batch-prober", odd, batch=10)
    assert 10 <= monitor._clients["batch-prober"].out_rows < 80  # far fewer rows scored than sent


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_scoring_budget_bounds_the_work_and_still_sees_a_mixed_flood(detector, traffic):
    clock = _Clock()
    sample_rate = GuardSettings().outlier_sample_rate
    monitor = _monitor(
        detector,
        outlier_rows_per_second=20,
        outlier_min_rows=30,
        outlier_sample_rate=sample_rate,
        extra={"seed": 1, "clock": clock},
    )
    rng = np.random.default_rng(5)
    benign = traffic[rng.choice(len(traffic), 4000)]
    # 4000 benign queries at 1000 a second: about 20 rows a second are scored, not 1000.
    for row in benign:
        clock.now += 0.001
        assert "outliers" not in [s.kind for s in monitor.observe("fast", row[None, :], [row.tolist()])]
    scored = monitor._clients["fast"].out_rows
    assert 40 <= scored <= 160, scored
    # A prober that goes slow on benign queries (scored often) and fast on outliers (scored
    # rarely) is judged on its real mix: scored rows count for the queries they stand for.
    odd = np.column_stack(
        [rng.integers(95, 100, 800), rng.uniform(8e5, 1e6, 800), rng.uniform(9e5, 1e6, 800), np.full(800, 60)]
    ).astype(float)
    kinds: list[str] = []
    for cycle in range(8):
        for row in benign[cycle * 300 : cycle * 300 + 300]:
            clock.now += 0.5
            kinds += [s.kind for s in monitor.observe("mixed", row[None, :], [row.tolist()])]
        burst = odd[cycle * 100 : cycle * 100 + 100]
        for row in burst if cycle % 2 else np.repeat(burst, 3, axis=0):
            clock.now += 0.0005
            kinds += [s.kind for s in monitor.observe("mixed", row[None, :], [row.tolist()])]
    client = monitor._clients["mixed"]
    weighted = client.out_weighted_hits / client.out_weighted_rows
    unweighted = client.out_hits / client.out_rows
    # 1,600 of the 4,000 queries are outliers: the weighted share finds that; counting scored
    # rows alone would see a quarter and let the prober through.
    assert 0.3 <= weighted <= 0.5 and unweighted < GuardSettings().outlier_ratio
    assert "outliers" in kinds
