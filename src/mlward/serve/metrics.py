"""Prometheus metrics of the gateway, exposed at ``/metrics``.

With one worker the metrics live in a registry private to the app. With several workers
``mlward serve`` sets ``PROMETHEUS_MULTIPROC_DIR`` (a fresh directory per start) before the
workers import anything, every worker writes its samples there, and ``/metrics`` on any
worker aggregates all of them (prometheus-client's multiprocess mode): counters and
histograms are summed, gauges are reported per worker (``pid`` label) or as a maximum.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


def multiprocess_dir() -> str | None:
    """The multiprocess metrics directory, when several workers share metrics."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class Metrics:
    """The gateway's collectors."""

    def __init__(self) -> None:
        self.shared = multiprocess_dir() is not None
        # In multiprocess mode samples go to files, not to a registry.
        registry = None if self.shared else CollectorRegistry(auto_describe=True)
        self.registry = registry
        kw: dict[str, Any] = {"registry": registry}
        self.requests = Counter(
            "mlward_requests", "Prediction requests by model and HTTP status.", ["model", "status"], **kw
        )
        self.latency = Histogram(
            "mlward_request_latency_seconds",
            "Prediction latency in the gateway, by model.",
            ["model"],
            buckets=LATENCY_BUCKETS,
            **kw,
        )
        self.denials = Counter(
            "mlward_denials", "Requests refused by authentication or RBAC.", ["reason"], **kw
        )
        self.rate_limited = Counter(
            "mlward_rate_limited", "Requests refused by a rate limit.", ["model", "scope"], **kw
        )
        self.abuse = Counter("mlward_abuse_flags", "Abuse signals raised.", ["model", "kind"], **kw)
        self.integrity = Counter(
            "mlward_integrity_failures", "Served copies or stored objects found modified.", ["model"], **kw
        )
        gauge_kw = {**kw, "multiprocess_mode": "max"} if self.shared else kw
        self.drift = Gauge(
            "mlward_prediction_drift_psi", "PSI of recent predictions vs reference.", ["model"], **gauge_kw
        )
        self.confidence = Gauge(
            "mlward_prediction_confidence_mean",
            "Mean top-class probability, recent window.",
            ["model"],
            **gauge_kw,
        )
        self.ready = Gauge(
            "mlward_model_ready", "1 when the model is loaded and verified.", ["model"], **gauge_kw
        )
        self.store_verified = Gauge(
            "mlward_model_store_verified",
            "1 when the served version's stored objects still hash to their signed digests.",
            ["model"],
            **gauge_kw,
        )
        self.limit_store_up = Gauge(
            "mlward_limit_store_up",
            "1 while the rate-limit store answers (always 1 in memory); 0 fails requests closed.",
            **({**kw, "multiprocess_mode": "min"} if self.shared else kw),
        )
        self.limit_store_up.set(1)
        self.journal_pending = Gauge(
            "mlward_audit_journal_pending", "Audit events journaled but not yet chained.", **gauge_kw
        )

        self._children: dict[tuple[Any, ...], Any] = {}

    def child(self, metric: Any, model: str, **labels: str) -> Any:
        """``metric.labels(model=model, **labels)``, looked up once and then kept."""
        key = (metric, model, *labels.values())
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(model=model, **labels)
        return found

    def requests_for(self, model: str, status: str) -> Any:
        """The request counter of ``model`` and ``status``."""
        return self.child(self.requests, model, status=status)

    def latency_for(self, model: str) -> Any:
        """The latency histogram of ``model``."""
        return self.child(self.latency, model)

    # -- what the hosting slots report (mlward.inference.hosting.HostingObserver) ---------------
    def model_ready(self, model: str, ready: bool) -> None:
        """A served model became ready (loaded and verified) or stopped being served."""
        self.ready.labels(model=model).set(1 if ready else 0)

    def store_verified_for(self, model: str, verified: bool) -> None:
        """The stored objects of a served model were verified, or found changed."""
        self.store_verified.labels(model=model).set(1 if verified else 0)

    def integrity_failed(self, model: str) -> None:
        """A served copy or a stored object of ``model`` no longer hashed right."""
        self.integrity.labels(model=model).inc()

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        if self.shared:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            # prometheus_client leaves MultiProcessCollector.__init__ unannotated.
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry), CONTENT_TYPE_LATEST
        assert self.registry is not None
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
