"""Severity ratings of OSV advisories: CVSS vectors scored with the ``cvss`` package.

OSV carries severity as CVSS vector strings (``severity[].type`` CVSS_V2/V3/V4, top
level or per affected package) and, for GitHub advisories, a qualitative
``database_specific.severity``. Scores are always recomputed from the vector rather than
trusted from free text, and mapped to mlward's ``Severity`` with the FIRST qualitative
scale (v3/v4: 0.1 low, 4.0 medium, 7.0 high, 9.0 critical; v2 has no critical band).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cvss import CVSS2, CVSS3, CVSS4, CVSSError

from mlward.core.findings import Severity
from mlward.supplychain.interface import Rating

# GitHub's advisory database says MODERATE where CVSS says medium.
_DATABASE_SEVERITIES = {
    "LOW": Severity.LOW,
    "MODERATE": Severity.MEDIUM,
    "MEDIUM": Severity.MEDIUM,
    "HIGH": Severity.HIGH,
    "CRITICAL": Severity.CRITICAL,
}

UNRATED_SEVERITY = Severity.HIGH
"""Severity given to an advisory with no rating at all: fail closed, so default gates see it."""


def severity_from_score(score: float, *, cvss_major: int = 3) -> Severity:
    """Map a CVSS base score to a qualitative severity (FIRST bands; v2 tops out at HIGH)."""
    if score <= 0.0:
        return Severity.INFO
    if score < 4.0:
        return Severity.LOW
    if score < 7.0:
        return Severity.MEDIUM
    if score < 9.0 or cvss_major == 2:
        return Severity.HIGH
    return Severity.CRITICAL


def cvss_rating(method: str, vector: str, source: str) -> Rating:
    """Score one OSV severity entry; raise ``ValueError`` for an unknown type or bad vector."""
    try:
        if method == "CVSS_V3":
            score = float(CVSS3(vector).base_score)
            major = 3
        elif method == "CVSS_V4":
            score = float(CVSS4(vector).base_score)
            major = 4
        elif method == "CVSS_V2":
            score = float(CVSS2(vector).base_score)
            major = 2
        else:
            raise ValueError(f"{source}: unsupported severity type {method!r}")
    except CVSSError as exc:
        raise ValueError(f"{source}: invalid {method} vector {vector!r}: {exc}") from None
    return Rating(
        source=source,
        method=method,
        severity=severity_from_score(score, cvss_major=major),
        score=score,
        vector=vector,
    )


def ratings_from_record(
    record: Mapping[str, Any], affected: Iterable[Mapping[str, Any]], warnings: list[str]
) -> tuple[Rating, ...]:
    """Collect the ratings of an OSV record for the matched ``affected`` entries.

    CVSS ratings come first (top-level ``severity`` and the per-package ``severity`` of
    each matched entry), then the database's qualitative severity. Bad vectors are
    reported in ``warnings`` and skipped.
    """
    source = str(record.get("id", "?"))
    entries: list[Any] = list(record.get("severity") or [])
    for entry in affected:
        entries.extend(entry.get("severity") or [])
    ratings: list[Rating] = []
    seen: set[tuple[str, str]] = set()
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        method, vector = str(entry.get("type", "")), str(entry.get("score", ""))
        if (method, vector) in seen or not method.startswith("CVSS_"):
            continue  # Ubuntu priorities and other non-CVSS scales are not comparable
        seen.add((method, vector))
        try:
            ratings.append(cvss_rating(method, vector, source))
        except ValueError as exc:
            warnings.append(str(exc))
    database = record.get("database_specific")
    if isinstance(database, Mapping):
        label = str(database.get("severity") or "").strip().upper()
        if label in _DATABASE_SEVERITIES:
            ratings.append(Rating(source=source, method="DATABASE", severity=_DATABASE_SEVERITIES[label]))
    return tuple(ratings)


def overall_severity(ratings: Iterable[Rating]) -> tuple[Severity, bool]:
    """Return ``(severity, rated)``: the worst CVSS rating, else the database's, else HIGH."""
    ratings = list(ratings)
    cvss = [r.severity for r in ratings if r.method.startswith("CVSS_")]
    if cvss:
        return max(cvss), True
    database = [r.severity for r in ratings if r.method == "DATABASE"]
    if database:
        return max(database), True
    return UNRATED_SEVERITY, False
