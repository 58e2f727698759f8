"""OSV range evaluation on fixture advisories: exact boundaries, as the OSV schema defines."""

from __future__ import annotations

import pytest

from mlward.core.findings import Severity
from mlward.supplychain.osv import in_range, parse_version, vulnerability_for


def _matches(record: dict, package: str, version: str) -> bool:
    warnings: list[str] = []
    return vulnerability_for(record, package, version, warnings) is not None


@pytest.mark.parametrize(
    ("version", "affected"),
    [
        ("2.2.1", False),  # below introduced
        ("2.3.0", True),  # introduced is inclusive
        ("2.3", True),  # same PEP 440 version as 2.3.0
        ("2.30.0", True),
        ("2.31.0rc1", True),  # a pre-release of the fix is still before it
        ("2.31.0", False),  # fixed is exclusive
        ("2.31.0.post1", False),
        ("2.32.3", False),
    ],
)
def test_requests_introduced_fixed_boundaries(advisory, version: str, affected: bool) -> None:
    record = advisory("GHSA-j8r2-6x86-q33q")
    assert _matches(record, "requests", version) is affected


@pytest.mark.parametrize(
    ("version", "affected"),
    [
        ("0.1", True),
        ("1.26.16", True),
        ("1.26.17", False),
        ("1.26.18", False),
        ("2.0.0a1", False),  # between the two ranges: after 1.26.17, before 2.0.0
        ("2.0.0", True),
        ("2.0.5", True),
        ("2.0.6", False),
        ("2.2.0", False),
    ],
)
def test_urllib3_two_pairs_given_out_of_order(advisory, version: str, affected: bool) -> None:
    record = advisory("GHSA-v845-jxx5-vc9f")
    assert _matches(record, "urllib3", version) is affected


@pytest.mark.parametrize(
    ("version", "affected"),
    [
        ("0.9", False),
        ("1.0", True),
        ("1.0.0", True),
        ("1.4.2", True),  # last_affected is inclusive
        ("1.4.2.post1", False),
        ("1.4.3", False),
    ],
)
def test_last_affected_is_inclusive(advisory, version: str, affected: bool) -> None:
    record = advisory("MLWARD-TEST-1")
    # The record spells the name "MLWard_Fixture.Lib": PEP 503 normalisation must match it.
    assert _matches(record, "mlward-fixture-lib", version) is affected


def test_introduced_zero_covers_pre_releases_and_dev_releases(advisory) -> None:
    record = advisory("MLWARD-TEST-5")
    assert _matches(record, "mlward-fixture-unrated", "0.0.dev0")
    assert _matches(record, "mlward-fixture-unrated", "2.0b1")
    assert not _matches(record, "mlward-fixture-unrated", "2.0rc1")
    assert not _matches(record, "mlward-fixture-unrated", "2.0")


def test_explicit_versions_match_by_pep440_equality_and_by_text(advisory) -> None:
    record = advisory("MLWARD-TEST-3")
    assert _matches(record, "mlward-fixture-legacy", "1.0")  # listed as 1.0.0
    assert _matches(record, "mlward-fixture-legacy", "2004d")  # not PEP 440, exact text
    assert not _matches(record, "mlward-fixture-legacy", "1.1")
    assert not _matches(record, "mlward-fixture-legacy", "2004e")


def test_withdrawn_advisory_never_matches(advisory) -> None:
    assert not _matches(advisory("MLWARD-TEST-2"), "requests", "2.0.0")


def test_git_ranges_are_not_evaluated_but_the_ecosystem_range_is(advisory) -> None:
    record = advisory("PYSEC-2021-66")
    assert _matches(record, "jinja2", "2.11.2")
    assert not _matches(record, "jinja2", "2.11.3")
    # A commit hash is not a version: the GIT range neither matches nor crashes.
    assert not _matches(record, "jinja2", "ef658dc3b6389b091d608e710a810ce8b87995b3")


def test_other_ecosystems_and_other_packages_do_not_match(advisory) -> None:
    record = advisory("MLWARD-TEST-4")
    warnings: list[str] = []
    # The npm entry affects every version; the PyPI one has an unusable range.
    assert vulnerability_for(record, "mlward-fixture-lib", "5.0", warnings) is None
    assert warnings == ["MLWARD-TEST-4: range skipped, 'not a version!' is not a PEP 440 version"]
    assert not _matches(advisory("GHSA-j8r2-6x86-q33q"), "urllib3", "2.3.0")


def test_invalid_installed_version_does_not_crash_on_ranges(advisory) -> None:
    assert not _matches(advisory("GHSA-j8r2-6x86-q33q"), "requests", "2.x-custom")


def test_vulnerability_fields_from_a_ghsa_record(advisory) -> None:
    warnings: list[str] = []
    vuln = vulnerability_for(advisory("GHSA-v845-jxx5-vc9f"), "urllib3", "1.26.16", warnings)
    assert vuln is not None and warnings == []
    assert vuln.id == "GHSA-v845-jxx5-vc9f"
    assert vuln.aliases == ("CVE-2023-43804", "PYSEC-2023-192")
    assert vuln.summary == "Cookie HTTP header isn't stripped on cross-origin redirects"
    assert vuln.fix_versions == ("1.26.17", "2.0.6")  # nearest fix first
    assert vuln.severity is Severity.MEDIUM and vuln.rated
    assert vuln.ratings[0].score == 5.9
    assert vuln.references[0] == "https://nvd.nist.gov/vuln/detail/CVE-2023-43804"  # ADVISORY first
    assert vuln.published == "2023-10-02T23:27:47Z"


def test_fix_versions_only_above_the_audited_version(advisory) -> None:
    vuln = vulnerability_for(advisory("GHSA-v845-jxx5-vc9f"), "urllib3", "2.0.3", [])
    assert vuln is not None and vuln.fix_versions == ("2.0.6",)


def test_summary_falls_back_to_first_line_of_details(advisory) -> None:
    vuln = vulnerability_for(advisory("MLWARD-TEST-5"), "mlward-fixture-unrated", "1.0", [])
    assert vuln is not None
    assert vuln.summary == "Synthetic advisory without any rating, fixed in a release candidate."


def test_limit_events_bound_the_range() -> None:
    rng = {"type": "ECOSYSTEM", "events": [{"introduced": "1.0"}, {"limit": "1.5"}]}
    assert in_range(parse_version("1.4"), rng)
    assert not in_range(parse_version("1.5"), rng)
    star = {"type": "ECOSYSTEM", "events": [{"introduced": "1.0"}, {"limit": "*"}]}
    assert in_range(parse_version("99"), star)


def test_parse_version_rejects_without_raising() -> None:
    assert parse_version("1.0.post1") is not None
    assert parse_version("2004d") is None
    assert parse_version("") is None
