"""Dataset profiles: exact statistics, sketches within their bounds, merging, JSON round trips."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlward.core.errors import InputError
from mlward.data.profile import (
    DatasetProfile,
    ProfileComputation,
    column_kind,
    profile_dataset,
)
from mlward.engine.local import LocalEngine


def _table(n: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    x = rng.normal(3.0, 2.0, n)
    x[::97] = np.nan
    with_nulls = pa.array(rng.normal(size=n), mask=rng.random(n) < 0.1)
    return pa.table(
        {
            "x": x,
            "maybe": with_nulls,
            "code": rng.integers(0, 4, n),
            "city": rng.choice(["paris", "lyon", "nice"], n, p=[0.5, 0.3, 0.2]),
            "flag": rng.random(n) < 0.25,
            "day": pa.array(
                [dt.date(2024, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 30, n)]
            ),
            "blob": pa.array([b"x"] * n, pa.binary()),
        }
    )


def test_exact_statistics_match_numpy() -> None:
    table = _table(5_000, 0)
    profile = profile_dataset(table)
    x = table.column("x").to_numpy()
    finite = x[np.isfinite(x)]
    col = profile.columns["x"]
    assert (col.count, col.nulls, col.n) == (5_000, int(np.isnan(x).sum()), finite.size)
    assert col.mean == pytest.approx(finite.mean(), rel=1e-12)
    assert col.std == pytest.approx(finite.std(), rel=1e-12)
    assert (col.minimum, col.maximum) == (finite.min(), finite.max())
    assert col.exact and np.array_equal(col.exact_values(), np.sort(finite))
    assert profile.columns["maybe"].nulls == table.column("maybe").null_count
    city = profile.columns["city"]
    assert city.kind == "categorical"
    truth = {
        k: int(v)
        for k, v in zip(
            *np.unique(table.column("city").to_numpy(zero_copy_only=False), return_counts=True), strict=True
        )
    }
    assert city.counts == truth
    assert profile.columns["code"].counts is not None and profile.columns["code"].distinct == 4
    assert profile.columns["flag"].category_counts()[0].keys() == {"true", "false"}
    assert profile.columns["day"].kind == "numeric" and profile.columns["day"].distinct == 30
    assert profile.columns["blob"].kind == "other" and profile.columns["blob"].count == 5_000


def test_infinite_values_are_counted_not_summarized() -> None:
    profile = profile_dataset(pa.table({"v": [1.0, np.inf, -np.inf, 3.0, None]}))
    col = profile.columns["v"]
    assert (col.infinite, col.nulls, col.n, col.mean) == (2, 1, 2, 2.0)


def test_merge_equals_profile_of_concatenation() -> None:
    left, right = _table(3_000, 1), _table(4_000, 2)
    merged = profile_dataset(left).merge(profile_dataset(right))
    whole = profile_dataset(pa.concat_tables([left, right]))
    for name, col in whole.columns.items():
        other = merged.columns[name]
        assert (other.count, other.nulls, other.n) == (col.count, col.nulls, col.n)
        assert other.mean == pytest.approx(col.mean, rel=1e-12, abs=1e-12)
        assert other.m2 == pytest.approx(col.m2, rel=1e-9, abs=1e-9)
        assert other.counts == col.counts
        assert np.array_equal(np.asarray(other.hll), np.asarray(col.hll))
    assert np.array_equal(merged.columns["x"].exact_values(), whole.columns["x"].exact_values())


def test_merge_leaves_inputs_unchanged_and_fills_absent_columns() -> None:
    a = profile_dataset(pa.table({"x": [1.0, 2.0]}))
    b = profile_dataset(pa.table({"y": ["u", "v", "w"]}))
    merged = a.merge(b)
    assert a.rows == 2 and "y" not in a.columns
    assert merged.rows == 5
    assert (merged.columns["x"].count, merged.columns["x"].nulls) == (5, 3)
    assert (merged.columns["y"].count, merged.columns["y"].nulls) == (5, 2)


def test_conflicting_types_across_parts_are_an_input_error() -> None:
    a = profile_dataset(pa.table({"x": [1.0]}))
    b = profile_dataset(pa.table({"x": ["one"]}))
    with pytest.raises(InputError, match="column 'x'"):
        a.merge(b)


def test_large_numeric_column_switches_to_sketches_within_their_error() -> None:
    rng = np.random.default_rng(3)
    values = rng.lognormal(0, 1, 200_000)
    col = profile_dataset(pa.table({"v": values}), exact_limit=10_000).columns["v"]
    assert not col.exact and col.counts is None
    eps = col.rank_error()
    assert 0 < eps < 0.02
    points = np.quantile(values, [0.01, 0.1, 0.5, 0.9, 0.99])
    truth = np.searchsorted(np.sort(values), points, side="right") / values.size
    assert np.max(np.abs(col.cdf(points) - truth)) <= eps
    assert col.distinct == pytest.approx(200_000, rel=0.05)  # HLL, p=12: ~1.6 % standard error


def test_high_cardinality_categories_switch_to_frequent_items() -> None:
    rng = np.random.default_rng(4)
    common = rng.choice(["a", "b", "c"], 60_000, p=[0.5, 0.3, 0.2]).tolist()
    rare = [f"id{i}" for i in range(20_000)]
    col = profile_dataset(pa.table({"k": common + rare}), category_cap=1_000).columns["k"]
    assert col.counts is None and col.frequent is not None
    found, other = col.category_counts()
    bound = col.frequent.epsilon * col.n
    for key, share in (("a", 0.5), ("b", 0.3), ("c", 0.2)):
        true_count = common.count(key)
        assert abs(found[key] - true_count) <= bound, (key, share)
    assert sum(found.values()) + other == pytest.approx(col.n)
    assert col.distinct == pytest.approx(20_003, rel=0.05)


def test_json_round_trip_keeps_sketches_and_leaves_values_out_by_default() -> None:
    profile = profile_dataset(_table(20_000, 5), exact_limit=1_000)
    text = profile.to_json()
    data = json.loads(text)
    assert data["schema_version"] == 1 and data["kind"] == "mlward.profile"
    assert all("values" not in c for c in data["columns"])
    loaded = DatasetProfile.from_json(text)
    ranks = np.linspace(0, 1, 11)
    for name, col in profile.columns.items():
        twin = loaded.columns[name]
        assert (twin.count, twin.nulls, twin.n, twin.counts) == (col.count, col.nulls, col.n, col.counts)
        if col.kind == "numeric":
            assert np.array_equal(twin.quantiles(ranks), col.quantiles(ranks))
    small = profile_dataset(_table(500, 6))
    kept = DatasetProfile.from_json(small.to_json(include_values=True))
    assert np.array_equal(kept.columns["x"].exact_values(), small.columns["x"].exact_values())
    assert DatasetProfile.from_json(small.to_json()).columns["x"].exact_values() is None


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(kind="something"), "not an mlward profile"),
        (lambda d: d.update(schema_version=99), "schema_version"),
        (lambda d: d["columns"][0].update(kll="!!notbase64"), "invalid profile"),
        (lambda d: d["columns"][0].update(kll="AAAA"), "invalid profile"),
        (lambda d: d["columns"][0].update(hll="AAAA"), "invalid profile"),
    ],
)
def test_corrupt_profiles_are_rejected(mutate, message) -> None:
    data = json.loads(profile_dataset(pa.table({"x": np.arange(2_000.0)})).to_json())
    mutate(data)
    with pytest.raises(InputError, match=message):
        DatasetProfile.from_json(json.dumps(data))
    with pytest.raises(InputError, match="not valid JSON"):
        DatasetProfile.from_json("{not json")


def test_partitioned_parquet_on_the_local_engine_matches_in_memory(tmp_path) -> None:
    table = _table(6_000, 7).drop(["blob"])
    for i in range(3):
        pq.write_table(table.slice(i * 2_000, 2_000), tmp_path / f"part-{i}.parquet", row_group_size=700)
    on_engine = profile_dataset(tmp_path, LocalEngine(workers=2, batch_rows=500))
    in_memory = profile_dataset(table)
    assert on_engine.rows == in_memory.rows == 6_000
    for name, col in in_memory.columns.items():
        other = on_engine.columns[name]
        assert (other.nulls, other.n, other.counts) == (col.nulls, col.n, col.counts)
        assert other.mean == pytest.approx(col.mean, rel=1e-12, abs=1e-12)
    assert np.array_equal(on_engine.columns["x"].exact_values(), in_memory.columns["x"].exact_values())


def test_selected_columns_and_unknown_columns() -> None:
    table = _table(100, 8)
    assert list(profile_dataset(table, columns=["x", "city"]).columns) == ["x", "city"]
    with pytest.raises(InputError, match="'nope' not found"):
        profile_dataset(table, columns=["nope"])
    assert ProfileComputation().empty().rows == 0
    assert column_kind(pa.list_(pa.int64())) == "other"


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), st.floats(-1e6, 1e6)), min_size=1, max_size=60),
    words=st.lists(st.sampled_from(["a", "b", "ç", "日本", ""]), min_size=60, max_size=60),
    cut=st.integers(0, 60),
)
def test_merge_and_json_round_trip_property(values, words, cut) -> None:
    table = pa.table({"x": pa.array(values, pa.float64()), "w": words[: len(values)]})
    whole = profile_dataset(table)
    parts = profile_dataset(table.slice(0, cut)) if cut else None
    rest = profile_dataset(table.slice(cut)) if cut < len(values) else None
    merged = parts.merge(rest) if parts and rest else (parts or rest)
    for profile in (merged, DatasetProfile.from_json(merged.to_json(include_values=True))):
        for name in ("x", "w"):
            a, b = profile.columns[name], whole.columns[name]
            assert (a.count, a.nulls, a.n, a.counts) == (b.count, b.nulls, b.n, b.counts)
            assert a.mean == pytest.approx(b.mean, rel=1e-9, abs=1e-6)
        assert np.array_equal(profile.columns["x"].exact_values(), whole.columns["x"].exact_values())
