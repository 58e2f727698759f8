"""Rate limits and quotas: in memory, and in Redis shared by two real server processes."""

from __future__ import annotations

import shutil
import time
import uuid

import httpx
import pytest
import redis
from serve_testlib import base_overrides, bearer, good_row, start_server

from mlward.core.errors import ConfigError
from mlward.serve.ratelimit import RateLimits

PREDICT = "/v1/models/credit-risk/predict"
REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def redis_prefix():
    prefix = f"mlward-test-{uuid.uuid4().hex[:10]}"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


def test_principal_limit_gives_429_with_retry_after_and_is_audited(make_client, template, ws_copy):
    client = make_client(rate_limit="5/minute")
    auth = bearer(template.tokens["predictor"])
    statuses = [client.post(PREDICT, json={"rows": [good_row()]}, headers=auth).status_code for _ in range(7)]
    assert statuses == [200] * 5 + [429] * 2
    refused = client.post(PREDICT, json={"rows": [good_row()]}, headers=auth)
    assert refused.headers["content-type"] == "application/problem+json"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    # Another principal has its own budget.
    assert (
        client.post(
            PREDICT, json={"rows": [good_row()]}, headers=bearer(template.tokens["admin"])
        ).status_code
        == 200
    )
    time.sleep(0.3)
    events = ws_copy.audit.query(action="serve.rate_limited")
    # Refusals are audited once per principal and window, and counted in the metrics.
    assert len(events) == 1 and events[0].actor == f"token:{template.token_ids['predictor']}"
    metrics = client.get("/metrics", headers=bearer(template.tokens["monitor"])).text
    assert 'mlward_rate_limited_total{model="credit-risk",scope="principal"} 3.0' in metrics


def test_model_limit_caps_every_principal_together(make_client, template):
    client = make_client(models={"credit-risk": {"rate_limit": "3/minute"}})
    statuses = [
        client.post(PREDICT, json={"rows": [good_row()]}, headers=bearer(template.tokens[role])).status_code
        for role in ("predictor", "admin", "predictor", "admin")
    ]
    assert statuses == [200, 200, 200, 429]
    other = client.post(
        "/v1/models/plain/predict",
        json={"rows": [{"a": 1, "b": 2, "c": 3}]},
        headers=bearer(template.tokens["admin"]),
    )
    assert other.status_code == 200


def test_quota_with_several_limits():
    import asyncio

    limits = RateLimits("memory://", principal_limit="100/second;3/hour", strategy="fixed-window")

    async def hits():
        return [await limits.check("p", "m") for _ in range(4)]

    results = asyncio.run(hits())
    assert results[:3] == [None, None, None]
    assert results[3] is not None and results[3].scope == "principal" and "hour" in results[3].limit


def test_bad_limit_settings_are_config_errors():
    with pytest.raises(ConfigError, match="invalid rate limit"):
        RateLimits("memory://", principal_limit="lots")
    with pytest.raises(ConfigError, match="unsupported"):
        RateLimits("ftp://example", principal_limit="1/second")


def test_redis_limits_are_shared_by_two_server_processes(template, tmp_path, redis_prefix, servers):
    root = tmp_path / "ws"
    shutil.copytree(template.root, root)
    overrides = base_overrides(
        template,
        rate_limit="20/minute",
        rate_limit_storage=REDIS_URL,
        rate_limit_prefix=redis_prefix,
        journal_flush_interval=0.1,
    )
    servers.append(start_server(root, overrides, tmp_path / "a.log"))
    servers.append(start_server(root, overrides, tmp_path / "b.log"))
    auth = bearer(template.tokens["predictor"])
    statuses: list[int] = []
    with httpx.Client(timeout=10) as http:
        for i in range(30):
            server = servers[i % 2]
            response = http.post(f"{server.url}{PREDICT}", json={"rows": [good_row()]}, headers=auth)
            statuses.append(response.status_code)
            if response.status_code == 429:
                assert int(response.headers["retry-after"]) >= 1
    assert statuses.count(200) == 20 and statuses.count(429) == 10
    # Both replicas refused: the budget really is shared.
    assert 429 in statuses[0::2] and 429 in statuses[1::2]
    keys = list(redis.Redis.from_url(REDIS_URL).scan_iter(f"{redis_prefix}*"))
    assert keys


def test_tokens_of_one_owner_share_one_budget(make_client, ws_copy, template):
    from mlward.access.tokens import create_token

    keys = [create_token(ws_copy, ["predictor"], name=f"alice-{i}", owner="alice").token for i in range(3)]
    other = create_token(ws_copy, ["predictor"], name="bob-1", owner="bob").token
    client = make_client(rate_limit="10/minute")
    statuses = [
        client.post(PREDICT, json={"rows": [good_row()]}, headers=bearer(keys[i % 3])).status_code
        for i in range(15)
    ]
    # Three keys, one owner: ten requests in all, not ten each.
    assert statuses.count(200) == 10 and statuses[10:] == [429] * 5
    assert client.post(PREDICT, json={"rows": [good_row()]}, headers=bearer(other)).status_code == 200
    time.sleep(0.3)
    events = ws_copy.audit.query(action="serve.rate_limited")
    assert events and {e.details["counted_as"] for e in events} == {"owner:alice"}
    listed = client.get("/v1/tokens", headers=bearer(template.tokens["admin"])).json()["tokens"]
    owners = {t["name"]: t["owner"] for t in listed}
    assert owners["alice-2"] == "alice" and owners["bob-1"] == "bob"
    assert owners["admin-token"] == "admin-token"  # no owner given: the token's name


def test_default_aggregate_model_cap(make_client, template, ws_copy):
    from mlward.inference.settings import ServeSettings, load_settings

    assert ServeSettings().model_rate_limit == "1000/second"
    assert load_settings(ws_copy.config.serve).model_rate_limit == "1000/second"  # from mlward.yaml
    client = make_client(model_rate_limit="4/minute")
    statuses = [
        client.post(PREDICT, json={"rows": [good_row()]}, headers=bearer(template.tokens[role])).status_code
        for role in ("predictor", "admin", "credit-only", "predictor", "admin")
    ]
    assert statuses == [200, 200, 200, 200, 429]


def test_rows_count_against_a_row_budget_per_model(make_client, template, ws_copy):
    # The review's case: ten batches of 1000 rows, all within the request limit (12: the ten
    # and two more requests below).
    client = make_client(rate_limit="12/second", models={"credit-risk": {"rows_rate_limit": "1000/minute"}})
    auth = bearer(template.tokens["predictor"])
    batch = {"rows": [good_row() for _ in range(1000)]}
    responses = [client.post(PREDICT, json=batch, headers=auth) for _ in range(10)]
    assert [r.status_code for r in responses] == [200] + [429] * 9
    assert "rows: 1000 per 1 minute" in responses[1].json()["detail"]
    assert 1 <= int(responses[1].headers["retry-after"]) <= 60
    # Small requests are refused too once the rows are spent; another model has its own budget.
    assert client.post(PREDICT, json={"rows": [good_row()]}, headers=auth).status_code == 429
    plain = client.post("/v1/models/plain/predict", json={"rows": [{"a": 1, "b": 2, "c": 3}]}, headers=auth)
    assert plain.status_code == 200
    time.sleep(0.3)
    served = ws_copy.audit.query(action="serve.predict")
    assert sum(e.details["rows"] for e in served if e.details["model"] == "credit-risk") == 1000
    refusals = ws_copy.audit.query(action="serve.rate_limited")
    assert [e.details["scope"] for e in refusals] == ["rows"]


def test_row_limit_default_and_batches_larger_than_it():
    import asyncio

    limits = RateLimits("memory://", principal_limit="", rows_limit="10/minute", strategy="fixed-window")

    async def spend():
        return [await limits.check_rows("p", "m", n) for n in (4, 6, 1, 11)]

    results = asyncio.run(spend())
    assert results[:2] == [None, None]
    assert results[2] is not None and results[2].scope == "rows"
    assert results[3] is not None and "larger" in results[3].limit
