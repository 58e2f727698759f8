"""Run by test_clean_install.py inside a fresh venv: import every module, ask every command for help.

Prints one JSON object: the modules and commands checked and what failed (with tracebacks).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import pkgutil
import sys
import traceback
from collections.abc import Iterator
from typing import Any

import typer
from typer.testing import CliRunner

import mlward
from mlward.cli.main import build_cli
from mlward.core.optional import EXTRAS, MODULES_BEHIND_EXTRAS

# Alembic runs this file as a script inside a migration context; it is not an importable module.
SCRIPTS = ("mlward.store.migrations.env",)


def import_everything() -> tuple[list[str], dict[str, str]]:
    """Import every mlward module except those behind an extra; return them and the failures."""
    failed: dict[str, str] = {}

    def walk_error(name: str) -> None:
        failed[name] = traceback.format_exc()

    names = [info.name for info in pkgutil.walk_packages(mlward.__path__, "mlward.", onerror=walk_error)]
    skipped = (*MODULES_BEHIND_EXTRAS, *SCRIPTS)
    checked = [name for name in names if not name.startswith(skipped)]
    for name in checked:
        try:
            importlib.import_module(name)
        except BaseException:
            failed[name] = traceback.format_exc()
    return checked, failed


def command_paths(
    command: Any, failed: dict[str, str], path: tuple[str, ...] = ()
) -> Iterator[tuple[str, ...]]:
    """Every command path in the tree, groups included (``()`` is ``mlward`` itself).

    A group whose commands cannot be listed (a lazy group failing to import) is a failure.
    """
    yield path
    if hasattr(command, "list_commands"):
        ctx = typer.Context(command, info_name=path[-1] if path else "mlward")
        try:
            children = [(name, command.get_command(ctx, name)) for name in command.list_commands(ctx)]
        except BaseException:
            failed[" ".join(("mlward", *path))] = traceback.format_exc()
            return
        for name, child in children:
            yield from command_paths(child, failed, (*path, name))


def help_everything() -> tuple[list[str], dict[str, str]]:
    """Run ``--help`` of every command; return the paths and the failures."""
    # In one process (a subprocess per command would take minutes): Typer's CliRunner only
    # takes a Typer app, so its isolation (captured stdout/stderr) wraps the click tree directly.
    runner = CliRunner()
    failed: dict[str, str] = {}
    checked: list[str] = []
    cli = build_cli()
    for path in command_paths(cli, failed):
        shown = " ".join(("mlward", *path))
        checked.append(shown)
        code: Any = 0
        crash = ""
        with runner.isolation() as (stdout, stderr, _):
            try:
                cli.main([*path, "--help"], prog_name="mlward")
            except SystemExit as exc:
                code = exc.code or 0
            except BaseException:
                code, crash = "crash", traceback.format_exc()
            sys.stdout.flush()
            sys.stderr.flush()
            output = stdout.getvalue().decode() + stderr.getvalue().decode() + crash
        if code != 0 or "Traceback" in output or "Usage:" not in output:
            failed.setdefault(shown, f"exit {code}\n{output}")
    return checked, failed


def main() -> None:
    # Before anything imports them as a side effect: what the default install brought.
    present = sorted(m for modules in EXTRAS.values() for m in modules if importlib.util.find_spec(m))
    modules, import_failures = import_everything()
    commands, help_failures = help_everything()
    json.dump(
        {
            "location": mlward.__file__,
            "extra_modules_present": present,
            "modules": modules,
            "import_failures": import_failures,
            "commands": commands,
            "help_failures": help_failures,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
