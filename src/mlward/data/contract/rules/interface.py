"""The contract rule family: one ``Rule`` per kind of expectation.

A rule is a small map / merge / finalize computation of its own: ``map`` counts the
checked and failing rows of one batch (keeping a few failing-row examples, already
masked), ``merge`` adds two states (shifting the right side's row numbers by the
left side's row count -- engines merge in partition order), and ``finalize`` decides
pass or fail against the tolerance (``mostly`` / ``max_failing``). ``ContractCheck``
runs every rule of a contract over the same batches.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl

from mlward.data.contract.display import Masker
from mlward.data.contract.values import Coerced, coerce

if TYPE_CHECKING:
    from mlward.data.pii.entities import EntityType

PASS = "pass"  # noqa: S105 - a status name
FAIL = "fail"
ERROR = "error"
SKIPPED = "skipped"


@dataclass(frozen=True)
class Example:
    """One failing row."""

    row: int
    """0-based row number in the dataset (partitions in order)."""
    key: str | None
    """Primary-key value(s) of the row, ``|``-joined and masked where sensitive."""
    value: str | None
    """The offending value as text, masked where sensitive (None when not known)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"row": self.row, "key": self.key, "value": self.value}


@dataclass(frozen=True)
class RuleResult:
    """The outcome of one rule."""

    rule_id: str
    """Stable identifier: ``age.min``, ``row_count``, ``unique[a,b]``, ``rule.ltv``."""
    kind: str
    """Rule kind: ``type``, ``not_null``, ``min``, ``unique``, ``sql`` ..."""
    columns: tuple[str, ...]
    """Columns the rule looks at (empty for table-level rules)."""
    status: str
    """``pass``, ``fail``, ``error`` (could not be evaluated: counts as failed) or ``skipped``."""
    message: str
    """One line a user can act on."""
    expected: dict[str, Any]
    """The expectation, as written in the contract."""
    observed: dict[str, Any] = field(default_factory=dict)
    """What the data showed (minimum seen, types seen ...); masked where sensitive."""
    checked: int = 0
    """Rows (or values) the rule evaluated."""
    failing: int = 0
    """Rows that broke the rule."""
    mostly: float = 1.0
    """Share of checked rows that had to pass."""
    max_failing: int | None = None
    """Failing rows tolerated as a count, if set."""
    examples: tuple[Example, ...] = ()
    """The first failing rows."""
    approximate: bool = False
    """Counts are estimates (see ``note``)."""
    note: str | None = None
    """Caveats: estimates, partial examples, values that could not be read."""

    @property
    def passed(self) -> bool:
        """True unless the rule failed or errored."""
        return self.status in (PASS, SKIPPED)

    @property
    def failing_share(self) -> float:
        """Failing rows over checked rows (0 when nothing was checked)."""
        return self.failing / self.checked if self.checked else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (documented in docs/contracts.md)."""
        return {
            "id": self.rule_id,
            "kind": self.kind,
            "columns": list(self.columns),
            "status": self.status,
            "passed": self.passed,
            "message": self.message,
            "expected": self.expected,
            "observed": self.observed,
            "checked": self.checked,
            "failing": self.failing,
            "failing_share": round(self.failing_share, 6),
            "mostly": self.mostly,
            "max_failing": self.max_failing,
            "examples": [e.to_dict() for e in self.examples],
            "approximate": self.approximate,
            "note": self.note,
        }


@dataclass
class RuleState:
    """Mergeable counts of one rule (mutable while being merged)."""

    checked: int = 0
    failing: int = 0
    examples: list[Example] = field(default_factory=list)
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    """Rule-specific mergeable facts (minimum seen, types seen, hashed keys ...)."""


class BatchContext:
    """One batch as a Polars frame, with typed columns and example helpers (per batch)."""

    def __init__(
        self,
        frame: pl.DataFrame,
        *,
        types: dict[str, str | None],
        key_columns: tuple[str, ...],
        masker: Masker,
        max_examples: int,
        protections: dict[str, str] | None = None,
        verified: dict[str, tuple[EntityType, ...]] | None = None,
    ) -> None:
        self.frame = frame
        self.protections = protections or {}
        """Anonymization action recorded in each column's Arrow metadata: a claim, anyone can write it."""
        self.verified = verified or {}
        """Columns whose recorded protection a valid seal proves, with the entities each vouches for."""
        self.rows = frame.height
        self.types = types
        self.key_columns = key_columns
        self.masker = masker
        self.max_examples = max_examples
        self._coerced: dict[str, Coerced] = {}

    def has(self, column: str) -> bool:
        """Whether the batch has ``column``."""
        return column in self.frame.columns

    def coerced(self, column: str) -> Coerced:
        """``column`` converted to its declared type (cached for the batch)."""
        if column not in self._coerced:
            self._coerced[column] = coerce(self.frame.get_column(column), self.types.get(column))
        return self._coerced[column]

    def examples(
        self, failing: pl.Series, column: str | None, values: pl.Series | None = None
    ) -> list[Example]:
        """Examples for the first failing rows (``failing`` is a boolean mask)."""
        if self.max_examples <= 0:
            return []
        rows = failing.fill_null(False).arg_true().head(self.max_examples).to_list()
        if values is None and column is not None:
            values = self.frame.get_column(column)
        return [self.example(row, column, None if values is None else values[row]) for row in rows]

    def example(self, row: int, column: str | None, value: Any) -> Example:
        """One example, its key and value masked as needed."""
        return Example(row, self.key_of(row), self.masker.show(column, value))

    def key_of(self, row: int) -> str | None:
        """The row's primary key as text (None without a primary key in the data)."""
        present = [c for c in self.key_columns if c in self.frame.columns]
        if not present:
            return None
        return "|".join(self.masker.key_part(c, self.frame.get_column(c)[row]) for c in present)


def shift(examples: list[Example], offset: int) -> list[Example]:
    """Examples renumbered by ``offset`` rows (the right side of a merge)."""
    return [Example(e.row + offset, e.key, e.value) for e in examples]


def merge_examples(left: list[Example], right: list[Example], offset: int, limit: int) -> list[Example]:
    """Keep the first ``limit`` examples of left then right (right renumbered)."""
    return (left + shift(right[: max(0, limit - len(left))], offset))[:limit]


class Rule(ABC):
    """One expectation of a contract. Instances are picklable (the Dask engine ships them)."""

    kind: str = ""

    def __init__(
        self,
        rule_id: str,
        columns: tuple[str, ...],
        expected: dict[str, Any],
        *,
        mostly: float = 1.0,
        max_failing: int | None = None,
        max_examples: int = 5,
        masker: Masker | None = None,
    ) -> None:
        self.rule_id = rule_id
        self.columns = columns
        self.expected = expected
        self.mostly = mostly
        self.max_failing = max_failing
        self.max_examples = max_examples
        self.masker = masker or Masker({}, frozenset())

    def show(self, column: str | None, value: Any) -> Any:
        """A value for ``observed``: numbers as they are, text masked where sensitive."""
        return self.masker.observed(column, value)

    # -- the three steps ------------------------------------------------------------------

    @abstractmethod
    def map(self, ctx: BatchContext) -> RuleState:
        """Count checked and failing rows of one batch."""

    def merge(self, left: RuleState, right: RuleState, offset: int) -> RuleState:
        """Add ``right`` (whose rows start at ``offset``) into ``left``."""
        left.checked += right.checked
        left.failing += right.failing
        left.examples = merge_examples(left.examples, right.examples, offset, self.max_examples)
        left.error = left.error or right.error
        self.merge_extra(left.extra, right.extra)
        return left

    def merge_extra(self, left: dict[str, Any], right: dict[str, Any]) -> None:  # noqa: B027 - optional hook
        """Merge rule-specific facts (default: none)."""

    def empty(self) -> RuleState:
        """The state of no rows."""
        return RuleState()

    def finalize(self, state: RuleState, rows: int) -> RuleResult:
        """Decide pass or fail from the merged counts."""
        if state.error is not None:
            return self.result(ERROR, f"could not evaluate: {state.error}", state)
        if self.within_tolerance(state.failing, state.checked):
            return self.result(PASS, self.pass_message(state), state)
        return self.result(FAIL, self.fail_message(state), state)

    # -- helpers for subclasses -------------------------------------------------------------

    def within_tolerance(self, failing: int, checked: int) -> bool:
        """Whether ``failing`` of ``checked`` rows is tolerated."""
        if self.max_failing is not None and failing > self.max_failing:
            return False
        if self.max_failing is not None and self.mostly >= 1.0:
            return True
        allowed = math.floor((1.0 - self.mostly) * checked + 1e-9)
        return failing <= allowed

    def observe(self, state: RuleState) -> dict[str, Any]:
        """Observed facts for the report (default: none beyond the counts)."""
        return {}

    def pass_message(self, state: RuleState) -> str:
        """Message of a passing rule."""
        if state.failing:
            return f"{state.failing} of {state.checked} rows fail, within tolerance"
        return f"all {state.checked} checked rows pass"

    def fail_message(self, state: RuleState) -> str:
        """Message of a failing rule."""
        share = state.failing / state.checked if state.checked else 0.0
        return f"{state.failing} of {state.checked} rows ({share:.2%}) break {self.describe()}"

    def describe(self) -> str:
        """The expectation in words."""
        return ", ".join(f"{k}={v}" for k, v in self.expected.items()) or self.kind

    def result(self, status: str, message: str, state: RuleState, **extra: Any) -> RuleResult:
        """Build the ``RuleResult`` for ``state``."""
        return RuleResult(
            rule_id=self.rule_id,
            kind=self.kind,
            columns=self.columns,
            status=status,
            message=message,
            expected=self.expected,
            observed=self.observe(state),
            checked=state.checked,
            failing=state.failing,
            mostly=self.mostly,
            max_failing=self.max_failing,
            examples=tuple(state.examples),
            **extra,
        )
