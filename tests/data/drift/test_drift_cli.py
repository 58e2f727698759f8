"""The data-trust CLI command functions, wired into a throwaway Typer app as the lead will."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from mlward.cli import data_trust
from mlward.core.errors import ConfigError, IntegrityError

from .conftest import PLANTED, make_frame


def _app() -> typer.Typer:
    app = typer.Typer()
    data = typer.Typer()
    data.command("drift")(data_trust.drift)
    data.command("profile")(data_trust.profile)
    outliers = typer.Typer()
    outliers.command("fit")(data_trust.outliers_fit)
    outliers.command("score")(data_trust.outliers_score)
    data.add_typer(outliers, name="outliers")
    app.add_typer(data, name="data")
    model = typer.Typer()
    model.command("fairness")(data_trust.fairness)
    app.add_typer(model, name="model")
    return app


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("cli")
    planted = dict.fromkeys(PLANTED, True)
    paths = {}
    for name, table in (
        ("ref", make_frame(3_000, 1)),
        ("same", make_frame(3_000, 2)),
        ("drift", make_frame(3_000, 3, **planted)),
    ):
        path = root / f"{name}.parquet"
        pq.write_table(table, path)
        paths[name] = str(path)
    biased = make_frame(3_000, 4)
    approved = pa.array([r == "north" for r in biased.column("region").to_pylist()])
    pq.write_table(biased.append_column("approved", approved), root / "biased.parquet")
    paths["biased"] = str(root / "biased.parquet")
    paths["root"] = str(root)
    return paths


def invoke(*args: str):
    return CliRunner().invoke(_app(), list(args), catch_exceptions=False)


def test_drift_exit_codes_and_json(files) -> None:
    same = invoke("data", "drift", files["ref"], files["same"], "--format", "json")
    assert same.exit_code == 0
    assert json.loads(same.stdout)["dataset"]["drifted"] is False
    drifted = invoke("data", "drift", files["ref"], files["drift"])
    assert drifted.exit_code == 1 and "drift detected" in drifted.stdout
    allowed = invoke("data", "drift", files["ref"], files["drift"], "--no-fail-on-drift")
    assert allowed.exit_code == 0


def test_drift_overrides_from_the_command_line(files) -> None:
    result = invoke(
        "data",
        "drift",
        files["ref"],
        files["drift"],
        "-f",
        "json",
        "--test",
        "numeric=psi",
        "--test",
        "plan=tvd",
        "--threshold",
        "psi=5",
        "--threshold",
        "channel=0.99",
        "--no-fail-on-drift",
    )
    doc = json.loads(result.stdout)
    by = {c["column"]: c for c in doc["columns"]}
    assert by["income"]["test"] == "psi" and by["income"]["threshold"] == 5.0
    assert not by["income"]["drifted"] and by["plan"]["test"] == "tvd"
    assert by["channel"]["threshold"] == 0.99
    with pytest.raises(ConfigError, match="NAME=VALUE"):
        invoke("data", "drift", files["ref"], files["drift"], "--test", "oops")


def test_profile_then_drift_against_the_stored_profile_and_html(files, tmp_path) -> None:
    stored = tmp_path / "ref.profile.json"
    assert invoke("data", "profile", files["ref"], "-o", str(stored)).exit_code == 0
    assert json.loads(stored.read_text())["kind"] == "mlward.profile"
    report = tmp_path / "drift.html"
    result = invoke("data", "drift", str(stored), files["drift"], "-f", "html", "-o", str(report))
    assert result.exit_code == 1
    html = report.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and html.count('class="drift-row drifted"') == 4


def test_outliers_fit_and_score(files, tmp_path) -> None:
    model = tmp_path / "outliers.safetensors"
    fit = invoke("data", "outliers", "fit", files["ref"], "-o", str(model))
    assert fit.exit_code == 0 and "sha256" in fit.stdout
    scored = invoke("data", "outliers", "score", str(model), files["drift"], "-f", "json", "--top", "3")
    doc = json.loads(scored.stdout)
    assert doc["rows"] == 3_000 and len(doc["top"]) == 3 and doc["flagged"] > 30
    assert set(doc["top"][0]["values"]) >= {"income", "channel"}  # the operator sees the row
    report = tmp_path / "outliers.html"
    invoke("data", "outliers", "score", str(model), files["drift"], "-f", "html", "-o", str(report))
    assert "rows flagged" in report.read_text(encoding="utf-8")
    assert doc["top"][0]["features"][0]["column"] in {"income", "latency", "channel"}
    gated = invoke("data", "outliers", "score", str(model), files["drift"], "--fail-on-outliers")
    assert gated.exit_code == 1
    with pytest.raises(IntegrityError):  # the entry point maps it to exit code 1
        invoke("data", "outliers", "score", str(model), files["same"], "--digest", "0" * 64)


def test_fairness_gate(files) -> None:
    biased = invoke("model", "fairness", files["biased"], "-s", "region", "--label", "approved", "-f", "json")
    assert biased.exit_code == 1
    doc = json.loads(biased.stdout)
    assert doc["passed"] is False and doc["disparate_impact"] == 0.0
    fair = invoke("model", "fairness", files["biased"], "-s", "plan", "--label", "approved")
    assert fair.exit_code == 0
    model = invoke(
        "model",
        "fairness",
        files["biased"],
        "-s",
        "plan",
        "--label",
        "approved",
        "--prediction",
        "approved",
        "-f",
        "json",
    )
    assert model.exit_code == 0 and json.loads(model.stdout)["equalized_odds_difference"] == 0.0
