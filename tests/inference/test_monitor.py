"""Output monitoring: PSI drift of predictions and of class distributions, incremental window counts."""

from __future__ import annotations

import numpy as np
import pytest

from mlward.inference.monitor import PredictionMonitor


def test_stable_predictions_do_not_drift_and_shifted_ones_do():
    rng = np.random.default_rng(0)
    monitor = PredictionMonitor(500, 0.25, categorical=False)
    assert monitor.observe(rng.beta(2, 5, 500)) is None  # the reference window
    updates = [monitor.observe(rng.beta(2, 5, 50), np.full(50, 0.8)) for _ in range(20)]
    stable = [u for u in updates if u is not None]
    assert stable and all(u.psi < 0.1 and not u.alarm for u in stable)
    assert stable[-1].confidence == 0.8
    shifted = [monitor.observe(rng.beta(5, 2, 50)) for _ in range(20)]
    raised = [u for u in shifted if u is not None and u.changed]
    assert len(raised) == 1 and raised[0].alarm and raised[0].psi > 0.25


def test_class_distribution_drift():
    rng = np.random.default_rng(1)
    monitor = PredictionMonitor(300, 0.25, categorical=True)
    monitor.observe(rng.choice([0.0, 1.0, 2.0], 300, p=[0.6, 0.3, 0.1]))
    last = None
    for _ in range(10):
        last = monitor.observe(rng.choice([0.0, 1.0, 2.0], 30, p=[0.6, 0.3, 0.1])) or last
    assert last is not None and not last.alarm
    for _ in range(10):
        last = monitor.observe(rng.choice([0.0, 1.0, 2.0, 3.0], 30, p=[0.1, 0.1, 0.2, 0.6])) or last
    assert last.alarm


@pytest.mark.parametrize("categorical", [False, True])
def test_incremental_window_counts_match_a_recount(categorical):
    rng = np.random.default_rng(3)
    draw = (lambda n: rng.integers(0, 4, n).astype(float)) if categorical else (lambda n: rng.beta(2, 5, n))
    monitor = PredictionMonitor(200, 0.25, categorical=categorical)
    monitor.observe(draw(200))
    seen: list[np.ndarray] = []
    # Batches of one, and smaller and larger than the window.
    sizes = [*rng.integers(1, 260, 40), *[1] * 250, 3, 1]
    for size in sizes:
        batch = draw(int(size))
        monitor.observe(batch)
        seen.append(batch)
    window = np.concatenate(seen)[-200:]
    expected = np.bincount(monitor._bin_index(window), minlength=len(monitor._counts))
    assert np.array_equal(monitor._counts, expected)
