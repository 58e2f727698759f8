"""Bounded types for path and query parameters: what the edge accepts is what the database can hold.

An integer past the range of its column (32 bits for versions on PostgreSQL, 64 for
counts), a string with a NUL character, or a time that
is not a time, is refused here
as a 422 problem instead of reaching the database driver (where it was a 500). Every
integer the gateway takes from a client is one of these types.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field

INT64_MAX = 2**63 - 1
"""The largest value of a signed 64-bit database integer."""
INT32_MAX = 2**31 - 1
"""The largest value of a SQLAlchemy ``Integer`` column on PostgreSQL (``integer``, 32 bits)."""

Count = Annotated[int, Field(ge=0, le=INT64_MAX)]
"""A non-negative integer that fits a 64-bit column."""

VersionNumber = Annotated[int, Field(ge=1, le=INT32_MAX)]
"""A model or lineage version: versions start at 1 and are stored in an ``Integer`` column."""

Text = Annotated[str, Field(pattern=r"^[^\x00]*$")]
"""A string without NUL characters (PostgreSQL cannot store them: the driver raised)."""


def _iso_time(text: str) -> str:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("expected an ISO 8601 time such as 2026-01-31 or 2026-01-31T12:00") from None
    return text


IsoTime = Annotated[str, Field(min_length=4, max_length=40), AfterValidator(_iso_time)]
"""An ISO 8601 date or time, kept as given (the audit store compares it)."""
