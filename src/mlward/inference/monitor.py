"""Output monitoring: rolling prediction-distribution drift and confidence per model.

The first ``window`` predictions a model version serves are its reference (or a reference
sample given up front, e.g. predictions on the training set). After that, every tenth of a
window the last ``window`` predictions are compared with it by the population stability
index (``mlward.data.drift``'s PSI) on the reference's deciles (continuous scores) or on
classes (labels). Crossing ``threshold`` upwards is an alarm, going back below a recovery;
the caller audits both and exports the gauges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BINS = 10


@dataclass(frozen=True)
class DriftUpdate:
    """The state after a comparison."""

    psi: float
    """Population stability index of the current window against the reference."""
    confidence: float | None
    """Mean highest-class probability over the current window (classifiers)."""
    alarm: bool
    """PSI is at or above the threshold."""
    changed: bool
    """The alarm state changed with this update (raise or clear an alert)."""


class PredictionMonitor:
    """Rolling drift of one model version's outputs.

    The window keeps each prediction's bin and the bin counts are updated as predictions
    come and go, so a comparison costs a few operations on ``BINS`` numbers, not a pass
    over the window.
    """

    def __init__(
        self, window: int, threshold: float, *, categorical: bool, reference: np.ndarray | None = None
    ) -> None:
        self.window = window
        self.threshold = threshold
        self.categorical = categorical
        self._reference: list[np.ndarray] = []
        self._reference_size = 0
        self._edges: np.ndarray | None = None
        self._ref_mass: np.ndarray | None = None
        self._slot_bins = np.full(window, -1, dtype=np.intp)
        self._counts = np.zeros(0, dtype=np.int64)
        self._conf = np.zeros(window)
        self._has_conf = False
        self._filled = 0
        self._pos = 0
        self._since = 0
        self.alarm = False
        self.last: DriftUpdate | None = None
        if reference is not None and len(reference):
            self._set_reference(np.asarray(reference, dtype=np.float64))

    def _bin_index(self, values: np.ndarray) -> np.ndarray:
        assert self._edges is not None
        if self.categorical:
            index = np.searchsorted(self._edges, values)
            known = (index < len(self._edges)) & (
                self._edges[np.minimum(index, len(self._edges) - 1)] == values
            )
            return np.where(known, index, len(self._edges))
        return np.searchsorted(self._edges, values, side="right")

    def _set_reference(self, values: np.ndarray) -> None:
        if self.categorical:
            self._edges = np.unique(values)
        else:
            self._edges = np.unique(np.quantile(values, np.linspace(0, 1, BINS + 1)[1:-1]))
        counts = np.bincount(self._bin_index(values), minlength=len(self._edges) + 1)
        self._ref_mass = counts / max(counts.sum(), 1)
        self._counts = np.zeros(len(self._edges) + 1, dtype=np.int64)

    def observe(self, values: np.ndarray, confidence: np.ndarray | None = None) -> DriftUpdate | None:
        """Add predictions; returns an update when a comparison ran."""
        if self._ref_mass is None:
            self._reference.append(values)
            self._reference_size += len(values)
            if self._reference_size >= self.window:
                self._set_reference(np.concatenate(self._reference))
                self._reference.clear()
            return None
        n = min(len(values), self.window)
        if n == 1:  # single-row requests: scalar updates, no temporary arrays
            slot = self._pos
            if self._filled == self.window:
                self._counts[self._slot_bins[slot]] -= 1
            fresh_bin = int(self._bin_index(values[-1:])[0])
            self._counts[fresh_bin] += 1
            self._slot_bins[slot] = fresh_bin
            if confidence is not None:
                self._conf[slot] = confidence[-1]
                self._has_conf = True
        else:
            size = len(self._counts)
            end = self._pos + n
            # A slice (a view) unless the batch wraps around the end of the window.
            index: slice | np.ndarray = (
                slice(self._pos, end) if end <= self.window else np.arange(self._pos, end) % self.window
            )
            leaving = self._slot_bins[index]
            if self._filled + n > self.window:
                self._counts -= np.bincount(leaving[leaving >= 0], minlength=size)
            fresh = self._bin_index(values[-n:])
            self._counts += np.bincount(fresh, minlength=size)
            self._slot_bins[index] = fresh
            if confidence is not None:
                self._conf[index] = confidence[-n:]
                self._has_conf = True
        self._pos = (self._pos + n) % self.window
        self._filled = min(self._filled + n, self.window)
        self._since += n
        if self._filled < self.window or self._since < max(1, self.window // 10):
            return None
        self._since = 0
        from mlward.data.drift.binned import psi  # first use only: it pulls in the profile engine

        value = float(psi(self._ref_mass, self._counts / self.window))  # a 0-d array from numpy
        mean_conf = float(self._conf.mean()) if self._has_conf else None
        alarm = bool(value >= self.threshold)
        changed = alarm != self.alarm
        self.alarm = alarm
        self.last = DriftUpdate(value, mean_conf, alarm, changed)
        return self.last
