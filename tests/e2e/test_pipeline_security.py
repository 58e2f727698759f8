"""The pipeline stops poisoned inputs at the right gate, proves where models came from,
retrains on a failed continuous-training gate, and its report renders in a browser."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest
import yaml

from mlward.pipeline.provenance import verify_provenance
from mlward.pipeline.runner import PipelineRunner
from mlward.workspace import Workspace

TRAIN = """
import json, sys, joblib
import numpy as np
from sklearn.linear_model import LogisticRegression
rows = np.loadtxt("data.csv", delimiter=",", skiprows=1)
model = LogisticRegression().fit(rows[:, :2], rows[:, 2])
joblib.dump(model, "model.joblib")
json.dump({"accuracy": float(model.score(rows[:, :2], rows[:, 2]))}, open("metrics.json", "w"))
"""


def configure(ws: Workspace, pipeline: dict, policy: dict | None = None, **extra) -> Workspace:
    config = yaml.safe_load(ws.config_path.read_text())
    config["pipeline"] = pipeline
    config["policy"] = policy or {}
    config.update(extra)
    ws.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    ws.close()
    return Workspace.open(ws.root)


def _project(root: Path) -> None:
    (root / "train.py").write_text(TRAIN)
    lines = ["x1,x2,y"] + [f"{i % 7},{(i * 3) % 5},{int(i % 7 > 3)}" for i in range(200)]
    (root / "data.csv").write_text("\n".join(lines) + "\n")


TRAIN_AND_REGISTER = {
    "stages": {
        "train": {
            "kind": "train",
            "run": "python train.py",
            "inputs": ["data.csv"],
            "code": ["train.py"],
            "model": "model.joblib",
            "metrics_file": "metrics.json",
        },
        "scan-model": {"kind": "scan-model", "path": "model.joblib"},
        "register": {"kind": "register", "path": "model.joblib", "name": "toy", "needs": ["scan-model"]},
    }
}


def test_provenance_verifies_and_fails_when_an_input_changes(workspace: Workspace):
    _project(workspace.root)
    ws = configure(workspace, TRAIN_AND_REGISTER)
    result = PipelineRunner(ws).run()
    assert result.status == "passed", result.failures
    bundle = ws.objects.get_bytes(result.provenance["toy@1"])
    check = verify_provenance(ws, bundle)
    assert check.ok, check.problems
    uris = {d["uri"] for d in check.dependencies}
    assert {"file:data.csv", "file:train.py", "file:mlward.yaml"} <= uris
    statement = json.loads(__import__("base64").b64decode(json.loads(bundle)["dsseEnvelope"]["payload"]))
    assert statement["predicateType"] == "https://slsa.dev/provenance/v1"
    assert statement["subject"][0]["digest"]["sha256"] == ws_model_digest(ws)
    # Someone edits the training data after the run: provenance no longer holds.
    with (ws.root / "data.csv").open("a") as handle:
        handle.write("9,9,1\n")
    changed = verify_provenance(ws, bundle)
    assert not changed.ok
    assert any(p.startswith("file:data.csv: changed") for p in changed.problems)
    # A forged bundle (payload edited) fails its signature.
    forged = json.loads(bundle)
    forged["dsseEnvelope"]["payload"] = forged["dsseEnvelope"]["payload"][:-8] + "AAAAAAA="
    from mlward.core.errors import IntegrityError

    with pytest.raises(IntegrityError):
        verify_provenance(ws, json.dumps(forged))


def ws_model_digest(ws: Workspace) -> str:
    from mlward.model.registry import get_model

    return get_model(ws, "toy").root_digest


class _Payload:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_malicious_base_model_stops_the_run_at_the_scan_gate(workspace: Workspace):
    _project(workspace.root)
    (workspace.root / "base.pkl").write_bytes(pickle.dumps({"weights": [1, 2], "hook": _Payload()}))
    ws = configure(
        workspace,
        {
            "stages": {
                "scan-base": {"kind": "scan-model", "path": "base.pkl"},
                "train": {
                    "kind": "train",
                    "run": "python train.py",
                    "inputs": ["data.csv", "base.pkl"],
                    "model": "model.joblib",
                    "needs": ["scan-base"],
                },
            }
        },
        {"gates": [{"name": "base-model-clean", "stage": "scan-model", "rule": "scan.max_severity < HIGH"}]},
    )
    result = PipelineRunner(ws).run()
    status = {s.name: s.status for s in result.stages}
    assert status == {"scan-base": "gate-failed", "train": "skipped"}
    assert any("base-model-clean" in line and "CRITICAL" in line for line in result.failures)
    assert not (ws.root / "model.joblib").exists()


def _raw_ssns_in(text: str, ssns: list[str]) -> list[str]:
    """The SSNs of ``ssns`` that occur in ``text``, dashed or as bare digits."""
    return [s for s in ssns if s in text or s.replace("-", "") in text]


def test_raw_ssns_left_unprotected_fail_the_pii_gate(workspace: Workspace):
    from faker import Faker

    from mlward.report.run_html import write_run_report

    fake = Faker("en_US")
    fake.seed_instance(3)
    ssns = [fake.ssn() for _ in range(300)]
    assert len(set(ssns)) > 290  # the canaries are real, distinct values
    rows = ["id,ssn,amount"] + [f"{i},{ssn},{i * 10}" for i, ssn in enumerate(ssns)]
    (workspace.root / "people.csv").write_text("\n".join(rows) + "\n")
    pipeline = {
        "stages": {"protect": {"kind": "protect", "path": "people.csv", "output": "out/people.parquet"}}
    }
    policy = {
        "gates": [{"name": "pii-protected", "stage": "protect", "rule": "pii.unprotected_columns == 0"}]
    }
    # A policy that keeps the SSN column as it is: the gate catches it.
    ws = configure(workspace, pipeline, policy, pii={"by_column": {"ssn": "keep"}})
    leaky = PipelineRunner(ws).run()
    assert leaky.status == "failed"
    assert leaky.stages[0].metrics["pii"]["unprotected"] == ["ssn"]
    # Tokenizing SSNs passes, and the output holds no raw SSN.
    ws = configure(ws, pipeline, policy, pii={"by_entity": {"US_SSN": "tokenize"}})
    safe = PipelineRunner(ws).run()
    assert safe.status == "passed", safe.failures
    import pyarrow.parquet as pq

    output = ws.root / "out" / "people.parquet"
    table = pq.read_table(output)
    assert all(v.startswith("tok_") for v in table.column("ssn").to_pylist())
    # Canary: no raw SSN of the input anywhere in the protected output (any column, the
    # file's bytes and schema metadata included), in either run's report or in the audit.
    cells = "\n".join(str(v) for column in table.columns for v in column.to_pylist())
    assert _raw_ssns_in(cells, ssns) == []
    assert _raw_ssns_in(output.read_bytes().decode("latin-1"), ssns) == []
    assert _raw_ssns_in(str(table.schema.metadata), ssns) == []
    for run in (leaky, safe):
        assert _raw_ssns_in(json.dumps(run.to_dict()), ssns) == []
        html = write_run_report(run, ws.root / f"report-{run.run_id}.html", project="pii")
        assert _raw_ssns_in(html.read_text(), ssns) == []
    audit = json.dumps([[e.action, e.target, e.details] for e in ws.audit.query()])
    assert _raw_ssns_in(audit, ssns) == []


def test_failed_training_gate_with_on_fail_retrain_reruns_training(workspace: Workspace):
    _project(workspace.root)
    ws = configure(
        workspace,
        {
            "stages": {
                "train": {
                    "kind": "train",
                    "run": "python train.py",
                    "inputs": ["data.csv"],
                    "model": "model.joblib",
                    "metrics_file": "metrics.json",
                },
                "monitor": {
                    "kind": "command",
                    "run": "python -c \"import json; json.dump({'share': 0.6}, open('drift.json', 'w'))\"",
                    "metrics_file": "drift.json",
                    "needs": ["train"],
                },
            }
        },
        {
            "gates": [
                {
                    "name": "drift",
                    "stage": "monitor",
                    "rule": "command.share < 0.3",
                    "on_fail": "retrain",
                    "retrain": "train",
                }
            ]
        },
    )
    result = PipelineRunner(ws).run()
    names = [s.name for s in result.stages]
    assert "train (retrain)" in names
    assert result.retrained[0] == "train"
    gate = next(g for g in result.gates if g.gate == "drift")
    assert not gate.passed and gate.action == "retrain"
    assert ws.audit.query(action="pipeline.retrain")


@pytest.mark.browser
def test_run_report_renders_in_chromium(workspace: Workspace):
    from playwright.sync_api import sync_playwright

    from mlward.report.run_html import write_run_report

    _project(workspace.root)
    ws = configure(
        workspace,
        TRAIN_AND_REGISTER,
        {"gates": [{"name": "accurate", "stage": "train", "rule": "train.accuracy >= 1.5"}]},
    )
    result = PipelineRunner(ws).run()
    report = write_run_report(result, ws.root / "report.html", project="toy")
    chromium = os.environ.get("MLWARD_CHROMIUM", "/usr/bin/chromium")
    args = [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    ]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=args)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(report.as_uri())
            assert page.locator("#stages tbody tr").count() == len(result.stages)
            failures = page.locator("#failures li").all_inner_texts()
            assert any("accurate" in line and "train.accuracy" in line for line in failures)
            assert "FAIL" in page.locator("#gates").inner_text()
            page.screenshot(path=str(ws.root / "report.png"), full_page=True)
        finally:
            browser.close()
    assert (ws.root / "report.png").stat().st_size > 10_000


def test_continuous_security_rescans_deployed_models(workspace: Workspace):
    from mlward.model.registry import get_model, promote_model

    _project(workspace.root)
    ws = configure(workspace, TRAIN_AND_REGISTER)
    assert PipelineRunner(ws).run().status == "passed"
    promote_model(ws, "toy", 1, "production")
    clean = PipelineRunner(ws, only="security").run()
    registry = next(s for s in clean.stages if s.name == "registry")
    assert registry.status == "ok" and registry.metrics["registry"]["checked"] == 1
    # The production blob is tampered with in the object store: the nightly run catches it.
    blob = Path(ws.objects.path_of(get_model(ws, "toy").files["model.joblib"]))
    blob.chmod(0o644)
    data = bytearray(blob.read_bytes())
    data[-3] ^= 0xFF
    blob.write_bytes(bytes(data))
    tampered = PipelineRunner(ws, only="security").run()
    assert tampered.status == "failed"
    assert any("toy@1" in line for line in tampered.failures)
    assert ws.audit.query(outcome="alert")
