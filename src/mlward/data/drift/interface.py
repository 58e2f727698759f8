"""The drift-test family: the ``DriftTest`` interface and the result records.

A test compares one column's reference profile with its current profile and returns a
``TestOutcome``; the detector turns outcomes into ``ColumnDrift`` verdicts with thresholds
and a ``DriftReport`` for the dataset. ``DriftReport.to_dict`` is the documented JSON
schema (``schema_version`` 1, see docs/drift.md).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from mlward.data.drift.calibration import Calibration
from mlward.data.profile import ColumnProfile, DatasetProfile

DRIFT_SCHEMA_VERSION = 1
DEFAULT_ALPHA = 0.01
"""A distance drifts only when sampling noise alone would reach it less often than this."""


@dataclass(frozen=True)
class TestOutcome:
    """What a test measured on one column."""

    __test__ = False  # not a pytest class, despite the name

    statistic: float
    """The test statistic or distance."""
    p_value: float | None = None
    """The p-value, for hypothesis tests."""
    approximate: bool = False
    """True when computed from sketches rather than from every value."""
    error_bound: float | None = None
    """Bound on |statistic - exact statistic| when approximate and a bound is known."""


class DriftTest(ABC):
    """One statistical test or distance between a reference and a current column."""

    name: ClassVar[str]
    """Name used in configuration and reports (``ks``, ``wasserstein`` ...)."""
    kinds: ClassVar[frozenset[str]]
    """Column kinds it applies to: ``numeric`` and / or ``categorical``."""
    uses_p_value: ClassVar[bool]
    """True: drift when p-value < threshold. False: drift when statistic >= threshold."""
    default_threshold: ClassVar[float]
    """Threshold used when none is configured."""

    @abstractmethod
    def compute(self, reference: ColumnProfile, current: ColumnProfile, kind: str) -> TestOutcome:
        """Compare two profiles of the same column, treated as ``kind``."""

    def calibrate(
        self,
        reference: ColumnProfile,
        current: ColumnProfile,
        kind: str,
        outcome: TestOutcome,
        alpha: float,
    ) -> Calibration | None:
        """Return the distance's null p-value and interval at these sizes (None: not needed)."""
        return None

    def drifted(
        self,
        outcome: TestOutcome,
        threshold: float,
        calibration: Calibration | None = None,
        alpha: float = DEFAULT_ALPHA,
    ) -> bool:
        """Apply ``threshold`` (and, for distances, the noise check) to an outcome.

        A hypothesis test drifts when its p-value is below ``threshold``; a distance when it
        is at least ``threshold`` *and* its calibrated p-value is below ``alpha``.
        """
        if self.uses_p_value:
            return outcome.p_value is not None and outcome.p_value < threshold
        noise_ok = calibration is None or calibration.p_value < alpha
        return outcome.statistic >= threshold and noise_ok


@dataclass(frozen=True)
class NullRateDrift:
    """Change in a column's share of null (missing or NaN) cells."""

    reference: float
    """Null share in the reference."""
    current: float
    """Null share in the current data."""
    threshold: float
    """Absolute change in the share at which the column drifts."""
    p_value: float
    """Two-proportion z-test of equal null shares."""
    drifted: bool
    """True when the change reaches ``threshold`` and p_value < alpha."""

    @property
    def summary(self) -> str:
        """The change in words: ``null rate 0% → 30%``."""
        return f"null rate {percent(self.reference)} → {percent(self.current)}"

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON entry."""
        return {
            "reference": self.reference,
            "current": self.current,
            "threshold": self.threshold,
            "p_value": _finite(self.p_value),
            "drifted": self.drifted,
            "summary": self.summary,
        }


@dataclass(frozen=True)
class ColumnDrift:
    """The drift verdict for one column."""

    column: str
    """Column name."""
    kind: str
    """How the column was treated: ``numeric`` or ``categorical``."""
    test: str
    """Test name, or ``missing`` when the current data has no values for the column."""
    statistic: float
    """Test statistic or distance."""
    p_value: float | None
    """p-value for hypothesis tests, else None."""
    threshold: float
    """Threshold applied (a p-value level or a distance)."""
    drifted: bool
    """The verdict."""
    approximate: bool = False
    """True when computed from sketches."""
    error_bound: float | None = None
    """Bound on the statistic's sketch error, when known."""
    reference_rows: int = 0
    """Non-null reference values."""
    current_rows: int = 0
    """Non-null current values."""
    distribution_drifted: bool | None = None
    """Verdict of the distribution test alone (None: same as ``drifted``)."""
    interval: tuple[float, float] | None = None
    """95 % bootstrap interval of a distance at these sample sizes."""
    null_quantile: float | None = None
    """The distance sampling noise alone reaches with probability ``alpha``."""
    alpha: float | None = None
    """Noise level a distance's p-value had to be below."""
    null_rate: NullRateDrift | None = None
    """Change in the share of null cells, with its own verdict."""
    new_categories: tuple[tuple[str, float], ...] = ()
    """Categories absent from the reference, with their current share (largest first)."""
    vanished_categories: tuple[tuple[str, float], ...] = ()
    """Reference categories (with their share) expected ≥ 5 times but absent now."""
    withheld: tuple[str, ...] = ()
    """Why the values were withheld (PII entity types, ``IDENTIFIER``): null rate only."""
    summary: str = ""
    """What changed, in words (``mean +0.1 sd``, ``null rate 0% → 30%``; ``summary.py``)."""

    def to_dict(self) -> dict[str, Any]:
        """Return the schema-v1 JSON entry for this column."""
        interval = None if self.interval is None else [_finite(v) for v in self.interval]
        return {
            "column": self.column,
            "type": self.kind,
            "test": self.test,
            "statistic": _finite(self.statistic),
            "p_value": _finite(self.p_value),
            "threshold": self.threshold,
            "drifted": self.drifted,
            "approximate": self.approximate,
            "error_bound": _finite(self.error_bound),
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "distribution_drifted": self.drifted
            if self.distribution_drifted is None
            else self.distribution_drifted,
            "interval": interval,
            "null_quantile": _finite(self.null_quantile),
            "alpha": self.alpha,
            "null_rate": None if self.null_rate is None else self.null_rate.to_dict(),
            "new_categories": [{"category": k, "share": v} for k, v in self.new_categories],
            "vanished_categories": [
                {"category": k, "reference_share": v} for k, v in self.vanished_categories
            ],
            "withheld": list(self.withheld),
            "summary": self.summary,
        }


@dataclass(frozen=True)
class MultivariateDrift:
    """Drift of the joint distribution, from a domain classifier."""

    auc: float
    """Leave-one-out ROC AUC of a classifier telling reference rows from current rows."""
    threshold: float
    """AUC the classifier must reach (a practical effect size)."""
    drifted: bool
    """AUC at least ``threshold`` and permutation p-value below ``alpha``."""
    sample_rows: int
    """Rows used from each side."""
    p_value: float | None = None
    """Share of label permutations whose AUC reached this one (None: not computed)."""
    null_quantile: float | None = None
    """The AUC that label permutations reach with probability ``alpha``."""
    permutations: int = 0
    """Label permutations drawn (each a refit of the classifier)."""
    alpha: float | None = None
    """Level the permutation p-value had to be below."""
    neighbours: int = 0
    """Neighbours per row of the k-nearest-neighbour classifier."""


@dataclass(frozen=True)
class DriftReport:
    """Per-column verdicts plus the dataset verdict."""

    columns: tuple[ColumnDrift, ...]
    """One entry per compared column, in reference column order."""
    share_threshold: float
    """The dataset drifts when the share of drifted columns is at least this."""
    reference_rows: int
    """Rows in the reference data."""
    current_rows: int
    """Rows in the current data."""
    skipped: tuple[tuple[str, str], ...] = ()
    """Columns not compared, with the reason."""
    multivariate: MultivariateDrift | None = None
    """Domain-classifier result, when requested and raw rows were available."""
    reference_profile: DatasetProfile | None = field(default=None, repr=False, compare=False)
    """The reference profile (for plots; not part of the JSON)."""
    current_profile: DatasetProfile | None = field(default=None, repr=False, compare=False)
    """The current profile (for plots; not part of the JSON)."""

    @property
    def drifted_columns(self) -> list[str]:
        """Names of the drifted columns."""
        return [c.column for c in self.columns if c.drifted]

    @property
    def drift_share(self) -> float:
        """Drifted columns / compared columns (0 when none were compared)."""
        return len(self.drifted_columns) / len(self.columns) if self.columns else 0.0

    @property
    def drifted(self) -> bool:
        """Dataset verdict: the drift share reaches the threshold, or multivariate drift."""
        share = bool(self.columns) and self.drift_share >= self.share_threshold
        return share or (self.multivariate is not None and self.multivariate.drifted)

    def columns_by_verdict(self) -> list[ColumnDrift]:
        """The columns with the drifted ones first (each group in reference order).

        Tables and reports read in this order; ``columns`` and the JSON keep reference order.
        """
        return sorted(self.columns, key=lambda c: not c.drifted)

    def column(self, name: str) -> ColumnDrift:
        """Return the verdict for column ``name`` (KeyError when absent)."""
        for entry in self.columns:
            if entry.column == name:
                return entry
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """Return the versioned JSON document (``schema_version`` 1)."""
        multi = self.multivariate
        return {
            "schema_version": DRIFT_SCHEMA_VERSION,
            "kind": "mlward.drift",
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "columns": [c.to_dict() for c in self.columns],
            "skipped": [{"column": name, "reason": why} for name, why in self.skipped],
            "multivariate": None
            if multi is None
            else {
                "test": "domain_classifier",
                "auc": multi.auc,
                "threshold": multi.threshold,
                "drifted": multi.drifted,
                "sample_rows": multi.sample_rows,
                "p_value": _finite(multi.p_value),
                "null_quantile": _finite(multi.null_quantile),
                "permutations": multi.permutations,
                "alpha": multi.alpha,
                "model": f"{multi.neighbours}-nearest neighbours, leave-one-out",
            },
            "dataset": {
                "columns": len(self.columns),
                "drifted_columns": len(self.drifted_columns),
                "drift_share": self.drift_share,
                "share_threshold": self.share_threshold,
                "drifted": self.drifted,
            },
        }


def percent(share: float) -> str:
    """A share as a short percentage: ``0.3`` → ``30%``, ``0.125`` → ``12.5%``."""
    text = f"{100 * share:.1f}".rstrip("0").rstrip(".")
    return f"{text}%"


def _finite(value: float | None) -> float | None:
    # JSON has no NaN / Infinity; an undefined statistic is reported as null.
    if value is None or value != value or value in (float("inf"), float("-inf")):
        return None
    return float(value)
