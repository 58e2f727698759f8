"""``mlward predict --local``: the gateway's predict() in this process, end to end.

A real scikit-learn model, registered, signed and promoted in a temporary workspace (the
gateway tests' model and contract, from ``tests/serve/serve_testlib.py``), predicted on by
the real ``mlward`` entry point in a subprocess: permission, validation, guards and audit
are the ones the gateway applies.
"""

from __future__ import annotations

import json
import shutil
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import joblib
import pytest
import yaml
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).parents[1] / "serve"))

from serve_testlib import CONTRACT, FEATURES, good_row, training_data

ROW = {"age": 41, "income": 52_000.0, "loan_amount": 12_000.0, "term_months": 36}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with ``credit-risk`` (contract) v1 in production, v2 registered only.

    ``tester`` is the admin, ``analyst`` holds only ``predict:credit-risk``, ``stranger`` no role.
    """
    from mlward.model.registry import promote_model, register_model
    from mlward.workspace import Workspace

    base = tmp_path_factory.mktemp("predict-local")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLWARD_PRINCIPAL", "tester")
        with closing(Workspace.init(base / "ws", project="predict-local")) as created:
            root = created.root
        config = yaml.safe_load((root / "mlward.yaml").read_text())
        config["roles"]["credit-only"] = {"permissions": ["predict:credit-risk"], "members": ["analyst"]}
        config["contracts"] = {"credit-risk": CONTRACT}
        (root / "mlward.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        X, y = training_data()
        with closing(Workspace.open(root)) as ws:
            for version, C in ((1, 1.0), (2, 0.1)):
                path = base / f"credit-risk-{version}.joblib"
                joblib.dump(make_pipeline(StandardScaler(), LogisticRegression(C=C)).fit(X, y), path)
                register_model(ws, path, "credit-risk")
            promote_model(ws, "credit-risk", 1, "production")
    return base / "ws"


@pytest.fixture
def ws_dir(template: Path, tmp_path: Path) -> Path:
    """A private copy of the template workspace."""
    target = tmp_path / "ws"
    shutil.copytree(template, target)
    return target


def audit_events(root: Path, action: str) -> list[Any]:
    from mlward.workspace import Workspace

    ws = Workspace.open(root)
    try:
        return ws.audit.query(action=action)
    finally:
        ws.close()


def write_rows(root: Path, rows: list[dict[str, Any]]) -> str:
    path = root / "rows.json"
    path.write_text(json.dumps(rows))
    return f"@{path}"


def test_a_valid_row_is_predicted_and_audited_once(mlward, ws_dir: Path):
    result = mlward(
        "-f", "json", "predict", "credit-risk", "--local", "--data", write_rows(ws_dir, [ROW]), cwd=ws_dir
    )
    assert result.code == 0, result.err
    answer = json.loads(result.out)
    assert answer["model"] == "credit-risk" and answer["version"] == 1
    assert answer["predictions"][0] in (0, 1) and answer["classes"] == [0, 1]
    assert answer["decision"] == "allowed" and answer["model_digest"].startswith("sha256:")
    events = audit_events(ws_dir, "serve.predict")
    assert len(events) == 1
    event = events[0]
    assert event.actor == "tester" and event.target == "credit-risk@1" and event.outcome == "ok"
    assert event.details["request_id"] == answer["request_id"] and event.details["rows"] == 1
    assert event.details["output"] == answer["predictions"]
    assert "sha256:" + event.details["root_digest"] == answer["model_digest"]
    # Loaded through the registry's verify-then-load, like the gateway's hosting slots.
    assert [e.target for e in audit_events(ws_dir, "model.load")] == ["credit-risk@1"]


def test_table_output_and_a_chosen_version(mlward, ws_dir: Path):
    result = mlward("predict", "credit-risk@2", "--local", "--data", json.dumps([ROW, ROW]), cwd=ws_dir)
    assert result.code == 0, result.err
    assert result.out.startswith("credit-risk@2 (sha256:") and " request " in result.out
    assert "row 0:" in result.out and "row 1:" in result.out and "p=" in result.out
    assert [e.target for e in audit_events(ws_dir, "serve.predict")] == ["credit-risk@2"]


def test_csv_cells_are_typed_by_the_contract(mlward, ws_dir: Path):
    csv_path = ws_dir / "rows.csv"
    csv_path.write_text(
        ",".join(FEATURES)
        + "\n"
        + "\n".join(",".join(str(good_row()[f]) for f in FEATURES) for _ in range(3))
    )
    result = mlward("-f", "json", "predict", "credit-risk", "--local", "--data", f"@{csv_path}", cwd=ws_dir)
    assert result.code == 0, result.err
    assert len(json.loads(result.out)["predictions"]) == 3
    assert audit_events(ws_dir, "serve.predict")[0].details["rows"] == 3


@pytest.mark.parametrize(
    ("rows", "where"),
    [
        ([{**ROW, "age": "forty"}], "rows.0.age"),
        ([{k: v for k, v in ROW.items() if k != "income"}], "rows.0.income"),
        ([{**ROW, "age": 130}], "rows.0.age"),
        ([{**ROW, "nickname": "bob"}], "rows.0.nickname"),
    ],
    ids=["wrong-type", "missing-field", "out-of-bounds", "unknown-field"],
)
def test_invalid_rows_are_refused_with_the_field_named(mlward, ws_dir: Path, rows, where):
    from mlward.core.errors import InputError

    result = mlward("predict", "credit-risk", "--local", "--data", write_rows(ws_dir, rows), cwd=ws_dir)
    assert result.code == InputError.exit_code == 3
    assert f"invalid input at {where}" in result.err
    assert "Traceback" not in result.err and result.out == ""
    assert audit_events(ws_dir, "serve.predict") == []


def test_a_bad_csv_cell_is_named_too(mlward, ws_dir: Path):
    csv_path = ws_dir / "rows.csv"
    csv_path.write_text(",".join(FEATURES) + "\n41,lots,12000,36\n")
    result = mlward("predict", "credit-risk", "--local", "--data", f"@{csv_path}", cwd=ws_dir)
    assert result.code == 3 and "invalid input at rows.0.income" in result.err
    assert "Traceback" not in result.err


def test_unreadable_data_is_an_input_error(mlward, ws_dir: Path):
    missing = mlward("predict", "credit-risk", "--local", "--data", "@nope.json", cwd=ws_dir)
    assert missing.code == 3 and "cannot read --data file" in missing.err
    broken = mlward("predict", "credit-risk", "--local", "--data", "[{", cwd=ws_dir)
    assert broken.code == 3 and "not valid JSON" in broken.err
    for result in (missing, broken):
        assert "Traceback" not in result.err


def test_a_principal_without_predict_permission_is_refused_and_audited(mlward, ws_dir: Path):
    from mlward.core.errors import AccessDenied

    data = write_rows(ws_dir, [ROW])
    refused = mlward(
        "predict", "credit-risk", "--local", "--data", data, cwd=ws_dir, env={"MLWARD_PRINCIPAL": "stranger"}
    )
    assert refused.code == AccessDenied.exit_code == 1
    assert "stranger lacks the permission 'predict:credit-risk'" in refused.err
    assert "Traceback" not in refused.err
    denied = audit_events(ws_dir, "access.denied")
    assert len(denied) == 1
    assert denied[0].actor == "stranger" and denied[0].target == "model:credit-risk"
    assert denied[0].outcome == "denied" and denied[0].details["permission"] == "predict:credit-risk"
    # Refused before anything was loaded or predicted.
    assert audit_events(ws_dir, "model.load") == [] and audit_events(ws_dir, "serve.predict") == []

    allowed = mlward(
        "predict", "credit-risk", "--local", "--data", data, cwd=ws_dir, env={"MLWARD_PRINCIPAL": "analyst"}
    )
    assert allowed.code == 0, allowed.err
    assert [e.actor for e in audit_events(ws_dir, "serve.predict")] == ["analyst"]


def test_the_guard_config_that_blocks_at_the_gateway_blocks_locally(mlward, ws_dir: Path):
    config_path = ws_dir / "mlward.yaml"
    config = yaml.safe_load(config_path.read_text())
    config["serve"]["abuse_policy"] = "block"
    config["serve"]["guards"] = {"enumeration_run": 4}
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    # One feature stepped by a constant: enumeration, within one batch.
    rows = [{**ROW, "loan_amount": 1000.0 + 250 * i} for i in range(6)]
    result = mlward("predict", "credit-risk", "--local", "--data", write_rows(ws_dir, rows), cwd=ws_dir)
    assert result.code == 1 and "requests from tester are blocked: enumeration" in result.err
    assert "Traceback" not in result.err
    abuse = audit_events(ws_dir, "serve.abuse")
    assert abuse and abuse[0].details["kind"] == "enumeration" and abuse[0].details["policy"] == "block"
    assert [e.outcome for e in audit_events(ws_dir, "serve.blocked")] == ["denied"]
    assert audit_events(ws_dir, "serve.predict") == []


def test_gateway_options_do_not_mix_with_local(mlward, ws_dir: Path):
    result = mlward("predict", "credit-risk", "--local", "--url", "http://x", "--data", "[]", cwd=ws_dir)
    assert result.code == 2 and "--local runs in this process" in result.err
    versioned = mlward("predict", "credit-risk@2", "--token", "t", "--data", "[]", cwd=ws_dir)
    assert versioned.code == 2 and "use --local" in versioned.err


def test_python_callers_get_the_same_result_object(ws_dir: Path, monkeypatch: pytest.MonkeyPatch):
    from mlward.core.errors import AccessDenied
    from mlward.inference.local import predict_local
    from mlward.workspace import Workspace

    monkeypatch.setenv("MLWARD_PRINCIPAL", "tester")
    ws = Workspace.open(ws_dir)
    try:
        result = predict_local(ws, "credit-risk", [ROW, ROW])
        assert result.version == 1 and len(result.predictions) == 2
        assert result.event.action == "serve.predict"
        with pytest.raises(AccessDenied):
            predict_local(ws, "credit-risk", [ROW], principal="stranger")
        assert len(ws.audit.query(action="serve.predict")) == 1
        assert len(ws.audit.query(action="access.denied")) == 1
    finally:
        ws.close()
