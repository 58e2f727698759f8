"""Journal lines are authenticated: forged, garbled, replayed, reordered, truncated lines never ship."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

from test_journal import _chained_ids, _crash, _record

from mlward.audit.journal import AuditJournal
from mlward.audit.log import JOURNAL_REFUSED
from mlward.audit.recovery import replay_orphans


def _journal_lines(workspace, tmp_path: Path, count: int = 6) -> tuple[Path, list[bytes], list[str]]:
    """A crashed writer's journal: its path, its lines (header first) and the acknowledged ids."""
    journal = AuditJournal(tmp_path / "j", workspace.audit, flush_interval=3600)
    journal.start()
    ids = _record(journal, count)
    _crash(journal)
    path = next((tmp_path / "j").glob("journal-*.log"))
    return path, path.read_bytes().splitlines(keepends=True), ids


def _refusals(workspace) -> Counter:
    reasons: Counter = Counter()
    for event in workspace.audit.query(action=JOURNAL_REFUSED):
        assert event.outcome == "alert"
        reasons.update(event.details["reasons"])
    return reasons


def _verify_cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlward.cli.main", "--workspace", str(root), "audit", "verify", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "MLWARD_PRINCIPAL": "tester", "COLUMNS": "200"},
    )


def test_a_hand_written_journal_is_refused_and_verify_reports_it(workspace, tmp_path):
    directory = tmp_path / "j"
    directory.mkdir()
    name = "journal-4242-000000000000.log"
    lines = [
        {"journal": name, "w": "0" * 16, "pid": 4242, "seq": 0},
        {"w": "0" * 16, "n": 1, "t": 1.0, "a": "token:attacker", "x": "serve.predict", "g": "credit-risk@1",
         "o": "ok", "d": {"event_id": "forged-1", "inputs": "secret-applicant-data"}},
        {"w": "0" * 16, "n": 2, "t": 2.0, "a": "attacker", "x": "model.promote", "g": "credit-risk@9",
         "o": "ok", "d": {"event_id": "forged-2"}, "m": "f" * 64},
    ]  # fmt: skip
    (directory / name).write_text("".join(json.dumps(line) + "\n" for line in lines) + "{not json\n")

    result = replay_orphans(directory, workspace.audit)

    assert result.replayed == 0 and result.refused == 4
    assert not workspace.audit.query(action="serve.predict") and not workspace.audit.query(
        action="model.promote"
    )
    assert _refusals(workspace) == Counter({"forged": 3, "garbled": 1})
    alert = workspace.audit.query(action=JOURNAL_REFUSED)[0]
    assert alert.details["lines"] == [1, 2, 3, 4]
    assert "attacker" not in json.dumps(alert.details) and "secret-applicant" not in json.dumps(alert.details)
    assert workspace.audit.verify().ok  # the chain itself is intact; the refusal is what verify reports

    verify = _verify_cli(workspace.root)
    assert verify.returncode == 1, verify.stdout + verify.stderr
    assert (
        "verified" in verify.stdout
        and "journal lines refused" in verify.stdout
        and "forged: 3" in verify.stdout
    )
    assert _verify_cli(workspace.root, "--since", "2999-01-01").returncode == 0


def test_a_forged_line_in_a_real_journal_is_refused(workspace, tmp_path):
    path, lines, ids = _journal_lines(workspace, tmp_path)
    tampered = lines[3].replace(b'"token:x"', b'"token:y"')  # an edit that keeps the old MAC
    stolen = lines[4].replace(b'"req-3"', b'"req-3x"')
    path.write_bytes(b"".join([*lines[:3], tampered, stolen, *lines[5:]]))
    result = replay_orphans(tmp_path / "j", workspace.audit)
    # The two entry numbers the forged lines displaced are missing from the sequence too.
    assert result.refused == 4 and _refusals(workspace) == Counter({"forged": 2, "missing": 2})
    assert _chained_ids(workspace) == Counter(i for i in ids if i not in ("req-2", "req-3"))


def test_a_garbled_line_is_refused_not_dropped_silently(workspace, tmp_path):
    path, lines, ids = _journal_lines(workspace, tmp_path)
    path.write_bytes(b"".join([*lines[:3], b"\x00\xff garbage \x01\n", *lines[3:]]))
    result = replay_orphans(tmp_path / "j", workspace.audit)
    assert result.refused == 1 and _refusals(workspace) == Counter({"garbled": 1})
    assert _chained_ids(workspace) == Counter(ids)


def test_replayed_lines_are_refused(workspace, tmp_path):
    path, lines, ids = _journal_lines(workspace, tmp_path)
    other, other_lines, _ = _journal_lines(workspace, tmp_path / "other")
    other.unlink()
    # A line repeated later in its journal, and a validly sealed line of another journal.
    path.write_bytes(b"".join([*lines, lines[2], other_lines[1], other_lines[0]]))
    result = replay_orphans(tmp_path / "j", workspace.audit)
    assert result.refused == 3 and _refusals(workspace) == Counter({"replayed": 3})
    assert _chained_ids(workspace) == Counter(ids)  # each exactly once


def test_reordered_lines_are_refused(workspace, tmp_path):
    path, lines, ids = _journal_lines(workspace, tmp_path)
    path.write_bytes(b"".join([lines[0], lines[1], lines[3], lines[2], *lines[4:]]))  # entries 1, 3, 2, 4...
    result = replay_orphans(tmp_path / "j", workspace.audit)
    assert result.refused == 1 and _refusals(workspace) == Counter({"reordered": 1})
    assert _chained_ids(workspace) == Counter(i for i in ids if i != "req-1")


def test_truncated_journals_are_refused(workspace, tmp_path):
    path, lines, ids = _journal_lines(workspace, tmp_path)
    # An entry cut out of the middle, and the last line cut short.
    path.write_bytes(b"".join([*lines[:2], *lines[3:-1], lines[-1][:40]]))
    result = replay_orphans(tmp_path / "j", workspace.audit)
    assert _refusals(workspace) == Counter({"missing": 1, "truncated": 1}) and result.refused == 2
    assert _chained_ids(workspace) == Counter(ids[:1] + ids[2:-1])


def test_the_shipper_process_refuses_a_line_appended_to_a_live_journal(workspace, tmp_path):
    journal = AuditJournal(
        tmp_path / "j",
        workspace.audit,
        flush_interval=0.05,
        shipper="process",
        workspace_root=workspace.root,
        shipper_module="mlward.serve.shipper_process",
    )
    journal.start()
    ids = _record(journal, 5)
    forged = {
        "n": 6,
        "t": 1.0,
        "a": "attacker",
        "x": "model.promote",
        "g": "m@1",
        "o": "ok",
        "d": {"event_id": "f"},
    }
    with open(journal._path, "ab") as handle:
        handle.write(json.dumps(forged).encode() + b"\n")
    ids += _record(journal, 5, start=5)
    journal.close()
    assert _chained_ids(workspace) == Counter(ids)
    assert not workspace.audit.query(action="model.promote")
    assert _refusals(workspace) == Counter({"forged": 1})
