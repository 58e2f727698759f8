"""Options shared across commands: ``--format``, ``--delimiter`` and ``--encoding``.

Each command that reads data files declares ``delimiter: DelimiterOpt = None, encoding:
EncodingOpt = None`` and passes its path through ``data_source``, so the options read the
same everywhere. Each command with results declares ``format: FormatOpt = None`` (table or
json) or ``Annotated[OutputFormat | None, format_option(FORMATS)]`` and checks the choice
with ``resolve_format(format, FORMATS)``: its help lists exactly the formats it offers.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

from mlward.cli.output import OutputFormat

TABLE_JSON = ("table", "json")


def format_option(formats: tuple[str, ...] = TABLE_JSON) -> Any:
    """The ``--format/-f`` option of a command offering ``formats``; its help lists only those."""
    listed = ", ".join(formats[:-1]) + f" or {formats[-1]}" if len(formats) > 1 else formats[0]
    return typer.Option(
        "--format",
        "-f",
        metavar="[" + "|".join(formats) + "]",
        show_choices=False,
        help=f"Output format: {listed} (default: the global --format).",
    )


FormatOpt = Annotated[OutputFormat | None, format_option()]

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
