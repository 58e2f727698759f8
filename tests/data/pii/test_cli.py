"""The ``data`` command functions, driven through Typer with real files."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from mlward.cli import data_pii
from mlward.core.errors import AccessDenied, IntegrityError

KEY = os.urandom(32)
OLD_KEY = os.urandom(32)


@pytest.fixture()
def app() -> Iterator[typer.Typer]:
    group = typer.Typer()
    data_pii.register(group)
    data_pii.set_loaders(data_key=lambda: KEY, all_data_keys=lambda: [KEY, OLD_KEY])
    yield group
    data_pii.set_loaders()


@pytest.fixture(scope="module")
def customers(tmp_path_factory: pytest.TempPathFactory, mixed_table) -> Path:
    path = tmp_path_factory.mktemp("cli") / "customers.parquet"
    pq.write_table(mixed_table.table.slice(0, 600), path)
    return path


def test_scan_json_and_fail_on(app: typer.Typer, customers: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    report = tmp_path / "report.json"
    result = runner.invoke(app, ["scan", str(customers), "-f", "json", "-o", str(report)])
    assert result.exit_code == 0, result.output
    document = json.loads(report.read_text())
    assert document["schema_version"] == 1
    assert {c["name"]: c["entity_types"] for c in document["columns"]}["ssn"] == ["US_SSN"]
    failing = runner.invoke(app, ["scan", str(customers), "-f", "sarif", "--fail-on", "high"])
    assert failing.exit_code == 1
    assert json.loads(failing.stdout)["version"] == "2.1.0"


def test_protect_then_reveal_needs_pii_reveal(
    app: typer.Typer, customers: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlward.cli.context import STATE
    from mlward.workspace import Workspace

    monkeypatch.setenv("MLWARD_PRINCIPAL", "steward")  # the admin of the new workspace
    workspace = Workspace.init(tmp_path / "ws")
    STATE.workspace_dir = workspace.root
    try:
        runner = CliRunner()
        policy = tmp_path / "policy.yaml"
        policy.write_text("by_entity:\n  EMAIL: tokenize\n  US_SSN: {action: fpe}\n")
        protected = tmp_path / "protected.parquet"
        result = runner.invoke(
            app, ["protect", str(customers), "-o", str(protected), "-p", str(policy), "-f", "json"]
        )
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout)
        assert summary["actions"]["email"] == "tokenize" and summary["actions"]["address"] == "redact"

        # The old key first: reveal tries every data key until one opens the columns.
        data_pii.set_loaders(data_key=lambda: KEY, all_data_keys=lambda: [OLD_KEY, KEY])
        monkeypatch.setenv("MLWARD_PRINCIPAL", "clerk")  # no role grants clerk pii:reveal
        denied = runner.invoke(app, ["reveal", str(protected), "-o", str(tmp_path / "all.parquet")])
        assert isinstance(denied.exception, AccessDenied)
        assert not (tmp_path / "all.parquet").exists()
        monkeypatch.setenv("MLWARD_PRINCIPAL", "steward")
        out = tmp_path / "revealed.parquet"
        allowed = runner.invoke(app, ["reveal", str(protected), "-o", str(out), "-c", "email", "-c", "ssn"])
        assert allowed.exit_code == 0, allowed.output
        denials = workspace.audit.query(action="access.denied")
        assert [(e.actor, e.details["permission"]) for e in denials] == [("clerk", "pii:reveal")]
        reveals = workspace.audit.query(action="pii.reveal")
        assert [(e.actor, e.details["columns"]) for e in reveals] == [("steward", ["email", "ssn"])]
        original = pq.read_table(customers)
        revealed = pq.read_table(out)
        assert revealed.column("ssn").to_pylist() == original.column("ssn").to_pylist()
        assert revealed.column("address").to_pylist() != original.column("address").to_pylist()
    finally:
        STATE.close()
        STATE.workspace_dir = None


def test_encrypt_decrypt_and_tamper(app: typer.Typer, customers: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    sealed = tmp_path / "customers.parquet.mlwenc"
    assert runner.invoke(app, ["encrypt", str(customers), str(sealed)]).exit_code == 0
    restored = tmp_path / "restored.parquet"
    assert runner.invoke(app, ["decrypt", str(sealed), str(restored)]).exit_code == 0
    assert restored.read_bytes() == customers.read_bytes()
    blob = bytearray(sealed.read_bytes())
    blob[len(blob) // 2] ^= 1
    sealed.write_bytes(bytes(blob))
    broken = runner.invoke(app, ["decrypt", str(sealed), str(tmp_path / "broken.parquet")])
    assert isinstance(broken.exception, IntegrityError)
    assert not (tmp_path / "broken.parquet").exists()


def test_missing_key_is_a_usage_error(customers: Path, tmp_path: Path) -> None:
    group = typer.Typer()
    data_pii.register(group)
    data_pii.set_loaders()
    result = CliRunner().invoke(group, ["encrypt", str(customers), str(tmp_path / "x")])
    assert result.exception is not None and "data key" in str(result.exception)


def test_protect_registers_with_lineage_and_reports_k_anonymity(tmp_path):
    import json as _json
    import os
    import subprocess
    import sys

    from mlward.workspace import Workspace

    env = {**os.environ, "MLWARD_PRINCIPAL": "tester"}
    run = lambda *args: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "mlward.cli.main", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run("init", ".").returncode == 0
    rows = ["name,email,zip,age"] + [
        f"Ann Smith{i},ann{i}@example.org,{94100 + i % 3},{30 + i % 4}" for i in range(60)
    ]
    (tmp_path / "people.csv").write_text("\n".join(rows) + "\n")
    assert run("data", "add", "people.csv", "--name", "people").returncode == 0
    out = run(
        "data",
        "protect",
        "people.csv",
        "-o",
        "safe.parquet",
        "--register",
        "people-safe",
        "--quasi-identifiers",
        "zip,age",
        "-f",
        "json",
    )
    assert out.returncode == 0, out.stderr
    doc = _json.loads(out.stdout)
    assert doc["registered"] == "people-safe@1"
    assert doc["k_anonymity"]["k"] >= 1 and doc["k_anonymity"]["classes"] >= 1
    ws = Workspace.open(tmp_path)
    from mlward.lineage.graph import ArtifactRef

    upstream = ws.lineage.upstream(ArtifactRef("dataset", "people-safe", "1"))
    assert any(r.kind == "file" or r.name == "people" for r in upstream)
    assert ws.audit.query(action="data.protect")
    ws.close()
