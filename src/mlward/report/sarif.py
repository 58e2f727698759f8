"""SARIF 2.1.0 output for any list of ``Finding`` (model scans, PII scans, audits...).

Severities map to SARIF levels (CRITICAL/HIGH -> error, MEDIUM -> warning, LOW/INFO ->
note) and to a ``security-severity`` score that code-scanning dashboards sort by. A
finding inside a container is located at ``path`` with the member and byte offset in the
region's properties and a logical location named after the member, as SARIF has no
native notion of archive members.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import PurePath
from typing import Any

from mlward import __version__
from mlward.core.findings import Finding, Severity

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
_SCORE = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}


def _uri(path: str) -> str:
    return PurePath(path).as_posix()


def _location(finding: Finding) -> dict[str, Any]:
    loc = finding.location
    physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(loc.path)}}
    if loc.offset is not None and loc.member is None:
        physical["region"] = {"byteOffset": max(0, loc.offset)}
    result: dict[str, Any] = {"physicalLocation": physical}
    logical = []
    if loc.member is not None:
        logical.append(
            {"fullyQualifiedName": f"{_uri(loc.path)}!{loc.member}", "kind": "module", "name": loc.member}
        )
    if logical:
        result["logicalLocations"] = logical
    props = {
        k: v
        for k, v in (("member", loc.member), ("offset", loc.offset), ("detail", loc.detail))
        if v is not None
    }
    if props:
        result["properties"] = props
    return result


def to_sarif(
    findings: Iterable[Finding],
    tool_name: str,
    rules: Mapping[str, str],
    *,
    tool_version: str = __version__,
    information_uri: str | None = None,
    artifacts: Iterable[str] = (),
) -> dict[str, Any]:
    """Build a SARIF 2.1.0 log with one run for ``findings``.

    ``rules`` maps rule ids to one-line descriptions; rule ids used by findings but
    missing from ``rules`` are still declared (with the id as description).
    """
    items = list(findings)
    rule_ids = list(dict.fromkeys([*rules, *(f.rule_id for f in items)]))
    index = {rid: i for i, rid in enumerate(rule_ids)}
    worst: dict[str, Severity] = {}
    for f in items:
        worst[f.rule_id] = max(worst.get(f.rule_id, Severity.INFO), f.severity)
    driver: dict[str, Any] = {
        "name": tool_name,
        "version": tool_version,
        "rules": [
            {
                "id": rid,
                "shortDescription": {"text": rules.get(rid, rid)},
                "defaultConfiguration": {"level": _LEVEL[worst.get(rid, Severity.HIGH)]},
                "properties": {
                    "security-severity": _SCORE[worst.get(rid, Severity.HIGH)],
                    "tags": ["security"],
                },
            }
            for rid in rule_ids
        ],
    }
    if information_uri:
        driver["informationUri"] = information_uri
    results = []
    for f in items:
        props: dict[str, Any] = {"severity": f.severity.name, "security-severity": _SCORE[f.severity]}
        props.update({k: v for k, v in f.properties.items() if _jsonable(v)})
        results.append(
            {
                "ruleId": f.rule_id,
                "ruleIndex": index[f.rule_id],
                "level": _LEVEL[f.severity],
                "message": {"text": f.message},
                "locations": [_location(f)],
                "properties": props,
            }
        )
    paths = list(dict.fromkeys([*artifacts, *(f.location.path for f in items)]))
    run: dict[str, Any] = {
        "tool": {"driver": driver},
        "results": results,
        "artifacts": [{"location": {"uri": _uri(p)}} for p in paths],
        "columnKind": "unicodeCodePoints",
    }
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}


def _jsonable(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool | list | dict)
