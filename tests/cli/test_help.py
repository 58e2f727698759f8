"""Help reads well: -h works everywhere, and flags show no ``<bool>`` placeholder (issue 17)."""

from __future__ import annotations

import pytest

COMMANDS = [
    [],
    ["data"],
    ["data", "scan"],
    ["model", "scan"],
    ["deps", "audit"],
    ["run"],
    ["audit", "verify"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "mlward")
def test_short_help_works_and_flags_have_no_type_placeholder(mlward, command) -> None:
    short = mlward(*command, "-h")
    assert short.code == 0, short.err
    assert "Usage:" in short.out and "<bool>" not in short.out
    assert mlward(*command, "--help").out == short.out


def _commands_with_format():
    """Every (path, click command) of the tree whose command has a --format option."""
    from mlward.cli.main import build_cli

    def walk(command, path: tuple[str, ...]):
        if hasattr(command, "list_commands"):  # a group (Typer vendors its own click)
            ctx = command.context_class(command)
            for name in command.list_commands(ctx):
                yield from walk(command.get_command(ctx, name), (*path, name))
        elif any(p.name == "format" for p in command.params):
            yield path, command

    yield from walk(build_cli(), ())


def test_each_command_lists_only_the_formats_it_offers():
    from mlward.cli.output import OutputFormat

    seen = {}
    for path, command in _commands_with_format():
        option = next(p for p in command.params if p.name == "format")
        offered = option.metavar.strip("[]").split("|")
        assert set(offered) <= {f.value for f in OutputFormat}, path
        assert set(offered) != {f.value for f in OutputFormat}, f"{path} lists every format"
        seen[" ".join(path)] = offered
    assert seen["model scan"] == ["table", "json", "sarif"]
    assert seen["run"] == ["table", "json", "junit"]
    assert seen["data ls"] == ["table", "json"]
    assert len(seen) >= 25


@pytest.mark.parametrize(
    ("command", "refused", "offered"),
    [
        (["status"], "sarif", "table, json"),
        (["model", "scan", "x.pkl"], "html", "table, json, sarif"),
        (["run"], "sarif", "table, json, junit"),
    ],
)
def test_a_format_the_help_does_not_list_is_refused(mlward, command, refused, offered) -> None:
    assert mlward("init", "ws").code == 0
    result = mlward("-w", "ws", "--format", refused, *command)
    assert result.code == 2, (result.out, result.err)
    assert f"--format {refused} is not available here; choose one of: {offered}" in result.err


def test_shell_completion_completes_lazy_groups_and_options(mlward) -> None:
    # The README's line; --show-completion detects the shell from the parent processes,
    # which a test runner does not have.
    script = mlward(env={"_MLWARD_COMPLETE": "source_bash"})
    assert script.code == 0 and "_MLWARD_COMPLETE=complete_bash" in script.out, script.err
    words = mlward(
        env={"COMP_WORDS": "mlward model s", "COMP_CWORD": "2", "_MLWARD_COMPLETE": "complete_bash"}
    )
    assert words.out.split() == ["scan", "sign", "show"]
    options = mlward(
        env={"COMP_WORDS": "mlward model scan --f", "COMP_CWORD": "3", "_MLWARD_COMPLETE": "complete_bash"}
    )
    assert "--format" in options.out.split() and "--fail-on" in options.out.split()
