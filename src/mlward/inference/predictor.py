"""Calling a verified model: validated rows in, JSON-ready predictions out.

Rows become what the estimator expects: a pandas DataFrame with the training column
names when the model was fitted on one (``feature_names_in_``) or has text features,
otherwise a float matrix. Classifiers with ``predict_proba`` are called once: the label
is the class of highest probability, and that probability is the prediction's confidence.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlward.inference.schema import FeatureSpec


@dataclass(frozen=True)
class Prediction:
    """A model's answer to one request."""

    labels: list[Any]
    """One prediction per row, JSON-ready."""
    probabilities: list[list[float]] | None
    """Class probabilities per row (classifiers with ``predict_proba``)."""
    confidence: np.ndarray | None
    """Highest class probability per row."""
    monitored: np.ndarray
    """One number per row for drift monitoring (positive-class probability, class index or value)."""
    categorical: bool
    """``monitored`` holds class indices rather than a continuous score."""


class Predictor:
    """Adapts validated rows to one estimator."""

    def __init__(self, model: Any, spec: FeatureSpec) -> None:
        self.model = model
        self.spec = spec
        self.columns = [c.name for c in spec.columns]
        self._frame = hasattr(model, "feature_names_in_") or any(not c.numeric for c in spec.columns)
        classes = getattr(model, "classes_", None)
        self.classes = np.asarray(classes) if classes is not None else None
        self._proba = self.classes is not None and callable(getattr(model, "predict_proba", None))
        self.numeric_index = [i for i, c in enumerate(spec.columns) if c.numeric]

    def inputs(self, values: Sequence[Sequence[Any]], numeric: np.ndarray | None = None) -> Any:
        """The estimator's input for rows given as value lists in feature order.

        ``numeric`` (from ``numeric``) is reused when it already is that input.
        """
        if self._frame:
            import pandas as pd

            return pd.DataFrame(values, columns=self.columns)
        if numeric is not None and numeric.shape == (len(values), len(self.columns)):
            return numeric
        return np.asarray(values, dtype=np.float64)

    def numeric(self, values: Sequence[Sequence[Any]]) -> np.ndarray:
        """The numeric features as a float matrix (missing values as NaN), for the guards."""
        if len(self.numeric_index) == len(self.columns) and not self._frame:
            return np.asarray(values, dtype=np.float64)
        picked = [[np.nan if row[i] is None else float(row[i]) for i in self.numeric_index] for row in values]
        return np.asarray(picked, dtype=np.float64).reshape(len(values), len(self.numeric_index))

    def predict(self, inputs: Any) -> Prediction:
        """Run the model."""
        if self._proba:
            assert self.classes is not None
            proba = np.asarray(self.model.predict_proba(inputs), dtype=np.float64)
            best = proba.argmax(axis=1)
            confidence = proba[np.arange(len(best)), best]
            binary = proba.shape[1] == 2
            return Prediction(
                labels=self.classes[best].tolist(),
                probabilities=np.round(proba, 6).tolist(),
                confidence=confidence,
                monitored=proba[:, 1] if binary else best.astype(np.float64),
                categorical=not binary,
            )
        output = np.asarray(self.model.predict(inputs))
        if self.classes is not None:
            # Class index: stable across requests, so windows are comparable.
            monitored = np.searchsorted(self.classes, output).astype(np.float64)
            return Prediction(output.tolist(), None, None, monitored, categorical=True)
        if np.issubdtype(output.dtype, np.number) and output.ndim == 1:
            return Prediction(output.tolist(), None, None, output.astype(np.float64), categorical=False)
        flat = output.reshape(len(output), -1)[:, 0].astype(str)
        monitored = np.array([zlib.crc32(v.encode()) % 1024 for v in flat], dtype=np.float64)
        return Prediction(output.tolist(), None, None, monitored, categorical=True)
