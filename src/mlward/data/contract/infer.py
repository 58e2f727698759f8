"""Propose a contract from data: ``infer_contract``.

One map / merge / finalize pass (``InferComputation``) gathers per-column facts --
storage type, nulls, extremes, a capped set of distinct values, value shapes
(``APP-0000001`` -> ``[A-Z]{3}-[0-9]{7}``), matches of common formats, and exact
uniqueness for id-like columns (the same hashed-key state as the ``unique`` rule).
``finalize`` turns the facts into rules that the data passes: observed ranges widened
by ``margin``, allowed values for low-cardinality columns, a regex when every value
has one shape or one known format, ``unique`` and the primary key for id-like columns.

A PII scan (``mlward.data.pii.scan``) runs too: columns it classifies get ``pii`` and
``sensitivity`` and never get allowed values or ranges, so the proposed contract does
not copy personal data into a YAML file.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import polars as pl
import pyarrow as pa

from mlward.data.contract.display import Masker
from mlward.data.contract.rules.column import merge_extremes
from mlward.data.contract.rules.interface import BatchContext, RuleState
from mlward.data.contract.rules.unique import UniqueRule
from mlward.data.contract.schema import DEFAULT_UNIQUE_CAP, Contract
from mlward.data.contract.values import coerce
from mlward.data.io import open_dataset, to_arrow
from mlward.data.profile import run_in_memory
from mlward.engine.base import Computation, Engine
from mlward.engine.local import LocalEngine

MAX_SHAPES = 3
PROBE = 1000
"""Values looked at first when deciding whether a whole-column fact can hold."""
FORMATS = {
    "email": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
    "uuid": r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
}
_ID_NAME = re.compile(r"(^|_)(id|uuid|guid|key)$|[a-z0-9](Id|ID|Key)$", re.IGNORECASE)
_RUN = re.compile(r"(A+|a+|9+|[^Aa9]+)")
_META = set("\\.^$*+?()[]{}|")


def id_like(name: str) -> bool:
    """Whether a column name suggests an identifier (``id``, ``customer_id``, ``orderId``)."""
    return bool(_ID_NAME.search(name))


@dataclass
class ColumnFacts:
    """Mergeable facts about one column."""

    dtypes: set[str] = field(default_factory=set)
    rows: int = 0
    nulls: int = 0
    extremes: dict[str, Any] = field(default_factory=dict)
    values: set[Any] | None = field(default_factory=set)
    shapes: set[str] | None = field(default_factory=set)
    formats: dict[str, int] = field(default_factory=dict)
    temporal: dict[str, int] = field(default_factory=dict)
    """Non-null string cells that parse as ``date`` / ``datetime``."""
    unique: RuleState | None = None


def _shape(series: pl.Series) -> pl.Series:
    return series.str.replace_all(r"[A-Z]", "A").str.replace_all(r"[a-z]", "a").str.replace_all(r"[0-9]", "9")


def _count_all(text: pl.Series, probe: pl.Series, matches: Callable[[pl.Series], pl.Series]) -> int:
    """How many values match, or 0 when the probe already has a value that does not."""
    if not bool(matches(probe).all()):
        return 0
    return int(matches(text).sum())


def _full_match(text: pl.Series, pattern: str) -> pl.Series:
    return text.str.contains(f"^(?:{pattern})$")


def _parses_as(text: pl.Series, kind: str) -> pl.Series:
    return ~coerce(text, kind).invalid


def shape_regex(shape: str) -> str:
    """``AAA-9999999`` -> ``[A-Z]{3}-[0-9]{7}``."""
    parts = []
    for run in _RUN.findall(shape):
        token = {"A": "[A-Z]", "a": "[a-z]", "9": "[0-9]"}.get(run[0])
        if token is None:
            parts.append("".join("\\" + ch if ch in _META else ch for ch in run))
        else:
            parts.append(token if len(run) == 1 else f"{token}{{{len(run)}}}")
    return "".join(parts)


class InferComputation(Computation[dict[str, ColumnFacts], dict[str, ColumnFacts]]):
    """Gather the facts ``infer_contract`` needs, batch by batch."""

    def __init__(self, *, max_categories: int = 20, unique_cap: int = DEFAULT_UNIQUE_CAP) -> None:
        self.max_categories = max_categories
        self.unique_cap = unique_cap
        self._masker = Masker({}, frozenset())

    def _unique_rule(self, name: str) -> UniqueRule:
        return UniqueRule((name,), cap=self.unique_cap, max_examples=0, masker=self._masker)

    def map(self, batch: pa.RecordBatch) -> dict[str, ColumnFacts]:
        """Facts of every column of one batch."""
        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        ctx = BatchContext(frame, types={}, key_columns=(), masker=self._masker, max_examples=0)
        return {name: self._facts(ctx, name) for name in frame.columns}

    def _facts(self, ctx: BatchContext, name: str) -> ColumnFacts:
        series = ctx.frame.get_column(name)
        facts = ColumnFacts(rows=series.len())
        facts.nulls = series.null_count() + (int(series.is_nan().sum()) if series.dtype.is_float() else 0)
        present = series.drop_nulls()
        if series.dtype.is_float():
            present = present.drop_nans()
        if present.len() == 0:
            return facts
        facts.dtypes.add(str(series.dtype))
        if series.dtype.is_numeric() or series.dtype.is_temporal():
            facts.extremes = {"min": present.min(), "max": present.max()}
        if (
            series.dtype in (pl.String, pl.Categorical)
            or series.dtype.is_integer()
            or series.dtype == pl.Boolean
        ):
            distinct = present.unique()
            facts.values = set(distinct.to_list()) if distinct.len() <= self.max_categories else None
        else:
            facts.values = None
        if series.dtype in (pl.String, pl.Categorical):
            text = present.cast(pl.String)
            # Each fact only matters when it holds for every value, so a probe of the
            # first values rules most columns out before the whole column is scanned.
            probe = text.head(PROBE)
            shapes = _shape(probe).unique()
            if shapes.len() <= MAX_SHAPES:
                shapes = _shape(text).unique()
            facts.shapes = set(shapes.to_list()) if shapes.len() <= MAX_SHAPES else None
            facts.formats = {
                k: _count_all(text, probe, partial(_full_match, pattern=p)) for k, p in FORMATS.items()
            }
            facts.temporal = {
                kind: _count_all(text, probe, partial(_parses_as, kind=kind)) for kind in ("date", "datetime")
            }
            lengths = text.str.len_chars()
            facts.extremes = {"min": lengths.min(), "max": lengths.max()}
        else:
            facts.shapes = None
        if id_like(name):
            facts.unique = self._unique_rule(name).map(ctx)
        return facts

    def merge(self, left: dict[str, ColumnFacts], right: dict[str, ColumnFacts]) -> dict[str, ColumnFacts]:
        """Fold ``right`` into ``left`` column by column."""
        offset = next(iter(left.values())).rows if left else 0
        for name, theirs in right.items():
            ours = left.get(name)
            if ours is None:
                left[name] = theirs
                continue
            ours.dtypes |= theirs.dtypes
            ours.nulls += theirs.nulls
            merge_extremes(ours.extremes, theirs.extremes)
            ours.values = (
                None if ours.values is None or theirs.values is None else ours.values | theirs.values
            )
            if ours.values is not None and len(ours.values) > self.max_categories:
                ours.values = None
            ours.shapes = (
                None if ours.shapes is None or theirs.shapes is None else ours.shapes | theirs.shapes
            )
            if ours.shapes is not None and len(ours.shapes) > MAX_SHAPES:
                ours.shapes = None
            for bucket in ("formats", "temporal"):
                mine, other = getattr(ours, bucket), getattr(theirs, bucket)
                for key, count in other.items():
                    mine[key] = mine.get(key, 0) + count
            if ours.unique is not None and theirs.unique is not None:
                ours.unique = self._unique_rule(name).merge(ours.unique, theirs.unique, offset)
            else:
                ours.unique = None
            ours.rows += theirs.rows
        return left

    def finalize(self, summary: dict[str, ColumnFacts]) -> dict[str, ColumnFacts]:
        """The merged facts."""
        return summary

    def empty(self) -> dict[str, ColumnFacts]:
        """No columns seen."""
        return {}


def _type_of(facts: ColumnFacts) -> str | None:
    dtypes = facts.dtypes
    non_null = facts.rows - facts.nulls
    if not dtypes:
        return None
    if all(d.startswith(("Int", "UInt")) for d in dtypes):
        return "int"
    if all(d.startswith(("Int", "UInt", "Float", "Decimal")) for d in dtypes):
        return "float"
    if dtypes == {"Boolean"}:
        return "bool"
    if dtypes == {"Date"}:
        return "date"
    if all(d.startswith("Datetime") for d in dtypes):
        return "datetime"
    if dtypes <= {"String", "Categorical"}:
        if non_null and facts.temporal.get("date") == non_null:
            return "date"
        if non_null and facts.temporal.get("datetime") == non_null:
            return "datetime"
        return "string"
    return None


def _widen(low: Any, high: Any, margin: float, integer: bool) -> tuple[Any, Any]:
    span = float(high - low)
    pad = span * margin if span else max(abs(float(high)) * margin, 1.0)
    new_low, new_high = float(low) - pad, float(high) + pad
    if float(low) >= 0:
        new_low = max(0.0, new_low)  # a non-negative quantity stays non-negative
    if integer:
        return math.floor(new_low), math.ceil(new_high)
    if span >= 1:
        return math.floor(new_low * 100) / 100, math.ceil(new_high * 100) / 100
    return new_low, new_high


def _column(
    name: str, facts: ColumnFacts, kind: str | None, margin: float, pii: tuple[str, str] | None
) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": kind} if kind else {}
    non_null = facts.rows - facts.nulls
    if facts.rows and facts.nulls == 0:
        spec["nullable"] = False
    if pii:
        spec["pii"], spec["sensitivity"] = pii
    low, high = facts.extremes.get("min"), facts.extremes.get("max")
    categorical = (
        facts.values is not None and 0 < len(facts.values) <= non_null / 2 and kind in ("int", "string")
    )
    if categorical and not pii:
        spec["allowed"] = sorted(facts.values or ())
        if kind == "string":
            spec["type"] = "category"
    elif kind in ("int", "float") and low is not None and not pii:
        spec["min"], spec["max"] = _widen(low, high, margin, kind == "int")
    elif kind in ("date", "datetime") and isinstance(low, dt.date) and isinstance(high, dt.date) and not pii:
        pad = (high - low) * margin
        spec["min"] = (low - pad).isoformat()
    if kind == "string" and non_null:
        matched = [fmt for fmt, count in facts.formats.items() if count == non_null]
        if matched:
            spec["regex"] = FORMATS[matched[0]]
        elif facts.shapes is not None and len(facts.shapes) == 1:
            spec["regex"] = shape_regex(next(iter(facts.shapes)))
    unique = facts.unique
    exact = unique is not None and unique.error is None and unique.extra.get("hll") is None
    if exact and unique is not None and unique.failing == 0 and non_null > 1:
        spec["unique"] = True
    return spec


def infer_contract(
    data_or_path: Any,
    *,
    engine: Engine | None = None,
    margin: float = 0.1,
    max_categories: int = 20,
    detect_pii: bool = True,
    description: str = "",
) -> Contract:
    """Propose a contract that ``data_or_path`` passes (see the module docstring)."""
    computation = InferComputation(max_categories=max_categories)
    if isinstance(data_or_path, str | os.PathLike):
        facts = (engine or LocalEngine()).run(computation, open_dataset(data_or_path))
    else:
        data_or_path = to_arrow(data_or_path)
        facts = run_in_memory(computation, data_or_path)
    classified: dict[str, tuple[str, str]] = {}
    if detect_pii:
        from mlward.data.pii import scan

        for column in scan(data_or_path, engine=engine).columns:
            primary = column.primary
            if primary is not None and column.protection is None:
                classified[column.name] = (primary.entity.value, column.sensitivity.label)
    columns: dict[str, Any] = {}
    for name, column_facts in facts.items():
        columns[name] = _column(name, column_facts, _type_of(column_facts), margin, classified.get(name))
    keys = [n for n, spec in columns.items() if spec.get("unique") and spec.get("nullable") is False]
    raw: dict[str, Any] = {"columns": columns, "row_count": {"min": 1}}
    if description:
        raw["description"] = description
    if keys:
        raw["primary_key"] = [keys[0]]
    return Contract.model_validate(raw)
