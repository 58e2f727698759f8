"""Multivariate drift: a domain classifier on bounded row samples.

Rows are sampled with a mergeable bottom-k sample keyed by a hash of the row's content,
so the sample is the same whichever engine or partitioning produced it. A gradient-boosted
classifier then tries to tell reference rows from current rows; its cross-validated ROC
AUC is ~0.5 when the joint distributions match and grows with drift.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mlward.data.drift.interface import MultivariateDrift
from mlward.data.profile import CATEGORICAL, NUMERIC, column_kind, hash_floats, hash_strings, mix64
from mlward.engine.base import Computation

DEFAULT_SAMPLE_ROWS = 5_000
DEFAULT_AUC_THRESHOLD = 0.55


def _column_hashes(array: pa.Array) -> np.ndarray:
    kind = column_kind(array.type)
    if kind == NUMERIC:
        if pa.types.is_temporal(array.type):
            array = array.view(pa.int64() if array.type.bit_width == 64 else pa.int32())
        values = np.asarray(pc.fill_null(array.cast(pa.float64()), 0.0), dtype=np.float64)
        return hash_floats(values)
    encoded = pc.dictionary_encode(array.cast(pa.string()) if kind == CATEGORICAL else array)
    dictionary = hash_strings(str(v) for v in encoded.dictionary.to_pylist())
    indices = np.asarray(pc.fill_null(encoded.indices, 0), dtype=np.intp)
    return dictionary[indices] if dictionary.size else np.zeros(len(array), np.uint64)


def row_keys(batch: pa.RecordBatch) -> np.ndarray:
    """Return a 64-bit key per row, a hash of its content (column order matters)."""
    keys = np.zeros(batch.num_rows, np.uint64)
    for index, array in enumerate(batch.columns):
        mixed = keys * np.uint64(0x100000001B3) + np.uint64(index + 1)
        keys = mix64(mixed ^ _column_hashes(array))
    return keys


class RowSampleComputation(Computation[tuple[np.ndarray, pa.Table | None], pa.Table | None]):
    """Keep the ``rows`` rows with the smallest content keys (a uniform, mergeable sample)."""

    def __init__(self, rows: int = DEFAULT_SAMPLE_ROWS) -> None:
        self.rows = rows

    def map(self, batch: pa.RecordBatch) -> tuple[np.ndarray, pa.Table | None]:
        """Sample one batch."""
        keys = row_keys(batch)
        keep = np.argsort(keys, kind="stable")[: self.rows]
        return keys[keep], pa.Table.from_batches([batch]).take(pa.array(keep))

    def merge(
        self, left: tuple[np.ndarray, pa.Table | None], right: tuple[np.ndarray, pa.Table | None]
    ) -> tuple[np.ndarray, pa.Table | None]:
        """Keep the smallest keys of both samples."""
        if left[1] is None:
            return right
        if right[1] is None:
            return left
        keys = np.concatenate([left[0], right[0]])
        table = pa.concat_tables([left[1], right[1]], promote_options="permissive")
        keep = np.argsort(keys, kind="stable")[: self.rows]
        return keys[keep], table.take(pa.array(keep))

    def finalize(self, summary: tuple[np.ndarray, pa.Table | None]) -> pa.Table | None:
        """Return the sampled rows."""
        return summary[1]

    def empty(self) -> tuple[np.ndarray, pa.Table | None]:
        """No rows."""
        return np.zeros(0, np.uint64), None


def _encode(tables: list[pa.Table], columns: list[str]) -> np.ndarray:
    """Encode columns as floats: numbers as they are, categories as shared integer codes."""
    blocks = []
    for name in columns:
        arrays = [t.column(name).combine_chunks() for t in tables]
        if column_kind(arrays[0].type) == NUMERIC:
            for i, arr in enumerate(arrays):
                if pa.types.is_temporal(arr.type):
                    arrays[i] = arr.view(pa.int64() if arr.type.bit_width == 64 else pa.int32())
            blocks.append(np.concatenate([
                np.asarray(a.cast(pa.float64()).to_numpy(zero_copy_only=False), np.float64)
                for a in arrays
            ]))
        else:
            text = pa.concat_arrays([a.cast(pa.string()) for a in arrays])
            codes = pc.dictionary_encode(text).indices
            blocks.append(np.asarray(codes.cast(pa.float64()).to_numpy(zero_copy_only=False)))
    return np.column_stack(blocks) if blocks else np.zeros((sum(t.num_rows for t in tables), 0))


def domain_classifier(
    reference: pa.Table,
    current: pa.Table,
    columns: list[str],
    *,
    threshold: float = DEFAULT_AUC_THRESHOLD,
    seed: int = 0,
) -> MultivariateDrift:
    """Cross-validated AUC of a classifier separating ``reference`` rows from ``current``."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from threadpoolctl import threadpool_limits

    rows = min(reference.num_rows, current.num_rows)
    ref = reference.slice(0, rows)
    cur = current.slice(0, rows)
    features = _encode([ref, cur], columns)
    target = np.concatenate([np.zeros(rows), np.ones(rows)])
    model: Any = HistGradientBoostingClassifier(max_iter=50, random_state=seed)
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
    # One OpenMP thread: on a busy machine HGB's thread pool spins and runs ~8x slower.
    with threadpool_limits(1):
        proba = cross_val_predict(model, features, target, cv=folds, method="predict_proba")[:, 1]
    auc = float(roc_auc_score(target, proba))
    return MultivariateDrift(auc, threshold, auc >= threshold, rows)
