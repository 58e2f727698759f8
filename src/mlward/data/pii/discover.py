"""``scan``: run the PII scan computation on a table in memory or a dataset on disk."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from mlward.crypto.encryption import DataKeys
from mlward.data.io import DEFAULT_BATCH_ROWS, open_dataset, to_arrow
from mlward.data.pii.detectors import Detector
from mlward.data.pii.entities import EntityType
from mlward.data.pii.ner import NerRecognizer
from mlward.data.pii.result import PiiScanResult
from mlward.data.pii.scanner import PROTECTION_METADATA_KEY, PiiScan, ScanSettings, ScanTally
from mlward.data.pii.seal import seals_of, verify_columns, vouched_entities
from mlward.engine.base import Computation, Engine, ProgressCallback, reduce_summaries
from mlward.engine.local import LocalEngine


def _source_label(data: Any) -> str:
    return f"<{type(data).__module__.split('.')[0]}.{type(data).__name__}>"


def run_in_memory(computation: Computation[ScanTally, PiiScanResult], table: pa.Table) -> ScanTally:
    """Map an in-memory table's batches on a small thread pool and merge them in order."""
    batches = table.to_batches(max_chunksize=DEFAULT_BATCH_ROWS)
    if not batches:
        batches = [pa.RecordBatch.from_pylist([], schema=table.schema)]
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="mlward-pii") as pool:
        summaries = list(pool.map(computation.map, batches))
    return reduce_summaries(computation, summaries)


def scan(
    data_or_path: Any,
    *,
    engine: Engine | None = None,
    sample_cells: int | None = None,
    columns: list[str] | tuple[str, ...] | None = None,
    detectors: tuple[Detector, ...] | None = None,
    ner: NerRecognizer | None = None,
    settings: ScanSettings | None = None,
    progress: ProgressCallback | None = None,
    keys: Sequence[bytes | DataKeys] | None = None,
) -> PiiScanResult:
    """Discover PII in a table or a dataset on disk.

    ``data_or_path`` is a pandas / Polars / Arrow table, or a CSV, Parquet or JSON Lines
    file or directory (partitioned Parquet). Paths run on ``engine`` (default: a local
    thread engine; pass ``make_engine("dask", ...)`` to scale out); in-memory tables are
    scanned in this process. ``sample_cells`` caps the validated candidates per column
    and batch (None: adaptive, 0: validate every candidate). Never prints or exits.

    Protection recorded in column metadata is a claim: it counts only for columns whose
    seal verifies under one of ``keys`` (workspace data keys, active and retired), and
    then only for the entities its action produces by design. Without keys, content wins.
    """
    started = time.perf_counter()
    settings = settings or ScanSettings(sample_cells=sample_cells)
    if sample_cells is not None and settings.sample_cells != sample_cells:
        settings = replace(settings, sample_cells=sample_cells)
    selected = tuple(columns) if columns is not None else None
    if isinstance(data_or_path, str | os.PathLike):
        dataset = open_dataset(data_or_path)
        computation = PiiScan(
            detectors=detectors, settings=settings, columns=selected, ner=ner,
            source=str(data_or_path),
        )  # fmt: skip
        runner = engine or LocalEngine()
        result = runner.run(computation, dataset, progress=progress)
        engine_name = type(runner).__name__.removesuffix("Engine").lower()
    else:
        table = to_arrow(data_or_path)
        computation = PiiScan(
            detectors=detectors, settings=settings, columns=selected, ner=ner,
            source=_source_label(data_or_path),
        )  # fmt: skip
        result = computation.finalize(run_in_memory(computation, table))
        engine_name = "in-memory"
    result = _verify_protection(result, data_or_path, keys or ())
    return replace(result, engine=engine_name, duration_s=time.perf_counter() - started)


def verify_protection(
    data: pa.Table | str | os.PathLike[str],
    keys: Sequence[bytes | DataKeys],
    columns: Sequence[str] | None = None,
) -> dict[str, tuple[EntityType, ...]]:
    """The columns whose recorded protection a valid seal proves, with the entities each vouches for.

    ``data`` is an Arrow table (seals in its schema metadata) or a single Parquet file
    (seals in its footer); directories, CSV and JSON Lines carry no seal, so nothing in
    them verifies. ``columns`` limits the check (default: every column that records
    protection). Without ``keys`` nothing verifies. Every caller that must decide
    whether a column is verifiably protected (the scan, the contract's protection rule)
    asks this function.
    """
    if not keys:
        return {}
    derived = [k if isinstance(k, DataKeys) else DataKeys.derive(k) for k in keys]
    path = None if isinstance(data, pa.Table) else Path(os.fspath(data))
    if path is not None:
        found = seals_of(path)
        schema = pq.read_schema(path) if found else pa.schema([])
    else:
        assert isinstance(data, pa.Table)
        found = seals_of(data)
        schema = data.schema
    claimed = [
        f.name for f in schema
        if PROTECTION_METADATA_KEY in (f.metadata or {}) and (columns is None or f.name in columns)
    ]  # fmt: skip
    seals = {k: v for k, v in found.items() if k in claimed}
    if not seals:
        return {}
    if path is None:
        assert isinstance(data, pa.Table)
        batches: Iterator[pa.RecordBatch] = iter(data.select(list(seals)).to_batches())
    else:
        batches = pq.ParquetFile(path).iter_batches(columns=list(seals))
    verified = verify_columns(batches, schema, seals, derived, PROTECTION_METADATA_KEY)
    out = {}
    for name in sorted(verified):
        recorded = json.loads((schema.field(name).metadata or {})[PROTECTION_METADATA_KEY])
        vouched = vouched_entities(recorded) if isinstance(recorded, dict) else frozenset()
        out[name] = tuple(EntityType(e) for e in sorted(vouched) if e in EntityType.__members__)
    return out


def _verify_protection(result: PiiScanResult, data: Any, keys: Sequence[bytes | DataKeys]) -> PiiScanResult:
    """Mark the columns whose recorded protection is proven by a valid seal."""
    claimed = [c.name for c in result.columns if c.protection is not None]
    if not claimed or not keys:
        return result
    source = data if isinstance(data, str | os.PathLike) else to_arrow(data)
    verified = verify_protection(source, keys, claimed)
    columns = []
    for column in result.columns:
        if column.name in verified:
            column = replace(column, protection_verified=True, vouched=verified[column.name])
        columns.append(column)
    return replace(result, columns=tuple(columns))
