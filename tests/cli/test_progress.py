"""Long steps show Rich progress on a terminal and nothing when the output is for a machine."""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console

from mlward.cli.output import OutputFormat
from mlward.cli.progress import step_progress


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _terminal() -> tuple[Console, io.StringIO]:
    sink = io.StringIO()
    return Console(file=sink, force_terminal=True, width=100), sink


def test_progress_shows_label_and_rows_on_a_terminal():
    console, sink = _terminal()
    with step_progress("versioning claims", OutputFormat.table, console=console, stdout=_Tty()) as tick:
        assert tick.live
        tick(1200)
        tick(34)
        tick.phase("storing claims")
        time.sleep(0.15)  # one refresh of the live display
    text = sink.getvalue()
    assert "versioning claims" in text or "storing claims" in text
    assert "1,234 rows" in text


def test_progress_is_silent_for_json_and_when_stdout_is_not_a_terminal():
    for fmt, stdout in ((OutputFormat.json, _Tty()), (OutputFormat.table, io.StringIO())):
        console, sink = _terminal()
        with step_progress("versioning claims", fmt, console=console, stdout=stdout) as tick:
            assert not tick.live
            tick(10)
            tick.phase("anything")
        assert sink.getvalue() == ""


def _csv(path: Path, rows: int = 20_000) -> Path:
    with path.open("w") as handle:
        handle.write("id,amount,city\n")
        for i in range(rows):
            handle.write(f"{i},{i * 0.5:.2f},city{i % 40}\n")
    return path


def _run_on_a_pty(args: list[str], cwd: Path) -> tuple[int, str]:
    """Run mlward with stdout and stderr on a pseudo-terminal, as in a shell."""
    leader, follower = pty.openpty()
    env = {**os.environ, "MLWARD_PRINCIPAL": "tester", "COLUMNS": "120", "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    env.pop("CI", None)  # Rich treats some CI variables as "no terminal"
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlward.cli.main", *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        env=env,
    )
    os.close(follower)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.5)
        if ready:
            try:
                data = os.read(leader, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    os.close(leader)
    return proc.wait(timeout=30), b"".join(chunks).decode("utf-8", "replace")


def test_data_add_shows_progress_on_a_terminal_only(mlward, tmp_path: Path):
    assert mlward("init", "ws").code == 0
    ws = tmp_path / "ws"
    _csv(ws / "claims.csv")
    code, screen = _run_on_a_pty(["data", "add", "claims.csv", "--name", "claims"], ws)
    assert code == 0, screen
    assert "versioning claims" in screen  # the spinner's label was drawn on the terminal
    assert "claims@1" in screen or "added" in screen.lower()

    _csv(ws / "claims2.csv", rows=20_001)
    piped = mlward("data", "add", "claims2.csv", "--name", "claims", cwd=ws)
    assert piped.code == 0, piped.err
    assert "versioning" not in piped.err and "versioning" not in piped.out
    as_json = mlward("--format", "json", "data", "add", "claims.csv", "--name", "other", cwd=ws)
    assert as_json.code == 0, as_json.err
    assert as_json.err == ""


def test_run_shows_the_running_stage_on_a_terminal(mlward, tmp_path: Path):
    assert mlward("init", "ws").code == 0
    ws = tmp_path / "ws"
    _csv(ws / "claims.csv", rows=2000)
    config = ws / "mlward.yaml"
    config.write_text(
        config.read_text(encoding="utf-8")
        + "\ndatasets:\n  claims:\n    path: claims.csv\n"
        + "pipeline:\n  stages:\n    ingest:\n      kind: ingest\n      dataset: claims\n",
        encoding="utf-8",
    )
    code, screen = _run_on_a_pty(["run"], ws)
    assert "running ingest" in screen, screen
    assert ">> ingest" in screen
    assert code == 0, screen
