"""The ``OutlierDetector``: an Isolation Forest plus robust per-feature z-scores.

``OutlierDetector().fit(reference)`` learns an encoding from the reference (numeric
columns as they are, missing values imputed with the median; categorical columns one-hot
up to ``max_categories`` categories, frequency-encoded beyond), fits scikit-learn's
``IsolationForest`` and sets the threshold at the ``1 - target_fpr`` quantile of the
reference scores. Explanations are robust z-scores: ``(x - median) / (1.4826 MAD)`` for
numbers, and for a category the normal quantile of its reference frequency (an unseen
category scores like a 1-in-n value).

Persistence never pickles: ``to_bytes`` is a safetensors file whose arrays are the trees
(children, features, thresholds, node sizes) and whose metadata is the JSON config; the
loader re-implements Isolation Forest path-length scoring in numpy, equal to scikit-learn's
``score_samples`` to within 1e-9.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy.stats import norm

from mlward.core.errors import InputError, IntegrityError
from mlward.data.io import to_arrow
from mlward.data.outliers.forest import Forest
from mlward.data.profile import NUMERIC, OTHER, column_kind, run_computation
from mlward.data.sensitive import withheld_in_table
from mlward.engine.base import Engine, ProgressCallback

FORMAT = "mlward.outliers"
FORMAT_VERSION = 1
MAX_FIT_ROWS = 100_000
_NULL = "\0null"  # the category a missing value falls into
_MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class RowScore:
    """Score of one row."""

    score: float
    """Anomaly score in (0, 1]; higher is more anomalous (minus sklearn's score_samples)."""
    is_outlier: bool
    """True when ``score`` or the largest |z| exceeds its threshold."""
    top: tuple[tuple[str, float], ...]
    """The features that made the row unusual, as (column, robust z), largest first."""


@dataclass(frozen=True)
class OutlierScores:
    """Scores of a batch of rows."""

    scores: np.ndarray
    """Anomaly score per row (higher is more anomalous)."""
    is_outlier: np.ndarray
    """Boolean verdict per row."""
    z: np.ndarray
    """Robust z-score per row and column (rows x columns)."""
    columns: tuple[str, ...]
    """Column names for the second axis of ``z``."""
    threshold: float
    """Forest score above which a row is an outlier."""
    z_threshold: float
    """Largest |z| above which a row is an outlier."""

    def explain(self, row: int, top: int = 3) -> tuple[tuple[str, float], ...]:
        """Return the ``top`` columns with the largest |z| for ``row``."""
        order = np.argsort(-np.abs(self.z[row]), kind="stable")[:top]
        return tuple((self.columns[i], float(self.z[row, i])) for i in order)


class OutlierDetector:
    """Isolation Forest + robust z-scores, thresholded at a target false-positive rate."""

    def __init__(
        self,
        target_fpr: float = 0.01,
        *,
        n_estimators: int = 100,
        max_samples: int = 256,
        max_categories: int = 20,
        columns: list[str] | None = None,
        top_k: int = 3,
        random_state: int = 0,
    ) -> None:
        if not 0.0 < target_fpr < 1.0:
            raise InputError(f"target_fpr must be in (0, 1), got {target_fpr}")
        self.target_fpr = target_fpr
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.max_categories = max_categories
        self.columns = columns
        self.top_k = top_k
        self.random_state = random_state

    # ---- fitting ----------------------------------------------------------------------
    def fit(
        self, data: Any, engine: Engine | None = None, *, progress: ProgressCallback | None = None
    ) -> OutlierDetector:
        """Learn encodings, robust statistics, the forest and the threshold from ``data``.

        ``progress`` is told how many rows were read, batch by batch.
        """
        from sklearn.ensemble import IsolationForest

        from mlward.data.drift.multivariate import RowSampleComputation

        table = run_computation(RowSampleComputation(MAX_FIT_ROWS), data, engine, progress=progress)
        if table is None or table.num_rows < 2:
            raise InputError("outlier detection needs at least 2 reference rows")
        names = self.columns or [f.name for f in table.schema if column_kind(f.type) != OTHER]
        # The model stores medians and category frequencies, and scan reports show the
        # features' values: personal and identifying columns are no features.
        withheld = withheld_in_table(table, names)
        if self.columns and withheld:
            listed = ", ".join(f"{n} ({'/'.join(r)})" for n, r in withheld.items())
            raise InputError(
                f"outlier features would store personal or identifying values: {listed}",
                hint="leave these columns out of --column (or protect the data first)",
            )
        self.withheld_ = withheld
        names = [n for n in names if n not in withheld]
        if not names:
            raise InputError("outlier detection needs a column that is neither PII nor an identifier")
        self.spec_ = [_column_spec(table.column(n), n, self.max_categories) for n in names]
        self._prepare()
        matrix = self._encode_table(table)
        forest = IsolationForest(
            n_estimators=self.n_estimators,
            max_samples=min(self.max_samples, table.num_rows),
            random_state=self.random_state,
        ).fit(matrix)
        self.forest_ = Forest.from_sklearn(forest)
        self.offset_ = float(forest.offset_)
        # Two detectors, each given half the false-positive budget: the forest catches odd
        # combinations, the robust z catches one wildly off value the forest dilutes.
        scores = -self.forest_.score_samples(matrix)
        self.threshold_ = float(np.quantile(scores, 1.0 - self.target_fpr / 2))
        max_z = np.abs(self._z_matrix(table)).max(axis=1, initial=0.0)
        self.z_threshold_ = float(np.quantile(max_z, 1.0 - self.target_fpr / 2))
        self.sklearn_forest_ = forest  # kept in memory for cross-checks; never persisted
        return self

    def _prepare(self) -> None:
        """Precompute the single-row plan: one tuple per column, no pandas in the hot path."""
        self.feature_names_: list[str] = []
        self._plan: list[tuple[Any, ...]] = []
        for spec in self.spec_:
            slot = len(self.feature_names_)
            if spec["kind"] == NUMERIC:
                self.feature_names_.append(spec["name"])
                self._plan.append(("n", spec["name"], slot, spec["median"], spec["scale"]))
            elif spec["encoding"] == "onehot":
                cats = spec["categories"]
                self.feature_names_ += [f"{spec['name']}={c}" for c in cats]
                index = {c: slot + i for i, c in enumerate(cats)}
                self._plan.append(("o", spec["name"], index, spec["z"], spec["z_unseen"]))
            else:
                self.feature_names_.append(spec["name"])
                freq = spec["frequencies"]
                self._plan.append(("f", spec["name"], slot, freq, spec["z"], spec["z_unseen"]))
        self.column_names_ = tuple(s["name"] for s in self.spec_)

    # ---- scoring ----------------------------------------------------------------------
    def score(self, data: Any) -> OutlierScores:
        """Score a batch (pandas, Polars, Arrow); see ``score_row`` for one request."""
        table = to_arrow(data)
        matrix = self._encode_table(table)
        scores = -self.forest_.score_samples(matrix)
        z = self._z_matrix(table)
        flags = (scores > self.threshold_) | (np.abs(z).max(axis=1, initial=0.0) > self.z_threshold_)
        return OutlierScores(scores, flags, z, self.column_names_, self.threshold_, self.z_threshold_)

    def _z_matrix(self, table: pa.Table) -> np.ndarray:
        if not self.spec_:
            return np.zeros((table.num_rows, 0))
        return np.column_stack([_z_column(table, s) for s in self.spec_])

    def score_row(self, row: Mapping[str, Any]) -> RowScore:
        """Score one row given as a mapping of column to value (the serving hot path)."""
        x = np.zeros(len(self.feature_names_))
        z = np.zeros(len(self._plan))
        try:
            for i, step in enumerate(self._plan):
                value = row.get(step[1])
                if step[0] == "n":
                    v = step[3] if value is None or value != value else float(value)
                    x[step[2]] = v
                    z[i] = (v - step[3]) / step[4]
                    continue
                key = _category_key(value)
                if step[0] == "o":
                    slot = step[2].get(key)
                    if slot is not None:
                        x[slot] = 1.0
                    z[i] = step[3].get(key, step[4])
                else:
                    x[step[2]] = step[3].get(key, 0.0)
                    z[i] = step[4].get(key, step[5])
        except (TypeError, ValueError) as exc:
            raise InputError(f"cannot score row: {exc}") from exc
        score = float(-self.forest_.score_samples(x[None, :])[0])
        order = np.argsort(-np.abs(z), kind="stable")[: self.top_k]
        top = tuple((self.column_names_[j], float(z[j])) for j in order)
        flagged = score > self.threshold_ or (z.size > 0 and float(np.abs(z).max()) > self.z_threshold_)
        return RowScore(score, flagged, top)

    def _encode_table(self, table: pa.Table) -> np.ndarray:
        blocks: list[np.ndarray] = []
        for spec in self.spec_:
            if spec["name"] not in table.column_names:
                raise InputError(f"column {spec['name']!r} is missing from the data to score")
            col = table.column(spec["name"])
            if spec["kind"] == NUMERIC:
                blocks.append(_numeric(col, spec["median"])[:, None])
            elif spec["encoding"] == "onehot":
                text = _text(col)
                blocks.append(np.column_stack([text == c for c in spec["categories"]]).astype(float))
            else:
                text = _text(col)
                freq = spec["frequencies"]
                blocks.append(np.array([freq.get(v, 0.0) for v in text.tolist()])[:, None])
        return np.hstack(blocks) if blocks else np.zeros((table.num_rows, 0))

    # ---- persistence ------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """Serialize to safetensors bytes (trees as arrays, config as JSON metadata)."""
        from safetensors.numpy import save

        config = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "spec": self.spec_,
            "threshold": self.threshold_,
            "z_threshold": self.z_threshold_,
            "target_fpr": self.target_fpr,
            "offset": self.offset_,
            "max_samples": self.forest_.max_samples,
            "top_k": self.top_k,
        }
        metadata = {"mlward": json.dumps(config, sort_keys=True, separators=(",", ":"))}
        return bytes(save(self.forest_.arrays(), metadata=metadata))

    def digest(self) -> str:
        """SHA-256 (hex) of ``to_bytes()``, for signing and pinning."""
        return hashlib.sha256(self.to_bytes()).hexdigest()

    def save(self, path: str | os.PathLike[str]) -> str:
        """Write ``to_bytes()`` to ``path`` atomically; return the digest.

        The file is safetensors, so the name must say so: a binary under ``.json`` (or any
        other name) misleads people and the tools that pick a reader by extension.
        """
        if not os.fspath(path).endswith(".safetensors"):
            raise InputError(
                f"{os.fspath(path)}: an outlier model is a safetensors file",
                hint="name it *.safetensors, for example outliers.safetensors",
            )
        data = self.to_bytes()
        tmp = f"{os.fspath(path)}.tmp"
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
        return hashlib.sha256(data).hexdigest()

    @classmethod
    def from_bytes(cls, data: bytes, *, expected_digest: str | None = None) -> OutlierDetector:
        """Rebuild a detector from ``to_bytes`` output, checking ``expected_digest`` if given."""
        if expected_digest is not None:
            actual = hashlib.sha256(data).hexdigest()
            if not hmac.compare_digest(actual, expected_digest.lower()):
                raise IntegrityError("outlier model digest does not match the expected digest")
        from safetensors.numpy import load

        try:
            (size,) = struct.unpack("<Q", data[:8])
            config = json.loads(json.loads(data[8 : 8 + size])["__metadata__"]["mlward"])
            arrays = load(data)
        except (struct.error, ValueError, KeyError, TypeError) as exc:
            raise InputError(f"not an mlward outlier model: {exc}") from exc
        if config.get("format") != FORMAT or config.get("version") != FORMAT_VERSION:
            raise InputError("not an mlward outlier model (format or version mismatch)")
        try:
            detector = cls(float(config["target_fpr"]), top_k=int(config["top_k"]))
            detector.spec_ = config["spec"]
            detector.threshold_ = float(config["threshold"])
            detector.z_threshold_ = float(config["z_threshold"])
            detector.offset_ = float(config["offset"])
            detector.forest_ = Forest(arrays, int(config["max_samples"]))
            detector._prepare()
            used = detector.forest_.feature[detector.forest_.feature >= 0]
            if used.size and int(used.max()) >= len(detector.feature_names_):
                raise ValueError("tree feature index beyond the encoded columns")
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(f"invalid mlward outlier model: {exc}") from exc
        return detector

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, expected_digest: str | None = None) -> OutlierDetector:
        """Read a detector written by ``save``."""
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise InputError(f"cannot read outlier model {path}: {exc.strerror or exc}") from exc
        return cls.from_bytes(data, expected_digest=expected_digest)


def _category_key(value: Any) -> str:
    """The text Arrow's cast gives a value, so single rows and batches encode alike."""
    if value is None:
        return _NULL
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _text(col: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(col.cast(pa.string()), _NULL).to_numpy(zero_copy_only=False), dtype=object)


def _numeric(col: pa.ChunkedArray, fill: float) -> np.ndarray:
    if pa.types.is_temporal(col.type):
        col = pa.chunked_array(
            [c.view(pa.int64() if c.type.bit_width == 64 else pa.int32()) for c in col.chunks]
        )
    x = np.asarray(col.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
    return np.where(np.isfinite(x), x, fill)


def _rarity_z(frequency: float) -> float:
    """Normal-equivalent z of a category seen with this frequency (two-sided tail)."""
    return float(-norm.ppf(min(max(frequency, 1e-12), 1.0) / 2.0))


def _column_spec(col: pa.ChunkedArray, name: str, max_categories: int) -> dict[str, Any]:
    if column_kind(col.type) == NUMERIC:
        x = _numeric(col, np.nan)
        x = x[np.isfinite(x)]
        median = float(np.median(x)) if x.size else 0.0
        scale = _MAD_TO_SIGMA * float(np.median(np.abs(x - median))) if x.size else 0.0
        if scale == 0.0 and x.size:
            q75, q25 = np.percentile(x, [75, 25])
            scale = float(q75 - q25) / 1.349 or float(x.std())
        return {"name": name, "kind": NUMERIC, "median": median, "scale": scale or 1.0}
    text = _text(col)
    values, counts = np.unique(text, return_counts=True)
    frequencies = {str(v): float(c) / text.size for v, c in zip(values, counts, strict=True)}
    ranked = sorted(frequencies, key=lambda k: (-frequencies[k], k))
    spec: dict[str, Any] = {
        "name": name,
        "kind": "categorical",
        "encoding": "onehot" if len(ranked) <= max_categories else "frequency",
        "z": {k: _rarity_z(f) for k, f in frequencies.items()},
        "z_unseen": _rarity_z(1.0 / (text.size + 1)),
    }
    if spec["encoding"] == "onehot":
        spec["categories"] = ranked
    else:
        spec["frequencies"] = frequencies
    return spec


def _z_column(table: pa.Table, spec: dict[str, Any]) -> np.ndarray:
    col = table.column(spec["name"])
    if spec["kind"] == NUMERIC:
        return np.asarray((_numeric(col, spec["median"]) - spec["median"]) / spec["scale"])
    z, unseen = spec["z"], spec["z_unseen"]
    return np.array([z.get(v, unseen) for v in _text(col).tolist()])
