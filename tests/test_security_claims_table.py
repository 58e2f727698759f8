"""docs/security-claims.md names a test for every security claim: those tests must exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "docs" / "security-claims.md"
NODE_ID = re.compile(r"`(tests/[\w/]+\.py)(?:::(\w+))?`")
RESULTS = {"red", "green", "not tried"}


def _rows() -> list[list[str]]:
    rows = []
    for line in TABLE.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0].isdigit():
            rows.append(cells)
    return rows


def _functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}


def test_the_table_lists_numbered_claims_each_with_a_test_and_a_result():
    rows = _rows()
    assert len(rows) >= 40
    assert [int(row[0]) for row in rows] == list(range(1, len(rows) + 1))
    for row in rows:
        assert len(row) == 6, row
        assert NODE_ID.search(row[3]), f"claim {row[0]} names no test node id: {row[3]!r}"
        assert any(row[5].startswith(result) for result in RESULTS), f"claim {row[0]}: result {row[5]!r}"


def test_every_named_test_exists():
    missing = []
    for row in _rows():
        for file, function in NODE_ID.findall(row[3]):
            path = ROOT / file
            if not path.is_file():
                missing.append(f"claim {row[0]}: {file} does not exist")
            elif function and function not in _functions(path):
                missing.append(f"claim {row[0]}: {file} has no test {function}")
    assert missing == []
