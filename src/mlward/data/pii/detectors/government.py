"""National identifiers, validated with python-stdnum's check-digit and structure rules.

Each detector's verdict follows the same rule: the validator passes and the value is
written in its usual grouped form -> ``VALID``; the validator passes on a bare digit
string -> ``PLAUSIBLE`` (bare 9- to 12-digit numbers are too common to trust alone).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from stdnum.de import idnr
from stdnum.es import dni, nie
from stdnum.fr import nir
from stdnum.in_ import aadhaar, pan
from stdnum.it import codicefiscale
from stdnum.us import itin, ssn

from mlward.data.pii.detectors.interface import Detector, Verdict
from mlward.data.pii.entities import EntityType


def _grouped_verdict(candidate: str, is_valid: Callable[[str], bool], bare_digits: int | None) -> Verdict:
    compact = re.sub(r"[\s./-]", "", candidate)
    if not is_valid(compact):
        return Verdict.INVALID
    if bare_digits is not None and candidate == compact and len(compact) == bare_digits:
        return Verdict.PLAUSIBLE
    return Verdict.VALID


class UsSsnDetector(Detector):
    """US Social Security numbers (area, group and serial rules; stdnum.us.ssn)."""

    entity = EntityType.US_SSN
    prefilter = r"\b\d{3}[- ]\d{2}[- ]\d{4}\b"
    hinted_prefilter = r"\b\d{3}[- ]?\d{2}[- ]?\d{4}\b"
    pattern = re.compile(r"(?<![\w-])\d{3}([- ]?)\d{2}\1\d{4}(?![\w-])")
    context_words = ("ssn", "social security", "social sec")
    priority = 66
    numeric = True

    def check(self, candidate: str) -> Verdict:
        return _grouped_verdict(candidate, ssn.is_valid, 9)


class UsItinDetector(UsSsnDetector):
    """US Individual Taxpayer Identification Numbers (9xx-7x/8x/9x-xxxx; stdnum.us.itin)."""

    entity = EntityType.US_ITIN
    context_words = ("itin", "taxpayer", "tax id")
    priority = 65

    def check(self, candidate: str) -> Verdict:
        return _grouped_verdict(candidate, itin.is_valid, 9)


# NINO prefixes: no D F I Q U V anywhere, no O second, and never these pairs.
_NINO = re.compile(r"^[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]$")
_NINO_BAD_PREFIX = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})


class UkNinoDetector(Detector):
    """UK National Insurance numbers (HMRC prefix and suffix rules).

    Shape-right numbers that break the rules (the ``ZZ`` placeholder prefix, suffixes
    past ``D``) are ``PLAUSIBLE``: test data is full of them and they still name people.
    """

    entity = EntityType.UK_NINO
    prefilter = r"(?i)\b[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-Z]\b"
    pattern = re.compile(r"(?i)(?<!\w)[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-Z](?!\w)")
    context_words = ("nino", "national insurance", "ni number", "ni no")
    priority = 64

    def check(self, candidate: str) -> Verdict:
        compact = candidate.replace(" ", "").upper()
        if _NINO.match(compact) and compact[:2] not in _NINO_BAD_PREFIX:
            return Verdict.VALID
        return Verdict.PLAUSIBLE


class DeTaxIdDetector(Detector):
    """German tax identification numbers (Steuer-IdNr; stdnum.de.idnr)."""

    entity = EntityType.DE_TAX_ID
    prefilter = r"\b\d{2} \d{3} \d{3} \d{3}\b"
    hinted_prefilter = r"\b\d{2} ?\d{3} ?\d{3} ?\d{3}\b"
    pattern = re.compile(r"(?<![\w-])\d{2} ?\d{3} ?\d{3} ?\d{3}(?![\w-])")
    context_words = ("steuer", "idnr", "identifikationsnummer", "tax id")
    priority = 62
    numeric = True

    def check(self, candidate: str) -> Verdict:
        return _grouped_verdict(candidate, idnr.is_valid, 11)


class FrNirDetector(Detector):
    """French social security numbers (NIR / numero INSEE, with key; stdnum.fr.nir)."""

    entity = EntityType.FR_NIR
    prefilter = r"\b[12] ?\d{2} ?\d{2} ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2}\b"
    pattern = re.compile(r"(?<![\w-])[12] ?\d{2} ?\d{2} ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2}(?![\w-])")
    context_words = ("securite sociale", "secu", "nir", "insee")
    priority = 63
    numeric = True

    def check(self, candidate: str) -> Verdict:
        # 15 digits with a mod-97 key and a sex digit: a random number rarely passes.
        return Verdict.VALID if nir.is_valid(candidate.replace(" ", "")) else Verdict.INVALID


class EsDniDetector(Detector):
    """Spanish DNI / NIF (8 digits and a check letter; stdnum.es.dni)."""

    entity = EntityType.ES_DNI
    prefilter = r"(?i)\b\d{8}[- ]?[A-Z]\b"
    pattern = re.compile(r"(?i)(?<![\w-])\d{8}[- ]?[A-Z](?!\w)")
    context_words = ("dni", "nif", "documento")
    priority = 61

    def check(self, candidate: str) -> Verdict:
        compact = re.sub(r"[\s-]", "", candidate).upper()
        return Verdict.VALID if dni.is_valid(compact) else Verdict.INVALID


class EsNieDetector(Detector):
    """Spanish foreigner ids (NIE: X/Y/Z, 7 digits, check letter; stdnum.es.nie)."""

    entity = EntityType.ES_NIE
    prefilter = r"(?i)\b[XYZ][- ]?\d{7}[- ]?[A-Z]\b"
    pattern = re.compile(r"(?i)(?<![\w-])[XYZ][- ]?\d{7}[- ]?[A-Z](?!\w)")
    context_words = ("nie", "extranjero")
    priority = 61

    def check(self, candidate: str) -> Verdict:
        compact = re.sub(r"[\s-]", "", candidate).upper()
        return Verdict.VALID if nie.is_valid(compact) else Verdict.INVALID


_OMOCODE = "[0-9LMNPQRSTUV]"


class ItFiscalCodeDetector(Detector):
    """Italian codice fiscale (16 characters with a check letter; stdnum.it.codicefiscale)."""

    entity = EntityType.IT_FISCAL_CODE
    prefilter = r"(?i)\b[A-Z]{6}[0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]\b"
    pattern = re.compile(
        rf"(?i)(?<!\w)[A-Z]{{6}}{_OMOCODE}{{2}}[A-EHLMPR-T]{_OMOCODE}{{2}}[A-Z]{_OMOCODE}{{3}}[A-Z](?!\w)"
    )
    context_words = ("codice fiscale", "cf", "fiscale")
    priority = 68

    def check(self, candidate: str) -> Verdict:
        return Verdict.VALID if codicefiscale.is_valid(candidate.upper()) else Verdict.INVALID


class InAadhaarDetector(Detector):
    """Indian Aadhaar numbers (12 digits, first 2-9, Verhoeff check; stdnum.in_.aadhaar).

    Grouped and Verhoeff-valid is ``VALID``; any other 12-digit number of the right
    shape is ``PLAUSIBLE`` and needs an ``aadhaar`` column name or context word.
    """

    entity = EntityType.IN_AADHAAR
    prefilter = r"\b[2-9]\d{3} \d{4} \d{4}\b"
    hinted_prefilter = r"\b[2-9]\d{3} ?\d{4} ?\d{4}\b"
    pattern = re.compile(r"(?<![\w-])[2-9]\d{3}( ?)\d{4}\1\d{4}(?![\w-])")
    context_words = ("aadhaar", "aadhar", "uidai")
    priority = 60
    numeric = True

    def check(self, candidate: str) -> Verdict:
        verdict = _grouped_verdict(candidate, aadhaar.is_valid, 12)
        return verdict if verdict is not Verdict.INVALID else Verdict.PLAUSIBLE


class InPanDetector(Detector):
    """Indian Permanent Account Numbers (AAAPA9999A, holder-type letter; stdnum.in_.pan)."""

    entity = EntityType.IN_PAN
    prefilter = r"(?i)\b[A-Z]{3}[ABCFGHJLPT][A-Z]\d{4}[A-Z]\b"
    pattern = re.compile(r"(?i)(?<!\w)[A-Z]{3}[ABCFGHJLPT][A-Z]\d{4}[A-Z](?!\w)")
    context_words = ("pan", "permanent account")
    priority = 60

    def check(self, candidate: str) -> Verdict:
        return Verdict.VALID if pan.is_valid(candidate.upper()) else Verdict.INVALID
