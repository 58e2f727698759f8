"""``scan``: run the PII scan computation on a table in memory or a dataset on disk."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pyarrow as pa

from mlward.data.io import DEFAULT_BATCH_ROWS, open_dataset, to_arrow
from mlward.data.pii.detectors import Detector
from mlward.data.pii.ner import NerRecognizer
from mlward.data.pii.result import PiiScanResult
from mlward.data.pii.scanner import PiiScan, ScanSettings, ScanTally
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
) -> PiiScanResult:
    """Discover PII in a table or a dataset on disk.

    ``data_or_path`` is a pandas / Polars / Arrow table, or a CSV, Parquet or JSON Lines
    file or directory (partitioned Parquet). Paths run on ``engine`` (default: a local
    thread engine; pass ``make_engine("dask", ...)`` to scale out); in-memory tables are
    scanned in this process. ``sample_cells`` caps the validated candidates per column
    and batch (None: adaptive, 0: validate every candidate). Never prints or exits.
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
    return replace(result, engine=engine_name, duration_s=time.perf_counter() - started)
