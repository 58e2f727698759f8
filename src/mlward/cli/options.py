"""Options shared by every command that reads data files: ``--delimiter`` and ``--encoding``.

Each such command declares ``delimiter: DelimiterOpt = None, encoding: EncodingOpt = None``
and passes its path through ``data_source``, so the options read the same everywhere.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

DelimiterOpt = Annotated[
    str | None,
    typer.Option(
        "--delimiter",
        help="CSV field delimiter: one character or tab (default: sniffed among , ; tab |).",
    ),
]
EncodingOpt = Annotated[
    str | None,
    typer.Option(
        "--encoding",
        help="CSV text encoding, e.g. utf-8, utf-16, latin-1, cp1252 (default: detected).",
    ),
]


def data_source(path: Any, delimiter: str | None, encoding: str | None) -> Any:
    """``path`` unchanged, or the dataset opened with the CSV overrides when any is given.

    Values that are not paths (a stored profile, say) pass through untouched.
    """
    if (delimiter is None and encoding is None) or not isinstance(path, str | os.PathLike):
        return path
    from mlward.data.io import open_dataset

    return open_dataset(path, delimiter=delimiter, encoding=encoding)
