"""The ``mlward`` command: global options, command groups and error handling.

Command modules only parse arguments, call domain services and format results; this
module turns ``MlwardError`` into one line on stderr and the exit code from DESIGN.md.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from mlward import __version__
from mlward.cli import audit as audit_cli
from mlward.cli import ci as ci_cli
from mlward.cli import deps as deps_cli
from mlward.cli import keys as keys_cli
from mlward.cli import lineage as lineage_cli
from mlward.cli import model_registry, model_sign
from mlward.cli import run as run_cli
from mlward.cli import workspace as workspace_cli
from mlward.cli.context import STATE
from mlward.cli.output import OutputFormat, err_console
from mlward.core.errors import EXIT_INCOMPLETE, MlwardError

app = typer.Typer(
    name="mlward",
    help="DevSecOps for machine learning: secure data, model files, pipelines and serving.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mlward {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    workspace: Annotated[
        Path | None,
        typer.Option("--workspace", "-w", help="Workspace directory (default: search upwards from here)."),
    ] = None,
    format: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="Default output format.")
    ] = OutputFormat.table,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Global options."""
    STATE.workspace_dir = workspace
    STATE.format = format
    STATE.debug = debug


app.command("init")(workspace_cli.init)
app.command("status")(workspace_cli.status)
app.add_typer(keys_cli.app, name="keys")
app.add_typer(audit_cli.app, name="audit")
app.add_typer(lineage_cli.app, name="lineage")

model_app = typer.Typer(help="Model supply chain: scan, sign, register, promote, load.", no_args_is_help=True)
model_app.command("sign")(model_sign.sign)
model_app.command("verify")(model_sign.verify)
model_app.command("register")(model_registry.register)
model_app.command("ls")(model_registry.ls)
model_app.command("show")(model_registry.show)
model_app.command("promote")(model_registry.promote)
model_app.command("verify-stored")(model_registry.verify_stored)
model_app.command("export")(model_registry.export)
model_app.command("bom")(model_registry.bom)
app.add_typer(model_app, name="model")

deps_app = typer.Typer(help="Dependency vulnerability audit (OSV).", no_args_is_help=True)
deps_app.command("audit")(deps_cli.audit)
app.add_typer(deps_app, name="deps")
app.command("sbom")(deps_cli.sbom)

app.add_typer(ci_cli.app, name="ci")

app.command("run")(run_cli.run)
app.add_typer(run_cli.app, name="runs")
app.command("verify-provenance")(run_cli.verify_provenance)
model_sign.set_key_loaders(
    private_key_loader=lambda: STATE.workspace().keys.signing_key(),
    public_key_loader=lambda: list(STATE.workspace().keys.public_keys().values()),
)


def run() -> None:
    """Console-script entry point."""
    code = 0
    try:
        app(standalone_mode=True)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except MlwardError as exc:
        if STATE.debug:
            raise
        err_console.print(
            f"[bold red]error:[/] {escape(str(exc))}", markup=True, highlight=False, soft_wrap=True
        )
        code = exc.exit_code
    except KeyboardInterrupt:
        err_console.print("interrupted")
        code = 130
    except Exception as exc:
        if STATE.debug:
            raise
        err_console.print(
            f"[bold red]internal error:[/] {type(exc).__name__}: {escape(str(exc))} "
            "(run with --debug for the traceback)",
            markup=True,
            highlight=False,
            soft_wrap=True,
        )
        code = EXIT_INCOMPLETE
    finally:
        STATE.close()
    sys.exit(code)


if __name__ == "__main__":
    run()
