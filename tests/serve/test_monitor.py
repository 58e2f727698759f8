"""Output monitoring at the gateway: drift alarms, Prometheus exposure, audit content, health."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from serve_testlib import CONTRACT, bearer, good_row, wait_chained

PREDICT = "/v1/models/credit-risk/predict"


def test_gateway_exports_drift_and_audits_the_alarm(make_client, template, ws_copy):
    client = make_client(guards={"drift_window": 50, "drift_threshold": 0.25})
    auth = bearer(template.tokens["predictor"])
    rng = np.random.default_rng(2)
    for _ in range(6):
        rows = [good_row(rng) for _ in range(20)]
        assert client.post(PREDICT, json={"rows": rows}, headers=auth).status_code == 200
    risky = [{**good_row(rng), "income": 6000.0, "loan_amount": 45_000.0} for _ in range(20)]
    for _ in range(6):
        assert client.post(PREDICT, json={"rows": risky}, headers=auth).status_code == 200
    metrics = client.get("/metrics", headers=bearer(template.tokens["monitor"])).text
    psi = [
        line
        for line in metrics.splitlines()
        if line.startswith('mlward_prediction_drift_psi{model="credit-risk"}')
    ]
    assert psi and float(psi[0].split()[-1]) > 0.25
    assert 'mlward_prediction_confidence_mean{model="credit-risk"}' in metrics
    assert 'mlward_request_latency_seconds_bucket{le="0.005",model="credit-risk"}' in metrics
    time.sleep(0.3)
    drift = ws_copy.audit.query(action="serve.drift")
    assert drift and drift[0].outcome == "alert" and drift[0].details["state"] == "drifting"


def test_prediction_audit_event_content(make_client, template, ws_copy):
    client = make_client(models={"credit-risk": {"log_inputs": True}})
    auth = bearer(template.tokens["predictor"])
    rows = [good_row() for _ in range(3)]
    response = client.post(PREDICT, json={"rows": rows}, headers=auth)
    request_id = response.headers["x-request-id"]
    event = wait_chained(ws_copy, {request_id})[request_id]
    details = event.details
    assert event.actor == f"token:{template.token_ids['predictor']}" and event.target == "credit-risk@1"
    assert details["root_digest"] == response.headers["x-mlward-model-digest"].removeprefix("sha256:")
    assert details["output"] == response.json()["predictions"] and details["rows"] == 3
    assert len(details["input_digest"]) == 64 and details["latency_ms"] > 0
    # Asked for, and the contract marks no column as personal data: inputs kept (in feature order).
    assert details["inputs"][0] == [rows[0][k] for k in ("age", "income", "loan_amount", "term_months")]
    # Same rows, other key order and spacing: same canonical digest.
    shuffled = [dict(reversed(list(r.items()))) for r in rows]
    again = client.post(PREDICT, json={"rows": shuffled}, headers=auth)
    other = wait_chained(ws_copy, {again.headers["x-request-id"]})[again.headers["x-request-id"]]
    assert other.details["input_digest"] == details["input_digest"]
    # No contract (model 'plain'): inputs may be personal data and are not stored.
    plain = client.post("/v1/models/plain/predict", json={"rows": [{"a": 1, "b": 2, "c": 3}]}, headers=auth)
    plain_event = wait_chained(ws_copy, {plain.headers["x-request-id"]})[plain.headers["x-request-id"]]
    assert "inputs" not in plain_event.details and len(plain_event.details["input_digest"]) == 64


@pytest.mark.parametrize("income_is_personal", [False, True])
def test_log_inputs_on_never_stores_a_personal_data_column_raw(
    make_client, template, ws_copy, income_is_personal
):
    # log_inputs is ON in both cases; only the contract differs. Marking `income` confidential
    # must keep its raw values out of the audit event (documented: the inputs are then not
    # stored at all, the digest still is); without it the inputs are stored, in feature order.
    contract = json.loads(json.dumps(CONTRACT))
    if income_is_personal:
        contract["columns"]["income"]["sensitivity"] = "confidential"
    client = make_client(models={"credit-risk": {"log_inputs": True, "contract": contract}})
    rows = [{**good_row(), "income": 48_123.457 + i} for i in range(3)]  # canary values
    response = client.post(PREDICT, json={"rows": rows}, headers=bearer(template.tokens["predictor"]))
    assert response.status_code == 200, response.text
    request_id = response.headers["x-request-id"]
    details = wait_chained(ws_copy, {request_id})[request_id].details
    stored = json.dumps(details)
    assert len(details["input_digest"]) == 64
    if income_is_personal:
        assert "inputs" not in details
        assert not [r["income"] for r in rows if str(r["income"]) in stored]
    else:
        features = ("age", "income", "loan_amount", "term_months")
        assert details["inputs"] == [[r[k] for k in features] for r in rows]
        assert all(str(r["income"]) in stored for r in rows)


def test_health_and_readiness(make_client, template):
    client = make_client()
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    metrics = client.get("/metrics", headers=bearer(template.tokens["monitor"]))
    assert metrics.headers["content-type"].startswith("text/plain")
