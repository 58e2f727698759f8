"""Person names from packaged first- and last-name dictionaries (no model download).

The dictionaries (``names/first.txt`` and ``names/last.txt``, ~18k folded names from
two dozen locales) make a capitalised word sequence a name when a first name is
followed by a last name (``VALID``), or a title introduces a known name (``Dr Riley``).
A single known name, or a short alphabetic value in a column named like a name column,
is ``PLAUSIBLE``. Company words (``Inc``, ``GmbH``, ``and``) veto a span.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from importlib import resources

from mlward.data.pii.detectors.interface import Detector, Span, Verdict
from mlward.data.pii.entities import EntityType
from mlward.data.pii.text import fold, words

_TITLES = frozenset(
    words(
        "mr mrs ms miss mx dr prof sir dame lady lord herr frau fraulein m mme mlle monsieur "
        "madame sr sra srta don dona sig sigra dott dottssa shri smt kumari"
    )
)
_SUFFIXES = frozenset(words("jr sr ii iii iv md phd mba dds dvm bsc msc ba ma esq"))
_PARTICLES = frozenset(
    words("van von de la le les du des der den zu di da del della dos das do y e el al bin ben mc st")
)
_VETO = frozenset(
    words(
        "inc llc ltd gmbh ag plc sa spa srl sarl bv nv co corp group holdings and und et y & the "
        "of for bank hotel street road avenue city university school hospital"
    )
)
_LETTERS = "A-Za-zÀ-ÖØ-öø-ÿĀ-ž"
_NAME_WORD = rf"[A-ZÀ-ÖØ-ÞĀ-Ž][{_LETTERS}'’]+\.?"
_SEQUENCE = re.compile(
    rf"(?<![\w@.]){_NAME_WORD}(?:(?:[ -]|\s(?:{'|'.join(sorted(_PARTICLES))})\s){_NAME_WORD}){{0,4}}(?![\w@])"
)
_WORD_SPLIT = re.compile(r"[^\s-]+")
_WHOLE = re.compile(rf"^[{_LETTERS}'’.]+(?:[ -][{_LETTERS}'’.]+){{0,4}}$")


@lru_cache(maxsize=1)
def name_lists() -> tuple[frozenset[str], frozenset[str]]:
    """The packaged (first names, last names), folded."""
    package = resources.files("mlward.data.pii.names")

    def load(name: str) -> frozenset[str]:
        text = package.joinpath(name).read_text(encoding="utf-8")
        return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))

    return load("first.txt"), load("last.txt")


def judge_name(tokens: list[str]) -> Verdict:
    """Judge folded word tokens as a person name."""
    first, last = name_lists()
    if not tokens or any(token in _VETO for token in tokens):
        return Verdict.INVALID
    titled = tokens[0] in _TITLES
    words = [t for t in tokens if t not in _TITLES and t not in _SUFFIXES and t not in _PARTICLES]
    if not words or len(words) > 5:
        return Verdict.INVALID
    first_at = next((i for i, w in enumerate(words) if w in first), None)
    if first_at is not None and any(w in last for w in words[first_at + 1 :]):
        return Verdict.VALID
    if titled and any(w in first or w in last for w in words):
        return Verdict.VALID
    if len(words) >= 2 and words[0] in first and words[-1] in first:
        return Verdict.VALID  # "Rachel Davis": many surnames are also first names
    return Verdict.PLAUSIBLE


def _uniform_case(text: str) -> bool:
    """Capitalised words (particles aside), or all one case, as name columns hold them."""
    if text.islower() or text.isupper():
        return True
    words = [w for w in re.split(r"[ -]", text) if w and fold(w) not in _PARTICLES]
    return all(w[0].isupper() for w in words)


def _tokens(text: str) -> list[str]:
    return [t.strip(".'’") for t in fold(text).replace("-", " ").split() if t.strip(".'’")]


class PersonNameDetector(Detector):
    """Person names: dictionaries plus capitalisation in text, whole values in columns."""

    entity = EntityType.PERSON
    prefilter = r"^[\p{L}'’. -]{2,60}$|\p{Lu}\p{Ll}+ \p{Lu}\p{Ll}+"
    pattern = _SEQUENCE
    context_words = ("name", "mr", "mrs", "ms", "dear", "contact", "customer", "patient", "nom", "nombre")
    priority = 10
    needs_digit = False

    def find(self, text: str) -> Iterator[Span]:
        """A short all-letters value is judged whole; longer text by capitalised runs."""
        if _WHOLE.match(text) and _uniform_case(text):
            verdict = judge_name(_tokens(text))
            if verdict is not Verdict.INVALID:
                yield Span(self.entity, 0, len(text), verdict, self.priority)
            return
        first, last = name_lists()
        for match in self.pattern.finditer(text):
            words = [
                (m.start(), m.end(), fold(m.group(0)).strip(".'’"))
                for m in _WORD_SPLIT.finditer(match.group(0))
            ]
            # Trim leading capitalised words that are not names ("Contact John Smith").
            while words and not (words[0][2] in _TITLES or words[0][2] in first or words[0][2] in last):
                words.pop(0)
            tokens = [w for _, _, w in words if w]
            if not tokens:
                continue
            verdict = judge_name(tokens)
            # In running text a lone capitalised word, or words no dictionary knows,
            # are too weak even as candidates.
            if verdict is Verdict.VALID or (verdict is Verdict.PLAUSIBLE and len(tokens) >= 2):
                start = match.start() + words[0][0]
                yield Span(self.entity, start, match.start() + words[-1][1], verdict, self.priority)

    def check(self, candidate: str) -> Verdict:
        return judge_name(_tokens(candidate))
