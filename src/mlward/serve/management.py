"""The management API: models, promotion, lineage, tokens and the audit trail, behind RBAC.

Each route names the permission it needs (``model:read``, ``model:promote``, ``audit:read``,
``admin``); the registry and token services run on behalf of the caller, so their own
checks and audit events name the API principal. Every state-changing route (promotion,
token creation and revocation) takes a signed request, like ``predict``, when signing is
required (``SignedCaller``).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from mlward.access.tokens import create_token, list_tokens, parse_duration, revoke_token
from mlward.lineage.graph import ArtifactRef
from mlward.model.registry import get_model, list_models, promote_model
from mlward.serve.auth import Principal
from mlward.serve.gateway import Gateway
from mlward.serve.params import Count, IsoTime, Text, VersionNumber
from mlward.serve.prediction import valid_name
from mlward.serve.problems import Problem

router = APIRouter(prefix="/v1")


def _gateway(request: Request) -> Gateway:
    return request.app.state.gateway  # type: ignore[no-any-return]


def caller(request: Request) -> Principal:
    """The authenticated caller (401 problem otherwise)."""
    return _gateway(request).authenticate(request)


Caller = Annotated[Principal, Depends(caller)]


async def signed_caller(request: Request) -> Principal:
    """The authenticated caller of a state-changing route, its request signature checked.

    Signed like ``predict``: required when ``require_signed_requests`` is on, verified
    whenever present; a 401 problem (audited) otherwise.
    """
    gateway = _gateway(request)
    principal = gateway.authenticate(request)
    await gateway.check_signature(request, principal, await request.body())
    return principal


SignedCaller = Annotated[Principal, Depends(signed_caller)]


def _require(request: Request, principal: Principal, permission: str, target: str) -> Gateway:
    gateway = _gateway(request)
    gateway.require(principal, permission, target)
    return gateway


class PromoteBody(BaseModel):
    """Promotion request."""

    model_config = ConfigDict(extra="forbid")
    stage: Literal["staging", "production", "archived"]


class TokenBody(BaseModel):
    """Token creation request."""

    model_config = ConfigDict(extra="forbid")
    roles: list[Annotated[Text, Field(min_length=1, max_length=100)]] = Field(min_length=1, max_length=20)
    name: Text = Field(default="", max_length=200)
    owner: Text = Field(
        default="", max_length=200, description="Principal the token belongs to; its tokens share its limits"
    )
    expires: Text | None = Field(default=None, max_length=20, description="Lifetime such as 30d, 12h or 90m")


def _served_state(gateway: Gateway, name: str) -> dict[str, Any]:
    slot = gateway.manager.slots.get(name)
    if slot is None:
        return {"state": "not-served"}
    return {
        "state": slot.state,
        "version": slot.version,
        "reason": slot.reason or None,
        "schema": slot.served.spec.source if slot.served else None,
    }


def _summary(version: Any) -> dict[str, Any]:
    return {
        "version": version.version,
        "stage": version.stage,
        "framework": version.framework,
        "root_digest": version.root_digest,
        "registered_at": version.registered_at.isoformat(),
        "approved_by": version.approved_by,
        "datasets": version.datasets,
        "metrics": version.metrics,
    }


@router.get("/models", tags=["management"], summary="Registered models, their versions and what is served")
async def models(request: Request, principal: Caller) -> dict[str, Any]:
    """Every registered model (needs ``model:read``)."""
    gateway = _require(request, principal, "model:read", "models")
    versions = await asyncio.to_thread(list_models, gateway.workspace)
    grouped: dict[str, list[dict[str, Any]]] = {}
    for version in versions:
        grouped.setdefault(version.name, []).append(_summary(version))
    return {
        "models": [
            {"name": n, "served": _served_state(gateway, n), "versions": v} for n, v in grouped.items()
        ]
    }


@router.get("/models/{name}", tags=["management"], summary="One model's versions and serving state")
async def model(name: str, request: Request, principal: Caller) -> dict[str, Any]:
    """One model (needs ``model:read``)."""
    valid_name(name)
    gateway = _require(request, principal, "model:read", f"model:{name}")
    versions = [v for v in await asyncio.to_thread(list_models, gateway.workspace) if v.name == name]
    if not versions:
        raise Problem(404, f"no model named {name!r} in the registry", kind="model-not-found")
    slot = gateway.manager.slots.get(name)
    schema = slot.served.request.model_json_schema() if slot and slot.served else None
    return {
        "name": name,
        "served": _served_state(gateway, name),
        "request_schema": schema,
        "versions": [_summary(v) for v in versions],
    }


@router.post(
    "/models/{name}/versions/{version}/promote", tags=["management"], summary="Move a version to a stage"
)
async def promote(
    name: str, version: VersionNumber, body: PromoteBody, request: Request, principal: SignedCaller
) -> dict[str, Any]:
    """Promote (needs ``model:promote``); the gateway serves a new production version at once."""
    valid_name(name)
    gateway = _gateway(request)
    # promote_model authorizes (and audits a denial) itself: checked once, on behalf of the caller.
    as_caller = gateway.caller(principal)
    result = await asyncio.to_thread(
        lambda: promote_model(gateway.workspace, name, version, body.stage, principal=as_caller)
    )
    await asyncio.to_thread(gateway.manager.sync)
    return {
        "model": name,
        "version": result.version,
        "stage": result.stage,
        "approved_by": result.approved_by,
        "served": _served_state(gateway, name),
    }


@router.get("/models/{name}/lineage", tags=["management"], summary="Datasets and runs upstream of a model")
async def lineage(
    name: str, request: Request, principal: Caller, version: VersionNumber | None = None
) -> dict[str, Any]:
    """What trained the model (needs ``model:read``); default: the production version."""
    valid_name(name)
    gateway = _require(request, principal, "model:read", f"model:{name}")
    selector = str(version) if version is not None else "production"
    record = await asyncio.to_thread(get_model, gateway.workspace, name, selector)
    upstream = await asyncio.to_thread(
        gateway.workspace.lineage.upstream, ArtifactRef("model", name, str(record.version))
    )
    return {
        "model": name,
        "version": record.version,
        "root_digest": record.root_digest,
        "datasets": [r.__dict__ for r in upstream if r.kind == "dataset"],
        "upstream": [r.__dict__ for r in upstream],
    }


@router.get("/tokens", tags=["tokens"], summary="API tokens (never their secrets)")
async def tokens(request: Request, principal: Caller) -> dict[str, Any]:
    """List tokens (needs ``admin``)."""
    gateway = _gateway(request)
    found = await asyncio.to_thread(list_tokens, gateway.workspace, principal=gateway.caller(principal))
    return {"tokens": [t.to_dict() for t in found]}


@router.post("/tokens", tags=["tokens"], status_code=201, summary="Issue an API token (shown once)")
async def new_token(body: TokenBody, request: Request, principal: SignedCaller) -> dict[str, Any]:
    """Create a token (needs ``admin``); the response is the only copy of its secrets."""
    gateway = _gateway(request)
    expires = parse_duration(body.expires) if body.expires else None
    issued = await asyncio.to_thread(
        lambda: create_token(
            gateway.workspace,
            body.roles,
            name=body.name,
            owner=body.owner,
            expires_in=expires,
            principal=gateway.caller(principal),
        )
    )
    return {**issued.info.to_dict(), "token": issued.token, "signing_secret": issued.signing_secret}


@router.delete("/tokens/{token_id}", tags=["tokens"], summary="Revoke an API token")
async def delete_token(token_id: str, request: Request, principal: SignedCaller) -> dict[str, Any]:
    """Revoke (needs ``admin``); takes effect at once in this process."""
    gateway = _gateway(request)
    info = await asyncio.to_thread(
        revoke_token, gateway.workspace, token_id, principal=gateway.caller(principal)
    )
    gateway.auth.forget(info.id)
    return info.to_dict()


@router.get("/audit", tags=["audit"], summary="Query the audit trail")
async def audit(
    request: Request,
    principal: Caller,
    action: Annotated[Text | None, Query(max_length=200)] = None,
    actor: Annotated[Text | None, Query(max_length=200)] = None,
    target: Annotated[Text | None, Query(max_length=500)] = None,
    outcome: Annotated[Text | None, Query(max_length=40)] = None,
    since: IsoTime | None = None,
    limit: Annotated[Count, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Newest matching events, oldest first (needs ``audit:read``)."""
    gateway = _require(request, principal, "audit:read", "audit")
    events = await asyncio.to_thread(
        gateway.workspace.audit.query,
        action=action,
        actor=actor,
        target=target,
        outcome=outcome,
        since=since,
        limit=limit,
    )
    return {"events": [e.to_dict() for e in events]}


@router.get("/audit/verify", tags=["audit"], summary="Verify the audit hash chain")
async def audit_verify(request: Request, principal: Caller) -> dict[str, Any]:
    """Walk the chain (needs ``audit:read``)."""
    gateway = _require(request, principal, "audit:read", "audit")
    result = await asyncio.to_thread(gateway.workspace.audit.verify)
    return dict(result.__dict__)
