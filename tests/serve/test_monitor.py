"""Output monitoring: PSI drift of predictions, confidence, alarms, Prometheus exposure, audit content."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from serve_testlib import CONTRACT, bearer, good_row, wait_chained

from mlward.serve.monitor import PredictionMonitor

PREDICT = "/v1/models/credit-risk/predict"


def test_stable_predictions_do_not_drift_and_shifted_ones_do():
    rng = np.random.default_rng(0)
    monitor = PredictionMonitor(500, 0.25, categorical=False)
    assert monitor.observe(rng.beta(2, 5, 500)) is None  # the reference window
    updates = [monitor.observe(rng.beta(2, 5, 50), np.full(50, 0.8)) for _ in range(20)]
    stable = [u for u in updates if u is not None]
    assert stable and all(u.psi < 0.1 and not u.alarm for u in stable)
    assert stable[-1].confidence == 0.8
    shifted = [monitor.observe(rng.beta(5, 2, 50)) for _ in range(20)]
    raised = [u for u in shifted if u is not None and u.changed]
    assert len(raised) == 1 and raised[0].alarm and raised[0].psi > 0.25


def test_class_distribution_drift():
    rng = np.random.default_rng(1)
    monitor = PredictionMonitor(300, 0.25, categorical=True)
    monitor.observe(rng.choice([0.0, 1.0, 2.0], 300, p=[0.6, 0.3, 0.1]))
    last = None
    for _ in range(10):
        last = monitor.observe(rng.choice([0.0, 1.0, 2.0], 30, p=[0.6, 0.3, 0.1])) or last
    assert last is not None and not last.alarm
    for _ in range(10):
        last = monitor.observe(rng.choice([0.0, 1.0, 2.0, 3.0], 30, p=[0.1, 0.1, 0.2, 0.6])) or last
    assert last.alarm


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


@pytest.mark.parametrize("categorical", [False, True])
def test_incremental_window_counts_match_a_recount(categorical):
    rng = np.random.default_rng(3)
    draw = (lambda n: rng.integers(0, 4, n).astype(float)) if categorical else (lambda n: rng.beta(2, 5, n))
    monitor = PredictionMonitor(200, 0.25, categorical=categorical)
    monitor.observe(draw(200))
    seen: list[np.ndarray] = []
    # Batches of one, and smaller and larger than the window.
    sizes = [*rng.integers(1, 260, 40), *[1] * 250, 3, 1]
    for size in sizes:
        batch = draw(int(size))
        monitor.observe(batch)
        seen.append(batch)
    window = np.concatenate(seen)[-200:]
    expected = np.bincount(monitor._bin_index(window), minlength=len(monitor._counts))
    assert np.array_equal(monitor._counts, expected)
