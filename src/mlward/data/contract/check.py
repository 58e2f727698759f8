"""The contract check as one map / merge / finalize computation.

``map`` converts a record batch to a Polars frame once and runs every rule on it; a
rule that raises is recorded as an error for that rule (a check that errors is a
failed check) with a message scrubbed of PII. ``merge`` folds rule states pairwise,
shifting the right side's row numbers by the left side's row count, and ``finalize``
judges each rule. The computation is picklable, so the Dask engine ships it to
workers unchanged and both engines return the same result.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import polars as pl
import pyarrow as pa

from mlward.data.contract.display import redact_text
from mlward.data.contract.result import ValidationResult
from mlward.data.contract.rules import Rule, RuleState, build_rules, masker_for
from mlward.data.contract.rules.interface import BatchContext
from mlward.data.contract.schema import Contract
from mlward.data.pii.entities import EntityType
from mlward.data.pii.scanner import protection_of
from mlward.engine.base import Computation


@dataclass
class CheckSummary:
    """Mergeable state of a whole check."""

    rows: int = 0
    states: list[RuleState] = field(default_factory=list)


def _error_text(exc: BaseException) -> str:
    # Library messages may quote cell values: keep one line and mask any PII in it.
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return redact_text(f"{type(exc).__name__}: {text}"[:300])


class ContractCheck(Computation[CheckSummary, ValidationResult]):
    """Validate batches against a contract."""

    def __init__(
        self,
        contract: Contract,
        *,
        name: str = "contract",
        source: str = "",
        now: dt.datetime | None = None,
        verified: dict[str, tuple[EntityType, ...]] | None = None,
    ) -> None:
        self.contract = contract
        self.verified = verified or {}
        """Columns whose protection a valid seal proves (``verify_protection``), found before the run."""
        self.name = name
        self.source = source
        self.now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
        self.rules: list[Rule] = build_rules(contract, now=self.now)
        self.masker = masker_for(contract)
        self.types: dict[str, str | None] = {column: spec.type for column, spec in contract.columns.items()}
        self.engine_name = "local"

    def map(self, batch: pa.RecordBatch) -> CheckSummary:
        """Run every rule on one batch."""
        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        protections = {f.name: p for f in batch.schema if (p := protection_of(f)) is not None}
        ctx = BatchContext(
            frame,
            types=self.types,
            key_columns=tuple(self.contract.primary_key),
            masker=self.masker,
            max_examples=self.contract.settings.examples,
            protections=protections,
            verified=self.verified,
        )
        states = []
        for rule in self.rules:
            try:
                states.append(rule.map(ctx))
            except Exception as exc:  # any failure of one rule fails that rule, not the run
                states.append(RuleState(error=_error_text(exc)))
        return CheckSummary(batch.num_rows, states)

    def merge(self, left: CheckSummary, right: CheckSummary) -> CheckSummary:
        """Fold ``right`` into ``left`` rule by rule (in place: the engine owns summaries)."""
        for index, rule in enumerate(self.rules):
            left.states[index] = rule.merge(left.states[index], right.states[index], left.rows)
        left.rows += right.rows
        return left

    def empty(self) -> CheckSummary:
        """The summary of no rows."""
        return CheckSummary(0, [rule.empty() for rule in self.rules])

    def finalize(self, summary: CheckSummary) -> ValidationResult:
        """Judge every rule."""
        results = []
        for rule, state in zip(self.rules, summary.states, strict=True):
            results.append(rule.finalize(state, summary.rows))
        notes = []
        if summary.rows == 0:
            notes.append("the data has no rows")
        return ValidationResult(
            contract=self.name,
            source=self.source,
            rows=summary.rows,
            rules=tuple(results),
            engine=self.engine_name,
            checked_at=self.now.replace(microsecond=0).isoformat() + "Z",
            notes=tuple(notes),
        )
