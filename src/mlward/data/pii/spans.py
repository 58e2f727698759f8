"""Finding entity spans in one cell: run detectors, weigh evidence, resolve overlaps.

Shared by the scan (on sampled cells) and by the anonymizer (on every cell of a free
text column), so both see exactly the same spans.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mlward.data.pii.detectors.interface import Detector, Span, Verdict, has_context
from mlward.data.pii.entities import EntityType


@dataclass(frozen=True)
class Hit:
    """A span with the evidence that makes it count."""

    span: Span
    """The detected span."""
    strong: bool
    """Counts on its own: a ``VALID`` verdict, or ``PLAUSIBLE`` with a context word."""
    counted: bool
    """Counts in this column: ``strong``, or ``PLAUSIBLE`` in a column named for it."""


def find_hits(
    text: str,
    detectors: Iterable[Detector],
    hinted: frozenset[EntityType] = frozenset(),
    extra: Sequence[Span] = (),
) -> list[Hit]:
    """Counted, non-overlapping hits in ``text``, in text order.

    Overlaps are resolved in favour of counted spans, then stronger verdicts, then
    higher detector priority, then longer spans. ``extra`` are spans from a plug-in
    (an NER model) that take part in the same resolution.
    """
    return find_hits_and_doubts(text, detectors, hinted, extra)[0]


def find_hits_and_doubts(
    text: str,
    detectors: Iterable[Detector],
    hinted: frozenset[EntityType] = frozenset(),
    extra: Sequence[Span] = (),
) -> tuple[list[Hit], list[Hit]]:
    """``find_hits``, plus the uncounted spans outside every counted one (in text order).

    The doubts are what a detector saw but could not confirm (a bare 9-digit number, a
    lone first name): the free-text anonymizer cannot vouch for a cell that holds one.
    """
    hits: list[Hit] = []
    for detector in detectors:
        for span in detector.find(text):
            hits.append(_weigh(text, span, detector.context_words, hinted))
    for span in extra:
        hits.append(_weigh(text, span, (), hinted))
    hits.sort(
        key=lambda h: (
            h.counted,
            h.span.verdict,
            h.span.priority,
            h.span.end - h.span.start,
        ),
        reverse=True,
    )
    kept: list[Hit] = []
    doubts: list[Hit] = []
    for hit in hits:
        if all(hit.span.end <= k.span.start or hit.span.start >= k.span.end for k in kept):
            (kept if hit.counted else doubts).append(hit)
    kept.sort(key=lambda h: h.span.start)
    doubts.sort(key=lambda h: h.span.start)
    return kept, doubts


def _weigh(text: str, span: Span, context_words: tuple[str, ...], hinted: frozenset[EntityType]) -> Hit:
    strong = span.verdict is Verdict.VALID or has_context(text, span.start, context_words)
    return Hit(span, strong, strong or span.entity in hinted)
