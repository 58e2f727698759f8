"""The scan as a computation: inputs, engines, honest counts and output formats."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rich.console import Console

from mlward.data.pii import EntityType as E
from mlward.data.pii import NerRecognizer, PiiScan, ScanSettings, Sensitivity, scan
from mlward.data.pii.detectors import Span
from mlward.data.pii.format import to_json, to_sarif, to_table
from mlward.data.pii.masking import mask_example
from mlward.engine.dask import DaskEngine
from mlward.engine.local import LocalEngine


@pytest.fixture(scope="module")
def dask_engine() -> Iterator[DaskEngine]:
    engine = DaskEngine(n_workers=2, batch_rows=2000)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def partitioned(tmp_path_factory: pytest.TempPathFactory, mixed_table) -> Path:
    root = tmp_path_factory.mktemp("partitioned")
    table = mixed_table.table
    for part, start in enumerate(range(0, table.num_rows, 1000)):
        # Small row groups: several partitions and batches per file.
        pq.write_table(table.slice(start, 1000), root / f"part-{part}.parquet", row_group_size=500)
    return root


def _comparable(result) -> dict:
    data = result.to_dict()
    data.pop("engine")
    data.pop("duration_s")
    return data


def test_local_and_dask_engines_agree(partitioned: Path, dask_engine: DaskEngine, mixed_table) -> None:
    local = scan(partitioned, engine=LocalEngine(workers=2, batch_rows=2000))
    distributed = scan(partitioned, engine=dask_engine)
    assert distributed.engine == "dask"
    assert _comparable(local) == _comparable(distributed)
    assert local.rows == mixed_table.table.num_rows
    assert local.entities_by_column()["email"] == (E.EMAIL,)


def test_cell_findings_carry_dataset_rows(partitioned: Path, mixed_table) -> None:
    settings = ScanSettings(sample_cells=0, max_findings=100_000)
    engine = LocalEngine(workers=2, batch_rows=700)
    result = scan(partitioned, engine=engine, settings=settings, columns=["notes"])
    notes = mixed_table.table.column("notes").to_pylist()
    findings = result.column("notes").findings
    assert findings and max(f.row for f in findings) > 3000  # rows of the last partitions
    for finding in findings:
        # Row and offsets point at the entity in the original dataset row.
        value = notes[finding.row].strip()[finding.start : finding.end]
        assert mask_example(finding.entity, value) == finding.masked


def test_pandas_polars_and_arrow_inputs_agree(mixed_table) -> None:
    table = mixed_table.table.slice(0, 600)
    results = [scan(table), scan(table.to_pandas()), scan(pl.from_arrow(table))]
    columns = [_comparable(r)["columns"] for r in results]
    for listing in columns:
        for column in listing:
            column.pop("dtype")  # string / large_string depending on the library
    assert columns[0] == columns[1] == columns[2]
    assert results[1].source == "<pandas.DataFrame>"


def test_counts_are_honest_about_sampling(mixed_table) -> None:
    table = mixed_table.table
    sampled = scan(table, columns=["email", "order_id"]).column("email")
    assert sampled.cells_candidate == table.num_rows
    assert sampled.cells_validated < sampled.cells_candidate and sampled.sampled
    exact = scan(table, columns=["email"], sample_cells=0).column("email")
    assert exact.cells_validated == exact.cells_candidate == table.num_rows
    assert exact.primary is not None and exact.primary.share == 1.0
    capped = scan(table, columns=["email"], sample_cells=50).column("email")
    assert capped.cells_validated <= 50 * 2  # at most 50 per batch, two batches


def test_typed_columns_nulls_and_whitespace() -> None:
    table = pa.table(
        {
            "mobile": pa.array([4155552671, 2125550143, None, 6175550199] * 25, pa.int64()),
            "birth_date": pa.array([dt.date(1980 + i % 30, 1 + i % 12, 1 + i % 28) for i in range(100)]),
            "created_at": pa.array([dt.datetime(2024, 1, 1 + i % 28) for i in range(100)]),
            "email": pa.array([f"  user{i}@example.org " if i % 3 else None for i in range(100)]),
            "score": pa.array([0.5] * 100),
            "segment": pa.array(["a", "b"] * 50).dictionary_encode(),
        }
    )
    result = scan(table)
    assert result.entities_by_column() == {
        "mobile": (E.PHONE,),
        "birth_date": (E.DATE_OF_BIRTH,),
        "email": (E.EMAIL,),
    }
    assert result.column("score").kind == "skipped"
    assert result.column("email").non_null == 66


def test_protection_metadata_is_a_claim_not_a_verdict() -> None:
    field = pa.field("email", pa.string(), metadata={b"mlward.pii": b'{"action": "fpe"}'})
    table = pa.table([pa.array(["ada@example.com"] * 10)], schema=pa.schema([field]))
    column = scan(table, keys=[b"k" * 32]).column("email")
    # The claim is reported, but without a seal the content decides.
    assert column.protection == "fpe" and not column.protection_verified
    assert column.entities and column.unprotected


def test_empty_table() -> None:
    result = scan(pa.table({"email": pa.array([], pa.string())}))
    assert result.rows == 0 and result.entities_by_column() == {}


def test_json_schema_v1(mixed_table) -> None:
    result = scan(mixed_table.table.slice(0, 500))
    document = json.loads(json.dumps(to_json(result)))
    assert document["schema_version"] == 1
    assert document["sensitivity"] == Sensitivity.RESTRICTED.label
    by_name = {c["name"]: c for c in document["columns"]}
    assert by_name["ssn"]["entity_types"] == ["US_SSN"]
    assert by_name["order_id"]["entity_types"] == []
    entity = by_name["email"]["entities"][0]
    assert set(entity) >= {"type", "confidence", "share", "cells_validated", "examples", "evidence"}
    raw = set(mixed_table.table.column("email").to_pylist())
    assert not raw & set(entity["examples"])  # masked, never raw


def test_sarif_and_table(mixed_table) -> None:
    result = scan(mixed_table.table.slice(0, 300))
    log = to_sarif(result)
    assert log["version"] == "2.1.0"
    results = log["runs"][0]["results"]
    assert {r["ruleId"] for r in results} >= {"MW-PII-US_SSN", "MW-PII-EMAIL"}
    text = json.dumps(log)
    assert all(ssn not in text for ssn in mixed_table.table.column("ssn").to_pylist()[:300])
    console = Console(record=True, width=200)
    console.print(to_table(result))
    rendered = console.export_text()
    assert "US_SSN" in rendered and "restricted" in rendered


def test_computation_pickles() -> None:
    import pickle

    computation = pickle.loads(pickle.dumps(PiiScan()))
    batch = pa.record_batch({"email": ["ada@example.com"] * 3})
    result = computation.finalize(computation.map(batch))
    assert result.entities_by_column() == {"email": (E.EMAIL,)}
    assert isinstance(pd.DataFrame(result.to_dict()["columns"]), pd.DataFrame)


class _KnownAliases(NerRecognizer):
    """A minimal recognizer: marks the aliases it was given (stands in for spaCy/GLiNER)."""

    def __init__(self, aliases: list[str]) -> None:
        self.aliases = aliases

    def recognize(self, texts: list[str]) -> list[list[Span]]:
        spans = []
        for text in texts:
            found = []
            for alias in self.aliases:
                start = text.find(alias)
                if start >= 0:
                    found.append(self._span(E.PERSON, start, start + len(alias), 0.9))
            spans.append(found)
        return spans


def test_ner_plugin_spans_join_the_scan() -> None:
    texts = [f"Ticket {i}: Zorblax Quint reported a broken tap in the kitchen." for i in range(40)]
    table = pa.table({"ticket_text": texts})
    assert scan(table).column("ticket_text").entities == ()  # no dictionary knows the name
    with_ner = scan(table, ner=_KnownAliases(["Zorblax Quint"])).column("ticket_text")
    assert with_ner.entity_types == (E.PERSON,)
    assert with_ner.findings[0].masked == "Z****** Q****"
