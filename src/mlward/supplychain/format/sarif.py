"""The audit as SARIF 2.1.0, for code-scanning dashboards.

A small adapter local to the dependency audit: it maps ``core.findings.Finding`` objects
and the audit's rule table to one SARIF run. When the generic
``mlward.report.sarif.to_sarif`` lands, this module should delegate to it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path, PurePath
from typing import Any

from mlward import __version__
from mlward.core.findings import Finding, Severity
from mlward.supplychain.audit import RULES, AuditReport

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVELS = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
# GitHub code scanning ranks results by a numeric "security-severity" (CVSS-like bands).
_SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "2.0",
    Severity.INFO: "0.0",
}


def _uri(path: str) -> str:
    """A SARIF artifact URI: relative paths stay relative, absolute ones become file URIs."""
    pure = PurePath(path)
    return Path(path).as_uri() if pure.is_absolute() else pure.as_posix()


def _result(finding: Finding, rule_index: int) -> dict[str, Any]:
    location: dict[str, Any] = {"artifactLocation": {"uri": _uri(finding.location.path)}}
    line = finding.properties.get("line")
    if isinstance(line, int) and line > 0:
        location["region"] = {"startLine": line}
    properties = {k: v for k, v in finding.properties.items() if v not in (None, [], "")}
    properties["severity"] = finding.severity.name
    properties["security-severity"] = _scored(finding)
    return {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index,
        "level": _LEVELS[finding.severity],
        "message": {"text": finding.message},
        "locations": [{"physicalLocation": location}],
        "properties": properties,
    }


def _scored(finding: Finding) -> str:
    score = finding.properties.get("cvss_score")
    return f"{score:.1f}" if isinstance(score, float) else _SECURITY_SEVERITY[finding.severity]


def findings_to_sarif(
    findings: Sequence[Finding], tool_name: str, rules: Mapping[str, tuple[str, str]]
) -> dict[str, Any]:
    """One SARIF 2.1.0 log with one run: ``rules`` maps rule id -> (name, description)."""
    rule_ids = sorted({f.rule_id for f in findings} | set(rules))
    descriptors = [
        {
            "id": rule_id,
            "name": rules.get(rule_id, (rule_id, rule_id))[0],
            "shortDescription": {"text": rules.get(rule_id, (rule_id, rule_id))[1]},
        }
        for rule_id in rule_ids
    ]
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": tool_name,
                        "version": __version__,
                        "informationUri": "https://pypi.org/project/mlward/",
                        "rules": descriptors,
                    }
                },
                "results": [_result(f, index[f.rule_id]) for f in findings],
            }
        ],
    }


def report_sarif(report: AuditReport) -> dict[str, Any]:
    """The audit's findings as a SARIF log."""
    return findings_to_sarif(report.findings(), "mlward deps audit", RULES)
