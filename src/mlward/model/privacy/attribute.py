"""Attribute inference: can the model's outputs (and the label) reveal a sensitive attribute?

Written here, not taken from ART: ART's ``AttributeInferenceBlackBox`` infers one of the
model's own numeric input features (``attack_feature`` is a column index into ``x``),
while the attribute a privacy review declares is usually kept out of the features (the
demo's ``gender``). This attack sees only what a client of the model sees — the
predicted probabilities — plus the label, and is scored by cross-validation against the
base rate; its accuracy on members versus non-members shows whether memorisation adds to it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from mlward.model.privacy.results import AttributeInferenceResult


def attribute_inference(
    attribute: str,
    values: NDArray[Any],
    probabilities: NDArray[np.float64],
    labels: NDArray[np.int64],
    is_member: NDArray[np.bool_],
    *,
    n_classes: int,
    min_count: int,
    random_state: int,
) -> AttributeInferenceResult | str:
    """The attack's figures, or a note saying why it could not run.

    Values held by fewer than ``min_count`` rows are left out (their rows too): a rare
    value is close to identifying one person, and too few rows to learn it anyway.
    """
    codes, counts = np.unique(values.astype(str), return_inverse=True, return_counts=True)[1:]
    common = counts[codes] >= min_count
    codes, probabilities, labels, is_member = (
        codes[common],
        probabilities[common],
        labels[common],
        is_member[common],
    )
    codes = np.unique(codes, return_inverse=True)[1]
    _, counts = np.unique(codes, return_counts=True)
    if len(counts) < 2:
        return f"attribute inference skipped: {attribute} has fewer than two values held by {min_count} rows"
    folds = int(min(5, counts.min()))
    if folds < 2:
        return f"attribute inference skipped: a value of {attribute} occurs only once"
    features = np.column_stack([probabilities, np.eye(n_classes)[labels]])
    attack = HistGradientBoostingClassifier(max_iter=60, random_state=random_state)
    guessed = cross_val_predict(
        attack, features, codes, cv=StratifiedKFold(folds, shuffle=True, random_state=random_state)
    )
    hit = guessed == codes
    accuracy = float(hit.mean())
    baseline = float(counts.max() / counts.sum())
    return AttributeInferenceResult(
        attribute=attribute,
        accuracy=accuracy,
        baseline=baseline,
        advantage=accuracy - baseline,
        members_accuracy=float(hit[is_member].mean()),
        nonmembers_accuracy=float(hit[~is_member].mean()),
        rows=len(codes),
    )
