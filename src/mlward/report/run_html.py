"""A self-contained HTML report of one pipeline run (no scripts, no network)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, select_autoescape


def render_run_report(run: dict[str, Any], project: str) -> str:
    """Render a run (``RunResult.to_dict()``) as one HTML page."""
    template_text = resources.files("mlward.web").joinpath("templates/run_report.html").read_text()
    env = Environment(autoescape=select_autoescape(default=True), trim_blocks=True, lstrip_blocks=True)
    return env.from_string(template_text).render(run=run, project=project)


def write_run_report(result: Any, path: Path, project: str) -> Path:
    """Write the report of ``result`` (a ``RunResult``) to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_run_report(result.to_dict(), project), encoding="utf-8")
    return path
