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
