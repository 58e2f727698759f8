"""Membership inference from files: a model file and member / non-member data files.

The one place the CLI (``mlward model privacy``) and the pipeline (``kind: privacy``)
turn paths into the ``MembershipInference.evaluate`` call: the model is loaded through
the verify-then-load unpickler (allowlisted globals only), the tables are read with
``data.io`` and split into features, label and sensitive attribute.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from mlward.core.errors import InputError
from mlward.model.privacy.membership import MembershipInference, SensitiveAttribute
from mlward.model.privacy.results import MembershipResult


def load_classifier(path: Path, allowlist_extra: Iterable[str] = ()) -> Any:
    """Load a pickled / joblib classifier admitting only allowlisted globals."""
    from mlward.model.loader import deserialize
    from mlward.model.scan.allowlist import default_allowlist

    model = deserialize(path, default_allowlist().extended(list(allowlist_extra)))
    if model is None or not hasattr(model, "predict_proba"):
        raise InputError(
            f"{path.name}: not a classifier mlward can load in-process (a pickle or joblib file "
            "of an object with predict_proba is needed)"
        )
    return model


def read_split(
    path: str | os.PathLike[str],
    label: str,
    *,
    features: Sequence[str] | None,
    sensitive: str | None,
    model: Any,
) -> tuple[Any, Any, Any]:
    """Features (a DataFrame, or an array for a model fitted on arrays), labels, sensitive values."""
    from mlward.data.io import open_dataset

    frame = open_dataset(path).read().to_pandas()
    named = getattr(model, "feature_names_in_", None)
    columns = (
        list(features)
        if features
        else (
            [str(c) for c in named]
            if named is not None
            else [c for c in frame.columns if c not in (label, sensitive)]
        )
    )
    missing = [c for c in [*columns, label, *([sensitive] if sensitive else [])] if c not in frame.columns]
    if missing:
        raise InputError(f"{Path(path).name}: columns not found: {', '.join(missing)}")
    x = frame[columns] if named is not None else frame[columns].to_numpy()
    return x, frame[label].to_numpy(), frame[sensitive].to_numpy() if sensitive else None


def evaluate_files(
    model_path: Path,
    members: str | os.PathLike[str],
    nonmembers: str | os.PathLike[str],
    label: str,
    *,
    estimator: MembershipInference,
    features: Sequence[str] | None = None,
    sensitive: str | None = None,
    allowlist_extra: Iterable[str] = (),
) -> MembershipResult:
    """Load the model and both tables, and run ``estimator`` on them."""
    model = load_classifier(model_path, allowlist_extra)
    m_x, m_y, m_s = read_split(members, label, features=features, sensitive=sensitive, model=model)
    n_x, n_y, n_s = read_split(nonmembers, label, features=features, sensitive=sensitive, model=model)
    attribute = SensitiveAttribute(sensitive, m_s, n_s) if sensitive else None
    return estimator.evaluate(model, m_x, m_y, n_x, n_y, sensitive=attribute)
