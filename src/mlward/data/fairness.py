"""Fairness checks on data (representation, label rates) and on model outputs.

``data_fairness`` runs on the engine (mergeable group counts), so it scales to the same
partitioned data as profiles and drift. ``model_fairness`` computes group metrics with
Fairlearn (``MetricFrame``, ``demographic_parity_difference`` / ``_ratio``,
``equalized_odds_difference``). Both return a ``FairnessReport`` whose named metrics
(``disparate_impact``, ``demographic_parity_difference``, ``equalized_odds_difference``)
are the worst case over the sensitive attributes, and ``FairnessThresholds`` turns them
into a gate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mlward.core.errors import ConfigError, InputError
from mlward.data.io import to_arrow
from mlward.data.profile import run_computation
from mlward.data.sensitive import placeholder_labels, withheld_labels
from mlward.engine.base import Computation, Engine, ProgressCallback

MISSING_GROUP = "(missing)"


@dataclass(frozen=True)
class GroupStats:
    """Counts and rates for one group of one sensitive attribute."""

    group: str
    """Group value (missing values form the group ``(missing)``)."""
    count: int
    """Rows in the group."""
    share: float
    """count / all rows (representation)."""
    positive_rate: float | None
    """Share of positive labels (data) or of positive predictions (model)."""
    true_positive_rate: float | None = None
    """Recall within the group (model only)."""
    false_positive_rate: float | None = None
    """False positive rate within the group (model only)."""


@dataclass(frozen=True)
class AttributeFairness:
    """Fairness metrics for one sensitive attribute."""

    attribute: str
    """Sensitive column name."""
    groups: tuple[GroupStats, ...]
    """One entry per group, largest first."""
    demographic_parity_difference: float
    """Largest minus smallest positive rate across groups (0 is parity)."""
    disparate_impact: float
    """Smallest over largest positive rate (1 is parity; the four-fifths rule wants >= 0.8)."""
    equalized_odds_difference: float | None = None
    """max(TPR difference, FPR difference) across groups (model only)."""
    withheld: tuple[str, ...] = ()
    """Why the group labels were replaced by placeholders (PII entity types, ``IDENTIFIER``)."""

    @property
    def min_group_share(self) -> float:
        """Share of the smallest group."""
        return min((g.share for g in self.groups), default=0.0)


@dataclass(frozen=True)
class FairnessThresholds:
    """Gate limits; None disables a check."""

    min_disparate_impact: float | None = 0.8
    """Fail when disparate impact is below this."""
    max_demographic_parity_difference: float | None = 0.1
    """Fail when the demographic parity difference is above this."""
    max_equalized_odds_difference: float | None = 0.1
    """Fail when the equalized odds difference is above this (model checks only)."""
    min_group_share: float | None = None
    """Fail when a group holds less than this share of rows (representation)."""


@dataclass(frozen=True)
class FairnessReport:
    """Fairness of data or of a model, over one or more sensitive attributes."""

    subject: str
    """``data`` or ``model``."""
    attributes: tuple[AttributeFairness, ...]
    """Per-attribute results."""
    rows: int
    """Rows considered."""

    @property
    def demographic_parity_difference(self) -> float:
        """Worst (largest) demographic parity difference over the attributes."""
        return max((a.demographic_parity_difference for a in self.attributes), default=0.0)

    @property
    def disparate_impact(self) -> float:
        """Worst (smallest) disparate impact ratio over the attributes."""
        return min((a.disparate_impact for a in self.attributes), default=1.0)

    @property
    def equalized_odds_difference(self) -> float | None:
        """Worst equalized odds difference (None for data checks)."""
        values = [a.equalized_odds_difference for a in self.attributes]
        present = [v for v in values if v is not None]
        return max(present) if present else None

    def attribute(self, name: str) -> AttributeFairness:
        """Return the result for one sensitive attribute."""
        for entry in self.attributes:
            if entry.attribute == name:
                return entry
        raise KeyError(name)

    def violations(self, thresholds: FairnessThresholds | None = None) -> list[str]:
        """Return one message per failed limit (empty when the gate passes)."""
        limits = thresholds or FairnessThresholds()
        failed: list[str] = []
        for a in self.attributes:
            if limits.min_disparate_impact is not None and a.disparate_impact < limits.min_disparate_impact:
                failed.append(
                    f"{a.attribute}: disparate impact {a.disparate_impact:.3f} "
                    f"< {limits.min_disparate_impact}"
                )
            dpd = limits.max_demographic_parity_difference
            if dpd is not None and a.demographic_parity_difference > dpd:
                failed.append(
                    f"{a.attribute}: demographic parity difference "
                    f"{a.demographic_parity_difference:.3f} > {dpd}"
                )
            eod = limits.max_equalized_odds_difference
            if (
                eod is not None
                and a.equalized_odds_difference is not None
                and a.equalized_odds_difference > eod
            ):
                failed.append(
                    f"{a.attribute}: equalized odds difference {a.equalized_odds_difference:.3f} > {eod}"
                )
            if limits.min_group_share is not None and a.min_group_share < limits.min_group_share:
                failed.append(
                    f"{a.attribute}: smallest group share {a.min_group_share:.3f} < {limits.min_group_share}"
                )
        return failed

    def passed(self, thresholds: FairnessThresholds | None = None) -> bool:
        """True when no limit is violated."""
        return not self.violations(thresholds)

    def to_dict(self, thresholds: FairnessThresholds | None = None) -> dict[str, Any]:
        """Return a JSON-ready dict, with the gate verdict for ``thresholds``."""
        violations = self.violations(thresholds)
        return {
            "schema_version": 1,
            "kind": "mlward.fairness",
            "subject": self.subject,
            "rows": self.rows,
            "demographic_parity_difference": self.demographic_parity_difference,
            "disparate_impact": self.disparate_impact,
            "equalized_odds_difference": self.equalized_odds_difference,
            "attributes": [
                {
                    "attribute": a.attribute,
                    "demographic_parity_difference": a.demographic_parity_difference,
                    "disparate_impact": a.disparate_impact,
                    "equalized_odds_difference": a.equalized_odds_difference,
                    "groups": [g.__dict__ for g in a.groups],
                    "withheld": list(a.withheld),
                }
                for a in self.attributes
            ],
            "violations": violations,
            "passed": not violations,
        }


def _parity(rates: Sequence[float | None]) -> tuple[float, float]:
    present = [r for r in rates if r is not None]
    if not present:
        return 0.0, 1.0
    low, high = min(present), max(present)
    return high - low, (low / high) if high > 0 else 1.0


# ---- data fairness on the engine --------------------------------------------------------
GroupCounts = dict[tuple[str, str], list[int]]
"""(attribute, group) -> [rows, labelled rows, positive labels]."""


def _positive(labels: pa.Array, positive_label: Any) -> pa.Array:
    if positive_label is not None:
        if pa.types.is_string(labels.type) or pa.types.is_large_string(labels.type):
            return pc.equal(labels, str(positive_label))
        return pc.equal(labels, pa.scalar(positive_label).cast(labels.type))
    if pa.types.is_boolean(labels.type):
        return labels
    if pa.types.is_integer(labels.type) or pa.types.is_floating(labels.type):
        return pc.equal(labels, 1)
    raise ConfigError("the label column is not boolean or 0/1; give positive_label")


class GroupRateComputation(Computation[GroupCounts, GroupCounts]):
    """Count rows and positive labels per group of each sensitive attribute."""

    def __init__(self, sensitive: Sequence[str], label: str | None, positive_label: Any) -> None:
        self.sensitive = list(sensitive)
        self.label = label
        self.positive_label = positive_label

    def map(self, batch: pa.RecordBatch) -> GroupCounts:
        """Group counts of one batch."""
        names = batch.schema.names
        for column in [*self.sensitive, *([self.label] if self.label else [])]:
            if column not in names:
                raise InputError(f"column {column!r} not found in the data")
        columns: dict[str, Any] = {}
        if self.label:
            labels = batch.column(names.index(self.label))
            positive = _positive(labels, self.positive_label)
            columns["labelled"] = pc.cast(pc.is_valid(labels), pa.int64())
            columns["positive"] = pc.cast(pc.fill_null(positive, False), pa.int64())
        out: GroupCounts = {}
        for attribute in self.sensitive:
            groups = pc.fill_null(batch.column(names.index(attribute)).cast(pa.string()), MISSING_GROUP)
            table = pa.table({"g": groups, **columns})
            aggs = [("g", "count")] + [(c, "sum") for c in columns]
            grouped = table.group_by("g").aggregate(aggs).to_pylist()
            for row in grouped:
                out[(attribute, row["g"])] = [
                    int(row["g_count"]),
                    int(row.get("labelled_sum") or 0),
                    int(row.get("positive_sum") or 0),
                ]
        return out

    def merge(self, left: GroupCounts, right: GroupCounts) -> GroupCounts:
        """Add counts."""
        for key, values in right.items():
            mine = left.setdefault(key, [0, 0, 0])
            for i, v in enumerate(values):
                mine[i] += v
        return left

    def finalize(self, summary: GroupCounts) -> GroupCounts:
        """Return the counts."""
        return summary

    def empty(self) -> GroupCounts:
        """No rows."""
        return {}


def data_fairness(
    data: Any,
    sensitive: Sequence[str],
    label: str | None = None,
    *,
    positive_label: Any = None,
    engine: Engine | None = None,
    progress: ProgressCallback | None = None,
) -> FairnessReport:
    """Representation and label rate per group for each sensitive column of ``data``."""
    if not sensitive:
        raise ConfigError("name at least one sensitive column")
    counts: GroupCounts = run_computation(
        GroupRateComputation(sensitive, label, positive_label), data, engine, progress=progress
    )
    attributes = []
    rows = 0
    for attribute in sensitive:
        entries = sorted(
            ((g, v) for (a, g), v in counts.items() if a == attribute),
            key=lambda item: (-item[1][0], item[0]),
        )
        rows = sum(v[0] for _, v in entries)
        groups = tuple(
            GroupStats(g, v[0], v[0] / rows if rows else 0.0, (v[2] / v[1]) if label and v[1] else None)
            for g, v in entries
        )
        groups, withheld = _withhold_groups(attribute, groups, rows)
        dpd, ratio = _parity([g.positive_rate for g in groups])
        attributes.append(AttributeFairness(attribute, groups, dpd, ratio, withheld=withheld))
    return FairnessReport("data", tuple(attributes), rows)


def _withhold_groups(
    attribute: str, groups: tuple[GroupStats, ...], rows: int
) -> tuple[tuple[GroupStats, ...], tuple[str, ...]]:
    """Replace group labels that are personal or identifying by numbered placeholders."""
    named = [g.group for g in groups if g.group != MISSING_GROUP]
    withheld = withheld_labels(attribute, named, rows) if named else ()
    if not withheld:
        return groups, ()
    labels = iter(placeholder_labels(len(named)))
    return tuple(g if g.group == MISSING_GROUP else replace(g, group=next(labels)) for g in groups), withheld


# ---- model fairness with Fairlearn -------------------------------------------------------
def _binary(values: Any, positive_label: Any) -> np.ndarray:
    array = np.ravel(values.to_numpy() if hasattr(values, "to_numpy") else np.asarray(values))
    return np.asarray(array == positive_label, dtype=int)


def _sensitive_columns(sensitive: Any, rows: int) -> dict[str, np.ndarray]:
    if isinstance(sensitive, Mapping):
        columns = {str(k): v for k, v in sensitive.items()}
    elif hasattr(sensitive, "columns") or isinstance(sensitive, pa.Table):
        table = to_arrow(sensitive)
        columns = {n: table.column(n).to_pylist() for n in table.column_names}
    else:
        columns = {"sensitive": sensitive}
    out = {}
    for name, values in columns.items():
        array = values.to_numpy() if hasattr(values, "to_numpy") else np.asarray(values, dtype=object)
        text = np.array([MISSING_GROUP if v is None else str(v) for v in np.ravel(array)], dtype=object)
        if text.size != rows:
            raise InputError(f"sensitive column {name!r} has {text.size} values for {rows} predictions")
        out[name] = text
    return out


def model_fairness(y_true: Any, y_pred: Any, sensitive: Any, *, positive_label: Any = 1) -> FairnessReport:
    """Group fairness of binary predictions (Fairlearn metrics).

    ``sensitive`` is one array, a mapping of name to array, or a DataFrame / Arrow table of
    sensitive columns; each column is assessed separately.
    """
    from fairlearn.metrics import (
        MetricFrame,
        demographic_parity_difference,
        demographic_parity_ratio,
        equalized_odds_difference,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )

    truth = _binary(y_true, positive_label)
    predicted = _binary(y_pred, positive_label)
    if truth.size != predicted.size:
        raise InputError(f"{truth.size} labels but {predicted.size} predictions")
    attributes = []
    for name, groups in _sensitive_columns(sensitive, truth.size).items():
        frame = MetricFrame(
            metrics={"selection_rate": selection_rate, "tpr": true_positive_rate, "fpr": false_positive_rate},
            y_true=truth,
            y_pred=predicted,
            sensitive_features=groups,
        )
        by_group = frame.by_group
        sizes = {str(g): int(np.sum(groups == g)) for g in by_group.index}
        stats = tuple(
            sorted(
                (
                    GroupStats(
                        str(g),
                        sizes[str(g)],
                        sizes[str(g)] / truth.size,
                        float(by_group.loc[g, "selection_rate"]),
                        float(by_group.loc[g, "tpr"]),
                        float(by_group.loc[g, "fpr"]),
                    )
                    for g in by_group.index
                ),
                key=lambda s: (-s.count, s.group),
            )
        )
        kwargs = {"sensitive_features": groups}
        stats, withheld = _withhold_groups(name, stats, int(truth.size))
        attributes.append(
            AttributeFairness(
                name,
                stats,
                float(demographic_parity_difference(truth, predicted, **kwargs)),
                float(demographic_parity_ratio(truth, predicted, **kwargs)),
                float(equalized_odds_difference(truth, predicted, **kwargs)),
                withheld=withheld,
            )
        )
    return FairnessReport("model", tuple(attributes), int(truth.size))
