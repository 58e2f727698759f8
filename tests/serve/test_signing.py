"""HMAC request signing: round trip, tampering, clock skew and replay."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from serve_testlib import bearer, good_row

from mlward.serve.signing import MemoryNonceStore, RedisNonceStore, sign_request, verify_signature

PREDICT = "/v1/models/credit-risk/predict"


def _verify(secret, method, target, body, headers, nonces, **kw):
    lowered = {k.lower(): v for k, v in headers.items()}
    return asyncio.run(
        verify_signature(secret, method, target, body, lowered, nonces=nonces, scope="p", **kw)
    )


def test_sign_verify_round_trip_and_tampering():
    nonces = MemoryNonceStore()
    body = b'{"rows": [[1, 2]]}'
    headers = sign_request("s3cret", "POST", "/v1/models/m/predict", body)
    assert _verify("s3cret", "POST", "/v1/models/m/predict", body, headers, nonces) is None
    fresh = sign_request("s3cret", "POST", "/v1/models/m/predict", body)
    assert "does not verify" in _verify("s3cret", "POST", "/v1/models/m/predict", body + b" ", fresh, nonces)
    assert "does not verify" in _verify("s3cret", "POST", "/v1/models/other/predict", body, fresh, nonces)
    assert "does not verify" in _verify("wrong", "POST", "/v1/models/m/predict", body, fresh, nonces)


def test_replay_and_skew_are_refused():
    nonces = MemoryNonceStore()
    body = b"{}"
    headers = sign_request("k", "POST", "/p", body)
    assert _verify("k", "POST", "/p", body, headers, nonces) is None
    assert "replayed" in _verify("k", "POST", "/p", body, headers, nonces)
    old = sign_request("k", "POST", "/p", body, timestamp=int(time.time()) - 301)
    assert "away from the server clock" in _verify("k", "POST", "/p", body, old, nonces)
    future = sign_request("k", "POST", "/p", body, timestamp=int(time.time()) + 301)
    assert "away from the server clock" in _verify("k", "POST", "/p", body, future, nonces)
    assert "missing" in _verify("k", "POST", "/p", body, {}, nonces)


def test_redis_nonce_store_is_shared(redis_prefix):
    async def scenario():
        first = RedisNonceStore("redis://127.0.0.1:6379/15", redis_prefix)
        second = RedisNonceStore("redis://127.0.0.1:6379/15", redis_prefix)
        try:
            return await first.first_use("p:n1", 10), await second.first_use("p:n1", 10)
        finally:
            await first.close()
            await second.close()

    assert asyncio.run(scenario()) == (True, False)


@pytest.fixture
def redis_prefix(request):
    import uuid

    import redis

    prefix = f"mlward-test-{uuid.uuid4().hex[:10]}"
    yield prefix
    client = redis.Redis.from_url("redis://127.0.0.1:6379/15")
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


def test_gateway_requires_signatures_when_configured(make_client, template):
    client = make_client(require_signed_requests=True)
    token, secret = template.tokens["predictor"], template.secrets["predictor"]
    body = json.dumps({"rows": [good_row()]}).encode()
    base = {**bearer(token), "Content-Type": "application/json"}
    unsigned = client.post(PREDICT, content=body, headers=base)
    assert unsigned.status_code == 401 and "missing" in unsigned.json()["detail"]
    signed = sign_request(secret, "POST", PREDICT, body)
    assert client.post(PREDICT, content=body, headers={**base, **signed}).status_code == 200
    replay = client.post(PREDICT, content=body, headers={**base, **signed})
    assert replay.status_code == 401 and "replayed" in replay.json()["detail"]
    tampered_body = json.dumps({"rows": [good_row()]}).encode()
    fresh = sign_request(secret, "POST", PREDICT, body)
    assert client.post(PREDICT, content=tampered_body, headers={**base, **fresh}).status_code == 401
    # Another token's secret does not sign for this token.
    other = sign_request(template.secrets["admin"], "POST", PREDICT, body)
    assert client.post(PREDICT, content=body, headers={**base, **other}).status_code == 401


def test_signature_checked_when_present_even_if_optional(make_client, template):
    client = make_client()
    body = json.dumps({"rows": [good_row()]}).encode()
    base = {**bearer(template.tokens["predictor"]), "Content-Type": "application/json"}
    bad = sign_request("not-the-secret", "POST", PREDICT, body)
    assert client.post(PREDICT, content=body, headers={**base, **bad}).status_code == 401
    assert client.post(PREDICT, content=body, headers=base).status_code == 200


def test_state_changing_management_routes_require_signatures_when_configured(make_client, template):
    client = make_client(require_signed_requests=True)
    admin, secret = bearer(template.tokens["admin"]), template.secrets["admin"]
    promote = "/v1/models/plain/versions/1/promote"
    body = json.dumps({"stage": "production"}).encode()
    base = {**admin, "Content-Type": "application/json"}
    unsigned = client.post(promote, content=body, headers=base)
    assert unsigned.status_code == 401 and "missing" in unsigned.json()["detail"]
    assert (
        client.post(
            promote, content=body, headers={**base, **sign_request(secret, "POST", promote, body)}
        ).status_code
        == 200
    )
    # A signature over another body or another route does not carry over.
    other = sign_request(secret, "POST", promote, b'{"stage":"archived"}')
    assert client.post(promote, content=body, headers={**base, **other}).status_code == 401
    token_body = json.dumps({"roles": ["predictor"]}).encode()
    assert client.post("/v1/tokens", content=token_body, headers=base).status_code == 401
    made = client.post(
        "/v1/tokens",
        content=token_body,
        headers={**base, **sign_request(secret, "POST", "/v1/tokens", token_body)},
    )
    assert made.status_code == 201, made.text
    revoke = f"/v1/tokens/{made.json()['id']}"
    assert client.delete(revoke, headers=admin).status_code == 401
    assert (
        client.delete(revoke, headers={**admin, **sign_request(secret, "DELETE", revoke, b"")}).status_code
        == 200
    )
    # Reads stay unsigned.
    assert client.get("/v1/models", headers=admin).status_code == 200
