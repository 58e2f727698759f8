"""Severity from CVSS vectors (scored by the cvss package) and from database labels."""

from __future__ import annotations

import pytest

from mlward.core.findings import Severity
from mlward.supplychain.ratings import (
    cvss_rating,
    overall_severity,
    ratings_from_record,
    severity_from_score,
)


@pytest.mark.parametrize(
    ("method", "vector", "score", "severity"),
    [
        ("CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, Severity.CRITICAL),
        ("CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L", 5.3, Severity.MEDIUM),
        ("CVSS_V3", "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 7.5, Severity.HIGH),
        ("CVSS_V3", "CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 1.8, Severity.LOW),
        ("CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0, Severity.INFO),
        (
            "CVSS_V4",
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
            9.3,
            Severity.CRITICAL,
        ),
        ("CVSS_V2", "AV:N/AC:L/Au:N/C:C/I:C/A:C", 10.0, Severity.HIGH),  # v2 has no critical
    ],
)
def test_score_and_severity_from_vector(method, vector, score, severity) -> None:
    rating = cvss_rating(method, vector, "X-1")
    assert rating.score == score
    assert rating.severity is severity
    assert rating.vector == vector


def test_bad_vector_is_a_warning_not_a_crash() -> None:
    record = {
        "id": "X-2",
        "severity": [
            {"type": "CVSS_V3", "score": "CVSS:3.1/AV:Q/AC:L"},
            {"type": "Ubuntu", "score": "high"},
        ],
        "database_specific": {"severity": "HIGH"},
    }
    warnings: list[str] = []
    ratings = ratings_from_record(record, [], warnings)
    assert [r.method for r in ratings] == ["DATABASE"]
    assert len(warnings) == 1 and warnings[0].startswith("X-2: invalid CVSS_V3 vector")
    assert overall_severity(ratings) == (Severity.HIGH, True)


def test_cvss_beats_the_database_label(advisory) -> None:
    # GitHub labels CVE-2020-28493 MODERATE and its vector scores 5.3: both medium; the
    # PyYAML advisory is labelled CRITICAL and scores 9.8.
    ratings = ratings_from_record(advisory("GHSA-8q59-q68h-6hv4"), [], [])
    assert [(r.method, r.score) for r in ratings] == [("CVSS_V3", 9.8), ("DATABASE", None)]
    assert overall_severity(ratings) == (Severity.CRITICAL, True)


def test_database_moderate_means_medium(advisory) -> None:
    record = {"id": "X-3", "database_specific": {"severity": "MODERATE"}}
    assert overall_severity(ratings_from_record(record, [], [])) == (Severity.MEDIUM, True)


def test_unrated_fails_closed_as_high() -> None:
    assert overall_severity([]) == (Severity.HIGH, False)


def test_per_package_severity_is_used(advisory) -> None:
    record = advisory("MLWARD-TEST-1")
    ratings = ratings_from_record(record, record["affected"], [])
    assert [(r.method, r.score, r.severity) for r in ratings] == [("CVSS_V4", 9.3, Severity.CRITICAL)]


@pytest.mark.parametrize(
    ("score", "severity"),
    [
        (0.1, Severity.LOW),
        (3.9, Severity.LOW),
        (4.0, Severity.MEDIUM),
        (6.9, Severity.MEDIUM),
        (7.0, Severity.HIGH),
        (8.9, Severity.HIGH),
        (9.0, Severity.CRITICAL),
    ],
)
def test_first_bands(score: float, severity: Severity) -> None:
    assert severity_from_score(score) is severity
