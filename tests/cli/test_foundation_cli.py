from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from mlward import __version__


def test_version(mlward):
    result = mlward("--version")
    assert result.code == 0 and result.out.strip() == f"mlward {__version__}"


def test_init_status_keys_audit(mlward, tmp_path: Path):
    assert mlward("init", "proj").code == 0
    ws = tmp_path / "proj"
    status = mlward("status", "--format", "json", cwd=ws)
    assert status.code == 0, status.err
    facts = json.loads(status.out)
    assert facts["project"] == "proj"
    assert facts["audit_chain"]["ok"] is True
    assert facts["principal_roles"] == ["admin"]
    keys = mlward("keys", "show", "--format", "json", cwd=ws)
    data_key = next((ws / ".mlward" / "keys").glob("data-*.key")).read_bytes()
    assert data_key.hex() not in keys.out and "PRIVATE KEY" not in keys.out
    assert "BEGIN PUBLIC KEY" in mlward("keys", "show", "--pem", cwd=ws).out
    assert mlward("keys", "rotate", cwd=ws).code == 0
    log = json.loads(mlward("-w", str(ws), "audit", "log", "--format", "json").out)
    assert [e["action"] for e in log] == ["workspace.init", "keys.rotate"]
    assert mlward("audit", "verify", cwd=ws).code == 0


def test_audit_verify_names_the_tampered_event(mlward, tmp_path: Path):
    mlward("init", "proj")
    ws = tmp_path / "proj"
    mlward("keys", "rotate", cwd=ws)
    with sqlite3.connect(ws / ".mlward" / "mlward.db") as db:
        db.execute("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2")
    result = mlward("audit", "verify", cwd=ws)
    assert result.code == 1
    assert "event 2" in result.out


def test_user_errors_are_one_line_with_exit_codes(mlward, tmp_path: Path):
    outside = mlward("status")
    assert outside.code == 2
    assert "not inside a mlward workspace" in outside.err
    assert "Traceback" not in outside.err and len(outside.err.strip().splitlines()) <= 2

    mlward("init", "proj")
    ws = tmp_path / "proj"
    (ws / "mlward.yaml").write_text("serve:\n  port: nope\n")
    bad = mlward("status", cwd=ws)
    assert bad.code == 2 and "serve.port" in bad.err and "Traceback" not in bad.err


def test_loose_key_permissions_refused(mlward, tmp_path: Path):
    mlward("init", "proj")
    ws = tmp_path / "proj"
    data = next((ws / ".mlward" / "keys").glob("data-*.key"))
    data.chmod(0o644)
    refused = mlward("audit", "verify", cwd=ws)
    assert refused.code == 2
    assert "chmod 600" in refused.err and "Traceback" not in refused.err
    data.chmod(0o600)
    assert mlward("audit", "verify", cwd=ws).code == 0


def test_non_admin_cannot_rotate_and_denial_is_audited(mlward, tmp_path: Path):
    mlward("init", "proj")
    ws = tmp_path / "proj"
    denied = mlward("keys", "rotate", cwd=ws, env={"MLWARD_PRINCIPAL": "eve"})
    assert denied.code == 1 and "lacks the permission 'admin'" in denied.err
    log = json.loads(mlward("audit", "log", "--format", "json", "--outcome", "denied", cwd=ws).out)
    assert log[0]["actor"] == "eve"


def test_lineage_loops_cli(mlward, tmp_path: Path):
    from mlward.lineage.graph import ArtifactRef
    from mlward.workspace import Workspace

    mlward("init", "proj")
    ws = Workspace.open(tmp_path / "proj")
    a, m = ArtifactRef("dataset", "a", "1"), ArtifactRef("model", "m", "1")
    ws.lineage.record_run("train", inputs=[a], outputs=[m])
    assert mlward("lineage", "loops", cwd=ws.root).code == 0
    ws.lineage.record_run("feedback", inputs=[m], outputs=[ArtifactRef("dataset", "a", "2")])
    ws.close()
    loops = mlward("lineage", "loops", cwd=tmp_path / "proj")
    assert loops.code == 1 and "feedback loop" in loops.out
    exported = json.loads(mlward("lineage", "export", cwd=tmp_path / "proj").out)
    assert len(exported) == 2 and exported[0]["eventType"] == "COMPLETE"
    upstream = json.loads(
        mlward("lineage", "show", "model:m@1", "--format", "json", cwd=tmp_path / "proj").out
    )
    assert {"kind": "dataset", "name": "a", "version": "1", "digest": None, "uri": None} in upstream


def test_model_register_promote_load_from_the_cli(mlward, tmp_path: Path):
    import joblib
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    mlward("init", "proj")
    ws = tmp_path / "proj"
    model = LogisticRegression().fit(np.array([[0.0], [1.0], [2.0], [3.0]]), [0, 0, 1, 1])
    joblib.dump(model, ws / "m.joblib")
    registered = mlward(
        "model", "register", "m.joblib", "--name", "tiny", "-m", "auc=0.9", "-f", "json", cwd=ws
    )
    assert registered.code == 0, registered.err
    assert json.loads(registered.out)["version"] == 1
    assert mlward("model", "promote", "tiny@1", "--to", "production", cwd=ws).code == 0
    loaded = json.loads(mlward("model", "load", "tiny@production", "-f", "json", cwd=ws).out)
    assert loaded["loaded"] == "sklearn.linear_model._logistic.LogisticRegression"
    assert loaded["checks"]["signature"]["verified"] is True
    bom = json.loads(mlward("model", "bom", "tiny@1", cwd=ws).out)
    assert bom["components"][0]["type"] == "machine-learning-model"
    (ws / "evil.pkl").write_bytes(b"cos\nsystem\n(S'echo pwned'\ntR.")
    refused = mlward("model", "register", "evil.pkl", "--name", "evil", cwd=ws)
    assert refused.code == 1 and "refusing to register" in refused.err
