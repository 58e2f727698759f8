"""Review of the gateway's hostile-input handling: JWT tricks through the real app.

Found: a JWT subject of 197..255 characters was accepted (``MAX_SUBJECT`` was 255) and became
the principal ``jwt:<sub>``, which the registry and token tables store in 200-character
columns; on PostgreSQL a promotion or a token creation by that principal was a 500. The
rest are classes that held (each refused with a 401 problem, or kept apart).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import shutil
import time

import jwt as pyjwt
import pytest
from serve_testlib import HS_SECRET, JWT_AUDIENCE, JWT_ISSUER, bearer, good_row

from mlward.serve.jwt_auth import MAX_SUBJECT

PREDICT = "/v1/models/credit-risk/predict"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(**changes):
    now = int(time.time())
    claims = {
        "iss": JWT_ISSUER,
        "aud": JWT_AUDIENCE,
        "sub": "alice",
        "iat": now,
        "exp": now + 300,
        "roles": ["predictor"],
    }
    claims.update(changes)
    return claims


def _raw_hs256(head: bytes, body: bytes, secret: bytes = HS_SECRET.encode()) -> str:
    """A JWT from raw header and payload bytes (duplicate keys, odd numbers), HS256-signed."""
    signing_input = f"{_b64(head)}.{_b64(body)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


def _hs256(claims: dict, header: dict | None = None) -> str:
    return _raw_hs256(
        json.dumps(header or {"alg": "HS256", "typ": "JWT"}).encode(), json.dumps(claims).encode()
    )


@pytest.fixture
def client(make_client):
    return make_client()


def _status(client, token: str, path: str = "/v1/models") -> int:
    if path == PREDICT:
        return client.post(PREDICT, json={"rows": [good_row()]}, headers=bearer(token)).status_code
    return client.get(path, headers=bearer(token)).status_code


def test_review_control_token_is_accepted(client):
    assert _status(client, _hs256(_claims()), PREDICT) == 200


HELD = {
    # alg confusion: the RSA public key (PEM) used as the HS256 secret.
    "rsa-public-key-as-hmac-secret": lambda t: _raw_hs256(
        json.dumps({"alg": "HS256", "kid": "rsa-1"}).encode(),
        json.dumps(_claims(roles=["admin"])).encode(),
        t.keys["rsa_public_pem"],
    ),
    "duplicate-alg-none-last": lambda t: _raw_hs256(
        b'{"alg":"HS256","alg":"none"}', json.dumps(_claims()).encode()
    ),
    "duplicate-exp-expired-last": lambda t: _raw_hs256(
        b'{"alg":"HS256"}', json.dumps(_claims())[:-1].encode() + b', "exp": 1}'
    ),
    "exp-1e309": lambda t: _raw_hs256(
        b'{"alg":"HS256"}', json.dumps(_claims())[:-1].encode() + b', "exp": 1e309}'
    ),
    "exp-NaN": lambda t: _raw_hs256(
        b'{"alg":"HS256"}', json.dumps(_claims())[:-1].encode() + b', "exp": NaN}'
    ),
    "exp-huge-int": lambda t: _hs256(_claims(exp=10**40)),
    "exp-5000-digits": lambda t: _raw_hs256(
        b'{"alg":"HS256"}', json.dumps(_claims())[:-1].encode() + b', "exp": 1' + b"0" * 5000 + b"}"
    ),
    "nbf-future": lambda t: _hs256(_claims(nbf=int(time.time()) + 3600)),
    "iat-future": lambda t: _hs256(_claims(iat=int(time.time()) + 3600)),
    "embedded-jwk-header": lambda t: _raw_hs256(
        json.dumps({"alg": "HS256", "jwk": {"kty": "oct", "k": _b64(b"x" * 32)}}).encode(),
        json.dumps(_claims()).encode(),
        b"x" * 32,
    ),
    "b64-false-without-crit": lambda t: _hs256(_claims(), {"alg": "HS256", "b64": False}),
    "sub-with-surrounding-space": lambda t: _hs256(_claims(sub=" admin")),
    "sub-zero-width": lambda t: _hs256(_claims(sub="admin\u200b")),
    "sub-number": lambda t: _hs256(_claims(sub=7)),
    "iss-list": lambda t: _hs256(_claims(iss=[JWT_ISSUER])),
    "es256-signed-with-rsa-kid": lambda t: pyjwt.encode(
        _claims(), t.keys["rsa"], "RS256", headers={"kid": "ec-1"}
    ),
}


@pytest.mark.parametrize("name", sorted(HELD))
def test_review_jwt_tricks_are_401(client, template, name):
    response = client.get("/v1/models", headers=bearer(HELD[name](template)))
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_review_duplicate_sub_last_wins_like_pyjwt(client):
    # Same JSON parser for both reads: the signed payload's last 'sub' is the principal.
    token = _raw_hs256(b'{"alg":"HS256"}', json.dumps(_claims())[:-1].encode() + b', "sub": "bob"}')
    response = client.post(PREDICT, json={"rows": [good_row()]}, headers=bearer(token))
    assert response.status_code == 200


@pytest.mark.parametrize(
    "roles",
    [["ａｄｍｉｎ"], ["Admin"], ["admin "], [["admin"]], [{"admin": True}], {"admin": 1}, "ａｄｍｉｎ"],
)
def test_review_look_alike_or_odd_roles_grant_nothing(client, roles):
    assert _status(client, _hs256(_claims(roles=roles)), "/v1/tokens") == 403


def test_review_fullwidth_admin_subject_is_not_an_admin(client):
    # sub 'ａｄｍｉｎ' is its own principal: permissions come from roles, never the name.
    assert _status(client, _hs256(_claims(sub="ａｄｍｉｎ", roles=["predictor"])), "/v1/tokens") == 403


def test_review_longest_subject_fits_the_principal_columns():
    # The principal jwt:<sub> is stored as approved_by / created_by / revoked_by (String(200)).
    assert len(f"jwt:{'x' * MAX_SUBJECT}") <= 200


@pytest.fixture
def pg_jwt_client(pg_url, template, tmp_path, monkeypatch):
    """A gateway on PostgreSQL metadata with JWT on and ``plain`` registered."""
    import joblib
    from fastapi.testclient import TestClient
    from serve_testlib import base_overrides, training_data
    from sklearn.linear_model import LogisticRegression

    from mlward.model.registry import register_model
    from mlward.serve.app import create_app
    from mlward.workspace import Workspace

    monkeypatch.setenv("MLWARD_PRINCIPAL", "tester")
    monkeypatch.setenv("MLWARD_METADATA_URL", pg_url)
    ws = Workspace.init(tmp_path / "pg-ws", project="serve-pg")
    for name in ("jwks.json", "jwt.secret"):
        shutil.copy(template.root / name, ws.root / name)
    X, y = training_data(100)
    joblib.dump(LogisticRegression().fit(X[:, :3], y), tmp_path / "plain.joblib")
    register_model(ws, tmp_path / "plain.joblib", "plain")
    with TestClient(create_app(workspace=ws, overrides=base_overrides(template))) as client:
        yield client
    ws.close()


def test_review_on_postgresql_a_long_jwt_subject_is_never_a_500(pg_jwt_client):
    client = pg_jwt_client
    for length in (196, 197, 255):
        auth = bearer(_hs256(_claims(sub="s" * length, roles=["admin"])))
        promote = client.post("/v1/models/plain/versions/1/promote", json={"stage": "staging"}, headers=auth)
        token = client.post("/v1/tokens", json={"roles": ["predictor"], "name": "t"}, headers=auth)
        assert promote.status_code < 500 and token.status_code < 500, (length, promote.text, token.text)
        if length <= 196:
            assert promote.status_code == 200 and token.status_code in (200, 201)
        else:
            assert promote.status_code == 401 and token.status_code == 401
