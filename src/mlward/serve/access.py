"""Authorization shared by the CLI and the gateway.

A local principal (CLI) gets its permissions from the ``roles:`` members in
``mlward.yaml`` (``Workspace.require``). A gateway principal (an API key or a JWT
subject) arrives with permissions already resolved from its roles; ``authorize`` checks
those instead, and audits a denial the same way.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from mlward.core.errors import AccessDenied
from mlward.core.workspace import Workspace
from mlward.serve.rbac import permits


def authorize(
    workspace: Workspace,
    permission: str,
    *,
    principal: str | None = None,
    granted: Collection[str] | None = None,
    target: str = "",
) -> str:
    """Return the principal if it holds ``permission``; else audit and raise ``AccessDenied``."""
    if granted is None:
        return workspace.require(permission, principal, target=target)
    who = principal or "anonymous"
    if permits(granted, permission):
        return who
    workspace.audit.append(
        who, "access.denied", target or permission, outcome="denied", details={"permission": permission}
    )
    raise AccessDenied(f"{who} lacks the permission {permission!r}")


class GrantedWorkspace:
    """A view of a workspace whose ``require`` checks a gateway principal's grants.

    Lets registry services that authorize through ``workspace.require`` (such as
    ``promote_model``) run on behalf of an API principal, whose roles come from its token
    rather than from ``roles.<name>.members``.
    """

    def __init__(self, workspace: Workspace, principal: str, granted: Collection[str]) -> None:
        self._workspace = workspace
        self._principal = principal
        self._granted = frozenset(granted)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._workspace, name)

    def require(self, permission: str, principal: str | None = None, *, target: str = "") -> str:
        """Check ``permission`` against the gateway principal's grants."""
        return authorize(
            self._workspace, permission, principal=self._principal, granted=self._granted, target=target
        )
