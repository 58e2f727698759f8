"""``pip install mlward`` with no extras: every module imports, every command shows its help.

A fresh venv gets a regular (non-editable) install of this checkout, so an import of an
undeclared package fails here as it would for a user. Modules that need an extra are
listed once, in ``mlward.core.optional.MODULES_BEHIND_EXTRAS`` (see README, "Optional
extras"). Then the console script itself meets a missing extra: one line, no traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

REPO = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).with_name("probe.py")


def _run(
    args: list[str | Path], *, cwd: Path, env: dict[str, str], timeout: int
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def clean_venv(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A venv holding ``pip install <this checkout>`` and nothing else."""
    root = tmp_path_factory.mktemp("clean-install")
    # Build from a copy: a build in the checkout would leave build/ and *.egg-info behind.
    source = root / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (REPO / name).exists():
            shutil.copy2(REPO / name, source / name)
    shutil.copytree(REPO / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env.update({"MLWARD_PRINCIPAL": "tester", "COLUMNS": "200"})
    venv = root / "venv"
    made = _run([sys.executable, "-m", "venv", venv], cwd=root, env=env, timeout=120)
    assert made.returncode == 0, made.stderr
    installed = _run(
        [venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", source],
        cwd=root,
        env=env,
        timeout=1000,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return venv, env


def test_every_module_imports_and_every_command_has_help(clean_venv: tuple[Path, dict[str, str]]) -> None:
    venv, env = clean_venv
    probe = _run([venv / "bin" / "python", PROBE], cwd=venv, env=env, timeout=600)
    assert probe.returncode == 0, probe.stderr
    report = json.loads(probe.stdout)
    assert report["location"].startswith(str(venv)), report["location"]
    assert report["extra_modules_present"] == [], "the default install pulled in packages of an extra"
    assert len(report["modules"]) > 200 and len(report["commands"]) > 50
    assert not report["import_failures"], "\n".join(
        f"{name}:\n{trace}" for name, trace in report["import_failures"].items()
    )
    assert not report["help_failures"], "\n".join(
        f"{name}:\n{text}" for name, text in report["help_failures"].items()
    )


def test_console_script_names_a_missing_extra(
    clean_venv: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    venv, env = clean_venv
    mlward = venv / "bin" / "mlward"
    assert _run([mlward, "--version"], cwd=tmp_path, env=env, timeout=120).returncode == 0
    assert _run([mlward, "init"], cwd=tmp_path, env=env, timeout=120).returncode == 0
    cases = {
        "s3": ["status", {"MLWARD_OBJECT_STORE": "s3://bucket/mlward"}],
        "postgres": ["status", {"MLWARD_METADATA_URL": "postgresql://mlward@127.0.0.1:5432/test"}],
    }
    for extra, (command, extra_env) in cases.items():
        proc = _run([mlward, command], cwd=tmp_path, env={**env, **extra_env}, timeout=120)
        assert proc.returncode == 2, (extra, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stdout + proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and f"install mlward[{extra}] to use" in lines[0], proc.stderr
