from __future__ import annotations

from pathlib import Path

import pytest

from mlward.core.config import load_config, load_yaml
from mlward.core.errors import ConfigError


def test_repeated_top_level_block_names_the_key_and_both_lines(tmp_path: Path):
    path = tmp_path / "mlward.yaml"
    path.write_text(
        "project: demo\n"
        "roles:\n"
        "  admin:\n"
        "    members: [alice]\n"
        "    permissions: ['*']\n"
        "serve:\n"
        "  port: 9000\n"
        "roles:\n"
        "  viewer:\n"
        "    members: [bob]\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    message = str(caught.value)
    assert "duplicate key 'roles'" in message
    assert "line 8" in message and "line 2" in message
    assert str(path) in message
    assert caught.value.exit_code == 2


def test_repeated_key_deep_inside_is_an_error(tmp_path: Path):
    path = tmp_path / "mlward.yaml"
    path.write_text(
        "roles:\n  admin:\n    members: [alice]\n    permissions: ['*']\n    members: [mallory]\n"
    )
    with pytest.raises(ConfigError, match=r"duplicate key 'members' at line 5 \(first given at line 3\)"):
        load_config(path, environ={})


def test_merge_keys_may_still_be_overridden():
    loaded = load_yaml("base: &b {port: 1, host: a}\nserve:\n  <<: *b\n  port: 2\n")
    assert loaded["serve"] == {"port": 2, "host": "a"}


def test_distinct_keys_load_unchanged(tmp_path: Path):
    path = tmp_path / "mlward.yaml"
    path.write_text("project: demo\nroles:\n  a: {members: [x]}\n  b: {members: [y]}\n")
    assert sorted(load_config(path, environ={}).roles) == ["a", "b"]
