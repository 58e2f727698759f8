"""The protection rule: a column declared protected holds no raw PII any more.

``pii: EMAIL`` with ``protection: hash`` means the values were e-mail addresses and
must now be hashes. The rule runs the ``mlward.data.pii`` detectors of that entity
(every built-in detector when only ``sensitivity`` is declared) over every value:
the vectorized pre-filters pick candidates, the validators (Luhn, mod-97,
``phonenumbers`` ...) confirm them, and each confirmed cell is a failing row, shown
masked. When the data records the action that protected the column (Arrow field
metadata written by ``mlward data protect``) it must be the expected one.

Recorded metadata is a claim: anyone can write it. It proves nothing unless the
column's seal verifies under a workspace data key, decided by the PII scan's own
``verify_protection`` before the run. Format-preserving encryption (``fpe``) and
synthetic replacement (``fake``) produce values that look like real PII by design, so
only in a verified column are the entities its action produces (``vouched_entities``)
not counted as raw. Without keys, with a missing or broken seal, or after any edit,
content wins: the detected PII fails the rule, and an ``fpe`` / ``fake`` column in
which nothing is detected still cannot be verified and reports an error, which counts
as a failure (fail closed).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlward.data.contract.display import detectors
from mlward.data.contract.rules.column import ColumnRule
from mlward.data.contract.rules.interface import (
    ERROR,
    FAIL,
    PASS,
    BatchContext,
    Example,
    RuleResult,
    RuleState,
)
from mlward.data.pii.entities import EntityType
from mlward.data.pii.masking import mask_example
from mlward.data.pii.scanner import column_text, prefilter_mask
from mlward.data.pii.spans import find_hits

LOOKALIKE_ACTIONS = ("fpe", "fake")
"""Actions whose output is indistinguishable from raw PII."""


class ProtectedRule(ColumnRule):
    """No value of the column is raw PII of the declared entity (or of any entity)."""

    def __init__(self, column: str, entity: EntityType | None, protection: str, **options: Any) -> None:
        expected = {"pii": entity.value if entity else "any", "protection": protection}
        super().__init__(column, "protected", expected, **options)
        self.entity = entity
        self.protection = protection

    def check(self, ctx: BatchContext) -> RuleState:
        """Validate every pre-filter candidate; confirmed PII cells fail unless a valid seal vouches."""
        recorded = ctx.protections.get(self.column)
        vouched = ctx.verified.get(self.column)
        extra: dict[str, Any] = {
            "recorded": {recorded} if recorded else set(),
            "verified": vouched is not None,
        }
        text, _ = column_text(ctx.frame.get_column(self.column).to_arrow())
        if text is None:  # floats, booleans ...: cannot hold the entity's text
            return RuleState(extra=extra)
        chosen = [
            d for d in detectors()
            if (self.entity is None or d.entity == self.entity) and d.entity not in (vouched or ())
        ]  # fmt: skip
        hinted = frozenset({self.entity}) if self.entity else frozenset()
        present = text.is_not_null().to_numpy()
        candidates = np.zeros(text.len(), dtype=bool)
        for detector in chosen:
            candidates |= prefilter_mask(text, detector, detector.entity in hinted)
        candidates &= present
        failing_rows: list[int] = []
        examples: list[Example] = []
        values = text.to_list()
        for row in np.flatnonzero(candidates).tolist():
            hits = find_hits(values[row], chosen, hinted)
            if hits:
                failing_rows.append(row)
                if len(examples) < self.max_examples:
                    shown = mask_example(hits[0].span.entity, values[row])
                    examples.append(Example(row, ctx.key_of(row), shown))
        return RuleState(int(present.sum()), len(failing_rows), examples, extra=extra)

    def merge_extra(self, left: dict[str, Any], right: dict[str, Any]) -> None:
        """Union of the recorded protection actions; verified only if every batch says so."""
        super().merge_extra(left, right)
        left["recorded"] = left.get("recorded", set()) | right.get("recorded", set())
        if "verified" in right:
            left["verified"] = left.get("verified", True) and right["verified"]

    def finalize(self, state: RuleState, rows: int) -> RuleResult:
        """Raw PII fails; so does a recorded action other than the expected one, or an unproven lookalike."""
        recorded = state.extra.get("recorded", set())
        wrong = sorted(a for a in recorded if a != self.protection)
        if state.error is None and not state.extra.get("absent") and wrong:
            message = (
                f"column {self.column!r} was protected with {', '.join(wrong)}, expected {self.protection}"
            )
            return self.result(FAIL, message, state)
        judged = super().finalize(state, rows)
        if judged.status == PASS and self._unproven(state) and state.checked:
            message = (
                f"{self.protection} output looks like real data and {self.column!r} has no seal that "
                "verifies with the workspace data keys, so the protection cannot be verified"
            )
            return self.result(ERROR, message, state)
        return judged

    def _unproven(self, state: RuleState) -> bool:
        return self.protection in LOOKALIKE_ACTIONS and not state.extra.get("verified", False)

    def fail_message(self, state: RuleState) -> str:
        """Raw PII remains."""
        what = self.entity.value if self.entity else "PII"
        unproven = (
            " (recorded protection without a valid seal proves nothing)" if self._unproven(state) else ""
        )
        return (
            f"{state.failing} of {state.checked} values of {self.column!r} are raw {what} "
            f"despite protection {self.protection}{unproven}"
        )

    def observe(self, state: RuleState) -> dict[str, Any]:
        """The recorded protection action(s) and whether a valid seal proves them."""
        return {
            "recorded_protection": sorted(state.extra.get("recorded", set())),
            "seal_verified": bool(state.extra.get("verified", False)),
        }
