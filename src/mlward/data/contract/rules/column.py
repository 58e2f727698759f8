"""Rules on the values of one column: presence, type, nulls, ranges, sets, patterns, lengths.

Value rules (range, allowed, regex, length) check the non-null values that conform to
the declared type; nulls are the ``not_null`` rule's business and non-conforming cells
the ``type`` rule's, so one bad cell is counted once, by the rule that explains it.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable
from typing import Any

import polars as pl

from mlward.data.contract.rules.interface import (
    ERROR,
    FAIL,
    PASS,
    SKIPPED,
    BatchContext,
    Rule,
    RuleResult,
    RuleState,
)
from mlward.data.contract.values import as_python

MAX_UNEXPECTED = 20
"""Distinct unexpected values tallied by the ``allowed`` rule."""


class ColumnRule(Rule):
    """A rule on one column; batches without the column are left to the presence rule."""

    def __init__(
        self, column: str, kind: str, expected: dict[str, Any], *, optional: bool = False, **options: Any
    ) -> None:
        super().__init__(f"{column}.{kind}", (column,), expected, **options)
        self.kind = kind
        self.column = column
        self.optional = optional
        """The column may be absent (``required: false``): then the rule is skipped."""

    def map(self, ctx: BatchContext) -> RuleState:
        """Check the batch's column, or note that the batch lacks it."""
        if not ctx.has(self.column):
            return RuleState(extra={"absent": 1})
        return self.check(ctx)

    def check(self, ctx: BatchContext) -> RuleState:
        """Check a batch that has the column."""
        raise NotImplementedError

    def merge_extra(self, left: dict[str, Any], right: dict[str, Any]) -> None:
        """Count batches that lacked the column."""
        if right.get("absent"):
            left["absent"] = left.get("absent", 0) + right["absent"]

    def finalize(self, state: RuleState, rows: int) -> RuleResult:
        """Error out when the column was missing (the presence rule says why)."""
        if state.extra.get("absent") and state.error is None:
            if self.optional and state.checked == 0:
                return self.result(SKIPPED, f"optional column {self.column!r} is absent", state)
            if not self.optional:
                return self.result(ERROR, f"column {self.column!r} is missing from the data", state)
        return super().finalize(state, rows)


class PresenceRule(ColumnRule):
    """The column exists in every batch (or, when ``dropped``, in none)."""

    def __init__(self, column: str, *, dropped: bool = False, **options: Any) -> None:
        kind = "dropped" if dropped else "present"
        super().__init__(column, kind, {kind: True}, **options)
        self.dropped = dropped

    def map(self, ctx: BatchContext) -> RuleState:
        """One check per batch; it fails when the column is (or, if dropped, is not) there."""
        present = ctx.has(self.column)
        return RuleState(checked=1, failing=int(present == self.dropped))

    def finalize(self, state: RuleState, rows: int) -> RuleResult:
        """Pass or fail on batch counts."""
        if state.failing and self.optional and not self.dropped:
            return self.result(SKIPPED, f"optional column {self.column!r} is absent", state)
        if state.failing == 0:
            return self.result(PASS, "column absent as expected" if self.dropped else "column present", state)
        if self.dropped:
            message = f"column {self.column!r} should have been dropped but is present"
        else:
            message = f"column {self.column!r} is missing from the data"
        return self.result(FAIL, message, state)

    def observe(self, state: RuleState) -> dict[str, Any]:
        """Batches with the wrong presence."""
        return {"batches": state.checked, "batches_wrong": state.failing}


class TypeRule(ColumnRule):
    """Every non-null value conforms to the declared type."""

    def __init__(self, column: str, type_name: str, **options: Any) -> None:
        super().__init__(column, "type", {"type": type_name}, **options)

    def check(self, ctx: BatchContext) -> RuleState:
        """Count non-conforming non-null cells; record the storage type seen."""
        coerced = ctx.coerced(self.column)
        series = ctx.frame.get_column(self.column)
        checked = series.len() - series.null_count()
        failing = int(coerced.invalid.sum())
        examples = ctx.examples(coerced.invalid, self.column) if failing else []
        return RuleState(checked, failing, examples, extra={"dtypes": {coerced.dtype}})

    def merge_extra(self, left: dict[str, Any], right: dict[str, Any]) -> None:
        """Union of storage types seen."""
        super().merge_extra(left, right)
        left["dtypes"] = left.get("dtypes", set()) | right.get("dtypes", set())

    def observe(self, state: RuleState) -> dict[str, Any]:
        """Storage types seen across batches."""
        return {"dtypes": sorted(state.extra.get("dtypes", set()))}

    def describe(self) -> str:
        """``age is int``."""
        return f"{self.column} is {self.expected['type']}"


class NotNullRule(ColumnRule):
    """No nulls (nor NaN, nor the contract's ``missing_values``)."""

    def __init__(self, column: str, missing_values: list[Any], **options: Any) -> None:
        expected: dict[str, Any] = {"nullable": False}
        if missing_values:
            expected["missing_values"] = missing_values
        super().__init__(column, "not_null", expected, **options)
        self.missing_values = missing_values

    def check(self, ctx: BatchContext) -> RuleState:
        """Count missing cells among all rows."""
        series = ctx.frame.get_column(self.column)
        missing = series.is_null()
        if series.dtype.is_float():
            missing = missing | series.is_nan().fill_null(False)
        if self.missing_values:
            listed = [v for v in self.missing_values if v is not None]
            if listed:
                texts = series.cast(pl.String, strict=False).str.strip_chars()
                missing = missing | texts.is_in([str(v) for v in listed]).fill_null(False)
        failing = int(missing.sum())
        return RuleState(ctx.rows, failing, ctx.examples(missing, self.column) if failing else [])

    def describe(self) -> str:
        """``age is not null``."""
        return f"{self.column} is not null" + (
            f" nor one of {self.missing_values}" if self.missing_values else ""
        )


_COMPARE: dict[str, tuple[Callable[[Any, Any], Any], str]] = {
    "min": (operator.lt, "below"),
    "exclusive_min": (operator.le, "at or below"),
    "max": (operator.gt, "above"),
    "exclusive_max": (operator.ge, "at or above"),
}


class BoundRule(ColumnRule):
    """Values respect one bound (``min``, ``max``, ``exclusive_min``, ``exclusive_max``)."""

    def __init__(self, column: str, kind: str, bound: Any, **options: Any) -> None:
        super().__init__(column, kind, {kind: as_python(bound)}, **options)
        self.bound = bound

    def check(self, ctx: BatchContext) -> RuleState:
        """Count values beyond the bound; track the smallest and largest values seen."""
        values = ctx.coerced(self.column).values
        present = values.drop_nulls()
        if present.len() == 0:
            return RuleState()
        bound = self.bound
        if values.dtype == pl.Date and isinstance(bound, dt.datetime):
            values = values.cast(pl.Datetime("us"))
        elif values.dtype != pl.Date and isinstance(bound, dt.date) and not isinstance(bound, dt.datetime):
            bound = dt.datetime(bound.year, bound.month, bound.day)
        compare, _ = _COMPARE[self.kind]
        breaking = compare(values, bound).fill_null(False)
        failing = int(breaking.sum())
        extra = {"min": present.min(), "max": present.max()}
        return RuleState(
            present.len(), failing, ctx.examples(breaking, self.column) if failing else [], extra=extra
        )

    def merge_extra(self, left: dict[str, Any], right: dict[str, Any]) -> None:
        """Smallest and largest values seen."""
        super().merge_extra(left, right)
        merge_extremes(left, right)

    def observe(self, state: RuleState) -> dict[str, Any]:
        """The extremes seen, masked where sensitive."""
        return {key: self.show(self.column, as_python(state.extra.get(key))) for key in ("min", "max")}

    def describe(self) -> str:
        """``age >= 18`` style."""
        symbol = {"min": ">=", "exclusive_min": ">", "max": "<=", "exclusive_max": "<"}[self.kind]
        return f"{self.column} {symbol} {as_python(self.bound)}"


class AllowedRule(ColumnRule):
    """Values belong to a fixed set."""

    def __init__(self, column: str, allowed: list[Any], type_name: str | None, **options: Any) -> None:
        super().__init__(column, "allowed", {"allowed": allowed}, **options)
        self.allowed = allowed
        self.type_name = type_name

    def check(self, ctx: BatchContext) -> RuleState:
        """Count values outside the set; tally the unexpected ones."""
        values = ctx.coerced(self.column).values
        present = values.is_not_null()
        if values.dtype == pl.Null:
            return RuleState()
        if values.dtype == pl.String:
            allowed = pl.Series([str(v) for v in self.allowed], dtype=pl.String)
        else:
            allowed = pl.Series(self.allowed, strict=False).cast(values.dtype, strict=False)
        breaking = present & ~values.is_in(allowed.drop_nulls().implode()).fill_null(False)
        failing = int(breaking.sum())
        unexpected: dict[str, int] = {}
        if failing:
            counts = values.filter(breaking).value_counts(sort=True).head(MAX_UNEXPECTED)
            for value, count in counts.iter_rows():
                shown = ctx.masker.show(self.column, value)
                unexpected[str(shown)] = unexpected.get(str(shown), 0) + int(count)
        examples = ctx.examples(breaking, self.column) if failing else []
        return RuleState(int(present.sum()), failing, examples, extra={"unexpected": unexpected})

    def merge_extra(self, left: dict[str, Any], right: dict[str, Any]) -> None:
        """Add the unexpected-value tallies, keeping the most frequent."""
        super().merge_extra(left, right)
        merged = dict(left.get("unexpected", {}))
        for value, count in right.get("unexpected", {}).items():
            merged[value] = merged.get(value, 0) + count
        top = sorted(merged.items(), key=lambda item: (-item[1], item[0]))[:MAX_UNEXPECTED]
        left["unexpected"] = dict(top)

    def observe(self, state: RuleState) -> dict[str, Any]:
        """The most frequent unexpected values (masked where sensitive)."""
        return {"unexpected": state.extra.get("unexpected", {})}

    def describe(self) -> str:
        """``purpose in [...]``."""
        shown = self.allowed if len(self.allowed) <= 8 else [*self.allowed[:8], "..."]
        return f"{self.column} in {shown}"


class RegexRule(ColumnRule):
    """Values, as text, match a regular expression in full (Rust regex: linear time)."""

    def __init__(self, column: str, pattern: str, **options: Any) -> None:
        super().__init__(column, "regex", {"regex": pattern}, **options)
        self.pattern = pattern

    def check(self, ctx: BatchContext) -> RuleState:
        """Count non-matching values."""
        values = ctx.coerced(self.column).values
        if values.dtype == pl.Null:
            return RuleState()
        texts = values.cast(pl.String, strict=False)
        present = texts.is_not_null()
        breaking = present & ~texts.str.contains(f"^(?:{self.pattern})$").fill_null(False)
        failing = int(breaking.sum())
        return RuleState(int(present.sum()), failing, ctx.examples(breaking, self.column) if failing else [])

    def describe(self) -> str:
        """``code matches ^...$``."""
        return f"{self.column} matches {self.pattern!r}"


class LengthRule(ColumnRule):
    """String length (in characters) within a bound."""

    def __init__(self, column: str, kind: str, length: int, **options: Any) -> None:
        super().__init__(column, kind, {kind: length}, **options)
        self.length = length

    def check(self, ctx: BatchContext) -> RuleState:
        """Count values too short or too long; track the lengths seen."""
        values = ctx.coerced(self.column).values
        if values.dtype == pl.Null:
            return RuleState()
        lengths = values.cast(pl.String, strict=False).str.len_chars()
        present = lengths.drop_nulls()
        if present.len() == 0:
            return RuleState()
        compare = operator.lt if self.kind == "min_length" else operator.gt
        breaking = compare(lengths, self.length).fill_null(False)
        failing = int(breaking.sum())
        extra = {"min": present.min(), "max": present.max()}
        return RuleState(
            present.len(), failing, ctx.examples(breaking, self.column) if failing else [], extra=extra
        )

    def merge_extra(self, left: dict[str, Any], right: dict[str, Any]) -> None:
        """Shortest and longest lengths seen."""
        super().merge_extra(left, right)
        merge_extremes(left, right)

    def observe(self, state: RuleState) -> dict[str, Any]:
        """Shortest and longest lengths seen."""
        return {"min_length": state.extra.get("min"), "max_length": state.extra.get("max")}

    def describe(self) -> str:
        """``name length >= 2``."""
        return f"length of {self.column} {'>=' if self.kind == 'min_length' else '<='} {self.length}"


def merge_extremes(left: dict[str, Any], right: dict[str, Any]) -> None:
    """Fold ``right``'s ``min`` / ``max`` into ``left`` (None means not seen)."""
    for key, pick in (("min", min), ("max", max)):
        if right.get(key) is not None:
            left[key] = right[key] if left.get(key) is None else pick(left[key], right[key])
