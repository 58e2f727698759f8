"""The credit-risk demo: what `make demo` runs.

Sets up a workspace in this directory (SQLite metadata, local object store, fresh keys
under .mlward/), generates the synthetic loan applications, and runs mlward on them.
Every step is a plain `mlward` command, printed before it runs, so you can replay any
of them by hand. Run it again to start over from a clean workspace.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MLWARD = [sys.executable, "-m", "mlward.cli.main"]
EXPECTED_FAILING_STAGE = "drift"
EXPECTED_FAILING_GATE = "no-drift"
ENV = {**os.environ, "MLWARD_PRINCIPAL": "demo", "COLUMNS": os.environ.get("COLUMNS", "120")}


def step(title: str, *args: str, check: bool = True) -> int:
    """Print and run one mlward command in the demo workspace."""
    print(f"\n== {title}\n$ mlward {shlex.join(args)}", flush=True)
    code = subprocess.run([*MLWARD, *args], cwd=HERE, env=ENV, check=False).returncode
    if check and code != 0:
        fail(f"step '{title}' (mlward {shlex.join(args)}) exited {code}", code)
    return code


def _advisories_zip() -> None:
    """Zip the demo's OSV advisories into the offline database the audit-deps stage reads."""
    import zipfile

    with zipfile.ZipFile(HERE / "advisories" / "PyPI-demo.zip", "w") as archive:
        for advisory in sorted((HERE / "advisories").glob("*.json")):
            archive.write(advisory, advisory.name)


def main() -> None:
    """Run the demo end to end."""
    started = time.monotonic()
    shutil.rmtree(HERE / ".mlward", ignore_errors=True)
    print("== Generating synthetic loan applications (deterministic, with PII)", flush=True)
    # MLWARD_DEMO_ROWS shrinks the data (the end-to-end test runs the demo on fewer rows).
    rows = os.environ.get("MLWARD_DEMO_ROWS")
    sizes = ["--rows", rows, "--new-rows", str(max(1000, int(rows) // 5))] if rows else []
    subprocess.run([sys.executable, str(HERE / "generate_data.py"), *sizes], check=True)
    step("Create the workspace (keys, metadata store, object store)", "init", ".")
    _advisories_zip()
    code = step("Run the whole pipeline (mlward.yaml)", "run", check=False)
    check_run_outcome(code)
    serve_round_trip()
    step("Workspace status", "status")
    step("Audit trail: verify the hash chain", "audit", "verify")
    print(f"\ndemo finished in {time.monotonic() - started:.0f} s")
    print("\nNext: start the gateway yourself with")
    print(f"  cd {HERE} && MLWARD_PRINCIPAL=demo mlward serve --port 8080")
    print("and call it with `mlward predict credit-risk --data @row.json --token TOKEN --sign`.")


def fail(message: str, code: int = 1) -> None:
    """End the demo with the real cause on the last line."""
    print(f"demo failed: {message}", file=sys.stderr, flush=True)
    sys.exit(code)


def check_run_outcome(code: int) -> None:
    """The run must fail only because the drift stage's ``no-drift`` gate failed.

    Every other stage must be ``ok``; anything else (a stage error, another gate, a skipped
    stage) ends the demo with that stage's own error as the last line.
    """
    import json

    shown = subprocess.run(
        [*MLWARD, "run", "show", "--format", "json"], cwd=HERE, env=ENV, capture_output=True, text=True
    )
    if shown.returncode != 0:
        fail(f"`mlward run show` exited {shown.returncode}: {shown.stderr.strip()[-500:]}", 3)
    record = json.loads(shown.stdout)
    problems = []
    for name, stage in record["stages"].items():
        gates = stage.get("gates", [])
        failed_gates = [g["gate"] for g in gates if not g["passed"] and not g.get("waived_by")]
        if name == EXPECTED_FAILING_STAGE:
            if stage["status"] != "gate-failed" or failed_gates != [EXPECTED_FAILING_GATE]:
                problems.append(
                    f"stage {name}: expected only gate {EXPECTED_FAILING_GATE} to fail, got status "
                    f"{stage['status']} with failed gates {failed_gates}: {stage.get('error') or ''}"
                )
        elif stage["status"] != "ok" or failed_gates:
            problems.append(f"stage {name} is {stage['status']}: {stage.get('error') or failed_gates}")
    if EXPECTED_FAILING_STAGE not in record["stages"]:
        problems.append(f"stage {EXPECTED_FAILING_STAGE} did not run")
    if problems:
        # the first problem in stage order is the cause (later stages were skipped for it)
        print("\n".join(problems[1:]), file=sys.stderr)
        fail(problems[0], code or 1)
    if code != 1:
        fail(f"`mlward run` exited {code}; expected 1 (the drift gate fails on purpose)", code or 1)
    print(
        f"\nas planned: every stage ok; {EXPECTED_FAILING_STAGE} failed only its {EXPECTED_FAILING_GATE} gate"
    )


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_round_trip() -> None:
    """Serve the promoted model, then make a signed, authenticated prediction against it."""
    import json
    import urllib.request

    print("\n== Issue an API token for a client with the predictor role (shown once)", flush=True)
    print("$ mlward tokens create --role predictor --name demo-client --expires 1h", flush=True)
    created = subprocess.run(
        [
            *MLWARD,
            "tokens",
            "create",
            "--role",
            "predictor",
            "--name",
            "demo-client",
            "--expires",
            "1h",
            "--format",
            "json",
        ],
        cwd=HERE,
        env=ENV,
        capture_output=True,
        text=True,
        check=True,
    )
    issued = json.loads(created.stdout)
    print(f"token id {issued['id']} (the secret itself is never stored, only its hash)")
    port = _free_port()
    print(
        f"\n== Serve the production model on 127.0.0.1:{port} (verify-then-load)\n"
        f"$ mlward serve --port {port}",
        flush=True,
    )
    server = subprocess.Popen([*MLWARD, "serve", "--port", str(port)], cwd=HERE, env=ENV)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                fail("the gateway did not become ready within 60 s", 3)
            time.sleep(0.5)
        row = {
            "age": 41,
            "income": 58000.0,
            "loan_amount": 12000.0,
            "term_months": 36,
            "credit_score": 702,
            "debt_to_income": 0.31,
            "employment_years": 6.5,
            "home_ownership": "MORTGAGE",
            "purpose": "car",
        }
        env = {**ENV, "MLWARD_SIGNING_SECRET": issued["signing_secret"], "MLWARD_TOKEN": issued["token"]}
        print(
            "\n== A signed, authenticated prediction round trip\n"
            f"$ mlward predict credit-risk --sign --url http://127.0.0.1:{port} --data '{json.dumps(row)}'",
            flush=True,
        )
        code = subprocess.run(
            [
                *MLWARD,
                "predict",
                "credit-risk",
                "--sign",
                "--url",
                f"http://127.0.0.1:{port}",
                "--data",
                json.dumps([row]),
            ],
            cwd=HERE,
            env=env,
            check=False,
        ).returncode
        if code != 0:
            fail(f"the signed prediction was not answered (mlward predict exited {code})", code)
        print("\n== The same request without a token is refused (401, audited)", flush=True)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/models/credit-risk/predict",
            method="POST",
            data=json.dumps({"rows": [row]}).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            urllib.request.urlopen(request, timeout=5)
            fail("an anonymous request was served")
        except urllib.error.HTTPError as denied:
            print(f"HTTP {denied.code}: {json.loads(denied.read()).get('title', '')}")
            if denied.code != 401:
                fail(f"the anonymous request got HTTP {denied.code}, expected 401")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
