"""Result values of the privacy attacks: aggregates only, never a row or a row's value."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AttackFigures:
    """How well one attack's per-row score separates members from non-members."""

    auc: float
    """ROC AUC of the score (0.5: no better than a coin)."""
    advantage: float
    """Membership advantage: the largest TPR - FPR over all thresholds (0: none)."""
    auc_ci: tuple[float, float]
    """Bootstrap percentile interval of ``auc``."""
    advantage_ci: tuple[float, float]
    """Bootstrap percentile interval of ``advantage``."""
    members: int
    """Member rows scored."""
    nonmembers: int
    """Non-member rows scored."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "auc": round(self.auc, 4),
            "auc_ci": [round(v, 4) for v in self.auc_ci],
            "advantage": round(self.advantage, 4),
            "advantage_ci": [round(v, 4) for v in self.advantage_ci],
            "members": self.members,
            "nonmembers": self.nonmembers,
        }


@dataclass(frozen=True)
class AttackResult:
    """One attack against the model."""

    name: str
    """``loss``, ``confidence`` or ``shadow``."""
    implementation: str
    """Whose code ran it (``mlward`` or the ART class)."""
    figures: AttackFigures
    """Its separation of members from non-members."""
    seconds: float
    """Wall time of the attack, bootstrap included."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "name": self.name,
            "implementation": self.implementation,
            **self.figures.to_dict(),
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class GroupResult:
    """The strongest attack's figures within one group of the sensitive attribute."""

    group: str
    """The group's value (only groups with at least ``min_group_size`` rows on each side)."""
    figures: AttackFigures
    """Its figures on the group's rows."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"group": self.group, **self.figures.to_dict()}


@dataclass(frozen=True)
class AttributeInferenceResult:
    """How well the model's outputs (with the label) predict the sensitive attribute."""

    attribute: str
    """The sensitive attribute's name."""
    accuracy: float
    """Cross-validated accuracy of the attribute-inference attack on all scored rows."""
    baseline: float
    """Accuracy of always guessing the most common value."""
    advantage: float
    """``accuracy - baseline`` (0: the outputs reveal nothing beyond the base rate)."""
    members_accuracy: float
    """The attack's accuracy on member rows."""
    nonmembers_accuracy: float
    """The attack's accuracy on non-member rows (a gap to members means memorisation)."""
    rows: int
    """Rows the attack was cross-validated on."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "attribute": self.attribute,
            "accuracy": round(self.accuracy, 4),
            "baseline": round(self.baseline, 4),
            "advantage": round(self.advantage, 4),
            "members_accuracy": round(self.members_accuracy, 4),
            "nonmembers_accuracy": round(self.nonmembers_accuracy, 4),
            "rows": self.rows,
        }


@dataclass(frozen=True)
class MembershipResult:
    """Membership-inference risk of one model: the strongest attack's figures and the rest."""

    mia_auc: float
    """ROC AUC of the strongest attack (0.5: members cannot be told from non-members)."""
    mia_advantage: float
    """Largest membership advantage (max TPR - FPR) over the attacks."""
    mia_auc_ci: tuple[float, float]
    """Bootstrap interval of ``mia_auc`` (of the strongest attack)."""
    mia_advantage_ci: tuple[float, float]
    """Bootstrap interval of ``mia_advantage`` (of the attack that reached it)."""
    attack: str
    """The strongest attack by AUC."""
    attacks: tuple[AttackResult, ...]
    """Every attack that ran."""
    confidence_level: float
    """Coverage of the intervals (0.95)."""
    n_bootstrap: int
    """Bootstrap resamples behind each interval."""
    members: int
    """Member rows scored (after the ``max_rows`` budget)."""
    nonmembers: int
    """Non-member rows scored (the shadow pool excluded)."""
    shadow_rows: int = 0
    """Non-member rows given to the shadow models (never scored)."""
    sensitive: str | None = None
    """The sensitive attribute the groups are of."""
    groups: tuple[GroupResult, ...] = ()
    """Per-group figures of the strongest attack."""
    attribute_inference: AttributeInferenceResult | None = None
    """The attribute-inference estimate, when asked for."""
    notes: tuple[str, ...] = ()
    """What was skipped and why (an attack that could not run, small groups)."""
    seconds: float = 0.0
    """Wall time of the whole evaluation."""

    @property
    def max_group_auc(self) -> float | None:
        """The highest per-group AUC (the most exposed group), if groups were scored."""
        return max((g.figures.auc for g in self.groups), default=None)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "mia_auc": round(self.mia_auc, 4),
            "mia_auc_ci": [round(v, 4) for v in self.mia_auc_ci],
            "mia_advantage": round(self.mia_advantage, 4),
            "mia_advantage_ci": [round(v, 4) for v in self.mia_advantage_ci],
            "attack": self.attack,
            "confidence_level": self.confidence_level,
            "n_bootstrap": self.n_bootstrap,
            "members": self.members,
            "nonmembers": self.nonmembers,
            "shadow_rows": self.shadow_rows,
            "attacks": [a.to_dict() for a in self.attacks],
            "sensitive": self.sensitive,
            "groups": [g.to_dict() for g in self.groups],
            "attribute_inference": (self.attribute_inference.to_dict() if self.attribute_inference else None),
            "notes": list(self.notes),
            "seconds": round(self.seconds, 3),
        }
