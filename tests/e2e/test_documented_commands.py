"""Every `mlward` command printed in README.md and docs/*.md runs as printed (issue 17).

The commands are extracted from the bash code blocks of the documents, not copied here, so a
new or changed command in the docs is run by this test. They run in the demo's workspace
(after `make demo`), with the few files the docs name but the demo does not make prepared
beforehand. A command passes when it exits with a code its documentation allows and says
nothing of an internal error, a traceback or a usage error.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# Commands that are not run here, each with the reason; the test fails when one of them
# is no longer documented (so this list cannot hide a stale entry).
NOT_RUN = {
    "mlward serve": "a server that runs until stopped: the demo serves and calls it (test_demo)",
    "mlward data validate s3-mirror/parts/ -c contracts/loans.yaml --engine dask "
    "--scheduler tcp://10.0.0.5:8786": "names a remote Dask cluster; tests contact only 127.0.0.1",
}

# Commands whose documentation says they exit 1 on findings, and which may find some here.
MAY_FIND = {
    "mlward run": {1},  # the demo's drift gate fails on purpose
    "mlward verify-provenance credit-risk@1": {0, 1},  # `run train --force` ran before it
    "mlward data drift data/applications.csv data/new_batch.csv --format html -o drift.html": {0, 1},
    "mlward data validate data/loans.csv -c loans": {0, 1},
    # the demo data carries a planted labelling bias: the fairness check must find it
    "mlward data fairness data/applications.csv --sensitive gender --label default": {1},
    "mlward data validate applications": {0, 1},
    "mlward data validate applications -f junit -o contract.xml": {0, 1},
    "mlward model scan repo/ --include '*.pt' --exclude 'tmp/*' -j 4 --fail-on medium": {0, 1},
}
# Outputs that mean a command did not work as printed, whatever its exit code.
BROKEN = re.compile(
    r"internal error|Traceback \(most recent call last\)|No such option|Usage: |Got unexpected"
)


def documented_commands() -> list[tuple[str, str]]:
    """(document, command) for every `mlward ...` line of a bash block, `a && b` split."""
    found = []
    for document in DOCUMENTS:
        for block in re.findall(r"```(?:bash|sh|shell|console)\n(.*?)```", document.read_text(), re.S):
            for line in block.splitlines():
                words = shlex.split(line, comments=True)
                command: list[str] = []
                for word in [*words, "&&"]:
                    if word == "&&":
                        if command and command[0] == "mlward":
                            found.append((document.name, shlex.join(command)))
                        command = []
                    else:
                        command.append(word)
    return found


class _OsvMirror(BaseHTTPRequestHandler):
    """A local stand-in for the OSV API: no package has an advisory."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        answer = json.dumps({"results": [{} for _ in body["queries"]]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def osv_mirror() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OsvMirror)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _prepare(demo: Path) -> None:
    """Files the docs name that the demo does not make."""
    import pickle

    import numpy as np
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq
    import torch
    from safetensors.numpy import save_file

    (demo / "models" / "bert").mkdir()
    save_file({"w": np.ones((4, 4), dtype=np.float32)}, demo / "models" / "bert" / "model.safetensors")
    (demo / "models" / "bert" / "config.json").write_text('{"hidden_size": 4}')
    shutil.copy(demo / "models" / "credit-risk.joblib", demo / "models" / "credit.joblib")
    pq.write_table(pacsv.read_csv(demo / "data" / "applications.csv"), demo / "big.parquet")
    shutil.copy(demo / "data" / "applications.csv", demo / "data" / "loans.csv")
    torch.save({"w": torch.ones(3)}, demo / "model.pt")
    (demo / "repo").mkdir()
    shutil.copy(demo / "model.pt", demo / "repo" / "model.pt")
    (demo / "model.pkl").write_bytes(pickle.dumps({"weights": [1.0, 2.0]}))
    (demo / "rows.csv").write_text(
        "age,income,loan_amount,term_months,credit_score,debt_to_income,employment_years,"
        "home_ownership,purpose\n41,58000.0,12000.0,36,702,0.31,6.5,MORTGAGE,car\n"
    )
    shutil.copy(ROOT / "tests" / "fixtures" / "odcs" / "full-example.odcs.yaml", demo / "orders.odcs.yaml")
    (demo / "contracts").mkdir()
    config = yaml.safe_load((demo / "mlward.yaml").read_text())
    config["contracts"]["loans"] = config["contracts"]["applications"]
    (demo / "mlward.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


def test_every_documented_command_is_extracted_and_classified() -> None:
    commands = {command for _, command in documented_commands()}
    assert len(commands) >= 40, sorted(commands)
    assert set(NOT_RUN) <= commands, set(NOT_RUN) - commands
    assert set(MAY_FIND) <= commands, set(MAY_FIND) - commands


def test_every_documented_command_works_as_printed(demo_run, osv_mirror) -> None:
    demo, proc = demo_run
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-2000:]
    _prepare(demo)
    env = {
        **os.environ,
        "MLWARD_PRINCIPAL": "demo",
        "MLWARD_OSV_API_URL": osv_mirror,
        "COLUMNS": "160",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    failures = []
    seen = set()
    for document, command in documented_commands():
        if command in NOT_RUN or command in seen:
            continue
        seen.add(command)
        argv = shlex.split(command)
        redirect = None
        if ">" in argv:  # `mlward ... > file`, as a shell would run it
            redirect = demo / argv[argv.index(">") + 1]
            argv = argv[: argv.index(">")]
        done = subprocess.run(
            [sys.executable, "-m", "mlward.cli.main", *argv[1:]],
            cwd=demo,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if redirect is not None:
            redirect.write_text(done.stdout)
        allowed = MAY_FIND.get(command, {0})
        said = done.stdout[-4000:] + done.stderr[-4000:]
        if argv[-1] in ("-h", "--help"):  # help is the expected output; only the errors count
            said = said.replace("Usage: ", "", 1) if said.lstrip().startswith("Usage: ") else said
        if done.returncode not in allowed or BROKEN.search(said):
            failures.append(f"{document}: `{command}` exited {done.returncode}: {said.strip()[-600:]}")
    assert not failures, "\n\n".join(failures)
    # what the commands wrote is really there
    for written in (
        "protected.parquet",
        "clear.parquet",
        "outliers.safetensors",
        "drift.html",
        "credit-risk.cdx.json",
        "sbom.cdx.json",
        "openlineage.json",
        "big.parquet.mlwe",
        "contract.xml",
        "loans.contract.yaml",
        "contracts/orders.yaml",
        "scan.sarif",
        ".github/workflows/mlward.yml",
    ):
        assert (demo / written).is_file(), written
