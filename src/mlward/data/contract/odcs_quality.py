"""ODCS v3 quality rules -> mlward rule parameters (used by ``odcs.import_odcs``).

ODCS library metrics count bad rows and compare the count with an operator
(``mustBe``, ``mustBeLessThan`` ...) in ``rows`` (default) or ``percent``. mlward rules
count failing rows the same way, so a threshold on a count becomes ``max_failing``
and a threshold in percent becomes ``mostly`` (``mustBeLessThan: 1`` percent ->
``mostly: 0.99``; the strict inequality is read as at most, the nearest mlward can
say). ``mustBeBetween: [a, b]`` follows the standard's text: greater than ``a`` and
less than ``b``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

_COUNT_METRICS = ("nullValues", "missingValues", "invalidValues", "duplicateValues")
_UNITS = {"d": "d", "day": "d", "days": "d", "h": "h", "hour": "h", "hours": "h", "m": "m", "min": "m",
          "minute": "m", "minutes": "m", "s": "s", "second": "s", "seconds": "s", "w": "w", "week": "w",
          "weeks": "w", "y": "y", "yr": "y", "year": "y", "years": "y"}  # fmt: skip


def duration_of(value: Any, unit: Any) -> str | None:
    """An SLA ``value`` + ``unit`` as an mlward duration (``4d``); None when not a duration."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    short = _UNITS.get(str(unit or "d").strip().lower())
    if short is None:
        return None
    if short == "y":
        return f"{value * 365}d"
    return f"{value}{short}"


def ecma_pattern(pattern: str) -> str:
    """An ECMA-262 (search) pattern as an mlward (full-match) regex with the same meaning."""
    if pattern.startswith("^") and pattern.endswith("$") and not pattern.endswith("\\$"):
        return pattern[1:-1]
    return rf"[\s\S]*(?:{pattern})[\s\S]*"


def _tolerance(rule: Mapping[str, Any]) -> dict[str, Any] | None:
    """``{"max_failing": n}`` or ``{"mostly": share}`` from a count metric's operator."""
    percent = str(rule.get("unit") or "rows").lower() in ("percent", "%")
    if "mustBe" in rule and rule["mustBe"] == 0:
        return {"max_failing": 0}
    if "mustBeLessThan" in rule:
        limit, strict = rule["mustBeLessThan"], True
    elif "mustBeLessOrEqualTo" in rule:
        limit, strict = rule["mustBeLessOrEqualTo"], False
    elif (
        "mustBeBetween" in rule
        and isinstance(rule["mustBeBetween"], list)
        and len(rule["mustBeBetween"]) == 2
    ):
        low, limit = rule["mustBeBetween"]
        strict = True
        if not isinstance(low, int | float) or low >= 0:
            return None  # a lower bound on bad rows has no mlward meaning
    else:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int | float) or limit < 0:
        return None
    if percent:
        return {"mostly": max(1e-6, min(1.0, 1 - limit / 100))} if limit < 100 else None
    count = int(limit) - 1 if strict and float(limit).is_integer() else int(limit)
    return {"max_failing": max(0, count)} if not (strict and limit == 0) else None


def _count_bounds(rule: Mapping[str, Any]) -> dict[str, int] | None:
    """Row-count bounds from an operator."""
    bounds: dict[str, int] = {}
    ops = {
        "mustBeGreaterThan": ("min", 1),
        "mustBeGreaterOrEqualTo": ("min", 0),
        "mustBeLessThan": ("max", -1),
        "mustBeLessOrEqualTo": ("max", 0),
    }
    for key, (bound, shift) in ops.items():
        if isinstance(rule.get(key), int | float):
            bounds[bound] = int(rule[key]) + shift
    between = rule.get("mustBeBetween")
    if isinstance(between, list) and len(between) == 2:
        bounds["min"], bounds["max"] = int(between[0]) + 1, int(between[1]) - 1
    if isinstance(rule.get("mustBe"), int | float) and not isinstance(rule.get("mustBe"), bool):
        bounds["min"] = bounds["max"] = int(rule["mustBe"])
    return bounds or None


def _with(value: Any, tolerance: dict[str, Any]) -> Any:
    return {"value": value, **tolerance} if tolerance != {"max_failing": 0} else value


class QualityMapper:
    """Maps quality rules onto a column or contract mapping, noting what it cannot map."""

    def __init__(self, note: Callable[[str, str], None]) -> None:
        self.note = note

    def _unsupported(self, rule: Mapping[str, Any], path: str) -> bool:
        kind = str(rule.get("type") or ("library" if rule.get("metric") or rule.get("rule") else "text"))
        if kind != "library":
            reasons = {
                "sql": "SQL quality queries return aggregates; write a row rule under rules: instead",
                "custom": f"custom {rule.get('engine') or 'engine'} rules are not run by mlward",
                "text": "a text rule describes quality in words; nothing to check",
            }
            self.note(path, reasons.get(kind, f"quality type {kind!r} is not supported"))
            return True
        return False

    def property_rule(self, column: dict[str, Any], rule: Mapping[str, Any], path: str) -> None:
        """Map one property-level quality rule onto ``column``."""
        if self._unsupported(rule, path):
            return
        metric = rule.get("metric") or rule.get("rule")
        args = rule.get("arguments") or {}
        if metric == "between":
            props = {p.get("property"): p.get("value") for p in rule.get("customProperties") or []}
            if isinstance(props.get("min"), int | float) or isinstance(props.get("max"), int | float):
                column.update({k: props[k] for k in ("min", "max") if isinstance(props.get(k), int | float)})
                return
            self.note(path, "rule 'between' without numeric min / max custom properties")
            return
        if metric not in _COUNT_METRICS:
            self.note(path, f"metric {metric!r} is not supported on a property")
            return
        tolerance = _tolerance(rule)
        if tolerance is None:
            self.note(path, f"the threshold of {metric} cannot be expressed as a tolerance")
            return
        if metric == "nullValues":
            column["nullable"] = _with(False, tolerance)
        elif metric == "missingValues":
            column["nullable"] = _with(False, tolerance)
            column["missing_values"] = [v for v in args.get("missingValues") or [] if v is not None]
        elif metric == "duplicateValues":
            column["unique"] = _with(True, tolerance)
        elif args.get("validValues"):
            column["allowed"] = _with([v for v in args["validValues"] if v is not None], tolerance)
        elif args.get("pattern"):
            column["regex"] = _with(ecma_pattern(str(args["pattern"])), tolerance)
        else:
            self.note(path, "invalidValues needs validValues or pattern")

    def schema_rule(self, contract: dict[str, Any], rule: Mapping[str, Any], path: str) -> None:
        """Map one object-level quality rule onto ``contract``."""
        if self._unsupported(rule, path):
            return
        metric = rule.get("metric") or rule.get("rule")
        if metric == "rowCount":
            bounds = _count_bounds(rule)
            if bounds is None:
                self.note(path, "rowCount without a supported operator")
            else:
                contract["row_count"] = bounds
            return
        columns = (rule.get("arguments") or {}).get("properties")
        if metric == "duplicateValues" and isinstance(columns, list) and columns:
            tolerance = _tolerance(rule)
            if tolerance is None:
                self.note(path, "the threshold of duplicateValues cannot be expressed as a tolerance")
                return
            contract.setdefault("unique", []).append({"columns": [str(c) for c in columns], **tolerance})
            return
        self.note(path, f"metric {metric!r} is not supported on a schema object")
