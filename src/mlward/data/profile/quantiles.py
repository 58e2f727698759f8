"""``QuantileHistogram``: a deterministic, order-independent quantile summary of numbers.

KLL sketches compact at random, and their result depends on the order of updates and
merges, so the same data gave different drift statistics on different runs and engines.
This summary is a pure function of the multiset of values: each value maps to a 64-bit key
that sorts like the value (the float's bits, sign-adjusted), buckets are the keys with their
low ``shift`` bits dropped, and ``shift`` is the smallest level at which at most ``cap``
buckets are occupied. Each bucket keeps its count and the smallest and largest value in it.

Merging adds counts, takes minima and maxima, and raises ``shift`` until the bucket count
fits again; occupancy only falls as ``shift`` grows and a subset never occupies more
buckets than the whole, so every merge tree ends at the same level with the same buckets
(tested across engines). With at most ``cap`` distinct values the summary is exact; beyond
that the CDF is exact at bucket boundaries and off by at most the largest bucket's share
inside one (``rank_error``). Buckets are relative to the value (about ``2**-7`` of it for a
standard normal column at the default cap), like DDSketch, but narrowed adaptively.
"""

from __future__ import annotations

import zlib

import numpy as np
from numpy.typing import ArrayLike

DEFAULT_CAP = 2_048
"""Most buckets kept: 64 KiB in memory per column."""
_SIGN = np.uint64(1 << 63)


def order_keys(values: np.ndarray) -> np.ndarray:
    """Return 64-bit keys that sort like the (finite) float64 values; -0.0 maps as 0.0."""
    bits = np.where(values == 0.0, 0.0, values).astype(np.float64).view(np.uint64)
    return np.where(bits & _SIGN, ~bits, bits | _SIGN)


def key_values(keys: np.ndarray) -> np.ndarray:
    """Invert ``order_keys``."""
    keys = keys.astype(np.uint64)
    return np.where(keys & _SIGN, keys & ~_SIGN, ~keys).view(np.float64)


class QuantileHistogram:
    """Mergeable, deterministic summary of a numeric column (see the module docstring)."""

    def __init__(self, cap: int = DEFAULT_CAP) -> None:
        self.cap = cap
        self.shift = 0
        self.buckets = np.empty(0, np.uint64)
        self.counts = np.empty(0, np.int64)
        self.low = np.empty(0, np.float64)
        self.high = np.empty(0, np.float64)

    @property
    def n(self) -> int:
        """Values summarized."""
        return int(self.counts.sum())

    def update(self, values: np.ndarray) -> None:
        """Add finite float64 values."""
        if values.size == 0:
            return
        keys = np.sort(order_keys(values))
        batch = QuantileHistogram(self.cap)
        batch.shift = self.shift
        batch._set(
            keys >> np.uint64(self.shift), np.ones(keys.size, np.int64), key_values(keys), key_values(keys)
        )
        batch._fit()
        self.merge(batch)

    def merge(self, other: QuantileHistogram) -> None:
        """Fold ``other`` in (``other`` is left unchanged)."""
        if other.counts.size == 0:
            return
        shift = max(self.shift, other.shift)
        buckets = np.concatenate(
            [self.buckets >> np.uint64(shift - self.shift), other.buckets >> np.uint64(shift - other.shift)]
        )
        order = np.argsort(buckets, kind="stable")
        self.shift = shift
        self._set(
            buckets[order],
            np.concatenate([self.counts, other.counts])[order],
            np.concatenate([self.low, other.low])[order],
            np.concatenate([self.high, other.high])[order],
        )
        self._fit()

    def _set(self, buckets: np.ndarray, counts: np.ndarray, low: np.ndarray, high: np.ndarray) -> None:
        # buckets is sorted; runs of equal ids collapse into one bucket
        starts = np.flatnonzero(np.concatenate([[True], buckets[1:] != buckets[:-1]]))
        self.buckets = buckets[starts]
        self.counts = np.add.reduceat(counts, starts)
        self.low = np.minimum.reduceat(low, starts)
        self.high = np.maximum.reduceat(high, starts)

    def _fit(self) -> None:
        """Raise ``shift`` to the smallest level at which at most ``cap`` buckets remain."""
        if self.buckets.size <= self.cap:
            return
        # neighbours stay apart after dropping t more bits iff their highest differing
        # bit is at or above t: occupancy(t) = 1 + #{bit_length(a ^ b) > t}
        smeared = self.buckets[1:] ^ self.buckets[:-1]
        for step in (1, 2, 4, 8, 16, 32):
            smeared |= smeared >> np.uint64(step)
        lengths = np.sort(np.bitwise_count(smeared).astype(np.int64))[::-1]
        extra = int(lengths[self.cap - 1])
        self.shift += extra
        self._set(self.buckets >> np.uint64(extra), self.counts, self.low, self.high)

    def rank_error(self) -> float:
        """Bound on the error of ``cdf``: the largest share of a bucket holding two values."""
        spread = self.high > self.low
        if not spread.any():
            return 0.0
        return float(self.counts[spread].max() / self.counts.sum())

    def std(self) -> float:
        """Population standard deviation, each bucket taken as uniform over its range.

        Unlike streaming moments, whose last digits depend on the merge order, this is a
        pure function of the summary, so scales derived from it agree across engines.
        """
        total = self.counts.sum()
        if total == 0:
            return 0.0
        middle = (self.low + self.high) / 2
        mean = float(self.counts @ middle) / total
        spread = (self.high - self.low) ** 2 / 12 + (middle - mean) ** 2
        return float(np.sqrt(float(self.counts @ spread) / total))

    def cdf(self, points: ArrayLike) -> np.ndarray:
        """Return P(X <= p), spreading each bucket's count evenly over its value range."""
        points = np.asarray(points, dtype=np.float64)
        total = self.counts.sum()
        if total == 0:
            return np.zeros(points.shape)
        below = np.concatenate([[0], np.cumsum(self.counts)])
        # the bucket whose range starts at or before each point
        i = np.searchsorted(self.low, points, side="right") - 1
        inside = np.clip(i, 0, None)
        width = self.high[inside] - self.low[inside]
        part = np.where(
            width > 0,
            np.clip((points - self.low[inside]) / np.where(width > 0, width, 1.0), 0.0, 1.0),
            1.0,
        )
        result = below[inside] + part * self.counts[inside]
        return np.where(i < 0, 0.0, result / total)

    def quantiles(self, ranks: ArrayLike) -> np.ndarray:
        """Return the values at normalized ranks in [0, 1] (the inverse of ``cdf``)."""
        ranks = np.clip(np.asarray(ranks, dtype=np.float64), 0.0, 1.0)
        total = self.counts.sum()
        if total == 0:
            return ranks * np.nan
        cum = np.cumsum(self.counts)
        target = ranks * total
        i = np.clip(np.searchsorted(cum, target, side="left"), 0, cum.size - 1)
        before = cum[i] - self.counts[i]
        part = np.clip((target - before) / self.counts[i], 0.0, 1.0)
        return np.asarray(self.low[i] + part * (self.high[i] - self.low[i]))

    # ---- serialization ----------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """Return a compact little-endian binary form (zlib-compressed)."""
        header = np.array([self.cap, self.shift, self.buckets.size], "<i8").tobytes()
        body = b"".join(
            (
                np.diff(self.buckets, prepend=np.uint64(0)).astype("<u8").tobytes(),
                self.counts.astype("<i8").tobytes(),
                self.low.astype("<f8").tobytes(),
                self.high.astype("<f8").tobytes(),
            )
        )
        return zlib.compress(header + body)

    @classmethod
    def from_bytes(cls, data: bytes) -> QuantileHistogram:
        """Rebuild from ``to_bytes`` output (ValueError when malformed)."""
        raw = zlib.decompress(data)
        cap, shift, size = (int(v) for v in np.frombuffer(raw[:24], "<i8"))
        if not (cap > 0 and 0 <= shift <= 64 and 0 <= size <= cap) or len(raw) != 24 + 32 * size:
            raise ValueError("bad quantile histogram")
        parts = [raw[24 + 8 * size * k : 24 + 8 * size * (k + 1)] for k in range(4)]
        hist = cls(cap)
        hist.shift = shift
        hist.buckets = np.cumsum(np.frombuffer(parts[0], "<u8"), dtype=np.uint64)
        hist.counts = np.frombuffer(parts[1], "<i8").astype(np.int64)
        hist.low = np.frombuffer(parts[2], "<f8").astype(np.float64)
        hist.high = np.frombuffer(parts[3], "<f8").astype(np.float64)
        return hist

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, QuantileHistogram):
            return NotImplemented
        return self.to_bytes() == other.to_bytes()

    __hash__ = None  # type: ignore[assignment]
