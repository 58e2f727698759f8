"""Dates of birth: a date is only a birth date with evidence.

Every table has dates (orders, logins, invoices), so a date on its own is never PII:
the detector returns ``PLAUSIBLE`` for dates that give an age between 0 and 120 years
and relies on a column name (``dob``, ``geburtsdatum``, ``fecha_nacimiento``) or a
context word in free text (``born``, ``né le``, ``nato il``) to count it.
"""

from __future__ import annotations

import re
from datetime import date

from mlward.data.pii.detectors.interface import Detector, Verdict
from mlward.data.pii.entities import EntityType

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            "jan january januar janvier enero gennaio janeiro ene gen",
            "feb february februar fevrier février febrero febbraio fevereiro",
            "mar march marz märz mars marzo março",
            "apr april avril abril aprile",
            "may mai mayo maggio maio mag",
            "jun june juni juin junio giugno junho giu",
            "jul july juli juillet julio luglio julho lug",
            "aug august aout août agosto ago",
            "sep sept september septembre septiembre settembre setembro set",
            "oct october oktober octobre octubre ottobre outubro okt ott out",
            "nov november novembre noviembre novembro",
            "dec december dezember decembre décembre diciembre dicembre dezembro dez dic",
        ),
        start=1,
    )
    for name in names.split()
}
_MONTH = "(?i:" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_ISO = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")
_NUMERIC = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4}|\d{2})$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_DAY_MONTH = re.compile(rf"^(\d{{1,2}})\.?\s+(?:de\s+)?({_MONTH})\s+(?:de\s+)?(\d{{4}})$")
_MONTH_DAY = re.compile(rf"^({_MONTH})\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})$")
MAX_AGE_YEARS = 120


def _age_ok(year: int, month: int, day: int, today: date) -> bool:
    try:
        born = date(year, month, day)
    except ValueError:
        return False
    return born <= today and today.year - year <= MAX_AGE_YEARS


def parse_date_candidates(text: str) -> list[tuple[int, int, int]]:
    """Every (year, month, day) reading of a date string (day/month order is ambiguous)."""
    text = text.strip()
    if match := _ISO.match(text) or _COMPACT.match(text):
        return [(int(match[1]), int(match[2]), int(match[3]))]
    if match := _NUMERIC.match(text):
        first, second, year = int(match[1]), int(match[2]), int(match[3])
        if len(match[3]) == 2:
            year += 1900 if year > date.today().year % 100 else 2000
        return [(year, second, first), (year, first, second)]
    if match := _DAY_MONTH.match(text):
        return [(int(match[3]), _MONTHS[match[2].lower().rstrip(".")], int(match[1]))]
    if match := _MONTH_DAY.match(text):
        return [(int(match[3]), _MONTHS[match[1].lower().rstrip(".")], int(match[2]))]
    return []


class DateOfBirthDetector(Detector):
    """Dates in ISO, European, US and spelled-out forms (9 languages) with a plausible age."""

    entity = EntityType.DATE_OF_BIRTH
    prefilter = (
        r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}|^\d{8}$"
        r"|(?i)\d{1,2}\.?\s+(?:de\s+)?[a-zé]{3,10}\.?\s+(?:de\s+)?\d{4}|[a-z]{3,9}\.?\s+\d{1,2},?\s+\d{4}"
    )
    pattern = re.compile(
        r"(?<![\d.:/-])(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.](?:\d{4}|\d{2})"
        rf"|\d{{1,2}}\.?\s+(?:de\s+)?{_MONTH}\s+(?:de\s+)?\d{{4}}"
        rf"|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}|\d{{8}})(?![\d/:-]|\.\d)"
    )
    context_words = (
        "born", "birth", "dob", "d.o.b", "birthday", "geboren", "geburtsdatum", "geb.",
        "ne le", "nee le", "naissance", "nacido", "nacida", "nacimiento", "nato il",
        "nata il", "nascita", "age",
    )  # fmt: skip
    priority = 25
    numeric = True
    needs_evidence = True

    def check(self, candidate: str) -> Verdict:
        today = date.today()
        for year, month, day in parse_date_candidates(candidate):
            if _age_ok(year, month, day, today):
                return Verdict.PLAUSIBLE
        return Verdict.INVALID
