"""Small text helpers shared by detectors, hints, masking and anonymizers."""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from functools import lru_cache

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Lower-case ``text`` and strip accents (``Müller`` -> ``muller``, ``ß`` -> ``ss``)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def name_tokens(column: str) -> tuple[str, ...]:
    """Split a column name in any style into folded tokens.

    ``customerEmailAddress``, ``customer_email_address``, ``Customer-Email Address`` and
    ``CUSTOMER_EMAIL_ADDRESS`` all give ``("customer", "email", "address")``.
    """
    spaced = _CAMEL.sub(" ", column)
    return tuple(token for token in _NON_ALNUM.split(fold(spaced)) if token)


def digits_of(text: str) -> str:
    """The ASCII digits of ``text``, in order."""
    return "".join(ch for ch in text if "0" <= ch <= "9")


def shannon_entropy(text: str) -> float:
    """Bits of entropy per character of ``text`` (0 for the empty string)."""
    if not text:
        return 0.0
    counts = Counter(text)
    size = len(text)
    return -sum(n / size * math.log2(n / size) for n in counts.values())


def luhn_checksum(digits: str) -> int:
    """The Luhn sum of ``digits`` modulo 10 (0 means the number is Luhn-valid)."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10


def luhn_check_digit(body: str) -> str:
    """The check digit that makes ``body + digit`` Luhn-valid."""
    return str((10 - luhn_checksum(body + "0")) % 10)


def words(text: str) -> tuple[str, ...]:
    """The whitespace-separated words of ``text`` (for readable word-list constants)."""
    return tuple(text.split())
