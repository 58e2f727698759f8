"""The authentication and authorization matrix, in process (ASGI) against real tokens and keys."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from serve_testlib import (
    HS_SECRET,
    JWT_AUDIENCE,
    JWT_ISSUER,
    bearer,
    good_row,
)
from sqlalchemy import update

PREDICT = "/v1/models/credit-risk/predict"


def _claims(**extra):
    now = int(time.time())
    return {
        "iss": JWT_ISSUER,
        "aud": JWT_AUDIENCE,
        "sub": "alice",
        "iat": now,
        "exp": now + 300,
        "roles": ["predictor"],
        **extra,
    }


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture
def client(make_client):
    return make_client()


def _predict(client, headers):
    return client.post(PREDICT, json={"rows": [good_row()]}, headers=headers)


def _problem(response, status):
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def test_valid_api_key_predicts_and_is_audited(client, template, ws_copy):
    response = _predict(client, bearer(template.tokens["predictor"]))
    assert response.status_code == 200, response.text
    assert response.json()["predictions"][0] in (0, 1)
    assert response.headers["x-mlward-model-digest"].startswith("sha256:")


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing bearer token"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "expected 'Authorization: Bearer"),
        ({"Authorization": "Bearer mlw_000000000000_" + "A" * 43}, "unknown token or wrong secret"),
        ({"Authorization": "Bearer mlw_short"}, "malformed token"),
    ],
)
def test_missing_or_wrong_credentials_are_401(client, headers, reason):
    body = _problem(_predict(client, headers), 401)
    assert reason in body["detail"]


def test_right_id_wrong_secret_is_401_and_audited(client, template, ws_copy):
    token_id = template.token_ids["predictor"]
    forged = f"mlw_{token_id}_" + "B" * 43
    response = _predict(client, bearer(forged))
    _problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    time.sleep(0.3)
    denied = ws_copy.audit.query(action="auth.denied")
    # Failed authentications are audited in summaries, naming the presented token id.
    assert denied and denied[-1].details["subjects"] == [{"subject": f"token:{token_id}", "count": 1}]
    assert denied[-1].details["reasons"][0]["reason"] == "unknown token or wrong secret"
    # The audit never contains the presented secret.
    assert "B" * 43 not in json.dumps([e.to_dict() for e in ws_copy.audit.query()])


def test_expired_api_key_is_401(client, template, ws_copy):
    from mlward.access.tokens import create_token
    from mlward.access.tokens_models import ApiToken

    issued = create_token(ws_copy, ["predictor"], expires_in=timedelta(days=1))
    assert _predict(client, bearer(issued.token)).status_code == 200
    with ws_copy.metadata.session() as session:
        session.execute(
            update(ApiToken)
            .where(ApiToken.id == issued.info.id)
            .values(expires=datetime.now(UTC) - timedelta(1))
        )
    body = _problem(_predict(client, bearer(issued.token)), 401)
    assert body["detail"] == "token expired"


def test_revoked_api_key_is_401(client, template, ws_copy):
    from mlward.access.tokens import create_token, revoke_token

    issued = create_token(ws_copy, ["predictor"], name="soon-revoked")
    assert _predict(client, bearer(issued.token)).status_code == 200
    revoke_token(ws_copy, issued.info.id)  # as the CLI does, from outside the server
    body = _problem(_predict(client, bearer(issued.token)), 401)
    assert body["detail"] == "token revoked"


@pytest.mark.parametrize("alg", ["RS256", "ES256", "HS256"])
def test_valid_jwt_predicts(client, template, alg):
    key = {"RS256": template.keys["rsa"], "ES256": template.keys["ec"], "HS256": HS_SECRET}[alg]
    headers = {"kid": {"RS256": "rsa-1", "ES256": "ec-1"}[alg]} if alg != "HS256" else None
    token = jwt.encode(_claims(), key, algorithm=alg, headers=headers)
    response = _predict(client, bearer(token))
    assert response.status_code == 200, response.text


def test_jwt_expired_wrong_audience_wrong_issuer(client, template):
    rsa = template.keys["rsa"]
    now = int(time.time())
    cases = {
        "JWT expired": _claims(iat=now - 900, exp=now - 600),
        "JWT audience not accepted": _claims(aud="someone-else"),
        "JWT issuer not accepted": _claims(iss="https://evil.example"),
    }
    for reason, claims in cases.items():
        token = jwt.encode(claims, rsa, algorithm="RS256", headers={"kid": "rsa-1"})
        assert _problem(_predict(client, bearer(token)), 401)["detail"] == reason


def test_jwt_without_exp_is_refused(client, template):
    claims = _claims()
    del claims["exp"]
    token = jwt.encode(claims, template.keys["rsa"], algorithm="RS256", headers={"kid": "rsa-1"})
    _problem(_predict(client, bearer(token)), 401)


def test_jwt_tampered_payload_fails_signature(client, template):
    token = jwt.encode(_claims(), template.keys["rsa"], algorithm="RS256", headers={"kid": "rsa-1"})
    header, payload, signature = token.split(".")
    elevated = json.loads(base64.urlsafe_b64decode(payload + "=="))
    elevated["roles"] = ["admin"]
    forged = f"{header}.{_b64(json.dumps(elevated).encode())}.{signature}"
    assert _problem(_predict(client, bearer(forged)), 401)["detail"] == "JWT signature does not verify"


def test_jwt_alg_none_is_refused(client):
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(_claims(roles=["admin"])).encode())
    for token in (f"{header}.{payload}.", f"{header}.{payload}"):
        body = _problem(_predict(client, bearer(token)), 401)
        assert "not allowed" in body["detail"] or "malformed" in body["detail"]


def test_jwt_algorithm_confusion_is_refused(client, template):
    # Classic attack: sign with HS256 using the server's RSA *public* key as the HMAC secret.
    pem = template.keys["rsa_public_pem"]
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}).encode())
    payload = _b64(json.dumps(_claims(roles=["admin"])).encode())
    signature = _b64(hmac.new(pem, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    _problem(_predict(client, bearer(f"{header}.{payload}.{signature}")), 401)
    # And an ES256 header pointing at the RSA key id finds no usable key.
    token = jwt.encode(_claims(), template.keys["ec"], algorithm="ES256", headers={"kid": "rsa-1"})
    _problem(_predict(client, bearer(token)), 401)


def test_jwt_without_sub_is_401(client, template):
    claims = _claims()
    del claims["sub"]
    token = jwt.encode(claims, template.keys["rsa"], algorithm="RS256", headers={"kid": "rsa-1"})
    body = _problem(_predict(client, bearer(token)), 401)
    assert body["detail"] == "invalid JWT: MissingRequiredClaimError"


def test_jwk_declared_alg_rs256_does_not_verify_a_token_of_another_alg(make_client, template, ws_copy):
    # One RSA key published twice: declared RS256 under "rsa-rs", PS256 under "rsa-ps". The key
    # type fits both algorithms, so only the JWK's declared "alg" keeps them apart.
    from jwt.algorithms import RSAAlgorithm

    public = json.loads(RSAAlgorithm.to_jwk(template.keys["rsa"].public_key()))
    jwks = {
        "keys": [
            {**public, "kid": "rsa-rs", "alg": "RS256", "use": "sig"},
            {**public, "kid": "rsa-ps", "alg": "PS256", "use": "sig"},
        ]
    }
    (ws_copy.root / "jwks-declared.json").write_text(json.dumps(jwks))
    settings = {**template.jwt, "jwks_file": "jwks-declared.json", "algorithms": ["RS256", "PS256", "RS384"]}
    client = make_client(jwt=settings)
    rsa = template.keys["rsa"]

    def status(alg: str, kid: str | None) -> int:
        token = jwt.encode(_claims(), rsa, algorithm=alg, headers={"kid": kid} if kid else None)
        return _predict(client, bearer(token)).status_code

    # Each key verifies the algorithm it declares ...
    assert status("RS256", "rsa-rs") == 200
    assert status("PS256", "rsa-ps") == 200
    # ... and nothing else, though the same RSA key would check the signature.
    for alg, kid in (("PS256", "rsa-rs"), ("RS384", "rsa-rs"), ("RS256", "rsa-ps"), ("RS384", None)):
        token = jwt.encode(_claims(), rsa, algorithm=alg, headers={"kid": kid} if kid else None)
        body = _problem(_predict(client, bearer(token)), 401)
        assert body["detail"] == "no key for this JWT's algorithm and kid", (alg, kid)


def test_jwt_roles_unknown_to_the_workspace_grant_nothing(client, template):
    token = jwt.encode(
        _claims(roles=["superuser"]), template.keys["rsa"], algorithm="RS256", headers={"kid": "rsa-1"}
    )
    _problem(_predict(client, bearer(token)), 403)


def test_jwt_role_names_spelled_like_permissions_grant_nothing(client, template):
    # A token's roles are looked up in mlward.yaml; an undefined name is never read as a
    # permission itself, however much it looks like one.
    for roles in (["predict:*"], ["predict:credit-risk"], ["admin:"]):
        claims = _claims(roles=roles)
        token = jwt.encode(claims, template.keys["rsa"], algorithm="RS256", headers={"kid": "rsa-1"})
        _problem(_predict(client, bearer(token)), 403)


def test_role_without_permission_is_403_and_audited(client, template, ws_copy):
    body = _problem(_predict(client, bearer(template.tokens["nothing"])), 403)
    assert "predict:credit-risk" in body["detail"]
    scoped = template.tokens["credit-only"]
    assert _predict(client, bearer(scoped)).status_code == 200
    other = client.post(
        "/v1/models/plain/predict", json={"rows": [{"a": 1, "b": 2, "c": 3}]}, headers=bearer(scoped)
    )
    _problem(other, 403)
    time.sleep(0.3)
    denials = ws_copy.audit.query(action="access.denied", actor=f"token:{template.token_ids['credit-only']}")
    assert denials and denials[-1].details["permission"] == "predict:plain"
    assert denials[-1].outcome == "denied"


@pytest.mark.parametrize(
    "path",
    [
        "/v1/models/..%2F..%2Fetc%2Fpasswd/predict",
        "/v1/models/../../etc/passwd/predict",
        "/v1/models/%2e%2e/predict",
        "/v1/models/Credit-Risk/predict",
        "/v1/models/credit-risk%00/predict",
        "/v1/models/.hidden/predict",
    ],
)
def test_path_traversal_in_model_names_is_rejected(client, template, path):
    response = client.post(path, json={"rows": [good_row()]}, headers=bearer(template.tokens["admin"]))
    assert response.status_code in (400, 404)
    assert response.headers["content-type"] == "application/problem+json"


def test_management_routes_need_their_permission(client, template):
    tokens = template.tokens
    assert client.get("/v1/models", headers=bearer(tokens["auditor"])).status_code == 200
    _problem(client.get("/v1/models", headers=bearer(tokens["predictor"])), 403)
    assert client.get("/v1/audit", headers=bearer(tokens["auditor"])).status_code == 200
    _problem(client.get("/v1/audit", headers=bearer(tokens["approver"])), 403)
    _problem(client.get("/v1/tokens", headers=bearer(tokens["auditor"])), 403)
    assert client.get("/v1/tokens", headers=bearer(tokens["admin"])).status_code == 200
    _problem(client.get("/v1/models"), 401)


def test_cached_api_key_is_refused_once_the_cache_expires_after_an_outside_revocation(
    make_client, template, ws_copy
):
    from mlward.access.tokens import create_token, revoke_token

    client = make_client(token_cache_seconds=0.5)
    issued = create_token(ws_copy, ["predictor"], name="cached")
    for _ in range(3):  # verified once, then served from the cache
        assert _predict(client, bearer(issued.token)).status_code == 200
    revoke_token(ws_copy, issued.info.id)  # another process: this gateway learns within the TTL
    time.sleep(0.6)
    assert _problem(_predict(client, bearer(issued.token)), 401)["detail"] == "token revoked"
    wrong = issued.token[:-4] + ("AAAA" if not issued.token.endswith("AAAA") else "BBBB")
    assert _predict(client, bearer(wrong)).status_code == 401  # a near miss is never a cache hit
