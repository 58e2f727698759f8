"""``mlward ci init github|gitlab``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlward.cli.output import console

app = typer.Typer(help="CI/CT/CS/CD templates that run mlward's gates.", no_args_is_help=True)


@app.command("init")
def init(
    target: Annotated[str, typer.Argument(help="github or gitlab.")],
    directory: Annotated[Path, typer.Option("--dir", help="Repository root.")] = Path("."),
    data: Annotated[str, typer.Option(help="Data files or folders for the PII scan.")] = "data",
    extras: Annotated[str, typer.Option(help="pip extras to install with mlward (e.g. dask,postgres).")] = "",
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
    wheel: Annotated[
        Path | None,
        typer.Option(
            help="mlward wheel the workflow installs (default: build one from this mlward's source)."
        ),
    ] = None,
) -> None:
    """Write a CI workflow (model scan, PII scan, pipeline, SARIF, JUnit) and pre-commit hooks."""
    from mlward.pipeline.ci import init_ci

    for written in init_ci(directory, target, data_glob=data, extras=extras, force=force, wheel=wheel):
        verb = "wrote" if written.created else "kept existing (use --force)"
        console.print(f"{verb} {written.path}")
