"""Payment card numbers (Luhn + issuer ranges) and IBANs (mod-97)."""

from __future__ import annotations

import re

from stdnum import iban
from stdnum.iso7064 import mod_97_10

from mlward.data.pii.detectors.interface import Detector, Verdict
from mlward.data.pii.entities import EntityType
from mlward.data.pii.text import digits_of, luhn_checksum

# (brand, IIN prefix ranges as (low, high) on the leading digits, valid lengths).
_BRANDS: tuple[tuple[str, tuple[tuple[int, int], ...], frozenset[int]], ...] = (
    ("amex", ((34, 34), (37, 37)), frozenset({15})),
    ("visa", ((4, 4),), frozenset({13, 16, 19})),
    ("mastercard", ((51, 55), (2221, 2720)), frozenset({16})),
    ("discover", ((6011, 6011), (644, 649), (65, 65)), frozenset(range(16, 20))),
    ("jcb", ((3528, 3589),), frozenset(range(16, 20))),
    ("jcb15", ((1800, 1800), (2131, 2131)), frozenset({15})),
    ("diners", ((300, 305), (36, 36), (38, 39)), frozenset(range(14, 20))),
    ("unionpay", ((62, 62),), frozenset(range(16, 20))),
    ("maestro", ((50, 50), (56, 69)), frozenset(range(12, 20))),
    ("mir", ((2200, 2204),), frozenset(range(16, 20))),
)


def card_brand(number: str) -> str | None:
    """The card brand whose IIN range and length match ``number`` (digits only)."""
    for brand, ranges, lengths in _BRANDS:
        if len(number) not in lengths:
            continue
        for low, high in ranges:
            width = len(str(low))
            if low <= int(number[:width]) <= high:
                return brand
    return None


class CreditCardDetector(Detector):
    """Card numbers: 12-19 digits, Luhn-valid, in a known issuer range."""

    entity = EntityType.CREDIT_CARD
    prefilter = r"\d{4}[ -]?\d{4,6}[ -]?\d{4,5}"
    pattern = re.compile(
        r"(?<![\w.,-])(?:\d{4}([ -])\d{4}\1\d{4}\1\d{1,7}|\d{4}([ -])\d{6}\2\d{4,5}|\d{12,19})"
        r"(?![\w-]|[.,]\d)"
    )
    context_words = ("card", "visa", "mastercard", "amex", "credit", "carte", "tarjeta", "karte")
    priority = 70
    numeric = True

    def check(self, candidate: str) -> Verdict:
        digits = digits_of(candidate)
        if not 12 <= len(digits) <= 19 or len(set(digits)) < 2 or luhn_checksum(digits):
            return Verdict.INVALID
        return Verdict.VALID if card_brand(digits) else Verdict.PLAUSIBLE


class IbanDetector(Detector):
    """IBANs: country format and mod-97 check (python-stdnum)."""

    entity = EntityType.IBAN
    prefilter = r"(?i)\b[A-Z]{2}\d{2} ?[A-Z0-9]{4}"
    pattern = re.compile(r"(?<![\w])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?(?!\w)")
    context_words = ("iban", "account", "konto", "compte", "cuenta", "conto")
    priority = 75

    def check(self, candidate: str) -> Verdict:
        compact = candidate.replace(" ", "").upper()
        if iban.is_valid(compact):
            return Verdict.VALID
        # Right checksum, unknown national format (test data, new countries): plausible.
        rearranged = compact[4:] + compact[:4]
        numeric = "".join(str(int(ch, 36)) for ch in rearranged)
        return Verdict.PLAUSIBLE if mod_97_10.is_valid(numeric) else Verdict.INVALID
