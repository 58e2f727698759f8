"""``ColumnProfile``: the mergeable summary of one column (see the package docstring)."""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from typing import Any

import datasketches as ds
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import ArrayLike

from mlward.core.errors import InputError
from mlward.data.profile.quantiles import QuantileHistogram
from mlward.data.profile.sketches import (
    HLL_P,
    b64,
    hash_floats,
    hash_strings,
    hll_add,
    hll_estimate,
    unb64,
)

NUMERIC_COUNTS_CAP = 64
"""Numeric columns keep exact value counts up to this many distinct values (codes, ratings)."""
_FREQUENT_LG_MAP = 10

NUMERIC = "numeric"
CATEGORICAL = "categorical"
OTHER = "other"


def column_kind(dtype: pa.DataType) -> str:
    """Return ``numeric``, ``categorical`` or ``other`` for an Arrow type."""
    if pa.types.is_dictionary(dtype):
        return CATEGORICAL
    if pa.types.is_boolean(dtype) or pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return CATEGORICAL
    if pa.types.is_string_view(dtype):
        return CATEGORICAL
    if pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_decimal(dtype):
        return NUMERIC
    if pa.types.is_temporal(dtype):
        return NUMERIC
    return OTHER


@dataclass
class ColumnProfile:
    """Mergeable summary of one column. Mutable while it is being built."""

    name: str
    """Column name."""
    kind: str
    """``numeric``, ``categorical`` or ``other``."""
    dtype: str
    """Arrow type as text (``int64``, ``string`` ...)."""
    count: int = 0
    """Rows seen, nulls included."""
    nulls: int = 0
    """Null (and NaN) cells."""
    infinite: int = 0
    """Infinite numeric cells (left out of moments and sketches)."""
    n: int = 0
    """Non-null (finite) values summarized."""
    minimum: float | None = None
    """Smallest value (numeric)."""
    maximum: float | None = None
    """Largest value (numeric)."""
    mean: float = 0.0
    """Mean (numeric)."""
    m2: float = 0.0
    """Sum of squared deviations from the mean (numeric, Welford)."""
    quantile_histogram: QuantileHistogram | None = None
    """Deterministic quantile summary of the values (numeric; see ``quantiles.py``)."""
    kll: Any = None
    """KLL sketch, only in profiles written before ``quantile_histogram`` (read, never built)."""
    counts: dict[Any, int] | None = None
    """Exact value counts while the column has few distinct values; None once dropped."""
    frequent: Any = None
    """Frequent-items sketch once a categorical column outgrows ``counts``."""
    values: list[np.ndarray] | None = field(default=None, repr=False)
    """The values while there are at most ``exact_limit`` (numeric, exact mode)."""
    hll: np.ndarray = field(default_factory=lambda: np.zeros(1 << HLL_P, np.uint8), repr=False)
    """HyperLogLog registers for the distinct count."""
    values_sorted: bool = field(default=False, repr=False)
    """True when ``values`` is one sorted array."""
    withheld: tuple[str, ...] = ()
    """Why the values were dropped (PII entity types, ``IDENTIFIER``); empty: kept.

    A withheld column keeps only its counts and distinct-count sketch (``data/sensitive.py``).
    """

    # ---- derived statistics -----------------------------------------------------------
    @property
    def std(self) -> float:
        """Population standard deviation of the values (0 when fewer than two)."""
        return math.sqrt(self.m2 / self.n) if self.n > 1 else 0.0

    @property
    def exact(self) -> bool:
        """True when the column still holds every value (numeric) or exact counts."""
        return self.exact_values() is not None if self.kind == NUMERIC else self.counts is not None

    @property
    def distinct(self) -> float:
        """Distinct non-null values: exact when known, else the HyperLogLog estimate."""
        if self.counts is not None:
            return float(len(self.counts))
        values = self.exact_values()
        if values is not None:
            return float(np.unique(values).size)
        return hll_estimate(self.hll)

    def exact_values(self) -> np.ndarray | None:
        """Return the sorted values (exact mode), or None when only sketches remain."""
        if self.values is None:
            return None
        if len(self.values) != 1 or not self.values_sorted:
            self.values = [np.sort(np.concatenate(self.values)) if self.values else np.empty(0)]
            self.values_sorted = True
        return self.values[0]

    def rank_error(self) -> float:
        """Bound on the error of ``cdf`` (0 in exact mode; else the summary's bound)."""
        if self.exact_values() is not None:
            return 0.0
        if self.quantile_histogram is not None:
            return self.quantile_histogram.rank_error()
        if self.kll is None:
            return 0.0
        return float(self.kll.normalized_rank_error(False)) if self.kll.is_estimation_mode() else 0.0

    def cdf(self, points: ArrayLike) -> np.ndarray:
        """Return P(X <= p) for each point (numeric)."""
        points = np.asarray(points, dtype=np.float64)
        values = self.exact_values()
        if values is not None:
            return np.searchsorted(values, points, side="right") / max(values.size, 1)
        if self.quantile_histogram is not None:
            return self.quantile_histogram.cdf(points)
        if self.kll is None or self.kll.is_empty():
            return np.zeros(points.size)
        # the sketch wants strictly increasing split points
        unique, inverse = np.unique(points, return_inverse=True)
        if unique.size == 0:
            return np.zeros(0)
        return np.asarray(self.kll.get_cdf(unique.tolist(), True))[:-1][inverse]

    def quantiles(self, ranks: ArrayLike) -> np.ndarray:
        """Return the values at normalized ranks in [0, 1] (numeric)."""
        ranks = np.clip(np.asarray(ranks, dtype=np.float64), 0.0, 1.0)
        values = self.exact_values()
        if values is not None:
            return np.quantile(values, ranks, method="inverted_cdf") if values.size else ranks * np.nan
        if self.quantile_histogram is not None:
            return self.quantile_histogram.quantiles(ranks)
        if self.kll is None or self.kll.is_empty():
            return ranks * np.nan
        return np.asarray(self.kll.get_quantiles(ranks.tolist()))

    def category_counts(self) -> tuple[dict[str, float], float]:
        """Return (counts per category, count of everything else) for categorical use.

        Exact when ``counts`` is kept; from the frequent-items sketch otherwise, where the
        categories below the sketch's error threshold are lumped into the second value.
        """
        if self.counts is not None:
            return {_label(k): float(v) for k, v in self.counts.items()}, 0.0
        if self.frequent is None:
            return {}, float(self.n)
        items = self.frequent.get_frequent_items(ds.frequent_items_error_type.NO_FALSE_NEGATIVES)
        found = {item[0]: float(item[1]) for item in items}
        return found, max(float(self.n) - sum(found.values()), 0.0)

    def histogram(self, edges: ArrayLike) -> np.ndarray:
        """Return the fraction of values in each bin; values outside go to the end bins."""
        inner = self.cdf(np.asarray(edges, dtype=np.float64)[1:-1])
        return np.diff(np.concatenate([[0.0], inner, [1.0]]))

    def withhold(self, reasons: tuple[str, ...]) -> None:
        """Drop every value, category and quantile; keep counts and the distinct sketch."""
        self.withheld = tuple(dict.fromkeys((*self.withheld, *reasons)))
        self.minimum = self.maximum = None
        self.mean = self.m2 = 0.0
        self.quantile_histogram = self.kll = self.counts = self.frequent = self.values = None

    # ---- building and merging ---------------------------------------------------------
    def add(self, array: pa.Array | pa.ChunkedArray, exact_limit: int, category_cap: int) -> None:
        """Add one batch of this column's values."""
        rows = len(array)
        self.count += rows
        nulls = array.null_count
        if self.kind == NUMERIC:
            valid = pc.drop_null(array) if nulls else array
            if pa.types.is_temporal(valid.type):
                # days / seconds / nanoseconds since the epoch, as stored
                valid = valid.view(pa.int64() if valid.type.bit_width == 64 else pa.int32())
            x = np.array(valid.cast(pa.float64()), dtype=np.float64)  # writable: KLL wants it
            finite = np.isfinite(x)
            if not finite.all():
                nan = np.isnan(x)
                nulls += int(nan.sum())
                self.infinite += int((~finite & ~nan).sum())
                x = x[finite]
            self._add_numeric(x, exact_limit)
        elif self.kind == CATEGORICAL:
            self._add_categorical(array, category_cap)
        self.nulls += nulls

    def _add_numeric(self, x: np.ndarray, exact_limit: int) -> None:
        if x.size == 0:
            return
        batch = ColumnProfile(self.name, self.kind, self.dtype, n=int(x.size))
        batch.minimum, batch.maximum = float(x.min()), float(x.max())
        batch.mean = float(x.mean())
        batch.m2 = float(np.square(x - batch.mean).sum())
        self._merge_moments(batch)
        if self.quantile_histogram is None:
            self.quantile_histogram = QuantileHistogram()
        self.quantile_histogram.update(x)
        hll_add(self.hll, hash_floats(x))
        if self.values is not None:
            if self.n > exact_limit:
                self.values = None
            else:
                self.values.append(x.copy())
                self.values_sorted = False
        if self.counts is not None:
            # a cheap look at the first values spares sorting every batch of a continuous column
            if np.unique(x[: 4 * NUMERIC_COUNTS_CAP]).size > NUMERIC_COUNTS_CAP:
                self.counts = None
                return
            uniq, freq = np.unique(x, return_counts=True)
            if uniq.size > NUMERIC_COUNTS_CAP:
                self.counts = None
                return
            for key, c in zip(uniq.tolist(), freq.tolist(), strict=True):
                self.counts[key] = self.counts.get(key, 0) + c
            if len(self.counts) > NUMERIC_COUNTS_CAP:
                self.counts = None

    def _add_categorical(self, array: pa.Array | pa.ChunkedArray, category_cap: int) -> None:
        if pa.types.is_dictionary(array.type):
            array = array.cast(array.type.value_type)
        if not pa.types.is_string(array.type) and not pa.types.is_large_string(array.type):
            array = array.cast(pa.string())
        tally = pc.value_counts(pc.drop_null(array))
        keys = tally.field("values").to_pylist()
        freq = tally.field("counts").to_numpy().tolist()
        self.n += int(sum(freq))
        hll_add(self.hll, hash_strings(keys))
        if self.counts is not None:
            for key, c in zip(keys, freq, strict=True):
                self.counts[key] = self.counts.get(key, 0) + c
            if len(self.counts) > category_cap:
                self._to_frequent_sketch()
        else:
            for key, c in zip(keys, freq, strict=True):
                self.frequent.update(key, c)

    def _to_frequent_sketch(self) -> None:
        self.frequent = ds.frequent_strings_sketch(_FREQUENT_LG_MAP)
        for key, c in (self.counts or {}).items():
            self.frequent.update(key, c)
        self.counts = None

    def _merge_moments(self, other: ColumnProfile) -> None:
        if other.n == 0:
            return
        total = self.n + other.n
        delta = other.mean - self.mean
        self.mean += delta * other.n / total
        self.m2 += other.m2 + delta * delta * self.n * other.n / total
        self.minimum = other.minimum if self.minimum is None else min(self.minimum, other.minimum)  # type: ignore[type-var]
        self.maximum = other.maximum if self.maximum is None else max(self.maximum, other.maximum)  # type: ignore[type-var]
        self.n = total

    def merge_into(self, other: ColumnProfile, exact_limit: int, category_cap: int) -> None:
        """Fold ``other`` into this profile (``other`` is left unchanged)."""
        if other.kind != self.kind:
            raise InputError(
                f"column {self.name!r} is {self.dtype} in one part of the data and {other.dtype} in another"
            )
        self.count += other.count
        self.nulls += other.nulls
        self.infinite += other.infinite
        np.maximum(self.hll, other.hll, out=self.hll)
        if self.withheld or other.withheld:
            self.n += other.n
            self.withhold(other.withheld)
            return
        if self.kind == NUMERIC:
            self._merge_moments(other)
            self._merge_quantiles(other)
            if self.values is not None and other.values is not None and self.n <= exact_limit:
                self.values = [*self.values, *other.values]
                self.values_sorted = False
            else:
                self.values = None
        elif self.kind == CATEGORICAL:
            self.n += other.n
        self._merge_counts(other, category_cap)

    def _merge_quantiles(self, other: ColumnProfile) -> None:
        if other.kll is not None or self.kll is not None:
            if self.quantile_histogram is not None or other.quantile_histogram is not None:
                raise InputError(
                    f"column {self.name!r}: a profile written by an older mlward (KLL "
                    "sketch) cannot be merged with a new one; profile that data again"
                )
            if other.kll is not None:
                if self.kll is None:
                    self.kll = ds.kll_doubles_sketch(other.kll.k)
                self.kll.merge(other.kll)
            return
        if other.quantile_histogram is not None:
            if self.quantile_histogram is None:
                self.quantile_histogram = QuantileHistogram(other.quantile_histogram.cap)
            self.quantile_histogram.merge(other.quantile_histogram)

    def _merge_counts(self, other: ColumnProfile, category_cap: int) -> None:
        if self.counts is not None and other.counts is not None:
            for key, c in other.counts.items():
                self.counts[key] = self.counts.get(key, 0) + c
            cap = NUMERIC_COUNTS_CAP if self.kind == NUMERIC else category_cap
            if len(self.counts) <= cap:
                return
        if self.kind != CATEGORICAL:
            self.counts = None
            return
        if self.counts is not None:
            self._to_frequent_sketch()
        if other.frequent is not None:
            self.frequent.merge(other.frequent)
        else:
            for key, c in (other.counts or {}).items():
                self.frequent.update(key, c)

    # ---- serialization ----------------------------------------------------------------
    def to_dict(self, *, include_values: bool = False) -> dict[str, Any]:
        """Return a JSON-ready dict (sketches as base64)."""
        data: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "dtype": self.dtype,
            "count": self.count,
            "nulls": self.nulls,
            "infinite": self.infinite,
            "n": self.n,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "mean": self.mean,
            "m2": self.m2,
            "quantile_histogram": None
            if self.quantile_histogram is None
            else b64(self.quantile_histogram.to_bytes()),
            "kll": b64(self.kll.serialize()) if self.kll is not None else None,
            "counts": [[k, v] for k, v in self.counts.items()] if self.counts is not None else None,
            "frequent": b64(self.frequent.serialize()) if self.frequent is not None else None,
            "hll": b64(zlib.compress(self.hll.tobytes())),
            "summary": {"distinct": round(self.distinct), "std": self.std, "exact": self.exact},
        }
        if self.withheld:
            data["withheld"] = list(self.withheld)
        values = self.exact_values()
        if include_values and values is not None:
            data["values"] = b64(values.astype("<f8").tobytes())
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColumnProfile:
        """Rebuild a column profile from ``to_dict`` output (``summary`` is ignored)."""
        try:
            col = cls(
                name=str(data["name"]),
                kind=str(data["kind"]),
                dtype=str(data["dtype"]),
                count=int(data["count"]),
                nulls=int(data["nulls"]),
                infinite=int(data.get("infinite", 0)),
                n=int(data["n"]),
                minimum=data["minimum"],
                maximum=data["maximum"],
                mean=float(data["mean"]),
                m2=float(data["m2"]),
            )
            if data.get("quantile_histogram"):
                col.quantile_histogram = QuantileHistogram.from_bytes(unb64(data["quantile_histogram"]))
            if data.get("kll"):
                col.kll = ds.kll_doubles_sketch.deserialize(unb64(data["kll"]))
            if data.get("frequent"):
                col.frequent = ds.frequent_strings_sketch.deserialize(unb64(data["frequent"]))
            if data.get("counts") is not None:
                col.counts = {k: int(v) for k, v in data["counts"]}
            col.hll = np.frombuffer(zlib.decompress(unb64(data["hll"])), np.uint8).copy()
            if col.hll.size != 1 << HLL_P:
                raise ValueError("bad HyperLogLog register count")
            col.withheld = tuple(str(r) for r in data.get("withheld", ()))
            if data.get("values") is not None:
                col.values = [np.frombuffer(unb64(data["values"]), "<f8").astype(np.float64)]
        except (KeyError, TypeError, ValueError, IndexError, RuntimeError, zlib.error) as exc:
            raise InputError(f"invalid profile for column {data.get('name')!r}: {exc}") from exc
        return col

    def __reduce__(self) -> tuple[Any, ...]:
        # Dask ships summaries between processes; sketches are not picklable themselves.
        return (ColumnProfile.from_dict, (self.to_dict(include_values=True),))


def _label(key: Any) -> str:
    if isinstance(key, float) and key.is_integer():
        return str(int(key))
    return str(key)
