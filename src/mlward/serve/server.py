"""Running the gateway with uvicorn: one process, or several workers sharing metrics.

Workers are separate processes, each loading and verifying its own copy of the models and
keeping its own audit journal. With more than one worker, Prometheus multiprocess mode is
switched on (a fresh ``PROMETHEUS_MULTIPROC_DIR`` under ``.mlward/serve/metrics``) and
rate limits should live in Redis so the workers share them.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass

from mlward.inference.settings import load_settings
from mlward.serve.app import WORKSPACE_ENV
from mlward.serve.limit_store import redis_storage
from mlward.workspace import Workspace

log = logging.getLogger("mlward.serve")


@dataclass(frozen=True)
class ServePlan:
    """How the server will run (what ``mlward serve`` prints before starting)."""

    host: str
    port: int
    workers: int
    shared_limits: bool
    """Rate limits and nonces live in Redis (shared by workers and replicas)."""
    metrics_dir: str | None
    """Multiprocess metrics directory, with several workers."""


def plan(workspace: Workspace, host: str | None, port: int | None, workers: int | None) -> ServePlan:
    """Resolve host, port and workers from arguments and ``serve:`` settings."""
    settings = load_settings(workspace.config.serve)
    count = workers or settings.workers
    metrics_dir = str(workspace.state_dir / "serve" / "metrics") if count > 1 else None
    shared = redis_storage(settings.rate_limit_storage)
    return ServePlan(host or settings.host, port or settings.port, count, shared, metrics_dir)


def run(workspace: Workspace, chosen: ServePlan, *, reload: bool = False, log_level: str = "info") -> None:
    """Start uvicorn and block until it stops."""
    import uvicorn

    os.environ[WORKSPACE_ENV] = str(workspace.root)
    if chosen.metrics_dir:
        # Samples of a previous run would be summed into this one's: start clean.
        shutil.rmtree(chosen.metrics_dir, ignore_errors=True)
        os.makedirs(chosen.metrics_dir, mode=0o700)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = chosen.metrics_dir
    if chosen.workers > 1 and not chosen.shared_limits:
        log.warning("%d workers with in-memory rate limits: each worker counts separately", chosen.workers)
    uvicorn.run(
        "mlward.serve.app:create_app_from_env",
        factory=True,
        host=chosen.host,
        port=chosen.port,
        workers=chosen.workers if not reload else None,
        reload=reload,
        log_level=log_level,
        server_header=False,
        proxy_headers=False,
        access_log=False,
    )
