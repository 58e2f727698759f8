"""A feature whose extra is not installed fails with one line naming the extra (issue 17).

The CLI runs in a subprocess whose ``sitecustomize`` installs an import hook that makes the
listed packages unimportable, as on a default install (``pip install mlward``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from mlward.core.errors import EXIT_USAGE, ConfigError
from mlward.core.optional import EXTRAS, MissingDependency, extra_of, optional, require

BLOCKER = textwrap.dedent(
    """
    import importlib.abc
    import os
    import sys

    BLOCKED = set(filter(None, os.environ.get("MLWARD_TEST_MISSING", "").split(",")))


    class Missing(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None


    sys.meta_path.insert(0, Missing())
    """
)


@pytest.fixture
def mlward_without(tmp_path: Path):
    """Run the real ``mlward`` entry point with some packages made unimportable."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(BLOCKER)
    workdir = tmp_path / "work"
    workdir.mkdir()

    def invoke(
        missing: str, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        pythonpath = os.pathsep.join(filter(None, [str(hook), os.environ.get("PYTHONPATH", "")]))
        full_env = {
            **os.environ,
            "PYTHONPATH": pythonpath,
            "MLWARD_TEST_MISSING": missing,
            "MLWARD_PRINCIPAL": "tester",
            "COLUMNS": "200",
            **(env or {}),
        }
        return subprocess.run(
            [sys.executable, "-m", "mlward.cli.main", *args],
            cwd=workdir,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=90,
        )

    invoke.workdir = workdir  # type: ignore[attr-defined]
    return invoke


def assert_one_line_naming(proc: subprocess.CompletedProcess[str], extra: str, feature: str) -> None:
    assert proc.returncode == EXIT_USAGE, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert f"install mlward[{extra}] to use {feature}" in lines[0], lines[0]


def test_s3_object_store_without_s3fs(mlward_without) -> None:
    assert mlward_without("s3fs", "init").returncode == 0
    proc = mlward_without("s3fs", "status", env={"MLWARD_OBJECT_STORE": "s3://bucket/mlward"})
    assert_one_line_naming(proc, "s3", "s3:// object stores")
    assert "s3fs is not installed" in proc.stderr


@pytest.mark.parametrize(
    "url", ["postgresql+psycopg://mlward@127.0.0.1:5432/test", "postgresql://mlward@127.0.0.1:5432/test"]
)
def test_postgres_metadata_url_without_psycopg(mlward_without, url: str) -> None:
    # postgresql:// means psycopg 3 (the postgres extra), not SQLAlchemy's default psycopg2.
    assert mlward_without("psycopg", "init").returncode == 0
    proc = mlward_without("psycopg", "status", env={"MLWARD_METADATA_URL": url})
    assert_one_line_naming(proc, "postgres", "a PostgreSQL metadata_url")


def test_redis_rate_limit_storage_without_redis(mlward_without) -> None:
    assert mlward_without("redis", "init").returncode == 0
    proc = mlward_without(
        "redis", "serve", env={"MLWARD_SERVE__RATE_LIMIT_STORAGE": "redis://127.0.0.1:6379/15"}
    )
    assert_one_line_naming(proc, "redis", "redis:// rate-limit and nonce storage")
    assert "(redis is not installed)" in proc.stderr


def test_dask_engine_without_distributed(mlward_without) -> None:
    (mlward_without.workdir / "people.csv").write_text("name,email\nAda,ada@example.org\n")
    proc = mlward_without("distributed,dask", "data", "scan", "people.csv", "--engine", "dask")
    assert_one_line_naming(proc, "dask", "the Dask engine")


def test_require_names_the_extra_and_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "duckdb", None)
    from mlward.data.contract.rules.expression import duckdb_module

    with pytest.raises(MissingDependency) as caught:
        duckdb_module()
    assert isinstance(caught.value, ConfigError)
    assert caught.value.exit_code == EXIT_USAGE
    assert str(caught.value) == (
        "install mlward[sql] to use contract rules with engine: duckdb (duckdb is not installed)"
    )


def test_require_without_an_extra_names_the_pip_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "spacy", None)
    from mlward.data.pii.ner import SpacyRecognizer

    with pytest.raises(MissingDependency, match=r"^install spacy to use spaCy NER recognizers"):
        SpacyRecognizer()


def test_a_broken_package_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Installed but failing on import (a missing shared library, say): the reason is kept.
    (tmp_path / "brokenpkg").mkdir()
    (tmp_path / "brokenpkg" / "__init__.py").write_text("import _no_such_native_lib\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(MissingDependency) as caught:
        require("brokenpkg", feature="a test")
    assert str(caught.value) == (
        "install brokenpkg to use a test "
        "(brokenpkg cannot be imported: No module named '_no_such_native_lib')"
    )


def test_optional_returns_none_for_a_missing_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "py7zr", None)
    assert optional("py7zr") is None
    assert optional("json") is sys.modules["json"]


def test_extras_table_matches_pyproject() -> None:
    declared = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    extras = set(declared["project"]["optional-dependencies"]) - {"dev"}
    assert set(EXTRAS) == extras
    assert extra_of("redis.asyncio") == "redis" and extra_of("s3fs") == "s3" and extra_of("spacy") is None
