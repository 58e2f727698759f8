"""Request schemas for prediction: generated from the model's data contract or its features.

``feature_spec`` decides what a row is:

* a data contract for the model (``serve.models.<name>.contract``, or ``contracts.<name>``,
  or the contract of the dataset that trained it, restricted to the model's
  ``feature_names_in_``) gives typed, bounded, enumerated, required fields;
* else the model's ``feature_names_in_`` gives named numeric fields;
* else ``n_features_in_`` gives rows as arrays of exactly that many numbers.

``request_model`` turns the spec into a pydantic model (``create_model``; rows are
``TypedDict``s) with unknown fields forbidden, strict types, finite numbers, and the batch
size bounded, so invalid input is a 422 naming the field before the model sees it.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, NotRequired, Required

from pydantic import BaseModel, ConfigDict, Field, create_model
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from mlward.core.errors import ConfigError

NUMERIC_TYPES = ("int", "float", "bool")


@dataclass(frozen=True)
class Column:
    """One input feature."""

    name: str
    """Feature name as the client sends it."""
    type: str
    """``int``, ``float``, ``bool``, ``string``, ``category``, ``date`` or ``datetime``."""
    minimum: float | None = None
    """Inclusive lower bound (numbers)."""
    maximum: float | None = None
    """Inclusive upper bound (numbers)."""
    exclusive_minimum: float | None = None
    """Exclusive lower bound."""
    exclusive_maximum: float | None = None
    """Exclusive upper bound."""
    allowed: tuple[Any, ...] | None = None
    """Permitted values (categories)."""
    required: bool = True
    """The field must be present."""
    nullable: bool = False
    """``null`` is accepted."""
    max_length: int | None = None
    """Longest string accepted."""
    pattern: str | None = None
    """Regular expression strings must match."""
    sensitive: bool = False
    """The contract marks it as PII or confidential."""

    @property
    def numeric(self) -> bool:
        """Whether the feature is a number (enters distance-based abuse tests)."""
        return self.type in NUMERIC_TYPES


@dataclass(frozen=True)
class FeatureSpec:
    """What one row of a prediction request is."""

    columns: tuple[Column, ...]
    """Features in the order the model expects them."""
    named: bool
    """Rows are JSON objects keyed by feature name (else arrays of numbers)."""
    source: str
    """Where the schema came from: ``contract:<name>``, ``model-features`` or ``model-shape``."""
    has_contract: bool
    """A data contract describes the inputs."""

    @property
    def pii(self) -> bool:
        """Inputs may hold personal data (no contract, or a column marked sensitive)."""
        return not self.has_contract or any(c.sensitive for c in self.columns)

    @property
    def width(self) -> int:
        """Number of features."""
        return len(self.columns)

    @functools.cached_property
    def row_getter(self) -> Callable[[Mapping[str, Any]], Sequence[Any]]:
        """A validated row (a dict) to its values in feature order (built once per spec)."""
        names = [c.name for c in self.columns]
        if not all(c.required for c in self.columns):
            return lambda row: [row.get(name) for name in names]
        if len(names) == 1:
            return lambda row: [row[names[0]]]
        return operator.itemgetter(*names)  # one C call per row instead of one lookup per cell


def _param(spec: Any) -> Any:
    # Contract rule parameters are ``RuleParam`` objects or ``{"value": x}`` mappings.
    if spec is None:
        return None
    if isinstance(spec, Mapping):
        return spec.get("value")
    return getattr(spec, "value", spec)


def _number(value: Any) -> float | None:
    value = _param(value)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def contract_columns(contract: Any) -> dict[str, Column]:
    """Columns of a data contract (a ``Contract`` object or its ``mlward.yaml`` mapping)."""
    if isinstance(contract, Mapping):
        try:
            from mlward.data.contract.schema import Contract
        except ImportError:  # pragma: no cover - the contract package ships with mlward
            raw_columns = contract.get("columns", {})
        else:
            raw_columns = Contract.model_validate(dict(contract)).columns
    else:
        raw_columns = contract.columns
    columns: dict[str, Column] = {}
    for name, spec in raw_columns.items():
        get = spec.get if isinstance(spec, Mapping) else lambda key, s=spec: getattr(s, key, None)
        if isinstance(spec, str):
            get = {"type": spec}.get
        kind = get("type") or "float"
        nullable = _param(get("nullable"))
        allowed = _param(get("allowed"))
        sensitivity = get("sensitivity")
        columns[name] = Column(
            name=name,
            type="float" if kind == "float" else str(kind),
            minimum=_number(get("min")),
            maximum=_number(get("max")),
            exclusive_minimum=_number(get("exclusive_min")),
            exclusive_maximum=_number(get("exclusive_max")),
            allowed=tuple(allowed) if allowed else None,
            required=get("required") is not False,
            nullable=nullable is True,
            max_length=_param(get("max_length")),
            pattern=_param(get("regex")),
            sensitive=get("pii") is not None or sensitivity in ("confidential", "restricted"),
        )
    return columns


def _model_features(model: Any) -> list[str] | None:
    names = getattr(model, "feature_names_in_", None)
    return [str(n) for n in names] if names is not None else None


def feature_spec(model: Any, contract: Any | None = None, contract_name: str = "") -> FeatureSpec:
    """The row schema for ``model``, from ``contract`` when given."""
    features = _model_features(model)
    if contract is not None:
        columns = contract_columns(contract)
        if features is not None:
            missing = [f for f in features if f not in columns]
            if missing:
                raise ConfigError(
                    f"contract {contract_name!r} does not describe the model's features {missing[:5]}",
                    hint="add them to the contract or configure serve.models.<name>.contract",
                )
            ordered = [columns[f] for f in features]
        else:
            ordered = list(columns.values())
            expected = getattr(model, "n_features_in_", None)
            if expected is not None and expected != len(ordered):
                raise ConfigError(
                    f"contract {contract_name!r} has {len(ordered)} columns "
                    f"but the model takes {expected} features"
                )
        return FeatureSpec(tuple(ordered), True, f"contract:{contract_name}", True)
    if features is not None:
        return FeatureSpec(tuple(Column(f, "float") for f in features), True, "model-features", False)
    width = getattr(model, "n_features_in_", None)
    if width is None:
        raise ConfigError(
            "the model declares neither feature_names_in_ nor n_features_in_; configure a contract"
        )
    return FeatureSpec(
        tuple(Column(f"x{i}", "float") for i in range(int(width))), False, "model-shape", False
    )


def _field_type(column: Column) -> Any:
    if column.allowed is not None:
        base: Any = Literal[tuple(column.allowed)]
    elif column.type == "int":
        base = Annotated[
            int,
            Field(
                ge=column.minimum, le=column.maximum, gt=column.exclusive_minimum, lt=column.exclusive_maximum
            ),
        ]
    elif column.type == "bool":
        base = bool
    elif column.type == "float":
        base = Annotated[
            float,
            Field(
                ge=column.minimum,
                le=column.maximum,
                gt=column.exclusive_minimum,
                lt=column.exclusive_maximum,
                allow_inf_nan=False,
            ),
        ]
    else:
        base = Annotated[str, Field(max_length=column.max_length or 10_000, pattern=column.pattern)]
    return base | None if column.nullable else base


def request_model(spec: FeatureSpec, model_name: str, max_batch: int) -> type[BaseModel]:
    """A pydantic model of ``{"rows": [...]}`` for ``spec`` with at most ``max_batch`` rows."""
    title = "".join(part.capitalize() for part in model_name.replace(".", "-").replace("_", "-").split("-"))
    if spec.named:
        # A TypedDict, not a model: pydantic validates it into a plain dict, about a quarter
        # faster on large batches, and its keys are the contract's column names as they are.
        fields: dict[str, Any] = {
            column.name: (Required if column.required else NotRequired)[_field_type(column)]
            for column in spec.columns
        }
        # Called through Any: mypy models only TypedDicts with a literal name, this one is built here.
        typed_dict: Any = TypedDict
        row: Any = typed_dict(f"{title}Row", fields)
        row.__pydantic_config__ = ConfigDict(extra="forbid", strict=True)
    else:
        number = Annotated[float, Field(allow_inf_nan=False, strict=True)]
        row = Annotated[list[number], Field(min_length=spec.width, max_length=spec.width)]
    return create_model(
        f"{title}PredictRequest",
        __config__=ConfigDict(extra="forbid"),
        rows=(Annotated[list[row], Field(min_length=1, max_length=max_batch)], ...),
    )


def row_values(spec: FeatureSpec, rows: Sequence[Any]) -> list[Sequence[Any]]:
    """Validated rows as value sequences in the model's feature order."""
    if not spec.named or not rows:
        return list(rows)
    return list(map(spec.row_getter, rows))
