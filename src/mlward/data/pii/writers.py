"""Streaming table writers for protected output (Parquet, CSV, JSON Lines), atomically.

Rows are written batch by batch into a temporary file next to the destination, which
is renamed into place only when everything was written: a failed ``protect`` never
leaves a half-written (or half-protected) file behind. Parquet keeps the per-column
protection metadata that ``reveal`` reads and the seals later scans verify (written into
the footer once every batch is in); CSV and JSON Lines cannot.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from mlward.core.errors import InputError
from mlward.data.io import SUFFIX_FORMATS


def output_format(path: Path) -> str:
    """``parquet``, ``csv`` or ``jsonl`` from the destination's suffix."""
    fmt = SUFFIX_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"{path}: unsupported output type; use .parquet, .csv or .jsonl")
    return fmt


def write_tables(
    tables: Iterable[pa.Table],
    destination: str | os.PathLike[str],
    *,
    footer: Callable[[], dict[bytes, bytes]] | None = None,
) -> int:
    """Write ``tables`` (same schema) to ``destination`` atomically; return the row count.

    ``footer`` is called after the last table: its entries go into the Parquet footer's
    key-value metadata (ignored for CSV and JSON Lines).
    """
    target = Path(destination)
    fmt = output_format(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(handle)
    temp = Path(temp_name)
    rows = 0
    writer: pq.ParquetWriter | pacsv.CSVWriter | None = None
    schema: pa.Schema | None = None
    try:
        with temp.open("wb") as sink:
            for table in tables:
                if schema is None:
                    schema = table.schema
                    if fmt == "parquet":
                        writer = pq.ParquetWriter(sink, schema)
                    elif fmt == "csv":
                        writer = pacsv.CSVWriter(sink, schema)
                table = table.cast(schema)
                if writer is not None:
                    writer.write_table(table)
                else:
                    for row in table.to_pylist():
                        sink.write(json.dumps(row, default=str).encode() + b"\n")
                rows += table.num_rows
            if writer is not None:
                if footer is not None and isinstance(writer, pq.ParquetWriter) and (extra := footer()):
                    writer.add_key_value_metadata(extra)
                writer.close()
        temp.replace(target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return rows
