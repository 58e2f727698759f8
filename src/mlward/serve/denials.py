"""Denials before authentication: limited per client address, audited as periodic summaries.

Anyone who can reach the port can fail to authenticate, as often as they like. One audit
event per failure would let them grow the log without bound, so these failures are
counted instead: ``PreAuthDenials.refuse`` charges the client address a budget
(``serve.unauthenticated_rate_limit``; over it the answer is 429, not 401) and adds the
failure to the current ``DenialSummary``, which the gateway journals every
``serve.auth_denial_summary_interval`` seconds as one ``auth.denied`` event with the counts
per reason, client, presented subject and target, and first/last seen. What it tracks is
bounded (``MAX_TRACKED`` keys per dimension, the rest counted as ``other``), so a flood
from many addresses costs bounded memory and one event per interval.

Denials of authenticated principals (403, bad signatures, rate limits) are not handled
here: each of those stays an individual event.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from limits import strategies

from mlward.serve.ratelimit import STRATEGIES, HousekeptMemoryStorage, parse_limits

MAX_TRACKED = 10_000
"""Distinct keys (addresses, subjects, …) counted per dimension and interval."""
TOP = 20
"""Keys per dimension named in a summary event (the most frequent); the rest are summed."""
OTHER = "other"


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat()


@dataclass
class _Tally:
    """Counts of one dimension (reasons, clients, …), bounded."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, key: str) -> None:
        if key not in self.counts and len(self.counts) >= MAX_TRACKED:
            key = OTHER
        self.counts[key] = self.counts.get(key, 0) + 1

    def top(self, name: str) -> list[dict[str, Any]]:
        """The most frequent keys as ``[{name: key, "count": n}]``, the rest summed as ``other``.

        A list, not a mapping: keys are client input, and the audit log redacts values
        under secret-looking keys (``token:…``).
        """
        ranked = sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))
        named = [{name: key, "count": count} for key, count in ranked[:TOP]]
        rest = sum(count for _, count in ranked[TOP:])
        if rest:
            named.append({name: OTHER, "count": rest})
        return named


@dataclass
class DenialSummary:
    """Failures to authenticate since the last summary."""

    count: int = 0
    """Failures in all."""
    limited: int = 0
    """Of those, refused with 429 because their address was over its budget."""
    first_seen: float = 0.0
    last_seen: float = 0.0
    reasons: dict[str, list[float | int]] = field(default_factory=dict)
    """Reason -> [count, first seen, last seen]."""
    clients: _Tally = field(default_factory=_Tally)
    subjects: _Tally = field(default_factory=_Tally)
    targets: _Tally = field(default_factory=_Tally)

    def add(self, reason: str, client: str, subject: str, target: str, *, limited: bool, now: float) -> None:
        """Count one failure."""
        if not self.count:
            self.first_seen = now
        self.count += 1
        self.limited += limited
        self.last_seen = now
        if reason not in self.reasons and len(self.reasons) >= MAX_TRACKED:
            reason = OTHER
        entry = self.reasons.setdefault(reason, [0, now, now])
        entry[0] += 1
        entry[2] = now
        self.clients.add(client or "unknown")
        self.subjects.add(subject)
        self.targets.add(target)

    def details(self) -> dict[str, Any]:
        """The ``details`` of the summary's audit event."""
        ranked = sorted(self.reasons.items(), key=lambda kv: (-kv[1][0], kv[0]))
        return {
            "summary": True,
            "count": self.count,
            "limited": self.limited,
            "first_seen": _iso(self.first_seen),
            "last_seen": _iso(self.last_seen),
            "reasons": [
                {"reason": reason, "count": int(n), "first_seen": _iso(first), "last_seen": _iso(last)}
                for reason, (n, first, last) in ranked[:TOP]
            ],
            "other_reasons": sum(int(entry[0]) for _, entry in ranked[TOP:]),
            "clients": self.clients.top("client"),
            "distinct_clients": len(self.clients.counts),
            "subjects": self.subjects.top("subject"),
            "targets": self.targets.top("target"),
        }


class PreAuthDenials:
    """Charges failed authentications to the client address and summarizes them."""

    def __init__(self, limit: str, *, strategy: str = "sliding-window") -> None:
        # In memory, per process, on purpose: no round trip to Redis for requests nobody
        # vouches for, and the budget holds while Redis is away.
        self._storage = HousekeptMemoryStorage()
        self._limiter: Any = getattr(strategies, STRATEGIES[strategy])(self._storage)
        self._limits = parse_limits(limit, "serve.unauthenticated_rate_limit")
        self._summary = DenialSummary()

    def refuse(self, client: str, reason: str, subject: str, target: str) -> int | None:
        """Count a failure; None to answer 401, else the ``Retry-After`` of a 429."""
        retry: int | None = None
        for item in self._limits:
            if not self._limiter.hit(item, "preauth", client):
                reset = self._limiter.get_window_stats(item, "preauth", client).reset_time
                retry = max(1, math.ceil(reset - time.time()))
                break
        self._summary.add(reason, client, subject, target, limited=retry is not None, now=time.time())
        return retry

    def drain(self) -> dict[str, Any] | None:
        """The summary since the last call (None when nothing failed), and start a new one."""
        summary, self._summary = self._summary, DenialSummary()
        return summary.details() if summary.count else None

    def sweep(self) -> None:
        """Forget expired counters."""
        self._storage.sweep()
