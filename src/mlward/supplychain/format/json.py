"""The audit as mlward's JSON document (``schema_version`` 1, described in docs/deps-audit.md)."""

from __future__ import annotations

from typing import Any

from mlward import __version__
from mlward.core.findings import Severity
from mlward.supplychain.audit import AuditReport
from mlward.supplychain.interface import Rating, Vulnerability

SCHEMA_VERSION = 1
"""Bumped on any incompatible change of the document's shape."""


def _rating(rating: Rating) -> dict[str, Any]:
    return {
        "source": rating.source,
        "method": rating.method,
        "severity": rating.severity.name,
        "score": rating.score,
        "vector": rating.vector,
    }


def vulnerability_dict(vuln: Vulnerability) -> dict[str, Any]:
    """One vulnerability as JSON."""
    return {
        "id": vuln.id,
        "aliases": list(vuln.aliases),
        "summary": vuln.summary,
        "severity": vuln.severity.name,
        "rated": vuln.rated,
        "ratings": [_rating(r) for r in vuln.ratings],
        "fix_versions": list(vuln.fix_versions),
        "references": list(vuln.references),
        "published": vuln.published,
        "modified": vuln.modified,
    }


def report_dict(report: AuditReport) -> dict[str, Any]:
    """The whole audit as a JSON-ready dict."""
    by_severity = {s.name: 0 for s in sorted(Severity, reverse=True)}
    for _, vuln in report.vulnerabilities:
        by_severity[vuln.severity.name] += 1
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "mlward.deps.audit",
        "tool": {"name": "mlward", "version": __version__},
        "service": report.service,
        "summary": {
            "dependencies": len(report.results),
            "unresolved": len(report.unresolved),
            "vulnerable_dependencies": sum(1 for r in report.results if r.vulnerabilities),
            "vulnerabilities": len(report.vulnerabilities),
            "by_severity": by_severity,
        },
        "dependencies": [
            {
                "name": r.dependency.name,
                "version": r.dependency.version,
                "path": r.dependency.path,
                "line": r.dependency.line,
                "requirement": r.dependency.requirement,
                "note": r.dependency.note,
                "vulnerabilities": [vulnerability_dict(v) for v in r.vulnerabilities],
            }
            for r in report.results
        ],
        "warnings": list(report.warnings),
    }
