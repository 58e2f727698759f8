"""Fairness on data with planted bias, cross-checked against Fairlearn and hand computation."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from fairlearn.metrics import demographic_parity_difference, demographic_parity_ratio

from mlward.core.errors import ConfigError, InputError
from mlward.data.fairness import FairnessThresholds, data_fairness, model_fairness

N = 20_000


@pytest.fixture(scope="module")
def biased() -> dict[str, np.ndarray]:
    """Label rate 0.6 for men and 0.3 for women (planted); region is unbiased."""
    rng = np.random.default_rng(0)
    sex = rng.choice(["m", "f"], N, p=[0.7, 0.3])
    region = rng.choice(["north", "south"], N)
    label = rng.random(N) < np.where(sex == "m", 0.6, 0.3)
    # the model is biased further: it under-predicts positives for women
    pred = np.where(
        label, rng.random(N) < np.where(sex == "m", 0.9, 0.5), rng.random(N) < np.where(sex == "m", 0.2, 0.1)
    )
    return {"sex": sex, "region": region, "label": label, "pred": pred}


def test_data_fairness_finds_the_planted_label_bias(biased) -> None:
    table = pa.table({k: biased[k] for k in ("sex", "region", "label")})
    report = data_fairness(table, ["sex", "region"], "label")
    sex = report.attribute("sex")
    rates = {g.group: g.positive_rate for g in sex.groups}
    assert rates["m"] == pytest.approx(0.6, abs=0.02) and rates["f"] == pytest.approx(0.3, abs=0.02)
    assert [g.group for g in sex.groups] == ["m", "f"]  # largest group first
    assert sex.groups[0].share == pytest.approx(0.7, abs=0.02)
    # Fairlearn on the labels as if they were predictions gives the same numbers
    kwargs = {"sensitive_features": biased["sex"]}
    assert sex.demographic_parity_difference == pytest.approx(
        demographic_parity_difference(biased["label"], biased["label"], **kwargs), abs=1e-12
    )
    assert sex.disparate_impact == pytest.approx(
        demographic_parity_ratio(biased["label"], biased["label"], **kwargs), abs=1e-12
    )
    region = report.attribute("region")
    assert region.disparate_impact > 0.9
    assert report.disparate_impact == sex.disparate_impact  # the worst attribute
    assert report.violations() == [
        f"sex: disparate impact {sex.disparate_impact:.3f} < 0.8",
        f"sex: demographic parity difference {sex.demographic_parity_difference:.3f} > 0.1",
    ]
    assert not report.passed()
    assert report.passed(FairnessThresholds(0.4, 0.4, None))


def test_model_fairness_matches_a_hand_computation(biased) -> None:
    report = model_fairness(biased["label"], biased["pred"], {"sex": biased["sex"]}, positive_label=True)
    sex = report.attribute("sex")
    y, p, s = biased["label"], biased["pred"], biased["sex"]
    by = {}
    for group in ("m", "f"):
        mask = s == group
        by[group] = (p[mask].mean(), p[mask & y].mean(), p[mask & ~y].mean())
    for g in sex.groups:
        assert (g.positive_rate, g.true_positive_rate, g.false_positive_rate) == pytest.approx(by[g.group])
    assert report.disparate_impact == pytest.approx(by["f"][0] / by["m"][0])
    assert report.demographic_parity_difference == pytest.approx(by["m"][0] - by["f"][0])
    tpr_gap, fpr_gap = abs(by["m"][1] - by["f"][1]), abs(by["m"][2] - by["f"][2])
    assert report.equalized_odds_difference == pytest.approx(max(tpr_gap, fpr_gap))
    failed = report.violations(FairnessThresholds(None, None, 0.2))
    assert failed and failed[0].startswith("sex: equalized odds difference")
    doc = report.to_dict()
    assert doc["kind"] == "mlward.fairness" and doc["passed"] is False
    assert doc["attributes"][0]["groups"][0]["group"] == "m"


def test_fair_model_passes_and_representation_gate() -> None:
    rng = np.random.default_rng(1)
    group = rng.choice(["a", "b", "c"], 9_000, p=[0.49, 0.49, 0.02])
    y = rng.random(9_000) < 0.5
    pred = np.where(rng.random(9_000) < 0.9, y, ~y)
    report = model_fairness(y.astype(int), pred.astype(int), group)
    assert report.passed(FairnessThresholds(0.7, 0.15, 0.15))
    assert report.attribute("sensitive").min_group_share < 0.03
    assert not report.passed(FairnessThresholds(None, None, None, min_group_share=0.05))


def test_labels_with_names_nulls_and_errors() -> None:
    table = pa.table(
        {
            "g": ["x", "x", None, "y", "y", "y"],
            "outcome": ["approved", "denied", "approved", "denied", "denied", None],
        }
    )
    report = data_fairness(table, ["g"], "outcome", positive_label="approved")
    groups = {g.group: g for g in report.attribute("g").groups}
    assert groups["(missing)"].count == 1 and groups["(missing)"].positive_rate == 1.0
    assert groups["x"].positive_rate == 0.5 and groups["y"].positive_rate == 0.0
    with pytest.raises(ConfigError, match="positive_label"):
        data_fairness(table, ["g"], "outcome")
    with pytest.raises(InputError, match="'nope' not found"):
        data_fairness(table, ["nope"], "outcome", positive_label="approved")
    with pytest.raises(ConfigError, match="at least one sensitive"):
        data_fairness(table, [], None)
    only_groups = data_fairness(table, ["g"])
    assert only_groups.attribute("g").groups[0].positive_rate is None
    with pytest.raises(InputError, match="values for"):
        model_fairness([1, 0], [1, 0], ["a"])
