"""Outlier detection: planted outliers, FPR on fresh data, sklearn equality, pickle-free files."""

from __future__ import annotations

import json
import struct
import time

import numpy as np
import pyarrow as pa
import pytest

from mlward.core.errors import InputError, IntegrityError
from mlward.data.outliers import OutlierDetector

N_FEATURES = 18


def _frame(n: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    cov = np.eye(4) * 0.5 + 0.5  # a correlated block: the forest sees joint structure
    block = rng.multivariate_normal(np.zeros(4), cov, n)
    columns = {f"x{i}": rng.normal(10 * i, 1 + i, n) for i in range(N_FEATURES - 4)}
    columns.update({f"b{i}": block[:, i] for i in range(4)})
    columns["city"] = rng.choice(["paris", "lyon", "nice"], n, p=[0.6, 0.3, 0.1])
    columns["vip"] = rng.random(n) < 0.2
    columns["user"] = [f"u{v}" for v in rng.integers(0, 500, n)]  # high cardinality: frequency
    return pa.table(columns)


@pytest.fixture(scope="module")
def fitted() -> OutlierDetector:
    return OutlierDetector(target_fpr=0.01, random_state=0).fit(_frame(8_000, 0))


def test_numpy_scoring_equals_sklearn_score_samples(fitted) -> None:
    table = _frame(3_000, 1)
    matrix = fitted._encode_table(table)
    ours = fitted.forest_.score_samples(matrix)
    theirs = fitted.sklearn_forest_.score_samples(matrix)
    assert np.max(np.abs(ours - theirs)) < 1e-9
    loaded = OutlierDetector.from_bytes(fitted.to_bytes())
    assert np.max(np.abs(loaded.forest_.score_samples(matrix) - theirs)) < 1e-9


def test_false_positive_rate_on_fresh_data_is_near_the_target(fitted) -> None:
    scores = fitted.score(_frame(20_000, 2))
    assert 0.003 <= scores.is_outlier.mean() <= 0.025


def test_planted_outliers_are_flagged_and_explained(fitted) -> None:
    table = _frame(400, 3)
    rows = table.to_pylist()
    planted: dict[int, str] = {}
    for i in range(0, 400, 20):
        column = f"x{(i // 20) % 10}"
        rows[i][column] = rows[i][column] + 12 * (1 + (i // 20) % 10)  # ~12 sigma
        planted[i] = column
    rows[5]["city"] = "atlantis"  # a category the reference never had
    rows[7]["b0"], rows[7]["b1"] = 2.5, -2.5  # each normal alone, jointly impossible
    scores = fitted.score(pa.Table.from_pylist(rows, schema=table.schema))
    for i, column in planted.items():
        assert scores.is_outlier[i], i
        assert scores.explain(i, 1)[0][0] == column
    assert scores.is_outlier[5] and scores.explain(5, 1)[0][0] == "city"
    assert scores.scores[7] > np.median(scores.scores)
    assert scores.is_outlier.sum() <= len(planted) + 8


def test_single_row_scoring_matches_batches_and_is_fast(fitted) -> None:
    table = _frame(300, 4)
    batch = fitted.score(table)
    rows = table.to_pylist()
    for i in range(0, 300, 37):
        one = fitted.score_row(rows[i])
        assert one.score == pytest.approx(batch.scores[i], abs=1e-12)
        assert one.is_outlier == batch.is_outlier[i]
        assert one.top == batch.explain(i, fitted.top_k)
    timings = []
    for row in rows * 2:
        start = time.perf_counter()
        fitted.score_row(row)
        timings.append(time.perf_counter() - start)
    assert np.median(timings) < 0.5e-3, np.median(timings)


def test_missing_values_and_bad_rows(fitted) -> None:
    row = _frame(1, 5).to_pylist()[0]
    row["x0"] = None
    row["city"] = None
    assert 0 < fitted.score_row(row).score <= 1
    row["x1"] = "not a number"
    with pytest.raises(InputError, match="cannot score row"):
        fitted.score_row(row)
    with pytest.raises(InputError, match="'x2' is missing"):
        fitted.score(_frame(10, 6).drop(["x2"]))


def test_saved_model_is_safetensors_json_and_verifies_its_digest(fitted, tmp_path) -> None:
    path = tmp_path / "outliers.safetensors"
    digest = fitted.save(path)
    data = path.read_bytes()
    assert digest == fitted.digest() and data == fitted.to_bytes()
    assert data[8:9] == b"{" and b"__metadata__" in data[:4096]  # safetensors header, no pickle
    assert b"\x80\x04\x95" not in data[:64]
    loaded = OutlierDetector.load(path, expected_digest=digest)
    table = _frame(500, 7)
    assert np.array_equal(loaded.score(table).scores, fitted.score(table).scores)
    assert loaded.digest() == digest
    tampered = bytearray(data)
    tampered[-3] ^= 1
    (tmp_path / "bad.safetensors").write_bytes(bytes(tampered))
    with pytest.raises(IntegrityError):
        OutlierDetector.load(tmp_path / "bad.safetensors", expected_digest=digest)
    (tmp_path / "junk").write_bytes(b"\x80\x04\x95junk-not-a-model")
    with pytest.raises(InputError, match="not an mlward outlier model"):
        OutlierDetector.load(tmp_path / "junk")
    with pytest.raises(InputError, match="cannot read"):
        OutlierDetector.load(tmp_path / "absent")


def test_a_model_is_never_written_under_a_misleading_name(fitted, tmp_path) -> None:
    """Issue 17: `outliers fit -o outliers.json` wrote a binary safetensors file as .json."""
    for name in ("outliers.json", "outliers.bin", "outliers"):
        with pytest.raises(InputError, match="safetensors"):
            fitted.save(tmp_path / name)
        assert not (tmp_path / name).exists()


def test_configuration_errors() -> None:
    with pytest.raises(InputError, match="target_fpr"):
        OutlierDetector(target_fpr=0.0)
    with pytest.raises(InputError, match="at least 2"):
        OutlierDetector().fit(pa.table({"x": [1.0]}))


def test_scanning_a_partitioned_dataset_matches_batch_scores(fitted, tmp_path) -> None:
    import pyarrow.parquet as pq

    from mlward.data.outliers import scan_dataset
    from mlward.engine.local import LocalEngine

    table = _frame(6_000, 8)
    for i in range(3):
        pq.write_table(table.slice(i * 2_000, 2_000), tmp_path / f"p{i}.parquet")
    scan = scan_dataset(fitted, tmp_path, LocalEngine(workers=2, batch_rows=700), top=5)
    direct = fitted.score(table)
    assert scan.rows == 6_000 and sum(scan.histogram) == 6_000
    assert scan.flagged == int(direct.is_outlier.sum())
    best = np.sort(direct.scores)[::-1][:5]
    assert [row["score"] for row in scan.top] == pytest.approx(best.tolist(), abs=1e-12)
    assert set(scan.top[0]["values"]) == set(table.column_names)
    assert scan.to_dict()["kind"] == "mlward.outliers"


def test_crafted_tree_arrays_are_refused(fitted) -> None:
    from safetensors.numpy import load, save

    data = fitted.to_bytes()
    header = json.loads(data[8 : 8 + struct.unpack("<Q", data[:8])[0]])["__metadata__"]
    for name, mutate in (
        ("children_left", lambda a: a.__setitem__((0, 0), a.shape[1] + 5)),  # out of range
        ("children_right", lambda a: a.__setitem__((0, 0), 0)),  # a cycle back to the root
        ("feature", lambda a: a.__setitem__((0, 0), 999)),  # a column that does not exist
    ):
        arrays = load(data)
        mutate(arrays[name])
        with pytest.raises(InputError, match="invalid mlward outlier model"):
            OutlierDetector.from_bytes(save(arrays, metadata=header))
