"""Presidio side of bench/pii.py; runs inside bench/.venv-presidio (never the project venv).

No spaCy model is installed, so the analyzer gets a stub NLP engine (no tokens, no NER
entities) and an explicit registry of Presidio's predefined pattern recognizers for the
locales in the table. Everything then goes through Presidio's own batch path:
``BatchAnalyzerEngine.analyze_iterator`` per column (what presidio-structured's
``PandasAnalysisBuilder`` runs), and presidio-structured's "most common entity"
strategy turns cell results into one entity per column.

Usage: ``bench/.venv-presidio/bin/python bench/pii_presidio.py TABLE.parquet ROWS OUT.json``
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections import Counter

import pyarrow.parquet as pq
from presidio_analyzer import AnalyzerEngine, BatchAnalyzerEngine, RecognizerRegistry
from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    DateRecognizer,
    DeTaxIdRecognizer,
    EmailRecognizer,
    EsNieRecognizer,
    EsNifRecognizer,
    IbanRecognizer,
    InAadhaarRecognizer,
    InPanRecognizer,
    IpRecognizer,
    ItFiscalCodeRecognizer,
    MacAddressRecognizer,
    PhoneRecognizer,
    UkNinoRecognizer,
    UrlRecognizer,
    UsItinRecognizer,
    UsSsnRecognizer,
)
from presidio_structured import PandasAnalysisBuilder


class StubNlpEngine(NlpEngine):
    """No tokens, no NER: lets the pattern recognizers run without a spaCy model."""

    def load(self) -> None:
        return None

    def is_loaded(self) -> bool:
        return True

    def process_text(self, text: str, language: str) -> NlpArtifacts:
        return NlpArtifacts(
            entities=[], tokens=[], tokens_indices=[], lemmas=[], nlp_engine=self, language=language
        )

    def process_batch(self, texts, language, batch_size=1, n_process=1, **kwargs):
        for text in texts:
            yield text, self.process_text(str(text), language)

    def is_stopword(self, word: str, language: str) -> bool:
        return False

    def is_punct(self, word: str, language: str) -> bool:
        return False

    def get_supported_entities(self) -> list[str]:
        return []

    def get_supported_languages(self) -> list[str]:
        return ["en"]


RECOGNIZERS = (
    CreditCardRecognizer, DateRecognizer, DeTaxIdRecognizer, EmailRecognizer, EsNieRecognizer,
    EsNifRecognizer, IbanRecognizer, InAadhaarRecognizer, InPanRecognizer, IpRecognizer,
    ItFiscalCodeRecognizer, MacAddressRecognizer, PhoneRecognizer, UkNinoRecognizer, UrlRecognizer,
    UsItinRecognizer, UsSsnRecognizer,
)  # fmt: skip


def build_analyzer() -> AnalyzerEngine:
    registry = RecognizerRegistry(supported_languages=["en"])
    for recognizer in RECOGNIZERS:
        registry.add_recognizer(recognizer(supported_language="en"))
    return AnalyzerEngine(registry=registry, nlp_engine=StubNlpEngine(), supported_languages=["en"])


def main() -> None:
    path, rows, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    frame = pq.read_table(path).slice(0, rows).to_pandas()
    frame = frame.astype(str)  # Presidio analyzes text
    analyzer = build_analyzer()
    batch = BatchAnalyzerEngine(analyzer_engine=analyzer)
    builder = PandasAnalysisBuilder(analyzer=analyzer)
    started = time.perf_counter()
    per_column = {
        column: list(batch.analyze_iterator(list(frame[column]), language="en", batch_size=1))
        for column in frame.columns
    }
    seconds = time.perf_counter() - started
    structured = {}
    shares = {}
    for column, cells in per_column.items():
        chosen = builder._find_entity_based_on_strategy(cells, "most_common", 0.5)
        if chosen.entity_type != "NON_PII":
            structured[column] = chosen.entity_type
        counts: Counter[str] = Counter()
        for results in cells:
            counts.update({r.entity_type for r in results if r.score >= 0.5})
        shares[column] = {entity: n / len(cells) for entity, n in counts.items()}
    text_like = {
        column: bool((frame[column].str.split().str.len() >= 3).mean() >= 0.5) for column in frame.columns
    }
    result = {
        "text_like": text_like,
        "rows": len(frame),
        "columns": len(frame.columns),
        "seconds": seconds,
        "rows_per_s": len(frame) / seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "structured_mapping": structured,
        "shares": shares,
    }
    with open(out, "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=2)


if __name__ == "__main__":
    main()
