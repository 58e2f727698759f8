"""Uniqueness across a whole dataset, from mergeable per-batch state.

Exact uniqueness needs to remember every key seen. Each state therefore keeps the
sorted 64-bit hashes of its distinct keys with the row of each key's first
occurrence; ``merge`` intersects the right side's hashes with the left's (the right's
matches are duplicates, flagged at their first row in the right side), then unions
them. Counts and examples do not depend on how the engine groups batches.

Memory is bounded: when a state would hold more than ``cap`` distinct keys
(``settings.unique_cap``, 16 bytes each) it turns into HyperLogLog registers and the
duplicate count becomes ``rows - estimated distinct`` (about 1.6 % error on the
distinct count), reported with ``approximate: true`` and a note. Hash collisions
between different keys are possible but negligible below billions of keys (64-bit
hashes: about n^2 / 2^65 expected false duplicates).

Rows where any key column is null are not checked (SQL semantics); the primary-key
rule adds them as failures because a key must not be null.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import polars as pl

from mlward.data.contract.rules.interface import SKIPPED, BatchContext, Example, Rule, RuleResult, RuleState
from mlward.data.profile import HLL_P, hll_add, hll_estimate

_SEEDS = {"seed": 0x5EED}
"""A fixed Polars hash seed: equal keys hash equally in every worker process."""


class UniqueRule(Rule):
    """A column, or a combination of columns, holds no duplicate values."""

    def __init__(
        self,
        columns: tuple[str, ...],
        *,
        primary_key: bool = False,
        cap: int,
        optional: bool = False,
        **options: Any,
    ) -> None:
        expected: dict[str, Any]
        if primary_key:
            rule_id, kind, expected = "primary_key", "primary_key", {"primary_key": list(columns)}
        elif len(columns) == 1:
            rule_id, kind, expected = f"{columns[0]}.unique", "unique", {"unique": True}
        else:
            rule_id, kind, expected = f"unique[{','.join(columns)}]", "unique", {"unique": list(columns)}
        super().__init__(rule_id, columns, expected, **options)
        self.kind = kind
        self.primary_key = primary_key
        self.cap = cap
        self.optional = optional
        """The column may be absent (``required: false``): then the rule is skipped."""

    def _keys(self, ctx: BatchContext) -> tuple[pl.Series, pl.Series]:
        """The key hashes and the null-key mask of a batch (typed values, so CSV blocks agree)."""
        typed = [ctx.coerced(c).values for c in self.columns]
        nulls = typed[0].is_null()
        for series in typed[1:]:
            nulls = nulls | series.is_null()
        if len(typed) == 1:
            hashes = typed[0].hash(**_SEEDS)
        else:
            hashes = pl.DataFrame(typed).select(pl.struct(pl.all()).hash(**_SEEDS)).to_series()
        return hashes, nulls

    def map(self, ctx: BatchContext) -> RuleState:
        """Find duplicates within the batch and keep its distinct hashes."""
        missing = [c for c in self.columns if not ctx.has(c)]
        if missing and self.optional:
            state = self.empty()
            state.extra["absent"] = True
            return state
        if missing:
            return RuleState(error=f"column {missing[0]!r} is missing from the data")
        hashes, nulls = self._keys(ctx)
        rows = (~nulls).arg_true().to_numpy().astype(np.int64)
        values = hashes.to_numpy()[rows].astype(np.uint64)
        distinct, first = np.unique(values, return_index=True)
        duplicate = np.ones(len(values), dtype=bool)
        duplicate[first] = False
        flagged = rows[duplicate]
        failing = int(flagged.size)
        null_keys = int(nulls.sum()) if self.primary_key else 0
        examples: list[Example] = []
        if self.primary_key and null_keys:
            examples = [
                ctx.example(r, None, None) for r in nulls.arg_true().head(self.max_examples).to_list()
            ]
        wanted = self.max_examples - len(examples)
        examples += [ctx.example(int(r), None, self._value(ctx, int(r))) for r in flagged[:wanted]]
        examples.sort(key=lambda e: e.row)
        state = RuleState(
            checked=ctx.rows if self.primary_key else len(values),
            failing=failing + null_keys,
            examples=examples[: self.max_examples],
            extra={"hashes": distinct, "rows": rows[first], "hll": None, "null_keys": null_keys},
        )
        self._bound_memory(state.extra)
        return state

    def _value(self, ctx: BatchContext, row: int) -> str | None:
        if len(self.columns) == 1:
            return ctx.masker.show(self.columns[0], ctx.frame.get_column(self.columns[0])[row])
        parts = [ctx.masker.show(c, ctx.frame.get_column(c)[row]) for c in self.columns]
        return "|".join("" if p is None else p for p in parts)

    def empty(self) -> RuleState:
        """No keys seen."""
        return RuleState(
            extra={
                "hashes": np.empty(0, np.uint64),
                "rows": np.empty(0, np.int64),
                "hll": None,
                "null_keys": 0,
            }
        )

    def merge(self, left: RuleState, right: RuleState, offset: int) -> RuleState:
        """Union the key sets; keys of the right side already on the left are duplicates."""
        if left.error or right.error:
            left.error = left.error or right.error
            left.checked += right.checked
            return left
        lx, rx = left.extra, right.extra
        cross: list[Example] = []
        if lx["hll"] is None and rx["hll"] is None:
            seen = np.isin(rx["hashes"], lx["hashes"], assume_unique=True)
            dup_rows = np.sort(rx["rows"][seen]) + offset
            left.failing += int(seen.sum())
            cross = [Example(int(r), None, None) for r in dup_rows[: self.max_examples]]
            hashes = np.concatenate([lx["hashes"], rx["hashes"][~seen]])
            rows = np.concatenate([lx["rows"], rx["rows"][~seen] + offset])
            order = np.argsort(hashes, kind="stable")
            lx["hashes"], lx["rows"] = hashes[order], rows[order]
        else:
            self._to_hll(lx)
            self._to_hll(rx)
            np.maximum(lx["hll"], rx["hll"], out=lx["hll"])
        left.failing += right.failing
        left.checked += right.checked
        lx["null_keys"] += rx["null_keys"]
        lx["absent"] = lx.get("absent") or rx.get("absent")
        shifted = [Example(e.row + offset, e.key, e.value) for e in right.examples]
        merged = sorted(left.examples + shifted + cross, key=lambda e: e.row)
        left.examples = merged[: self.max_examples]
        self._bound_memory(lx)
        return left

    def _bound_memory(self, extra: dict[str, Any]) -> None:
        if extra["hll"] is None and len(extra["hashes"]) > self.cap:
            self._to_hll(extra)

    @staticmethod
    def _to_hll(extra: dict[str, Any]) -> None:
        if extra["hll"] is not None:
            return
        registers = np.zeros(1 << HLL_P, np.uint8)
        hll_add(registers, extra["hashes"])
        extra["hll"] = registers
        extra["hashes"] = np.empty(0, np.uint64)
        extra["rows"] = np.empty(0, np.int64)

    def finalize(self, state: RuleState, rows: int) -> RuleResult:
        """Exact counts, or the HyperLogLog estimate when the cap was reached."""
        extra = state.extra
        if extra.get("absent") and state.checked == 0 and state.error is None:
            return self.result(SKIPPED, f"optional column {self.columns[0]!r} is absent", state)
        if state.error is None and extra.get("hll") is not None:
            non_null = state.checked - (extra["null_keys"] if self.primary_key else 0)
            distinct = hll_estimate(extra["hll"])
            state.failing = max(0, round(non_null - distinct)) + extra["null_keys"]
            result = super().finalize(state, rows)
            note = (
                f"more than {self.cap} distinct keys: duplicates estimated with HyperLogLog "
                f"(about 1.6 % error on {round(distinct)} distinct keys); exact uniqueness was not verified "
                "(raise settings.unique_cap to check exactly)"
            )
            return replace(result, approximate=True, note=note)
        result = super().finalize(state, rows)
        if any(e.value is None and e.key is None for e in result.examples) and result.examples:
            note = "duplicates found across batches are listed by row number only"
            return replace(result, note=note)
        return result

    def observe(self, state: RuleState) -> dict[str, Any]:
        """Distinct keys and null keys seen."""
        extra = state.extra
        observed: dict[str, Any] = {"duplicates": state.failing - extra.get("null_keys", 0)}
        if extra.get("hll") is None and state.error is None:
            observed["distinct"] = len(extra.get("hashes", ()))
        if self.primary_key:
            observed["null_keys"] = extra.get("null_keys", 0)
        return observed

    def describe(self) -> str:
        """``unique (a, b)``."""
        what = "primary key" if self.primary_key else "uniqueness"
        return f"{what} of ({', '.join(self.columns)})"
