"""The shadow-model attack (Shokri et al. 2017), run with IBM's Adversarial Robustness Toolbox.

ART's ``ShadowModels`` trains copies of the target's (unfitted) architecture on a shadow
pool of non-member rows, half of each as the shadows' own members; ART's
``MembershipInferenceBlackBox`` then learns, from the shadows' outputs, to tell members
from non-members, and is applied to the target model's outputs on the rows under test.
ART is imported lazily through ``core.optional.require`` (the ``privacy`` extra).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, ClassifierMixin, clone

from mlward.core.optional import require

FEATURE = "the shadow-model membership-inference attack"


class TabularModel(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """An sklearn classifier that takes the NumPy arrays ART passes and gives ``model`` a DataFrame.

    ART slices and concatenates NumPy arrays; a pipeline that selects columns by name
    (a ``ColumnTransformer``) needs them named again, with their original dtypes.
    """

    def __init__(self, model: Any, columns: list[str] | None = None, dtypes: dict[str, Any] | None = None):
        self.model = model
        self.columns = columns
        self.dtypes = dtypes

    def _frame(self, x: Any) -> Any:
        if self.columns is None:
            return x
        import pandas as pd

        frame = pd.DataFrame(x, columns=self.columns)
        return frame.astype(self.dtypes) if self.dtypes else frame

    def fit(self, x: Any, y: Any) -> TabularModel:
        """Fit a fresh copy of ``model``."""
        self.model_ = clone(self.model).fit(self._frame(x), y)
        self.classes_ = self.model_.classes_
        self.n_features_in_ = np.asarray(x).shape[1]
        return self

    def predict_proba(self, x: Any) -> Any:
        """Class probabilities, columns in ``classes_`` order."""
        return self.model_.predict_proba(self._frame(x))

    def predict(self, x: Any) -> Any:
        """Predicted classes."""
        return self.model_.predict(self._frame(x))


def shadow_scores(
    target: Any,
    shadow_x: NDArray[Any],
    shadow_y: NDArray[np.int64],
    target_probabilities: tuple[NDArray[np.float64], NDArray[np.float64]],
    target_labels: tuple[NDArray[np.int64], NDArray[np.int64]],
    *,
    n_classes: int,
    columns: list[str] | None,
    dtypes: dict[str, Any] | None,
    n_shadow_models: int,
    random_state: int,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The attack model's member probability for the member and the non-member rows.

    ``shadow_y`` and ``target_labels`` are class indices (0 .. n_classes-1);
    ``target_probabilities`` are the target's outputs on the rows under test.
    """
    require("art", feature=FEATURE)
    from art.attacks.inference.membership_inference import MembershipInferenceBlackBox
    from art.attacks.inference.membership_inference.shadow_models import ShadowModels
    from art.estimators.classification.scikitlearn import ScikitlearnClassifier

    logging.getLogger("art").setLevel(logging.ERROR)
    # Each shadow is an unfitted clone of the target (the attacker knows the architecture):
    # index labels, so that its probability columns line up with the target's.
    # No ART preprocessing: its identity standardisation still subtracts 0.0, which fails
    # on the object arrays a table with text columns becomes.
    template = ScikitlearnClassifier(TabularModel(clone(target), columns, dtypes), preprocessing=None)
    # ART copies the template's parameters onto each clone, the class count among them:
    # an unfitted template has none, so give it the target's.
    template.nb_classes = n_classes
    shadows = ShadowModels(template, num_shadow_models=n_shadow_models, random_state=random_state)
    one_hot = np.eye(n_classes)[shadow_y]
    (_, member_y, member_pred), (_, nonmember_y, nonmember_pred) = shadows.generate_shadow_dataset(
        shadow_x, one_hot
    )
    attack = MembershipInferenceBlackBox(
        ScikitlearnClassifier(target),  # only its class count is read: outputs are passed in
        input_type="prediction",
        attack_model_type="rf",
    )
    attack.attack_model.set_params(random_state=random_state)
    attack.fit(
        y=np.argmax(member_y, axis=1),
        pred=_aligned(member_pred, n_classes),
        test_y=np.argmax(nonmember_y, axis=1),
        test_pred=_aligned(nonmember_pred, n_classes),
    )
    member_p, nonmember_p = target_probabilities
    member_l, nonmember_l = target_labels
    on_members = attack.infer(None, member_l, pred=member_p, probabilities=True)
    on_nonmembers = attack.infer(None, nonmember_l, pred=nonmember_p, probabilities=True)
    return np.asarray(on_members, dtype=np.float64).ravel(), np.asarray(
        on_nonmembers, dtype=np.float64
    ).ravel()


def _aligned(predictions: NDArray[Any], n_classes: int) -> NDArray[np.float64]:
    # A shadow whose training half missed a rare class predicts fewer columns.
    predictions = np.asarray(predictions, dtype=np.float64)
    if predictions.shape[1] == n_classes:
        return predictions
    padded = np.zeros((len(predictions), n_classes))
    padded[:, : predictions.shape[1]] = predictions
    return padded
