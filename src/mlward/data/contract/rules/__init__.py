"""Turn a ``Contract`` into the rules that check it (one module per family)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from mlward.data.contract.display import Masker
from mlward.data.contract.rules.column import (
    AllowedRule,
    BoundRule,
    LengthRule,
    NotNullRule,
    PresenceRule,
    RegexRule,
    TypeRule,
)
from mlward.data.contract.rules.expression import ExpressionRule
from mlward.data.contract.rules.interface import Example, Rule, RuleResult, RuleState
from mlward.data.contract.rules.pii import ProtectedRule
from mlward.data.contract.rules.table import ExtraColumnsRule, FreshnessRule, RowCountRule
from mlward.data.contract.rules.unique import UniqueRule
from mlward.data.contract.schema import ColumnSpec, Contract, RuleParam

__all__ = ["Example", "Rule", "RuleResult", "RuleState", "build_rules", "masker_for"]


def masker_for(contract: Contract) -> Masker:
    """The masker of a contract's declared PII and sensitive columns."""
    entities = {name: spec.pii for name, spec in contract.columns.items()}
    sensitive = frozenset(name for name, spec in contract.columns.items() if spec.sensitive)
    return Masker(entities, sensitive)


def _tolerance(param: RuleParam | None, spec: ColumnSpec | None, contract: Contract) -> dict[str, Any]:
    mostly = (param.mostly if param else None) or (spec.mostly if spec else None) or contract.mostly
    return {"mostly": mostly, "max_failing": param.max_failing if param else None}


def _column_rules(name: str, spec: ColumnSpec, contract: Contract, common: dict[str, Any]) -> list[Rule]:
    base = {**common, "optional": not spec.required}
    rules: list[Rule] = []
    if spec.protection == "drop":
        return [PresenceRule(name, dropped=True, **common)]
    rules.append(PresenceRule(name, **base))
    if spec.type is not None:
        rules.append(TypeRule(name, spec.type, **base, **_tolerance(None, spec, contract)))
    if spec.nullable is not None and spec.nullable.value is False:
        rules.append(
            NotNullRule(name, spec.missing_values, **base, **_tolerance(spec.nullable, spec, contract))
        )
    if spec.unique is not None and spec.unique.value is True:
        cap = contract.settings.unique_cap
        tolerance = _tolerance(spec.unique, spec, contract)
        rules.append(UniqueRule((name,), cap=cap, optional=not spec.required, **common, **tolerance))
    for kind in ("min", "exclusive_min", "max", "exclusive_max"):
        param = getattr(spec, kind)
        if param is not None:
            rules.append(BoundRule(name, kind, param.value, **base, **_tolerance(param, spec, contract)))
    if spec.allowed is not None:
        tolerance = _tolerance(spec.allowed, spec, contract)
        rules.append(AllowedRule(name, spec.allowed.value, spec.type, **base, **tolerance))
    if spec.regex is not None:
        rules.append(RegexRule(name, spec.regex.value, **base, **_tolerance(spec.regex, spec, contract)))
    for kind in ("min_length", "max_length"):
        param = getattr(spec, kind)
        if param is not None:
            rules.append(LengthRule(name, kind, param.value, **base, **_tolerance(param, spec, contract)))
    if spec.protection is not None and spec.protection != "keep":
        rules.append(
            ProtectedRule(name, spec.pii, spec.protection, **base, **_tolerance(None, spec, contract))
        )
    return rules


def build_rules(contract: Contract, *, now: dt.datetime) -> list[Rule]:
    """Every rule of ``contract``, table-level first, then per column, then cross-column."""
    masker = masker_for(contract)
    common: dict[str, Any] = {"max_examples": contract.settings.examples, "masker": masker}
    cap = contract.settings.unique_cap
    rules: list[Rule] = []
    if contract.extra_columns == "forbid":
        rules.append(ExtraColumnsRule(tuple(contract.columns), **common))
    if contract.row_count is not None:
        rules.append(RowCountRule(contract.row_count.min, contract.row_count.max, **common))
    if contract.freshness is not None:
        fresh = contract.freshness
        reference = fresh.now or now
        if reference.tzinfo is not None:
            reference = reference.astimezone(dt.UTC).replace(tzinfo=None)
        rules.append(FreshnessRule(fresh.column, fresh.max_age, reference, **common))
    if contract.primary_key:
        rules.append(UniqueRule(tuple(contract.primary_key), primary_key=True, cap=cap, **common))
    for name, spec in contract.columns.items():
        rules.extend(_column_rules(name, spec, contract, common))
    for unique in contract.unique:
        tolerance: dict[str, Any] = {
            "mostly": unique.mostly or contract.mostly,
            "max_failing": unique.max_failing,
        }
        rules.append(UniqueRule(tuple(unique.columns), cap=cap, **common, **tolerance))
    for rule in contract.rules:
        tolerance = {"mostly": rule.mostly or contract.mostly, "max_failing": rule.max_failing}
        rules.append(ExpressionRule(rule.name, rule.sql, rule.engine, **common, **tolerance))
    return rules
