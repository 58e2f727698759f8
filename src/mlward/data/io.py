"""Reading tabular data as Arrow, in partitions and batches.

A dataset is a file (CSV, Parquet, JSON Lines) or a directory of such files (for
example partitioned Parquet). ``open_dataset`` describes it as a list of picklable
``Partition`` objects; each yields Arrow record batches, so memory stays bounded by the
batch size, not by the dataset size, and the Dask engine can ship partitions to workers.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from mlward.core.errors import InputError
from mlward.data.csv_dialect import InputWarning, detect_dialect

SUFFIX_FORMATS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}
DEFAULT_BATCH_ROWS = 65_536
_CSV_BLOCK_BYTES = 8 << 20


def detect_format(path: Path) -> str:
    """Return ``csv``, ``parquet`` or ``jsonl`` for a data file, by magic bytes then suffix."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if head == b"PAR1":
        return "parquet"
    fmt = SUFFIX_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(
            f"{path}: unsupported data file type {path.suffix or '(no suffix)'!r}",
            hint="use .csv, .tsv, .parquet or .jsonl",
        )
    if fmt == "parquet":
        raise InputError(f"{path}: not a Parquet file (bad magic bytes)")
    return fmt


@dataclass(frozen=True)
class Partition:
    """One independently readable piece of a dataset (picklable)."""

    path: str
    """File holding the partition."""
    fmt: str
    """``csv``, ``parquet`` or ``jsonl``."""
    row_groups: tuple[int, ...] | None = None
    """Parquet row groups in this partition (None: the whole file)."""
    delimiter: str = ","
    """CSV field delimiter (sniffed by ``open_dataset`` unless given)."""
    encoding: str = "utf-8"
    """CSV text encoding (detected by ``open_dataset`` unless given); read as UTF-8."""

    def batches(self, batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        """Yield the partition's rows as record batches of at most ``batch_rows`` rows."""
        try:
            yield from _read_batches(self, batch_rows)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OSError, UnicodeDecodeError) as exc:
            undecodable = isinstance(exc, UnicodeDecodeError) or "UTF8" in str(exc)
            hint = f"read as {self.encoding}; pass --encoding (encoding=)" if undecodable else None
            raise InputError(f"cannot parse {self.path} as {self.fmt}: {exc}", hint=hint) from exc

    def read(self) -> pa.Table:
        """Read the whole partition into one table."""
        return pa.Table.from_batches(list(self.batches()), schema=self.schema())

    def schema(self) -> pa.Schema:
        """Return the Arrow schema of this partition."""
        try:
            if self.fmt == "parquet":
                return pq.read_schema(self.path)
            first = next(iter(self.batches(1024)), None)
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputError(f"cannot parse {self.path} as {self.fmt}: {exc}") from exc
        if first is None:
            return pa.schema([])
        return first.schema


def _read_batches(part: Partition, batch_rows: int) -> Iterator[pa.RecordBatch]:
    if part.fmt == "parquet":
        parquet = pq.ParquetFile(part.path)
        yield from parquet.iter_batches(batch_size=batch_rows, row_groups=part.row_groups)
    elif part.fmt == "csv":
        # Arrow reads UTF-8 natively and transcodes any other encoding through the
        # Python codec as it streams, so text columns stay strings, never ``binary``.
        native = part.encoding in ("utf-8", "utf8")
        reader = pacsv.open_csv(
            part.path,
            read_options=pacsv.ReadOptions(
                block_size=_CSV_BLOCK_BYTES, encoding="utf8" if native else part.encoding
            ),
            parse_options=pacsv.ParseOptions(delimiter=part.delimiter, newlines_in_values=True),
        )
        for batch in reader:
            yield from _split(batch, batch_rows)
    elif part.fmt == "jsonl":
        table = pajson.read_json(part.path)
        for batch in table.to_batches(max_chunksize=batch_rows):
            yield batch
    else:  # pragma: no cover - Partition is only built by open_dataset
        raise InputError(f"unsupported format {part.fmt!r}")


def _split(batch: pa.RecordBatch, rows: int) -> Iterator[pa.RecordBatch]:
    for start in range(0, batch.num_rows, rows):
        yield batch.slice(start, rows)


@dataclass(frozen=True)
class Dataset:
    """A dataset on disk described as partitions."""

    root: Path
    """The file or directory the user named."""
    partitions: tuple[Partition, ...]
    """Pieces to read, in a stable order."""

    # A Dataset is path-like, so every function that takes a path takes an opened
    # dataset too, with the delimiter / encoding it was opened with (open_dataset
    # returns a Dataset unchanged); labels and lineage see the path.
    def __fspath__(self) -> str:
        """The path the user named."""
        return os.fspath(self.root)

    def __str__(self) -> str:
        """The path the user named."""
        return str(self.root)

    def batches(self, batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        """Yield every batch of every partition in order."""
        for part in self.partitions:
            yield from part.batches(batch_rows)

    def read(self) -> pa.Table:
        """Read everything into one Arrow table (for small data and tests)."""
        tables = [part.read() for part in self.partitions]
        return pa.concat_tables(tables, promote_options="default") if tables else pa.table({})

    def schema(self) -> pa.Schema:
        """Return the schema of the first partition."""
        return self.partitions[0].schema()


def _files_under(root: Path) -> list[Path]:
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "_")))
        for name in sorted(filenames):
            if name.startswith((".", "_")):
                continue
            if Path(name).suffix.lower() in SUFFIX_FORMATS:
                files.append(Path(dirpath) / name)
    return files


def open_dataset(
    path: str | os.PathLike[str] | Dataset,
    *,
    row_groups_per_partition: int = 1,
    delimiter: str | None = None,
    encoding: str | None = None,
) -> Dataset:
    """Describe the file or directory at ``path`` as a ``Dataset`` of partitions.

    Each CSV file's delimiter (``,`` ``;`` tab ``|``) and encoding (BOM, UTF-8, else
    CP1252 / Latin-1) are detected from a sample; ``delimiter`` and ``encoding`` override
    the detection for every CSV file. A ``Dataset`` is returned as it is, so the
    functions that take a path also take an opened dataset (with its overrides).
    """
    if isinstance(path, Dataset):
        return path
    root = Path(path)
    if not root.exists():
        raise InputError(f"{root}: no such file or directory")
    files = [root] if root.is_file() else _files_under(root)
    if not files:
        raise InputError(f"{root}: no CSV, Parquet or JSON Lines files found")
    parts: list[Partition] = []
    for file in files:
        fmt = detect_format(file)
        if fmt == "parquet":
            try:
                groups = pq.ParquetFile(file).num_row_groups
            except (pa.ArrowInvalid, OSError) as exc:
                raise InputError(f"cannot parse {file} as parquet: {exc}") from exc
            step = max(1, row_groups_per_partition)
            for start in range(0, max(groups, 1), step):
                chunk = tuple(range(start, min(start + step, groups)))
                parts.append(Partition(str(file), fmt, chunk or None))
        elif fmt == "csv":
            dialect = detect_dialect(file, delimiter=delimiter, encoding=encoding)
            parts.append(Partition(str(file), fmt, None, dialect.delimiter, dialect.encoding))
        else:
            parts.append(Partition(str(file), fmt))
    return Dataset(root, tuple(parts))


def to_arrow(data: Any) -> pa.Table:
    """Convert pandas, Polars or Arrow data to an Arrow table.

    A pandas object column mixing types (``[1, 2, "abc"]``) is read as text, with an
    ``InputWarning`` naming it; any other value Arrow cannot convert is an ``InputError``
    naming the column.
    """
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    module = type(data).__module__
    if module.startswith("polars"):
        try:
            return data.to_arrow()
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise InputError(f"cannot convert the Polars frame to Arrow: {exc}") from exc
    if module.startswith("pandas"):
        return _pandas_to_arrow(data)
    raise InputError(f"unsupported data object {type(data).__name__}; pass pandas, Polars or Arrow")


def _pandas_to_arrow(frame: Any) -> pa.Table:
    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        pass  # find the columns at fault below, and say which
    if getattr(frame, "ndim", 2) == 1:  # a Series
        frame = frame.to_frame()
    columns = {}
    for name in frame.columns:
        series = frame[name]
        try:
            columns[str(name)] = pa.array(series, from_pandas=True)
            continue
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
            if series.dtype != object:
                raise InputError(
                    f"column {name!r} ({series.dtype}) cannot be converted to Arrow: {exc}"
                ) from exc
        warnings.warn(
            f"column {name!r} mixes value types; it is read as text (cast it to one type first)",
            InputWarning,
            stacklevel=4,
        )
        columns[str(name)] = pa.array([_as_text(value) for value in series], type=pa.string())
    return pa.table(columns)


def _as_text(value: Any) -> str | None:
    if _is_missing(value):
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _is_missing(value: Any) -> bool:
    import pandas as pd
    from pandas.api.types import is_scalar

    return value is None or (bool(is_scalar(value)) and bool(pd.isna(value)))
