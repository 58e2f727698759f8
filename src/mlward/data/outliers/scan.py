"""Score a whole dataset on the engine: a histogram, counts and the most anomalous rows.

Memory stays bounded by a batch: each map scores one batch and keeps only its score
histogram, how often each column explained a flagged row, and its ``top`` rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from mlward.data.outliers.detector import OutlierDetector
from mlward.data.profile import run_computation
from mlward.engine.base import Computation, Engine, ProgressCallback

SCORE_BINS = 200
"""Histogram bins over the score range [0, 1]."""


@dataclass(frozen=True)
class OutlierScan:
    """Outlier scores of a dataset, aggregated."""

    rows: int
    """Rows scored."""
    flagged: int
    """Rows flagged as outliers."""
    histogram: tuple[int, ...]
    """Rows per score bin (``SCORE_BINS`` equal bins over [0, 1])."""
    threshold: float
    """The detector's forest-score threshold."""
    top: tuple[dict[str, Any], ...]
    """The most anomalous rows: ``score``, ``outlier``, ``features`` ((column, z) pairs), ``values``.

    ``values`` holds the detector's columns only: never a PII or identifier column.
    """
    explained: tuple[tuple[str, int], ...]
    """Columns most often among a flagged row's top features, with counts."""

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON document (``kind`` ``mlward.outliers``, ``schema_version`` 1)."""
        return {
            "schema_version": 1,
            "kind": "mlward.outliers",
            "rows": self.rows,
            "flagged": self.flagged,
            "threshold": self.threshold,
            "top": [
                {**row, "features": [{"column": c, "z": z} for c, z in row["features"]]} for row in self.top
            ],
            "explained": [{"column": c, "flagged_rows": n} for c, n in self.explained],
        }


_Summary = tuple[int, int, np.ndarray, dict[str, int], list[dict[str, Any]]]


class OutlierScanComputation(Computation[_Summary, OutlierScan]):
    """Score batches with a fitted detector; keep aggregates and the ``top`` rows."""

    def __init__(self, detector: OutlierDetector, top: int = 10) -> None:
        self.detector = detector
        self.top = top

    def map(self, batch: pa.RecordBatch) -> _Summary:
        """Score one batch."""
        table = pa.Table.from_batches([batch])
        scores = self.detector.score(table)
        histogram = np.histogram(scores.scores, bins=SCORE_BINS, range=(0.0, 1.0))[0]
        tally: dict[str, int] = {}
        for row in np.flatnonzero(scores.is_outlier):
            for name, _ in scores.explain(int(row), self.detector.top_k):
                tally[name] = tally.get(name, 0) + 1
        best = np.argsort(-scores.scores, kind="stable")[: self.top]
        # Only the detector's own columns, which are never PII or identifiers (``fit``).
        features = table.select(list(self.detector.column_names_))
        top = [
            {
                "score": float(scores.scores[i]),
                "outlier": bool(scores.is_outlier[i]),
                "features": list(scores.explain(int(i), self.detector.top_k)),
                "values": features.slice(int(i), 1).to_pylist()[0],
            }
            for i in best
        ]
        return batch.num_rows, int(scores.is_outlier.sum()), histogram, tally, top

    def merge(self, left: _Summary, right: _Summary) -> _Summary:
        """Add counts; keep the best rows of both."""
        tally = dict(left[3])
        for name, count in right[3].items():
            tally[name] = tally.get(name, 0) + count
        top = sorted([*left[4], *right[4]], key=lambda r: -r["score"])[: self.top]
        return left[0] + right[0], left[1] + right[1], left[2] + right[2], tally, top

    def finalize(self, summary: _Summary) -> OutlierScan:
        """Build the scan result."""
        explained = tuple(sorted(summary[3].items(), key=lambda kv: (-kv[1], kv[0]))[:10])
        return OutlierScan(
            summary[0],
            summary[1],
            tuple(int(c) for c in summary[2]),
            self.detector.threshold_,
            tuple(summary[4]),
            explained,
        )

    def empty(self) -> _Summary:
        """No rows."""
        return 0, 0, np.zeros(SCORE_BINS, np.int64), {}, []


def scan_dataset(
    detector: OutlierDetector,
    data: Any,
    engine: Engine | None = None,
    *,
    top: int = 10,
    progress: ProgressCallback | None = None,
) -> OutlierScan:
    """Score every row of ``data`` (a path on the engine, or in-memory data)."""
    scan: OutlierScan = run_computation(
        OutlierScanComputation(detector, top), data, engine, progress=progress
    )
    return scan
