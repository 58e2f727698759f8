"""Multivariate drift: a domain classifier on bounded row samples, calibrated by permutation.

Rows are sampled with a mergeable bottom-k sample keyed by a hash of the row's content,
so the sample is the same whichever engine or partitioning produced it. A k-nearest-
neighbour classifier then tries to tell reference rows from current rows; its leave-one-out
ROC AUC is ~0.5 when the joint distributions match and grows with drift.

Small samples separate by chance (89 vs 89 rows reach AUC 0.58 about one time in twenty),
so the AUC is compared with its permutation distribution at the same sizes: the side labels
are shuffled and the classifier refitted. A nearest-neighbour classifier makes that cheap
and exact: the neighbour graph does not depend on the labels, so a refit under shuffled
labels is a re-read of the neighbours' labels, and hundreds of permutations cost less than
one boosted-tree fit.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mlward.data.drift.interface import DEFAULT_ALPHA, MultivariateDrift
from mlward.data.profile import CATEGORICAL, NUMERIC, column_kind, hash_floats, hash_strings, mix64
from mlward.engine.base import Computation

DEFAULT_SAMPLE_ROWS = 5_000
DEFAULT_AUC_THRESHOLD = 0.55
DEFAULT_PERMUTATIONS = 200
CATEGORY_LIMIT = 20
"""Most frequent categories one-hot encoded per column; the rest share one code."""


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


def _numeric_values(array: pa.ChunkedArray) -> np.ndarray:
    chunk = array.combine_chunks()
    if pa.types.is_temporal(chunk.type):
        chunk = chunk.view(pa.int64() if chunk.type.bit_width == 64 else pa.int32())
    return np.asarray(chunk.cast(pa.float64()).to_numpy(zero_copy_only=False), np.float64)


def encode_rows(table: pa.Table, columns: list[str]) -> np.ndarray:
    """Encode rows for nearest-neighbour distances; label-blind, so permutations stay exact.

    Numbers become their pooled rank in [0, 1] (scale-free, robust to heavy tails), with a
    null indicator when a column has nulls; categories become one-hot codes of the
    ``CATEGORY_LIMIT`` most frequent values (weight 1/2, so two different categories are
    about as far apart as two distant ranks), the rest sharing one "other" code.
    """
    from scipy.stats import rankdata

    blocks: list[np.ndarray] = []
    for name in columns:
        array = table.column(name)
        if column_kind(array.type) == NUMERIC:
            values = _numeric_values(array)
            missing = ~np.isfinite(values)
            ranks = np.full(values.size, 0.5)
            if (~missing).any():
                ranks[~missing] = (rankdata(values[~missing]) - 0.5) / (~missing).sum()
            blocks.append(ranks[:, None])
            if missing.any():
                blocks.append(missing[:, None].astype(np.float64))
            continue
        text = pc.fill_null(array.cast(pa.string()), "\x00null")
        encoded = pc.dictionary_encode(text).combine_chunks()
        codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), np.intp)
        counts = np.bincount(codes, minlength=len(encoded.dictionary))
        top = np.argsort(-counts, kind="stable")[:CATEGORY_LIMIT]
        lookup = np.full(counts.size, len(top), np.intp)
        lookup[top] = np.arange(len(top))
        blocks.append(0.5 * np.eye(len(top) + 1)[lookup[codes]])
    return np.hstack(blocks) if blocks else np.zeros((table.num_rows, 0))


def neighbour_count(rows: int) -> int:
    """Neighbours per row: about half the square root of the rows, between 5 and 50."""
    return int(np.clip(round(np.sqrt(rows) / 2), 5, 50))


def _auc(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """ROC AUC of each row of ``scores`` (ties count one half) for 0/1 ``labels``."""
    from scipy.stats import rankdata

    ranks = rankdata(scores, axis=-1)
    positives = labels.sum(axis=-1)
    negatives = labels.shape[-1] - positives
    rank_sum = (ranks * labels).sum(axis=-1)
    return np.asarray((rank_sum - positives * (positives + 1) / 2) / (positives * negatives))


def domain_classifier(
    reference: pa.Table,
    current: pa.Table,
    columns: list[str],
    *,
    threshold: float = DEFAULT_AUC_THRESHOLD,
    alpha: float = DEFAULT_ALPHA,
    permutations: int = DEFAULT_PERMUTATIONS,
    seed: int = 0,
) -> MultivariateDrift:
    """Leave-one-out kNN AUC separating ``reference`` rows from ``current``, with its null.

    Drift when the AUC is at least ``threshold`` (a practical effect size) *and* the share
    of ``permutations`` label shuffles reaching it (plus one, over permutations plus one)
    is below ``alpha``. Both sides are cut to the smaller one's rows so that an AUC means
    the same whatever the imbalance; the random generator is seeded.
    """
    from scipy.sparse import csr_matrix
    from sklearn.neighbors import NearestNeighbors
    from threadpoolctl import threadpool_limits

    rows = min(reference.num_rows, current.num_rows)
    if rows < 2 or not columns:
        return MultivariateDrift(
            0.5, threshold, False, rows, p_value=None, permutations=0, alpha=alpha, neighbours=0
        )
    both = pa.concat_tables(
        [reference.slice(0, rows).select(columns), current.slice(0, rows).select(columns)],
        promote_options="permissive",
    )
    features = encode_rows(both, columns)
    labels = np.concatenate([np.zeros(rows), np.ones(rows)])
    k = min(neighbour_count(2 * rows), 2 * rows - 1)
    # One BLAS thread: on a busy machine a spinning thread pool is slower, not faster.
    with threadpool_limits(1):
        index = NearestNeighbors(n_neighbors=k + 1).fit(features)
        _, found = index.kneighbors(features)
    neighbours = _without_self(found, k)
    # A row's score is how many of its neighbours are current rows (rank-equivalent to
    # the kNN probability); the shuffles reuse the same neighbours.
    auc = float(_auc(labels[neighbours].sum(axis=1), labels))
    rng = np.random.default_rng(seed)
    shuffled = np.stack([rng.permutation(labels) for _ in range(permutations)])
    graph = csr_matrix(
        (np.ones(neighbours.size), neighbours.ravel(), np.arange(0, neighbours.size + 1, k)),
        shape=(2 * rows, 2 * rows),
    )
    null = _auc(np.asarray(graph @ shuffled.T).T, shuffled) if permutations else np.zeros(0)
    p_value = float((1 + np.sum(null >= auc)) / (1 + permutations)) if permutations else None
    quantile = float(np.quantile(null, 1 - alpha)) if permutations else None
    drifted = auc >= threshold and (p_value is None or p_value < alpha)
    return MultivariateDrift(
        auc,
        threshold,
        drifted,
        rows,
        p_value=p_value,
        null_quantile=quantile,
        permutations=permutations,
        alpha=alpha,
        neighbours=k,
    )


def _without_self(found: np.ndarray, k: int) -> np.ndarray:
    """Drop each row's own index from its k + 1 neighbours (duplicates may come first)."""
    own = found == np.arange(found.shape[0])[:, None]
    drop = np.where(own.any(axis=1), own.argmax(axis=1), k)
    keep = np.ones_like(found, dtype=bool)
    keep[np.arange(found.shape[0]), drop] = False
    return np.asarray(found[keep].reshape(found.shape[0], k))
