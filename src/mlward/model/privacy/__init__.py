"""Privacy attacks on trained models: membership inference and attribute inference.

``MembershipInference(...).evaluate(model, members_X, members_y, nonmembers_X, nonmembers_y)``
returns a ``MembershipResult`` (``mia_auc``, ``mia_advantage`` with bootstrap intervals,
per-attack and per-group figures). See docs/privacy.md.
"""

from __future__ import annotations

from mlward.model.privacy.membership import ATTACKS, MembershipInference, SensitiveAttribute
from mlward.model.privacy.results import (
    AttackFigures,
    AttackResult,
    AttributeInferenceResult,
    GroupResult,
    MembershipResult,
)

__all__ = [
    "ATTACKS",
    "AttackFigures",
    "AttackResult",
    "AttributeInferenceResult",
    "GroupResult",
    "MembershipInference",
    "MembershipResult",
    "SensitiveAttribute",
]
