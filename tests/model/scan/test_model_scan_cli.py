"""``mlward model scan`` through Typer: formats and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np
import typer
from model_corpus_malicious import call0, sglob
from typer.testing import CliRunner

from mlward.cli.model_scan import scan

SCHEMA = Path(__file__).resolve().parents[2] / "fixtures" / "sarif-schema-2.1.0.json"
app = typer.Typer()
app.command()(scan)
runner = CliRunner()


def _files(tmp_path: Path) -> tuple[Path, Path, Path]:
    clean = tmp_path / "clean.npy"
    np.save(clean, np.ones(2))
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(call0("os", "system", "true") + b".")
    unknown = tmp_path / "unknown.pkl"
    unknown.write_bytes(b"\x80\x04" + sglob("mypkg.models", "Net") + b")\x81.")
    return clean, evil, unknown


def test_exit_codes(tmp_path: Path) -> None:
    clean, evil, unknown = _files(tmp_path)
    assert runner.invoke(app, [str(clean)]).exit_code == 0
    result = runner.invoke(app, [str(evil)])
    assert result.exit_code == 1 and "os.system" in result.output
    assert runner.invoke(app, [str(unknown), "--fail-on", "critical"]).exit_code == 0
    assert runner.invoke(app, [str(unknown), "--allow", "mypkg.models.*"]).exit_code == 0
    assert runner.invoke(app, [str(tmp_path), "-q"]).exit_code == 1


def test_a_file_that_cannot_be_read_exits_three() -> None:
    # /proc/self/mem is a regular file whose first bytes cannot be read (EIO).
    result = runner.invoke(app, ["/proc/self/mem", "-f", "json"])
    assert result.exit_code == 3
    assert json.loads(result.output)["files"][0]["verdict"] == "ERROR"


def test_json_output(tmp_path: Path) -> None:
    _, evil, _ = _files(tmp_path)
    result = runner.invoke(app, [str(evil), "--format", "json"])
    data = json.loads(result.output)
    assert data["verdict"] == "UNSAFE"
    finding = data["files"][0]["findings"][0]
    assert finding["severity"] == "CRITICAL" and finding["location"]["detail"] == "GLOBAL"


def test_sarif_output_is_valid_sarif_2_1_0(tmp_path: Path) -> None:
    _, evil, unknown = _files(tmp_path)
    result = runner.invoke(app, [str(evil), str(unknown), "-f", "sarif"])
    assert result.exit_code == 1
    log = json.loads(result.output)
    jsonschema.validate(log, json.loads(SCHEMA.read_text()))
    results = log["runs"][0]["results"]
    assert {r["ruleId"] for r in results} == {"MW-PICKLE-001", "MW-PICKLE-002"}
    assert results[0]["locations"][0]["physicalLocation"]["region"]["byteOffset"] == 0


def test_bad_fail_on_is_a_usage_error(tmp_path: Path) -> None:
    clean, _, _ = _files(tmp_path)
    result = runner.invoke(app, [str(clean), "--fail-on", "extreme"])
    assert result.exit_code != 0
