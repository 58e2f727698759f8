"""``DriftDetector``: per-column drift tests, dataset verdict and multivariate drift.

Default test per column (Evidently's documented defaults, with the departures noted in
docs/drift.md):

===========================================  =====================  =====================
column                                       reference <= 1000      reference > 1000
===========================================  =====================  =====================
numeric with more than 5 distinct values     ``ks`` (p < 0.05)      ``wasserstein`` >= 0.1
categorical, or numeric with <= 5 values     ``chisquare`` (p<0.05) ``jensenshannon`` >= 0.1
===========================================  =====================  =====================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pyarrow as pa

from mlward.core.errors import ConfigError
from mlward.data.drift.binned import (
    ChiSquareTest,
    HellingerTest,
    JensenShannonTest,
    PSITest,
    TVDTest,
)
from mlward.data.drift.interface import (
    DEFAULT_ALPHA,
    ColumnDrift,
    DriftReport,
    DriftTest,
    MultivariateDrift,
)
from mlward.data.drift.multivariate import (
    DEFAULT_AUC_THRESHOLD,
    DEFAULT_PERMUTATIONS,
    DEFAULT_SAMPLE_ROWS,
    RowSampleComputation,
    domain_classifier,
)
from mlward.data.drift.numeric import AndersonDarlingTest, KSTest, WassersteinTest
from mlward.data.drift.quality import (
    DEFAULT_NULL_RATE_THRESHOLD,
    category_changes,
    null_rate_drift,
)
from mlward.data.drift.summary import describe_change
from mlward.data.profile import (
    CATEGORICAL,
    DEFAULT_EXACT_LIMIT,
    NUMERIC,
    ColumnProfile,
    DatasetProfile,
    ProfileComputation,
    profile_dataset,
    run_computation,
)
from mlward.engine.base import Computation, Engine, ProgressCallback

TESTS: dict[str, DriftTest] = {
    test.name: test
    for test in (
        KSTest(),
        WassersteinTest(),
        AndersonDarlingTest(),
        PSITest(),
        JensenShannonTest(),
        HellingerTest(),
        TVDTest(),
        ChiSquareTest(),
    )
}
"""Every drift test by name."""
SMALL_DATA_ROWS = 1_000
CATEGORICAL_MAX_DISTINCT = 5
DEFAULT_SHARE_THRESHOLD = 0.5


@dataclass(frozen=True)
class ColumnRule:
    """Per-column override."""

    test: str | None = None
    """Test to use instead of the default."""
    threshold: float | None = None
    """Threshold to use instead of the test's."""
    skip: bool = False
    """Leave the column out."""


def effective_kind(reference: ColumnProfile) -> str | None:
    """How a column is tested: numeric, categorical (incl. numeric with <= 5 values), None."""
    if reference.kind == CATEGORICAL:
        return CATEGORICAL
    if reference.kind == NUMERIC:
        few = reference.counts is not None and len(reference.counts) <= CATEGORICAL_MAX_DISTINCT
        return CATEGORICAL if few else NUMERIC
    return None


def default_test(kind: str, reference_values: int) -> str:
    """Return the default test name for a column kind and reference size."""
    small = reference_values <= SMALL_DATA_ROWS
    if kind == NUMERIC:
        return "ks" if small else "wasserstein"
    return "chisquare" if small else "jensenshannon"


def _test(name: str) -> DriftTest:
    try:
        return TESTS[name]
    except KeyError:
        raise ConfigError(
            f"unknown drift test {name!r}", hint=f"choose from: {', '.join(sorted(TESTS))}"
        ) from None


class _ProfileAndSample(Computation[tuple[Any, Any], tuple[Any, Any]]):
    """Profile and row sample in one pass over the data."""

    def __init__(self, profile: ProfileComputation, sample: RowSampleComputation) -> None:
        self.parts = (profile, sample)

    def map(self, batch: pa.RecordBatch) -> tuple[Any, Any]:
        return self.parts[0].map(batch), self.parts[1].map(batch)

    def merge(self, left: tuple[Any, Any], right: tuple[Any, Any]) -> tuple[Any, Any]:
        return self.parts[0].merge(left[0], right[0]), self.parts[1].merge(left[1], right[1])

    def finalize(self, summary: tuple[Any, Any]) -> tuple[Any, Any]:
        return self.parts[0].finalize(summary[0]), self.parts[1].finalize(summary[1])

    def empty(self) -> tuple[Any, Any]:
        return self.parts[0].empty(), self.parts[1].empty()


class DriftDetector:
    """Compare current data with a reference, column by column.

    ``tests`` overrides the test per column kind (``{"numeric": "psi"}``), ``thresholds``
    the threshold per test name (``{"psi": 0.2}``), and ``per_column`` both for single
    columns (a test name, a threshold, or a ``ColumnRule``). Reference and current may be
    paths, in-memory tables or ``DatasetProfile`` objects; paths run on ``engine``.

    A distance (Wasserstein, PSI, JS, Hellinger, TVD) drifts when it reaches its threshold
    and sampling noise at the two sample sizes would reach it less often than ``alpha``;
    a column also drifts when its null share moves by ``null_rate_threshold`` or more.
    With ``multivariate`` (the default; needs raw rows on both sides) a nearest-neighbour
    domain classifier tests the joint distribution: drift when its AUC reaches
    ``multivariate_threshold`` and fewer than ``alpha`` of ``permutations`` label shuffles
    reach it.
    """

    def __init__(
        self,
        tests: Mapping[str, str] | None = None,
        thresholds: Mapping[str, float] | None = None,
        per_column: Mapping[str, ColumnRule | str | float] | None = None,
        *,
        columns: list[str] | None = None,
        share_threshold: float = DEFAULT_SHARE_THRESHOLD,
        multivariate: bool = True,
        multivariate_threshold: float = DEFAULT_AUC_THRESHOLD,
        sample_rows: int = DEFAULT_SAMPLE_ROWS,
        permutations: int = DEFAULT_PERMUTATIONS,
        engine: Engine | None = None,
        exact_limit: int = DEFAULT_EXACT_LIMIT,
        alpha: float = DEFAULT_ALPHA,
        null_rate_threshold: float = DEFAULT_NULL_RATE_THRESHOLD,
    ) -> None:
        self.tests = dict(tests or {})
        for kind, name in self.tests.items():
            if kind not in (NUMERIC, CATEGORICAL):
                raise ConfigError(f"tests: unknown column kind {kind!r} (numeric, categorical)")
            if kind not in _test(name).kinds:
                raise ConfigError(f"tests: {name!r} does not apply to {kind} columns")
        self.thresholds = dict(thresholds or {})
        for name in self.thresholds:
            _test(name)
        self.per_column = {k: _rule(v) for k, v in (per_column or {}).items()}
        self.columns = columns
        self.share_threshold = share_threshold
        self.multivariate = multivariate
        self.multivariate_threshold = multivariate_threshold
        self.sample_rows = sample_rows
        self.permutations = permutations
        self.engine = engine
        self.exact_limit = exact_limit
        self.alpha = alpha
        self.null_rate_threshold = null_rate_threshold

    def _summarize(
        self, data: Any, progress: ProgressCallback | None, *, sample: bool
    ) -> tuple[DatasetProfile, pa.Table | None]:
        if isinstance(data, DatasetProfile):
            return data, None
        profile = ProfileComputation(self.columns, exact_limit=self.exact_limit)
        if not sample:
            return profile_dataset(
                data, self.engine, columns=self.columns, exact_limit=self.exact_limit, progress=progress
            ), None
        both = _ProfileAndSample(profile, RowSampleComputation(self.sample_rows))
        result: tuple[DatasetProfile, pa.Table | None] = run_computation(
            both, data, self.engine, progress=progress
        )
        return result

    def fit(self, reference: Any, *, progress: ProgressCallback | None = None) -> DriftDetector:
        """Profile the reference (a path, a table or a ``DatasetProfile``)."""
        self.reference_profile_, self.reference_sample_ = self._summarize(
            reference, progress, sample=self.multivariate
        )
        return self

    def compare(self, current: Any, *, progress: ProgressCallback | None = None) -> DriftReport:
        """Test ``current`` against the fitted reference and return the report."""
        if not hasattr(self, "reference_profile_"):
            raise ConfigError("DriftDetector.compare called before fit")
        reference = self.reference_profile_
        # A stored reference profile has no rows to compare with: sample nothing.
        current_profile, current_sample = self._summarize(
            current, progress, sample=self.multivariate and self.reference_sample_ is not None
        )
        entries: list[ColumnDrift] = []
        skipped: list[tuple[str, str]] = []
        for name, ref in reference.columns.items():
            if self.columns is not None and name not in self.columns:
                continue
            cur = current_profile.columns.get(name)
            entry = self._column(name, ref, cur, current_profile.rows, skipped)
            if entry is not None:
                entries.append(replace(entry, summary=describe_change(entry, ref, cur)))
        multi: MultivariateDrift | None = None
        if self.multivariate:
            if self.reference_sample_ is None or current_sample is None:
                skipped.append(("(multivariate)", "needs raw rows on both sides, not profiles"))
            else:
                usable = [
                    e.column for e in entries if e.column in current_sample.column_names and not e.withheld
                ]
                multi = domain_classifier(
                    self.reference_sample_,
                    current_sample,
                    usable,
                    threshold=self.multivariate_threshold,
                    alpha=self.alpha,
                    permutations=self.permutations,
                )
        return DriftReport(
            columns=tuple(entries),
            share_threshold=self.share_threshold,
            reference_rows=reference.rows,
            current_rows=current_profile.rows,
            skipped=tuple(skipped),
            multivariate=multi,
            reference_profile=reference,
            current_profile=current_profile,
        )

    def _column(
        self,
        name: str,
        ref: ColumnProfile,
        cur: ColumnProfile | None,
        current_rows: int,
        skipped: list[tuple[str, str]],
    ) -> ColumnDrift | None:
        rule = self.per_column.get(name, ColumnRule())
        kind = effective_kind(ref)
        if rule.skip or kind is None or ref.n == 0:
            why = (
                "skipped by configuration"
                if rule.skip
                else (f"unsupported type {ref.dtype}" if kind is None else "no reference values")
            )
            skipped.append((name, why))
            return None
        test_name = rule.test or self.tests.get(kind) or default_test(kind, ref.n)
        test = _test(test_name)
        if kind not in test.kinds:
            raise ConfigError(f"column {name!r} is {kind}; test {test_name!r} does not apply")
        threshold = (
            rule.threshold
            if rule.threshold is not None
            else self.thresholds.get(test_name, test.default_threshold)
        )
        nulls = null_rate_drift(ref, cur, current_rows, threshold=self.null_rate_threshold, alpha=self.alpha)
        if cur is None or cur.n == 0 or cur.kind != ref.kind:
            # No values, or a changed type, is the strongest drift there is.
            reason = "missing" if cur is None or cur.n == 0 else "type_changed"
            return ColumnDrift(
                name,
                kind,
                reason,
                1.0,
                None,
                threshold,
                True,
                reference_rows=ref.n,
                current_rows=cur.n if cur else 0,
                null_rate=nulls,
            )
        withheld = tuple(dict.fromkeys((*ref.withheld, *cur.withheld)))
        if withheld:
            # Personal or identifying values: only their counts were kept, so the null
            # rate is the one thing to compare (``data/sensitive.py``).
            return ColumnDrift(
                name,
                kind,
                "null_rate",
                abs(nulls.current - nulls.reference),
                nulls.p_value,
                nulls.threshold,
                nulls.drifted,
                reference_rows=ref.n,
                current_rows=cur.n,
                distribution_drifted=False,
                null_rate=nulls,
                withheld=withheld,
            )
        outcome = test.compute(ref, cur, kind)
        calibration = test.calibrate(ref, cur, kind, outcome, self.alpha)
        distribution = test.drifted(outcome, threshold, calibration, self.alpha)
        new, vanished = category_changes(ref, cur) if kind == CATEGORICAL else ((), ())
        p_value = outcome.p_value if calibration is None else calibration.p_value
        return ColumnDrift(
            name,
            kind,
            test_name,
            outcome.statistic,
            p_value,
            threshold,
            distribution or nulls.drifted,
            outcome.approximate,
            outcome.error_bound,
            ref.n,
            cur.n,
            distribution_drifted=distribution,
            interval=None if calibration is None else calibration.interval,
            null_quantile=None if calibration is None else calibration.null_quantile,
            alpha=None if calibration is None else self.alpha,
            null_rate=nulls,
            new_categories=new,
            vanished_categories=vanished,
        )


def _rule(value: ColumnRule | str | float) -> ColumnRule:
    if isinstance(value, ColumnRule):
        if value.test is not None:
            _test(value.test)
        return value
    if isinstance(value, str):
        _test(value)
        return ColumnRule(test=value)
    if isinstance(value, int | float):
        return ColumnRule(threshold=float(value))
    raise ConfigError(f"per_column: expected a test name, a threshold or a ColumnRule, got {value!r}")


def output_drift(
    reference: Any,
    current: Any,
    *,
    name: str,
    test: str | None = None,
    threshold: float | None = None,
) -> ColumnDrift:
    """Drift of one model output (predictions, scores or labels) between two runs."""

    def table(values: Any) -> pa.Table:
        array = values.to_numpy() if hasattr(values, "to_numpy") else np.asarray(values)
        return pa.table({name: pa.array(np.ravel(array))})

    detector = DriftDetector(per_column={name: ColumnRule(test, threshold)})
    return detector.fit(table(reference)).compare(table(current)).column(name)


def prediction_drift(
    reference: Any, current: Any, *, test: str | None = None, threshold: float | None = None
) -> ColumnDrift:
    """Drift of a model's predictions (class labels or scores) between two periods."""
    return output_drift(reference, current, name="prediction", test=test, threshold=threshold)


def label_drift(
    reference: Any, current: Any, *, test: str | None = None, threshold: float | None = None
) -> ColumnDrift:
    """Drift of the ground-truth labels (target drift) between two periods."""
    return output_drift(reference, current, name="label", test=test, threshold=threshold)
