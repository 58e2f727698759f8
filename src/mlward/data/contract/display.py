"""Showing data values in contract reports without leaking personal data.

Failing-row examples, observed minima and unexpected values come straight from the
data, so every value passes through ``Masker.show`` before it is stored in a summary
(on the worker that read it). A value is masked when its column is declared
sensitive (``pii:`` or ``sensitivity: confidential|restricted``), when the column's
name suggests an entity type and the value fits it, or when a PII detector recognises
the value on its own -- so an undeclared e-mail column is masked too.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from mlward.data.pii.detectors import Detector, default_detectors
from mlward.data.pii.entities import EntityType
from mlward.data.pii.hints import hints_for
from mlward.data.pii.masking import mask_example, mask_keep_last
from mlward.data.pii.spans import find_hits

MAX_SHOWN = 80
"""Characters of a value kept in a report (longer values are cut)."""


@functools.cache
def detectors() -> tuple[Detector, ...]:
    """The built-in PII detectors, built once per process."""
    return default_detectors()


def _text(value: Any) -> str:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


def _cut(text: str) -> str:
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


class Masker:
    """Decides how a value of a column may be shown (picklable, stateless per call)."""

    def __init__(self, entities: dict[str, EntityType | None], sensitive: frozenset[str]) -> None:
        self.entities = entities
        """Declared PII entity per column (None where the contract names none)."""
        self.sensitive = sensitive
        """Columns whose values are never shown in clear."""

    def show(self, column: str | None, value: Any) -> str | None:
        """The value as report text: clear, or masked when it is (or may be) personal data."""
        if value is None:
            return None
        text = _text(value).strip()
        if column is None:
            return _cut(redact_text(text))
        hinted = hints_for(column)
        declared = self.entities.get(column)
        if column in self.sensitive or declared is not None:
            entity = declared or _detected(text, hinted)
            return _cut(mask_example(entity, text) if entity else mask_keep_last(text, 0))
        entity = _detected(text, hinted)
        return _cut(mask_example(entity, text) if entity else text)

    def observed(self, column: str | None, value: Any) -> Any:
        """A value for a report's ``observed`` facts: numbers stay numbers where that is safe."""
        safe_number = isinstance(value, int | float) and not isinstance(value, bool)
        declared = column is not None and (column in self.sensitive or self.entities.get(column) is not None)
        if safe_number and column is not None and not declared and not hints_for(column):
            return value
        return self.show(column, value)

    def key_part(self, column: str, value: Any) -> str:
        """One primary-key value for an example's ``key``."""
        shown = self.show(column, value)
        return "<null>" if shown is None else shown


def _detected(text: str, hinted: frozenset[EntityType]) -> EntityType | None:
    hits = find_hits(text, detectors(), hinted)
    return hits[0].span.entity if hits else None


def redact_text(text: str) -> str:
    """Mask every PII span found in free text (error messages may quote data)."""
    hits = find_hits(text, detectors())
    for hit in reversed(hits):
        span = hit.span
        text = text[: span.start] + mask_example(span.entity, text[span.start : span.end]) + text[span.end :]
    return text
