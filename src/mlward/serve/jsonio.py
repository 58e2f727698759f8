"""Fast JSON for the prediction path (orjson), with the standard library as the fallback.

orjson encodes the responses, the canonical input digests and the journal lines several
times faster than ``json``; it refuses integers wider than 64 bits, which validated
requests may still hold, so those payloads take the standard library's path.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from fastapi.responses import JSONResponse

_SEPARATORS = (",", ":")


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON; values JSON cannot hold become strings (``str``)."""
    try:
        return orjson.dumps(value, default=str)
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(value, separators=_SEPARATORS, ensure_ascii=False, default=str).encode()


class FastJSONResponse(JSONResponse):
    """A JSON response encoded by ``dumps``."""

    def render(self, content: Any) -> bytes:
        """The body."""
        return dumps(content)
