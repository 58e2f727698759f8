"""Contract results as a table, JSON (``schema_version: 1``) or JUnit XML."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from mlward.data.contract.result import ValidationResult
from mlward.data.contract.rules.interface import RuleResult
from mlward.report.junit import to_junit

_STATUS_STYLE = {"pass": "green", "fail": "bold red", "error": "bold red", "skipped": "dim"}
_SHOWN_EXAMPLES = 3


def to_json(result: ValidationResult) -> str:
    """The result as indented JSON (see docs/contracts.md for the schema)."""
    return json.dumps(result.to_dict(), indent=2, default=str)


def to_junit_xml(result: ValidationResult) -> str:
    """One JUnit test case per rule."""
    return to_junit(f"mlward contract {result.contract}", result.junit_cases())


def _short(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _observed(rule: RuleResult) -> str:
    return ", ".join(f"{k}={_short(v, 40)}" for k, v in rule.observed.items() if v not in (None, [], {}))


def _examples(rule: RuleResult) -> str:
    parts = []
    for example in rule.examples[:_SHOWN_EXAMPLES]:
        name = f"row {example.row}" + (f" [{example.key}]" if example.key else "")
        parts.append(f"{name}: {example.value}" if example.value is not None else name)
    if len(rule.examples) > _SHOWN_EXAMPLES:
        parts.append("…")
    return "; ".join(parts)


def to_table(result: ValidationResult) -> Group:
    """A Rich table of every rule, failures first, and a summary line."""
    table = Table(title=f"contract {result.contract} on {result.source} ({result.rows} rows)")
    for column in ("status", "rule", "checked", "failing", "observed", "message / examples"):
        table.add_column(column, overflow="fold")
    ordered = sorted(result.rules, key=lambda r: (r.passed, r.status == "skipped"))
    for rule in ordered:
        share = f"{rule.failing} ({rule.failing_share:.2%})" if rule.failing else "0"
        detail = rule.message + (f"\n{_examples(rule)}" if rule.examples and not rule.passed else "")
        if rule.note:
            detail += f"\nnote: {rule.note}"
        table.add_row(
            Text(rule.status.upper(), style=_STATUS_STYLE.get(rule.status, "")),
            rule.rule_id + ("~" if rule.approximate else ""),
            str(rule.checked),
            share,
            _observed(rule),
            detail,
        )
    if result.passed:
        summary = Text(f"PASSED: {len(result.rules)} rules", style="bold green")
    else:
        summary = Text(f"FAILED: {result.failed_rules} of {len(result.rules)} rules", style="bold red")
    return Group(table, summary, *(Text(f"note: {n}") for n in result.notes))
