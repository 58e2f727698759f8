"""The ``privacy`` stage: membership inference against a trained model; metrics under ``privacy``.

The model is a file a previous stage wrote (a ``train`` stage's ``model:``), so the
stage runs after it; ``members`` (the training rows) and ``nonmembers`` (held-out rows)
are declared datasets or paths. Gates read ``privacy.mia_auc``, ``privacy.mia_advantage``
and their interval bounds (``privacy.mia_auc_low`` / ``_high`` ...).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from mlward.pipeline.kinds.base import KindOptions, StageContext, StageKind, StageOutcome


class PrivacyOptions(KindOptions):
    """Which model, which rows, which attacks."""

    model: str
    """The model file (pickle or joblib), usually a train stage's ``model:``."""
    members: str
    """The rows the model was trained on: a dataset under ``datasets:`` or a path."""
    nonmembers: str
    """Rows it never saw (held out): a dataset or a path."""
    label: str
    features: list[str] | None = None
    """Feature columns (default: the model's ``feature_names_in_``, else all but label/sensitive)."""
    sensitive: str | None = None
    """A sensitive attribute: per-group figures and the attribute-inference estimate."""
    attacks: list[str] | None = None
    """Any of loss, confidence, shadow (default: all three)."""
    attribute_inference: bool = True
    max_rows: int = Field(default=4000, ge=40)
    n_bootstrap: int = Field(default=200, ge=0, le=5000)
    random_state: int = 0


def _ref(item: str) -> str:
    return item if ("/" in item or "." in item) else f"dataset:{item}"


class PrivacyKind(StageKind):
    """Loss, confidence and shadow-model (ART) membership-inference attacks."""

    name = "privacy"
    Options = PrivacyOptions
    security = True

    def io(self, options: Any) -> tuple[list[str], list[str]]:
        return [options.model, _ref(options.members), _ref(options.nonmembers)], []

    def _resolve(self, ctx: StageContext, name: str) -> str:
        spec = ctx.workspace.config.datasets.get(name)
        return str(ctx.path(spec.path if spec else name))

    def run(self, ctx: StageContext, options: Any) -> StageOutcome:
        from mlward.model.privacy import ATTACKS, MembershipInference
        from mlward.model.privacy.files import evaluate_files

        estimator = MembershipInference(
            attacks=tuple(options.attacks or ATTACKS),
            n_bootstrap=options.n_bootstrap,
            max_rows=options.max_rows,
            attribute_inference=options.attribute_inference,
            random_state=options.random_state,
        )
        result = evaluate_files(
            ctx.path(options.model),
            self._resolve(ctx, options.members),
            self._resolve(ctx, options.nonmembers),
            options.label,
            estimator=estimator,
            features=options.features,
            sensitive=options.sensitive,
            allowlist_extra=ctx.workspace.config.model.allowlist,
        )
        return StageOutcome(
            metrics={"privacy": privacy_metrics(result)},
            summary=(
                f"mia_auc {result.mia_auc:.3f} [{result.mia_auc_ci[0]:.3f}, {result.mia_auc_ci[1]:.3f}] "
                f"({result.attack}), advantage {result.mia_advantage:.3f}"
            ),
            report=result.to_dict(),
        )


def privacy_metrics(result: Any) -> dict[str, Any]:
    """The gate-facing metrics of a ``MembershipResult``."""
    metrics: dict[str, Any] = {
        "mia_auc": round(result.mia_auc, 4),
        "mia_auc_low": round(result.mia_auc_ci[0], 4),
        "mia_auc_high": round(result.mia_auc_ci[1], 4),
        "mia_advantage": round(result.mia_advantage, 4),
        "mia_advantage_low": round(result.mia_advantage_ci[0], 4),
        "mia_advantage_high": round(result.mia_advantage_ci[1], 4),
        "attack": result.attack,
    }
    if result.max_group_auc is not None:
        metrics["max_group_mia_auc"] = round(result.max_group_auc, 4)
    if result.attribute_inference is not None:
        metrics["attribute_inference_advantage"] = round(result.attribute_inference.advantage, 4)
    return metrics
