"""The generic SARIF 2.1.0 formatter, validated against the official schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from mlward.core.findings import Finding, Location, Severity
from mlward.report.sarif import to_sarif

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[1] / "fixtures" / "sarif-schema-2.1.0.json").read_text()
)


def test_findings_of_any_family_make_a_valid_log() -> None:
    findings = [
        Finding(
            "MW-X-1",
            Severity.CRITICAL,
            "bad global",
            Location("m.pt", "archive/data.pkl", 42, "GLOBAL"),
            {"global": "os.system"},
        ),
        Finding("PII-1", Severity.LOW, "email in column", Location("d.csv", None, 10, "col:a")),
        Finding("UNDECLARED", Severity.MEDIUM, "rule not in the table", Location("x")),
    ]
    log = to_sarif(findings, "mlward-test", {"MW-X-1": "Dangerous global", "PII-1": "PII"})
    jsonschema.validate(log, SCHEMA)
    run = log["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["MW-X-1", "PII-1", "UNDECLARED"]
    first, second, third = run["results"]
    assert (first["level"], second["level"], third["level"]) == ("error", "note", "warning")
    assert first["locations"][0]["logicalLocations"][0]["name"] == "archive/data.pkl"
    assert first["locations"][0]["properties"] == {
        "member": "archive/data.pkl",
        "offset": 42,
        "detail": "GLOBAL",
    }
    assert second["locations"][0]["physicalLocation"]["region"] == {"byteOffset": 10}
    assert first["properties"]["global"] == "os.system"
    assert third["ruleIndex"] == 2


def test_empty_run_is_valid() -> None:
    log = to_sarif([], "mlward-test", {}, artifacts=["a.pkl"])
    jsonschema.validate(log, SCHEMA)
    assert log["runs"][0]["results"] == []
    assert log["runs"][0]["artifacts"] == [{"location": {"uri": "a.pkl"}}]
