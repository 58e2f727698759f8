"""JSON responses for the prediction path, encoded by ``mlward.core.fastjson`` (orjson)."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from mlward.core.fastjson import dumps


class FastJSONResponse(JSONResponse):
    """A JSON response encoded by ``dumps``."""

    def render(self, content: Any) -> bytes:
        """The body."""
        return dumps(content)
