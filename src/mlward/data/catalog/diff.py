"""``diff``: what changed between two dataset versions.

Schema changes come from the stored schemas (columns added, removed or retyped);
profile changes from the stored profiles (row count, null share, mean and quantile
shifts measured in standard deviations of A, new and missing categories); PII changes
from the stored classifications. The raw data is not read. As in ``show``, columns
classified as PII in either version get no value statistics and no category lists,
so a diff never prints personal values.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from mlward.data.catalog.results import ColumnChange, ColumnInfo, DatasetDiff
from mlward.data.catalog.service import get_dataset, load_profile
from mlward.data.profile import CATEGORICAL, NUMERIC, ColumnProfile
from mlward.workspace import Workspace

NULL_SHARE_TOLERANCE = 0.01
"""A null share moving by more than this (absolute) counts as a change."""
SHIFT_TOLERANCE = 0.1
"""A mean or quantile moving by more than this many standard deviations counts as a change."""
QUANTILES = {"p05": 0.05, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p95": 0.95}
MAX_CATEGORIES = 50


def _null_share(column: ColumnProfile) -> float:
    return column.nulls / column.count if column.count else 0.0


def _numeric(a: ColumnProfile, b: ColumnProfile) -> dict[str, object]:
    if not a.n or not b.n:
        return {}
    ranks = np.array(list(QUANTILES.values()))
    qa, qb = a.quantiles(ranks), b.quantiles(ranks)
    quantiles = {
        key: (float(x), float(y)) for key, x, y in zip(QUANTILES, qa.tolist(), qb.tolist(), strict=True)
    }
    scale = a.std or abs(a.mean) or 1.0
    moves = [abs(b.mean - a.mean), *(abs(y - x) for x, y in quantiles.values())]
    shift = max(m for m in moves if math.isfinite(m)) / scale if any(map(math.isfinite, moves)) else 0.0
    return {"mean": (a.mean, b.mean), "quantiles": quantiles, "shift": shift}


def _categories(a: ColumnProfile, b: ColumnProfile) -> dict[str, object]:
    keys_a, keys_b = set(a.category_counts()[0]), set(b.category_counts()[0])
    return {
        "new_categories": tuple(sorted(keys_b - keys_a)[:MAX_CATEGORIES]),
        "missing_categories": tuple(sorted(keys_a - keys_b)[:MAX_CATEGORIES]),
    }


def compare_columns(
    a: ColumnProfile | None, b: ColumnProfile | None, info_a: ColumnInfo, info_b: ColumnInfo
) -> ColumnChange:
    """Compare one column present in both versions."""
    kind = a.kind if a is not None else (b.kind if b is not None else "other")
    details: dict[str, object] = {}
    null_share = (_null_share(a) if a else 0.0, _null_share(b) if b else 0.0)
    personal = bool(info_a.entities or info_b.entities)
    if a is not None and b is not None and a.kind == b.kind and not personal:
        if kind == NUMERIC:
            details = _numeric(a, b)
        elif kind == CATEGORICAL:
            details = _categories(a, b)
    change = ColumnChange(
        name=info_a.name,
        kind=kind,
        null_share=null_share,
        entities=(info_a.entities, info_b.entities),
        sensitivity=(info_a.sensitivity, info_b.sensitivity),
        **details,  # type: ignore[arg-type]
    )
    changed = (
        abs(null_share[1] - null_share[0]) > NULL_SHARE_TOLERANCE
        or change.shift > SHIFT_TOLERANCE
        or bool(change.new_categories or change.missing_categories)
        or set(info_a.entities) != set(info_b.entities)
        or info_a.sensitivity != info_b.sensitivity
        or (a is not None and b is not None and a.kind != b.kind)
    )
    return dataclasses.replace(change, changed=changed)


def diff_datasets(workspace: Workspace, a: str, b: str) -> DatasetDiff:
    """Compare versions ``a`` and ``b`` (each ``name@version``, ``name@tag`` or ``name``)."""
    va, vb = get_dataset(workspace, a), get_dataset(workspace, b)
    pa_, pb_ = load_profile(workspace, va), load_profile(workspace, vb)
    cols_a = {c.name: c for c in va.columns}
    cols_b = {c.name: c for c in vb.columns}
    changes = [
        compare_columns(pa_.columns.get(name), pb_.columns.get(name), info, cols_b[name])
        for name, info in cols_a.items()
        if name in cols_b
    ]
    files_a = {f.path: f.digest for f in va.files}
    files_b = {f.path: f.digest for f in vb.files}
    return DatasetDiff(
        a=va.ref,
        b=vb.ref,
        identical=va.digest == vb.digest,
        rows=(va.rows, vb.rows),
        added=tuple((n, c.type) for n, c in cols_b.items() if n not in cols_a),
        removed=tuple((n, c.type) for n, c in cols_a.items() if n not in cols_b),
        retyped=tuple(
            (n, c.type, cols_b[n].type) for n, c in cols_a.items() if n in cols_b and cols_b[n].type != c.type
        ),
        columns=tuple(sorted(changes, key=lambda c: not c.changed)),
        sensitivity=(va.sensitivity, vb.sensitivity),
        files_added=tuple(sorted(set(files_b) - set(files_a))),
        files_removed=tuple(sorted(set(files_a) - set(files_b))),
        files_changed=tuple(sorted(p for p in files_a if p in files_b and files_a[p] != files_b[p])),
    )
