"""Which columns' values may appear in what mlward writes: the one place that decides.

Reports (drift, outliers, fairness, run), stored profiles, outlier models and catalogue
summaries are read by more people than the data, and live longer. A column whose values
are personal or identifying is therefore *withheld* from all of them: they keep its
counts (rows, nulls, distinct values) and never a value, a category label or a quantile.

A column is withheld when

* the PII scan (``mlward.data.pii``, content and column names) classifies it with any
  entity type, or
* it looks like an identifier: text with more than ``IDENTIFIER_MIN_DISTINCT`` distinct
  values making up at least ``IDENTIFIER_SHARE`` of its non-null cells (ids, free text,
  hashes: a category that few rows share points at those rows).

Writers call ``withhold_profile`` (profiles and everything computed from them),
``withheld_in_table`` (row samples: outlier fitting) and ``withheld_labels`` (group
labels: fairness); ``WITHHELD`` is what a report shows where a value would have been.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    from mlward.data.pii import PiiScanResult
    from mlward.data.profile import DatasetProfile

IDENTIFIER = "IDENTIFIER"
"""Pseudo entity type of a withheld high-cardinality (identifier-like) column."""
IDENTIFIER_MIN_DISTINCT = 50
"""A text column needs more distinct values than this to count as an identifier."""
IDENTIFIER_SHARE = 0.5
"""... and distinct values making up at least this share of its non-null cells."""
WITHHELD = "(withheld)"
"""Shown instead of a withheld value."""


def looks_like_identifier(distinct: float, non_null: int) -> bool:
    """Whether a text column with these counts is identifier-like (see the module doc)."""
    return distinct > IDENTIFIER_MIN_DISTINCT and distinct >= IDENTIFIER_SHARE * max(non_null, 1)


def entities_of(result: PiiScanResult) -> dict[str, tuple[str, ...]]:
    """Entity type names per column of a PII scan (only columns with some)."""
    return {c.name: tuple(e.value for e in c.entity_types) for c in result.columns if c.entity_types}


def withhold_profile(profile: DatasetProfile, entities: Mapping[str, Sequence[str]]) -> DatasetProfile:
    """Drop every value of the PII and identifier-like columns of ``profile`` (in place).

    ``entities`` are the PII scan's entity types per column. Withheld columns keep their
    kind, counts and distinct-count sketch, and record why in ``ColumnProfile.withheld``.
    """
    from mlward.data.profile import CATEGORICAL

    for name, column in profile.columns.items():
        found = tuple(entities.get(name, ()))
        if not found and column.kind == CATEGORICAL and looks_like_identifier(column.distinct, column.n):
            found = (IDENTIFIER,)
        if found:
            column.withhold(found)
    return profile


def withheld_in_table(table: pa.Table, columns: Sequence[str] | None = None) -> dict[str, tuple[str, ...]]:
    """Withheld columns of an in-memory table (a row sample), with the reason per column."""
    from mlward.data.pii import scan

    names = list(columns) if columns is not None else table.column_names
    found = entities_of(scan(table, columns=names)) if names else {}
    for name in names:
        if name in found:
            continue
        column = table.column(name)
        kind = column.type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_dictionary(kind):
            values = pc.drop_null(column.cast(pa.string()))
            if looks_like_identifier(len(pc.unique(values)), len(values)):
                found[name] = (IDENTIFIER,)
    return found


def withheld_labels(attribute: str, labels: Sequence[Any], rows: int) -> tuple[str, ...]:
    """Why the group labels of ``attribute`` are withheld (empty: they may be shown).

    ``labels`` are the distinct groups, ``rows`` the rows they cover.
    """
    from mlward.data.pii import scan

    text = [None if v is None else str(v) for v in labels]
    found = entities_of(scan(pa.table({attribute: pa.array(text, pa.string())})))
    if attribute in found:
        return found[attribute]
    return (IDENTIFIER,) if looks_like_identifier(len(text), rows) else ()


def placeholder_labels(count: int) -> list[str]:
    """Labels shown for ``count`` withheld groups: ``(withheld) 1``, ``(withheld) 2`` ..."""
    return [f"{WITHHELD} {i + 1}" for i in range(count)]
