"""The OSV API client against replayed API answers (httpx.MockTransport, no network)."""

from __future__ import annotations

import json

import httpx
import pytest

from mlward.core.errors import ConfigError, exit_code
from mlward.supplychain.interface import PackageVersion, ServiceError
from mlward.supplychain.osv_api import OsvApiService


class ReplayOsv:
    """Answers querybatch and vulns requests the way api.osv.dev does, and records them."""

    def __init__(self, advisory) -> None:
        self.advisory = advisory
        self.batches: list[list[dict]] = []
        self.fetched: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path == "/v1/querybatch":
            queries = json.loads(request.content)["queries"]
            self.batches.append(queries)
            return httpx.Response(200, json={"results": [self._answer(q) for q in queries]})
        if request.method == "GET" and request.url.path.startswith("/v1/vulns/"):
            advisory_id = request.url.path.rsplit("/", 1)[1]
            self.fetched.append(advisory_id)
            return httpx.Response(200, json=self.advisory(advisory_id))
        return httpx.Response(404, json={"code": 5, "message": "Not Found"})

    def _answer(self, query: dict) -> dict:
        name, version = query["package"]["name"], query["version"]
        token = query.get("page_token")
        modified = "2024-01-01T00:00:00.000000Z"
        if name == "jinja2" and version == "2.10":
            # The real API pages long answers; the second page comes with the token.
            if token is None:
                return {
                    "vulns": [{"id": "GHSA-g3rq-g295-4j3m", "modified": modified}],
                    "next_page_token": "page-2",
                }
            assert token == "page-2"
            return {
                "vulns": [
                    {"id": "GHSA-h5c8-rqwp-cp95", "modified": modified},
                    {"id": "PYSEC-2021-66", "modified": modified},
                ]
            }
        if name == "pyyaml" and version == "5.3.1":
            return {"vulns": [{"id": "GHSA-8q59-q68h-6hv4", "modified": modified}]}
        return {}  # the API sends an empty object when nothing matches


def test_querybatch_pagination_and_fetch(advisory) -> None:
    replay = ReplayOsv(advisory)
    service = OsvApiService(client=httpx.Client(transport=httpx.MockTransport(replay)))
    packages = [
        PackageVersion("jinja2", "2.10"),
        PackageVersion("pyyaml", "5.3.1"),
        PackageVersion("requests", "2.32.3"),
    ]
    result = service.query(packages)
    found = {p.name: [v.id for v in vulns] for p, vulns in result.vulnerabilities.items()}
    assert found == {
        "jinja2": ["GHSA-g3rq-g295-4j3m", "GHSA-h5c8-rqwp-cp95", "PYSEC-2021-66"],
        "pyyaml": ["GHSA-8q59-q68h-6hv4"],
        "requests": [],
    }
    assert replay.batches[0] == [
        {"package": {"name": "jinja2", "ecosystem": "PyPI"}, "version": "2.10"},
        {"package": {"name": "pyyaml", "ecosystem": "PyPI"}, "version": "5.3.1"},
        {"package": {"name": "requests", "ecosystem": "PyPI"}, "version": "2.32.3"},
    ]
    assert replay.batches[1] == [
        {"package": {"name": "jinja2", "ecosystem": "PyPI"}, "version": "2.10", "page_token": "page-2"}
    ]
    assert sorted(replay.fetched) == [
        "GHSA-8q59-q68h-6hv4",
        "GHSA-g3rq-g295-4j3m",
        "GHSA-h5c8-rqwp-cp95",
        "PYSEC-2021-66",
    ]
    pyyaml = result.vulnerabilities[PackageVersion("pyyaml", "5.3.1")][0]
    assert pyyaml.fix_versions == ("5.4",) and pyyaml.ratings[0].score == 9.8


def _failing(handler) -> OsvApiService:
    return OsvApiService(client=httpx.Client(transport=httpx.MockTransport(handler)))


def test_network_failure_is_a_service_error_that_suggests_db() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno -3] Temporary failure in name resolution", request=request)

    with pytest.raises(ServiceError) as caught:
        _failing(refuse).query([PackageVersion("requests", "2.30.0")])
    assert "cannot reach the OSV API" in str(caught.value)
    assert "--db" in str(caught.value)
    assert exit_code(caught.value) == 3


def test_http_error_status_is_a_service_error() -> None:
    service = _failing(lambda request: httpx.Response(503, text="overloaded"))
    with pytest.raises(ServiceError, match="answered 503"):
        service.query([PackageVersion("requests", "2.30.0")])


def test_wrongly_shaped_answer_is_a_service_error() -> None:
    service = _failing(lambda request: httpx.Response(200, json={"results": []}))
    with pytest.raises(ServiceError, match="wrong shape"):
        service.query([PackageVersion("requests", "2.30.0")])


def test_record_with_another_id_is_refused(advisory) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/querybatch":
            return httpx.Response(200, json={"results": [{"vulns": [{"id": "GHSA-j8r2-6x86-q33q"}]}]})
        return httpx.Response(200, json=advisory("MLWARD-TEST-1"))

    with pytest.raises(ServiceError, match="malformed record for GHSA-j8r2-6x86-q33q"):
        _failing(handler).query([PackageVersion("requests", "2.30.0")])


@pytest.mark.parametrize(
    "url",
    ["http://osv.internal.example/v1", "http://10.0.0.5:8080", "ftp://127.0.0.1/osv", "file:///tmp/osv"],
)
def test_api_url_must_be_https_off_the_loopback(url, monkeypatch):
    # Advisories decide the gate: a plain-http mirror on the network could be answered by
    # anyone on the path, so only https (or http on 127.0.0.1) is accepted.
    with pytest.raises(ConfigError, match="must use https"):
        OsvApiService(url)
    monkeypatch.setenv("MLWARD_OSV_API_URL", url)
    with pytest.raises(ConfigError, match="must use https"):
        OsvApiService()


@pytest.mark.parametrize(
    "url", ["https://osv.internal.example/v1", "http://127.0.0.1:9999", "http://[::1]:9999"]
)
def test_https_and_loopback_http_mirrors_are_accepted(url):
    assert OsvApiService(url).base_url == url
