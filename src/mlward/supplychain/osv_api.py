"""Online vulnerability service over the OSV API (``https://api.osv.dev``).

``POST /v1/querybatch`` matches up to 1000 package versions per request server-side but
returns only advisory ids (paginated per query with ``next_page_token``); each distinct
id is then fetched with ``GET /v1/vulns/{id}`` for its ranges, ratings and aliases.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from mlward.core.errors import ConfigError
from mlward.supplychain.interface import (
    ECOSYSTEM,
    PackageVersion,
    QueryResult,
    ServiceError,
    Vulnerability,
    VulnerabilityService,
)
from mlward.supplychain.osv import vulnerability_for

DEFAULT_BASE_URL = "https://api.osv.dev"
BATCH_SIZE = 1000
"""The API's limit on queries per querybatch request."""
MAX_PAGES = 100
"""Stop following ``next_page_token`` after this many pages (a misbehaving server)."""
_OFFLINE_HINT = "for an offline audit pass --db with a downloaded OSV PyPI all.zip"


class OsvApiService(VulnerabilityService):
    """Asks the OSV API which advisories affect each package version."""

    name = "osv-api"

    def __init__(
        self,
        base_url: str | None = None,
        *,
        client: httpx.Client | None = None,
        timeout: float = 30.0,
        max_workers: int = 8,
    ) -> None:
        """Use ``client`` when given (tests pass one with a MockTransport), else a new one."""
        # MLWARD_OSV_API_URL points at a mirror of the OSV API (an internal proxy, or a local
        # server in tests); plain http is accepted only on the loopback interface.
        chosen = base_url or os.environ.get("MLWARD_OSV_API_URL") or DEFAULT_BASE_URL
        parsed = urlsplit(chosen)
        if parsed.scheme != "https" and not (
            parsed.scheme == "http" and parsed.hostname in ("127.0.0.1", "localhost", "::1")
        ):
            raise ConfigError(
                f"OSV API URL {chosen!r} must use https (plain http only on 127.0.0.1)",
                hint="set MLWARD_OSV_API_URL to an https:// URL",
            )
        self.base_url = chosen.rstrip("/")
        self._client = client or httpx.Client(timeout=timeout, follow_redirects=False)
        self._max_workers = max_workers

    def describe(self) -> str:
        """Name the API endpoint."""
        return f"{self.name} {self.base_url}"

    def _request(self, method: str, path: str, body: Any = None) -> Any:
        url = f"{self.base_url}{path}"
        try:
            response = self._client.request(method, url, json=body)
        except httpx.HTTPError as exc:
            raise ServiceError(
                f"cannot reach the OSV API at {self.base_url}: {exc}", hint=_OFFLINE_HINT
            ) from None
        if response.status_code != 200:
            raise ServiceError(
                f"the OSV API answered {response.status_code} to {method} {path}",
                hint=_OFFLINE_HINT,
            )
        try:
            return response.json()
        except ValueError:
            raise ServiceError(f"the OSV API sent invalid JSON for {method} {path}") from None

    def _matched_ids(self, packages: Sequence[PackageVersion]) -> dict[PackageVersion, list[str]]:
        """Run querybatch over ``packages`` (one batch), following every page token."""
        ids: dict[PackageVersion, list[str]] = defaultdict(list)
        pending: list[tuple[PackageVersion, str | None]] = [(p, None) for p in packages]
        for _ in range(MAX_PAGES):
            if not pending:
                return ids
            queries = []
            for package, token in pending:
                query: dict[str, Any] = {
                    "package": {"name": package.name, "ecosystem": ECOSYSTEM},
                    "version": package.version,
                }
                if token:
                    query["page_token"] = token
                queries.append(query)
            data = self._request("POST", "/v1/querybatch", {"queries": queries})
            results = data.get("results") if isinstance(data, dict) else None
            if not isinstance(results, list) or len(results) != len(pending):
                raise ServiceError("the OSV API sent a querybatch answer of the wrong shape")
            next_pending: list[tuple[PackageVersion, str | None]] = []
            for (package, _), result in zip(pending, results, strict=True):
                for vuln in (result or {}).get("vulns") or []:
                    if isinstance(vuln, dict) and isinstance(vuln.get("id"), str):
                        ids[package].append(vuln["id"])
                token = (result or {}).get("next_page_token")
                if token:
                    next_pending.append((package, str(token)))
            pending = next_pending
        raise ServiceError(f"the OSV API kept paginating past {MAX_PAGES} pages")

    def fetch(self, advisory_id: str) -> dict[str, Any]:
        """Return the full OSV record of one advisory."""
        record = self._request("GET", f"/v1/vulns/{quote(advisory_id, safe='')}")
        if not isinstance(record, dict) or record.get("id") != advisory_id:
            raise ServiceError(f"the OSV API sent a malformed record for {advisory_id}")
        return record

    def query(self, packages: Sequence[PackageVersion]) -> QueryResult:
        """Match ``packages`` with querybatch, then fetch each distinct advisory."""
        ids: dict[PackageVersion, list[str]] = {}
        for start in range(0, len(packages), BATCH_SIZE):
            ids.update(self._matched_ids(packages[start : start + BATCH_SIZE]))
        distinct = sorted({i for found in ids.values() for i in found})
        with ThreadPoolExecutor(max_workers=self._max_workers) as pool:
            records = dict(zip(distinct, pool.map(self.fetch, distinct), strict=True))
        warnings: list[str] = []
        result: dict[PackageVersion, tuple[Vulnerability, ...]] = {}
        for package in packages:
            matches = []
            for advisory_id in dict.fromkeys(ids.get(package, [])):
                # The server already matched the version; the record supplies the rest.
                vuln = vulnerability_for(
                    records[advisory_id],
                    package.name,
                    package.version,
                    warnings,
                    assume_affected=True,
                )
                if vuln is not None:
                    matches.append(vuln)
            result[package] = tuple(matches)
        return QueryResult(vulnerabilities=result, warnings=tuple(dict.fromkeys(warnings)))

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()
