"""``create_app``: the FastAPI inference gateway of a workspace.

Routes: ``POST /v1/models/{name}/predict``, the management API under ``/v1``,
``/healthz`` (liveness), ``/readyz`` (every production model loaded and verified, and
the rate-limit store answering),
``/metrics`` (Prometheus, needs ``metrics:read``) and ``/openapi.json`` and ``/docs``
(request schemas of the served models included; for authenticated callers, for anyone or
not at all: ``serve.api_docs``). Bodies larger than ``serve.max_body_bytes`` are refused before they are read
(``Content-Length``) or while they stream in (counted), never buffered whole.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mlward import __version__
from mlward.inference.settings import load_settings
from mlward.serve import management, prediction
from mlward.serve.gateway import Gateway
from mlward.serve.problems import Problem, install_handlers, known_error_response, problem_response
from mlward.workspace import Workspace

WORKSPACE_ENV = "MLWARD_SERVE_WORKSPACE"
METRICS_PERMISSION = "metrics:read"


class BodyLimitMiddleware:
    """Refuse request bodies over ``limit`` bytes without reading them whole."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for key, value in scope["headers"]:
            if key == b"content-length":
                if not value.isdigit():  # bytes.isdigit: ASCII digits only
                    await problem_response(400, "bad Content-Length", kind="body-too-large")(
                        scope, receive, send
                    )
                    return
                # Compare digit counts first: int() of thousands of digits raises.
                digits = value.lstrip(b"0")
                if len(digits) > len(str(self.limit)) or int(value) > self.limit:
                    detail = f"request body exceeds {self.limit} bytes"
                    await problem_response(413, detail, kind="body-too-large")(scope, receive, send)
                    return
                break
        seen = 0
        limit = self.limit

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise Problem(413, f"request body exceeds {limit} bytes", kind="body-too-large")
            return message

        await self.app(scope, counted, send)


class FastPredictMiddleware:
    """Send ``POST /v1/models/{name}/predict`` straight to its handler.

    The prediction route is the hot path: this skips FastAPI's routing, dependency
    solving and exception middleware for it (the route stays declared, for the OpenAPI
    document and for anything this does not take). Errors become the same problem+json
    responses as everywhere else; unexpected ones go on to the server-error handler.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path: str = scope["path"]
            if path.startswith(_PREDICT_PREFIX) and path.endswith(_PREDICT_SUFFIX):
                name = path[len(_PREDICT_PREFIX) : -len(_PREDICT_SUFFIX)]
                if name and "/" not in name:
                    request = Request(scope, receive)
                    try:
                        response = await prediction.predict(name, request)
                    except Exception as exc:
                        known = known_error_response(exc, path)
                        if known is None:
                            raise
                        response = known
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


_PREDICT_PREFIX = "/v1/models/"
_PREDICT_SUFFIX = "/predict"


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, with the request schema of every model served right now."""
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    gateway: Gateway | None = getattr(app.state, "gateway", None)
    if gateway is None:
        return schema
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    refs = []
    for name, slot in sorted(gateway.manager.slots.items()):
        if slot.served is None:
            continue
        model_schema = slot.served.request.model_json_schema(ref_template="#/components/schemas/{model}")
        for key, value in model_schema.pop("$defs", {}).items():
            components[key] = value
        title = model_schema.get("title", name)
        components[title] = model_schema
        refs.append({"$ref": f"#/components/schemas/{title}"})
    if refs:
        operation = schema["paths"]["/v1/models/{name}/predict"]["post"]
        operation["requestBody"]["content"]["application/json"]["schema"] = {"anyOf": refs}
        for parameter in operation.get("parameters", []):
            if parameter.get("name") == "name" and parameter.get("in") == "path":
                served = sorted(n for n, s in gateway.manager.slots.items() if s.served is not None)
                parameter["schema"] = {"type": "string", "enum": served, "title": "Name"}
    return schema


def create_app(
    workspace_dir: Path | str | None = None,
    *,
    workspace: Workspace | None = None,
    overrides: Mapping[str, Any] | None = None,
    journal_dir: Path | None = None,
) -> FastAPI:
    """The gateway app for the workspace at ``workspace_dir`` (or an opened ``workspace``)."""
    owned = workspace is None
    ws = workspace or Workspace.open(workspace_dir or os.environ.get(WORKSPACE_ENV))
    settings = load_settings(ws.config.serve, overrides)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        gateway = Gateway(ws, settings, journal_dir=journal_dir)
        app.state.gateway = gateway
        await gateway.start()
        try:
            yield
        finally:
            await gateway.stop()
            if owned:
                ws.close()

    app = FastAPI(
        title="mlward inference gateway",
        version=__version__,
        description="Verified models behind authentication, RBAC, rate limits, validation, "
        "abuse detection and a tamper-evident audit of every prediction.",
        lifespan=lifespan,
        openapi_url=None,  # served below, behind the ``api_docs`` setting
        docs_url=None,
        redoc_url=None,
    )
    install_handlers(app)
    app.add_middleware(FastPredictMiddleware)
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)  # outermost: first to look
    app.include_router(prediction.router)
    app.include_router(management.router)

    @app.get("/healthz", tags=["health"], summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], summary="Readiness: every production model loaded and verified")
    async def readyz(request: Request) -> Response:
        gateway: Gateway = request.app.state.gateway
        manager = gateway.manager
        ready, states = manager.ready()
        if gateway.store_down_since is not None:
            return problem_response(
                503,
                "the rate-limit store is unavailable; predictions are refused until it answers",
                kind="not-ready",
                extra={"models": states, "limit_store": "unavailable"},
            )
        if ready:
            body: dict[str, Any] = {"status": "ready", "models": states}
            if manager.store_quarantined:
                # Still serving the verified models in memory, but the store needs restoring.
                body.update(status="degraded", store_quarantined=manager.store_quarantined)
            return JSONResponse(body)
        return problem_response(
            503,
            "not every production model is loaded and verified",
            kind="not-ready",
            extra={"models": states},
        )

    @app.get("/metrics", tags=["health"], summary="Prometheus metrics (needs metrics:read)")
    async def metrics(request: Request) -> Response:
        gateway: Gateway = request.app.state.gateway
        gateway.require(gateway.authenticate(request), METRICS_PERMISSION, "metrics")
        body, content_type = gateway.metrics.render()
        return Response(body, media_type=content_type)

    def docs_allowed(request: Request) -> None:
        if settings.api_docs == "off":
            raise Problem(404, "the API documentation is not served (serve.api_docs: off)", kind="not-found")
        if settings.api_docs == "auth":
            request.app.state.gateway.authenticate(request)

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(request: Request) -> Response:
        docs_allowed(request)
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> Response:
        docs_allowed(request)
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} - docs")

    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def create_app_from_env() -> FastAPI:
    """App factory for ``uvicorn --factory`` and worker processes (``MLWARD_SERVE_WORKSPACE``)."""
    return create_app(os.environ.get(WORKSPACE_ENV))
