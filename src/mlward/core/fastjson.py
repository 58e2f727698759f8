"""Fast JSON (orjson) for hot paths, with the standard library as the fallback.

orjson encodes several times faster than ``json``; it refuses integers wider than 64 bits,
which such payloads take through the standard library instead. Output is compact UTF-8.
Not for hashes whose byte form is already fixed (``audit.log.event_hash``): the two
libraries write some floats differently (``1e16`` / ``1e+16``).
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_SEPARATORS = (",", ":")


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON; NumPy scalars and arrays as numbers, anything else JSON cannot hold
    as its ``str``; NaN and infinities as ``null``."""
    try:
        return orjson.dumps(value, default=str, option=orjson.OPT_SERIALIZE_NUMPY)
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(value, separators=_SEPARATORS, ensure_ascii=False, default=str).encode()


def loads(data: bytes | str) -> Any:
    """Parse JSON (orjson; the standard library for what it refuses, e.g. ``NaN``)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)
