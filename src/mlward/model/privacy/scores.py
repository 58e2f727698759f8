"""Per-row attack statistics and the figures computed from them (AUC, advantage, intervals).

The loss and confidence attacks are written here rather than taken from ART: each is a
threshold on one per-row statistic of the model's predicted probabilities, so sweeping
every threshold is exactly the ROC curve of that statistic, a few lines with no
estimator wrapper (tests check the figures against ``sklearn.metrics``). ART's
``MembershipInferenceBlackBoxRuleBased`` is the special case "predicted class == label"
(a single threshold); bench/privacy.py compares the two.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.stats import rankdata

from mlward.model.privacy.results import AttackFigures

_EPS = 1e-12


def loss_scores(probabilities: NDArray[np.float64], labels: NDArray[np.int64]) -> NDArray[np.float64]:
    """Minus the cross-entropy loss of each row: training rows tend to have a lower loss."""
    true_class = probabilities[np.arange(len(labels)), labels]
    return np.log(np.clip(true_class, _EPS, 1.0))


def confidence_scores(probabilities: NDArray[np.float64]) -> NDArray[np.float64]:
    """The top predicted probability of each row (label-free): models are surer on training rows."""
    return np.asarray(probabilities.max(axis=1), dtype=np.float64)


def auc_advantage(member: NDArray[np.float64], nonmember: NDArray[np.float64]) -> tuple[float, float]:
    """ROC AUC and max(TPR - FPR) of a score, exactly as ``sklearn.metrics`` computes them.

    AUC is the Mann-Whitney statistic (ties count a half, as ``roc_auc_score``); the
    advantage is read off both sides' empirical CDFs at every distinct score. Both are
    a sort and a search, without ``roc_curve``'s input checks, which dominate a
    200-resample bootstrap.
    """
    score = np.concatenate([member, nonmember])
    ranks = rankdata(score)
    n_m, n_n = len(member), len(nonmember)
    auc = (ranks[:n_m].sum() - n_m * (n_m + 1) / 2.0) / (n_m * n_n)
    thresholds = np.unique(score)
    # TPR(t) - FPR(t) with "member" when score >= t: 1 - CDF_below(t) on each side.
    below_m = np.searchsorted(np.sort(member), thresholds, side="left") / n_m
    below_n = np.searchsorted(np.sort(nonmember), thresholds, side="left") / n_n
    return float(auc), float(max(0.0, np.max(below_n - below_m)))


def figures(
    member: NDArray[np.float64],
    nonmember: NDArray[np.float64],
    *,
    n_bootstrap: int,
    confidence_level: float,
    rng: np.random.Generator,
) -> AttackFigures:
    """AUC and advantage of a score (higher = "member"), with stratified bootstrap intervals.

    Members and non-members are resampled separately so every resample keeps both
    sides' sizes; the interval is the percentile interval of the resampled figures.
    """
    auc, advantage = auc_advantage(member, nonmember)
    if n_bootstrap < 1:
        return AttackFigures(auc, advantage, (auc, auc), (advantage, advantage), len(member), len(nonmember))
    aucs = np.empty(n_bootstrap)
    advantages = np.empty(n_bootstrap)
    for i in range(n_bootstrap):
        m = member[rng.integers(0, len(member), len(member))]
        n = nonmember[rng.integers(0, len(nonmember), len(nonmember))]
        aucs[i], advantages[i] = auc_advantage(m, n)
    tail = (1.0 - confidence_level) / 2.0 * 100.0
    low, high = np.percentile(aucs, [tail, 100.0 - tail])
    adv_low, adv_high = np.percentile(advantages, [tail, 100.0 - tail])
    return AttackFigures(
        auc,
        advantage,
        (float(low), float(high)),
        (float(adv_low), float(adv_high)),
        len(member),
        len(nonmember),
    )
