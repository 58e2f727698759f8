"""Abuse detection per principal: outlier floods, enumeration, duplicates, model extraction.

For each (model, principal) the monitor keeps a bounded history of recent queries (a
spread sample of each batch) in feature space, scaled by the contract's ranges, and
raises a signal when:

* ``outliers``: the share of the principal's recent rows scored as outliers by the model's
  ``InputScorer`` reaches ``outlier_ratio``;
* ``enumeration``: ``enumeration_run`` consecutive queries each differ from the previous
  one in the same single feature by the same step (a sweep of one input);
* ``duplicates``: at least ``duplicate_ratio`` of recent queries repeat an earlier one;
* ``extraction`` (PRADA, Juuti et al. 2019): the minimum distance of each new query to the
  principal's earlier queries is collected; benign traffic gives a roughly normal
  distribution of these distances, synthetic extraction queries do not, so once
  ``prada_min_queries`` distances exist a Shapiro-Wilk W below ``prada_threshold`` flags it.

Each kind is raised at most once per ``block_seconds`` per principal; the caller applies
the policy (log, flag, block).
"""

from __future__ import annotations

import functools
import math
import random
import time
import warnings
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlward.inference.schema import Column
from mlward.inference.scorers import InputScorer
from mlward.inference.settings import GuardSettings

MAX_PRINCIPALS = 10_000
_DUPLICATE_WINDOW = 50
_OUTLIER_WINDOW_ROWS = 1000
_SHAPIRO_MAX = 1000
_CLIP = 1e6
_SAME = 1e-6  # distances below this (in scaled units) count as a repeated query


@dataclass(frozen=True)
class AbuseSignal:
    """Evidence of abuse by one principal."""

    kind: str
    """``outliers``, ``enumeration``, ``duplicates`` or ``extraction``."""
    detail: str
    """What was observed, in words."""
    value: float
    """The statistic (a ratio, a run length or the Shapiro-Wilk W)."""


class _Client:
    __slots__ = (
        "blocked",
        "blocked_until",
        "distances",
        "dup_window",
        "gap",
        "history",
        "last",
        "norms",
        "out_hits",
        "out_rows",
        "out_weighted_hits",
        "out_weighted_rows",
        "out_window",
        "pos",
        "raised",
        "run_feature",
        "run_length",
        "run_step",
        "seen",
        "since_test",
    )

    def __init__(self, capacity: int, width: int) -> None:
        # Earlier queries stored as -2 * query, with their squared norms (+inf for empty
        # slots, so they never win a minimum): a distance test is one matrix product.
        self.history = np.zeros((capacity, width))
        self.norms = np.full(capacity, np.inf)
        self.pos = 0
        self.last: list[float] | None = None
        self.distances: deque[float] = deque(maxlen=_SHAPIRO_MAX)
        self.since_test = 0
        self.run_feature = -1
        self.run_step = 0.0
        self.run_length = 0
        self.dup_window: deque[bool] = deque(maxlen=_DUPLICATE_WINDOW)
        self.out_window: deque[tuple[int, int, float]] = deque()
        self.out_rows = 0
        self.out_hits = 0
        self.out_weighted_rows = 0.0
        self.out_weighted_hits = 0.0
        self.seen = -1.0
        self.gap = 1.0
        self.raised: dict[str, float] = {}
        self.blocked: AbuseSignal | None = None
        self.blocked_until = 0.0


class AbuseMonitor:
    """Per-principal abuse state of one model."""

    def __init__(
        self,
        settings: GuardSettings,
        width: int,
        *,
        scale: np.ndarray | None = None,
        scorer: InputScorer | None = None,
        columns: Sequence[str] = (),
        seed: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.width = width
        self.scorer = scorer
        self.columns = list(columns)
        # Python's generator: a draw costs ~50 ns, numpy's ~1 us, and there is one per request.
        # Seeded from os.urandom unless a seed is given; its draws never leave the process.
        self._rng = random.Random(seed)
        self._clock = clock
        self._inv_scale = 1.0 / scale if scale is not None else np.ones(width)
        self._clients: OrderedDict[str, _Client] = OrderedDict()

    def _client(self, principal: str) -> _Client:
        client = self._clients.get(principal)
        if client is None:
            client = _Client(self.settings.history, self.width)
            self._clients[principal] = client
            if len(self._clients) > MAX_PRINCIPALS:
                self._clients.popitem(last=False)
        else:
            self._clients.move_to_end(principal)
        return client

    def adopt(self, previous: AbuseMonitor) -> None:
        """Carry the principals' state over from the monitor of an earlier load of the model."""
        if previous.width == self.width:
            self._clients = previous._clients

    def blocked(self, principal: str) -> AbuseSignal | None:
        """The signal a principal is blocked for, while the block lasts."""
        client = self._clients.get(principal)
        if client is None or client.blocked is None or client.blocked_until <= self._clock():
            return None
        return client.blocked

    def block(self, principal: str, signal: AbuseSignal) -> None:
        """Refuse the principal's requests for ``block_seconds``."""
        client = self._client(principal)
        client.blocked = signal
        client.blocked_until = self._clock() + self.settings.block_seconds

    def observe(
        self, principal: str, rows: np.ndarray, values: Sequence[Sequence[Any]] = ()
    ) -> list[AbuseSignal]:
        """Account one request (numeric matrix, raw rows for the scorer); returns new signals."""
        client = self._client(principal)
        found: list[AbuseSignal] = []
        now = self._clock()
        if self.scorer is not None and len(values):
            chance = self._score_chance(client, now)
            if self._rng.random() < chance:
                found += self._outliers(client, values, 1.0 / chance)
        if self.width and len(rows):
            step = max(1, len(rows) // self.settings.rows_per_request)
            sample = rows[::step][: self.settings.rows_per_request] * self._inv_scale
            # NaN (nullable features) as 0; bounded so squared distances stay finite whatever
            # an unconstrained client sends.
            np.minimum(sample, _CLIP, out=sample)
            np.maximum(sample, -_CLIP, out=sample)
            if np.isnan(sample).any():
                np.nan_to_num(sample, copy=False)
            found += self._history_tests(client, sample)
        fresh = []
        for signal in found:
            if client.raised.get(signal.kind, -1e18) + self.settings.block_seconds <= now:
                client.raised[signal.kind] = now
                fresh.append(signal)
        return fresh

    def _score_chance(self, client: _Client, now: float) -> float:
        """Probability of scoring this request: the sample rate, lowered to keep within budget.

        The budget (``outlier_rows_per_second``) bounds the detector's cost per principal
        whatever its request rate: the chance falls with the principal's smoothed request
        rate, and each scored request counts for the requests it stands for (weight
        1/chance), so the outlier share stays an unbiased estimate when a client mixes slow
        and fast phases.
        """
        if client.seen >= 0:
            client.gap += 0.05 * (max(now - client.seen, 0.0) - client.gap)
        client.seen = now
        chance = self.settings.outlier_sample_rate
        budget = self.settings.outlier_rows_per_second
        if budget > 0:
            limit = self.settings.outlier_rows_per_request
            chance = min(chance, budget * max(client.gap, 1e-6) / limit)
        return chance

    def _outliers(
        self, client: _Client, rows: Sequence[Sequence[Any]], weight: float = 1.0
    ) -> list[AbuseSignal]:
        assert self.scorer is not None
        limit = self.settings.outlier_rows_per_request
        if len(rows) > limit:
            # A random sample, so a client cannot hide outliers where the sample never looks.
            rows = [rows[i] for i in self._rng.sample(range(len(rows)), limit)]
        hits = int(np.count_nonzero(self.scorer.outliers(self.columns, rows)))
        client.out_window.append((len(rows), hits, weight))
        client.out_rows += len(rows)
        client.out_hits += hits
        client.out_weighted_rows += weight * len(rows)
        client.out_weighted_hits += weight * hits
        while (
            len(client.out_window) > 1 and client.out_rows - client.out_window[0][0] >= _OUTLIER_WINDOW_ROWS
        ):
            old_rows, old_hits, old_weight = client.out_window.popleft()
            client.out_rows -= old_rows
            client.out_hits -= old_hits
            client.out_weighted_rows -= old_weight * old_rows
            client.out_weighted_hits -= old_weight * old_hits
        ratio = min(max(client.out_weighted_hits / max(client.out_weighted_rows, 1e-12), 0.0), 1.0)
        if client.out_rows >= self.settings.outlier_min_rows and ratio >= self.settings.outlier_ratio:
            return [
                AbuseSignal("outliers", f"{ratio:.0%} of the last {client.out_rows} rows are outliers", ratio)
            ]
        return []

    def _history_tests(self, client: _Client, sample: np.ndarray) -> list[AbuseSignal]:
        # Few numpy calls on purpose: on one-row requests their fixed cost dominates.
        found: list[AbuseSignal] = []
        count = len(sample)
        # Minimum distance of each new query to every earlier one (history, then the batch);
        # |a - h|^2 = |a|^2 + |h|^2 - 2 a.h turns it into one small matrix product.
        if count == 1:
            row = sample[0]
            norms = [float(row @ row)]
            mins = [float((client.norms + client.history @ row).min()) + norms[0]]
        else:
            norms = np.einsum("ij,ij->i", sample, sample)
            to_history = (sample @ client.history.T + client.norms).min(axis=1)
            inner = norms[None, :] - 2.0 * (sample @ sample.T)
            inner[_upper(count)] = np.inf
            mins = (np.minimum(to_history, inner.min(axis=1)) + norms).tolist()
        fresh = [math.sqrt(max(d, 0.0)) for d in mins if d != math.inf]
        client.distances.extend(fresh)
        client.since_test += len(fresh)
        client.dup_window.extend(d < _SAME for d in fresh)
        found += self._enumeration(client, sample.tolist())
        if len(client.dup_window) >= _DUPLICATE_WINDOW:
            ratio = sum(client.dup_window) / len(client.dup_window)
            if ratio >= self.settings.duplicate_ratio:
                found.append(
                    AbuseSignal("duplicates", f"{ratio:.0%} of recent queries repeat earlier ones", ratio)
                )
        if (
            len(client.distances) >= self.settings.prada_min_queries
            and client.since_test >= self.settings.prada_every
        ):
            client.since_test = 0
            w = prada_statistic(np.fromiter(client.distances, dtype=np.float64))
            if w < self.settings.prada_threshold:
                found.append(
                    AbuseSignal("extraction", f"query distances are not normal (Shapiro-Wilk W={w:.3f})", w)
                )
        capacity = len(client.history)
        if count == 1:
            client.history[client.pos] = sample[0] * -2.0
            client.norms[client.pos] = norms[0]
        else:
            slots = (client.pos + np.arange(count)) % capacity
            client.history[slots] = sample * -2.0
            client.norms[slots] = norms
        client.pos = (client.pos + count) % capacity
        return found

    def _enumeration(self, client: _Client, sample: list[list[float]]) -> list[AbuseSignal]:
        previous = client.last
        for row in sample:
            if previous is not None:
                changed = [
                    (i, b - a)
                    for i, (a, b) in enumerate(zip(previous, row, strict=True))
                    if abs(b - a) > 1e-12
                ]
                if len(changed) != 1:
                    client.run_length = 0
                else:
                    feature, step = changed[0]
                    same_step = abs(step - client.run_step) <= 1e-6 * abs(step) + 1e-12
                    if feature == client.run_feature and same_step:
                        client.run_length += 1
                    else:
                        client.run_feature, client.run_step, client.run_length = feature, step, 1
            previous = row
        client.last = previous
        if client.run_length >= self.settings.enumeration_run:
            return [
                AbuseSignal(
                    "enumeration",
                    f"{client.run_length} consecutive queries step feature "
                    f"#{client.run_feature} by a constant",
                    float(client.run_length),
                )
            ]
        return []


@functools.lru_cache(maxsize=64)
def _upper(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the upper triangle (diagonal included) of a size x size matrix."""
    return np.triu_indices(size)


def feature_scale(columns: list[Column], detector: Any = None) -> np.ndarray:
    """Per-feature scale for distance tests: the detector's robust spread, else the contract's range."""
    learned = {
        spec["name"]: float(spec["scale"])
        for spec in getattr(detector, "spec_", [])
        if spec.get("kind") == "numeric" and spec.get("scale")
    }
    scale = []
    for column in columns:
        numbers = [v for v in column.allowed or () if isinstance(v, int | float)]
        low = min(numbers) if numbers else column.minimum
        high = max(numbers) if numbers else column.maximum
        if learned.get(column.name, 0) > 0:
            scale.append(learned[column.name])
        elif low is not None and high is not None and high > low:
            scale.append(float(high - low))
        else:
            scale.append(1.0)
    return np.array(scale)


def prada_statistic(distances: np.ndarray) -> float:
    """Shapiro-Wilk W of the minimum-distance distribution (1.0 when it is degenerate)."""
    if len(distances) < 3 or np.ptp(distances) == 0:
        return 1.0
    from scipy.stats import shapiro  # imported on first use: scipy.stats is slow to import

    # The distances are finite and one-dimensional, so scipy's axis / NaN-policy wrapper has
    # nothing to do; it costs six times the test itself. Its undecorated function, when
    # exposed (functools.wraps), computes the same statistic.
    test = getattr(shapiro, "__wrapped__", shapiro)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(test(distances)[0])
