"""k-anonymity and l-diversity of quasi-identifiers.

Rows that share the same values of the quasi-identifiers (zip, birth year, gender...)
form an equivalence class. The table is k-anonymous for the smallest class size k: a
person known to be in the table hides among at least k-1 others. l-diversity adds the
sensitive attribute: each class should hold at least l distinct sensitive values
(distinct l-diversity), and the entropy of their distribution (entropy l-diversity,
reported as exp(entropy)) says how evenly they are spread.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import polars as pl

from mlward.core.errors import InputError
from mlward.data.io import to_arrow


@dataclass(frozen=True)
class KAnonymityReport:
    """Re-identification risk of a table's quasi-identifiers."""

    quasi_identifiers: tuple[str, ...]
    """The columns combined."""
    rows: int
    """Rows considered (rows with nulls in the quasi-identifiers count as their own value)."""
    k: int
    """Smallest equivalence class size (0 for an empty table)."""
    classes: int
    """Number of equivalence classes."""
    k_target: int
    """The k the risk figures below refer to."""
    classes_below_target: int
    """Classes smaller than ``k_target``."""
    rows_at_risk: int
    """Rows in classes smaller than ``k_target``."""
    unique_rows: int
    """Rows alone in their class (re-identifiable from the quasi-identifiers alone)."""
    sensitive: str | None = None
    """The sensitive attribute, if l-diversity was measured."""
    l_distinct: int | None = None
    """Smallest number of distinct sensitive values in a class."""
    l_entropy: float | None = None
    """Smallest exp(entropy) of the sensitive values in a class."""
    size_histogram: tuple[tuple[int, int], ...] = ()
    """(class size, number of classes) for the smallest sizes, ascending (at most 20)."""

    @property
    def satisfied(self) -> bool:
        """Whether every class has at least ``k_target`` rows."""
        return self.rows == 0 or self.k >= self.k_target

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "quasi_identifiers": list(self.quasi_identifiers),
            "rows": self.rows,
            "k": self.k,
            "classes": self.classes,
            "k_target": self.k_target,
            "satisfied": self.satisfied,
            "classes_below_target": self.classes_below_target,
            "rows_at_risk": self.rows_at_risk,
            "unique_rows": self.unique_rows,
            "sensitive": self.sensitive,
            "l_distinct": self.l_distinct,
            "l_entropy": self.l_entropy,
            "size_histogram": [list(pair) for pair in self.size_histogram],
        }


def k_anonymity(
    table: Any,
    quasi_identifiers: list[str] | tuple[str, ...],
    sensitive: str | None = None,
    *,
    k_target: int = 5,
) -> KAnonymityReport:
    """Measure k-anonymity (and l-diversity of ``sensitive``) over ``quasi_identifiers``."""
    frame = pl.from_arrow(to_arrow(table))
    assert isinstance(frame, pl.DataFrame)
    qids = tuple(quasi_identifiers)
    missing = [c for c in (*qids, *([sensitive] if sensitive else [])) if c not in frame.columns]
    if not qids or missing:
        raise InputError(f"unknown or no quasi-identifier columns: {', '.join(missing) or '(none)'}")
    if frame.height == 0:
        return KAnonymityReport(qids, 0, 0, 0, k_target, 0, 0, 0, sensitive)
    aggregations = [pl.len().alias("size")]
    if sensitive:
        aggregations.append(pl.col(sensitive).n_unique().alias("distinct"))
    classes = frame.group_by(list(qids)).agg(aggregations)
    sizes = classes["size"]
    small = classes.filter(pl.col("size") < k_target)
    histogram = classes.group_by("size").agg(pl.len().alias("count")).sort("size").head(20).rows()
    l_distinct = l_entropy = None
    if sensitive:
        l_distinct = int(classes["distinct"].min())  # type: ignore[arg-type]
        counts = frame.group_by([*qids, sensitive]).agg(pl.len().alias("n"))
        entropy = (
            counts.with_columns((pl.col("n") / pl.col("n").sum().over(list(qids))).alias("p"))
            .group_by(list(qids))
            .agg((-(pl.col("p") * pl.col("p").log())).sum().alias("h"))
        )
        l_entropy = round(math.exp(float(entropy["h"].min())), 4)  # type: ignore[arg-type]
    return KAnonymityReport(
        quasi_identifiers=qids,
        rows=frame.height,
        k=int(sizes.min()),  # type: ignore[arg-type]
        classes=classes.height,
        k_target=k_target,
        classes_below_target=small.height,
        rows_at_risk=int(small["size"].sum()),
        unique_rows=int((sizes == 1).sum()),
        sensitive=sensitive,
        l_distinct=l_distinct,
        l_entropy=l_entropy,
        size_histogram=tuple((int(s), int(c)) for s, c in histogram),
    )
