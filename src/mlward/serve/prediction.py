"""``POST /v1/models/{name}/predict``: every check, then the model, then the durable audit.

Order matters: the model name is validated first (no path tricks reach anything), then
the caller is authenticated and authorized, blocked principals and rate limits are
refused before the body is read, the signature is checked on the raw bytes, the body is
validated against the model's schema, its rows are counted against the row budget, the
guards look at the rows, the model runs, and
the response is sent only after its audit event is on disk.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import ValidationError

from mlward.audit.log import EventInput
from mlward.core.errors import ConfigError
from mlward.core.fastjson import dumps
from mlward.model.registry import check_model_name
from mlward.serve.abuse import AbuseSignal
from mlward.serve.auth import Principal
from mlward.serve.gateway import Gateway, new_request_id
from mlward.serve.hosting import READY, ServedModel
from mlward.serve.jsonio import FastJSONResponse
from mlward.serve.problems import Problem, validation_problem
from mlward.serve.schema import row_values

router = APIRouter()
THREAD_ROWS = 256
"""Batches at least this large run in a worker thread so the event loop stays responsive."""

PREDICT_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["rows"],
                "additionalProperties": False,
                "properties": {
                    "rows": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "anyOf": [{"type": "object"}, {"type": "array", "items": {"type": "number"}}]
                        },
                    }
                },
            }
        }
    },
}


def valid_name(name: str) -> str:
    """The model name, or a 400 problem (path traversal and odd names never go further)."""
    try:
        return check_model_name(name)
    except ConfigError as exc:
        raise Problem(400, exc.message, kind="invalid-model-name") from None


def input_digest(columns: list[str], values: Sequence[Sequence[Any]]) -> str:
    """SHA-256 of the canonical JSON of the validated rows (column names, then rows in order).

    Canonical: compact UTF-8 JSON of ``{"columns": [...], "rows": [[...], ...]}`` with values
    in feature order, so key order and spacing in the request do not change it.
    """
    return hashlib.sha256(dumps({"columns": columns, "rows": values})).hexdigest()


def _served(gateway: Gateway, name: str) -> ServedModel:
    slot = gateway.manager.slots.get(name)
    if slot is None:
        raise Problem(404, f"no production model named {name!r} is served", kind="model-not-found")
    if slot.state != READY or slot.served is None:
        raise Problem(
            503,
            f"model {name!r} is not available ({slot.state}: {slot.reason})",
            kind="model-unavailable",
            headers={"Retry-After": "30"},
        )
    return slot.served


def _apply_abuse_policy(
    gateway: Gateway, principal: Principal, served: ServedModel, signals: list[AbuseSignal], request_id: str
) -> str:
    name = served.version.name
    policy = served.options.abuse_policy or gateway.settings.abuse_policy
    for signal in signals:
        gateway.metrics.abuse.labels(model=name, kind=signal.kind).inc()
        gateway.journal.record_nowait(
            EventInput(
                principal.name,
                "serve.abuse",
                served.version.ref,
                "ok" if policy == "log" else "alert",
                {
                    "kind": signal.kind,
                    "detail": signal.detail,
                    "value": signal.value,
                    "policy": policy,
                    "request_id": request_id,
                },
            )
        )
    if signals and policy == "block":
        gateway.manager.abuse[name].block(principal.name, signals[0])
        gateway.deny(
            principal,
            "serve.blocked",
            served.version.ref,
            f"requests from {principal.name} are blocked: {signals[0].kind} ({signals[0].detail})",
            {"kind": signals[0].kind, "request_id": request_id},
        )
    return "flagged" if signals and policy == "flag" else "allowed"


@router.post(
    "/v1/models/{name}/predict",
    tags=["predict"],
    summary="Predict with a production model",
    openapi_extra={"requestBody": PREDICT_BODY},
    responses={
        401: {"description": "Unauthenticated"},
        403: {"description": "Forbidden"},
        404: {"description": "No such model"},
        413: {"description": "Body too large"},
        422: {"description": "Invalid input"},
        429: {"description": "Rate limited"},
        503: {"description": "Model unavailable, or the rate-limit store is"},
    },
)
async def predict(name: str, request: Request) -> Response:
    """Validate, guard, predict and audit one batch of rows."""
    started = time.perf_counter()
    gateway: Gateway = request.app.state.gateway
    request_id = new_request_id()
    valid_name(name)
    principal = gateway.authenticate(request)
    gateway.require(principal, f"predict:{name}", f"model:{name}")
    served = _served(gateway, name)
    monitor = gateway.manager.abuse[name]
    blocked = monitor.blocked(principal.name)
    if blocked is not None:
        gateway.deny(
            principal,
            "serve.blocked",
            served.version.ref,
            f"requests from {principal.name} are blocked: {blocked.kind}",
            {"kind": blocked.kind},
        )
    await gateway.check_limits(principal, name)
    body = await request.body()
    await gateway.check_signature(request, principal, body)
    try:
        payload = served.request.model_validate_json(body)
    except ValidationError as exc:
        gateway.metrics.requests_for(name, "422").inc()
        return validation_problem(list(exc.errors(include_input=False)), request.url.path)
    rows = payload.rows  # type: ignore[attr-defined]
    await gateway.check_limits(principal, name, len(rows))
    values = row_values(served.spec, rows)
    predictor = served.predictor
    numeric = predictor.numeric(values)
    signals = monitor.observe(principal.name, numeric, values)
    decision_text = (
        _apply_abuse_policy(gateway, principal, served, signals, request_id) if signals else "allowed"
    )
    inputs = predictor.inputs(values, numeric)
    try:
        if len(values) >= THREAD_ROWS:
            prediction = await run_in_threadpool(predictor.predict, inputs)
        else:
            prediction = predictor.predict(inputs)
    except (ValueError, TypeError) as exc:  # the estimator refused these values
        gateway.metrics.requests_for(name, "422").inc()
        raise Problem(422, f"the model rejected the input: {str(exc)[:200]}", kind="invalid-input") from None
    drift = gateway.manager.monitors[name].observe(prediction.monitored, prediction.confidence)
    if drift is not None:
        _record_drift(gateway, served, drift)
    version = served.version
    details: dict[str, Any] = {
        "request_id": request_id,
        "event_id": request_id,
        "model": name,
        "version": version.version,
        "root_digest": version.root_digest,
        "input_digest": input_digest(predictor.columns, values),
        "rows": len(values),
        "output": prediction.labels,
        "decision": decision_text,
    }
    if served.log_inputs:
        details["inputs"] = values
    latency = time.perf_counter() - started
    details["latency_ms"] = round(latency * 1000, 3)
    await gateway.journal.record(EventInput(principal.name, "serve.predict", version.ref, "ok", details))
    gateway.metrics.requests_for(name, "200").inc()
    gateway.metrics.latency_for(name).observe(time.perf_counter() - started)
    content: dict[str, Any] = {
        "model": name,
        "version": version.version,
        "request_id": request_id,
        "predictions": prediction.labels,
    }
    if prediction.probabilities is not None and predictor.classes is not None:
        content["classes"] = predictor.classes.tolist()
        content["probabilities"] = prediction.probabilities
    return FastJSONResponse(
        content,
        headers={
            "X-Request-ID": request_id,
            "X-Mlward-Model-Digest": f"sha256:{version.root_digest}",
            "X-Mlward-Decision": decision_text,
        },
    )


def _record_drift(gateway: Gateway, served: ServedModel, drift: Any) -> None:
    name = served.version.name
    gateway.metrics.child(gateway.metrics.drift, name).set(drift.psi)
    if drift.confidence is not None and np.isfinite(drift.confidence):
        gateway.metrics.child(gateway.metrics.confidence, name).set(drift.confidence)
    if drift.changed:
        gateway.alert(
            "serve.drift",
            served.version.ref,
            "alert" if drift.alarm else "ok",
            {
                "psi": round(drift.psi, 4),
                "threshold": gateway.settings.guards.drift_threshold,
                "state": "drifting" if drift.alarm else "recovered",
            },
        )
