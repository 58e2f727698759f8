"""The result of validating a dataset against a contract."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlward.data.contract.rules.interface import RuleResult

RESULT_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class ValidationResult:
    """Per-rule outcomes of one validation run."""

    contract: str
    """Name of the contract (or the file it came from)."""
    source: str
    """What was validated: a path, or ``<pandas.DataFrame>`` for in-memory data."""
    rows: int
    """Rows read."""
    rules: tuple[RuleResult, ...]
    """One result per rule, in contract order."""
    engine: str = "local"
    """``local``, ``dask`` or ``in-memory``."""
    checked_at: str = ""
    """When the check ran (UTC, ISO 8601)."""
    duration_s: float = 0.0
    """Wall time of the check."""
    notes: tuple[str, ...] = field(default_factory=tuple)
    """Caveats about the run as a whole."""

    @property
    def failed_rules(self) -> int:
        """Rules that failed or could not be evaluated (what a pipeline gate reads)."""
        return sum(1 for rule in self.rules if not rule.passed)

    @property
    def passed(self) -> bool:
        """True when every rule passed (or was skipped)."""
        return self.failed_rules == 0

    @property
    def failures(self) -> tuple[RuleResult, ...]:
        """The rules that failed or errored."""
        return tuple(rule for rule in self.rules if not rule.passed)

    def rule(self, rule_id: str) -> RuleResult:
        """The result of one rule by id (``age.min``); KeyError when absent."""
        for rule in self.rules:
            if rule.rule_id == rule_id:
                return rule
        raise KeyError(rule_id)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict, ``schema_version: 1`` (documented in docs/contracts.md)."""
        return {
            "schema_version": RESULT_SCHEMA_VERSION,
            "contract": self.contract,
            "source": self.source,
            "engine": self.engine,
            "checked_at": self.checked_at,
            "duration_s": round(self.duration_s, 3),
            "passed": self.passed,
            "rows": self.rows,
            "rules_total": len(self.rules),
            "failed_rules": self.failed_rules,
            "notes": list(self.notes),
            "rules": [rule.to_dict() for rule in self.rules],
        }

    def junit_cases(self) -> list[tuple[str, bool, str, str]]:
        """``(name, passed, message, details)`` per rule, for ``report.junit.to_junit``."""
        cases = []
        for rule in self.rules:
            details = [rule.message, f"checked={rule.checked} failing={rule.failing}"]
            if rule.observed:
                details.append(f"observed={rule.observed}")
            details.extend(f"row {e.row} key={e.key} value={e.value}" for e in rule.examples)
            if rule.note:
                details.append(f"note: {rule.note}")
            cases.append((rule.rule_id, rule.passed, rule.message, "\n".join(details)))
        return cases
