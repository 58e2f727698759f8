"""PII discovery as a map / merge / finalize computation.

``map`` turns one record batch into per-column tallies:

1. every detector's pre-filter runs vectorized over the whole column (Polars regex);
   the number of candidate cells is counted on every cell;
2. validators run in Python on an evenly spaced sample of the candidates (adaptive:
   256 cells, up to 1024 where the column is mixed or free text without a find yet;
   ``sample_cells`` fixes the cap, 0 validates every candidate), so counts stay
   honest: a report says how many cells were validated and estimates shares as
   candidates/non-null x matched/validated;
3. tallies keep masked examples and the first cell findings with batch-local rows.

``merge`` adds tallies and shifts the right side's row numbers by the left side's row
count (engines merge in partition order), and ``finalize`` applies the column-level
rules (see ``_entity_report``). The computation is picklable, so the Dask engine ships
it to workers unchanged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import pyarrow as pa

from mlward.data.pii.detectors import Detector, Span, default_detectors
from mlward.data.pii.detectors.interface import polars_pattern
from mlward.data.pii.entities import EntityType
from mlward.data.pii.hints import hints_for
from mlward.data.pii.masking import mask_example
from mlward.data.pii.ner import NerRecognizer
from mlward.data.pii.result import NOT_SCANNED, CellFinding, ColumnReport, EntityReport, PiiScanResult
from mlward.data.pii.spans import find_hits
from mlward.engine.base import Computation

PROTECTION_METADATA_KEY = b"mlward.pii"
"""Arrow field metadata key the anonymizer writes (JSON of the action applied)."""
INITIAL_SAMPLE = 256
MAX_SAMPLE = 1024


@dataclass
class EntityTally:
    """Mergeable counts for one entity in one column."""

    counted: int = 0
    strong: int = 0
    whole: int = 0
    examples: list[str] = field(default_factory=list)
    findings: list[tuple[int, int, int, str]] = field(default_factory=list)


@dataclass
class ColumnTally:
    """Mergeable counts for one column."""

    dtype: str
    kind: str = "structured"
    rows: int = 0
    non_null: int = 0
    candidates: int = 0
    validated: int = 0
    text_cells: int = 0
    protection: str | None = None
    entities: dict[EntityType, EntityTally] = field(default_factory=dict)


@dataclass
class ScanTally:
    """Mergeable summary of a whole batch / partition / dataset."""

    rows: int = 0
    columns: dict[str, ColumnTally] = field(default_factory=dict)


@dataclass(frozen=True)
class ScanSettings:
    """Thresholds and caps of a scan (recorded in the result)."""

    sample_cells: int | None = None
    """Validated candidates per column and batch: None adaptive, 0 all, N at most N."""
    min_share: float = 0.5
    """Share of cells a column needs to be classified without a name hint."""
    min_share_hinted: float = 0.3
    """Same, when the column name suggests the entity."""
    min_text_share: float = 0.001
    """Share of free-text cells with a counted span for the entity to be listed."""
    max_examples: int = 5
    """Masked examples kept per column and entity."""
    max_findings: int = 20
    """Cell findings kept per column and entity."""


def protection_of(field_: pa.Field) -> str | None:
    """The anonymization action recorded in a field's metadata, if any."""
    raw = (field_.metadata or {}).get(PROTECTION_METADATA_KEY)
    if raw is None:
        return None
    try:
        return str(json.loads(raw)["action"])
    except (ValueError, KeyError, TypeError):
        return "unknown"


def column_text(array: pa.Array | pa.ChunkedArray) -> tuple[pl.Series | None, bool]:
    """The column as stripped text (None for types that cannot hold PII text), numeric?"""
    kind = array.type
    if pa.types.is_dictionary(kind):
        array = array.cast(kind.value_type)
        kind = array.type
    series = pl.from_arrow(array)
    assert isinstance(series, pl.Series)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return series.str.strip_chars(), False
    if pa.types.is_integer(kind):
        return series.cast(pl.String), True
    if pa.types.is_date(kind) or pa.types.is_timestamp(kind):
        return series.cast(pl.Date).cast(pl.String), True
    return None, False


def _may_hold_text(kind: pa.DataType) -> bool:
    """Whether a type ``column_text`` cannot read might still hold PII (bytes, nested values).

    Floats, decimals, booleans, times and durations cannot spell a name or an e-mail;
    anything else left unread (``binary`` from undecodable text, lists, structs, maps,
    unions, extension types) is reported as not scanned, never as clean.
    """
    cannot = (
        pa.types.is_floating, pa.types.is_decimal, pa.types.is_boolean, pa.types.is_null,
        pa.types.is_time, pa.types.is_duration, pa.types.is_interval,
    )  # fmt: skip
    return not any(check(kind) for check in cannot)


class PiiScan(Computation[ScanTally, PiiScanResult]):
    """The PII scan computation (picklable; runs on the local and Dask engines)."""

    def __init__(
        self,
        *,
        detectors: tuple[Detector, ...] | None = None,
        settings: ScanSettings | None = None,
        columns: tuple[str, ...] | None = None,
        ner: NerRecognizer | None = None,
        source: str = "",
    ) -> None:
        self.detectors = detectors or default_detectors()
        self.settings = settings or ScanSettings()
        self.columns = columns
        self.ner = ner
        self.source = source

    # -- map ---------------------------------------------------------------------------

    def map(self, batch: pa.RecordBatch) -> ScanTally:
        """Tally every selected column of one batch."""
        tally = ScanTally(rows=batch.num_rows)
        for index, field_ in enumerate(batch.schema):
            if self.columns is not None and field_.name not in self.columns:
                continue
            tally.columns[field_.name] = self._map_column(field_, batch.column(index))
        return tally

    def _map_column(self, field_: pa.Field, array: pa.Array) -> ColumnTally:
        tally = ColumnTally(dtype=str(field_.type), rows=len(array), protection=protection_of(field_))
        series, numeric = column_text(array)
        if series is None:
            tally.non_null = len(array) - array.null_count
            tally.kind = NOT_SCANNED if tally.non_null and _may_hold_text(field_.type) else "skipped"
            return tally
        present = (series.is_not_null() & (series.str.len_bytes() > 0)).to_numpy()
        tally.non_null = int(present.sum())
        if not tally.non_null:
            return tally
        if not numeric:
            spaced = (series.str.count_matches(r"\s+") >= 2).fill_null(False).to_numpy()
            tally.text_cells = int((spaced & present).sum())
        text_like = tally.text_cells * 2 >= tally.non_null
        tally.kind = "free_text" if text_like else "structured"
        # A column that claims protection is read as text and validated cell by cell:
        # whatever personal data is left in it is a leak, even in one cell in a thousand
        # (a redacted-whole free-text column no longer looks like prose).
        claimed = tally.protection is not None
        hints = hints_for(field_.name)
        applicable = self._applicable(hints, text_like or claimed, numeric)
        candidates = _candidates(series, present, applicable, hints)
        tally.candidates = len(candidates)
        if not len(candidates):
            return tally
        cap = 0 if claimed else self.settings.sample_cells
        first = _evenly(candidates, len(candidates) if cap == 0 else (cap or INITIAL_SAMPLE))
        self._validate(series, first, applicable, hints, tally)
        # Validate more where the first sample is inconclusive: a mixed column, or free
        # text where nothing turned up yet (rare entities hide in prose).
        inconclusive = _mixed(tally) or (text_like and not tally.entities)
        if cap is None and len(first) < len(candidates) and inconclusive:
            more = np.setdiff1d(_evenly(candidates, MAX_SAMPLE), first, assume_unique=True)
            self._validate(series, more, applicable, hints, tally)
        return tally

    def _applicable(self, hints: frozenset[EntityType], text_like: bool, numeric: bool) -> list[Detector]:
        """Detectors that can count in this column, hinted ones first."""
        chosen = []
        for detector in self.detectors:
            hinted = detector.entity in hints
            if (numeric and not detector.numeric) or (detector.hint_only and not hinted):
                continue
            if detector.needs_evidence and not hinted and not text_like:
                continue
            chosen.append(detector)
        chosen.sort(key=lambda d: d.entity not in hints)
        return chosen

    def _validate(
        self,
        series: pl.Series,
        rows: np.ndarray,
        applicable: list[Detector],
        hints: frozenset[EntityType],
        tally: ColumnTally,
    ) -> None:
        cells = series.gather(rows)
        texts = cells.to_list()
        masks = prefilter_masks(cells, applicable, hints)
        extra: list[list[Span]] = (
            self.ner.recognize(texts) if self.ner is not None and tally.kind == "free_text" else []
        )
        settings = self.settings
        for position, (row, text) in enumerate(zip(rows.tolist(), texts, strict=True)):
            detectors = [d for d, mask in zip(applicable, masks, strict=True) if mask[position]]
            ner_spans = extra[position] if extra else ()
            tally.validated += 1
            seen: set[EntityType] = set()
            for hit in find_hits(text, detectors, hints, ner_spans):
                span = hit.span
                entry = tally.entities.setdefault(span.entity, EntityTally())
                if len(entry.findings) < settings.max_findings:
                    masked = mask_example(span.entity, text[span.start : span.end])
                    entry.findings.append((row, span.start, span.end, masked))
                if span.entity in seen:
                    continue
                seen.add(span.entity)
                entry.counted += 1
                entry.strong += hit.strong
                entry.whole += (span.end - span.start) * 2 >= len(text)
                if len(entry.examples) < settings.max_examples:
                    entry.examples.append(mask_example(span.entity, text[span.start : span.end]))

    # -- merge / finalize -----------------------------------------------------------------

    def merge(self, left: ScanTally, right: ScanTally) -> ScanTally:
        """Add ``right`` into ``left`` (rows of ``right`` come after those of ``left``)."""
        for name, theirs in right.columns.items():
            mine = left.columns.get(name)
            if mine is None:
                mine = left.columns[name] = ColumnTally(
                    dtype=theirs.dtype, kind=theirs.kind, protection=theirs.protection
                )
            _merge_column(mine, theirs, left.rows, self.settings)
        left.rows += right.rows
        return left

    def empty(self) -> ScanTally:
        """The tally of no rows."""
        return ScanTally()

    def finalize(self, summary: ScanTally) -> PiiScanResult:
        """Apply the column rules and build the result."""
        columns = tuple(self._column_report(name, tally) for name, tally in summary.columns.items())
        return PiiScanResult(
            source=self.source,
            rows=summary.rows,
            columns=columns,
            settings={
                "sample_cells": self.settings.sample_cells,
                "min_share": self.settings.min_share,
                "min_share_hinted": self.settings.min_share_hinted,
                "min_text_share": self.settings.min_text_share,
            },
        )

    def _column_report(self, name: str, tally: ColumnTally) -> ColumnReport:
        hints = hints_for(name)
        reports = [
            report
            for entity, entry in tally.entities.items()
            if (report := _entity_report(entity, entry, tally, entity in hints, self.settings))
        ]
        reports.sort(key=lambda r: (r.confidence, r.share), reverse=True)
        listed = {r.entity for r in reports}
        findings = tuple(
            CellFinding(row, name, entity, start, end, masked)
            for entity, entry in tally.entities.items()
            if entity in listed
            for row, start, end, masked in entry.findings
        )
        if tally.kind == "free_text" and not reports and tally.text_cells * 2 < tally.non_null:
            kind = "structured"
        else:
            kind = tally.kind
        return ColumnReport(
            name=name,
            dtype=tally.dtype,
            kind=kind,
            rows=tally.rows,
            non_null=tally.non_null,
            cells_candidate=tally.candidates,
            cells_validated=tally.validated,
            entities=tuple(reports),
            findings=tuple(sorted(findings, key=lambda f: (f.row, f.start))),
            protection=tally.protection,
        )


def _prefilter_expr(detector: Detector, hinted: bool) -> pl.Expr:
    pattern = (detector.hinted_prefilter if hinted else None) or detector.prefilter
    expr = pl.col("cell").str.contains(polars_pattern(pattern))
    context = detector.context_prefilter
    if detector.needs_evidence and not hinted and context:
        expr = expr & pl.col("cell").str.contains(polars_pattern(context))
    return expr.fill_null(False)


def prefilter_mask(cells: pl.Series, detector: Detector, hinted: bool) -> np.ndarray:
    """Which ``cells`` the detector's pre-filter (and context pre-filter) selects."""
    frame = pl.DataFrame({"cell": cells})
    return frame.select(_prefilter_expr(detector, hinted))[:, 0].to_numpy()


def prefilter_masks(
    cells: pl.Series, detectors: list[Detector], hints: frozenset[EntityType]
) -> list[np.ndarray]:
    """Every detector's pre-filter mask over ``cells``, in one Polars query.

    One query instead of one call per detector: on small samples the per-call overhead,
    not the matching, dominates.
    """
    if not detectors:
        return []
    frame = pl.DataFrame({"cell": cells}).select(
        _prefilter_expr(d, d.entity in hints).alias(str(i)) for i, d in enumerate(detectors)
    )
    return [column.to_numpy() for column in frame.get_columns()]


def _candidates(
    series: pl.Series, present: np.ndarray, detectors: list[Detector], hints: frozenset[EntityType]
) -> np.ndarray:
    """Rows any pre-filter selects, counted over every cell.

    Each detector only looks at the rows no earlier detector selected, so in a column
    that is all e-mails the other detectors scan almost nothing. Digit-bound detectors
    skip rows without a digit.
    """
    open_rows = present.copy()
    digits = series.str.contains("[0-9]").fill_null(False).to_numpy()
    for detector in detectors:
        todo = open_rows & digits if detector.needs_digit else open_rows
        count = int(todo.sum())
        if not count:
            continue
        if count * 2 > len(series):
            hit = prefilter_mask(series, detector, detector.entity in hints) & todo
        else:
            rows = np.flatnonzero(todo)
            hit = np.zeros(len(series), dtype=bool)
            hit[rows] = prefilter_mask(series.gather(rows), detector, detector.entity in hints)
        open_rows &= ~hit
    return np.flatnonzero(present & ~open_rows)


def _evenly(candidates: np.ndarray, count: int) -> np.ndarray:
    if count >= len(candidates):
        return candidates
    positions = np.unique(np.linspace(0, len(candidates) - 1, count).astype(np.int64))
    return candidates[positions]


def _mixed(tally: ColumnTally) -> bool:
    """Whether no entity clearly holds or clearly misses the validated cells."""
    if not tally.validated:
        return False
    return any(0.05 < e.counted / tally.validated < 0.95 for e in tally.entities.values())


def _merge_column(mine: ColumnTally, theirs: ColumnTally, offset: int, settings: ScanSettings) -> None:
    mine.rows += theirs.rows
    mine.non_null += theirs.non_null
    mine.candidates += theirs.candidates
    mine.validated += theirs.validated
    mine.text_cells += theirs.text_cells
    if NOT_SCANNED in (mine.kind, theirs.kind):
        mine.kind = NOT_SCANNED  # unscanned cells in any batch leave the column unscanned
    elif mine.kind != theirs.kind:
        mine.kind = "free_text" if mine.text_cells * 2 >= mine.non_null else "structured"
    mine.protection = mine.protection or theirs.protection
    for entity, entry in theirs.entities.items():
        target = mine.entities.setdefault(entity, EntityTally())
        target.counted += entry.counted
        target.strong += entry.strong
        target.whole += entry.whole
        target.examples = (target.examples + entry.examples)[: settings.max_examples]
        shifted = [(row + offset, start, end, masked) for row, start, end, masked in entry.findings]
        target.findings = (target.findings + shifted)[: settings.max_findings]


def _entity_report(
    entity: EntityType,
    entry: EntityTally,
    tally: ColumnTally,
    hinted: bool,
    settings: ScanSettings,
) -> EntityReport | None:
    """Column rules.

    * column mode: cells that *are* the entity (the span covers most of the cell) make
      up at least ``min_share`` of the column (``min_share_hinted`` with a name hint);
    * text mode: in a free-text column, at least one cell holds a span that counts on
      its own evidence and such cells are at least ``min_text_share`` of the column.
    """
    if not tally.validated or not tally.non_null:
        return None
    scale = tally.candidates / tally.non_null / tally.validated
    share = entry.counted * scale
    whole_share = entry.whole * scale
    strong_share = entry.strong * scale
    strong_fraction = entry.strong / entry.counted if entry.counted else 0.0
    evidence = ["validator"] + (["column-name"] if hinted else [])
    threshold = settings.min_share_hinted if hinted else settings.min_share
    if whole_share >= threshold:
        mode = "column"
        confidence = whole_share * (0.8 + 0.2 * strong_fraction) + (0.15 if hinted else 0.0)
    elif (
        (tally.kind == "free_text" or tally.protection is not None)
        and entry.strong
        and strong_share >= settings.min_text_share
    ):
        mode = "text"
        confidence = 0.6 + 0.3 * strong_fraction
        if strong_fraction < 1:
            evidence.append("context")
    else:
        return None
    return EntityReport(
        entity=entity,
        confidence=round(min(confidence, 0.99), 2),
        share=round(min(share, 1.0), 4),
        cells_matched=entry.counted,
        cells_validated=tally.validated,
        mode=mode,
        evidence=tuple(evidence),
        examples=tuple(entry.examples),
    )
