"""Failed authentications: limited per client address, audited as bounded summaries."""

from __future__ import annotations

import secrets
import time

from serve_testlib import bearer, good_row

from mlward.serve.denials import MAX_TRACKED, TOP, DenialSummary, PreAuthDenials

PREDICT = "/v1/models/credit-risk/predict"


def _random_token() -> str:
    return f"mlw_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"


def _summaries(ws, expected: int, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        events = ws.audit.query(action="auth.denied")
        if sum(e.details["count"] for e in events) >= expected or time.monotonic() > deadline:
            return events
        time.sleep(0.1)


def test_a_flood_of_random_tokens_writes_a_few_summaries_not_one_event_each(make_client, ws_copy, template):
    client = make_client(unauthenticated_rate_limit="50/minute", auth_denial_summary_interval=1.0)
    started = time.monotonic()
    statuses = [
        client.post(PREDICT, json={"rows": [good_row()]}, headers=bearer(_random_token())).status_code
        for _ in range(300)
    ]
    # A budget per address: 50 failures answered 401, then 429 with Retry-After.
    assert statuses == [401] * 50 + [429] * 250
    refused = client.post(PREDICT, json={"rows": [good_row()]}, headers=bearer(_random_token()))
    assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["content-type"] == "application/problem+json"
    # A genuine key from the same address still works: only failures are charged.
    good = client.post(PREDICT, json={"rows": [good_row()]}, headers=bearer(template.tokens["predictor"]))
    assert good.status_code == 200
    assert client.post(PREDICT, json={"rows": [good_row()]}).status_code == 429  # no credential at all
    events = _summaries(ws_copy, 302)
    # One event per interval (1 s) in which anything failed, not one per failure.
    assert 1 <= len(events) <= time.monotonic() - started + 1
    assert sum(e.details["count"] for e in events) == 302
    assert sum(e.details["limited"] for e in events) == 252
    for event in events:
        assert event.details["summary"] is True and event.actor == "anonymous"
        assert event.details["clients"] == [{"client": "testclient", "count": event.details["count"]}]
        subjects = event.details["subjects"]
        assert len(subjects) <= TOP + 1 and sum(s["count"] for s in subjects) == event.details["count"]
        reasons = event.details["reasons"]
        assert sum(r["count"] for r in reasons) == event.details["count"]
        assert all(r["first_seen"] <= r["last_seen"] for r in reasons)
        assert event.details["first_seen"] <= event.details["last_seen"]
    # Limited or not, each failure is counted under the reason it failed for.
    assert {r["reason"] for e in events for r in e.details["reasons"]} == {
        "unknown token or wrong secret",
        "missing bearer token",
    }


def test_denials_of_authenticated_principals_stay_individual_events(make_client, ws_copy, template):
    client = make_client()
    auth = bearer(template.tokens["nothing"])
    for _ in range(5):
        assert client.post(PREDICT, json={"rows": [good_row()]}, headers=auth).status_code == 403
    time.sleep(0.3)
    denied = ws_copy.audit.query(action="access.denied")
    assert len(denied) == 5 and {e.actor for e in denied} == {f"token:{template.token_ids['nothing']}"}


def test_last_summary_is_written_at_shutdown(make_client, ws_copy):
    client = make_client(auth_denial_summary_interval=3600)
    for _ in range(3):
        assert client.post(PREDICT, json={"rows": [good_row()]}).status_code == 401
    client.__exit__(None, None, None)
    events = ws_copy.audit.query(action="auth.denied")
    assert len(events) == 1 and events[0].details["count"] == 3
    assert [(r["reason"], r["count"]) for r in events[0].details["reasons"]] == [("missing bearer token", 3)]


def test_summary_memory_and_size_are_bounded():
    summary = DenialSummary()
    for i in range(MAX_TRACKED + 500):
        client, subject = f"10.0.{i // 256}.{i % 256}", f"token:{i:012x}"
        summary.add("unknown token", client, subject, "POST /x", limited=False, now=1.0 + i)
    assert len(summary.clients.counts) == MAX_TRACKED + 1  # the rest counted as "other"
    details = summary.details()
    assert details["count"] == MAX_TRACKED + 500
    assert len(details["clients"]) == TOP + 1
    assert sum(c["count"] for c in details["clients"]) == MAX_TRACKED + 500
    assert details["distinct_clients"] == MAX_TRACKED + 1


def test_budget_is_per_client_address():
    denials = PreAuthDenials("2/minute", strategy="fixed-window")
    assert [denials.refuse("a", "r", "anonymous", "t") for _ in range(2)] == [None, None]
    assert denials.refuse("a", "r", "anonymous", "t") is not None
    assert denials.refuse("b", "r", "anonymous", "t") is None
    drained = denials.drain()
    assert drained is not None and drained["count"] == 4 and drained["limited"] == 1
    assert denials.drain() is None
