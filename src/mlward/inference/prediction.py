"""``predict``: one batch of rows through a hosting slot, the same for every door.

Validation against the model's request schema, the guards (abuse signals, then the
model's policy: log, flag or block), the model call, the output monitor and the audit
events, in that order. The gateway, ``mlward predict --local`` and Python callers all
call it; what differs is only who the principal is and where the audit events go (the
gateway's durable journal, or the workspace's chain). HTTP concerns (authentication,
rate limits, signatures, status codes) stay in the door.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import ValidationError

from mlward.audit.journal import new_event_id
from mlward.audit.log import AuditLog, EventInput
from mlward.core.errors import AccessDenied, InputError
from mlward.core.fastjson import dumps
from mlward.inference.abuse import AbuseSignal
from mlward.inference.hosting import ServedModel
from mlward.inference.monitor import DriftUpdate
from mlward.inference.predictor import Prediction
from mlward.inference.schema import row_values


class AuditSink(Protocol):
    """Where prediction events go: ``AuditJournal`` (gateway) or ``ChainAudit`` (local)."""

    def record_nowait(self, event: EventInput) -> None:
        """Record ``event`` (alerts, denials: without waiting for the disk where that is slower)."""


class ChainAudit:
    """An ``AuditSink`` that appends straight to the workspace's hash chain (durable on return)."""

    def __init__(self, log: AuditLog) -> None:
        self.log = log

    def record_nowait(self, event: EventInput) -> None:
        """Append ``event`` to the chain."""
        self.log.append(event.actor, event.action, event.target, event.outcome, event.details)


class InvalidRows(InputError):
    """The rows do not match the model's request schema; ``errors`` names each field."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        first = errors[0] if errors else {}
        where = ".".join(str(p) for p in first.get("loc", ())) or "(rows)"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"invalid input at {where}: {first.get('msg', 'invalid')}{more}")


class ModelRejected(InputError):
    """The estimator refused the (schema-valid) values."""


class GuardBlocked(AccessDenied):
    """The principal is blocked by the model's guards (``abuse_policy: block``)."""

    def __init__(self, message: str, signal: AbuseSignal, signals: tuple[AbuseSignal, ...] = ()) -> None:
        super().__init__(message)
        self.signal = signal
        self.signals = signals
        """The signals this request raised (none when the principal was blocked already)."""


@dataclass(frozen=True, slots=True)
class ValidRows:
    """Rows checked against a model's request schema, in feature order."""

    values: list[Sequence[Any]]
    """One value sequence per row, in the model's feature order."""


@dataclass(frozen=True, slots=True)
class PredictionResult:
    """What ``predict`` answers: the predictions and what the guards and monitor saw."""

    model: str
    """The model's name."""
    version: int
    """The registry version that answered."""
    root_digest: str
    """SHA-256 root digest of the signed artifact that answered."""
    request_id: str
    """The id of this prediction (its audit event's ``event_id``)."""
    predictions: list[Any]
    """One prediction per row, JSON-ready."""
    classes: list[Any] | None
    """Class labels of ``probabilities`` (classifiers with ``predict_proba``)."""
    probabilities: list[list[float]] | None
    """Class probabilities per row."""
    decision: str
    """``allowed`` or ``flagged`` (a guard signal under the ``flag`` policy)."""
    signals: tuple[AbuseSignal, ...]
    """Guard signals this request raised."""
    drift: DriftUpdate | None
    """The output monitor's update, when this request closed a monitoring window."""
    event: EventInput
    """The ``serve.predict`` audit event."""


def input_digest(columns: list[str], values: Sequence[Sequence[Any]]) -> str:
    """SHA-256 of the canonical JSON of the validated rows (column names, then rows in order).

    Canonical: compact UTF-8 JSON of ``{"columns": [...], "rows": [[...], ...]}`` with values
    in feature order, so key order and spacing in the request do not change it.
    """
    return hashlib.sha256(dumps({"columns": columns, "rows": values})).hexdigest()


def validate_rows(served: ServedModel, rows: Sequence[Any] | bytes) -> ValidRows:
    """``rows`` (Python rows, or the JSON bytes of ``{"rows": [...]}``) checked by the schema.

    Raises ``InvalidRows`` naming each invalid field (the values are not echoed).
    """
    try:
        if isinstance(rows, bytes | bytearray):
            payload = served.request.model_validate_json(rows)
        else:
            payload = served.request.model_validate({"rows": list(rows)})
    except ValidationError as exc:
        raise InvalidRows(list(exc.errors(include_input=False))) from None  # type: ignore[arg-type]
    return ValidRows(row_values(served.spec, payload.rows))  # type: ignore[attr-defined]


def check_blocked(principal: str, served: ServedModel, audit: AuditSink) -> None:
    """Raise ``GuardBlocked`` (audited) while the guards block ``principal`` on this model."""
    blocked = served.guards.blocked(principal)
    if blocked is not None:
        _deny(principal, served, audit, f"requests from {principal} are blocked: {blocked.kind}", blocked, {})


@dataclass(frozen=True, slots=True)
class GuardedRows:
    """Valid rows the guards let through, ready for the model (``guard`` to ``call_model``)."""

    values: list[Sequence[Any]]
    """The rows, in feature order."""
    inputs: Any
    """What the estimator takes (array or frame)."""
    signals: tuple[AbuseSignal, ...]
    """Guard signals the rows raised."""
    decision: str
    """``allowed`` or ``flagged``."""
    request_id: str
    """The id of this prediction."""


def predict(
    principal: str,
    served: ServedModel,
    rows: ValidRows | Sequence[Any] | bytes,
    *,
    audit: AuditSink,
    actor: str,
    request_id: str | None = None,
) -> PredictionResult:
    """Validate, guard, predict, monitor and audit one batch of ``rows`` for ``principal``.

    ``audit`` receives the guard and drift events, then the ``serve.predict`` event;
    ``actor`` is who server-caused events (drift) are attributed to. Raises
    ``InvalidRows``, ``ModelRejected`` (both ``InputError``) or ``GuardBlocked``
    (``AccessDenied``, audited). The gateway runs the same three steps (``guard``,
    ``call_model``, ``conclude``) with the model in a worker thread for large batches and
    the ``serve.predict`` event made durable before it answers.
    """
    started = time.perf_counter()
    guarded = guard(principal, served, rows, audit=audit, request_id=request_id)
    result = conclude(
        principal, served, guarded, call_model(served, guarded), audit=audit, actor=actor, started=started
    )
    audit.record_nowait(result.event)
    return result


def guard(
    principal: str,
    served: ServedModel,
    rows: ValidRows | Sequence[Any] | bytes,
    *,
    audit: AuditSink,
    request_id: str | None = None,
) -> GuardedRows:
    """Check the block list, validate ``rows`` and let the guards see them (policy applied)."""
    request_id = request_id or new_event_id()
    check_blocked(principal, served, audit)
    values = (rows if isinstance(rows, ValidRows) else validate_rows(served, rows)).values
    predictor = served.predictor
    numeric = predictor.numeric(values)
    signals = served.guards.observe(principal, numeric, values)
    decision = _apply_policy(principal, served, signals, audit, request_id) if signals else "allowed"
    return GuardedRows(values, predictor.inputs(values, numeric), tuple(signals), decision, request_id)


def call_model(served: ServedModel, guarded: GuardedRows) -> Prediction:
    """The model's answer to the guarded rows; ``ModelRejected`` when it refuses the values."""
    try:
        return served.predictor.predict(guarded.inputs)
    except (ValueError, TypeError) as exc:  # the estimator refused these values
        raise ModelRejected(f"the model rejected the input: {str(exc)[:200]}") from None


def conclude(
    principal: str,
    served: ServedModel,
    guarded: GuardedRows,
    prediction: Prediction,
    *,
    audit: AuditSink,
    actor: str,
    started: float,
) -> PredictionResult:
    """Monitor the outputs (drift alert audited) and build the result with its ``serve.predict`` event.

    The event is not recorded here: ``predict`` records it, the gateway waits for it durably.
    """
    drift = served.monitor.observe(prediction.monitored, prediction.confidence)
    if drift is not None and drift.changed:
        audit.record_nowait(
            EventInput(
                actor,
                "serve.drift",
                served.version.ref,
                "alert" if drift.alarm else "ok",
                {
                    "psi": round(drift.psi, 4),
                    "threshold": served.monitor.threshold,
                    "state": "drifting" if drift.alarm else "recovered",
                },
            )
        )
    version = served.version
    predictor = served.predictor
    values = guarded.values
    details: dict[str, Any] = {
        "request_id": guarded.request_id,
        "event_id": guarded.request_id,
        "model": version.name,
        "version": version.version,
        "root_digest": version.root_digest,
        "input_digest": input_digest(predictor.columns, values),
        "rows": len(values),
        "output": prediction.labels,
        "decision": guarded.decision,
    }
    if served.log_inputs:
        details["inputs"] = values
    details["latency_ms"] = round((time.perf_counter() - started) * 1000, 3)
    probabilities = prediction.probabilities if predictor.classes is not None else None
    return PredictionResult(
        model=version.name,
        version=version.version,
        root_digest=version.root_digest,
        request_id=guarded.request_id,
        predictions=prediction.labels,
        classes=predictor.classes.tolist()
        if probabilities is not None and predictor.classes is not None
        else None,
        probabilities=probabilities,
        decision=guarded.decision,
        signals=guarded.signals,
        drift=drift,
        event=EventInput(principal, "serve.predict", version.ref, "ok", details),
    )


def _apply_policy(
    principal: str, served: ServedModel, signals: list[AbuseSignal], audit: AuditSink, request_id: str
) -> str:
    policy = served.policy
    for signal in signals:
        audit.record_nowait(
            EventInput(
                principal,
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
    if policy == "block":
        first = signals[0]
        served.guards.block(principal, first)
        reason = f"requests from {principal} are blocked: {first.kind} ({first.detail})"
        _deny(principal, served, audit, reason, first, {"request_id": request_id}, tuple(signals))
    return "flagged" if policy == "flag" else "allowed"


def _deny(
    principal: str,
    served: ServedModel,
    audit: AuditSink,
    reason: str,
    signal: AbuseSignal,
    details: dict[str, Any],
    signals: tuple[AbuseSignal, ...] = (),
) -> None:
    audit.record_nowait(
        EventInput(
            principal,
            "serve.blocked",
            served.version.ref,
            "denied",
            {"reason": reason, "kind": signal.kind, **details},
        )
    )
    raise GuardBlocked(reason, signal, signals)
