"""The rate-limit store (Redis) goes away and comes back: fail closed, one alert, recovery.

A private ``redis-server`` on a free port (no persistence) is started, killed and started
again on the same port, under a gateway that keeps serving in between.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis
from serve_testlib import bearer, free_port, good_row

PREDICT = "/v1/models/credit-risk/predict"
REDIS_SERVER = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="needs redis-server")


class PrivateRedis:
    """A throwaway redis-server on ``port``."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert REDIS_SERVER is not None
        options = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(
            [REDIS_SERVER, *options],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        while True:
            try:
                if client.ping():
                    break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        client.close()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    yield server
    server.kill()


def _until(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_redis_outage_fails_closed_alerts_once_and_recovers(make_client, template, ws_copy, private_redis):
    client = make_client(rate_limit_storage=f"redis://127.0.0.1:{private_redis.port}/0")
    auth = bearer(template.tokens["predictor"])

    def predict():
        return client.post(PREDICT, json={"rows": [good_row()]}, headers=auth)

    assert predict().status_code == 200
    assert client.get("/readyz").status_code == 200

    private_redis.kill()
    # Readiness notices without any traffic (the store is probed every second).
    assert _until(lambda: client.get("/readyz").status_code == 503)
    ready = client.get("/readyz").json()
    assert ready["limit_store"] == "unavailable"
    refused = [predict() for _ in range(20)]
    for response in refused:
        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert int(response.headers["retry-after"]) >= 1
        assert response.json()["type"].endswith("/limits-unavailable")
    metrics = client.get("/metrics", headers=bearer(template.tokens["monitor"])).text
    assert "mlward_limit_store_up 0.0" in metrics

    private_redis.start()  # same port, empty
    assert _until(lambda: predict().status_code == 200)
    assert client.get("/readyz").status_code == 200
    time.sleep(0.3)
    events = ws_copy.audit.query(action="serve.limit_store")
    # One alert for the outage (not one per refused request), one event for the recovery.
    states = [(e.outcome, e.details["state"]) for e in events]
    assert states == [("alert", "unavailable"), ("ok", "recovered")]


def test_outage_during_a_request_is_503_not_500(make_client, template, private_redis):
    # Traffic finds the outage first (before the once-a-second probe): still a 503.
    client = make_client(rate_limit_storage=f"redis://127.0.0.1:{private_redis.port}/0")
    auth = bearer(template.tokens["predictor"])
    assert client.post(PREDICT, json={"rows": [good_row()]}, headers=auth).status_code == 200
    private_redis.kill()
    response = client.post(PREDICT, json={"rows": [good_row()]}, headers=auth)
    assert response.status_code == 503 and "retry-after" in response.headers
