"""Permission matching for role-based access control.

Permissions are ``resource:action`` strings, optionally scoped (``predict:credit-risk``).
A grant matches a request exactly, by a trailing ``*`` wildcard (``predict:*``), or by
``admin``, which grants everything. Nothing else matches: least privilege by default.
"""

from __future__ import annotations

from collections.abc import Iterable

ADMIN = "admin"


def permits(granted: Iterable[str], requested: str) -> bool:
    """Whether any permission in ``granted`` covers ``requested``."""
    for grant in granted:
        if grant in (ADMIN, requested):
            return True
        if grant.endswith("*") and requested.startswith(grant[:-1]):
            return True
    return False
