"""Data drift: per-column tests from profiles or raw data, dataset and multivariate verdicts.

Typical use::

    report = DriftDetector().fit("train.parquet").compare("today.parquet")
    report.drifted, report.to_dict()
"""

from mlward.data.drift.detector import (
    TESTS,
    ColumnRule,
    DriftDetector,
    default_test,
    label_drift,
    prediction_drift,
)
from mlward.data.drift.interface import (
    DRIFT_SCHEMA_VERSION,
    ColumnDrift,
    DriftReport,
    DriftTest,
    MultivariateDrift,
    TestOutcome,
)

__all__ = [
    "DRIFT_SCHEMA_VERSION",
    "TESTS",
    "ColumnDrift",
    "ColumnRule",
    "DriftDetector",
    "DriftReport",
    "DriftTest",
    "MultivariateDrift",
    "TestOutcome",
    "default_test",
    "label_drift",
    "prediction_drift",
]
