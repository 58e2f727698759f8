"""Permission matching and role resolution for role-based access control.

Permissions are ``resource:action`` strings, optionally scoped (``predict:credit-risk``).
A grant matches a request exactly, by a trailing ``*`` wildcard (``predict:*``), or by
``admin``, which grants everything. Nothing else matches: least privilege by default.
A local principal holds the roles whose ``members`` name it in ``mlward.yaml``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the schema (pydantic) is loaded with a workspace, not with this module
    from mlward.core.config import MlwardConfig

ADMIN = "admin"


def permits(granted: Iterable[str], requested: str) -> bool:
    """Whether any permission in ``granted`` covers ``requested``."""
    for grant in granted:
        if grant in (ADMIN, requested):
            return True
        if grant.endswith("*") and requested.startswith(grant[:-1]):
            return True
    return False


def roles_of(config: MlwardConfig, principal: str) -> list[str]:
    """Role names whose ``members`` include ``principal``."""
    return sorted(name for name, role in config.roles.items() if principal in role.members)


def permissions_of(config: MlwardConfig, principal: str) -> set[str]:
    """Every permission granted to ``principal`` through its roles."""
    granted: set[str] = set()
    for name in roles_of(config, principal):
        granted.update(config.roles[name].permissions)
    return granted
