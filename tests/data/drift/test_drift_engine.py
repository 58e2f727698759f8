"""Local and Dask engines give the same profiles, drift, fairness and outlier models.

The Dask side is a real two-worker ``LocalCluster`` (processes), started once per module.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlward.data.drift import DriftDetector
from mlward.data.fairness import data_fairness
from mlward.data.outliers import OutlierDetector
from mlward.data.profile import profile_dataset
from mlward.engine.dask import DaskEngine
from mlward.engine.local import LocalEngine

from .conftest import PLANTED, make_frame


@pytest.fixture(scope="module")
def dask_engine() -> Iterator[DaskEngine]:
    engine = DaskEngine(n_workers=2, batch_rows=2_000)
    yield engine
    engine.close()


def _write_partitioned(table: pa.Table, root: Path, parts: int = 4) -> Path:
    root.mkdir()
    step = table.num_rows // parts
    for i in range(parts):
        pq.write_table(table.slice(i * step, step), root / f"part-{i:02d}.parquet", row_group_size=step // 2)
    return root


@pytest.fixture(scope="module")
def datasets(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("engines")
    planted = dict.fromkeys(PLANTED, True)
    labels = np.random.default_rng(1).random(48_000) < 0.3
    ref = make_frame(24_000, 31).append_column("label", pa.array(labels[:24_000]))
    cur = make_frame(24_000, 32, **planted).append_column("label", pa.array(labels[24_000:]))
    return {
        "ref": _write_partitioned(ref, base / "ref"),
        "cur": _write_partitioned(cur, base / "cur"),
        "small": _write_partitioned(make_frame(6_000, 33), base / "small"),
    }


def test_profiles_match_across_engines(datasets, dask_engine) -> None:
    local = LocalEngine(workers=2, batch_rows=2_000)
    for name, exact in (("small", True), ("ref", False)):
        a = profile_dataset(datasets[name], local)
        b = profile_dataset(datasets[name], dask_engine)
        assert a.rows == b.rows
        for column, left in a.columns.items():
            right = b.columns[column]
            facts = ("count", "nulls", "n", "counts")
            assert [getattr(left, f) for f in facts] == [getattr(right, f) for f in facts]
            assert left.mean == pytest.approx(right.mean, rel=1e-12, abs=1e-9)
            assert left.std == pytest.approx(right.std, rel=1e-9)
            assert np.array_equal(left.hll, right.hll)
            if left.kind == "numeric" and exact:
                assert np.array_equal(left.exact_values(), right.exact_values())
            elif left.kind == "numeric":
                ranks = np.linspace(0.05, 0.95, 19)
                points = left.quantiles(ranks)
                bound = left.rank_error() + right.rank_error()
                assert np.max(np.abs(left.cdf(points) - right.cdf(points))) <= bound


def test_drift_verdicts_match_across_engines(datasets, dask_engine) -> None:
    local = DriftDetector(engine=LocalEngine(workers=2)).fit(datasets["ref"]).compare(datasets["cur"])
    remote = DriftDetector(engine=dask_engine).fit(datasets["ref"]).compare(datasets["cur"])
    assert sorted(local.drifted_columns) == sorted(remote.drifted_columns) == sorted(PLANTED.values())
    for left in local.columns:
        right = remote.column(left.column)
        assert (left.test, left.drifted) == (right.test, right.drifted)
        if left.kind == "categorical":  # exact counts on both sides
            assert left.statistic == pytest.approx(right.statistic, rel=1e-12)
        else:
            assert left.statistic == pytest.approx(right.statistic, abs=0.05)


def _verdicts(report) -> list[dict]:
    return [c.to_dict() for c in report.columns]


def test_verdicts_and_statistics_are_identical_across_runs_and_engines(datasets, dask_engine) -> None:
    # the quantile summaries are order-independent and the noise calibration is seeded,
    # so two runs, and the local and Dask engines, agree to the last digit
    runs = [
        DriftDetector(engine=engine).fit(datasets["ref"]).compare(datasets["cur"])
        for engine in (LocalEngine(workers=2), LocalEngine(workers=1, batch_rows=3_000), dask_engine)
    ]
    first = _verdicts(runs[0])
    assert any(c["approximate"] for c in first)  # sketches, not exact values
    for other in runs[1:]:
        assert _verdicts(other) == first
    again = DriftDetector(engine=LocalEngine(workers=2)).fit(datasets["ref"]).compare(datasets["cur"])
    assert _verdicts(again) == first


def test_multivariate_sample_and_outlier_model_are_identical_across_engines(datasets, dask_engine) -> None:
    local = DriftDetector(multivariate=True, sample_rows=1_000, engine=LocalEngine()).fit(datasets["ref"])
    remote = DriftDetector(multivariate=True, sample_rows=1_000, engine=dask_engine).fit(datasets["ref"])
    assert local.reference_sample_.equals(remote.reference_sample_)
    columns = ["income", "latency", "age", "channel", "region"]
    a = OutlierDetector(columns=columns).fit(datasets["small"], LocalEngine())
    b = OutlierDetector(columns=columns).fit(datasets["small"], dask_engine)
    assert a.digest() == b.digest()


def test_data_fairness_matches_across_engines(datasets, dask_engine) -> None:
    a = data_fairness(datasets["ref"], ["region", "plan"], "label", engine=LocalEngine())
    b = data_fairness(datasets["ref"], ["region", "plan"], "label", engine=dask_engine)
    assert a == b
    assert a.rows == 24_000
