"""Rules on the table as a whole: row count, freshness, unexpected columns."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from mlward.data.contract.rules.column import merge_extremes
from mlward.data.contract.rules.interface import FAIL, PASS, BatchContext, Rule, RuleResult, RuleState
from mlward.data.contract.values import as_python, coerce, format_duration


class RowCountRule(Rule):
    """The dataset has between ``min`` and ``max`` rows."""

    kind = "row_count"

    def __init__(self, minimum: int | None, maximum: int | None, **options: Any) -> None:
        expected = {k: v for k, v in (("min", minimum), ("max", maximum)) if v is not None}
        super().__init__("row_count", (), expected, **options)
        self.minimum = minimum
        self.maximum = maximum

    def map(self, ctx: BatchContext) -> RuleState:
        """Rows are counted by the check itself."""
        return RuleState()

    def finalize(self, state: RuleState, rows: int) -> RuleResult:
        """Compare the total row count with the bounds."""
        state.checked = 1
        low = self.minimum is not None and rows < self.minimum
        high = self.maximum is not None and rows > self.maximum
        state.failing = int(low or high)
        state.extra["rows"] = rows
        if low:
            return self.result(FAIL, f"{rows} rows, fewer than the minimum {self.minimum}", state)
        if high:
            return self.result(FAIL, f"{rows} rows, more than the maximum {self.maximum}", state)
        return self.result(PASS, f"{rows} rows", state)

    def observe(self, state: RuleState) -> dict[str, Any]:
        """The row count."""
        return {"rows": state.extra.get("rows")}


class FreshnessRule(Rule):
    """The newest value of a date or timestamp column is at most ``max_age`` old."""

    kind = "freshness"

    def __init__(self, column: str, max_age: dt.timedelta, now: dt.datetime, **options: Any) -> None:
        expected = {"column": column, "max_age": format_duration(max_age), "now": now.isoformat()}
        super().__init__("freshness", (column,), expected, **options)
        self.column = column
        self.max_age = max_age
        self.now = now

    def map(self, ctx: BatchContext) -> RuleState:
        """Track the newest timestamp."""
        if not ctx.has(self.column):
            return RuleState(error=f"column {self.column!r} is missing from the data")
        values = ctx.coerced(self.column).values
        if values.dtype == pl.String:  # an undeclared text column: read it as ISO timestamps
            values = coerce(values, "datetime").values
        if values.dtype == pl.Date:
            values = values.cast(pl.Datetime("us"))
        if not isinstance(values.dtype, pl.Datetime):
            return RuleState(error=f"column {self.column!r} does not hold dates or timestamps")
        latest = values.max()
        return RuleState(checked=values.len() - values.null_count(), extra={"max": latest})

    def merge_extra(self, left: dict[str, Any], right: dict[str, Any]) -> None:
        """Newest value seen."""
        merge_extremes(left, right)

    def finalize(self, state: RuleState, rows: int) -> RuleResult:
        """Compare the newest value's age with ``max_age``."""
        if state.error is not None:
            return super().finalize(state, rows)
        latest = state.extra.get("max")
        if latest is None:
            state.failing = 1
            return self.result(FAIL, f"no timestamps in {self.column!r} to judge freshness", state)
        age = self.now - latest
        state.extra["age"] = age
        if age > self.max_age:
            state.failing = 1
            limit = format_duration(self.max_age)
            message = f"newest {self.column} is {format_duration(age)} old, more than {limit}"
            return self.result(FAIL, message, state)
        return self.result(PASS, f"newest {self.column} is {format_duration(age)} old", state)

    def observe(self, state: RuleState) -> dict[str, Any]:
        """The newest value and its age."""
        age = state.extra.get("age")
        return {
            "latest": self.show(self.column, as_python(state.extra.get("max"))),
            "age": None if age is None else format_duration(age),
            "age_seconds": None if age is None else age.total_seconds(),
        }


class ExtraColumnsRule(Rule):
    """The data has no columns the contract does not declare (``extra_columns: forbid``)."""

    kind = "extra_columns"

    def __init__(self, declared: tuple[str, ...], **options: Any) -> None:
        super().__init__("schema.extra_columns", (), {"extra_columns": "forbid"}, **options)
        self.declared = frozenset(declared)

    def map(self, ctx: BatchContext) -> RuleState:
        """Collect undeclared column names."""
        extra = sorted(set(ctx.frame.columns) - self.declared)
        return RuleState(checked=1, failing=int(bool(extra)), extra={"columns": extra})

    def merge_extra(self, left: dict[str, Any], right: dict[str, Any]) -> None:
        """Union of undeclared names."""
        left["columns"] = sorted(set(left.get("columns", [])) | set(right.get("columns", [])))

    def finalize(self, state: RuleState, rows: int) -> RuleResult:
        """Fail when any undeclared column appeared."""
        extra = state.extra.get("columns", [])
        if extra:
            return self.result(FAIL, f"columns not in the contract: {', '.join(extra)}", state)
        return self.result(PASS, "no undeclared columns", state)

    def observe(self, state: RuleState) -> dict[str, Any]:
        """Undeclared column names."""
        return {"columns": state.extra.get("columns", [])}
