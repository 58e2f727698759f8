"""Input scorers: which request rows are outliers, behind a one-method protocol.

The gateway needs only ``outliers(columns, rows) -> bool array``. ``load_scorer`` finds a
fitted ``mlward.data.outliers.OutlierDetector`` for a model:

1. the file named by ``serve.models.<name>.outliers`` (relative to the workspace), checked
   against ``outliers_sha256`` when given;
2. else a file called ``outliers.safetensors`` / ``*.outliers.safetensors`` (or ``.json``)
   inside the model's artifact directory: registered with the model, so it is covered by
   the model's signature and verified with it.

Single rows go through the detector's per-row hot path (``score_row``), batches through
its vectorized ``score``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from mlward.core.errors import ConfigError

_PATTERNS = ("*.outliers.safetensors", "outliers.safetensors", "*.outliers.json", "outliers.json")


@runtime_checkable
class InputScorer(Protocol):
    """Flags unusual request rows."""

    def outliers(self, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> np.ndarray:
        """One boolean per row: True when the row is an outlier."""
        ...


class DetectorScorer:
    """Wraps a fitted ``OutlierDetector``."""

    def __init__(self, detector: Any) -> None:
        self.detector = detector

    def outliers(self, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> np.ndarray:
        """The detector's verdict per row (forest score or robust z over its threshold)."""
        if len(rows) == 1:
            return np.array([self.detector.score_row(dict(zip(columns, rows[0], strict=True))).is_outlier])
        import pyarrow as pa

        table = pa.table({name: [row[i] for row in rows] for i, name in enumerate(columns)})
        return np.asarray(self.detector.score(table).is_outlier, dtype=bool)


def find_detector_file(artifact: Path, configured: str | None, base: Path) -> Path | None:
    """The detector file configured for the model, or shipped inside its artifact directory."""
    if configured:
        path = (base / configured).resolve()
        if not path.is_file():
            raise ConfigError(f"serve.models: outlier detector file {configured} not found")
        return path
    if artifact.is_dir():
        for pattern in _PATTERNS:
            found = sorted(artifact.glob(pattern))
            if found:
                return found[0]
    return None


def load_scorer(
    artifact: Path, configured: str | None, base: Path, expected_sha256: str | None = None
) -> InputScorer | None:
    """A scorer for a served model, or None when it has no fitted detector."""
    path = find_detector_file(artifact, configured, base)
    if path is None:
        return None
    from mlward.data.outliers import OutlierDetector

    return DetectorScorer(OutlierDetector.load(path, expected_digest=expected_sha256))
