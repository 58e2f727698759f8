"""End-to-end audits over the fixture OSV archive: merging, severities, findings."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlward.core.findings import Location, Severity
from mlward.supplychain.audit import (
    RULE_INVALID_VERSION,
    RULE_UNRESOLVED,
    RULE_VULNERABLE,
    AuditReport,
    audit_dependencies,
    merge_aliases,
)
from mlward.supplychain.environment import current_environment
from mlward.supplychain.interface import Rating, Vulnerability
from mlward.supplychain.osv_archive import OsvArchiveService
from mlward.supplychain.resolve import collect_dependencies


@pytest.fixture
def report(tmp_path: Path, osv_zip: Path, site_packages: Path) -> AuditReport:
    req = tmp_path / "requirements.txt"
    req.write_text(
        "jinja2==2.10\n"
        "PyYAML==5.3.1\n"
        "requests==2.31.0\n"
        "urllib3\n"  # unpinned: audited at the installed 1.26.16
        "mlward-fixture-lib==1.4.2\n"
        "mlward-fixture-unrated==1.0\n"
        "mlward-fixture-legacy===2004d\n"
        "not-installed>=1\n"
    )
    deps = collect_dependencies(requirements=[req], environment=current_environment([site_packages]))
    return audit_dependencies(deps, OsvArchiveService(osv_zip))


def _by_package(report: AuditReport) -> dict[str, list[Vulnerability]]:
    return {r.dependency.name: list(r.vulnerabilities) for r in report.results}


def test_vulnerabilities_per_package(report: AuditReport) -> None:
    found = {name: [v.id for v in vulns] for name, vulns in _by_package(report).items()}
    assert found == {
        # PYSEC-2021-66 and GHSA-g3rq-g295-4j3m are one vulnerability (CVE-2020-28493).
        "jinja2": ["GHSA-g3rq-g295-4j3m", "GHSA-h5c8-rqwp-cp95"],
        "PyYAML": ["GHSA-8q59-q68h-6hv4"],
        "requests": [],  # 2.31.0 is the fix; the withdrawn advisory is ignored
        "urllib3": ["GHSA-v845-jxx5-vc9f"],
        "mlward-fixture-lib": ["MLWARD-TEST-1"],
        "mlward-fixture-unrated": ["MLWARD-TEST-5"],
        "mlward-fixture-legacy": ["MLWARD-TEST-3"],
        "not-installed": [],
    }


def test_merged_vulnerability_carries_every_id(report: AuditReport) -> None:
    redos = _by_package(report)["jinja2"][0]
    assert redos.aliases == ("CVE-2020-28493", "PYSEC-2021-66")
    assert redos.severity is Severity.MEDIUM and redos.rated
    assert redos.fix_versions == ("2.11.3",)
    assert [(r.source, r.method) for r in redos.ratings] == [
        ("GHSA-g3rq-g295-4j3m", "CVSS_V3"),
        ("GHSA-g3rq-g295-4j3m", "DATABASE"),
    ]
    assert "https://github.com/pallets/jinja/pull/1343" in redos.references


def test_severities_and_fixes(report: AuditReport) -> None:
    vulns = {v.id: v for _, v in report.vulnerabilities}
    assert vulns["GHSA-8q59-q68h-6hv4"].severity is Severity.CRITICAL
    assert vulns["GHSA-8q59-q68h-6hv4"].fix_versions == ("5.4",)
    assert vulns["MLWARD-TEST-1"].severity is Severity.CRITICAL  # CVSS v4 9.3
    assert vulns["MLWARD-TEST-1"].fix_versions == ()  # only last_affected is known
    assert vulns["MLWARD-TEST-5"].severity is Severity.HIGH and not vulns["MLWARD-TEST-5"].rated
    assert vulns["MLWARD-TEST-3"].severity is Severity.LOW  # database label only
    assert report.count(Severity.HIGH) == 3
    assert report.count(Severity.CRITICAL) == 2
    assert report.count(Severity.INFO) == 7


def test_findings(report: AuditReport) -> None:
    findings = report.findings()
    by_rule: dict[str, list] = {}
    for finding in findings:
        by_rule.setdefault(finding.rule_id, []).append(finding)
    assert len(by_rule[RULE_VULNERABLE]) == 7
    (unresolved,) = by_rule[RULE_UNRESOLVED]
    assert unresolved.severity is Severity.INFO
    assert unresolved.message == (
        "not-installed: not audited, not pinned and not installed: no version to audit"
    )
    (invalid,) = by_rule[RULE_INVALID_VERSION]
    assert invalid.properties["package"] == "mlward-fixture-legacy"
    pyyaml = next(f for f in by_rule[RULE_VULNERABLE] if f.properties["package"] == "PyYAML")
    assert pyyaml.severity is Severity.CRITICAL
    assert pyyaml.message == (
        "PyYAML 5.3.1 is affected by GHSA-8q59-q68h-6hv4 (CVE-2020-14343): "
        "Improper Input Validation in PyYAML; fixed in 5.4"
    )
    assert pyyaml.location == Location(path=pyyaml.location.path, detail="line 2")
    assert pyyaml.properties["cvss_score"] == 9.8
    assert pyyaml.properties["fix_versions"] == ["5.4"]
    assert pyyaml.to_dict()["severity"] == "CRITICAL"


def test_warnings_surface_archive_problems(report: AuditReport) -> None:
    assert report.warnings == (
        "MLWARD-TEST-4: range skipped, 'not a version!' is not a PEP 440 version",
        "1 member(s) of PyPI-all.zip could not be used, first: BROKEN-1.json: not JSON "
        "(Expecting property name enclosed in double quotes: line 1 column 2 (char 1))",
    )
    assert report.service.startswith("osv-archive ")


def test_merge_is_transitive_and_keeps_the_worst_rating() -> None:
    def vuln(ident: str, aliases: tuple[str, ...], rating: Rating | None) -> Vulnerability:
        ratings = (rating,) if rating else ()
        sev = rating.severity if rating else Severity.HIGH
        return Vulnerability(ident, aliases, ident, sev, rating is not None, ratings, ("2.0",))

    a = vuln("PYSEC-1", ("CVE-1",), None)
    b = vuln("OSV-2", ("GHSA-x",), Rating("OSV-2", "DATABASE", Severity.LOW))
    c = vuln("GHSA-x", ("CVE-1",), Rating("GHSA-x", "CVSS_V3", Severity.MEDIUM, 5.0, "v"))
    d = vuln("PYSEC-9", (), None)
    merged = merge_aliases([a, b, c, d])
    assert [(m.id, m.aliases, m.severity, m.rated) for m in merged] == [
        ("PYSEC-9", (), Severity.HIGH, False),  # unrated: fail closed
        ("GHSA-x", ("CVE-1", "OSV-2", "PYSEC-1"), Severity.MEDIUM, True),
    ]
