"""Audit dependencies against a vulnerability service and turn the answer into findings.

The same vulnerability is usually published several times (a PYSEC record, a GHSA
record, both aliasing one CVE); advisories of one package that share any id are merged
into one ``Vulnerability`` so every problem is counted once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from packaging.version import Version

from mlward.core.findings import Finding, Location, Severity
from mlward.supplychain.interface import (
    Dependency,
    PackageVersion,
    Rating,
    Vulnerability,
    VulnerabilityService,
)
from mlward.supplychain.osv import parse_version
from mlward.supplychain.ratings import overall_severity

RULE_VULNERABLE = "MW-DEP-001"
"""A dependency version is affected by a known vulnerability."""
RULE_UNRESOLVED = "MW-DEP-002"
"""No version could be chosen for a declared dependency, so it was not audited."""
RULE_INVALID_VERSION = "MW-DEP-003"
"""A version is not PEP 440: only advisories' explicit version lists could be checked."""

RULES: dict[str, tuple[str, str]] = {
    RULE_VULNERABLE: (
        "vulnerable-dependency",
        "A dependency version is affected by a published vulnerability advisory.",
    ),
    RULE_UNRESOLVED: (
        "unresolved-dependency",
        "A declared dependency has no pinned or installed version, so it was not audited.",
    ),
    RULE_INVALID_VERSION: (
        "invalid-dependency-version",
        "A dependency version is not PEP 440, so advisory ranges could not be evaluated.",
    ),
}
"""Rule id -> (short name, description), for formats that describe their rules (SARIF)."""


@dataclass(frozen=True)
class AuditedDependency:
    """One dependency and the vulnerabilities affecting its version."""

    dependency: Dependency
    """What was audited."""
    vulnerabilities: tuple[Vulnerability, ...] = ()
    """Merged advisories affecting it, worst first."""


@dataclass(frozen=True)
class AuditReport:
    """The outcome of one audit."""

    results: tuple[AuditedDependency, ...]
    """Every dependency, in declaration order."""
    service: str
    """Which vulnerability source answered (``describe()`` of the service)."""
    warnings: tuple[str, ...] = ()
    """Problems met in the advisory data that did not stop the audit."""

    @property
    def vulnerabilities(self) -> list[tuple[Dependency, Vulnerability]]:
        """Every (dependency, vulnerability) pair."""
        return [(r.dependency, v) for r in self.results for v in r.vulnerabilities]

    @property
    def unresolved(self) -> list[Dependency]:
        """Dependencies that had no version to audit."""
        return [r.dependency for r in self.results if r.dependency.version is None]

    def count(self, at_least: Severity) -> int:
        """How many vulnerabilities are at least ``at_least`` severe."""
        return sum(1 for _, v in self.vulnerabilities if v.severity >= at_least)

    def findings(self) -> list[Finding]:
        """The report as findings, for gates and the generic formatters."""
        return [f for r in self.results for f in dependency_findings(r)]


def _version_key(text: str) -> tuple[int, Version, str]:
    """Sort PEP 440 versions by value, then unparseable ones by text."""
    parsed = parse_version(text)
    return (0, parsed, "") if parsed is not None else (1, Version("0"), text)


def _primary_rank(vuln: Vulnerability) -> tuple[int, int, int, str]:
    has_cvss = any(r.method.startswith("CVSS_") for r in vuln.ratings)
    prefix = 0 if vuln.id.startswith("GHSA-") else 1 if vuln.id.startswith("PYSEC-") else 2
    return (not vuln.rated, not has_cvss, prefix, vuln.id)


def merge_aliases(vulnerabilities: Iterable[Vulnerability]) -> tuple[Vulnerability, ...]:
    """Merge advisories that share an id or alias; return them worst first.

    The primary record is the best-rated one (CVSS before database ratings, GHSA before
    PYSEC); the others' ids become aliases and their ratings, fixes and links are added.
    """
    groups: list[list[Vulnerability]] = []
    for vuln in vulnerabilities:
        touching = [g for g in groups if any(vuln.ids & other.ids for other in g)]
        merged = [vuln]
        for group in touching:
            merged.extend(group)
            groups.remove(group)
        groups.append(merged)
    result = []
    for group in groups:
        group.sort(key=_primary_rank)
        primary = group[0]
        ratings: dict[tuple[str, str | None, Severity], Rating] = {}
        for vuln in group:
            for rating in vuln.ratings:
                ratings.setdefault((rating.method, rating.vector, rating.severity), rating)
        severity, rated = overall_severity(ratings.values())
        ids = frozenset().union(*(v.ids for v in group))
        fixes = {f for v in group for f in v.fix_versions}
        result.append(
            Vulnerability(
                id=primary.id,
                aliases=tuple(sorted(ids - {primary.id})),
                summary=next((v.summary for v in group if v.summary != v.id), primary.summary),
                severity=severity,
                rated=rated,
                ratings=tuple(ratings.values()),
                fix_versions=tuple(sorted(fixes, key=_version_key)),
                references=tuple(dict.fromkeys(u for v in group for u in v.references)),
                published=primary.published,
                modified=max((v.modified or "" for v in group), default="") or None,
            )
        )
    result.sort(key=lambda v: (-v.severity, v.id))
    return tuple(result)


def audit_dependencies(dependencies: Sequence[Dependency], service: VulnerabilityService) -> AuditReport:
    """Ask ``service`` about every resolved dependency and merge the answers per package."""
    queries = sorted({PackageVersion(d.key, d.version) for d in dependencies if d.version is not None})
    answer = service.query(queries)
    results = []
    for dependency in dependencies:
        found: tuple[Vulnerability, ...] = ()
        if dependency.version is not None:
            queried = PackageVersion(dependency.key, dependency.version)
            found = answer.vulnerabilities.get(queried, ())
        results.append(AuditedDependency(dependency, merge_aliases(found)))
    return AuditReport(results=tuple(results), service=service.describe(), warnings=answer.warnings)


def _location(dependency: Dependency) -> Location:
    detail = f"line {dependency.line}" if dependency.line else None
    return Location(path=dependency.path, detail=detail)


def best_cvss(vuln: Vulnerability) -> Rating | None:
    """The highest-scoring CVSS rating of ``vuln`` (v4 and v3 preferred over v2 on ties)."""
    scored = [r for r in vuln.ratings if r.score is not None]
    return max(scored, key=lambda r: (r.score, r.method), default=None)


def dependency_findings(result: AuditedDependency) -> list[Finding]:
    """The findings of one audited dependency."""
    dep = result.dependency
    base = {"package": dep.name, "version": dep.version, "line": dep.line}
    if dep.version is None:
        message = f"{dep.name}: not audited, {dep.note or 'no version'}"
        return [Finding(RULE_UNRESOLVED, Severity.INFO, message, _location(dep), base)]
    findings = []
    if parse_version(dep.version) is None:
        message = (
            f"{dep.name} {dep.version} is not a PEP 440 version: advisory ranges could not be "
            "evaluated, only their explicit version lists"
        )
        findings.append(Finding(RULE_INVALID_VERSION, Severity.LOW, message, _location(dep), base))
    for vuln in result.vulnerabilities:
        cves = [a for a in vuln.aliases if a.startswith("CVE-")]
        named = f"{vuln.id} ({', '.join(cves)})" if cves else vuln.id
        fix = f"; fixed in {vuln.fix_versions[0]}" if vuln.fix_versions else "; no fix released"
        rating = best_cvss(vuln)
        properties = {
            **base,
            "vulnerability_id": vuln.id,
            "aliases": list(vuln.aliases),
            "fix_versions": list(vuln.fix_versions),
            "rated": vuln.rated,
            "cvss_score": rating.score if rating else None,
            "cvss_vector": rating.vector if rating else None,
            "references": list(vuln.references[:5]),
        }
        message = f"{dep.name} {dep.version} is affected by {named}: {vuln.summary}{fix}"
        findings.append(Finding(RULE_VULNERABLE, vuln.severity, message, _location(dep), properties))
    return findings
