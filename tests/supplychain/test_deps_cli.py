"""The ``deps audit`` and ``sbom`` command functions, run through Typer as the CLI wires them."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from mlward.cli import deps as deps_cli
from mlward.core.errors import ConfigError, exit_code
from mlward.report.cyclonedx import validate_bom
from mlward.supplychain.interface import ServiceError
from mlward.supplychain.osv_api import OsvApiService

app = typer.Typer()
app.command("audit")(deps_cli.audit)
app.command("sbom")(deps_cli.sbom)
runner = CliRunner()


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


@pytest.fixture
def requirements(tmp_path: Path) -> Path:
    path = tmp_path / "requirements.txt"
    path.write_text("jinja2==2.10\nrequests==2.31.0\n")
    return path


def test_medium_findings_pass_the_default_high_gate(requirements: Path, osv_zip: Path) -> None:
    result = runner.invoke(
        app, ["audit", "-r", str(requirements), "--db", str(osv_zip), "--offline", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [v["id"] for v in doc["dependencies"][0]["vulnerabilities"]] == [
        "GHSA-g3rq-g295-4j3m",
        "GHSA-h5c8-rqwp-cp95",
    ]
    result = runner.invoke(
        app, ["audit", "-r", str(requirements), "--db", str(osv_zip), "--fail-on", "medium", "-f", "json"]
    )
    assert result.exit_code == 1


def test_critical_finding_fails_and_writes_sarif(tmp_path: Path, osv_zip: Path, venv_python: Path) -> None:
    out = tmp_path / "audit.sarif"
    # The venv holds PyYAML 5.3.1 (critical): audit that interpreter's environment.
    result = runner.invoke(
        app, ["audit", "--python", str(venv_python), "--db", str(osv_zip), "-f", "sarif", "-o", str(out)]
    )
    assert result.exit_code == 1, result.output
    log = json.loads(out.read_text())
    ids = {r["properties"].get("vulnerability_id") for r in log["runs"][0]["results"]}
    assert "GHSA-8q59-q68h-6hv4" in ids
    assert (tmp_path / "xdg-cache" / "mlward" / "osv").is_dir()  # the index was cached


def test_cyclonedx_output_and_fail_on_none(requirements: Path, osv_zip: Path) -> None:
    result = runner.invoke(
        app, ["audit", "-r", str(requirements), "--db", str(osv_zip), "-f", "cyclonedx", "--fail-on", "none"]
    )
    assert result.exit_code == 0
    bom = json.loads(result.stdout)
    assert validate_bom(bom) == [] and len(bom["vulnerabilities"]) == 2


def test_table_output(requirements: Path, osv_zip: Path) -> None:
    result = runner.invoke(
        app,
        ["audit", "-r", str(requirements), "--db", str(osv_zip), "-f", "table"],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0
    assert "GHSA-h5c8-rqwp-cp95" in result.stdout
    assert "2 dependencies audited" in result.stdout


def test_offline_without_db_is_a_usage_error(requirements: Path) -> None:
    result = runner.invoke(app, ["audit", "-r", str(requirements), "--offline"])
    assert isinstance(result.exception, ConfigError)
    assert exit_code(result.exception) == 2
    assert "--db" in str(result.exception)


def test_unknown_fail_on_is_a_usage_error(requirements: Path, osv_zip: Path) -> None:
    result = runner.invoke(
        app, ["audit", "-r", str(requirements), "--db", str(osv_zip), "--fail-on", "severe"]
    )
    assert isinstance(result.exception, ConfigError)


def test_network_failure_without_db_exits_3_and_suggests_db(
    requirements: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 101] Network is unreachable", request=request)

    def offline_api() -> OsvApiService:
        return OsvApiService(client=httpx.Client(transport=httpx.MockTransport(unreachable)))

    monkeypatch.setattr(deps_cli, "OsvApiService", offline_api)
    result = runner.invoke(app, ["audit", "-r", str(requirements), "-f", "json"])
    assert isinstance(result.exception, ServiceError)
    assert exit_code(result.exception) == 3
    assert "pass --db" in str(result.exception)


def test_sbom_of_another_interpreter(tmp_path: Path, venv_python: Path) -> None:
    out = tmp_path / "sbom.json"
    result = runner.invoke(app, ["sbom", "--python", str(venv_python), "-o", str(out)])
    assert result.exit_code == 0, result.output
    bom = json.loads(out.read_text())
    assert validate_bom(bom) == []
    assert {c["purl"] for c in bom["components"]} >= {
        "pkg:pypi/jinja2@2.10",
        "pkg:pypi/pyyaml@5.3.1",
        "pkg:pypi/urllib3@1.26.16",
    }
