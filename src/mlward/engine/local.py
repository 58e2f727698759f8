"""The in-process engine: maps batches on a thread pool.

Arrow and Polars kernels release the GIL, so threads give real parallelism for the
per-batch work while the reader streams the next batches. At most ``2 * workers``
batches are in flight, which bounds memory by batch size, not by dataset size.
"""

from __future__ import annotations

import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from mlward.data.io import DEFAULT_BATCH_ROWS, Dataset
from mlward.engine.base import Computation, Engine, ProgressCallback, reduce_summaries

S = TypeVar("S")
R = TypeVar("R")


class LocalEngine(Engine):
    """Run computations in this process on ``workers`` threads."""

    def __init__(self, workers: int | None = None, batch_rows: int = DEFAULT_BATCH_ROWS) -> None:
        self.workers = workers or min(4, os.cpu_count() or 1)
        self.batch_rows = batch_rows

    def summarize(
        self,
        computation: Computation[S, R],
        dataset: Dataset,
        *,
        progress: ProgressCallback | None = None,
    ) -> S:
        """Map every batch on the pool and merge the summaries in order."""
        summaries: list[S] = []
        pending: deque[tuple[Future[S], int]] = deque()
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="mlward-map") as pool:
            for batch in dataset.batches(self.batch_rows):
                pending.append((pool.submit(computation.map, batch), batch.num_rows))
                while len(pending) >= 2 * self.workers:
                    summaries.append(_collect(pending, progress))
            while pending:
                summaries.append(_collect(pending, progress))
        return reduce_summaries(computation, summaries)

    def run(
        self,
        computation: Computation[S, R],
        dataset: Dataset,
        *,
        progress: ProgressCallback | None = None,
    ) -> R:
        """Summarize then finalize."""
        return computation.finalize(self.summarize(computation, dataset, progress=progress))


def _collect(pending: deque[tuple[Future[S], int]], progress: ProgressCallback | None) -> S:
    future, rows = pending.popleft()
    summary = future.result()
    if progress is not None:
        progress(rows)
    return summary
