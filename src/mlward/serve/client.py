"""A small client for the gateway: authenticated, optionally signed predictions with httpx."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from mlward.core.errors import AccessDenied, InputError, MlwardError, NotFound
from mlward.serve.signing import sign_request


@dataclass(frozen=True)
class PredictResult:
    """The gateway's answer."""

    model: str
    """Model name."""
    version: int
    """Version that answered."""
    predictions: list[Any]
    """One prediction per row."""
    probabilities: list[list[float]] | None
    """Class probabilities, for classifiers."""
    request_id: str
    """Id of the request's audit event."""
    model_digest: str
    """Root digest of the signed artifact that answered (``sha256:...``)."""
    raw: dict[str, Any]
    """The whole response body."""


def build_request(
    url: str, model: str, rows: Sequence[Any], token: str, signing_secret: str | None = None
) -> tuple[str, bytes, dict[str, str]]:
    """The URL, body and headers of a prediction request (signed when a secret is given)."""
    path = f"/v1/models/{model}/predict"
    body = json.dumps({"rows": list(rows)}, separators=(",", ":")).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if signing_secret:
        headers.update(sign_request(signing_secret, "POST", path, body))
    return url.rstrip("/") + path, body, headers


def predict(
    url: str,
    model: str,
    rows: Sequence[Any],
    token: str,
    signing_secret: str | None = None,
    *,
    timeout: float = 30.0,
    client: httpx.Client | None = None,
) -> PredictResult:
    """Ask the gateway at ``url`` for predictions; raises a ``MlwardError`` on a problem response."""
    target, body, headers = build_request(url, model, rows, token, signing_secret)
    try:
        if client is not None:
            response = client.post(target, content=body, headers=headers, timeout=timeout)
        else:
            with httpx.Client(timeout=timeout) as own:
                response = own.post(target, content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise MlwardError(f"cannot reach the gateway at {url}: {exc}") from exc
    if response.status_code != 200:
        raise _problem_error(response)
    data = response.json()
    return PredictResult(
        model=data["model"],
        version=data["version"],
        predictions=data["predictions"],
        probabilities=data.get("probabilities"),
        request_id=data["request_id"],
        model_digest=response.headers.get("x-mlward-model-digest", ""),
        raw=data,
    )


def _problem_error(response: httpx.Response) -> MlwardError:
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        detail = response.text[:200]
    message = f"gateway answered {response.status_code}: {detail}"
    if response.status_code in (401, 403):
        return AccessDenied(message)
    if response.status_code == 404:
        return NotFound(message)
    if response.status_code in (400, 413, 422):
        return InputError(message)
    return MlwardError(message)
