"""One authorization decision for every door: check, and audit a denial once."""

from __future__ import annotations

import pytest

from mlward.access.authorize import Caller, authorize
from mlward.access.rbac import permits
from mlward.core.errors import AccessDenied
from mlward.workspace import Workspace


def test_local_principal_is_resolved_from_roles_and_a_denial_audited(workspace: Workspace):
    assert authorize(workspace, "model:promote", "tester", target="m@1") == "tester"
    with pytest.raises(AccessDenied, match="mallory lacks the permission 'model:promote'") as raised:
        authorize(workspace, "model:promote", "mallory", target="m@1")
    assert raised.value.hint and "roles:" in raised.value.hint
    denials = workspace.audit.query(action="access.denied")
    assert [(d.actor, d.target, d.outcome) for d in denials] == [("mallory", "m@1", "denied")]
    assert denials[0].details["permission"] == "model:promote" and denials[0].details["roles"] == []


def test_a_door_resolved_caller_is_checked_against_its_grants_and_its_recorder(workspace: Workspace):
    recorded: list[tuple[str, str, dict[str, object]]] = []
    caller = Caller(
        "token:abc", frozenset({"predict:*"}), ("predictor",), lambda *event: recorded.append(event)
    )
    assert authorize(workspace, "predict:credit-risk", caller) == "token:abc"
    with pytest.raises(AccessDenied):
        authorize(workspace, "admin", caller, target="api-tokens")
    assert [(actor, target, details["roles"]) for actor, target, details in recorded] == [
        ("token:abc", "api-tokens", ["predictor"])
    ]
    # Recorded by the door, not a second time in the log.
    assert workspace.audit.query(action="access.denied") == []
    # Without a recorder, the denial goes to the workspace audit log.
    with pytest.raises(AccessDenied):
        authorize(workspace, "admin", Caller("jwt:eve", frozenset()))
    assert [d.actor for d in workspace.audit.query(action="access.denied")] == ["jwt:eve"]


def test_permission_matching():
    assert permits(["admin"], "anything:at-all")
    assert permits(["predict:*"], "predict:credit-risk")
    assert not permits(["predict:plain"], "predict:credit-risk")
    assert not permits([], "model:read")
