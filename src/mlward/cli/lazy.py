"""Command groups imported only when used, so ``mlward --version`` and the light
commands start fast: the data, model and serving groups pull in pyarrow, polars,
scikit-learn and friends, which take seconds to import."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperCommand, TyperGroup

if TYPE_CHECKING:
    # The vendored Click's Context, which the methods overridden here are declared with.
    from typer._click import Context

# Typer's own command classes are used as bases: recent Typer versions vendor Click, so
# ``click.Group`` would not mix with the groups Typer builds.


def _load(target: str) -> Any:
    module, _, attribute = target.partition(":")
    built = getattr(importlib.import_module(module), attribute)()
    # get_group, not get_command: a Typer app with a single command would otherwise collapse
    # into that command, and the group's subcommand name ("deps audit") would be lost.
    return typer.main.get_group(built) if isinstance(built, typer.Typer) else built


class LazyGroup(TyperGroup):
    """A group whose real commands come from ``module:factory`` on first use."""

    def __init__(self, name: str, target: str, help: str) -> None:
        super().__init__(name=name, help=help, short_help=help)
        self._target = target
        self._real: TyperGroup | None = None

    def _group(self) -> TyperGroup:
        if self._real is None:
            self._real = _load(self._target)
        return self._real

    def list_commands(self, ctx: Context) -> list[str]:
        return self._group().list_commands(ctx)

    def get_command(self, ctx: Context, cmd_name: str) -> Any:
        return self._group().get_command(ctx, cmd_name)

    def format_help(self, ctx: Context, formatter: Any) -> None:
        self._group().format_help(ctx, formatter)


class LazyCommand(TyperCommand):
    """A single command: the Typer function ``module:function``, imported when invoked."""

    def __init__(self, name: str, target: str, help: str) -> None:
        super().__init__(
            name=name,
            help=help,
            short_help=help,
            add_help_option=False,
            context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
        )
        self._target = target

    def invoke(self, ctx: Context) -> Any:
        module, _, attribute = self._target.partition(":")
        app = typer.Typer(add_completion=False)
        app.command(self.name)(getattr(importlib.import_module(module), attribute))
        real = typer.main.get_command(app)
        with real.make_context(ctx.info_name, list(ctx.args), parent=ctx.parent) as sub:
            return real.invoke(sub)
