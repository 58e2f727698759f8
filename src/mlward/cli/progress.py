"""Progress display for long CLI steps: Rich on a terminal, silent everywhere else.

A live display is shown only when the result goes to a person: the output format is
``table`` and both stdout and stderr are terminals. With ``--format json``, a pipe or a
file on stdout, or a CI log on stderr, nothing but the result is written, so output stays
machine-readable and logs carry no redraw noise.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from mlward.cli.output import OutputFormat, err_console


class StepProgress:
    """What a long step reports: rows processed (call it) and the current phase."""

    def __init__(self, bar: Progress | None = None) -> None:
        self._bar = bar
        self._rows = 0
        self._task = bar.add_task("", total=None, counted="") if bar is not None else None

    def __call__(self, rows: int) -> None:
        """Count ``rows`` more rows processed (an engine ``ProgressCallback``)."""
        self._rows += rows
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, counted=f"{self._rows:,} rows")

    def phase(self, label: str) -> None:
        """Show ``label`` as what is being done now."""
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, description=label)

    def note(self, text: str) -> None:
        """Print a line above the live display (or plainly on stderr when there is none)."""
        if self._bar is not None:
            self._bar.console.print(text, highlight=False)
        else:
            err_console.print(text, highlight=False)

    @property
    def live(self) -> bool:
        """Whether a live display is shown."""
        return self._bar is not None


def wants_live_display(
    fmt: OutputFormat, stdout: TextIO | None = None, console: Console | None = None
) -> bool:
    """A live display only for a table on a terminal, with stderr a terminal too."""
    out = stdout if stdout is not None else sys.stdout
    shown_on = console if console is not None else err_console
    return fmt is OutputFormat.table and _isatty(out) and shown_on.is_terminal


@contextmanager
def step_progress(
    label: str, fmt: OutputFormat, *, console: Console | None = None, stdout: TextIO | None = None
) -> Iterator[StepProgress]:
    """A spinner with ``label``, rows counted and time elapsed, or a silent stand-in."""
    shown_on = console if console is not None else err_console
    if not wants_live_display(fmt, stdout, shown_on):
        yield StepProgress()
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("[dim]{task.fields[counted]}[/]"),
        TimeElapsedColumn(),
        console=shown_on,
        transient=True,
    ) as bar:
        reporter = StepProgress(bar)
        reporter.phase(label)
        yield reporter


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or not a real stream
        return False
