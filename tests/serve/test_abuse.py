"""Abuse policies at the gateway: block refuses and audits, flag answers and marks the decision."""

from __future__ import annotations

import time

from serve_testlib import bearer, good_row

PREDICT = "/v1/models/credit-risk/predict"


def test_block_policy_refuses_the_principal_and_audits(make_client, template, ws_copy):
    client = make_client(abuse_policy="block", guards={"enumeration_run": 6})
    auth = bearer(template.tokens["predictor"])
    row = good_row()
    statuses = []
    for i in range(10):
        statuses.append(
            client.post(
                PREDICT, json={"rows": [{**row, "loan_amount": 1000.0 + 250 * i}]}, headers=auth
            ).status_code
        )
    assert statuses[:6] == [200] * 6 and statuses[6:] == [403] * 4
    blocked = client.post(PREDICT, json={"rows": [good_row()]}, headers=auth)
    assert blocked.status_code == 403 and "blocked" in blocked.json()["detail"]
    # Other principals are not affected.
    assert (
        client.post(PREDICT, json={"rows": [row]}, headers=bearer(template.tokens["admin"])).status_code
        == 200
    )
    time.sleep(0.3)
    abuse = ws_copy.audit.query(action="serve.abuse")
    assert abuse and abuse[0].outcome == "alert" and abuse[0].details["kind"] == "enumeration"
    assert abuse[0].details["policy"] == "block"
    assert len(ws_copy.audit.query(action="serve.blocked", outcome="denied")) >= 4
    metrics = client.get("/metrics", headers=bearer(template.tokens["monitor"])).text
    assert 'mlward_abuse_flags_total{kind="enumeration",model="credit-risk"} 1.0' in metrics


def test_flag_policy_answers_but_marks_the_decision(make_client, template, ws_copy):
    client = make_client(abuse_policy="flag", guards={"enumeration_run": 4})
    auth = bearer(template.tokens["predictor"])
    row = good_row()
    decisions = []
    for i in range(8):
        response = client.post(PREDICT, json={"rows": [{**row, "age": 30 + i}]}, headers=auth)
        assert response.status_code == 200
        decisions.append(response.headers["x-mlward-decision"])
    assert "flagged" in decisions and decisions[0] == "allowed"
    time.sleep(0.3)
    flagged = [e for e in ws_copy.audit.query(action="serve.predict") if e.details["decision"] == "flagged"]
    assert flagged
