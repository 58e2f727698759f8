"""Columns the scan cannot read are reported as not scanned and fail closed."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import typer
from typer.testing import CliRunner

from mlward.cli import data_pii
from mlward.core.findings import Severity
from mlward.data.pii import scan
from mlward.data.pii.format import to_json, to_sarif


def _unreadable(tmp_path: Path) -> Path:
    rows = 60
    emails = [f"person{i}@example.com" for i in range(rows)]
    table = pa.table(
        {
            "id": pa.array(range(rows), pa.int64()),
            "score": pa.array([i / 3 for i in range(rows)], pa.float64()),
            "raw_email": pa.array([e.encode("latin-1") for e in emails], pa.binary()),
            "tags": pa.array([[e] for e in emails], pa.list_(pa.string())),
            "empty_blob": pa.array([None] * rows, pa.binary()),
        }
    )
    path = tmp_path / "unreadable.parquet"
    pq.write_table(table, path)
    return path


def test_unreadable_columns_are_not_scanned_findings(tmp_path: Path) -> None:
    result = scan(_unreadable(tmp_path))

    assert {c.name for c in result.not_scanned_columns()} == {"raw_email", "tags"}
    assert result.column("score").kind == "skipped"
    assert result.column("empty_blob").kind == "skipped"  # nothing in it to miss
    findings = [f for f in result.to_findings() if f.rule_id == "MW-PII-NOT-SCANNED"]
    assert {f.properties["column"] for f in findings} == {"raw_email", "tags"}
    assert all(f.severity == Severity.HIGH for f in findings)
    assert to_json(result)["not_scanned"] == ["raw_email", "tags"]
    sarif = to_sarif(result)
    assert {r["ruleId"] for r in sarif["runs"][0]["results"]} == {"MW-PII-NOT-SCANNED"}


def test_not_scanned_survives_merging_batches(tmp_path: Path) -> None:
    from mlward.engine.local import LocalEngine

    result = scan(_unreadable(tmp_path), engine=LocalEngine(batch_rows=7))

    assert {c.name for c in result.not_scanned_columns()} == {"raw_email", "tags"}


def test_cli_fails_closed_on_not_scanned(tmp_path: Path) -> None:
    group = typer.Typer()
    data_pii.register(group)
    path = _unreadable(tmp_path)
    runner = CliRunner()

    table = runner.invoke(group, ["scan", str(path)])
    strict = runner.invoke(group, ["scan", str(path), "--fail-on", "critical", "-f", "json"])

    assert table.exit_code == 0, table.output
    assert "NOT SCANNED" in table.output
    assert strict.exit_code == 1, strict.output
    assert json.loads(strict.output)["not_scanned"] == ["raw_email", "tags"]
