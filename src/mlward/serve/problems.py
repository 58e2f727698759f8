"""RFC 9457 problem details: every error the gateway returns is ``application/problem+json``.

Handlers turn framework errors (404, 405, request validation), mlward errors and anything
unexpected into a problem body with ``type``, ``title``, ``status`` and ``detail``. An
unexpected exception becomes a 500 whose body says nothing about the internals; the
traceback goes to the server log only.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from mlward.core.errors import (
    AccessDenied,
    ConfigError,
    InputError,
    IntegrityError,
    MlwardError,
    NotFound,
    PolicyViolation,
)

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://mlward.dev/problems/"
log = logging.getLogger("mlward.serve")

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


class Problem(StarletteHTTPException):
    """An error to answer with a problem+json body (an ``HTTPException``, so frameworks re-raise it)."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        kind: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(status, detail, headers)
        self.status = status
        self.detail = detail
        self.kind = kind or _TITLES.get(status, "error").lower().replace(" ", "-")
        self.headers = headers or {}
        self.extra = extra or {}


def problem_response(
    status: int,
    detail: str,
    *,
    kind: str | None = None,
    instance: str | None = None,
    headers: Mapping[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    """A ``Response`` carrying an RFC 9457 problem body."""
    body: dict[str, Any] = {
        "type": TYPE_BASE + (kind or _TITLES.get(status, "error").lower().replace(" ", "-")),
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extra or {})
    return Response(
        json.dumps(body, default=str).encode(), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


def status_of(error: MlwardError) -> int:
    """The HTTP status for a mlward error."""
    if isinstance(error, AccessDenied):
        return 403
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, ConfigError | InputError):
        return 400
    if isinstance(error, PolicyViolation):
        return 409
    if isinstance(error, IntegrityError):
        return 503
    return 500


def _field_path(loc: tuple[Any, ...]) -> str:
    # Drop the leading "body" FastAPI adds; keep indices so a batch error names its row.
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or "(body)"


def validation_problem(errors: Sequence[Mapping[str, Any]], instance: str | None = None) -> Response:
    """A 422 problem naming each invalid field (the offending values are not echoed)."""
    fields = [
        {"field": _field_path(tuple(e.get("loc", ()))), "problem": e.get("msg", "invalid")}
        for e in errors[:20]
    ]
    first = fields[0] if fields else {"field": "(body)", "problem": "invalid"}
    return problem_response(
        422,
        f"{first['field']}: {first['problem']}",
        kind="invalid-input",
        instance=instance,
        extra={"errors": fields},
    )


def known_error_response(exc: Exception, path: str) -> Response | None:
    """The problem response for an error the gateway expects; None for anything else."""
    if isinstance(exc, Problem):
        return problem_response(
            exc.status, exc.detail, kind=exc.kind, instance=path, headers=exc.headers, extra=exc.extra
        )
    if isinstance(exc, StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else _TITLES.get(exc.status_code, "error")
        return problem_response(exc.status_code, detail, instance=path, headers=dict(exc.headers or {}))
    if isinstance(exc, RequestValidationError):
        return validation_problem(list(exc.errors()), path)
    if isinstance(exc, MlwardError):
        status = status_of(exc)
        if status >= 500:
            log.error("request %s failed: %s", path, exc.message)
            return problem_response(status, "the server could not complete the request", instance=path)
        return problem_response(status, exc.message, instance=path)
    return None


def install_handlers(app: FastAPI) -> None:
    """Make every error response of ``app`` a problem+json body."""

    async def _known(request: Request, exc: Exception) -> Response:
        response = known_error_response(exc, request.url.path)
        assert response is not None
        return response

    for kind in (Problem, StarletteHTTPException, RequestValidationError, MlwardError):
        app.add_exception_handler(kind, _known)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s", request.url.path)
        return problem_response(500, "the server could not complete the request", instance=request.url.path)
