"""Shared CLI output helpers: one Rich console, JSON emission, format choices.

Command modules format results with these helpers so every command prints the same
way; domain code never imports this module.
"""

from __future__ import annotations

import enum
import json
import sys
from typing import Any

from rich.console import Console

# stdout carries results (tables, JSON, SARIF); stderr carries progress and errors, so
# `mlward ... --format json > out.json` stays machine-readable.
console = Console(highlight=False, soft_wrap=False)
err_console = Console(stderr=True, highlight=False)


class OutputFormat(enum.StrEnum):
    """Result formats a command may offer (each command accepts a subset)."""

    table = "table"
    json = "json"
    sarif = "sarif"
    junit = "junit"
    markdown = "markdown"
    html = "html"
    cyclonedx = "cyclonedx"


def emit_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout (no Rich markup processing)."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str))
    sys.stdout.write("\n")
    sys.stdout.flush()


def emit_text(text: str) -> None:
    """Print raw text on stdout (no Rich markup processing)."""
    sys.stdout.write(text)
    if not text.endswith("\n"):
        sys.stdout.write("\n")
    sys.stdout.flush()
