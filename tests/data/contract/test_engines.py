"""Local and Dask engines agree on partitioned Parquet; uniqueness holds across batches."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from mlward.data.contract import validate
from mlward.engine.dask import DaskEngine
from mlward.engine.local import LocalEngine

BATCH_ROWS = 400


@pytest.fixture(scope="module")
def dask_engine() -> Iterator[DaskEngine]:
    engine = DaskEngine(n_workers=2, batch_rows=BATCH_ROWS)
    yield engine
    engine.close()


def corrupt(table: pa.Table) -> pa.Table:
    """Plant violations in several partitions (rows 5, 1200, 2500, 2999 ...)."""
    rows = table.to_pylist()
    rows[2500]["application_id"] = rows[10]["application_id"]  # a key duplicated across files
    rows[2500]["email"] = rows[10]["email"]
    rows[2999]["application_id"] = rows[2998]["application_id"]  # ... and within one batch
    for row in (5, 1200, 2222):
        rows[row]["age"] = 12
    rows[1500]["age"] = None
    rows[700]["purpose"] = "x"
    rows[1900]["loan_amount"] = 99_000.0
    rows[1900]["income"] = 1_000.0
    return pa.Table.from_pylist(rows, schema=table.schema)


@pytest.fixture(scope="module")
def corrupted_dir(tmp_path_factory: pytest.TempPathFactory, demo_table: pa.Table) -> Path:
    root = tmp_path_factory.mktemp("corrupted")
    table = corrupt(demo_table)
    for part, start in enumerate(range(0, table.num_rows, 1000)):
        pq.write_table(table.slice(start, 1000), root / f"part-{part}.parquet", row_group_size=500)
    return root


def _comparable(result) -> dict:
    data = result.to_dict()
    for key in ("engine", "duration_s", "checked_at"):
        data.pop(key)
    return data


def test_clean_partitioned_dataset_passes_on_both_engines(
    demo_parquet_dir: Path, dask_engine: DaskEngine, demo_contract: dict
) -> None:
    local = validate(demo_parquet_dir, demo_contract, engine=LocalEngine(workers=2, batch_rows=BATCH_ROWS))
    remote = validate(demo_parquet_dir, demo_contract, engine=dask_engine)
    assert local.passed, [r.message for r in local.failures]
    assert (local.rows, local.engine, remote.engine) == (3000, "local", "dask")
    assert _comparable(local) == _comparable(remote)


def test_engines_agree_on_violations(
    corrupted_dir: Path, dask_engine: DaskEngine, demo_contract: dict
) -> None:
    local = validate(corrupted_dir, demo_contract, engine=LocalEngine(workers=2, batch_rows=BATCH_ROWS))
    remote = validate(corrupted_dir, demo_contract, engine=dask_engine)
    assert _comparable(local) == _comparable(remote)
    failed = {r.rule_id: r for r in local.failures}
    assert set(failed) == {
        "primary_key",
        "application_id.unique",
        "unique[application_id,email]",
        "age.not_null",
        "age.min",
        "purpose.min_length",
        "rule.loan_to_income",
    }
    assert [e.row for e in failed["age.min"].examples] == [5, 1200, 2222]
    assert failed["age.min"].examples[1].key == "APP-0001201"
    assert failed["age.not_null"].examples[0].row == 1500
    key = failed["primary_key"]
    assert key.failing == 2 and [e.row for e in key.examples] == [2500, 2999]
    # Row 2999 repeats row 2998 in the same batch: its key and value are known. Row 2500
    # repeats a key from another file: the merge only knows its row number.
    assert key.examples[1].key == key.examples[1].value == "APP-0002999"
    assert key.examples[0].key is None and key.note is not None
    assert failed["rule.loan_to_income"].examples[0].row == 1900


def test_uniqueness_across_batches_of_one_file(tmp_path: Path) -> None:
    ids = [f"K{i}" for i in range(1000)]
    ids[900] = "K3"  # same value 897 rows later: a different batch
    pq.write_table(pa.table({"id": ids}), tmp_path / "keys.parquet")
    engine = LocalEngine(workers=2, batch_rows=100)
    result = validate(tmp_path / "keys.parquet", {"columns": {"id": {"unique": True}}}, engine=engine)
    rule = result.rule("id.unique")
    assert (rule.failing, rule.observed["distinct"], [e.row for e in rule.examples]) == (1, 999, [900])


def test_uniqueness_falls_back_to_an_estimate_over_the_cap(demo_table: pa.Table) -> None:
    ids = demo_table.column("application_id")
    doubled = pa.table({"id": pa.concat_arrays([ids.combine_chunks(), ids.slice(0, 150).combine_chunks()])})
    contract = {"columns": {"id": {"unique": True}}, "settings": {"unique_cap": 500}}
    rule = validate(doubled, contract).rule("id.unique")
    assert rule.approximate and "HyperLogLog" in (rule.note or "")
    assert abs(rule.failing - 150) <= 0.05 * 3000
    exact = validate(doubled, {"columns": {"id": {"unique": True}}}).rule("id.unique")
    assert (exact.approximate, exact.failing) == (False, 150)
    assert pc.count_distinct(doubled.column("id")).as_py() == 3000
