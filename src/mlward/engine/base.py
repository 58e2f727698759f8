"""The map / merge / finalize contract every data computation follows.

A ``Computation`` turns one record batch into a summary (``map``), combines two
summaries (``merge``, associative), and turns the final summary into a result
(``finalize``). Engines decide where the maps run: threads in-process
(``LocalEngine``) or a Dask cluster (``DaskEngine``); results are the same.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Generic, TypeVar

import pyarrow as pa

from mlward.data.io import Dataset

S = TypeVar("S")
R = TypeVar("R")

ProgressCallback = Callable[[int], None]
"""Called with the number of rows just processed."""


class Computation(ABC, Generic[S, R]):
    """A mergeable computation over record batches. Instances must be picklable."""

    @abstractmethod
    def map(self, batch: pa.RecordBatch) -> S:
        """Summarize one batch."""

    @abstractmethod
    def merge(self, left: S, right: S) -> S:
        """Combine two summaries (associative; order of partitions is preserved)."""

    @abstractmethod
    def finalize(self, summary: S) -> R:
        """Turn the merged summary into the result."""

    def empty(self) -> S:
        """Summary of no rows; by default the map of an empty batch is not defined."""
        raise NotImplementedError(f"{type(self).__name__} has no summary for an empty dataset")


class Engine(ABC):
    """Runs computations over datasets."""

    @abstractmethod
    def run(
        self,
        computation: Computation[S, R],
        dataset: Dataset,
        *,
        progress: ProgressCallback | None = None,
    ) -> R:
        """Run ``computation`` over every batch of ``dataset`` and return its result."""

    def summarize(
        self,
        computation: Computation[S, R],
        dataset: Dataset,
        *,
        progress: ProgressCallback | None = None,
    ) -> S:
        """Return the merged summary (before ``finalize``), e.g. to store a profile."""
        raise NotImplementedError


def reduce_summaries(computation: Computation[S, R], summaries: list[S]) -> S:
    """Merge summaries pairwise in a balanced tree, preserving order."""
    if not summaries:
        return computation.empty()
    while len(summaries) > 1:
        merged = [computation.merge(summaries[i], summaries[i + 1]) for i in range(0, len(summaries) - 1, 2)]
        if len(summaries) % 2:
            merged.append(summaries[-1])
        summaries = merged
    return summaries[0]
