"""CLI tests: every ``mlward data`` command in-process, plus the real entry point once.

In-process runs (Typer's ``CliRunner``) keep the test fast on a busy machine; one
subprocess run of the real ``mlward`` entry point checks the wiring and the error
mapping (one line on stderr, exit code 2, no traceback). Until ``cli/main.py``
registers the ``data`` group, the bootstrap registers this module's commands on the real
app the same way; afterwards it runs the real wiring.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from mlward.cli import data_catalog
from mlward.cli import main as cli_main
from mlward.cli.context import STATE

COMMANDS = ("add", "ls", "show", "diff", "checkout", "search", "tag")
BOOTSTRAP = f"""
import typer
from mlward.cli import data_catalog, main
if not any(group.name == "data" for group in main.app.registered_groups):
    group = typer.Typer(no_args_is_help=True)
    for name in {COMMANDS!r}:
        group.command(name)(getattr(data_catalog, name))
    main.app.add_typer(group, name="data")
main.run()
"""


@pytest.fixture
def data_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Invoke ``mlward [global options] data ...`` in-process."""
    monkeypatch.setenv("MLWARD_PRINCIPAL", "tester")
    app = typer.Typer()
    app.callback()(cli_main.main)  # the real global options (--workspace, --format)
    group = typer.Typer()
    for name in COMMANDS:
        group.command(name)(getattr(data_catalog, name))
    app.add_typer(group, name="data")
    runner = CliRunner()

    def invoke(*args: str):
        result = runner.invoke(app, list(args), env={"COLUMNS": "250"})
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    yield invoke
    STATE.close()
    STATE.workspace_dir = None


def test_data_commands(data_cli, tmp_path: Path, credit) -> None:
    from mlward.workspace import Workspace

    Workspace.init(tmp_path / "ws").close()
    ws = ["--workspace", str(tmp_path / "ws")]

    added = data_cli(*ws, "data", "add", str(credit.csv), "--name", "apps", "--tag", "raw", "-f", "json")
    assert added.exit_code == 0, added.output
    record = json.loads(added.stdout)
    assert (record["ref"], record["sensitivity"], record["rows"]) == ("apps@1", "restricted", credit.rows)

    again = data_cli(*ws, "data", "add", str(credit.csv), "--name", "apps")
    assert again.exit_code == 0 and "unchanged: apps@1" in again.stdout

    shown = data_cli(*ws, "data", "show", "apps@raw")
    assert shown.exit_code == 0, shown.output
    assert "US_SSN" in shown.stdout and "values withheld (PII)" in shown.stdout
    assert credit.table["ssn"][0].as_py() not in shown.stdout

    found = data_cli(*ws, "data", "search", "--label", "EMAIL", "-f", "json")
    assert [h["matched"] for h in json.loads(found.stdout)] == [["column email: EMAIL"]]
    table = data_cli(*ws, "data", "search", "ssn")
    assert "column ssn: US_SSN" in table.stdout

    tagged = data_cli(*ws, "data", "tag", "apps@1", "gold")
    assert tagged.exit_code == 0 and "tagged gold on apps@1" in tagged.stdout
    listed = data_cli(*ws, "data", "ls", "-f", "json")
    assert [v["tags"] for v in json.loads(listed.stdout)] == [["gold", "raw"]]
    assert "apps@1" in data_cli(*ws, "data", "ls").stdout

    out = tmp_path / "apps.csv"
    checked = data_cli(*ws, "data", "checkout", "apps@gold", "-o", str(out))
    assert checked.exit_code == 0, checked.output
    assert out.read_bytes() == credit.csv.read_bytes()

    added = data_cli(*ws, "data", "add", str(credit.planted), "--name", "apps")
    assert "added apps@2" in added.stdout and "label confidential" in added.stdout
    diffed = data_cli(*ws, "data", "diff", "apps@gold", "apps@2")
    assert diffed.exit_code == 0, diffed.output
    assert "column removed: ssn (string)" in diffed.stdout and "restricted → confidential" in diffed.stdout
    assert json.loads(data_cli(*ws, "data", "diff", "apps@1", "apps@1", "-f", "json").stdout)["identical"]


def test_entry_point_maps_errors(tmp_path: Path) -> None:
    from mlward.workspace import Workspace

    Workspace.init(tmp_path / "ws").close()
    env = {**os.environ, "MLWARD_PRINCIPAL": "tester"}
    proc = subprocess.run(
        [sys.executable, "-c", BOOTSTRAP, "-w", str(tmp_path / "ws"), "data", "show", "nothing"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "no dataset named 'nothing'" in proc.stderr
    assert "Traceback" not in proc.stderr
