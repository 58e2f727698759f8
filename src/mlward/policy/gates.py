"""Policy gates over stage results, with audited, expiring waivers.

A gate names the stage whose metrics it reads and a rule (see ``policy.expr``). A gate
that cannot be evaluated (unknown metric, type error) fails: fail closed. A waiver
with an owner, a reason and an expiry date turns one gate's failure into a pass until
it expires; an expired waiver no longer applies and is reported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mlward.core.config import format_validation_error
from mlward.core.errors import ConfigError
from mlward.policy.expr import Rule, RuleError


class GateSpec(BaseModel):
    """One gate in ``policy.gates``."""

    model_config = ConfigDict(extra="forbid")

    name: str
    stage: str
    """Stage name (or stage kind) whose metrics the rule reads."""
    rule: str
    description: str = ""
    on_fail: Literal["fail", "retrain"] = "fail"
    """``retrain``: a failure triggers the ``retrain`` stage (continuous training) instead."""
    retrain: str | None = None


class WaiverSpec(BaseModel):
    """A time-boxed exception to one gate."""

    model_config = ConfigDict(extra="forbid")

    gate: str
    owner: str
    reason: str = Field(min_length=3)
    expires: date


class PolicySpec(BaseModel):
    """The ``policy:`` section of mlward.yaml."""

    model_config = ConfigDict(extra="forbid")

    gates: list[GateSpec] = Field(default_factory=list)
    waivers: list[WaiverSpec] = Field(default_factory=list)


def load_policy(raw: Mapping[str, Any], source: str = "mlward.yaml") -> PolicySpec:
    """Validate the ``policy`` section; every rule must parse."""
    try:
        spec = PolicySpec.model_validate(dict(raw))
    except ValidationError as exc:
        raise ConfigError(
            format_validation_error(f"{source}: policy", exc).replace(": policy: ", ": policy.")
        ) from exc
    names = [g.name for g in spec.gates]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ConfigError(f"{source}: policy.gates: duplicate gate names {sorted(duplicates)}")
    for index, gate in enumerate(spec.gates):
        try:
            Rule.parse(gate.rule)
        except RuleError as exc:
            raise ConfigError(f"{source}: policy.gates[{index}].rule: {exc.message}") from None
    for index, waiver in enumerate(spec.waivers):
        if waiver.gate not in names:
            raise ConfigError(f"{source}: policy.waivers[{index}].gate: no gate named {waiver.gate!r}")
    return spec


@dataclass(frozen=True)
class GateResult:
    """The verdict of one gate."""

    gate: str
    stage: str
    rule: str
    passed: bool
    """False when the rule is false or could not be evaluated (and no waiver applies)."""
    observed: dict[str, Any] = field(default_factory=dict)
    """The metric values the rule read."""
    error: str | None = None
    """Why the rule could not be evaluated."""
    waived_by: dict[str, Any] | None = None
    """The waiver that turned a failure into a pass."""
    expired_waiver: dict[str, Any] | None = None
    """A waiver that would have applied but has expired."""
    action: str = "fail"
    """What a failure does: ``fail`` the run, or ``retrain`` (continuous training)."""

    @property
    def blocking(self) -> bool:
        """Whether this verdict fails the run."""
        return not self.passed and self.action == "fail"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dict(self.__dict__)


def evaluate_gate(
    gate: GateSpec, metrics: Mapping[str, Any], waivers: Sequence[WaiverSpec], today: date | None = None
) -> GateResult:
    """Evaluate one gate against one stage's metrics."""
    today = today or date.today()
    observed: dict[str, Any] = {}
    error = None
    try:
        passed, observed = Rule.parse(gate.rule).evaluate(metrics)
    except RuleError as exc:
        passed, error = False, exc.message
    waived = expired = None
    if not passed:
        for waiver in waivers:
            if waiver.gate != gate.name:
                continue
            record = {"owner": waiver.owner, "reason": waiver.reason, "expires": waiver.expires.isoformat()}
            if waiver.expires >= today:
                waived = record
                break
            expired = record
    return GateResult(
        gate=gate.name,
        stage=gate.stage,
        rule=gate.rule,
        passed=passed or waived is not None,
        observed=_jsonable(observed),
        error=error,
        waived_by=waived,
        expired_waiver=expired,
    )


def _jsonable(values: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, list) and len(value) > 20:
            out[key] = f"[{len(value)} items]"
        else:
            out[key] = value
    return out
