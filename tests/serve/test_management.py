"""The management API behind RBAC: models, promotion, lineage, tokens, audit."""

from __future__ import annotations

import time

from serve_testlib import bearer, good_row

PREDICT = "/v1/models/credit-risk/predict"


def test_models_and_model_detail(make_client, template):
    client = make_client()
    auth = bearer(template.tokens["auditor"])
    listing = client.get("/v1/models", headers=auth).json()["models"]
    names = {m["name"]: m for m in listing}
    assert set(names) == {"credit-risk", "plain"}
    assert names["credit-risk"]["served"]["state"] == "ready"
    assert names["credit-risk"]["versions"][0]["stage"] == "production"
    detail = client.get("/v1/models/credit-risk", headers=auth).json()
    assert detail["served"]["schema"] == "contract:credit-risk"
    assert "CreditRiskRow" in detail["request_schema"]["$defs"]
    assert client.get("/v1/models/nope", headers=auth).status_code == 404
    assert client.get("/v1/models/..", headers=auth).status_code in (400, 404)


def test_promotion_through_the_api_switches_the_served_version(make_client, template, ws_copy):
    from mlward.model.registry import get_model, register_model, verified_copy

    client = make_client()
    with verified_copy(ws_copy, get_model(ws_copy, "credit-risk", "1")) as (path, _):
        register_model(ws_copy, path, "credit-risk")
    url = "/v1/models/credit-risk/versions/2/promote"
    refused = client.post(url, json={"stage": "production"}, headers=bearer(template.tokens["predictor"]))
    assert refused.status_code == 403
    response = client.post(url, json={"stage": "production"}, headers=bearer(template.tokens["approver"]))
    assert response.status_code == 200, response.text
    data = response.json()
    approver = f"token:{template.token_ids['approver']}"
    assert data["stage"] == "production" and data["approved_by"] == approver
    assert data["served"] == {
        "state": "ready",
        "version": 2,
        "reason": None,
        "schema": "contract:credit-risk",
    }
    predicted = client.post(
        PREDICT, json={"rows": [good_row()]}, headers=bearer(template.tokens["predictor"])
    )
    assert predicted.json()["version"] == 2
    promotion = ws_copy.audit.query(action="model.promote")[-1]
    assert promotion.actor == approver and promotion.target == "credit-risk@2"
    bad = client.post(url, json={"stage": "everywhere"}, headers=bearer(template.tokens["approver"]))
    assert bad.status_code == 422


def test_lineage_of_the_served_model(make_client, template):
    client = make_client()
    response = client.get("/v1/models/credit-risk/lineage", headers=bearer(template.tokens["auditor"]))
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["version"] == 1
    assert [(d["name"], d["version"]) for d in data["datasets"]] == [("applications", "1")]


def test_tokens_through_the_api(make_client, template, ws_copy):
    client = make_client(token_cache_seconds=60)
    admin = bearer(template.tokens["admin"])
    created = client.post(
        "/v1/tokens", json={"roles": ["predictor"], "name": "api-made", "expires": "1d"}, headers=admin
    )
    assert created.status_code == 201, created.text
    token = created.json()["token"]
    assert token.startswith("mlw_") and created.json()["signing_secret"]
    assert client.post(PREDICT, json={"rows": [good_row()]}, headers=bearer(token)).status_code == 200
    listed = client.get("/v1/tokens", headers=admin).json()["tokens"]
    assert any(t["name"] == "api-made" and "token" not in t for t in listed)
    token_id = created.json()["id"]
    assert client.delete(f"/v1/tokens/{token_id}", headers=admin).status_code == 200
    # Revoked through this gateway: refused at once, despite the 60 s cache.
    assert client.post(PREDICT, json={"rows": [good_row()]}, headers=bearer(token)).status_code == 401
    assert client.delete("/v1/tokens/000000000000", headers=admin).status_code == 404
    bad_role = client.post("/v1/tokens", json={"roles": ["root"]}, headers=admin)
    assert bad_role.status_code == 400 and "unknown role" in bad_role.json()["detail"]
    assert (
        client.post(
            "/v1/tokens", json={"roles": ["admin"]}, headers=bearer(template.tokens["approver"])
        ).status_code
        == 403
    )
    creator = ws_copy.audit.query(action="token.create")[-1]
    assert creator.actor == f"token:{template.token_ids['admin']}"


def test_audit_query_and_verify(make_client, template):
    client = make_client()
    auditor = bearer(template.tokens["auditor"])
    client.post(PREDICT, json={"rows": [good_row()]}, headers=bearer(template.tokens["predictor"]))
    time.sleep(0.3)
    events = client.get("/v1/audit", params={"action": "serve.*", "limit": 5}, headers=auditor).json()[
        "events"
    ]
    assert events and all(e["action"].startswith("serve.") for e in events)
    assert client.get("/v1/audit", params={"limit": 5000}, headers=auditor).status_code == 422
    verify = client.get("/v1/audit/verify", headers=auditor).json()
    assert verify["ok"] is True and verify["events"] > 0


def test_http_promotion_is_authorized_once_and_a_denial_audited_once(
    make_client, template, ws_copy, monkeypatch
):
    import mlward.access.authorize as access

    checked: list[str] = []

    def counting_permits(granted, requested):
        checked.append(requested)
        return permits(granted, requested)

    permits = access.permits
    monkeypatch.setattr(access, "permits", counting_permits)
    client = make_client()
    url = "/v1/models/credit-risk/versions/1/promote"
    predictor = f"token:{template.token_ids['predictor']}"
    refused = client.post(url, json={"stage": "staging"}, headers=bearer(template.tokens["predictor"]))
    assert refused.status_code == 403 and refused.json()["type"].endswith("/forbidden")
    assert "model:promote" in refused.json()["detail"]
    assert checked.count("model:promote") == 1
    time.sleep(0.3)
    denials = ws_copy.audit.query(action="access.denied", actor=predictor)
    assert [(d.target, d.details["permission"]) for d in denials] == [("credit-risk@1", "model:promote")]
    assert denials[0].details["roles"] == ["predictor"]
    checked.clear()
    allowed = client.post(url, json={"stage": "staging"}, headers=bearer(template.tokens["approver"]))
    assert allowed.status_code == 200, allowed.text
    assert checked.count("model:promote") == 1
    time.sleep(0.3)
    assert len(ws_copy.audit.query(action="access.denied")) == 1
