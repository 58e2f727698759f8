"""The one authorization decision: check a permission, audit a denial.

Every door goes through ``authorize``. A local principal (the CLI and the Python API)
gets its permissions from the ``roles:`` members in ``mlward.yaml``. A door that
authenticated its caller itself (the HTTP gateway: an API key or a JWT subject) passes a
``Caller`` with the permissions already resolved from its roles, and may name where the
denial is recorded (the gateway's journal); the check and the event are the same.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from mlward.access.rbac import permissions_of, permits, roles_of
from mlward.core.errors import AccessDenied
from mlward.workspace import Workspace, current_principal

DENIED = "access.denied"
"""The audit action of a refused permission check."""

DenialRecorder = Callable[[str, str, dict[str, Any]], None]
"""Records a denial event in place of the audit log: ``(actor, target, details)``."""


@dataclass(frozen=True)
class Caller:
    """A principal a door authenticated, with the permissions its roles grant."""

    name: str
    """Audit name (``token:<id>``, ``jwt:<sub>``)."""
    permissions: Collection[str]
    """Permissions granted to it."""
    roles: tuple[str, ...] = ()
    """Role names it holds (recorded with a denial)."""
    record_denial: DenialRecorder | None = None
    """Where its denials are recorded; None: the workspace audit log."""


def authorize(
    workspace: Workspace, permission: str, caller: Caller | str | None = None, *, target: str = ""
) -> str:
    """Return the caller's name if it holds ``permission``; else audit the denial and raise ``AccessDenied``.

    ``caller`` is a ``Caller`` a door resolved, or the name of a local principal (default:
    ``current_principal()``) whose roles are looked up in ``mlward.yaml``.
    """
    hint = None
    if not isinstance(caller, Caller):
        who = caller or current_principal()
        config = workspace.config
        caller = Caller(who, permissions_of(config, who), tuple(roles_of(config, who)))
        hint = "add the principal to a role granting it under 'roles:' in mlward.yaml"
    if permits(caller.permissions, permission):
        return caller.name
    reason = f"{caller.name} lacks the permission {permission!r}"
    details: dict[str, Any] = {"reason": reason, "permission": permission, "roles": list(caller.roles)}
    if caller.record_denial is None:
        workspace.audit.append(caller.name, DENIED, target or permission, outcome="denied", details=details)
    else:
        caller.record_denial(caller.name, target or permission, details)
    raise AccessDenied(reason, hint=hint)
