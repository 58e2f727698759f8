"""The PII detector family: one ``Detector`` per entity type.

A detector works in two stages so that scans stay fast on large tables:

1. ``prefilter`` is a Rust-regex (Polars ``str.contains``) run over whole batches. It
   is a cheap superset: cells that do not match are never looked at again.
2. ``find`` runs in Python only on candidate cells. It locates spans with ``pattern``
   and judges each with ``check`` -- a real validator (Luhn, mod-97, ``phonenumbers``,
   ``python-stdnum``, ``ipaddress``, name dictionaries...).

``check`` returns a ``Verdict``. ``VALID`` spans count on their own. ``PLAUSIBLE``
spans have the right shape but not enough proof (a 9-digit number that passes the SSN
rules but has no dashes, a date that could be a birth date): they count only with
evidence -- a column name that suggests the entity, or a context word next to the span
in free text (``context_words``).
"""

from __future__ import annotations

import enum
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from mlward.data.pii.entities import EntityType
from mlward.data.pii.text import fold


class Verdict(enum.IntEnum):
    """How sure a validator is that a span is the entity."""

    INVALID = 0
    PLAUSIBLE = 1
    VALID = 2


@dataclass(frozen=True)
class Span:
    """One detected entity inside a cell value."""

    entity: EntityType
    """What was found."""
    start: int
    """Start offset in the (whitespace-stripped) cell text."""
    end: int
    """End offset (exclusive)."""
    verdict: Verdict
    """The validator's verdict."""
    priority: int
    """Tie-breaker when spans of different detectors overlap (higher wins)."""


class Detector(ABC):
    """Finds and validates one entity type. Subclasses are stateless and picklable."""

    entity: ClassVar[EntityType]
    """The entity type this detector reports."""
    prefilter: ClassVar[str]
    """Rust-regex superset of candidate cells, run vectorized by Polars."""
    hinted_prefilter: ClassVar[str | None] = None
    """Looser prefilter for columns whose name suggests the entity (None: ``prefilter``).

    Lets bare digit strings be candidates in a ``phone`` column while numeric ids in
    other columns never reach the (comparatively slow) validator."""
    pattern: ClassVar[re.Pattern[str]]
    """Python regex locating candidate spans inside a cell."""
    context_words: ClassVar[tuple[str, ...]] = ()
    """Folded words that, just before a span in free text, count as evidence."""
    priority: ClassVar[int] = 50
    """Wins overlaps against lower priorities (specific validators beat loose ones)."""
    numeric: ClassVar[bool] = False
    """Also run on integer columns (cast to their decimal text)."""
    needs_evidence: ClassVar[bool] = False
    """Never returns VALID: skip columns with neither a name hint nor free text."""
    hint_only: ClassVar[bool] = False
    """Runs only on columns whose name suggests the entity (password columns...)."""
    needs_digit: ClassVar[bool] = True
    """Every candidate contains an ASCII digit (lets the scan skip digit-free cells)."""

    def find(self, text: str) -> Iterator[Span]:
        """Yield validated spans of this entity in ``text``."""
        for match in self.pattern.finditer(text):
            verdict = self.check(match.group(0))
            if verdict is not Verdict.INVALID:
                yield Span(self.entity, match.start(), match.end(), verdict, self.priority)

    @abstractmethod
    def check(self, candidate: str) -> Verdict:
        """Judge one candidate span."""

    @property
    def context_prefilter(self) -> str | None:
        """Rust regex matching cells that contain one of the context words."""
        if not self.context_words:
            return None
        return "(?i)(?:" + "|".join(re.escape(word) for word in self.context_words) + ")"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.entity.value})"


def polars_pattern(pattern: str) -> str:
    """Rewrite a pre-filter for Polars' Rust regex engine: ASCII ``\\b`` and ``\\d``.

    Unicode word boundaries force the Rust engine off its lazy DFA onto a much slower
    NFA on non-ASCII text; ASCII boundaries and digits keep the DFA (2-3x faster) and
    select the same cells for these patterns, which only anchor on ASCII characters.
    """
    return pattern.replace(r"\b", r"(?-u:\b)").replace(r"\d", "[0-9]")


def has_context(text: str, start: int, words: tuple[str, ...], window: int = 48) -> bool:
    """Whether one of ``words`` appears in the ``window`` characters before ``start``."""
    if not words:
        return False
    before = fold(text[max(0, start - window) : start])
    return any(word in before for word in words)
