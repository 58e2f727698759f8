from __future__ import annotations

from pathlib import Path


def test_run_without_stages_is_a_configuration_error(mlward, tmp_path: Path):
    assert mlward("init", "ws").code == 0
    ws = tmp_path / "ws"
    result = mlward("run", cwd=ws)
    assert result.code == 2
    assert "no pipeline stages declared" in result.err
    assert "PASSED" not in result.out and "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 1
    # Nothing was recorded as a run.
    assert mlward("runs", "ls", "--format", "json", cwd=ws).out.strip() == "[]"


def test_run_with_an_empty_stages_block_is_refused_too(mlward, tmp_path: Path):
    mlward("init", "ws")
    ws = tmp_path / "ws"
    with (ws / "mlward.yaml").open("a") as handle:
        handle.write("pipeline:\n  stages: {}\n")
    result = mlward("run", "--format", "json", cwd=ws)
    assert result.code == 2 and "no pipeline stages declared" in result.err
