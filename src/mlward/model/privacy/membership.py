"""``MembershipInference``: attack a trained classifier with its training rows and held-out rows.

The rows the model was trained on (members) and rows it never saw (non-members) are
scored by each attack; an attack that ranks members above non-members (ROC AUC above
0.5, a membership advantage above 0) shows the model leaks who was in its training set.
Only aggregates leave this module: no row, and no value of a row, is in the result.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mlward.core.errors import ConfigError, InputError
from mlward.model.privacy.attribute import attribute_inference
from mlward.model.privacy.results import AttackResult, GroupResult, MembershipResult
from mlward.model.privacy.scores import confidence_scores, figures, loss_scores

ATTACKS = ("loss", "confidence", "shadow")


@dataclass(frozen=True)
class SensitiveAttribute:
    """A sensitive attribute's values for the member and the non-member rows (same order)."""

    name: str
    members: ArrayLike
    nonmembers: ArrayLike


class MembershipInference:
    """Membership-inference attacks against a fitted classifier (sklearn-style parameters).

    ``attacks``: any of ``loss`` (threshold on the per-row loss), ``confidence`` (threshold
    on the top probability) and ``shadow`` (ART's shadow models + black-box attack model).
    ``max_rows`` caps the member and the non-member rows scored (half each, sampled);
    ``shadow_fraction`` of the non-members train the shadow models and are not scored.
    """

    def __init__(
        self,
        attacks: Sequence[str] = ATTACKS,
        *,
        n_bootstrap: int = 200,
        confidence_level: float = 0.95,
        max_rows: int = 4000,
        n_shadow_models: int = 3,
        shadow_fraction: float = 0.5,
        min_group_size: int = 20,
        attribute_inference: bool = False,
        random_state: int | None = None,
    ) -> None:
        self.attacks = attacks
        self.n_bootstrap = n_bootstrap
        self.confidence_level = confidence_level
        self.max_rows = max_rows
        self.n_shadow_models = n_shadow_models
        self.shadow_fraction = shadow_fraction
        self.min_group_size = min_group_size
        self.attribute_inference = attribute_inference
        self.random_state = random_state

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor parameters (sklearn convention)."""
        return {name: getattr(self, name) for name in _PARAMS}

    def set_params(self, **params: Any) -> MembershipInference:
        """Set constructor parameters (sklearn convention)."""
        for name, value in params.items():
            if name not in _PARAMS:
                raise ValueError(f"unknown parameter {name!r} of MembershipInference")
            setattr(self, name, value)
        return self

    def _check(self) -> tuple[str, ...]:
        attacks = tuple(self.attacks)
        unknown = [a for a in attacks if a not in ATTACKS]
        if unknown or not attacks:
            raise ConfigError(
                f"unknown attack {', '.join(unknown) or '(none)'}; choose from {', '.join(ATTACKS)}"
            )
        if not 0.5 <= self.confidence_level < 1:
            raise ConfigError("confidence_level must be in [0.5, 1)")
        if not 0 < self.shadow_fraction < 1:
            raise ConfigError("shadow_fraction must be between 0 and 1")
        if self.max_rows < 40:
            raise ConfigError("max_rows must be at least 40")
        return attacks

    def evaluate(
        self,
        model: Any,
        members_X: Any,
        members_y: ArrayLike,
        nonmembers_X: Any,
        nonmembers_y: ArrayLike,
        sensitive: SensitiveAttribute | None = None,
    ) -> MembershipResult:
        """Run the attacks on ``model`` (fitted, with ``predict_proba`` and ``classes_``)."""
        attacks = self._check()
        started = time.perf_counter()
        seed = int(np.random.SeedSequence(self.random_state).generate_state(1)[0])
        rng = np.random.default_rng(seed)
        if not hasattr(model, "predict_proba") or not hasattr(model, "classes_"):
            raise InputError("membership inference needs a fitted classifier with predict_proba and classes_")
        classes = list(model.classes_)
        m_labels = _class_indices(members_y, classes, "members")
        n_labels = _class_indices(nonmembers_y, classes, "non-members")
        _same_length(members_X, m_labels, "members")
        _same_length(nonmembers_X, n_labels, "non-members")

        notes: list[str] = []
        n_order = rng.permutation(len(n_labels))
        shadow_idx = np.empty(0, dtype=np.int64)
        if "shadow" in attacks:
            cut = round(len(n_order) * self.shadow_fraction)
            shadow_idx, n_order = n_order[:cut][: self.max_rows], n_order[cut:]
        budget = self.max_rows // 2
        m_idx = np.sort(rng.permutation(len(m_labels))[:budget])
        n_idx = np.sort(n_order[:budget])
        if len(m_idx) < 10 or len(n_idx) < 10:
            raise InputError("membership inference needs at least 10 member and 10 scored non-member rows")
        if len(m_labels) > budget or len(n_order) > budget:
            notes.append(
                f"sampled {len(m_idx)} member and {len(n_idx)} non-member rows (max_rows {self.max_rows})"
            )

        m_x, n_x = _take(members_X, m_idx), _take(nonmembers_X, n_idx)
        m_y, n_y = m_labels[m_idx], n_labels[n_idx]
        m_p = np.asarray(model.predict_proba(m_x), dtype=np.float64)
        n_p = np.asarray(model.predict_proba(n_x), dtype=np.float64)

        results: list[AttackResult] = []
        scored: dict[str, tuple[NDArray[np.float64], NDArray[np.float64]]] = {}
        for name in attacks:
            began = time.perf_counter()
            if name == "loss":
                pair, implementation = (loss_scores(m_p, m_y), loss_scores(n_p, n_y)), "mlward"
            elif name == "confidence":
                pair, implementation = (confidence_scores(m_p), confidence_scores(n_p)), "mlward"
            else:
                shadow = self._shadow(model, nonmembers_X, n_labels, shadow_idx, (m_p, n_p), (m_y, n_y), seed)
                if isinstance(shadow, str):
                    notes.append(shadow)
                    continue
                pair, implementation = shadow, "art.MembershipInferenceBlackBox+ShadowModels"
            scored[name] = pair
            stats = figures(
                *pair, n_bootstrap=self.n_bootstrap, confidence_level=self.confidence_level, rng=rng
            )
            results.append(AttackResult(name, implementation, stats, time.perf_counter() - began))

        best = max(results, key=lambda r: r.figures.auc)
        best_adv = max(results, key=lambda r: r.figures.advantage)
        groups: tuple[GroupResult, ...] = ()
        inference = None
        if sensitive is not None:
            m_s = _values(sensitive.members, len(m_labels), "members")[m_idx]
            n_s = _values(sensitive.nonmembers, len(n_labels), "non-members")[n_idx]
            groups = self._groups(scored[best.name], m_s, n_s, rng, notes)
            if self.attribute_inference:
                outcome = attribute_inference(
                    sensitive.name,
                    np.concatenate([m_s, n_s]),
                    np.vstack([m_p, n_p]),
                    np.concatenate([m_y, n_y]),
                    np.concatenate([np.ones(len(m_s), bool), np.zeros(len(n_s), bool)]),
                    n_classes=len(classes),
                    min_count=self.min_group_size,
                    random_state=seed % (2**31),
                )
                if isinstance(outcome, str):
                    notes.append(outcome)
                else:
                    inference = outcome
        elif self.attribute_inference:
            notes.append("attribute inference skipped: no sensitive attribute given")

        return MembershipResult(
            mia_auc=best.figures.auc,
            mia_advantage=best_adv.figures.advantage,
            mia_auc_ci=best.figures.auc_ci,
            mia_advantage_ci=best_adv.figures.advantage_ci,
            attack=best.name,
            attacks=tuple(results),
            confidence_level=self.confidence_level,
            n_bootstrap=self.n_bootstrap,
            members=len(m_idx),
            nonmembers=len(n_idx),
            shadow_rows=len(shadow_idx) if "shadow" in scored else 0,
            sensitive=sensitive.name if sensitive is not None else None,
            groups=groups,
            attribute_inference=inference,
            notes=tuple(notes),
            seconds=time.perf_counter() - started,
        )

    def _shadow(
        self,
        model: Any,
        nonmembers_X: Any,
        n_labels: NDArray[np.int64],
        shadow_idx: NDArray[np.int64],
        probabilities: tuple[NDArray[np.float64], NDArray[np.float64]],
        labels: tuple[NDArray[np.int64], NDArray[np.int64]],
        seed: int,
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]] | str:
        from sklearn.base import clone

        from mlward.model.privacy.shadow import shadow_scores

        try:
            clone(model)
        except TypeError:
            # An object sklearn cannot clone (no get_params) gives no architecture to shadow.
            return "shadow attack skipped: the model cannot be cloned (not an sklearn estimator)"
        if len(shadow_idx) < 20:
            return "shadow attack skipped: fewer than 20 non-member rows for the shadow models"
        pool = _take(nonmembers_X, np.sort(shadow_idx))
        columns = dtypes = None
        if hasattr(pool, "columns"):
            columns, dtypes = [str(c) for c in pool.columns], {str(c): t for c, t in pool.dtypes.items()}
            pool = pool.to_numpy()
        return shadow_scores(
            model,
            np.asarray(pool),
            n_labels[np.sort(shadow_idx)],
            probabilities,
            labels,
            n_classes=len(model.classes_),
            columns=columns,
            dtypes=dtypes,
            n_shadow_models=self.n_shadow_models,
            random_state=seed % (2**31),
        )

    def _groups(
        self,
        pair: tuple[NDArray[np.float64], NDArray[np.float64]],
        m_s: NDArray[Any],
        n_s: NDArray[Any],
        rng: np.random.Generator,
        notes: list[str],
    ) -> tuple[GroupResult, ...]:
        m_s, n_s = m_s.astype(str), n_s.astype(str)
        groups = []
        small = 0
        for group in sorted(set(m_s) | set(n_s)):
            in_m, in_n = m_s == group, n_s == group
            # A group below the size floor is neither scored nor named: its value could be
            # one person's (a rare category is as identifying as a raw row value).
            if in_m.sum() < self.min_group_size or in_n.sum() < self.min_group_size:
                small += 1
                continue
            stats = figures(
                pair[0][in_m],
                pair[1][in_n],
                n_bootstrap=self.n_bootstrap,
                confidence_level=self.confidence_level,
                rng=rng,
            )
            groups.append(GroupResult(group, stats))
        if small:
            notes.append(f"{small} group(s) with fewer than {self.min_group_size} rows on a side not scored")
        return tuple(groups)


_PARAMS = (
    "attacks",
    "n_bootstrap",
    "confidence_level",
    "max_rows",
    "n_shadow_models",
    "shadow_fraction",
    "min_group_size",
    "attribute_inference",
    "random_state",
)


def _class_indices(y: ArrayLike, classes: list[Any], side: str) -> NDArray[np.int64]:
    values = np.asarray(y).ravel()
    lookup = {c: i for i, c in enumerate(classes)}
    try:
        return np.fromiter((lookup[v] for v in values.tolist()), dtype=np.int64, count=len(values))
    except KeyError:
        # Name the count, not the value: a label value can be personal data.
        unknown = sum(1 for v in values.tolist() if v not in lookup)
        raise InputError(f"{unknown} {side} label(s) are not among the model's classes") from None


def _same_length(x: Any, y: NDArray[np.int64], side: str) -> None:
    if len(x) != len(y):
        raise InputError(f"{side}: {len(x)} rows of features but {len(y)} labels")


def _values(values: ArrayLike, expected: int, side: str) -> NDArray[Any]:
    array = np.asarray(values).ravel()
    if len(array) != expected:
        raise InputError(f"sensitive attribute: {len(array)} {side} values for {expected} rows")
    return array


def _take(x: Any, idx: NDArray[np.int64]) -> Any:
    return x.iloc[idx] if hasattr(x, "iloc") else np.asarray(x)[idx]
