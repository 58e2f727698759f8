"""The ``mlward`` command: global options, command groups and error handling.

Command modules only parse arguments, call domain services and format results; this
module turns ``MlwardError`` into one line on stderr and the exit code from DESIGN.md.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from typer.core import TyperOption

if TYPE_CHECKING:
    from typer._click import Context  # the vendored Click's, which display_type_rich declares

from mlward import __version__
from mlward.cli import audit as audit_cli
from mlward.cli import ci as ci_cli
from mlward.cli import keys as keys_cli
from mlward.cli import lineage as lineage_cli
from mlward.cli import run as run_cli
from mlward.cli import workspace as workspace_cli
from mlward.cli.context import STATE
from mlward.cli.output import OutputFormat, err_console
from mlward.core.errors import EXIT_INCOMPLETE, MlwardError


def _flag_type(self: TyperOption, ctx: Context) -> str | None:
    """On/off flags take no value: show no ``<bool>`` type placeholder in help (Typer does)."""
    return None if self.is_flag else _option_type(self, ctx)


_option_type = TyperOption.display_type_rich
# A deliberate patch of Typer's class: it has no hook for the help type placeholder.
TyperOption.display_type_rich = _flag_type  # type: ignore[method-assign]

app = typer.Typer(
    name="mlward",
    help="DevSecOps for machine learning: secure data, model files, pipelines and serving.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
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
        OutputFormat,
        typer.Option(
            "--format",
            "-f",
            show_choices=False,
            metavar="FORMAT",
            help="Default output format of the command that follows; each command's --help "
            "lists the formats it offers (table, json, and per command sarif, junit, html, cyclonedx).",
        ),
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

app.add_typer(ci_cli.app, name="ci")

app.command("run")(run_cli.run)
app.add_typer(run_cli.app, name="runs")
app.command("verify-provenance")(run_cli.verify_provenance)


# Heavy groups load on first use (see cli.lazy): name -> (module:factory, help);
# single commands: name -> (module:function, help).
LAZY = {
    "data": (
        "mlward.cli.groups:data_app",
        "DataOps security: versions, PII, contracts, drift, outliers, fairness.",
    ),
    "model": ("mlward.cli.groups:model_app", "Model supply chain: scan, sign, register, promote, load, BOM."),
    "deps": ("mlward.cli.groups:deps_app", "Dependency vulnerability audit (OSV)."),
    "tokens": (
        "mlward.cli.groups:tokens_app",
        "API tokens of the inference gateway (shown once, stored hashed).",
    ),
}
LAZY_COMMANDS = {
    "sbom": (
        "mlward.cli.deps:sbom",
        "CycloneDX 1.6 SBOM of the environment and the registered models.",
    ),
    "serve": (
        "mlward.cli.serve:serve",
        "Serve production models: verified, authenticated, rate limited, audited.",
    ),
    "predict": (
        "mlward.cli.serve:predict",
        "Predict with a model: through a running gateway, or --local in this process.",
    ),
}


def build_cli() -> typer.core.TyperGroup:
    """The full command tree: the Typer app plus the lazily loaded groups."""
    from mlward.cli.lazy import LazyCommand, LazyGroup

    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    for name, (target, help_text) in LAZY.items():
        group.add_command(LazyGroup(name, target, help_text), name)
    for name, (target, help_text) in LAZY_COMMANDS.items():
        group.add_command(LazyCommand(name, target, help_text), name)
    return group


def run() -> None:
    """Console-script entry point."""
    code = 0
    try:
        build_cli().main(standalone_mode=True, prog_name="mlward")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if _interrupted(exc):
            # Typer turns Ctrl-C into a silent exit 130; say what it left behind.
            err_console.print(_interrupted_message(), highlight=False)
            code = 130
    except MlwardError as exc:
        if STATE.debug:
            raise
        err_console.print(
            f"[bold red]error:[/] {escape(str(exc))}", markup=True, highlight=False, soft_wrap=True
        )
        code = exc.exit_code
    except KeyboardInterrupt:
        err_console.print(_interrupted_message(), highlight=False)
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


def _interrupted(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, KeyboardInterrupt):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _interrupted_message() -> str:
    # A transaction interrupted half way rolls back; only transactions that had already
    # committed (a multi-step command's earlier steps) are left, and then we say so.
    workspace = STATE._workspace
    store = workspace.__dict__.get("metadata") if workspace is not None else None
    if store is not None and store.committed_writes:
        return (
            f"interrupted; {store.committed_writes} change(s) committed before the interrupt were kept "
            "and the step in progress was rolled back (see 'mlward status' and 'mlward audit log')"
        )
    return "interrupted; nothing was written"


if __name__ == "__main__":
    run()
