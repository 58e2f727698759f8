"""Free-text protection: every span gets its own entity's rule; doubtful cells fall back.

Each detected span is replaced with the rule of the entity detected *there* (a phone
number is masked as a phone number, an address redacted as an address), whatever the
column's first entity is. The detectors cannot vouch for every cell, though: a span they
saw but could not confirm (a bare 9-digit number, a lone first name), or text outside
every span that still looks like personal data -- a capitalised word in mid-sentence
(a name, a street, a town), a known name opening a sentence, a run of three or more
digits -- means the cell may hold an entity no detector explains. The policy's
``free_text`` setting decides: ``redact-cell`` (default) replaces such a cell whole with
``[REDACTED]``; ``spans-only`` replaces the detected spans only. Either way the count
of such cells comes back in the protect result's warnings.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from mlward.data.pii.detectors import Detector
from mlward.data.pii.detectors.person import name_lists
from mlward.data.pii.entities import EntityType
from mlward.data.pii.policy import ActionSpec, FreeTextFallback
from mlward.data.pii.spans import Hit, find_hits_and_doubts
from mlward.data.pii.text import fold, words

REDACTED_CELL = "[REDACTED]"
"""What ``free_text: redact-cell`` puts in place of a cell the detectors cannot vouch for."""

_WORD = re.compile(r"[^\W\d_][^\W_]*(?:['’-][^\W\d_]+)*")
_DIGIT_RUN = re.compile(r"\d(?:[ .()/-]?\d)*")
_SENTENCE_END = frozenset(".!?:;\n\"'“”«(")
_SPAN_FILL = "\x00"
# Capitalised words that are common in prose and name nobody.
_COMMON = frozenset(
    words(
        "i i'm i've i'll i'd ok okay "
        "monday tuesday wednesday thursday friday saturday sunday "
        "january february march april may june july august september october november december "
        "montag dienstag mittwoch donnerstag freitag samstag sonntag "
        "lundi mardi mercredi jeudi vendredi samedi dimanche "
        "lunes martes miercoles jueves viernes sabado domingo "
        "mr mrs ms miss mx dr prof sir madam herr frau m mme mlle sr sra srta sig sigra"
    )
)


@dataclass
class TextStats:
    """What free-text protection did in one column."""

    cells: int = 0
    """Non-null cells looked at."""
    spans: int = 0
    """Spans replaced."""
    doubtful: int = 0
    """Cells the detectors could not vouch for."""
    redacted_cells: int = 0
    """Of those, cells replaced whole (``free_text: redact-cell``)."""
    reasons: Counter[str] = field(default_factory=Counter)
    """Why cells were doubtful (``unconfirmed span``, ``capitalised word``, ``digit run``)."""


def doubt(text: str, hits: Sequence[Hit], doubts: Sequence[Hit]) -> str | None:
    """Why the detectors cannot vouch for ``text`` once ``hits`` are replaced, or None."""
    if doubts:
        return "unconfirmed span"
    rest = list(text)
    for hit in hits:
        rest[hit.span.start : hit.span.end] = _SPAN_FILL * (hit.span.end - hit.span.start)
    residue = "".join(rest)
    for run in _DIGIT_RUN.finditer(residue):
        if sum(ch.isdigit() for ch in run.group(0)) >= 3:
            return "digit run"
    first, last = name_lists()
    for match in _WORD.finditer(residue):
        word = match.group(0)
        if not word[0].isupper():
            continue
        folded = fold(word)
        if folded in _COMMON:
            continue
        if not _opens_sentence(residue, match.start()) or folded in first or folded in last:
            return "capitalised word"
    return None


def _opens_sentence(text: str, position: int) -> bool:
    index = position - 1
    while index >= 0 and text[index] in " \t":
        index -= 1
    return index < 0 or text[index] in _SENTENCE_END


class TextProtector:
    """Protects the cells of one free-text column."""

    def __init__(
        self,
        hints: frozenset[EntityType],
        rules: dict[EntityType | None, ActionSpec],
        apply: Callable[[ActionSpec, str, EntityType], str],
        fallback: FreeTextFallback,
    ) -> None:
        self.hints = hints
        self.rules = rules
        self.apply = apply
        self.fallback = fallback
        self.stats = TextStats()

    def protect(self, text: str, detectors: Sequence[Detector]) -> str:
        """The protected form of one cell (``detectors``: those whose pre-filter matched)."""
        self.stats.cells += 1
        hits, doubts = find_hits_and_doubts(text, detectors, self.hints) if detectors else ([], [])
        reason = doubt(text, hits, doubts)
        if reason is not None:
            self.stats.doubtful += 1
            self.stats.reasons[reason] += 1
            if self.fallback == "redact-cell":
                self.stats.redacted_cells += 1
                return REDACTED_CELL
        for hit in reversed(hits):
            rule = self.rules.get(hit.span.entity)
            if rule is None:
                continue
            start, end = hit.span.start, hit.span.end
            text = text[:start] + self.apply(rule, text[start:end], hit.span.entity) + text[end:]
            self.stats.spans += 1
        return text


def text_warning(column: str, stats: TextStats, fallback: FreeTextFallback) -> str | None:
    """The protect-result warning for a column's doubtful cells, if any."""
    if not stats.doubtful:
        return None
    why = ", ".join(f"{reason}: {count}" for reason, count in stats.reasons.most_common())
    if fallback == "redact-cell":
        return (
            f"{column}: {stats.redacted_cells} of {stats.cells} free-text cells redacted whole "
            f"(free_text: redact-cell), the detectors could not vouch for them ({why})"
        )
    return (
        f"{column}: {stats.doubtful} of {stats.cells} free-text cells may still hold personal data "
        f"the detectors could not confirm ({why}); free_text: spans-only left them"
    )
