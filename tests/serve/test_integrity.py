"""Only verified models are served; tampering at runtime quarantines and reloads from the store."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest
from serve_testlib import bearer, good_row

PREDICT = "/v1/models/credit-risk/predict"


def _events(ws, action):
    return ws.audit.query(action=action)


def _wait(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_verified_copy_is_private_and_held_for_the_models_lifetime(make_client, template):
    client = make_client()
    manager = client.app.state.gateway.manager
    copy = manager.verified_dir("credit-risk")
    assert copy is not None and copy.is_dir() and (copy / "model.joblib").is_file()
    mode = stat.S_IMODE(os.stat(copy.parent).st_mode)
    assert mode == 0o700 and os.stat(copy.parent).st_uid == os.getuid()
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["models"] == {"credit-risk": "ready", "plain": "ready"}


def test_tampered_copy_is_quarantined_and_reloaded(make_client, template, ws_copy):
    client = make_client(integrity_interval=0.3)
    manager = client.app.state.gateway.manager
    auth = bearer(template.tokens["predictor"])
    before = manager.verified_dir("credit-risk")
    assert client.post(PREDICT, json={"rows": [good_row()]}, headers=auth).status_code == 200
    # An attacker with write access to the server's disk swaps bytes in the served model.
    target = before / "model.joblib"
    target.write_bytes(target.read_bytes() + b"\x00tampered")
    assert _wait(lambda: manager.verified_dir("credit-risk") not in (None, before))
    after = manager.verified_dir("credit-risk")
    assert manager.slots["credit-risk"].state == "ready"
    assert (
        not before.exists() or (before / "model.joblib").read_bytes() != (after / "model.joblib").read_bytes()
    )
    response = client.post(PREDICT, json={"rows": [good_row()]}, headers=auth)
    assert response.status_code == 200
    assert _wait(lambda: bool(_events(ws_copy, "serve.reload")))
    alert = _events(ws_copy, "serve.integrity")[-1]
    assert alert.outcome == "alert" and alert.details["modified"] == ["model.joblib"]
    assert alert.target == "credit-risk@1"
    metrics = client.get("/metrics", headers=bearer(template.tokens["monitor"])).text
    assert 'mlward_integrity_failures_total{model="credit-risk"} 1.0' in metrics


def test_extra_file_dropped_into_served_directory_is_detected(make_client):
    client = make_client()
    manager = client.app.state.gateway.manager
    before = manager.verified_dir("credit-risk")
    (before / "evil.pkl").write_bytes(b"\x80\x04N.")
    assert manager.check_integrity() == ["credit-risk@1"]
    assert manager.verified_dir("credit-risk") != before


def test_model_failing_verification_is_not_served_others_keep_serving(template, ws_copy, make_client):
    from mlward.model.registry import get_model

    # Corrupt the stored blob of 'plain' (the object store, the source of truth).
    version = get_model(ws_copy, "plain", "production")
    blob = Path(ws_copy.objects.path_of(next(iter(version.files.values()))))
    blob.chmod(0o600)
    blob.write_bytes(blob.read_bytes()[:-8] + b"EVILEVIL")
    client = make_client()
    auth = bearer(template.tokens["predictor"])
    refused = client.post("/v1/models/plain/predict", json={"rows": [{"a": 1, "b": 2, "c": 3}]}, headers=auth)
    assert refused.status_code == 503
    assert refused.headers["content-type"] == "application/problem+json"
    assert client.post(PREDICT, json={"rows": [good_row()]}, headers=auth).status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["models"]["plain"] == "failed"
    assert _wait(lambda: any(e.target == "plain@1" for e in _events(ws_copy, "serve.load")))
    alert = [e for e in _events(ws_copy, "serve.load") if e.target == "plain@1"][-1]
    assert alert.outcome == "alert" and alert.details["served"] is False


def test_promotion_in_the_registry_is_picked_up_by_polling(make_client, template, ws_copy):
    from mlward.model.registry import get_model, promote_model, register_model, verified_copy

    client = make_client(registry_poll_interval=0.2)
    manager = client.app.state.gateway.manager
    with verified_copy(ws_copy, get_model(ws_copy, "credit-risk", "1")) as (path, _):
        second = register_model(ws_copy, path, "credit-risk")
    promote_model(ws_copy, "credit-risk", second.version, "production")
    assert _wait(lambda: manager.slots["credit-risk"].version == 2)
    response = client.post(PREDICT, json={"rows": [good_row()]}, headers=bearer(template.tokens["predictor"]))
    assert response.status_code == 200 and response.json()["version"] == 2


def test_refresh_rebuilds_from_the_registry_without_dropping_requests(make_client, template):
    client = make_client(refresh_interval=0.2)
    manager = client.app.state.gateway.manager
    auth = bearer(template.tokens["predictor"])
    first = manager.slots["credit-risk"].served
    statuses = []
    deadline = time.monotonic() + 20
    while manager.slots["credit-risk"].served is first and time.monotonic() < deadline:
        statuses.append(client.post(PREDICT, json={"rows": [good_row()]}, headers=auth).status_code)
    statuses += [
        client.post(PREDICT, json={"rows": [good_row()]}, headers=auth).status_code for _ in range(5)
    ]
    assert manager.slots["credit-risk"].served is not first
    assert set(statuses) == {200}


@pytest.mark.parametrize("stage", ["archived"])
def test_withdrawn_model_is_no_longer_served(make_client, template, ws_copy, stage):
    from mlward.model.registry import promote_model

    client = make_client()
    promote_model(ws_copy, "plain", 1, stage)
    client.app.state.gateway.manager.sync()
    response = client.post(
        "/v1/models/plain/predict",
        json={"rows": [{"a": 1, "b": 2, "c": 3}]},
        headers=bearer(template.tokens["admin"]),
    )
    assert response.status_code == 404


def test_tampered_stored_blob_is_quarantined_while_the_verified_model_keeps_serving(
    make_client, template, ws_copy
):
    from mlward.model.registry import get_model

    client = make_client(integrity_interval=0.2, refresh_interval=0.3)
    manager = client.app.state.gateway.manager
    auth = bearer(template.tokens["predictor"])
    served = manager.slots["credit-risk"].served
    row = good_row()
    expected = client.post(PREDICT, json={"rows": [row]}, headers=auth).json()["predictions"]
    # An attacker with write access to the object store swaps the stored model's bytes.
    version = get_model(ws_copy, "credit-risk", "production")
    digest = version.files["model.joblib"]
    blob = Path(ws_copy.objects.path_of(digest))
    blob.chmod(0o600)
    blob.write_bytes(blob.read_bytes() + b"\x00tampered")
    assert _wait(lambda: "credit-risk" in manager.store_quarantined)
    assert manager.store_quarantined["credit-risk"] == ["model.joblib"]
    assert not blob.exists()  # moved aside, kept for forensics
    assert list(Path(ws_copy.objects.root, "quarantine").glob(f"{digest.removeprefix('sha256:')}-*"))
    time.sleep(0.7)  # several integrity and refresh rounds: the verified model stays in memory
    assert manager.slots["credit-risk"].state == "ready" and manager.slots["credit-risk"].served is served
    response = client.post(PREDICT, json={"rows": [row]}, headers=auth)
    assert response.status_code == 200 and response.json()["predictions"] == expected
    assert _wait(lambda: bool(_events(ws_copy, "serve.integrity")))
    alerts = _events(ws_copy, "serve.integrity")
    assert len(alerts) == 1  # alerted once, not on every round
    assert alerts[0].outcome == "alert" and alerts[0].target == "credit-risk@1"
    assert alerts[0].details["where"] == "object store" and alerts[0].details["modified"] == ["model.joblib"]
    ready = client.get("/readyz").json()
    assert ready["status"] == "degraded" and ready["store_quarantined"] == {"credit-risk": ["model.joblib"]}
    metrics = client.get("/metrics", headers=bearer(template.tokens["monitor"])).text
    assert 'mlward_model_store_verified{model="credit-risk"} 0.0' in metrics
    assert 'mlward_integrity_failures_total{model="credit-risk"} 1.0' in metrics
    assert 'mlward_model_store_verified{model="plain"} 1.0' in metrics
