"""No artefact mlward writes holds a raw personal value (issue 20, "reports carry raw PII").

Two tables get a unique canary value of every entity type mlward detects, in every row,
under telling and neutral column names. Every command and pipeline stage that writes
something runs on them: catalogue (add, show, diff, search), scan, profile, drift, outliers
fit and score, fairness, contract validation (JUnit), a pipeline run with its HTML report,
the audit log. Then every file under the workspace (``.mlward/`` objects and the database
included, read as raw bytes) and every stdout and stderr is searched for the canaries.

Byte-identical copies of the input tables (the catalogue's plain dataset blobs) are the
input, not something mlward derived, and are the only files left out. Masked examples
(``z*****...@m***``) and keyed hashes are fine: only a full canary value is a leak.
"""

from __future__ import annotations

import csv
import hashlib
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROWS = 240
# About 40 mlward processes; on a loaded 2-core machine that takes several minutes.
pytestmark = pytest.mark.timeout(900)


def _luhn(prefix: str) -> str:
    for check in "0123456789":
        digits = [int(d) for d in prefix + check]
        total = sum(
            d if i % 2 == 0 else (d * 2 - 9 if d * 2 > 9 else d * 2) for i, d in enumerate(reversed(digits))
        )
        if total % 10 == 0:
            return prefix + check
    raise AssertionError("unreachable")


def _iban_de(bban: str) -> str:
    number = int("".join(str(int(c, 36)) for c in bban + "DE00"))
    return f"DE{98 - number % 97:02d}{bban}"


def canary_rows(offset: int, seed: int) -> list[dict[str, object]]:
    """One unique value per row of every detected entity type, plus neutral columns."""
    rnd = random.Random(seed)
    rows = []
    for k in range(ROWS):
        i = offset + k
        rows.append(
            {
                "email": f"zq{i:04d}.canary@mailcanary.example",
                "c1": f"qx{i:04d}.hidden@canarymail.example",  # e-mail under a neutral name
                "ssn": f"{140 + i // 100:03d}-{11 + i % 80:02d}-{7000 + i % 3000:04d}",
                "c2": _luhn(f"411111{i:09d}"),  # credit card under a neutral name
                # a few e-mails shared by many rows: frequent enough to be drawn as categories
                "c3": f"shared{(i % 6) + (offset // 1000)}.canary@household.example",
                "iban": _iban_de(f"37040044{i:010d}"),
                "ip_address": f"81.{20 + i // 250}.{(i * 7) % 250}.{1 + i % 250}",
                "phone": f"+1 415-{300 + i // 100:03d}-{6000 + i % 4000:04d}",
                "full_name": f"{rnd.choice(['Quintessa', 'Bartholomew', 'Evangeline', 'Leopold'])} "
                f"Canary{chr(65 + i % 26)}{chr(65 + (i // 26) % 26)}son",
                "street_address": f"{100 + i} Canarywood Lane, Springfield",
                "nino": f"AB{100000 + i:06d}C",
                "date_of_birth": f"{1931 + i % 60}-{1 + i % 12:02d}-{1 + (i // 12) % 28:02d}",
                "segment": rnd.choice(["A", "B", "C"]),
                "group": rnd.choice(["g1", "g2"]),
                "amount": round(rnd.gauss(100 if offset == 0 else 150, 15), 2),
                "label": rnd.randint(0, 1),
            }
        )
    return rows


NEUTRAL = {"segment", "group", "amount", "label"}


def _write(path: Path, rows: list[dict[str, object]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _canaries(rows: list[dict[str, object]]) -> set[str]:
    return {str(row[c]) for row in rows for c in row if c not in NEUTRAL}


CONTRACT = {
    "columns": {
        "email": {"type": "string", "regex": "nobody@example[.]org"},
        "c1": {"type": "string", "allowed": ["none"]},
        "c3": {"type": "string", "allowed": ["none"]},
        "ssn": {"type": "string", "regex": "000-00-0000"},
        "c2": {"type": "string", "regex": "^5"},
        "iban": {"type": "string", "allowed": ["GB00"]},
        "ip_address": {"type": "string", "regex": "^10[.]"},
        "phone": {"type": "string", "regex": "^0"},
        "full_name": {"type": "string", "regex": "^[a-z]+$"},
        "street_address": {"type": "string", "regex": "^PO Box"},
        "nino": {"type": "string", "regex": "^ZZ"},
        "segment": {"type": "string", "allowed": ["A", "B"]},
    },
}

PIPELINE = {
    "stages": {
        "ingest": {"kind": "ingest", "dataset": "people"},
        "validate": {"kind": "validate", "dataset": "people", "contract": "people", "needs": ["ingest"]},
        "scan-pii": {"kind": "scan-pii", "dataset": "people"},
        "outliers": {"kind": "outliers", "path": "ref.csv", "output": "models/outliers.safetensors"},
        "fairness": {"kind": "fairness", "path": "ref.csv", "sensitive": ["group"], "label": "label"},
        "drift": {"kind": "drift", "reference": "people", "current": "batch", "report": "reports/drift.html"},
    }
}


@pytest.fixture(scope="module")
def workspace_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[str, str]], set[str]]:
    """Run every writing command once; return (workspace root, outputs, canaries)."""
    root = tmp_path_factory.mktemp("canary")
    reference, current = canary_rows(0, 1), canary_rows(5000, 2)
    _write(root / "ref.csv", reference)
    _write(root / "cur.csv", current)
    outputs: list[tuple[str, str]] = []
    env = {**os.environ, "MLWARD_PRINCIPAL": "tester", "COLUMNS": "200"}

    def mlward(*args: str) -> None:
        proc = subprocess.run(
            [sys.executable, "-m", "mlward.cli.main", *args],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert "Traceback" not in proc.stderr, (args, proc.stderr)
        outputs.append((" ".join(args), proc.stdout + proc.stderr))

    mlward("init")
    config = yaml.safe_load((root / "mlward.yaml").read_text())
    config["datasets"] = {
        "people": {"path": "ref.csv", "contract": "people"},
        "batch": {"path": "cur.csv", "contract": "people"},
    }
    config["contracts"] = {"people": CONTRACT}
    config["pipeline"] = PIPELINE
    (root / "mlward.yaml").write_text(yaml.safe_dump(config, sort_keys=False))

    mlward("data", "add", "ref.csv", "--name", "people")
    mlward("data", "add", "cur.csv", "--name", "batch")
    for fmt in ("table", "json"):
        mlward("data", "show", "people", "--format", fmt)
        mlward("data", "diff", "people@1", "batch@1", "--all", "--format", fmt)
    for fmt in ("table", "json", "sarif"):
        mlward("data", "scan", "ref.csv", "--format", fmt)
    mlward("data", "scan", "ref.csv", "--format", "json", "-o", "scan.json")
    mlward("data", "ls")
    mlward("data", "search", "--label", "EMAIL", "--format", "json")
    mlward("data", "profile", "ref.csv", "-o", "profile.json")
    mlward("data", "drift", "ref.csv", "cur.csv")
    mlward("data", "drift", "ref.csv", "cur.csv", "--format", "html", "-o", "drift.html")
    mlward("data", "drift", "ref.csv", "cur.csv", "--format", "json", "-o", "drift.json")
    mlward("data", "drift", "profile.json", "cur.csv", "--format", "json")
    mlward("data", "outliers", "fit", "ref.csv", "-o", "outliers.safetensors")
    for fmt, out in (("table", None), ("json", "outliers.json"), ("html", "outliers.html")):
        mlward(
            "data",
            "outliers",
            "score",
            "outliers.safetensors",
            "cur.csv",
            "--format",
            fmt,
            *(("-o", out) if out else ()),
        )
    for sensitive in ("group", "full_name"):
        for fmt, out in (
            ("table", None),
            ("json", f"fair-{sensitive}.json"),
            ("html", f"fair-{sensitive}.html"),
        ):
            mlward(
                "data",
                "fairness",
                "ref.csv",
                "--sensitive",
                sensitive,
                "--label",
                "label",
                "--format",
                fmt,
                *(("-o", out) if out else ()),
            )
    mlward("data", "validate", "people")
    mlward("data", "validate", "people", "-f", "junit", "-o", "contract.xml")
    mlward("data", "validate", "people", "-f", "json")
    mlward("data", "contract", "infer", "ref.csv", "-o", "inferred.yaml")
    mlward("run", "--report", "reports/run.html")
    mlward("runs", "list", "--format", "json")
    mlward("audit", "log", "--format", "json")
    mlward("lineage", "export", "-o", "openlineage.json")
    return root, outputs, _canaries(reference) | _canaries(current)


def _pattern(canaries: set[str]) -> re.Pattern[bytes]:
    ordered = sorted(canaries, key=len, reverse=True)
    return re.compile(b"|".join(re.escape(c.encode()) for c in ordered))


def _inputs(root: Path) -> set[str]:
    return {hashlib.sha256((root / n).read_bytes()).hexdigest() for n in ("ref.csv", "cur.csv")}


def test_the_canary_tables_are_detected(workspace_run: tuple[Path, list[tuple[str, str]], set[str]]) -> None:
    """The test means something only if mlward classifies every planted column."""
    from mlward.data.pii import scan

    root, _, _ = workspace_run
    found = {c.name: {e.value for e in c.entity_types} for c in scan(str(root / "ref.csv")).columns}
    assert {name for name, entities in found.items() if entities} == set(canary_rows(0, 1)[0]) - NEUTRAL


def test_no_file_under_the_workspace_holds_a_canary(
    workspace_run: tuple[Path, list[tuple[str, str]], set[str]],
) -> None:
    root, _, canaries = workspace_run
    pattern, inputs = _pattern(canaries), _inputs(root)
    leaks: dict[str, list[str]] = {}
    checked = 0
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() in inputs:
            continue  # the input table itself (or its plain catalogue copy)
        checked += 1
        hits = sorted({m.group().decode() for m in pattern.finditer(data)})
        if hits:
            leaks[str(path.relative_to(root))] = [*hits[:3], f"({len(hits)} values)"]
    assert checked > 20
    assert not leaks, "raw canaries in files:\n" + "\n".join(f"  {k}: {v}" for k, v in leaks.items())


def test_no_output_holds_a_canary(workspace_run: tuple[Path, list[tuple[str, str]], set[str]]) -> None:
    _, outputs, canaries = workspace_run
    pattern = _pattern(canaries)
    leaks = {}
    for command, text in outputs:
        hits = sorted({m.group().decode() for m in pattern.finditer(text.encode())})
        if hits:
            leaks[command] = hits[:3]
    assert not leaks, "raw canaries in stdout/stderr:\n" + "\n".join(f"  {k}: {v}" for k, v in leaks.items())
