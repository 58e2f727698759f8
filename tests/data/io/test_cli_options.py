"""``--delimiter`` / ``--encoding`` reach the reader in every command that reads data files.

The file splits on ``;`` as sniffed (columns ``g``, ``h|n``) and on ``|`` when told
(columns ``g;h``, ``n``), so each command shows which reading it used.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from mlward.cli import data_catalog, data_contract, data_pii, data_trust
from mlward.cli import main as cli_main
from mlward.cli.context import STATE
from mlward.core.errors import InputError

OVERRIDE = ["--delimiter", "|", "--encoding", "latin-1"]


@pytest.fixture
def ambiguous(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no workspace around
    path = tmp_path / "ambiguous.csv"
    rows = "".join(f"{i};{'éa'[i % 2]}|{i % 7}\n" for i in range(60))
    path.write_bytes(("g;h|n\n" + rows).encode("latin-1"))
    return path


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    app.callback()(cli_main.main)
    for module, names in (
        (data_pii, ("scan", "protect")),
        (data_contract, ("validate",)),
        (data_trust, ("drift", "profile", "fairness")),
        (data_catalog, ("add",)),
    ):
        for name in names:
            app.command(name)(getattr(module, name))
    app.command("outliers-fit")(data_trust.outliers_fit)
    app.command("outliers-score")(data_trust.outliers_score)
    data_pii.set_loaders(data_key=lambda: b"k" * 32)
    yield app
    data_pii.set_loaders()
    STATE.close()
    STATE.workspace_dir = None


def _run(app: typer.Typer, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "250"})


def test_scan(cli: typer.Typer, ambiguous: Path) -> None:
    sniffed = _run(cli, "scan", str(ambiguous), "-f", "json")
    told = _run(cli, "scan", str(ambiguous), "-f", "json", *OVERRIDE)

    assert [c["name"] for c in json.loads(sniffed.stdout)["columns"]] == ["g", "h|n"]
    assert [c["name"] for c in json.loads(told.stdout)["columns"]] == ["g;h", "n"], told.output


def test_protect(cli: typer.Typer, ambiguous: Path, tmp_path: Path) -> None:
    out = tmp_path / "protected.parquet"

    result = _run(cli, "protect", str(ambiguous), "-o", str(out), *OVERRIDE)

    assert result.exit_code == 0, result.output
    assert pq.read_schema(out).names == ["g;h", "n"]


def test_validate(cli: typer.Typer, ambiguous: Path, tmp_path: Path) -> None:
    contract = tmp_path / "contract.yaml"
    contract.write_text("contracts:\n  c:\n    columns:\n      n: {min: 0, max: 6}\n", encoding="utf-8")

    sniffed = _run(cli, "validate", str(ambiguous), "--contract", f"{contract}#c")
    told = _run(cli, "validate", str(ambiguous), "--contract", f"{contract}#c", *OVERRIDE)

    assert sniffed.exit_code == 1
    assert told.exit_code == 0, told.output


def test_profile_and_drift(cli: typer.Typer, ambiguous: Path, tmp_path: Path) -> None:
    out = tmp_path / "profile.json"

    profiled = _run(cli, "profile", str(ambiguous), "-o", str(out), *OVERRIDE)
    drift = _run(cli, "drift", str(ambiguous), str(ambiguous), "-f", "json", *OVERRIDE)

    assert profiled.exit_code == 0, profiled.output
    assert [c["name"] for c in json.loads(out.read_text())["columns"]] == ["g;h", "n"]
    assert {c["column"] for c in json.loads(drift.stdout)["columns"]} >= {"n"}, drift.output


def test_outliers_and_fairness(cli: typer.Typer, ambiguous: Path, tmp_path: Path) -> None:
    model = tmp_path / "outliers.safetensors"

    fitted = _run(cli, "outliers-fit", str(ambiguous), "-o", str(model), "--column", "n", *OVERRIDE)
    scored = _run(cli, "outliers-score", str(model), str(ambiguous), "-f", "json", *OVERRIDE)
    fair = _run(cli, "fairness", str(ambiguous), "-s", "g;h", "-f", "json", *OVERRIDE)
    unfair = _run(cli, "fairness", str(ambiguous), "-s", "g;h", "-f", "json")

    assert fitted.exit_code == 0, fitted.output
    assert scored.exit_code in (0, 1) and json.loads(scored.stdout)["rows"] == 60, scored.output
    assert fair.exit_code == 0, fair.output
    assert json.loads(fair.stdout)["attributes"][0]["attribute"] == "g;h"
    assert isinstance(unfair.exception, InputError)


def test_data_add(cli: typer.Typer, ambiguous: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlward.workspace import Workspace

    monkeypatch.setenv("MLWARD_PRINCIPAL", "tester")
    Workspace.init(tmp_path / "ws").close()

    added = _run(cli, "--workspace", str(tmp_path / "ws"), "add", str(ambiguous), "--name", "amb",
                 "-f", "json", *OVERRIDE)  # fmt: skip

    assert added.exit_code == 0, added.output
    record = json.loads(added.stdout)
    assert [c["name"] for c in record["columns"]] == ["g;h", "n"]


def test_bad_override_is_an_input_error(cli: typer.Typer, ambiguous: Path) -> None:
    result = _run(cli, "scan", str(ambiguous), "--encoding", "klingon")

    assert isinstance(result.exception, InputError)
