from __future__ import annotations

from datetime import date, timedelta

import pytest

from mlward.core.errors import ConfigError
from mlward.policy.expr import Rule, RuleError
from mlward.policy.gates import GateSpec, WaiverSpec, evaluate_gate, load_policy

METRICS = {
    "deps": {"vulnerabilities": [{"id": "A", "severity": "HIGH"}, {"id": "B", "severity": "LOW"}]},
    "drift": {"share": 0.2},
    "scan": {"max_severity": "MEDIUM", "clean": None},
    "model": {"signed": True},
    "fairness": {"disparate_impact": 0.75},
}


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("deps.vulnerabilities(severity >= HIGH) == 0", False),
        ("deps.vulnerabilities(severity >= CRITICAL) == 0", True),
        ("deps.vulnerabilities() == 2", True),
        ("drift.share < 0.3", True),
        ("scan.max_severity < HIGH", True),
        ("scan.max_severity < MEDIUM", False),
        ("scan.clean < LOW", True),
        ("model.signed", True),
        ("model.signed and drift.share < 0.1", False),
        ("not model.signed or fairness.disparate_impact >= 0.8", False),
        ("0.1 < drift.share <= 0.2", True),
    ],
)
def test_rules(rule, expected):
    verdict, observed = Rule.parse(rule).evaluate(METRICS)
    assert verdict is expected
    assert observed


@pytest.mark.parametrize(
    "rule",
    [
        '__import__("os").system("x")',
        "drift.__class__",
        "drift['share']",
        "(lambda: 1)()",
        "[x for x in y]",
        "a if b else c",
    ],
)
def test_unsafe_syntax_is_rejected(rule):
    with pytest.raises(RuleError):
        Rule.parse(rule).evaluate(METRICS)


@pytest.mark.parametrize("rule", ["(lambda: 1)()", "[x for x in y]", "a if b else c", "{1: 2}"])
def test_unsafe_syntax_is_refused_when_the_rule_is_parsed(rule):
    # Refused when mlward.yaml is loaded, before any metric exists: not only if evaluated.
    with pytest.raises(RuleError, match="which rules do not allow"):
        Rule.parse(rule)


def test_unknown_metric_fails_closed():
    gate = GateSpec(name="g", stage="s", rule="drift.shares < 0.3")
    result = evaluate_gate(gate, METRICS, [])
    assert not result.passed and "drift.shares" in result.error


def test_non_boolean_rule_fails():
    with pytest.raises(RuleError, match="true or false"):
        Rule.parse("drift.share").evaluate(METRICS)


def test_waiver_applies_until_it_expires():
    gate = GateSpec(name="fair", stage="fairness", rule="fairness.disparate_impact >= 0.8")
    live = WaiverSpec(
        gate="fair", owner="ana", reason="relabelling in progress", expires=date.today() + timedelta(days=3)
    )
    dead = WaiverSpec(
        gate="fair", owner="ana", reason="old exception", expires=date.today() - timedelta(days=1)
    )
    waived = evaluate_gate(gate, METRICS, [live])
    assert waived.passed and waived.waived_by["owner"] == "ana"
    expired = evaluate_gate(gate, METRICS, [dead])
    assert not expired.passed and expired.expired_waiver["reason"] == "old exception"


def test_policy_validation_names_key_paths():
    with pytest.raises(ConfigError, match=r"policy\.gates\[0\]\.rule"):
        load_policy({"gates": [{"name": "x", "stage": "s", "rule": "a["}]})
    with pytest.raises(ConfigError, match=r"policy\.waivers\[0\]\.gate"):
        load_policy(
            {
                "gates": [],
                "waivers": [{"gate": "nope", "owner": "a", "reason": "abc", "expires": "2030-01-01"}],
            }
        )
    with pytest.raises(ConfigError, match="unknown key"):
        load_policy({"gatez": []})
