"""The data contract model: what a dataset must look like (see docs/contracts.md).

A contract lives under ``contracts: {<name>: ...}`` in ``mlward.yaml`` or in its own
YAML file. It is validated with strict pydantic models (unknown keys are errors) so a
typo names its key path: ``mlward.yaml: contracts.loans.columns.age.min: ...``.

Every rule parameter takes either its bare value (``min: 18``) or a mapping with a
tolerance (``min: {value: 18, mostly: 0.99}`` or ``{value: 18, max_failing: 10}``).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from mlward.data.contract.values import parse_bound, parse_duration
from mlward.data.pii.entities import EntityType

COLUMN_TYPES = ("int", "float", "string", "bool", "date", "datetime", "category")
ColumnType = Literal["int", "float", "string", "bool", "date", "datetime", "category"]
SensitivityLabel = Literal["public", "internal", "confidential", "restricted"]
ProtectionAction = Literal[
    "keep", "drop", "redact", "mask", "hash", "tokenize", "fpe", "generalize", "fake", "encrypt"
]
DEFAULT_EXAMPLES = 5
DEFAULT_UNIQUE_CAP = 2_000_000
_SUBQUERY = re.compile(r"\b(select|from|with|union|pragma|attach|copy|install|load)\b|;", re.IGNORECASE)
_STRING_LITERAL = re.compile(r"'(?:[^']|'')*'")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RuleParam(_Strict):
    """A rule's parameter and how many failing rows it tolerates."""

    value: Any
    """The parameter itself (a bound, a list of allowed values, a pattern ...)."""
    mostly: float | None = Field(None, gt=0, le=1)
    """Share of checked rows that must pass (None: the column's or contract's default)."""
    max_failing: int | None = Field(None, ge=0)
    """Failing rows tolerated, as a count (combined with ``mostly`` when both are set)."""


def _wrap(value: Any) -> Any:
    """Accept the bare-value shorthand: ``18`` -> ``{"value": 18}``."""
    if value is None or isinstance(value, dict | RuleParam):
        return value
    return {"value": value}


def _check_regex(pattern: str) -> None:
    """Refuse patterns Polars' (linear-time, Rust) regex engine cannot compile."""
    try:
        pl.Series([""]).str.contains(pattern)
    except pl.exceptions.PolarsError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"invalid regular expression: {first}") from None


class ColumnSpec(_Strict):
    """Expectations on one column."""

    type: ColumnType | None = None
    required: bool = True
    """The column must be present in the data."""
    nullable: RuleParam | None = None
    missing_values: list[Any] = Field(default_factory=list)
    """Values counted as missing by the ``nullable: false`` rule (``""``, ``"N/A"``)."""
    unique: RuleParam | None = None
    min: RuleParam | None = None
    max: RuleParam | None = None
    exclusive_min: RuleParam | None = None
    exclusive_max: RuleParam | None = None
    allowed: RuleParam | None = None
    regex: RuleParam | None = None
    min_length: RuleParam | None = None
    max_length: RuleParam | None = None
    pii: EntityType | None = None
    """PII entity the column holds (or held before protection)."""
    sensitivity: SensitivityLabel | None = None
    protection: ProtectionAction | None = None
    """Protection expected on the data: anything but ``keep`` means no raw PII may remain."""
    mostly: float | None = Field(None, gt=0, le=1)
    """Default tolerance of this column's rules."""
    description: str = ""
    critical: bool = False
    """A critical data element (informational; shown in reports)."""

    @model_validator(mode="before")
    @classmethod
    def _type_shorthand(cls, value: Any) -> Any:
        # ``age: int`` is short for ``age: {type: int}``.
        return {"type": value} if isinstance(value, str) else value

    @field_validator(
        "nullable", "unique", "min", "max", "exclusive_min", "exclusive_max", "allowed", "regex",
        "min_length", "max_length", mode="before",
    )  # fmt: skip
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return _wrap(value)

    @field_validator("nullable", "unique")
    @classmethod
    def _boolean(cls, param: RuleParam | None) -> RuleParam | None:
        if param is not None and not isinstance(param.value, bool):
            raise ValueError(f"expected true or false (got {param.value!r})")
        return param

    @field_validator("min", "max", "exclusive_min", "exclusive_max")
    @classmethod
    def _bound(cls, param: RuleParam | None, info: ValidationInfo) -> RuleParam | None:
        if param is None:
            return None
        kind = info.data.get("type")
        try:
            parsed = parse_bound(param.value, kind)
        except ValueError as exc:
            raise ValueError(str(exc)) from None
        return param.model_copy(update={"value": parsed})

    @field_validator("allowed")
    @classmethod
    def _allowed(cls, param: RuleParam | None) -> RuleParam | None:
        if param is not None and (not isinstance(param.value, list) or not param.value):
            raise ValueError("expected a non-empty list of allowed values")
        return param

    @field_validator("regex")
    @classmethod
    def _regex(cls, param: RuleParam | None) -> RuleParam | None:
        if param is None:
            return None
        if not isinstance(param.value, str) or not param.value:
            raise ValueError("expected a regular expression string")
        _check_regex(param.value)
        return param

    @field_validator("min_length", "max_length")
    @classmethod
    def _length(cls, param: RuleParam | None) -> RuleParam | None:
        if param is not None and (
            isinstance(param.value, bool) or not isinstance(param.value, int) or param.value < 0
        ):
            raise ValueError(f"expected a non-negative integer (got {param.value!r})")
        return param

    @property
    def sensitive(self) -> bool:
        """Whether values of this column must never be shown in clear."""
        return self.pii is not None or self.sensitivity in ("confidential", "restricted")


class RowCountSpec(_Strict):
    """Bounds on the number of rows."""

    min: int | None = Field(None, ge=0)
    max: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> RowCountSpec:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min is greater than max")
        return self


class FreshnessSpec(_Strict):
    """The newest value of a timestamp column must be at most ``max_age`` old."""

    column: str
    max_age: dt.timedelta
    """``36h``, ``7d``, ``90m``, ``2w``, ``45s``, ISO 8601 ``P7D`` or seconds."""
    now: dt.datetime | None = None
    """Reference time (default: when the check runs); naive times are UTC."""

    @field_validator("max_age", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> dt.timedelta:
        return parse_duration(value)

    @field_validator("now", mode="before")
    @classmethod
    def _now(cls, value: Any) -> Any:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return dt.datetime(value.year, value.month, value.day)
        return value


class UniqueSpec(_Strict):
    """A compound uniqueness rule over several columns."""

    columns: list[str] = Field(min_length=1)
    mostly: float | None = Field(None, gt=0, le=1)
    max_failing: int | None = Field(None, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"columns": value} if isinstance(value, list | str) else value

    @field_validator("columns", mode="before")
    @classmethod
    def _one(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class ExpressionRule(_Strict):
    """A row-level rule written as a SQL boolean expression over the columns."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    sql: str = Field(min_length=1)
    """For example ``loan_amount <= income * 2``; rows where it is false fail."""
    engine: Literal["polars", "duckdb"] = "polars"
    description: str = ""
    mostly: float | None = Field(None, gt=0, le=1)
    max_failing: int | None = Field(None, ge=0)

    @field_validator("sql")
    @classmethod
    def _expression_only(cls, value: str) -> str:
        # An expression, not a query: no subqueries (Polars SQL would read files named in
        # read_parquet(...) inside one) and no statement separators.
        bare = _STRING_LITERAL.sub("''", value)
        found = _SUBQUERY.search(bare)
        if found:
            raise ValueError(
                "must be a boolean expression over the columns, not a query "
                f"({found.group(0)!r} is not allowed)"
            )
        try:
            pl.sql_expr(value)
        except (pl.exceptions.PolarsError, ValueError) as exc:
            raise ValueError(f"not a valid SQL expression: {str(exc).strip().splitlines()[0]}") from None
        return value


class CheckSettings(_Strict):
    """How the check runs."""

    examples: int = Field(default=DEFAULT_EXAMPLES, ge=0, le=1000)
    """Failing-row examples kept per rule."""
    unique_cap: int = Field(default=DEFAULT_UNIQUE_CAP, ge=1)
    """Distinct keys tracked exactly per uniqueness rule before falling back to HyperLogLog."""


class Contract(_Strict):
    """A data contract: the columns, keys, volumes and cross-column rules of a dataset."""

    description: str = ""
    version: str = "1"
    owner: str = ""
    primary_key: list[str] = Field(default_factory=list)
    """Columns identifying a row: unique and non-null; used to name failing rows."""
    columns: dict[str, ColumnSpec] = Field(default_factory=dict)
    extra_columns: Literal["allow", "forbid"] = "allow"
    row_count: RowCountSpec | None = None
    freshness: FreshnessSpec | None = None
    unique: list[UniqueSpec] = Field(default_factory=list)
    rules: list[ExpressionRule] = Field(default_factory=list)
    mostly: float = Field(1.0, gt=0, le=1)
    """Default tolerance of every rule: the share of checked rows that must pass."""
    settings: CheckSettings = Field(default_factory=CheckSettings)

    @field_validator("primary_key", mode="before")
    @classmethod
    def _key(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) else value

    @model_validator(mode="after")
    def _consistent(self) -> Contract:
        names = [rule.name for rule in self.rules]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"rules: duplicate rule names {duplicated}")
        return self

    def to_yaml_dict(self) -> dict[str, Any]:
        """A plain dict for YAML output: defaults left out, short forms where possible."""
        compact: dict[str, Any] = _compact(self.model_dump(mode="json", exclude_defaults=True))
        return compact


def _compact(node: Any) -> Any:
    """Collapse ``{"value": x}`` rule parameters back to ``x``."""
    if isinstance(node, dict):
        if set(node) == {"value"}:
            return _compact(node["value"])
        return {key: _compact(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_compact(item) for item in node]
    return node


class ContractFile(_Strict):
    """A file or section holding named contracts: ``contracts: {name: contract}``."""

    contracts: dict[str, Contract] = Field(default_factory=dict)
