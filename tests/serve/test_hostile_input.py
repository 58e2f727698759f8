"""Hostile client input is a 4xx problem, never a 5xx: credentials, signature headers, integers.

Each test covers a class of input (every odd type of a JWT header field or claim, every
kind of garbage in ``Authorization`` or a signature header, every integer past the
database's range), not one request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from serve_testlib import HS_SECRET, JWT_AUDIENCE, JWT_ISSUER, bearer, good_row

from mlward.serve.signing import sign_request

PREDICT = "/v1/models/credit-risk/predict"
INF = float("inf")
NAN = float("nan")


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
    for key, value in changes.items():
        if value is _DROP:
            claims.pop(key)
        else:
            claims[key] = value
    return claims


_DROP = object()


def _hs256(header: object, claims: object, *, raw_header: bytes | None = None) -> str:
    """A JWT with any header and payload, correctly signed with the gateway's HS256 secret."""
    head = _b64(raw_header if raw_header is not None else json.dumps(header).encode())
    body = _b64(json.dumps(claims).encode()) if not isinstance(claims, bytes) else _b64(claims)
    mac = hmac.new(HS_SECRET.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(mac)}"


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


@pytest.fixture
def client(make_client):
    return make_client()


def _predict(client, headers):
    return client.post(PREDICT, json={"rows": [good_row()]}, headers=headers)


def test_a_well_formed_hs256_token_from_the_helper_is_accepted(client):
    # The control: the helper's tokens are good, so each refusal below is about one field.
    assert _predict(client, bearer(_hs256({"alg": "HS256", "typ": "JWT"}, _claims()))).status_code == 200


ODD_HEADERS = {
    "kid object": {"alg": "HS256", "kid": {"a": 1}},
    "kid number": {"alg": "HS256", "kid": 7},
    "kid list": {"alg": "HS256", "kid": ["rsa-1"]},
    "kid null": {"alg": "HS256", "kid": None},
    "crit unknown": {"alg": "HS256", "crit": ["x-unknown"], "x-unknown": 1},
    "crit b64": {"alg": "HS256", "crit": ["b64"], "b64": False},
    "crit string": {"alg": "HS256", "crit": "x-unknown"},
    "crit empty": {"alg": "HS256", "crit": []},
    "alg number": {"alg": 256},
    "alg list": {"alg": ["HS256"]},
    "alg object": {"alg": {"HS256": True}},
    "alg null": {"alg": None},
    "alg missing": {"typ": "JWT"},
    "alg none": {"alg": "none"},
    "alg lower case": {"alg": "hs256"},
    "alg empty": {"alg": ""},
    "typ number": {"alg": "HS256", "typ": 1},
    "header list": ["HS256"],
    "header string": "HS256",
    "header number": 1,
}


@pytest.mark.parametrize("header", ODD_HEADERS.values(), ids=ODD_HEADERS.keys())
def test_jwt_headers_of_unexpected_types_are_401_problems(client, header):
    token = _hs256(header, _claims())
    assert _problem(_predict(client, bearer(token)), 401)["type"].endswith("/unauthenticated")


ODD_CLAIMS = {
    "exp string": {"exp": str(int(time.time()) + 300)},
    "exp numeric string far future": {"exp": "99999999999"},
    "exp true": {"exp": True},
    "exp false": {"exp": False},
    "exp null": {"exp": None},
    "exp list": {"exp": [int(time.time()) + 300]},
    "exp object": {"exp": {"t": 1}},
    "exp huge int": {"exp": 10**40},
    "exp huge float": {"exp": 1e300},
    "exp infinity": {"exp": INF},
    "exp nan": {"exp": NAN},
    "exp missing": {"exp": _DROP},
    "nbf string": {"nbf": "0"},
    "nbf true": {"nbf": True},
    "nbf infinity": {"nbf": INF},
    "nbf minus infinity": {"nbf": -INF},
    "nbf huge": {"nbf": 10**40},
    "iat string": {"iat": "0"},
    "iat false": {"iat": False},
    "iat infinity": {"iat": INF},
    "iat minus huge": {"iat": -(10**40)},
    "sub empty": {"sub": ""},
    "sub blank": {"sub": "   "},
    "sub number": {"sub": 5},
    "sub null": {"sub": None},
    "sub list": {"sub": ["alice"]},
    "sub object": {"sub": {"name": "alice"}},
    "sub missing": {"sub": _DROP},
    "sub control characters": {"sub": "alice\nforged audit line"},
    "sub too long": {"sub": "a" * 10_000},
    "iss number": {"iss": 1},
    "aud number": {"aud": 1},
    "aud object": {"aud": {"a": JWT_AUDIENCE}},
}


@pytest.mark.parametrize("changes", ODD_CLAIMS.values(), ids=ODD_CLAIMS.keys())
def test_jwt_claims_are_type_checked(client, changes):
    token = _hs256({"alg": "HS256", "typ": "JWT"}, _claims(**changes))
    assert _problem(_predict(client, bearer(token)), 401)["type"].endswith("/unauthenticated")


def test_a_float_expiry_in_range_is_a_numeric_date(client):
    # RFC 7519 NumericDate allows fractions; only the types and the range are refused.
    token = _hs256({"alg": "HS256"}, _claims(exp=time.time() + 300.5))
    assert _predict(client, bearer(token)).status_code == 200


HUGE = b"9" * 5000
SIGNED = _hs256({"alg": "HS256"}, _claims())
HEAD, BODY, SIG = SIGNED.split(".")
MALFORMED_TOKENS = {
    "one segment": "abc",
    "two segments": f"{HEAD}.{BODY}",
    "four segments": f"{SIGNED}.{SIG}",
    "five segments": f"{SIGNED}.{BODY}.{SIG}",
    "only dots": "....",
    "empty segments": "..",
    "non-base64 header": f"%%%.{BODY}.{SIG}",
    "non-base64 payload": f"{HEAD}.!!!.{SIG}",
    "non-base64 signature": f"{HEAD}.{BODY}.***",
    "header not json": _hs256(None, _claims(), raw_header=b"not json"),
    "header not utf-8": _hs256(None, _claims(), raw_header=b"\xff\xfe\xfd"),
    "header deeply nested": _hs256(None, _claims(), raw_header=b"[" * 3000 + b"]" * 3000),
    "header with a huge number": _hs256(None, _claims(), raw_header=b'{"alg":"HS256","x":%s}' % HUGE),
    "payload not json": _hs256({"alg": "HS256"}, b"not json"),
    "payload a list": _hs256({"alg": "HS256"}, [1, 2]),
    "payload a string": _hs256({"alg": "HS256"}, "alice"),
    "payload deeply nested": _hs256({"alg": "HS256"}, b'{"sub":' + b"[" * 3000 + b"]" * 3000 + b"}"),
    "oversized": f"{HEAD}.{'A' * 20_000}.{SIG}",
}


@pytest.mark.parametrize("token", MALFORMED_TOKENS.values(), ids=MALFORMED_TOKENS.keys())
def test_malformed_jwts_are_401_problems(client, token):
    assert _problem(_predict(client, bearer(token)), 401)["type"].endswith("/unauthenticated")


def _authorization_garbage(template) -> dict[str, bytes]:
    key = template.tokens["predictor"]
    return {
        "two spaces": f"Bearer  {key}".encode(),
        "tab": f"Bearer\t{key}".encode(),
        "trailing garbage": f"Bearer {key} extra".encode(),
        "trailing space": f"Bearer {key} ".encode(),
        "leading space": f" Bearer {key}".encode(),
        "basic scheme": b"Basic YWxpY2U6c2VjcmV0",
        "token scheme": f"Token {key}".encode(),
        "scheme only": b"Bearer",
        "scheme and space": b"Bearer ",
        "latin-1 credential": "Bearer mlw_é".encode("latin-1"),
        "utf-8 credential": "Bearer ключ".encode(),
        "utf-8 api key": ("Bearer mlw_" + "é" * 40).encode(),
        "control character": b"Bearer \x01\x02",
        "over-long": b"Bearer " + b"A" * 50_000,
        "over-long api key": b"Bearer mlw_" + b"a" * 50_000,
        "api key with unicode digits": ("Bearer mlw_" + "١" * 12 + "_" + "a" * 43).encode(),
    }


def test_authorization_garbage_is_401(client, template):
    for label, value in _authorization_garbage(template).items():
        response = _predict(client, {"Authorization": value})
        assert response.status_code == 401, label
        assert response.headers["content-type"] == "application/problem+json", label
    # The control: the same key, well formed, is accepted.
    assert _predict(client, bearer(template.tokens["predictor"])).status_code == 200


def _signed(template, **replace: bytes | str) -> tuple[bytes, dict[str, object]]:
    body = json.dumps({"rows": [good_row()]}).encode()
    headers: dict[str, object] = {
        **bearer(template.tokens["predictor"]),
        "Content-Type": "application/json",
        **sign_request(template.secrets["predictor"], "POST", PREDICT, body),
    }
    for name, value in replace.items():
        headers[f"X-Mlward-{name.title()}"] = value
    return body, headers


SIGNATURE_GARBAGE = {
    "timestamp arabic-indic digits": {"timestamp": "١٧٠٠٠٠٠٠٠٠".encode()},
    "timestamp superscript digits": {"timestamp": "¹²³".encode()},
    "timestamp fullwidth digits": {"timestamp": "１７００".encode()},
    "timestamp latin-1 superscript": {"timestamp": "²".encode("latin-1")},
    "timestamp 400 digits": {"timestamp": "1" * 400},
    "timestamp 5000 digits": {"timestamp": "1" * 5000},
    "timestamp negative": {"timestamp": "-1"},
    "timestamp plus sign": {"timestamp": "+1700000000"},
    "timestamp fraction": {"timestamp": "1700000000.5"},
    "timestamp hex": {"timestamp": "0x65"},
    "timestamp spaces": {"timestamp": " 1700000000 "},
    "timestamp underscore": {"timestamp": "1_700_000_000"},
    "nonce latin-1": {"nonce": "nonce-é".encode("latin-1")},
    "nonce utf-8": {"nonce": "нонс".encode()},
    "nonce with spaces": {"nonce": "a b c"},
    "nonce too long": {"nonce": "n" * 129},
    "nonce huge": {"nonce": "n" * 50_000},
    "signature latin-1": {"signature": "é".encode("latin-1") * 64},
    "signature utf-8": {"signature": "ф".encode() * 64},
    "signature not hex": {"signature": "z" * 64},
    "signature short": {"signature": "ab"},
    "signature huge": {"signature": "a" * 50_000},
}


@pytest.mark.parametrize("replace", SIGNATURE_GARBAGE.values(), ids=SIGNATURE_GARBAGE.keys())
def test_signature_headers_are_parsed_strictly(make_client, template, replace):
    client = make_client(require_signed_requests=True)
    body, headers = _signed(template, **replace)
    response = client.post(PREDICT, content=body, headers=headers)
    assert _problem(response, 401)["type"].endswith("/bad-signature")


def test_a_correctly_signed_request_still_passes(make_client, template):
    client = make_client(require_signed_requests=True)
    body, headers = _signed(template)
    assert client.post(PREDICT, content=body, headers=headers).status_code == 200


# Versions live in an Integer column: 32 bits on PostgreSQL, so 2^31 is already out of range.
BEYOND_VERSIONS = [2**31, 2**63, 2**64, 10**30, 10**400, 0, -1, -(2**63) - 1]
BEYOND_INT64 = [2**63, 2**64, 10**30, 10**400, -(2**63) - 1]


@pytest.mark.parametrize("number", BEYOND_VERSIONS)
def test_version_path_integers_out_of_range_are_422(client, template, number):
    auth = bearer(template.tokens["admin"])
    response = client.post(
        f"/v1/models/credit-risk/versions/{number}/promote", json={"stage": "staging"}, headers=auth
    )
    assert _problem(response, 422)["type"].endswith("/invalid-input")


@pytest.mark.parametrize("number", BEYOND_VERSIONS)
def test_version_query_integers_out_of_range_are_422(client, template, number):
    auth = bearer(template.tokens["admin"])
    response = client.get("/v1/models/credit-risk/lineage", params={"version": str(number)}, headers=auth)
    assert _problem(response, 422)["type"].endswith("/invalid-input")


@pytest.mark.parametrize("number", BEYOND_INT64)
def test_count_query_integers_past_int64_are_422(client, template, number):
    response = client.get(
        "/v1/audit", params={"limit": str(number)}, headers=bearer(template.tokens["admin"])
    )
    assert _problem(response, 422)["type"].endswith("/invalid-input")


def test_the_largest_version_reaches_the_registry_and_is_not_found(client, template):
    auth = bearer(template.tokens["admin"])
    largest = 2**31 - 1
    promote = client.post(
        f"/v1/models/credit-risk/versions/{largest}/promote", json={"stage": "staging"}, headers=auth
    )
    assert _problem(promote, 404)
    lineage = client.get("/v1/models/credit-risk/lineage", params={"version": largest}, headers=auth)
    assert _problem(lineage, 404)


@pytest.mark.parametrize("value", ["9" * 30, "9" * 5000])
def test_huge_content_length_is_413_not_500(client, template, value):
    headers = {**bearer(template.tokens["predictor"]), "Content-Length": value}
    assert _problem(client.post(PREDICT, content=b"{}", headers=headers), 413)


@pytest.mark.parametrize("expires", ["9999999999999999999w", "99999999999999d", "١٢h", "１２h"])
def test_token_lifetimes_out_of_range_or_not_ascii_are_refused(client, template, expires):
    auth = bearer(template.tokens["admin"])
    response = client.post("/v1/tokens", json={"roles": ["predictor"], "expires": expires}, headers=auth)
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("since", ["yesterday", "2026-13-45", "\x00", "9" * 40])
def test_audit_since_must_be_an_iso_time(client, template, since):
    auth = bearer(template.tokens["admin"])
    response = client.get("/v1/audit", params={"since": since}, headers=auth)
    assert _problem(response, 422)["type"].endswith("/invalid-input")
    assert client.get("/v1/audit", params={"since": "2026-01-31T12:00"}, headers=auth).status_code == 200


@pytest.fixture
def pg_client(pg_url, template, tmp_path, monkeypatch):
    """A gateway whose workspace metadata is on the real PostgreSQL, with ``plain`` registered."""
    import joblib
    from fastapi.testclient import TestClient
    from serve_testlib import base_overrides, training_data
    from sklearn.linear_model import LogisticRegression

    from mlward.access.tokens import create_token
    from mlward.model.registry import register_model
    from mlward.serve.app import create_app
    from mlward.workspace import Workspace

    monkeypatch.setenv("MLWARD_PRINCIPAL", "tester")
    monkeypatch.setenv("MLWARD_METADATA_URL", pg_url)
    ws = Workspace.init(tmp_path / "pg-ws", project="serve-pg")
    X, y = training_data(100)
    joblib.dump(LogisticRegression().fit(X[:, :3], y), tmp_path / "plain.joblib")
    register_model(ws, tmp_path / "plain.joblib", "plain")
    admin = create_token(ws, ["admin"], name="admin").token
    with TestClient(create_app(workspace=ws, overrides=base_overrides(template, jwt={}))) as client:
        yield client, bearer(admin)
    ws.close()


def test_on_postgresql_out_of_range_versions_and_nul_strings_are_4xx(pg_client):
    client, auth = pg_client
    for number in (2**31, 2**63):
        response = client.post(
            f"/v1/models/plain/versions/{number}/promote", json={"stage": "staging"}, headers=auth
        )
        assert _problem(response, 422)
        response = client.get("/v1/models/plain/lineage", params={"version": number}, headers=auth)
        assert _problem(response, 422)
    largest = client.post(
        f"/v1/models/plain/versions/{2**31 - 1}/promote", json={"stage": "staging"}, headers=auth
    )
    assert _problem(largest, 404)
    for field in ("action", "actor", "target", "outcome"):
        assert _problem(client.get("/v1/audit", params={field: "a\x00b"}, headers=auth), 422)
    assert _problem(client.get("/v1/audit", params={"since": "2026-01-01\x00"}, headers=auth), 422)
    for body in ({"roles": ["predictor"], "name": "a\x00b"}, {"roles": ["pre\x00dictor"]}):
        assert _problem(client.post("/v1/tokens", json=body, headers=auth), 422)
    assert client.get("/v1/audit", params={"action": "model.register"}, headers=auth).json()["events"]
