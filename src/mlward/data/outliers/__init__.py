"""Outlier detection: an Isolation Forest plus robust per-feature z-scores.

``OutlierDetector(target_fpr=0.01).fit(reference)`` learns encodings, robust statistics,
the forest and thresholds; ``score`` / ``score_row`` score and explain rows; ``save`` /
``load`` persist it as safetensors without pickle; ``scan_dataset`` scores a whole dataset
on the engine. See docs/outliers-fairness.md.
"""

from mlward.data.outliers.detector import (
    FORMAT,
    FORMAT_VERSION,
    MAX_FIT_ROWS,
    OutlierDetector,
    OutlierScores,
    RowScore,
)
from mlward.data.outliers.forest import Forest, average_path_length
from mlward.data.outliers.scan import OutlierScan, OutlierScanComputation, scan_dataset

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MAX_FIT_ROWS",
    "Forest",
    "OutlierDetector",
    "OutlierScan",
    "OutlierScanComputation",
    "OutlierScores",
    "RowScore",
    "average_path_length",
    "scan_dataset",
]
