"""The gateway's parts wired together, and the checks every route shares.

One ``Gateway`` per app: settings, metrics, the authenticator, rate limits, the nonce
store, the audit journal and the model manager, plus the background loops that poll the
registry, re-check integrity and refresh models. Denials of authenticated principals are
audited one by one through the journal without waiting for the disk; failed
authentications are limited per client address and audited as periodic summaries
(``denials``), so a flood of bad requests costs no more than it must.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import Request

from mlward.audit.log import EventInput
from mlward.core.workspace import Workspace
from mlward.serve.auth import Authenticator, AuthFailure, Principal
from mlward.serve.denials import PreAuthDenials
from mlward.serve.hosting import ModelManager
from mlward.serve.journal import AuditJournal, new_event_id
from mlward.serve.metrics import Metrics
from mlward.serve.problems import Problem
from mlward.serve.ratelimit import RateDecision, RateLimits
from mlward.serve.recovery import ReplayResult
from mlward.serve.settings import ServeSettings, StoreUnavailable
from mlward.serve.signing import NonceStore, verify_signature
from mlward.serve.tokens import derive_signing_secret, signing_key

log = logging.getLogger("mlward.serve")
RATE_AUDIT_WINDOW = 10.0
STORE_RETRY_AFTER = 5
"""``Retry-After`` of the 503 while the shared limit store is away (it is probed every second)."""
SWITCH_INTERVAL = 0.0005
BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="mlward"'}


class Gateway:
    """Everything one gateway process needs to answer requests."""

    def __init__(
        self, workspace: Workspace, settings: ServeSettings, *, journal_dir: Path | None = None
    ) -> None:
        from mlward.serve.signing import nonce_store_for

        self.workspace = workspace
        self.settings = settings
        self.metrics = Metrics()
        self.auth = Authenticator(workspace, jwt=settings.jwt, cache_seconds=settings.token_cache_seconds)
        self.limits = RateLimits(
            settings.rate_limit_storage,
            strategy=settings.rate_limit_strategy,
            principal_limit=settings.rate_limit,
            model_limit=settings.model_rate_limit,
            model_limits={n: m.rate_limit for n, m in settings.models.items() if m.rate_limit},
            rows_limit=settings.rows_rate_limit,
            model_rows_limits={
                n: m.rows_rate_limit for n, m in settings.models.items() if m.rows_rate_limit is not None
            },
            prefix=settings.rate_limit_prefix,
        )
        self.preauth = PreAuthDenials(
            settings.unauthenticated_rate_limit, strategy=settings.rate_limit_strategy
        )
        self.nonces: NonceStore = nonce_store_for(settings.rate_limit_storage, settings.rate_limit_prefix)
        self.journal = AuditJournal(
            journal_dir or workspace.state_dir / "serve" / "journal",
            workspace.audit,
            flush_interval=settings.journal_flush_interval,
            shipper=settings.audit_shipper,
            workspace_root=workspace.root,
            durability=settings.audit_durability,
            sync_interval=settings.journal_sync_interval,
        )
        self.manager = ModelManager(workspace, settings, self.metrics, self.alert)
        self._signing_key = signing_key(workspace)
        self._signing_secrets: dict[str, str] = {}
        self._rate_audited: dict[tuple[str, str, str], float] = {}
        self.store_down_since: float | None = None
        """When the shared limit store (Redis) stopped answering (monotonic); None while it answers."""
        self._tasks: list[asyncio.Task[None]] = []
        self.replay: ReplayResult | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Recover the journal, load the production models, start the background loops."""
        if self.settings.audit_shipper == "thread":
            # A short switch interval keeps the flusher thread's chain appends from stalling
            # the event loop for up to 5 ms at a time (a shipper process needs none).
            sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
        self.replay = await asyncio.to_thread(self.journal.start)
        if self.replay.files:
            log.warning(
                "recovered %d audit journal(s): %d events chained, %d already present",
                self.replay.files,
                self.replay.replayed,
                self.replay.already_present,
            )
        await asyncio.to_thread(self.manager.sync)
        s = self.settings
        self._every(s.registry_poll_interval, lambda: asyncio.to_thread(self.manager.sync), "registry poll")
        self._every(
            s.integrity_interval, lambda: asyncio.to_thread(self.manager.check_integrity), "integrity"
        )
        self._every(s.refresh_interval, lambda: asyncio.to_thread(self.manager.refresh), "refresh")
        self._every(1.0, self._gauges, "housekeeping")
        self._every(s.auth_denial_summary_interval, self._denial_summary, "denial summary")

    def _every(self, seconds: float, job: Callable[[], Awaitable[Any]], what: str) -> None:
        if seconds <= 0:
            return

        async def loop() -> None:
            while True:
                await asyncio.sleep(seconds)
                try:
                    await job()
                except Exception:  # a failed round is logged; the next one runs anyway
                    log.exception("background %s failed", what)

        self._tasks.append(asyncio.create_task(loop(), name=f"mlward {what}"))

    async def _gauges(self) -> None:
        self.metrics.journal_pending.set(self.journal.pending)
        self.limits.sweep()
        self.preauth.sweep()
        if self.limits.shared:
            if await self.limits.healthy():
                self.store_recovered()
            else:
                self.store_failed("the limit store does not answer PING")

    async def _denial_summary(self) -> None:
        self.summarize_denials()

    async def stop(self) -> None:
        """Stop the loops, drain the journal into the chain, release the models."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self.summarize_denials()  # the last interval's failures, before the journal closes
        await asyncio.to_thread(self.journal.close)
        await asyncio.to_thread(self.manager.close)
        await self.limits.close()
        closer = getattr(self.nonces, "close", None)
        if closer is not None:
            await closer()

    # -- audit ---------------------------------------------------------------------------------
    def alert(self, action: str, target: str, outcome: str, details: dict[str, Any]) -> None:
        """Journal an event without waiting (alerts, denials)."""
        self.journal.record_nowait(EventInput(self.manager_actor, action, target, outcome, details))

    @property
    def manager_actor(self) -> str:
        """The actor of events the server itself causes."""
        return f"server:{self.workspace.config.project}"

    # -- shared checks -------------------------------------------------------------------------
    def authenticate(self, request: Request) -> Principal:
        """The caller, or a 401 problem (a 429 once the address is over its failure budget).

        Failures are counted into the periodic summary, not audited one by one: nobody has
        vouched for these requests, so they must not be able to grow the audit log.
        """
        try:
            return self.auth.authenticate(request.headers.get("authorization"))
        except AuthFailure as failure:
            self.metrics.denials.labels(reason="unauthenticated").inc()
            retry = self.preauth.refuse(
                _client(request), failure.reason, failure.subject, f"{request.method} {request.url.path}"
            )
            if retry is not None:
                raise Problem(
                    429,
                    "too many failed authentications from this address",
                    kind="rate-limited",
                    headers={"Retry-After": str(retry), **BEARER_CHALLENGE},
                ) from None
            raise Problem(401, failure.reason, kind="unauthenticated", headers=BEARER_CHALLENGE) from None

    def summarize_denials(self) -> None:
        """Journal the failed authentications since the last summary as one event."""
        details = self.preauth.drain()
        if details is not None:
            self.journal.record_nowait(
                EventInput("anonymous", "auth.denied", "unauthenticated requests", "denied", details)
            )

    def require(self, principal: Principal, permission: str, target: str) -> None:
        """A 403 problem (audited) unless ``principal`` holds ``permission``."""
        if principal.can(permission):
            return
        self.deny(
            principal,
            "access.denied",
            target,
            f"{principal.name} lacks the permission {permission!r}",
            {"permission": permission, "roles": list(principal.roles)},
        )

    def deny(
        self, principal: Principal, action: str, target: str, reason: str, details: dict[str, Any]
    ) -> None:
        """Audit a refusal and raise the 403 problem."""
        self.metrics.denials.labels(reason=action.split(".")[0]).inc()
        self.journal.record_nowait(
            EventInput(principal.name, action, target, "denied", {"reason": reason, **details})
        )
        raise Problem(403, reason, kind="forbidden")

    def rate_limited(self, principal: Principal, model: str, decision: RateDecision) -> None:
        """Count, audit (once per principal, model and window) and raise the 429 problem."""
        self.metrics.rate_limited.labels(model=model, scope=decision.scope).inc()
        key = (principal.name, model, decision.scope)
        now = time.monotonic()
        if self._rate_audited.get(key, 0.0) <= now:
            self._rate_audited[key] = now + RATE_AUDIT_WINDOW
            if len(self._rate_audited) > 10_000:
                self._rate_audited = {k: v for k, v in self._rate_audited.items() if v > now}
            self.journal.record_nowait(
                EventInput(
                    principal.name,
                    "serve.rate_limited",
                    model,
                    "denied",
                    {
                        "scope": decision.scope,
                        "limit": decision.limit,
                        "counted_as": principal.quota,
                        "note": f"more refusals within {RATE_AUDIT_WINDOW:.0f} s are only counted in metrics",
                    },
                )
            )
        raise Problem(
            429,
            f"rate limit exceeded ({decision.scope}: {decision.limit})",
            kind="rate-limited",
            headers={"Retry-After": str(decision.retry_after)},
        )

    async def check_limits(self, principal: Principal, model: str, rows: int | None = None) -> None:
        """Count the request (or, with ``rows``, its rows) against the limits.

        A 429 problem over a limit; a 503 problem while the shared store is away: without
        it no limit holds, so the gateway fails closed rather than serve unlimited.
        """
        if self.store_down_since is not None:
            raise self._store_problem()
        try:
            if rows is None:
                decision = await self.limits.check(principal.quota, model)
            else:
                decision = await self.limits.check_rows(principal.quota, model, rows)
        except StoreUnavailable as exc:
            self.store_failed(str(exc))
            raise self._store_problem() from None
        if decision is not None:
            self.rate_limited(principal, model, decision)

    def _store_problem(self) -> Problem:
        return Problem(
            503,
            "the rate-limit store is unavailable; requests are refused until it answers again",
            kind="limits-unavailable",
            headers={"Retry-After": str(STORE_RETRY_AFTER)},
        )

    def store_failed(self, error: str) -> None:
        """Mark the shared limit store down; the first failure of an outage raises one alert."""
        if self.store_down_since is not None:
            return
        self.store_down_since = time.monotonic()
        self.metrics.limit_store_up.set(0)
        log.error("rate-limit store unavailable, failing closed: %s", error)
        details = {"state": "unavailable", "error": error[:300]}
        self.alert("serve.limit_store", "rate-limit store", "alert", details)

    def store_recovered(self) -> None:
        """Mark the shared limit store up again (one event when an outage ends)."""
        if self.store_down_since is None:
            return
        down = time.monotonic() - self.store_down_since
        self.store_down_since = None
        self.metrics.limit_store_up.set(1)
        log.warning("rate-limit store answers again after %.1f s", down)
        details = {"state": "recovered", "down_seconds": round(down, 1)}
        self.alert("serve.limit_store", "rate-limit store", "ok", details)

    async def check_signature(self, request: Request, principal: Principal, body: bytes) -> None:
        """Verify the HMAC request signature when required or present; a 401 problem if it fails."""
        present = "x-mlward-signature" in request.headers
        if not (present or self.settings.require_signed_requests):
            return
        secret = self._signing_secrets.get(principal.name)
        if secret is None:
            secret = derive_signing_secret(self._signing_key, principal.name)
            self._signing_secrets[principal.name] = secret
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if self.store_down_since is not None:
            raise self._store_problem()
        try:
            reason = await verify_signature(
                secret,
                request.method,
                target,
                body,
                request.headers,
                nonces=self.nonces,
                scope=principal.name,
                skew=self.settings.signature_skew_seconds,
            )
        except StoreUnavailable as exc:  # the nonce store lives next to the limits
            self.store_failed(str(exc))
            raise self._store_problem() from None
        if reason is not None:
            self.metrics.denials.labels(reason="signature").inc()
            self.journal.record_nowait(
                EventInput(
                    principal.name,
                    "auth.denied",
                    f"{request.method} {request.url.path}",
                    "denied",
                    {"reason": reason, "client": _client(request)},
                )
            )
            raise Problem(401, reason, kind="bad-signature")


def _client(request: Request) -> str:
    return request.client.host if request.client else ""


def new_request_id() -> str:
    """A unique id for a request (returned as ``X-Request-ID`` and stored in its audit event)."""
    return new_event_id()
