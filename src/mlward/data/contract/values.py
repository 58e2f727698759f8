"""Values in contracts and data: bounds, durations, and columns coerced to a declared type.

A contract says ``type: date``; the data may hold a ``date32`` column (Parquet), an ISO
string column (CSV, JSON) or timestamps. ``coerce`` turns any of them into one Polars
series of the declared type plus the mask of non-null values that do not conform, so
every rule compares like with like and the type rule counts the non-conforming cells.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import polars as pl

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(w|d|h|m|s|ms)\s*$", re.IGNORECASE)
_ISO_DURATION = re.compile(
    r"^P(?:(?P<w>\d+(?:\.\d+)?)W)?(?:(?P<d>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
_UNIT_SECONDS = {"w": 604_800.0, "d": 86_400.0, "h": 3_600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
TEMPORAL = ("date", "datetime")
NUMERIC = ("int", "float")
_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")


def parse_duration(value: Any) -> dt.timedelta:
    """Parse ``36h``, ``7d``, ``90m``, ``2w``, ``45s``, ISO 8601 ``P1DT2H`` or seconds."""
    if isinstance(value, dt.timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return dt.timedelta(seconds=float(value))
    if isinstance(value, str):
        short = _DURATION.match(value)
        if short:
            return dt.timedelta(seconds=float(short.group(1)) * _UNIT_SECONDS[short.group(2).lower()])
        iso = _ISO_DURATION.match(value.strip().upper())
        if iso and any(iso.groupdict().values()):
            parts = {k: float(v) for k, v in iso.groupdict().items() if v}
            seconds = sum(parts[k] * _UNIT_SECONDS[k] for k in parts)
            return dt.timedelta(seconds=seconds)
    raise ValueError(f"expected a duration such as 36h, 7d, 90m or P7D (got {value!r})")


def format_duration(delta: dt.timedelta) -> str:
    """Render a duration compactly: ``3d 4h``, ``25m``, ``-2h`` (in the future)."""
    seconds = int(delta.total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n}{u}" for n, u in ((days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")) if n]
    return sign + (" ".join(parts[:2]) or "0s")


def parse_datetime(value: Any) -> dt.datetime:
    """Parse an ISO date or datetime (YAML may already have made it one); naive means UTC."""
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, dt.date):
        parsed = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"expected an ISO 8601 date or datetime (got {value!r})") from None
    else:
        raise ValueError(f"expected an ISO 8601 date or datetime (got {value!r})")
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed


def parse_bound(value: Any, kind: str | None) -> Any:
    """Check a range bound against the column type; return it in a comparable form."""
    if kind in TEMPORAL:
        parsed = parse_datetime(value)
        return parsed.date() if kind == "date" and parsed.time() == dt.time() else parsed
    if isinstance(value, bool):
        raise ValueError(f"expected a number (got {value!r})")
    if isinstance(value, int | float):
        return value
    if kind in NUMERIC:
        raise ValueError(f"expected a number for this {kind} column (got {value!r})")
    if isinstance(value, dt.date | str):
        # Untyped column: a date-like bound is kept as a datetime and compared as such.
        return parse_datetime(value)
    raise ValueError(f"expected a number, date or datetime (got {value!r})")


@dataclass(frozen=True)
class Coerced:
    """A column converted to its declared type."""

    values: pl.Series
    """The values as the declared type; non-conforming and missing cells are null."""
    invalid: pl.Series
    """True where a non-null cell does not conform to the declared type."""
    dtype: str
    """The column's type in the data, as Polars names it."""


def _string_like(dtype: pl.DataType) -> bool:
    return dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum | pl.Categorical)


def _strip_tz(series: pl.Series) -> pl.Series:
    dtype = series.dtype
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
        return series.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    return series


def _to_target(series: pl.Series, kind: str | None) -> pl.Series:
    """Best-effort conversion; cells that cannot convert become null."""
    dtype = series.dtype
    if dtype == pl.Null:
        return series
    if kind is None:
        return _strip_tz(series.fill_nan(None) if dtype.is_float() else series)
    if kind in ("string", "category"):
        return (
            series.cast(pl.String)
            if _string_like(dtype)
            else pl.Series(series.name, [None] * len(series), pl.String)
        )
    text = series.cast(pl.String).str.strip_chars() if _string_like(dtype) else None
    if kind == "int":
        if dtype.is_integer():
            return series.cast(pl.Int64, strict=False)
        if dtype.is_float() or dtype.is_decimal():
            floats = series.cast(pl.Float64).fill_nan(None)
            whole = floats.round(0) == floats
            return (
                pl.select(pl.when(whole).then(floats).otherwise(None))
                .to_series()
                .cast(pl.Int64, strict=False)
            )
        if text is not None:
            return text.cast(pl.Int64, strict=False)
    elif kind == "float":
        if dtype.is_numeric():
            return series.cast(pl.Float64).fill_nan(None)
        if text is not None:
            return text.cast(pl.Float64, strict=False).fill_nan(None)
    elif kind == "bool":
        if dtype == pl.Boolean:
            return series
        if text is not None:
            lowered = text.str.to_lowercase()
            return (
                pl.select(pl.when(lowered.is_in(_TRUE)).then(True).when(lowered.is_in(_FALSE)).then(False))
                .to_series()
                .alias(series.name)
            )
    elif kind == "date":
        if dtype == pl.Date:
            return series
        if isinstance(dtype, pl.Datetime):
            naive = _strip_tz(series)
            return pl.select(pl.when(naive.dt.time() == dt.time()).then(naive.dt.date())).to_series()
        if text is not None:
            return text.str.to_date("%Y-%m-%d", strict=False)
    elif kind == "datetime":
        if isinstance(dtype, pl.Datetime):
            return _strip_tz(series).cast(pl.Datetime("us"))
        if dtype == pl.Date:
            return series.cast(pl.Datetime("us"))
        if text is not None:
            return _parse_datetime_text(text)
    return pl.Series(series.name, [None] * len(series), pl.Null)


def _parse_datetime_text(text: pl.Series) -> pl.Series:
    # ISO 8601 with or without a time, with or without an offset (normalized to UTC).
    normalized = text.str.replace(r"Z$", "+00:00").str.replace(" ", "T", literal=True)
    with_tz = normalized.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z", strict=False, time_zone="UTC")
    naive = normalized.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False)
    dates = normalized.str.to_date("%Y-%m-%d", strict=False).cast(pl.Datetime("us"))
    return (
        pl.select(
            pl.coalesce(
                with_tz.dt.replace_time_zone(None).cast(pl.Datetime("us")),
                naive.cast(pl.Datetime("us")),
                dates,
            )
        )
        .to_series()
        .alias(text.name)
    )


def coerce(series: pl.Series, kind: str | None) -> Coerced:
    """Convert ``series`` to ``kind`` (None: keep its type), marking non-conforming cells."""
    original_missing = series.is_null()
    if series.dtype.is_float():
        original_missing = original_missing | series.is_nan().fill_null(False)
    values = _to_target(series, kind).alias(series.name)
    invalid = (~original_missing) & values.is_null()
    return Coerced(values, invalid.fill_null(False), str(series.dtype))


def as_python(value: Any) -> Any:
    """A value as plain Python for reports (dates as ISO text)."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value
