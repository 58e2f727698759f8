"""Membership inference on models with known answers: an overfitted model leaks, a regularised one not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from sklearn.tree import DecisionTreeClassifier

from mlward.core.errors import ConfigError, InputError
from mlward.model.privacy import MembershipInference, SensitiveAttribute
from mlward.model.privacy.scores import auc_advantage


@pytest.fixture(scope="module")
def noisy() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """2000 rows, 20% of labels flipped: a model that fits the noise has memorised its rows."""
    x, y = make_classification(n_samples=2000, n_features=10, n_informative=5, flip_y=0.2, random_state=0)
    group = np.where(x[:, 0] > 0, "a", "b")
    return x[:1000], y[:1000], x[1000:], y[1000:], group


def _evaluate(model, noisy, **params):
    xm, ym, xn, yn, group = noisy
    model.fit(xm, ym)
    attribute = SensitiveAttribute("group", group[:1000], group[1000:])
    estimator = MembershipInference(random_state=0, n_bootstrap=100, **params)
    return estimator.evaluate(model, xm, ym, xn, yn, sensitive=attribute)


def test_unlimited_depth_forest_leaks_membership(noisy):
    result = _evaluate(RandomForestClassifier(n_estimators=50, random_state=0), noisy)
    # Measured 0.80 [0.78, 0.82] (loss attack); the shadow attack (ART) agrees, 0.79.
    assert result.mia_auc > 0.72 and result.mia_auc_ci[0] > 0.65
    assert result.mia_advantage > 0.3
    by_name = {a.name: a for a in result.attacks}
    assert set(by_name) == {"loss", "confidence", "shadow"}
    assert by_name["shadow"].implementation.startswith("art.")
    assert by_name["shadow"].figures.auc > 0.7
    assert [g.group for g in result.groups] == ["a", "b"]
    assert all(g.figures.auc > 0.65 for g in result.groups)
    assert result.shadow_rows == 500 and result.nonmembers == 500 and result.members == 1000


def test_deep_tree_leaks_through_its_loss_not_its_confidence(noisy):
    result = _evaluate(DecisionTreeClassifier(random_state=0), noisy)
    by_name = {a.name: a.figures for a in result.attacks}
    assert by_name["loss"].auc > 0.6 and by_name["loss"].auc_ci[0] > 0.58
    # Pure leaves: every row gets confidence 1.0, so the label-free attack sees nothing.
    assert by_name["confidence"].auc == pytest.approx(0.5)
    assert result.mia_auc > 0.6


def test_regularised_logistic_regression_is_near_chance(noisy):
    result = _evaluate(LogisticRegression(C=0.01), noisy)
    # Measured 0.52 [0.49, 0.56].
    assert result.mia_auc < 0.56
    low, high = result.mia_auc_ci
    assert low <= 0.5 <= high or result.mia_auc < 0.54


def test_same_seed_same_figures(noisy):
    first = _evaluate(RandomForestClassifier(n_estimators=20, random_state=0), noisy)
    second = _evaluate(RandomForestClassifier(n_estimators=20, random_state=0), noisy)
    docs = []
    for result in (first, second):
        doc = result.to_dict()
        doc.pop("seconds")
        for attack in doc["attacks"]:
            attack.pop("seconds")
        docs.append(doc)
    assert docs[0] == docs[1]


def test_figures_match_sklearn_metrics():
    rng = np.random.default_rng(1)
    for _ in range(30):
        member = rng.integers(0, 6, 80).astype(float)
        nonmember = rng.integers(0, 6, 60).astype(float) - rng.integers(0, 2)
        truth = np.r_[np.ones(80), np.zeros(60)]
        score = np.r_[member, nonmember]
        fpr, tpr, _ = roc_curve(truth, score)
        auc, advantage = auc_advantage(member, nonmember)
        assert auc == pytest.approx(roc_auc_score(truth, score), abs=1e-12)
        assert advantage == pytest.approx(max(0.0, float(np.max(tpr - fpr))), abs=1e-12)


def test_attribute_inference_sees_an_attribute_the_outputs_carry(noisy):
    # The group is the sign of feature 0, which the model's output depends on.
    result = _evaluate(LogisticRegression(C=0.01), noisy, attribute_inference=True)
    ai = result.attribute_inference
    assert ai is not None and ai.attribute == "group" and ai.rows == 1500
    assert ai.advantage > 0.02 and ai.accuracy > ai.baseline


def test_dataframe_pipeline_like_the_demo_model():
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "income": rng.normal(50, 10, 1200),
            "score": rng.normal(600, 50, 1200),
            "purpose": rng.choice(["car", "home", "study"], 1200),
        }
    )
    y = ((frame["income"] + rng.normal(0, 10, 1200)) > 50).astype(int).to_numpy()
    model = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [("cat", OneHotEncoder(handle_unknown="ignore"), ["purpose"])], remainder="passthrough"
                ),
            ),
            ("clf", HistGradientBoostingClassifier(max_iter=30, random_state=0)),
        ]
    ).fit(frame[:600], y[:600])
    result = MembershipInference(random_state=0, n_bootstrap=50).evaluate(
        model, frame[:600], y[:600], frame[600:], y[600:]
    )
    assert {a.name for a in result.attacks} == {"loss", "confidence", "shadow"}
    assert 0.4 < result.mia_auc < 0.75


def test_budget_small_groups_and_bad_input(noisy):
    xm, ym, xn, yn, _ = noisy
    model = LogisticRegression(C=0.01).fit(xm, ym)
    result = MembershipInference(attacks=("loss",), max_rows=200, n_bootstrap=10, random_state=0).evaluate(
        model, xm, ym, xn, yn, sensitive=SensitiveAttribute("rare", np.r_[["x"] * 999, ["y"]], ["x"] * 1000)
    )
    assert result.members == 100 and result.nonmembers == 100 and result.shadow_rows == 0
    assert any("sampled" in note for note in result.notes)
    assert "y" not in [g.group for g in result.groups]
    with pytest.raises(ConfigError):
        MembershipInference(attacks=("guess",)).evaluate(model, xm, ym, xn, yn)
    with pytest.raises(InputError, match="not among the model's classes"):
        MembershipInference(attacks=("loss",)).evaluate(model, xm, ym + 5, xn, yn)


def test_sklearn_parameter_convention():
    estimator = MembershipInference(attacks=("loss",), max_rows=100)
    assert estimator.get_params()["max_rows"] == 100 and estimator.attacks == ("loss",)
    assert estimator.set_params(n_bootstrap=7).n_bootstrap == 7
