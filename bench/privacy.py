"""Benchmark: mlward's membership-inference figures next to ART's own attack classes.

Two models with known answers on the same noisy data (sklearn ``make_classification``,
20% of labels flipped, 1000 training rows, 1000 held out): a random forest with no depth
limit (overfitted: it memorises the flipped labels) and a strongly regularised logistic
regression (C=0.01). On each:

- ``mlward loss`` / ``confidence`` / ``shadow``: ``MembershipInference`` (the shadow
  attack is ART's ``ShadowModels`` + ``MembershipInferenceBlackBox`` on a shadow pool of
  held-out rows), AUC and advantage with 95% bootstrap intervals;
- ``ART rule-based``: ``MembershipInferenceBlackBoxRuleBased`` ("member if predicted
  correctly", one threshold), scored on the same rows as mlward;
- ``ART black-box (prediction)``: ``MembershipInferenceBlackBox`` with a
  random-forest attack model trained the way ART's examples do, on half of the members
  and half of the scored non-members (the attacker knows some members), scored on the
  other halves.

"agrees" says whether ART's AUC lies within mlward's interval for the comparable attack
(rule-based <-> loss, black-box prediction <-> shadow). ART's ``input_type="loss"`` is
not run: it needs ``compute_loss``, which ART's scikit-learn forest wrapper lacks. Prints a table
and writes bench/results/privacy.json. Run: ``.venv/bin/python bench/privacy.py``
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from mlward.model.privacy import MembershipInference
from mlward.model.privacy.scores import auc_advantage

HERE = Path(__file__).resolve().parent
SEED = 0


def _art_rows(model: Any, result: Any, xm, ym, xn, yn, seed: int) -> list[dict[str, Any]]:
    from art.attacks.inference.membership_inference import (
        MembershipInferenceBlackBox,
        MembershipInferenceBlackBoxRuleBased,
    )
    from art.estimators.classification import SklearnClassifier

    art_model = SklearnClassifier(model)
    rows = []
    began = time.perf_counter()
    rule = MembershipInferenceBlackBoxRuleBased(art_model)
    on_m, on_n = rule.infer(xm, ym).astype(float), rule.infer(xn, yn).astype(float)
    auc, adv = auc_advantage(on_m, on_n)
    rows.append(_row("ART rule-based", "MembershipInferenceBlackBoxRuleBased", auc, adv, began, "loss"))
    rng = np.random.default_rng(seed)
    m_perm, n_perm = rng.permutation(len(ym)), rng.permutation(len(yn))
    m_fit, m_test = m_perm[: len(ym) // 2], m_perm[len(ym) // 2 :]
    n_fit, n_test = n_perm[: len(yn) // 2], n_perm[len(yn) // 2 :]
    # input_type="loss" needs the estimator's compute_loss, which ART's scikit-learn
    # random-forest wrapper does not implement: the prediction input runs on both models.
    for input_type, compare in (("prediction", "shadow"),):
        began = time.perf_counter()
        attack = MembershipInferenceBlackBox(art_model, input_type=input_type, attack_model_type="rf")
        attack.attack_model.set_params(random_state=seed)
        attack.fit(xm[m_fit], ym[m_fit], xn[n_fit], yn[n_fit])
        on_m = attack.infer(xm[m_test], ym[m_test], probabilities=True).ravel()
        on_n = attack.infer(xn[n_test], yn[n_test], probabilities=True).ravel()
        auc, adv = auc_advantage(on_m, on_n)
        name = f"ART black-box ({input_type})"
        rows.append(_row(name, "MembershipInferenceBlackBox", auc, adv, began, compare))
    for row in rows:
        compare = row.pop("compare")
        mine = next(a for a in result.attacks if a.name == compare)
        low, high = mine.figures.auc_ci
        row["compared_with"] = f"mlward {mine.name}"
        row["agrees"] = bool(low <= row["auc"] <= high)
    return rows


def _row(name: str, cls: str, auc: float, adv: float, began: float, compare: str) -> dict[str, Any]:
    return {
        "attack": name,
        "class": cls,
        "auc": round(auc, 4),
        "advantage": round(adv, 4),
        "seconds": round(time.perf_counter() - began, 3),
        "compare": compare,
    }


def main() -> None:
    """Run both models, print the table, write the JSON."""
    x, y = make_classification(n_samples=2000, n_features=10, n_informative=5, flip_y=0.2, random_state=SEED)
    xm, ym, xn, yn = x[:1000], y[:1000], x[1000:], y[1000:]
    models = {
        "random forest, no depth limit": RandomForestClassifier(n_estimators=50, random_state=SEED),
        "logistic regression, C=0.01": LogisticRegression(C=0.01),
    }
    report: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "models": {},
    }
    lines = [
        f"{'model':<31} {'attack':<26} {'AUC':>6} {'95% interval':>16} {'adv':>6} {'seconds':>8}  agrees",
    ]
    for label, model in models.items():
        model.fit(xm, ym)
        result = MembershipInference(random_state=SEED).evaluate(model, xm, ym, xn, yn)
        # ART scores the same rows mlward scored: the members and the non-shadow non-members.
        rng = np.random.default_rng(np.random.SeedSequence(SEED).generate_state(1)[0])
        order = rng.permutation(len(yn))[len(yn) // 2 :]
        xs, ys = xn[np.sort(order)], yn[np.sort(order)]
        art_rows = _art_rows(model, result, xm, ym, xs, ys, SEED)
        mine = [
            {
                "attack": f"mlward {a.name}",
                "class": a.implementation,
                **{k: v for k, v in a.to_dict().items() if k in ("auc", "auc_ci", "advantage", "seconds")},
            }
            for a in result.attacks
        ]
        report["models"][label] = {
            "mlward": mine,
            "art": art_rows,
            "mlward_seconds_total": round(result.seconds, 3),
        }
        for row in mine:
            ci = f"[{row['auc_ci'][0]:.3f}, {row['auc_ci'][1]:.3f}]"
            lines.append(
                f"{label:<31} {row['attack']:<26} {row['auc']:>6.3f} {ci:>16} {row['advantage']:>6.3f} "
                f"{row['seconds']:>8.3f}"
            )
        for row in art_rows:
            lines.append(
                f"{label:<31} {row['attack']:<26} {row['auc']:>6.3f} {'':>16} {row['advantage']:>6.3f} "
                f"{row['seconds']:>8.3f}  {'yes' if row['agrees'] else 'no'} ({row['compared_with']})"
            )
    print("\n".join(lines))
    out = HERE / "results" / "privacy.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
