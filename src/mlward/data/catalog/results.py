"""Result types of the dataset catalogue (frozen dataclasses, JSON-ready via ``to_dict``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlward.lineage.graph import ArtifactRef


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


class _ToDict:
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        data: dict[str, Any] = _jsonable(self)
        return data


@dataclass(frozen=True)
class DatasetFile(_ToDict):
    """One file of a dataset version."""

    path: str
    """POSIX path relative to the dataset root (the file name for a single file)."""
    digest: str
    """SHA-256 of the file's bytes (hex)."""
    size: int
    """Size in bytes."""
    blob: str
    """Object-store blob holding it (the digest, or the ciphertext's digest when encrypted)."""
    encrypted: bool = False
    """Whether the blob is envelope-encrypted."""


@dataclass(frozen=True)
class ColumnInfo(_ToDict):
    """A column of a dataset version with its PII classification."""

    name: str
    """Column name."""
    type: str
    """Arrow type as text."""
    entities: tuple[str, ...] = ()
    """PII entity types found (``EMAIL``, ``US_SSN``...)."""
    sensitivity: str = "public"
    """``public``, ``internal``, ``confidential`` or ``restricted``."""


@dataclass(frozen=True)
class DatasetVersion(_ToDict):
    """A recorded dataset version (what ``show`` and ``ls`` print)."""

    name: str
    """Dataset name."""
    version: int
    """Version number, from 1, per name."""
    digest: str
    """SHA-256 of the canonical manifest (hex; see ``manifest.dataset_digest``)."""
    layout: str
    """``file`` or ``directory``."""
    format: str
    """``csv``, ``parquet``, ``jsonl`` or ``mixed``."""
    size: int
    """Total bytes of every file."""
    rows: int
    """Row count."""
    schema: dict[str, Any]
    """Arrow schema as JSON: ``{"fields": [{"name", "type", "nullable"}], ...}``."""
    columns: tuple[ColumnInfo, ...]
    """Columns in schema order with their PII classification."""
    sensitivity: str
    """Dataset label: the highest column label."""
    encrypted: bool
    """Whether the blobs are stored envelope-encrypted."""
    files: tuple[DatasetFile, ...]
    """The manifest, sorted by path."""
    profile_blob: str
    """Object-store blob of the profile JSON (load with ``load_profile``)."""
    tags: tuple[str, ...]
    """Tags on this version."""
    owner: str
    """Who answers for the data."""
    description: str
    """Free text."""
    source: str
    """Path the version was added from."""
    created_by: str
    """Principal that added it."""
    created: datetime
    """When it was added."""
    lineage_run: str | None = None
    """Id of the lineage run that recorded it."""
    produced_by: str | None = None
    """Job name of that run (``data.add`` or a pipeline stage)."""
    producing_run: str | None = None
    """An existing run linked as producer."""
    key_id: str | None = None
    """Data key id used for the envelopes (encrypted versions)."""
    pii: dict[str, Any] = dataclasses.field(default_factory=dict)
    """PII scan summary (rows scanned, sampled columns, settings)."""
    unchanged: bool = False
    """Set by ``add_dataset`` when the content already was the latest version (no-op)."""
    new_blobs: int = 0
    """Set by ``add_dataset``: blobs written (0 when every file was already stored)."""

    @property
    def ref(self) -> str:
        """``name@version``."""
        return f"{self.name}@{self.version}"

    @property
    def artifact(self) -> ArtifactRef:
        """This version as a lineage artifact."""
        from mlward.lineage.graph import ArtifactRef  # networkx is slow to import; most callers never need it

        return ArtifactRef("dataset", self.name, str(self.version), f"sha256:{self.digest}")

    def column(self, name: str) -> ColumnInfo:
        """The column called ``name``."""
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)


@dataclass(frozen=True)
class ColumnSummary(_ToDict):
    """Profile summary of one column, safe to print.

    Columns classified as PII get counts only: their minimum, maximum, mean and
    quantiles would be (parts of) personal values.
    """

    name: str
    """Column name."""
    type: str
    """Arrow type."""
    kind: str
    """``numeric``, ``categorical`` or ``other``."""
    null_share: float
    """Share of null (or NaN) cells."""
    distinct: int
    """Distinct values (exact when small, else estimated)."""
    entities: tuple[str, ...]
    """PII entity types."""
    sensitivity: str
    """Column label."""
    minimum: float | None = None
    """Smallest value (numeric, non-PII)."""
    maximum: float | None = None
    """Largest value (numeric, non-PII)."""
    mean: float | None = None
    """Mean (numeric, non-PII)."""
    std: float | None = None
    """Standard deviation (numeric, non-PII)."""
    median: float | None = None
    """Median (numeric, non-PII)."""
    top: tuple[tuple[str, int], ...] = ()
    """Most frequent categories with exact counts (categorical, non-PII, at most 5)."""


@dataclass(frozen=True)
class DatasetDetails(_ToDict):
    """A version with its profile summary and lineage (``show``)."""

    version: DatasetVersion
    """The record."""
    columns: tuple[ColumnSummary, ...]
    """Profile summary per column."""
    upstream: tuple[str, ...]
    """Artifacts it was derived from (``kind:name@version``), transitively."""
    downstream: tuple[str, ...]
    """Artifacts derived from it, transitively."""


@dataclass(frozen=True)
class ColumnChange(_ToDict):
    """How one column present in both versions changed."""

    name: str
    """Column name."""
    kind: str
    """``numeric``, ``categorical`` or ``other``."""
    null_share: tuple[float, float]
    """Null share in A and B."""
    mean: tuple[float, float] | None = None
    """Mean in A and B (numeric, non-PII)."""
    quantiles: dict[str, tuple[float, float]] = dataclasses.field(default_factory=dict)
    """``{"p05": (a, b), ...}`` (numeric, non-PII)."""
    shift: float = 0.0
    """Largest mean or quantile move, in standard deviations of A (numeric)."""
    new_categories: tuple[str, ...] = ()
    """Categories in B only (categorical, non-PII, at most 50)."""
    missing_categories: tuple[str, ...] = ()
    """Categories in A only (categorical, non-PII, at most 50)."""
    entities: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
    """PII entity types in A and B."""
    sensitivity: tuple[str, str] = ("public", "public")
    """Column label in A and B."""
    changed: bool = False
    """Whether anything moved beyond the thresholds in ``diff``."""


@dataclass(frozen=True)
class DatasetDiff(_ToDict):
    """Differences between two dataset versions (``diff A B``)."""

    a: str
    """``name@version`` of the first version."""
    b: str
    """``name@version`` of the second version."""
    identical: bool
    """Same manifest digest: byte-identical content."""
    rows: tuple[int, int]
    """Row counts."""
    added: tuple[tuple[str, str], ...]
    """Columns only in B, with their types."""
    removed: tuple[tuple[str, str], ...]
    """Columns only in A, with their types."""
    retyped: tuple[tuple[str, str, str], ...]
    """``(column, type in A, type in B)``."""
    columns: tuple[ColumnChange, ...]
    """Changes of the columns in both, changed ones first."""
    sensitivity: tuple[str, str]
    """Dataset labels."""
    files_added: tuple[str, ...] = ()
    """Manifest paths only in B."""
    files_removed: tuple[str, ...] = ()
    """Manifest paths only in A."""
    files_changed: tuple[str, ...] = ()
    """Manifest paths in both whose digest differs."""

    @property
    def changed_columns(self) -> tuple[ColumnChange, ...]:
        """Columns whose profile or classification changed."""
        return tuple(c for c in self.columns if c.changed)


@dataclass(frozen=True)
class CheckoutResult(_ToDict):
    """What ``checkout_dataset`` wrote."""

    version: DatasetVersion
    """The version checked out."""
    path: Path
    """The file or directory written."""
    files: int
    """Files written, each verified against its digest."""
    bytes: int
    """Bytes written."""


@dataclass(frozen=True)
class SearchHit(_ToDict):
    """A version that matched a search, with why."""

    version: DatasetVersion
    """The newest matching version of the dataset (or each match with ``all_versions``)."""
    reasons: tuple[str, ...]
    """What matched (``column ssn: US_SSN``, ``tag gold``...)."""
