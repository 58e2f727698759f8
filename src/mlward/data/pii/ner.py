"""Optional named-entity recognition for free text (person names, places).

The default scan needs no model: names come from packaged dictionaries. Users who
installed spaCy (with a pipeline such as ``en_core_web_sm``) or GLiNER can pass a
recognizer to ``scan(..., ner=...)``; its spans join the dictionary and pattern spans
in the same overlap resolution. Neither library is imported unless a recognizer is
created, and a missing one is a one-line ``MissingDependency`` naming the package.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from mlward.core.errors import ConfigError
from mlward.core.optional import require
from mlward.data.pii.detectors.interface import Span, Verdict
from mlward.data.pii.entities import EntityType

NER_PRIORITY = 15
"""NER spans beat dictionary names (10) but lose to every pattern validator."""


class NerRecognizer(ABC):
    """Finds entity spans in a batch of texts."""

    min_score: float = 0.5
    """Spans scoring below this are dropped; ``VALID`` from 0.8 up, else ``PLAUSIBLE``."""

    @abstractmethod
    def recognize(self, texts: list[str]) -> list[list[Span]]:
        """Return, for each text, the spans found in it."""

    def _span(self, entity: EntityType, start: int, end: int, score: float) -> Span:
        verdict = Verdict.VALID if score >= 0.8 else Verdict.PLAUSIBLE
        return Span(entity, start, end, verdict, NER_PRIORITY)


class SpacyRecognizer(NerRecognizer):
    """spaCy pipeline NER: ``PERSON``/``PER`` -> PERSON, ``GPE``/``LOC``/``FAC`` -> ADDRESS."""

    LABELS: ClassVar[dict[str, EntityType]] = {
        "PERSON": EntityType.PERSON,
        "PER": EntityType.PERSON,
        "FAC": EntityType.ADDRESS,
    }

    def __init__(self, model: str = "en_core_web_sm") -> None:
        spacy = require("spacy", feature="spaCy NER recognizers")
        try:
            self._nlp = spacy.load(model, disable=["lemmatizer", "textcat"])
        except OSError as exc:
            raise ConfigError(f"spaCy pipeline {model!r} is not installed") from exc

    def recognize(self, texts: list[str]) -> list[list[Span]]:
        """Run the pipeline over ``texts`` in one batch."""
        results = []
        for doc in self._nlp.pipe(texts):
            spans = [
                self._span(self.LABELS[ent.label_], ent.start_char, ent.end_char, 0.85)
                for ent in doc.ents
                if ent.label_ in self.LABELS
            ]
            results.append(spans)
        return results


class GlinerRecognizer(NerRecognizer):
    """GLiNER zero-shot NER with labels ``person`` and ``street address``."""

    LABELS: ClassVar[dict[str, EntityType]] = {
        "person": EntityType.PERSON,
        "street address": EntityType.ADDRESS,
    }

    def __init__(self, model: str = "urchade/gliner_multi_pii-v1", threshold: float = 0.5) -> None:
        gliner = require("gliner", feature="GLiNER NER recognizers")
        self._model = gliner.GLiNER.from_pretrained(model)
        self.min_score = threshold

    def recognize(self, texts: list[str]) -> list[list[Span]]:
        """Predict entities text by text."""
        results = []
        for text in texts:
            found = self._model.predict_entities(text, list(self.LABELS), threshold=self.min_score)
            results.append(
                [
                    self._span(self.LABELS[e["label"]], e["start"], e["end"], float(e["score"]))
                    for e in found
                    if e["label"] in self.LABELS
                ]
            )
        return results
