"""The CLI commands through mlward's real entry point (``main.run``: exit codes, one-line errors).

The commands are mounted on the real app under a private group name here, so these
tests do not depend on where the lead wires ``mlward data validate`` / ``data contract``.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer
import yaml

from mlward.cli import data_contract
from mlward.cli import main as cli_main
from mlward.data.pii.anonymizer import protect
from mlward.data.pii.seal import SEAL_METADATA_KEY

GROUP = "contract-cli-under-test"
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "odcs"

if GROUP not in {info.name for info in cli_main.app.registered_groups}:
    _group = typer.Typer()
    _group.command("validate")(data_contract.validate)
    _group.command("infer")(data_contract.contract_infer)
    _group.command("import")(data_contract.contract_import)
    cli_main.app.add_typer(_group, name=GROUP)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("MLWARD_PRINCIPAL", "tester")

    def invoke(*args: str, workspace: Path | None = None) -> tuple[int, str, str]:
        head = ["-w", str(workspace)] if workspace else []
        monkeypatch.setattr(sys, "argv", ["mlward", *head, GROUP, *args])
        with pytest.raises(SystemExit) as done:
            cli_main.run()
        captured = capsys.readouterr()
        return int(done.value.code or 0), captured.out, captured.err

    return invoke


@pytest.fixture
def contract_file(tmp_path: Path, demo_contract: dict) -> Path:
    path = tmp_path / "applications.contract.yaml"
    path.write_text(yaml.safe_dump({"contracts": {"applications": demo_contract}}))
    return path


def test_validate_passes_and_fails_with_exit_codes(
    cli, demo_csv: Path, contract_file: Path, tmp_path: Path
) -> None:
    code, out, _ = cli("validate", str(demo_csv), "--contract", str(contract_file))
    assert code == 0 and "PASSED" in out and "applications" in out
    strict = tmp_path / "strict.yaml"
    strict.write_text("columns:\n  age: {type: int, max: 50}\n  credit_score: {min: 700}\n")
    code, out, _ = cli("validate", str(demo_csv), "-c", str(strict), "--format", "json")
    report = json.loads(out)
    assert code == 1
    assert (report["schema_version"], report["contract"], report["passed"], report["failed_rules"]) == (
        1,
        "strict",
        False,
        2,
    )
    assert {r["id"] for r in report["rules"] if not r["passed"]} == {"age.max", "credit_score.min"}
    junit = tmp_path / "report.xml"
    code, _, err = cli("validate", str(demo_csv), "-c", str(strict), "-f", "junit", "-o", str(junit))
    suite = ET.parse(junit).getroot().find("testsuite")
    assert code == 1 and f"wrote {junit}" in err
    assert (
        suite is not None and suite.get("failures") == "2" and suite.get("tests") == str(len(report["rules"]))
    )


def test_unreadable_data_exits_3_with_one_line(cli, contract_file: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 this is not parquet at all")
    code, out, err = cli("validate", str(broken), "-c", str(contract_file))
    assert code == 3 and out == ""
    assert err.startswith("error:") and "broken.parquet" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli("validate", str(tmp_path / "absent.csv"), "-c", str(contract_file))
    assert code == 3 and "no such file, directory or dataset" in err


def test_bad_contract_exits_2_naming_the_key(cli, demo_csv: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("columns:\n  age: {type: int, min: young}\n")
    code, _, err = cli("validate", str(demo_csv), "-c", str(bad))
    assert code == 2 and "bad.yaml: columns.age.min:" in err
    code, _, err = cli("validate", str(demo_csv))
    assert code == 2 and "no contract" in err


def test_dataset_name_from_the_workspace_and_audit(
    cli, workspace, demo_csv: Path, demo_contract: dict
) -> None:
    data = workspace.root / "data"
    data.mkdir()
    (data / "applications.csv").write_bytes(demo_csv.read_bytes())
    config = yaml.safe_load(workspace.config_path.read_text())
    config["datasets"] = {"applications": {"path": "data/applications.csv", "contract": "applications"}}
    config["contracts"] = {"applications": demo_contract}
    workspace.config_path.write_text(yaml.safe_dump(config))
    code, out, _ = cli("validate", "applications", "-f", "json", workspace=workspace.root)
    assert code == 0 and json.loads(out)["contract"] == "applications"
    events = workspace.audit.query(action="data.validate")
    assert [(e.actor, e.target, e.outcome) for e in events] == [("tester", "applications", "ok")]
    assert events[0].details["failed_rules"] == 0


def test_validate_reads_a_contract_file_mlward_yaml_names_only_inside_the_workspace(
    cli, workspace, demo_csv: Path, demo_contract: dict, tmp_path: Path
) -> None:
    (workspace.root / "contracts").mkdir()
    (workspace.root / "contracts" / "applications.yaml").write_text(yaml.safe_dump(demo_contract))
    outside = tmp_path / "outside.yaml"
    outside.write_text(yaml.safe_dump(demo_contract))
    config = yaml.safe_load(workspace.config_path.read_text())
    config["contracts"] = {"applications": "contracts/applications.yaml", "elsewhere": str(outside)}
    workspace.config_path.write_text(yaml.safe_dump(config))
    code, out, _ = cli(
        "validate", str(demo_csv), "-c", "applications", "-f", "json", workspace=workspace.root
    )
    assert code == 0 and json.loads(out)["contract"] == "applications"
    code, _, err = cli("validate", str(demo_csv), "-c", "elsewhere", workspace=workspace.root)
    assert code == 2 and "contracts.elsewhere: the contract file" in err and "outside the workspace" in err


def test_infer_then_validate(cli, demo_csv: Path, tmp_path: Path) -> None:
    proposed = tmp_path / "proposed.yaml"
    code, _, _ = cli("infer", str(demo_csv), "-o", str(proposed), "--no-pii")
    text = proposed.read_text()
    assert code == 0 and text.startswith("# Proposed by 'mlward data contract infer'")
    assert list(yaml.safe_load(text)["contracts"]) == ["applications"]
    code, out, _ = cli("validate", str(demo_csv), "-c", str(proposed))
    assert code == 0 and "PASSED" in out


def test_import_odcs(cli, tmp_path: Path) -> None:
    code, out, err = cli("import", str(FIXTURES / "full-example.odcs.yaml"))
    assert code == 0
    assert set(yaml.safe_load(out)["contracts"]) == {"tbl", "receivers"}
    assert "not mapped: servers: informational, not a data check" in err
    listing = tmp_path / "list.yaml"
    listing.write_text("- just\n- a list\n")
    code, _, err = cli("import", str(listing))
    assert code == 2 and "not an ODCS document" in err


def test_validate_trusts_a_sealed_fpe_column_only_with_the_workspace_keys(
    cli, workspace, demo_table, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no workspace found from here unless -w names one
    source, output = tmp_path / "raw.parquet", tmp_path / "protected.parquet"
    pq.write_table(demo_table.slice(0, 200).select(["ssn"]), source)
    protect(source, {"by_column": {"ssn": "fpe"}, "default_action": None}, workspace.keys.data_key(), output)
    contract = tmp_path / "ssn.yaml"
    contract.write_text("columns:\n  ssn: {pii: US_SSN, protection: fpe}\n")
    code, out, _ = cli("validate", str(output), "-c", str(contract), "-f", "json", workspace=workspace.root)
    assert code == 0, out
    assert json.loads(out)["rules"][-1]["observed"] == {"recorded_protection": ["fpe"], "seal_verified": True}
    # Outside the workspace there is no key: FF3-1 SSNs read as raw SSNs.
    code, out, _ = cli("validate", str(output), "-c", str(contract), "-f", "json")
    assert code == 1 and json.loads(out)["failed_rules"] == 1
    # An edited copy keeps the metadata and the seal, but the seal no longer verifies.
    protected = pq.read_table(output)
    values = protected.column("ssn").to_pylist()
    values[0] = "123-45-6789"
    edited = protected.set_column(0, protected.schema.field("ssn"), pa.array(values, pa.string()))
    path = tmp_path / "edited.parquet"
    writer = pq.ParquetWriter(path, edited.schema)
    writer.write_table(edited)
    writer.add_key_value_metadata({SEAL_METADATA_KEY: pq.read_metadata(output).metadata[SEAL_METADATA_KEY]})
    writer.close()
    code, out, _ = cli("validate", str(path), "-c", str(contract), "-f", "json", workspace=workspace.root)
    assert code == 1 and json.loads(out)["rules"][-1]["observed"]["seal_verified"] is False
