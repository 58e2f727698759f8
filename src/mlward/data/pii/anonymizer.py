"""Apply a PII policy to tables: ``Anonymizer`` (sklearn-style), ``protect`` and ``reveal``.

``fit`` scans the data and decides one plan per column: an explicit ``by_column``
rule, else the ``by_entity`` rule (or ``default_action``) of the entity actually found
-- never another entity's. A column holding one entity gets that entity's rule; a
column holding several gets, cell by cell, the rule of the entity detected in the cell
(``cells`` mode); free text is transformed span by span with each span's own entity
rule, and cells the detectors cannot vouch for follow the policy's ``free_text``
fallback (see ``freetext``). ``transform`` applies the plan, records each protected
column's action (never a key) in the Arrow field metadata, which ``reveal`` uses to
reverse tokens, FF3-1 and AES-GCM, and seals each protected column with the data key
(see ``seal``): later scans trust the recorded protection only where the seal
verifies. In free text, FF3-1 rules become tokens: encrypted digits cannot be found
again inside prose, ``tok_`` tokens can.

``reveal`` (in ``reveal``) is the plain domain function; the permission check
(``pii:reveal``) and the audit event are ``service.reveal_dataset``'s, which every door calls.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from mlward.core.errors import ConfigError
from mlward.crypto.encryption import DataKeys
from mlward.data.io import open_dataset, to_arrow
from mlward.data.pii.anonymizers import ValueAction, build_action
from mlward.data.pii.detectors import Detector, default_detectors
from mlward.data.pii.discover import scan
from mlward.data.pii.entities import EntityType
from mlward.data.pii.freetext import TextProtector, TextStats, text_warning
from mlward.data.pii.hints import hints_for
from mlward.data.pii.policy import ActionSpec, FpeAction, PiiPolicy, RedactAction, TokenizeAction
from mlward.data.pii.result import PiiScanResult
from mlward.data.pii.reveal import as_data_keys, key_id, reveal, same_kind
from mlward.data.pii.scanner import PROTECTION_METADATA_KEY, prefilter_masks
from mlward.data.pii.seal import SEAL_METADATA_KEY, Sealer
from mlward.data.pii.spans import find_hits
from mlward.data.pii.writers import write_tables
from mlward.engine.base import Engine, ProgressCallback


@dataclass(frozen=True)
class ColumnPlan:
    """What ``transform`` does to one column."""

    column: str
    """Column name."""
    mode: Literal["column", "cells", "text"]
    """Whole values with one rule, whole values with each cell's entity rule, or spans."""
    rules: dict[EntityType | None, ActionSpec]
    """Rule per entity (cells and text modes) or the column's single rule under its entity."""
    source: str
    """``by_column``, ``by_entity`` or ``default_action``."""
    primary: EntityType | None = None
    """Cells mode: the entity whose rule applies to cells where no entity is detected."""


@dataclass(frozen=True)
class ProtectResult:
    """Result of ``protect``."""

    rows: int
    """Rows written."""
    actions: dict[str, str]
    """Action per protected column (``notes: text(hash,tokenize)``)."""
    output: str | None
    """Where the protected data was written."""
    scan: PiiScanResult
    """The scan the plan came from."""
    warnings: tuple[str, ...] = field(default_factory=tuple)
    """Things a user should know (values masked because too short for FF3-1...)."""


class Anonymizer:
    """Scan, then protect: ``Anonymizer(policy, keys).fit(table).transform(table)``."""

    def __init__(
        self,
        policy: PiiPolicy | dict[str, Any] | None = None,
        keys: bytes | DataKeys | None = None,
        *,
        detectors: tuple[Detector, ...] | None = None,
        engine: Engine | None = None,
    ) -> None:
        if policy is None:
            policy = PiiPolicy.default()
        self.policy = policy if isinstance(policy, PiiPolicy) else PiiPolicy.model_validate(policy)
        self.keys = as_data_keys(keys)
        self.detectors = detectors or default_detectors()
        self.engine = engine
        self._actions: dict[str, ValueAction] = {}
        self._text_stats: dict[str, TextStats] = {}

    # -- fit ----------------------------------------------------------------------------

    def fit(self, data: Any, y: Any = None) -> Anonymizer:
        """Scan ``data`` (table or path) and plan every column."""
        keys = [self.keys] if self.keys is not None else None
        return self.fit_scan(scan(data, engine=self.engine, detectors=self.detectors, keys=keys))

    def fit_scan(self, result: PiiScanResult) -> Anonymizer:
        """Plan from an existing scan result."""
        self.scan_ = result
        self.plan_: dict[str, ColumnPlan] = {}
        self._text_stats = {}
        for column in result.columns:
            plan = self._plan(column.name, result)
            if plan is not None:
                self.plan_[column.name] = plan
        return self

    def _plan(self, name: str, result: PiiScanResult) -> ColumnPlan | None:
        policy = self.policy
        column = result.column(name)
        if name in policy.by_column:
            rule = policy.by_column[name]
            if (
                column.kind == "free_text"
                and column.entities
                and all(e.mode == "text" for e in column.entities)
            ):
                return ColumnPlan(name, "text", self._text_rules(rule), "by_column")
            primary = column.primary.entity if column.primary else None
            return ColumnPlan(name, "column", {primary: rule}, "by_column")
        confident = [e for e in column.entities if e.confidence >= policy.min_confidence]
        if not confident or column.protected:
            # A recorded protection counts only when its seal verified (scan with the key).
            return None
        if all(e.mode == "text" for e in confident):
            return ColumnPlan(name, "text", self._text_rules(None), "by_entity")
        # The values *are* these entities; entities seen only as spans inside some cells
        # (a person's name in a street name) never decide what a whole cell becomes.
        whole = [e.entity for e in confident if e.mode == "column"]
        chosen = {e: policy.by_entity.get(e, policy.default_action) for e in whole}
        entity = whole[0]
        source = "by_entity" if entity in policy.by_entity else "default_action"
        if len(chosen) == 1:
            entity_rule = chosen[entity]
            return None if entity_rule is None else ColumnPlan(name, "column", {entity: entity_rule}, source)
        # Several entities (mixed rows): each cell gets the rule of the entity found in it.
        rules: dict[EntityType | None, ActionSpec] = {
            e: RedactAction() if r.action == "drop" else r for e, r in chosen.items() if r is not None
        }
        if entity not in rules:
            return None if not rules else ColumnPlan(name, "cells", rules, source, None)
        return ColumnPlan(name, "cells", rules, source, entity)

    def _text_rules(self, override: ActionSpec | None) -> dict[EntityType | None, ActionSpec]:
        rules: dict[EntityType | None, ActionSpec] = {}
        for entity in EntityType:
            rule = override or self.policy.by_entity.get(entity, self.policy.default_action)
            if rule is None:
                continue
            if isinstance(rule, FpeAction):
                rule = TokenizeAction.model_validate({"domain": rule.domain})
            elif rule.action in ("drop", "generalize"):
                rule = RedactAction()
            rules[entity] = rule
        return rules

    # -- transform ----------------------------------------------------------------------

    def _action(self, rule: ActionSpec) -> ValueAction:
        cache_key = rule.model_dump_json()
        if cache_key not in self._actions:
            self._actions[cache_key] = build_action(rule, self.keys)
        return self._actions[cache_key]

    def transform(self, data: Any) -> Any:
        """Protect ``data`` (pandas, Polars or Arrow; the same kind comes back)."""
        if not hasattr(self, "plan_"):
            self.fit(data)
        table = to_arrow(data)
        return same_kind(data, self.transform_table(table))

    def fit_transform(self, data: Any, y: Any = None) -> Any:
        """``fit`` then ``transform``."""
        return self.fit(data).transform(data)

    def transform_table(self, table: pa.Table) -> pa.Table:
        """Protect one Arrow table with the fitted plan and seal its protected columns."""
        protected = self.protect_table(table)
        sealer = self.sealer(protected.schema)
        sealer.update(protected)
        metadata = dict(protected.schema.metadata or {})
        metadata.update(sealer.metadata())
        return protected.replace_schema_metadata(metadata or None)

    def sealer(self, schema: pa.Schema) -> Sealer:
        """A ``Sealer`` for the columns this plan protects or that came in verified."""
        verified = {c.name for c in self.scan_.columns if c.protection_verified}
        columns = [n for n in schema.names if n in self.plan_ or n in verified]
        return Sealer(self.keys, columns, PROTECTION_METADATA_KEY)

    def protect_table(self, table: pa.Table) -> pa.Table:
        """Protect one Arrow table (or batch of a larger dataset), without sealing it."""
        fields, arrays = [], []
        for field_, array in zip(table.schema, table.columns, strict=True):
            plan = self.plan_.get(field_.name)
            if plan is None:
                fields.append(field_)
                arrays.append(array)
                continue
            if plan.mode == "column":
                ((entity, rule),) = plan.rules.items()
                if rule.action == "drop":
                    continue
                if rule.action == "keep":
                    fields.append(field_)
                    arrays.append(array)
                    continue
                new = self._action(rule).apply_array(array, entity)
                meta: dict[str, Any] = {"action": rule.action, "params": self._action(rule).params()}
            elif plan.mode == "cells":
                new = self._transform_cells(field_.name, array, plan)
                meta = {"action": "cells", "rules": _rules_dict(plan)}
            else:
                new = self._transform_text(field_.name, array, plan)
                meta = {"action": "text", "rules": _rules_dict(plan)}
            meta.update({"entity": _entity_name(plan), "mode": plan.mode, "key_id": self._key_id()})
            metadata = dict(field_.metadata or {})
            metadata[PROTECTION_METADATA_KEY] = json.dumps(meta, sort_keys=True).encode()
            fields.append(pa.field(field_.name, pa.string(), nullable=True, metadata=metadata))
            arrays.append(new)
        schema_metadata = {k: v for k, v in (table.schema.metadata or {}).items() if k != SEAL_METADATA_KEY}
        return pa.Table.from_arrays(arrays, schema=pa.schema(fields, metadata=schema_metadata or None))

    def _key_id(self) -> str | None:
        return key_id(self.keys) if self.keys is not None else None

    def _detectors_for(self, name: str) -> tuple[frozenset[EntityType], list[Detector]]:
        hints = hints_for(name)
        return hints, [d for d in self.detectors if not d.hint_only or d.entity in hints]

    def _transform_cells(self, name: str, array: pa.ChunkedArray | pa.Array, plan: ColumnPlan) -> pa.Array:
        """Each cell with the rule of the entity that covers it, else the column's entity rule."""
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        text = (
            array.cast(pa.string())
            if not pa.types.is_dictionary(array.type)
            else array.cast(array.type.value_type).cast(pa.string())
        )
        hints, detectors = self._detectors_for(name)
        encoded = pc.dictionary_encode(text)
        distinct = encoded.dictionary.to_pylist()
        entities = [self._cell_entity(value, detectors, hints, plan) for value in distinct]
        cache: dict[int, str | None] = {}
        out: list[str | None] = []
        for index in encoded.indices.to_pylist():
            if index is None:
                out.append(None)
                continue
            entity = entities[index]
            rule = plan.rules.get(entity)
            if rule is None or rule.action == "keep":
                out.append(distinct[index])
                continue
            action = self._action(rule)
            if not action.deterministic:
                out.append(action.apply(distinct[index], entity))
                continue
            if index not in cache:
                cache[index] = action.apply(distinct[index], entity)
            out.append(cache[index])
        return pa.array(out, pa.string())

    def _cell_entity(
        self, value: str, detectors: list[Detector], hints: frozenset[EntityType], plan: ColumnPlan
    ) -> EntityType | None:
        stripped = value.strip()
        hits = [h for h in find_hits(stripped, detectors, hints) if h.span.entity in plan.rules]
        if hits:
            widest = max(hits, key=lambda h: h.span.end - h.span.start)
            if (widest.span.end - widest.span.start) * 2 >= len(stripped):
                return widest.span.entity
        return plan.primary

    def _transform_text(self, name: str, array: pa.ChunkedArray | pa.Array, plan: ColumnPlan) -> pa.Array:
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        series = pl.from_arrow(array.cast(pa.string()))
        assert isinstance(series, pl.Series)
        hints, detectors = self._detectors_for(name)
        masks = prefilter_masks(series, detectors, hints)
        protector = TextProtector(
            hints,
            plan.rules,
            lambda rule, value, entity: self._action(rule).apply(value, entity),
            self.policy.free_text,
        )
        out: list[str | None] = []
        for row, text in enumerate(series.to_list()):
            if text is None:
                out.append(None)
                continue
            active = [d for d, mask in zip(detectors, masks, strict=True) if mask[row]]
            out.append(protector.protect(text, active))
        stats = self._text_stats.setdefault(name, TextStats())
        for key in ("cells", "spans", "doubtful", "redacted_cells"):
            setattr(stats, key, getattr(stats, key) + getattr(protector.stats, key))
        stats.reasons.update(protector.stats.reasons)
        return pa.array(out, pa.string())

    def warnings(self) -> list[str]:
        """Things the user should know about the transforms run so far."""
        out = []
        for action in self._actions.values():
            too_short = getattr(action, "too_short", 0)
            if too_short:
                out.append(f"{too_short} distinct values too short for FF3-1 were fully masked instead")
        for name, stats in self._text_stats.items():
            if (warning := text_warning(name, stats, self.policy.free_text)) is not None:
                out.append(warning)
        return out

    # -- reveal -------------------------------------------------------------------------

    def reveal(self, data: Any, columns: list[str] | None = None) -> Any:
        """Reverse tokenize / fpe / encrypt on ``data``; see :func:`reveal`."""
        if self.keys is None:
            raise ConfigError("revealing needs the workspace data key")
        return reveal(data, self.policy, self.keys, columns=columns)


def _rules_dict(plan: ColumnPlan) -> dict[str, Any]:
    return {(k.value if k else "default"): v.model_dump() for k, v in plan.rules.items()}


def _entity_name(plan: ColumnPlan) -> str | None:
    if plan.mode == "cells":
        return plan.primary.value if plan.primary else None
    if plan.mode == "text":
        return None
    (entity,) = plan.rules
    return entity.value if entity else None


def _protected_batches(
    anonymizer: Anonymizer,
    path: str | os.PathLike[str],
    progress: ProgressCallback | None,
    sealers: list[Sealer],
) -> Iterator[pa.Table]:
    dataset = open_dataset(path)
    batches = (pa.Table.from_batches([batch]) for batch in dataset.batches())
    empty = True
    for table in batches:
        protected = anonymizer.protect_table(table)
        if empty:
            sealers.append(anonymizer.sealer(protected.schema))
        empty = False
        sealers[0].update(protected)
        yield protected
        if progress is not None:
            progress(table.num_rows)
    if empty:
        protected = anonymizer.protect_table(dataset.schema().empty_table())
        sealers.append(anonymizer.sealer(protected.schema))
        sealers[0].update(protected)
        yield protected


def protect(
    data_or_path: Any,
    policy: PiiPolicy | dict[str, Any] | None,
    keys: bytes | DataKeys | None,
    output: str | os.PathLike[str] | None = None,
    *,
    engine: Engine | None = None,
    progress: ProgressCallback | None = None,
) -> tuple[ProtectResult, Any]:
    """Scan and protect a table or dataset; write it to ``output`` if given.

    Returns the result and the protected data: the protected table for in-memory input,
    ``None`` for paths (they are streamed batch by batch to ``output``, which is then
    required). Parquet output keeps the protection metadata; CSV and JSONL do not.
    ``progress`` is told how many rows were protected, batch by batch.
    """
    anonymizer = Anonymizer(policy, keys, engine=engine)
    is_path = isinstance(data_or_path, str | os.PathLike)
    if is_path and output is None:
        raise ConfigError("protecting a dataset on disk needs an output path")
    anonymizer.fit(data_or_path)
    protected: Any = None
    if is_path and output is not None:
        sealers: list[Sealer] = []
        batches = _protected_batches(anonymizer, data_or_path, progress, sealers)
        rows = write_tables(batches, output, footer=lambda: sealers[0].metadata() if sealers else {})
    else:
        table = anonymizer.transform_table(to_arrow(data_or_path))
        rows = table.num_rows
        if output is not None:
            write_tables([table], output)
        protected = same_kind(data_or_path, table)
    actions = {
        name: (
            f"{plan.mode}({','.join(sorted({r.action for r in plan.rules.values()}))})"
            if plan.mode in ("text", "cells")
            else next(iter(plan.rules.values())).action
        )
        for name, plan in anonymizer.plan_.items()
    }
    warnings = tuple(anonymizer.warnings())
    result = ProtectResult(rows, actions, str(output) if output else None, anonymizer.scan_, warnings)
    return result, protected
