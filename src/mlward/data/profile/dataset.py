"""``DatasetProfile``, the ``ProfileComputation`` and ``profile_dataset``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from mlward.core.errors import InputError
from mlward.data.io import DEFAULT_BATCH_ROWS, open_dataset, to_arrow
from mlward.data.profile.column import NUMERIC, ColumnProfile, column_kind
from mlward.engine.base import Computation, Engine, ProgressCallback, reduce_summaries

PROFILE_SCHEMA_VERSION = 1
DEFAULT_EXACT_LIMIT = 10_000
DEFAULT_CATEGORY_CAP = 1_000


@dataclass
class DatasetProfile:
    """Mergeable profile of a dataset: rows plus one ``ColumnProfile`` per column."""

    rows: int = 0
    """Rows summarized."""
    columns: dict[str, ColumnProfile] = field(default_factory=dict)
    """Column profiles in schema order."""
    exact_limit: int = DEFAULT_EXACT_LIMIT
    """Numeric columns keep their values while they have at most this many."""
    category_cap: int = DEFAULT_CATEGORY_CAP
    """Categorical columns keep exact counts up to this many distinct values."""
    pii_tally: Any = field(default=None, repr=False, compare=False)
    """The PII scan's running tally while the profile is built (never serialized)."""

    def merge(self, other: DatasetProfile) -> DatasetProfile:
        """Return the profile of both datasets together (neither input changes)."""
        merged = DatasetProfile.from_dict(self.to_dict(include_values=True))
        merged.merge_into(other)
        return merged

    def merge_into(self, other: DatasetProfile) -> None:
        """Fold ``other`` into this profile in place."""
        for name, col in other.columns.items():
            mine = self.columns.get(name)
            if mine is None:
                mine = self.columns[name] = _empty_like(col, self.exact_limit)
                mine.count = mine.nulls = self.rows  # the column was absent: all null
            mine.merge_into(col, self.exact_limit, self.category_cap)
        for name, mine in self.columns.items():
            if name not in other.columns:
                mine.count += other.rows
                mine.nulls += other.rows
        self.rows += other.rows

    def to_dict(self, *, include_values: bool = False) -> dict[str, Any]:
        """Return a JSON-ready dict; ``include_values`` keeps exact-mode values."""
        return {
            "schema_version": PROFILE_SCHEMA_VERSION,
            "kind": "mlward.profile",
            "rows": self.rows,
            "exact_limit": self.exact_limit,
            "category_cap": self.category_cap,
            "columns": [c.to_dict(include_values=include_values) for c in self.columns.values()],
        }

    def to_json(self, *, include_values: bool = False) -> str:
        """Serialize to JSON text (see ``to_dict``)."""
        return json.dumps(self.to_dict(include_values=include_values), separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DatasetProfile:
        """Rebuild a profile from ``to_dict`` output."""
        if not isinstance(data, dict) or data.get("kind") != "mlward.profile":
            raise InputError("not an mlward profile (kind must be 'mlward.profile')")
        if data.get("schema_version") != PROFILE_SCHEMA_VERSION:
            raise InputError(f"unsupported profile schema_version {data.get('schema_version')!r}")
        columns = [ColumnProfile.from_dict(c) for c in data.get("columns", [])]
        return cls(
            rows=int(data["rows"]),
            columns={c.name: c for c in columns},
            exact_limit=int(data.get("exact_limit", DEFAULT_EXACT_LIMIT)),
            category_cap=int(data.get("category_cap", DEFAULT_CATEGORY_CAP)),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> DatasetProfile:
        """Parse JSON text written by ``to_json``."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise InputError(f"profile is not valid JSON: {exc}") from exc
        return cls.from_dict(data)


def _empty_like(col: ColumnProfile, exact_limit: int) -> ColumnProfile:
    fresh = ColumnProfile(col.name, col.kind, col.dtype)
    fresh.counts = {}
    fresh.values = [] if col.kind == NUMERIC and exact_limit > 0 else None
    return fresh


class ProfileComputation(Computation[DatasetProfile, DatasetProfile]):
    """Profile a dataset batch by batch (map), merging per-batch profiles.

    The values of PII and identifier-like columns never leave the computation: the same
    pass runs the PII scan (unless ``classify`` is off because the caller scans itself and
    calls ``withhold_profile``), and ``finalize`` withholds those columns
    (``data/sensitive.py``), so every profile it returns is safe to store and report.
    """

    def __init__(
        self,
        columns: list[str] | None = None,
        *,
        exact_limit: int = DEFAULT_EXACT_LIMIT,
        category_cap: int = DEFAULT_CATEGORY_CAP,
        classify: bool = True,
    ) -> None:
        self.columns = columns
        self.exact_limit = exact_limit
        self.category_cap = category_cap
        self.classify = classify
        self._pii: Any = None
        if classify:
            from mlward.data.pii import PiiScan

            self._pii = PiiScan(columns=tuple(columns) if columns is not None else None)

    def map(self, batch: pa.RecordBatch) -> DatasetProfile:
        """Profile one batch."""
        profile = self.empty()
        profile.rows = batch.num_rows
        names = self.columns if self.columns is not None else batch.schema.names
        for name in names:
            index = batch.schema.get_field_index(name)
            if index < 0:
                raise InputError(f"column {name!r} not found in the data")
            array = batch.column(index)
            col = ColumnProfile(name, column_kind(array.type), str(array.type))
            col = _empty_like(col, self.exact_limit)
            col.add(array, self.exact_limit, self.category_cap)
            profile.columns[name] = col
        if self._pii is not None:
            profile.pii_tally = self._pii.map(batch)
        return profile

    def merge(self, left: DatasetProfile, right: DatasetProfile) -> DatasetProfile:
        """Fold ``right`` into ``left`` (summaries are owned by the engine, so in place)."""
        left.merge_into(right)
        if self._pii is not None:
            tallies = [t for t in (left.pii_tally, right.pii_tally) if t is not None]
            left.pii_tally = self._pii.merge(*tallies) if len(tallies) == 2 else next(iter(tallies), None)
        return left

    def finalize(self, summary: DatasetProfile) -> DatasetProfile:
        """Return the merged profile with PII and identifier-like columns withheld."""
        from mlward.data.sensitive import entities_of, withhold_profile

        entities: dict[str, tuple[str, ...]] = {}
        if self._pii is not None:
            entities = entities_of(self._pii.finalize(summary.pii_tally or self._pii.empty()))
        summary.pii_tally = None
        return withhold_profile(summary, entities)

    def empty(self) -> DatasetProfile:
        """The profile of no rows."""
        return DatasetProfile(exact_limit=self.exact_limit, category_cap=self.category_cap)


def run_in_memory(
    computation: Computation[Any, Any], table: pa.Table, batch_rows: int = DEFAULT_BATCH_ROWS
) -> Any:
    """Run a computation over an in-memory Arrow table, batch by batch, in this thread."""
    summaries = [computation.map(b) for b in table.to_batches(max_chunksize=batch_rows)]
    return computation.finalize(reduce_summaries(computation, summaries))


def run_computation(
    computation: Computation[Any, Any],
    data: Any,
    engine: Engine | None = None,
    *,
    progress: ProgressCallback | None = None,
) -> Any:
    """Run ``computation`` over a path (on ``engine``, local by default) or in-memory data."""
    if isinstance(data, str) or hasattr(data, "__fspath__"):
        if engine is None:
            from mlward.engine.local import LocalEngine

            engine = LocalEngine()
        return engine.run(computation, open_dataset(data), progress=progress)
    return run_in_memory(computation, to_arrow(data))


def profile_dataset(
    data: Any,
    engine: Engine | None = None,
    *,
    columns: list[str] | None = None,
    exact_limit: int = DEFAULT_EXACT_LIMIT,
    category_cap: int = DEFAULT_CATEGORY_CAP,
    progress: ProgressCallback | None = None,
) -> DatasetProfile:
    """Profile a dataset: a path (file or partitioned directory), pandas, Polars or Arrow.

    Paths run on ``engine`` (``LocalEngine`` by default, or a ``DaskEngine``); in-memory
    data is profiled in this process. A ``DatasetProfile`` is returned unchanged.
    """
    if isinstance(data, DatasetProfile):
        return data
    computation = ProfileComputation(columns, exact_limit=exact_limit, category_cap=category_cap)
    result: DatasetProfile = run_computation(computation, data, engine, progress=progress)
    return result
