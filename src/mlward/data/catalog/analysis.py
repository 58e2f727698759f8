"""What the catalogue learns about a dataset: schema, profile and PII classification.

The profile (``data/profile.py``) and the PII scan (``data/pii``) are both map / merge /
finalize computations; ``analyze`` runs them as one paired computation, so the data is
read once, on the workspace's engine (local threads or Dask). ``classify_columns`` is
the narrow adapter to the PII package: the catalogue only needs entity types per column
and sensitivity labels.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from mlward.core.errors import InputError
from mlward.data.catalog.results import ColumnInfo, ColumnSummary
from mlward.data.io import Dataset, open_dataset
from mlward.data.profile import NUMERIC, ColumnProfile, DatasetProfile, ProfileComputation
from mlward.engine.base import Computation, Engine, ProgressCallback

if TYPE_CHECKING:
    from mlward.data.pii import PiiScanResult

TOP_CATEGORIES = 5


@dataclass(frozen=True)
class Classification:
    """PII classification of a dataset, as the catalogue stores it."""

    entities: dict[str, tuple[str, ...]]
    """Entity types per column (every column, empty tuple when none)."""
    labels: dict[str, str]
    """Sensitivity label per column."""
    label: str
    """Dataset label: the highest column label."""
    summary: dict[str, Any] = field(default_factory=dict)
    """Scan facts worth keeping: rows scanned, sampled columns, settings."""


@dataclass(frozen=True)
class Analysis:
    """Everything ``add`` computes from the rows."""

    schema: dict[str, Any]
    """Arrow schema as JSON."""
    rows: int
    """Row count."""
    classification: Classification
    """PII per column and the dataset label."""
    profile: DatasetProfile | None = None
    """The mergeable profile (None when reused from a stored version with the same content)."""

    @property
    def columns(self) -> tuple[ColumnInfo, ...]:
        """Columns in schema order with their classification."""
        entities = self.classification.entities
        labels = self.classification.labels
        return tuple(
            ColumnInfo(f["name"], f["type"], entities.get(f["name"], ()), labels.get(f["name"], "public"))
            for f in self.schema["fields"]
        )


class _ProfileAndPii(Computation[tuple[DatasetProfile, Any], tuple[DatasetProfile, Any]]):
    """Both computations over the same batches (one read of the data)."""

    def __init__(self, source: str) -> None:
        # Imported here: the PII package (detectors, anonymizers) is only needed to add.
        from mlward.data.pii import PiiScan

        self.profile = ProfileComputation(classify=False)  # the scan below classifies
        self.pii = PiiScan(source=source)

    def map(self, batch: pa.RecordBatch) -> tuple[DatasetProfile, Any]:
        return self.profile.map(batch), self.pii.map(batch)

    def merge(
        self, left: tuple[DatasetProfile, Any], right: tuple[DatasetProfile, Any]
    ) -> tuple[DatasetProfile, Any]:
        return self.profile.merge(left[0], right[0]), self.pii.merge(left[1], right[1])

    def finalize(self, summary: tuple[DatasetProfile, Any]) -> tuple[DatasetProfile, PiiScanResult]:
        from mlward.data.sensitive import entities_of, withhold_profile

        pii = self.pii.finalize(summary[1])
        return withhold_profile(self.profile.finalize(summary[0]), entities_of(pii)), pii

    def empty(self) -> tuple[DatasetProfile, Any]:
        return self.profile.empty(), self.pii.empty()


def classify_columns(result: PiiScanResult) -> Classification:
    """Reduce a PII scan to entity types and labels per column plus the dataset label."""
    return Classification(
        entities={c.name: tuple(e.value for e in c.entity_types) for c in result.columns},
        labels={c.name: c.sensitivity.label for c in result.columns},
        label=result.sensitivity.label,
        summary={
            "rows": result.rows,
            "sampled_columns": [c.name for c in result.columns if c.sampled],
            "settings": result.settings,
        },
    )


def read_schema(dataset: Dataset) -> dict[str, Any]:
    """The unified Arrow schema of every data file of ``dataset``, as JSON."""
    schemas = []
    seen: set[str] = set()
    for part in dataset.partitions:
        if part.path not in seen:
            seen.add(part.path)
            schemas.append(part.schema())
    try:
        schema = pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InputError(f"{dataset.root}: the files disagree on the schema: {exc}") from exc
    return schema_to_json(schema, _partition_keys(dataset))


def schema_to_json(schema: pa.Schema, partition_keys: list[str] | None = None) -> dict[str, Any]:
    """An Arrow schema as ``{"fields": [...], "metadata": {...}, "partition_keys": [...]}``."""

    def text(raw: dict[bytes, bytes] | None) -> dict[str, str]:
        return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in (raw or {}).items()}

    fields = []
    for item in schema:
        entry: dict[str, Any] = {"name": item.name, "type": str(item.type), "nullable": item.nullable}
        if item.metadata:
            entry["metadata"] = text(item.metadata)
        fields.append(entry)
    # pandas' metadata blob repeats the schema and can be large; it adds nothing here.
    metadata = {k: v for k, v in text(schema.metadata).items() if k != "pandas"}
    return {"fields": fields, "metadata": metadata, "partition_keys": partition_keys or []}


def _partition_keys(dataset: Dataset) -> list[str]:
    """Hive-style ``key=value`` directory names in a directory dataset (``year=2026/...``)."""
    keys: dict[str, None] = {}
    if dataset.root.is_dir():
        for part in dataset.partitions:
            relative = PurePosixPath(Path(part.path).relative_to(dataset.root).as_posix())
            for piece in relative.parts[:-1]:
                key, sep, _ = piece.partition("=")
                if sep and key:
                    keys[key] = None
    return list(keys)


def analyze(path: Path | Dataset, engine: Engine, progress: ProgressCallback | None = None) -> Analysis:
    """Read the dataset once: schema, profile and PII classification (``progress``: rows read)."""
    dataset = open_dataset(path)
    schema = read_schema(dataset)
    profile, pii = engine.run(_ProfileAndPii(str(path)), dataset, progress=progress)
    return Analysis(schema=schema, rows=profile.rows, classification=classify_columns(pii), profile=profile)


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if np.isfinite(number) else None


def summarize_column(column: ColumnProfile | None, info: ColumnInfo) -> ColumnSummary:
    """A printable summary of one column; value statistics only for non-PII columns."""
    if column is None:
        return ColumnSummary(info.name, info.type, "other", 0.0, 0, info.entities, info.sensitivity)
    base = ColumnSummary(
        name=info.name,
        type=info.type,
        kind=column.kind,
        null_share=column.nulls / column.count if column.count else 0.0,
        distinct=round(column.distinct),
        entities=info.entities,
        sensitivity=info.sensitivity,
    )
    if info.entities:
        return base
    if column.kind == NUMERIC and column.n:
        return dataclasses.replace(
            base,
            minimum=_finite(column.minimum),
            maximum=_finite(column.maximum),
            mean=_finite(column.mean),
            std=_finite(column.std),
            median=_finite(column.quantiles(np.array([0.5]))[0]),
        )
    if column.counts is None:
        # Sketch counts are upper bounds; a "top" list from them would mislead.
        return base
    counts, _ = column.category_counts()
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_CATEGORIES]
    return dataclasses.replace(base, top=tuple((k, int(v)) for k, v in top))


def summarize_profile(profile: DatasetProfile, columns: tuple[ColumnInfo, ...]) -> tuple[ColumnSummary, ...]:
    """``summarize_column`` for every column of a version."""
    return tuple(summarize_column(profile.columns.get(c.name), c) for c in columns)
