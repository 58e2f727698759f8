"""The distributed engine: the same map / merge over a Dask cluster.

Each Dask task reads one ``Partition`` on a worker, maps its batches and merges them;
the small summaries come back and are merged here. Workers therefore need read access
to the data paths (a shared filesystem or an fsspec URL).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, TypeVar

from mlward.core.errors import ConfigError
from mlward.core.optional import require
from mlward.data.io import DEFAULT_BATCH_ROWS, Dataset, Partition
from mlward.engine.base import Computation, Engine, ProgressCallback, reduce_summaries

S = TypeVar("S")
R = TypeVar("R")


def _distributed() -> ModuleType:
    return require("distributed", feature="the Dask engine")


def summarize_partition(
    computation: Computation[S, R], partition: Partition, batch_rows: int
) -> tuple[S, int]:
    """Map and merge one partition's batches (runs on a worker)."""
    summaries = []
    rows = 0
    for batch in partition.batches(batch_rows):
        summaries.append(computation.map(batch))
        rows += batch.num_rows
    return reduce_summaries(computation, summaries), rows


class DaskEngine(Engine):
    """Run computations on a Dask cluster (``address``) or a private ``LocalCluster``."""

    def __init__(
        self,
        address: str | None = None,
        *,
        n_workers: int = 2,
        batch_rows: int = DEFAULT_BATCH_ROWS,
    ) -> None:
        _distributed()
        self.address = address
        self.n_workers = n_workers
        self.batch_rows = batch_rows
        self._client: Any = None
        self._cluster: Any = None

    def _connect(self) -> Any:
        distributed = _distributed()
        if self._client is None:
            if self.address:
                try:
                    self._client = distributed.Client(self.address, timeout="10s")
                except OSError as exc:
                    raise ConfigError(f"cannot reach the Dask scheduler at {self.address}: {exc}") from exc
            else:
                self._cluster = distributed.LocalCluster(
                    n_workers=self.n_workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    host="127.0.0.1",
                )
                self._client = distributed.Client(self._cluster)
        return self._client

    def close(self) -> None:
        """Close the client and any private cluster."""
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def __enter__(self) -> DaskEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def summarize(
        self,
        computation: Computation[S, R],
        dataset: Dataset,
        *,
        progress: ProgressCallback | None = None,
    ) -> S:
        """Summarize each partition on the cluster and merge the results here."""
        as_completed = _distributed().as_completed
        client = self._connect()
        futures = [
            client.submit(summarize_partition, computation, part, self.batch_rows, pure=False)
            for part in dataset.partitions
        ]
        order = {future.key: index for index, future in enumerate(futures)}
        results: dict[int, S] = {}
        for future in as_completed(futures):
            summary, rows = future.result()
            results[order[future.key]] = summary
            if progress is not None:
                progress(rows)
        return reduce_summaries(computation, [results[index] for index in range(len(futures))])

    def run(
        self,
        computation: Computation[S, R],
        dataset: Dataset,
        *,
        progress: ProgressCallback | None = None,
    ) -> R:
        """Summarize on the cluster, then finalize here."""
        return computation.finalize(self.summarize(computation, dataset, progress=progress))


def make_engine(name: str = "local", *, scheduler: str | None = None, workers: int | None = None) -> Engine:
    """Build an engine by name: ``local`` or ``dask``."""
    if name == "local":
        from mlward.engine.local import LocalEngine

        return LocalEngine(workers=workers)
    if name == "dask":
        return DaskEngine(scheduler, n_workers=workers or 2)
    raise ConfigError(f"unknown engine {name!r}; expected 'local' or 'dask'")
