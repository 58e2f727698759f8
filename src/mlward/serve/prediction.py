"""``POST /v1/models/{name}/predict``: the HTTP checks, then ``mlward.inference``, then the durable audit.

Order matters: the model name is validated first (no path tricks reach anything), then
the caller is authenticated and authorized, blocked principals and rate limits are
refused before the body is read, the signature is checked on the raw bytes, the body is
validated against the model's schema, its rows are counted against the row budget, and
the prediction domain (``inference.prediction``: guards, model, output monitor) runs;
the response is sent only after its audit event is on disk.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from mlward.core.errors import ConfigError
from mlward.inference.abuse import AbuseSignal
from mlward.inference.hosting import READY, ServedModel
from mlward.inference.monitor import DriftUpdate
from mlward.inference.prediction import (
    GuardBlocked,
    InvalidRows,
    ModelRejected,
    call_model,
    check_blocked,
    conclude,
    guard,
    validate_rows,
)
from mlward.model.registry import check_model_name
from mlward.serve.gateway import Gateway, new_request_id
from mlward.serve.jsonio import FastJSONResponse
from mlward.serve.problems import Problem, validation_problem

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
    """Authenticate, limit and verify the request, then ``inference.predict`` it."""
    started = time.perf_counter()
    gateway: Gateway = request.app.state.gateway
    request_id = new_request_id()
    valid_name(name)
    principal = gateway.authenticate(request)
    gateway.require(principal, f"predict:{name}", f"model:{name}")
    served = _served(gateway, name)
    try:
        check_blocked(principal.name, served, gateway.journal)
        await gateway.check_limits(principal, name)
        body = await request.body()
        await gateway.check_signature(request, principal, body)
        try:
            rows = validate_rows(served, body)
        except InvalidRows as exc:
            gateway.metrics.requests_for(name, "422").inc()
            return validation_problem(exc.errors, request.url.path)
        await gateway.check_limits(principal, name, len(rows.values))
        guarded = guard(principal.name, served, rows, audit=gateway.journal, request_id=request_id)
        if len(guarded.values) >= THREAD_ROWS:
            prediction = await run_in_threadpool(call_model, served, guarded)
        else:
            prediction = call_model(served, guarded)
    except GuardBlocked as exc:
        _abuse_metrics(gateway, name, exc.signals)
        gateway.metrics.denials.labels(reason="serve").inc()
        raise Problem(403, exc.message, kind="forbidden") from None
    except ModelRejected as exc:
        gateway.metrics.requests_for(name, "422").inc()
        raise Problem(422, exc.message, kind="invalid-input") from None
    result = conclude(
        principal.name,
        served,
        guarded,
        prediction,
        audit=gateway.journal,
        actor=gateway.manager_actor,
        started=started,
    )
    if result.signals:
        _abuse_metrics(gateway, name, result.signals)
    if result.drift is not None:
        _drift_metrics(gateway, name, result.drift)
    await gateway.journal.record(result.event)
    gateway.metrics.requests_for(name, "200").inc()
    gateway.metrics.latency_for(name).observe(time.perf_counter() - started)
    content: dict[str, Any] = {
        "model": name,
        "version": result.version,
        "request_id": request_id,
        "predictions": result.predictions,
    }
    if result.probabilities is not None:
        content["classes"] = result.classes
        content["probabilities"] = result.probabilities
    return FastJSONResponse(
        content,
        headers={
            "X-Request-ID": request_id,
            "X-Mlward-Model-Digest": f"sha256:{result.root_digest}",
            "X-Mlward-Decision": result.decision,
        },
    )


def _abuse_metrics(gateway: Gateway, name: str, signals: tuple[AbuseSignal, ...]) -> None:
    for signal in signals:
        gateway.metrics.abuse.labels(model=name, kind=signal.kind).inc()


def _drift_metrics(gateway: Gateway, name: str, drift: DriftUpdate) -> None:
    gateway.metrics.child(gateway.metrics.drift, name).set(drift.psi)
    if drift.confidence is not None and np.isfinite(drift.confidence):
        gateway.metrics.child(gateway.metrics.confidence, name).set(drift.confidence)
