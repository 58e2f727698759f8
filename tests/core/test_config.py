from __future__ import annotations

from importlib import resources

import pytest

from mlward.core.config import parse_config
from mlward.core.errors import ConfigError


def test_template_is_valid_and_commented():
    text = resources.files("mlward.core").joinpath("template.yaml").read_text()
    config = parse_config(text.replace("{project}", "demo").replace("{principal}", "alice"), environ={})
    assert config.project == "demo"
    assert config.roles["admin"].members == ["alice"]
    assert config.serve.host == "127.0.0.1"
    assert text.count("#") > 10


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("serve: {port: abc}", "serve.port: Input should be a valid integer"),
        ("serve: {prot: 1}", "serve.prot: unknown key"),
        ("roles: {ops: {permissions: 3}}", "roles.ops.permissions: Input should be a valid list"),
        ("model: {block_on: severe}", "model.block_on"),
        ("datasets: {x: {}}", "datasets.x.path: Field required"),
        ("a: [", "invalid YAML at line 1"),
        ("- 1", "expected a mapping at the top level"),
    ],
)
def test_errors_name_the_key_path(text, expected):
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="mlward.yaml", environ={})
    assert expected in str(info.value)
    assert str(info.value).startswith("mlward.yaml")


def test_environment_overrides_file_values():
    config = parse_config(
        "serve: {port: 1000}\nproject: p",
        environ={"MLWARD_SERVE__PORT": "9000", "MLWARD_PROJECT": "q", "MLWARD_PRINCIPAL": "not-config"},
    )
    assert config.serve.port == 9000
    assert config.project == "q"


def test_environment_override_is_validated():
    with pytest.raises(ConfigError, match=r"serve\.port"):
        parse_config("", environ={"MLWARD_SERVE__PORT": "99999999"})


def test_empty_file_gives_defaults():
    config = parse_config("", environ={})
    assert config.model.block_on == "high"
    assert config.metadata_url is None


@pytest.mark.parametrize(
    "text",
    [
        "project: !!python/object/apply:builtins.str ['x']",
        "project: !!python/name:os.system",
        "version: !!python/object/new:builtins.int [1]",
    ],
)
def test_yaml_tags_that_build_python_objects_are_refused(text):
    # mlward.yaml is read with YAML's safe loader: a tag naming a Python callable is an
    # error, never a call (an unsafe loader would build the object and accept the file).
    with pytest.raises(ConfigError, match="invalid YAML"):
        parse_config(text, source="mlward.yaml", environ={})


def test_serve_binds_to_loopback_when_the_file_does_not_say():
    assert parse_config("", environ={}).serve.host == "127.0.0.1"
    assert parse_config("serve: {port: 9000}", environ={}).serve.host == "127.0.0.1"
