"""How a CSV file is really written: its delimiter and its text encoding.

Files arrive as people export them: semicolons from a European spreadsheet, tabs, pipes,
Latin-1 or CP1252 from Windows tools, UTF-16 from Excel's "Unicode text". Reading them
all as comma-separated UTF-8 turns a semicolon file into one column (whose e-mails no
detector then sees) and Latin-1 text into ``binary`` columns that nothing scans. So
``open_dataset`` looks at a sample of each CSV file here, once, and the readers use what
was found; ``--delimiter`` / ``--encoding`` (``delimiter=`` / ``encoding=``) override it.
"""

from __future__ import annotations

import codecs
import csv
import io
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from mlward.core.errors import InputError

DELIMITERS = (",", ";", "\t", "|")
"""Delimiters the sniffer chooses between."""
SAMPLE_BYTES = 64 << 10
"""Bytes of each file the delimiter is sniffed from."""
ENCODING_SAMPLE_BYTES = 8 << 20
"""Bytes of each file the encoding is detected from: Arrow's first CSV block, from which
it infers the column types, so no text column of that block can turn ``binary``."""
_DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class InputWarning(UserWarning):
    """The input was read, but perhaps not as its author meant (check the message)."""


@dataclass(frozen=True)
class CsvDialect:
    """What a CSV file was found (or told) to use."""

    delimiter: str
    """Field delimiter, one character."""
    encoding: str
    """Python codec name of the file's text (``utf-8`` read natively by Arrow)."""


def parse_delimiter(value: str) -> str:
    """A user's ``--delimiter`` as one character (``tab``, ``\\t`` and names accepted)."""
    resolved = _DELIMITER_NAMES.get(value.lower(), value)
    if len(resolved) != 1 or resolved in '\r\n"':
        raise InputError(f"invalid delimiter {value!r}", hint="give one character, e.g. ';', '|' or 'tab'")
    return resolved


def parse_encoding(value: str) -> str:
    """A user's ``--encoding`` as a Python codec name; unknown names are an ``InputError``."""
    try:
        return codecs.lookup(value).name
    except LookupError:
        raise InputError(f"unknown encoding {value!r}", hint="e.g. utf-8, utf-16, latin-1, cp1252") from None


def detect_encoding(sample: bytes, *, complete: bool) -> str:
    """The encoding of ``sample``: a BOM, else valid UTF-8, else CP1252 or Latin-1.

    ``complete`` says the sample is the whole file (so a multi-byte character cut at
    the end of a partial sample is not taken for invalid UTF-8).
    """
    for bom, name in _BOMS:
        if sample.startswith(bom):
            return name
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=complete)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    # Not UTF-8: an 8-bit Western encoding. They agree on every byte but 0x80-0x9F,
    # which Latin-1 maps to unused control characters and CP1252 to letters and
    # punctuation (€, ", Š...); Windows exports are CP1252. Latin-1 decodes any byte, so
    # it is the choice when CP1252 cannot decode the sample.
    if any(0x80 <= byte <= 0x9F for byte in sample):
        try:
            sample.decode("cp1252")
            return "cp1252"
        except UnicodeDecodeError:
            pass
    return "latin-1"


def _records(text: str, delimiter: str, *, complete: bool) -> list[list[str]]:
    rows = [row for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter) if row]
    if not complete and len(rows) > 1:
        rows = rows[:-1]  # the sample may end inside the last record
    return rows


def sniff_delimiter(text: str, *, complete: bool, preferred: str = ",") -> str | None:
    """The delimiter that splits every record of ``text`` into the same number (> 1) of fields.

    Not ``csv.Sniffer``: its first guess comes from a regular expression over quoted
    fields and it happily returns a character that merely occurs in the values. Here
    each candidate is parsed with the real ``csv`` reader (quotes and embedded newlines
    honoured) and must give a table: the most consistent field count wins, then the
    widest table, then ``preferred``. None when no candidate splits the lines.
    """
    best: tuple[float, int, int] | None = None
    chosen = None
    for order, candidate in enumerate(sorted(DELIMITERS, key=lambda d: d != preferred)):
        counts = [len(row) for row in _records(text, candidate, complete=complete)]
        if not counts:
            continue
        width, hits = Counter(counts).most_common(1)[0]
        if width < 2:
            continue
        score = (hits / len(counts), width, -order)
        if best is None or score > best:
            best, chosen = score, candidate
    return chosen


def detect_dialect(path: Path, *, delimiter: str | None = None, encoding: str | None = None) -> CsvDialect:
    """Sniff the delimiter and encoding of the CSV file at ``path`` (overrides win)."""
    try:
        with path.open("rb") as handle:
            sample = handle.read(ENCODING_SAMPLE_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    whole = len(sample) <= ENCODING_SAMPLE_BYTES
    sample = sample[:ENCODING_SAMPLE_BYTES]
    chosen_encoding = parse_encoding(encoding) if encoding else detect_encoding(sample, complete=whole)
    if delimiter:
        return CsvDialect(parse_delimiter(delimiter), chosen_encoding)
    complete = len(sample) <= SAMPLE_BYTES
    head = sample[:SAMPLE_BYTES]
    text = codecs.getincrementaldecoder(chosen_encoding)(errors="replace").decode(head, final=complete)
    preferred = "\t" if path.suffix.lower() == ".tsv" else ","
    sniffed = sniff_delimiter(text, complete=complete, preferred=preferred)
    if sniffed is None:
        sniffed = preferred
        _warn_if_ambiguous(path, text, preferred, complete=complete)
    return CsvDialect(sniffed, chosen_encoding)


def _warn_if_ambiguous(path: Path, text: str, delimiter: str, *, complete: bool) -> None:
    """Warn when a one-column file's values hold another candidate delimiter."""
    values = "".join(cell for row in _records(text, delimiter, complete=complete) for cell in row)
    present = [d for d in DELIMITERS if d != delimiter and d in values]
    if present:
        shown = ", ".join(repr(d) for d in present)
        warnings.warn(
            f"{path}: read as one column, but its values contain {shown}; "
            "pass --delimiter (delimiter=) if that is the field separator",
            InputWarning,
            stacklevel=4,
        )
