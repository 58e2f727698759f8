"""E-mail addresses and phone numbers."""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

from mlward.data.pii.detectors.interface import Detector, Verdict
from mlward.data.pii.entities import EntityType
from mlward.data.pii.text import digits_of, words

# File names such as ``icon@2x.png`` look like addresses; these "TLDs" are not ones.
_FILE_EXTENSIONS = frozenset(words("png jpg jpeg gif svg webp css js ts json pdf txt zip"))


class EmailDetector(Detector):
    """RFC 5322 dot-atom addresses with a real-looking domain."""

    entity = EntityType.EMAIL
    prefilter = r"@[A-Za-z0-9-]+\.[A-Za-z]"
    pattern = re.compile(
        r"(?<![\w.+%-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@"
        r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])"
    )
    context_words = ("mail", "courriel", "correo")
    needs_digit = False
    priority = 80

    def check(self, candidate: str) -> Verdict:
        local, _, domain = candidate.rpartition("@")
        if ".." in local or local.endswith(".") or len(candidate) > 254:
            return Verdict.INVALID
        if domain.rsplit(".", 1)[-1].lower() in _FILE_EXTENSIONS:
            return Verdict.INVALID
        return Verdict.VALID


_DATE_LIKE = re.compile(r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}$|^\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}$")
_DECIMAL = re.compile(r"^\d+[.,]\d{1,3}$|^(?:\d{1,3}[.,])+\d{3}(?:[.,]\d{1,2})?$")
_SSN_SHAPE = re.compile(r"^\d{3}-\d{2}-\d{4}$")
_GROUPS = re.compile(r"[\s().-]+")
DEFAULT_REGIONS = ("US", "GB", "DE", "FR", "ES", "IT", "IN")


@lru_cache(maxsize=65536)
def _phone_status(candidate: str, regions: tuple[str, ...]) -> tuple[bool, bool]:
    """(is_valid, is_possible) for the first region that parses ``candidate``."""
    text = "+" + candidate[2:] if candidate.startswith("00") else candidate
    possible = False
    for region in (None,) if text.startswith("+") else regions:
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return True, True
        possible = possible or phonenumbers.is_possible_number(number)
    return False, possible


class PhoneDetector(Detector):
    """Phone numbers, validated with ``phonenumbers`` against likely regions.

    Bare digit strings (``4155552671``) are only candidates in columns named like a
    phone column or next to a context word: otherwise every numeric id would be one.
    """

    entity = EntityType.PHONE
    # Formatted: a leading + / 00, parentheses, or two separated digit groups.
    prefilter = r"(?:\+|\b00)\d[\d\s().-]{5,}\d|\(\d{2,5}\)\s*\d|\d{2,5}[\s.-]\d{2,5}[\s.-]\d{2,5}"
    hinted_prefilter = r"\d[\d\s().-]{5,}\d"
    pattern = re.compile(
        r"(?<![\w+/])(?:\+|00)?\(?\d[\d\s().-]{5,18}\d"
        r"(?:\s?(?:x|ext\.?|#)\s?\d{1,5})?(?![\w/])"
    )
    context_words = (
        "phone", "tel", "call", "mobile", "cell", "fax", "whatsapp", "sms", "contact",
        "telefon", "handy", "portable", "movil", "cellulare", "numero", "number",
    )  # fmt: skip
    priority = 40
    numeric = True

    def __init__(self, regions: tuple[str, ...] = DEFAULT_REGIONS) -> None:
        self.regions = regions

    def check(self, candidate: str) -> Verdict:
        digits = digits_of(candidate.split("x")[0].split("#")[0])
        if not 7 <= len(digits) <= 15 or len(set(digits)) < 3:
            return Verdict.INVALID
        if _DATE_LIKE.match(candidate) or _DECIMAL.match(candidate) or _SSN_SHAPE.match(candidate):
            return Verdict.INVALID
        if candidate.count(".") == 3 and " " not in candidate:  # an IPv4 address
            return Verdict.INVALID
        valid, possible = _phone_status(candidate, self.regions)
        groups = len([g for g in _GROUPS.split(candidate) if g])
        formatted = candidate.startswith(("+", "00", "(")) or groups >= 3
        if valid and formatted:
            return Verdict.VALID
        if valid or possible:
            return Verdict.PLAUSIBLE
        return Verdict.INVALID
