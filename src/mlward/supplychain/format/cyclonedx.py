"""The audit as a CycloneDX 1.6 BOM with VEX-style ``vulnerabilities``.

Every audited dependency with a version is a ``library`` component (bom-ref: its purl);
every distinct vulnerability is one entry whose ``affects`` points at those bom-refs and
whose ``recommendation`` names the fixed versions.
"""

from __future__ import annotations

from typing import Any

from mlward.core.findings import Severity
from mlward.report.cyclonedx import new_bom, pypi_purl, python_package_component
from mlward.supplychain.audit import AuditReport
from mlward.supplychain.interface import Rating, Vulnerability

_SEVERITY_NAMES = {s: s.name.lower() for s in Severity}


def _source(advisory_id: str) -> dict[str, str]:
    if advisory_id.startswith("CVE-"):
        return {"name": "NVD", "url": f"https://nvd.nist.gov/vuln/detail/{advisory_id}"}
    if advisory_id.startswith("GHSA-"):
        return {"name": "GitHub", "url": f"https://github.com/advisories/{advisory_id}"}
    return {"name": "OSV", "url": f"https://osv.dev/vulnerability/{advisory_id}"}


def _method(rating: Rating) -> str:
    if rating.method == "CVSS_V4":
        return "CVSSv4"
    if rating.method == "CVSS_V3":
        return "CVSSv31" if (rating.vector or "").startswith("CVSS:3.1/") else "CVSSv3"
    if rating.method == "CVSS_V2":
        return "CVSSv2"
    return "other"


def _rating(rating: Rating) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "source": _source(rating.source),
        "severity": _SEVERITY_NAMES[rating.severity],
        "method": _method(rating),
    }
    if rating.score is not None:
        entry["score"] = rating.score
    if rating.vector:
        entry["vector"] = rating.vector
    return entry


def _recommendation(package: str, vuln: Vulnerability) -> str:
    if not vuln.fix_versions:
        return f"No fixed release of {package} is known; remove it or mitigate the issue."
    return f"Upgrade {package} to {vuln.fix_versions[0]} or later."


def report_cyclonedx(report: AuditReport) -> dict[str, Any]:
    """The audit as a CycloneDX 1.6 BOM dict (validate with ``report.cyclonedx``)."""
    components: dict[str, dict[str, Any]] = {}
    entries: dict[str, dict[str, Any]] = {}
    for result in report.results:
        dep = result.dependency
        if dep.version is None:
            continue
        ref = pypi_purl(dep.name, dep.version)
        components.setdefault(ref, python_package_component(dep.name, dep.version))
        for vuln in result.vulnerabilities:
            entry = entries.get(vuln.id)
            if entry is None:
                entry = entries[vuln.id] = _vulnerability(vuln, dep.name)
            affected = {"ref": ref, "versions": [{"version": dep.version, "status": "affected"}]}
            if affected not in entry["affects"]:
                entry["affects"].append(affected)
    return new_bom(components.values(), vulnerabilities=entries.values())


def _vulnerability(vuln: Vulnerability, package: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "bom-ref": f"vuln:{vuln.id}",
        "id": vuln.id,
        "source": _source(vuln.id),
        "references": [{"id": a, "source": _source(a)} for a in vuln.aliases],
        "ratings": [_rating(r) for r in vuln.ratings],
        "description": vuln.summary,
        "recommendation": _recommendation(package, vuln),
        "advisories": [{"url": url} for url in vuln.references],
        "affects": [],
        "properties": [
            {"name": "mlward:severity", "value": vuln.severity.name},
            {"name": "mlward:rated", "value": str(vuln.rated).lower()},
            *({"name": "mlward:fix_version", "value": v} for v in vuln.fix_versions),
        ],
    }
    if vuln.published:
        entry["published"] = vuln.published
    if vuln.modified:
        entry["updated"] = vuln.modified
    return entry
