"""The cost of a guarded prediction: `mlward serve` vs a plain FastAPI endpoint, same model.

Usage: python bench/serve.py [--duration 10] [--concurrency 16] [--rounds 10]

One scikit-learn model (StandardScaler + LogisticRegression on four credit features),
saved with joblib, served two ways on this machine, one after the other, each by uvicorn
(one worker, same settings) in its own process:

  plain:  FastAPI endpoint -> json -> numpy -> model.predict_proba -> JSON
  mlward: `mlward serve` app with API-key auth + RBAC, rate limit (high), request
          validation from the data contract, outlier / enumeration / PRADA guards,
          drift monitor, and the durable (fsync'd journal) audit of every prediction

Both servers run side by side; a load generator in its own process (asyncio, N keep-alive
HTTP/1.1 connections; httpx is used only for readiness checks, as its client costs more CPU
per request than the servers under test) sends them the same request bodies (1000 distinct valid rows, or
200 distinct 100-row batches) in short alternating bursts (--rounds per scenario, order
flipped each round), so a machine whose load drifts treats both alike. Two shapes per batch
size: one connection (latency: p50 / p99) and N connections (throughput: req/s at
saturation). The server's own CPU time per request (from /proc: every thread, the fsync
system time, and mlward's audit shipper processes) is reported too, since it does not
depend on how fast the load generator is.
Targets: mlward p99 within 1 ms of plain, throughput >= 80 % of plain. Throughput is
reported both summed over the rounds ("ratio") and as the median of the per-round ratios
("paired": both servers measured back to back), which is what the target is judged on:
on a shared VM whose speed drifts by tens of percent within a minute, the pairs are what
compares like with like.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

RESULTS = Path(__file__).with_name("results")
FEATURES = ["age", "income", "loan_amount", "term_months"]
CONTRACT = {
    "columns": {
        "age": {"type": "int", "min": 18, "max": 100},
        "income": {"type": "float", "min": 0, "max": 1_000_000},
        "loan_amount": {"type": "float", "min": 0, "max": 1_000_000},
        "term_months": {"type": "int", "allowed": [12, 24, 36, 60]},
    }
}
MODEL = "credit-risk"
TARGET_P99_MS = 1.0
TARGET_THROUGHPUT = 0.80


# -- fixtures ---------------------------------------------------------------------------------
def _rows(n: int, seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    return [
        {
            "age": int(rng.integers(18, 80)),
            "income": round(abs(float(rng.normal(50_000, 15_000))) + 5_000, 2),
            "loan_amount": round(float(rng.uniform(1_000, 50_000)), 2),
            "term_months": int(rng.choice([12, 24, 36, 60])),
        }
        for _ in range(n)
    ]


def build_workspace(work: Path) -> dict[str, str]:
    """A workspace with the model registered (with its outlier detector) and promoted."""
    import joblib
    import pandas as pd
    import yaml
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from mlward.access.tokens import create_token
    from mlward.data.outliers import OutlierDetector
    from mlward.model.registry import promote_model, register_model
    from mlward.workspace import Workspace

    os.environ["MLWARD_PRINCIPAL"] = "bench"
    ws = Workspace.init(work / "ws", project="serve-bench")
    config = yaml.safe_load(ws.config_path.read_text())
    config["contracts"] = {MODEL: CONTRACT}
    ws.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    ws.close()
    ws = Workspace.open(work / "ws")
    rows = _rows(5000, seed=0)
    X = np.array([[r[f] for f in FEATURES] for r in rows], dtype=float)
    y = (X[:, 2] / X[:, 1] > 0.5).astype(int)
    artifact = work / MODEL
    artifact.mkdir()
    joblib.dump(make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y), artifact / "model.joblib")
    OutlierDetector(target_fpr=0.01).fit(pd.DataFrame(X, columns=FEATURES)).save(
        artifact / f"{MODEL}.outliers.safetensors"
    )
    register_model(ws, artifact, MODEL)
    promote_model(ws, MODEL, 1, "production")
    token = create_token(ws, ["predictor"], name="bench").token
    ws.close()
    return {"workspace": str(work / "ws"), "model_file": str(artifact / "model.joblib"), "token": token}


# -- the two servers --------------------------------------------------------------------------
def plain_app(model_file: str) -> Any:
    """The baseline: what a minimal FastAPI model endpoint does."""
    import joblib

    model = joblib.load(model_file)
    classes = model.classes_
    app = FastAPI()

    @app.post(f"/v1/models/{MODEL}/predict")
    async def predict(request: Request) -> JSONResponse:
        body = await request.json()
        X = np.array([[row[f] for f in FEATURES] for row in body["rows"]], dtype=np.float64)
        proba = model.predict_proba(X)
        return JSONResponse(
            {
                "predictions": classes[proba.argmax(axis=1)].tolist(),
                "probabilities": np.round(proba, 6).tolist(),
            }
        )

    @app.get("/readyz")
    async def ready() -> dict[str, str]:
        return {"status": "ready"}

    return app


def serve(kind: str, fixtures: dict[str, str], port: int) -> None:
    """Run one server in this process until killed."""
    import uvicorn

    if kind == "plain":
        app = plain_app(fixtures["model_file"])
    else:
        from mlward.serve.app import create_app

        high = "10000000/second"  # limits on, never reached
        limits = {"rate_limit": high, "model_rate_limit": high, "rows_rate_limit": high}
        app = create_app(fixtures["workspace"], overrides=limits)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# -- load generator ---------------------------------------------------------------------------
def _request(url: str, body: bytes, token: str) -> bytes:
    """One pre-encoded HTTP/1.1 keep-alive POST."""
    target = urlsplit(url)
    head = (
        f"POST {target.path} HTTP/1.1\r\nHost: {target.netloc}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return int(head[9:12])


async def _load(
    url: str, bodies: list[bytes], token: str, duration: float, concurrency: int
) -> dict[str, Any]:
    # A bare asyncio HTTP/1.1 client: httpx spends more CPU per request than the servers
    # under test, so on a small machine it would measure itself rather than them.
    target = urlsplit(url)
    requests = [_request(url, body, token) for body in bodies]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    stop = time.perf_counter() + duration

    async def worker(offset: int) -> None:
        reader, writer = await asyncio.open_connection(target.hostname, target.port)
        i = offset
        try:
            while time.perf_counter() < stop:
                request = requests[i % len(requests)]
                i += concurrency
                started = time.perf_counter()
                status = await _exchange(reader, writer, request)
                latencies.append(time.perf_counter() - started)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    begun = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    elapsed = time.perf_counter() - begun
    return {
        "requests": len(latencies),
        "statuses": statuses,
        "seconds": elapsed,
        "latencies_ms": [round(x * 1000, 4) for x in latencies],
    }


def loadgen_loop() -> None:
    """Serve load requests read from stdin, one JSON command per line (runs in its own process)."""
    cache: dict[int, list[bytes]] = {}
    for line in sys.stdin:
        command = json.loads(line)
        rows = command["rows"]
        if rows not in cache:
            batches = 1000 if rows == 1 else 200
            pool = _rows(batches * rows, seed=1)
            cache[rows] = [
                json.dumps({"rows": pool[i * rows : (i + 1) * rows]}).encode() for i in range(batches)
            ]
        result = asyncio.run(
            _load(command["url"], cache[rows], command["token"], command["duration"], command["concurrency"])
        )
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()


# -- orchestration ----------------------------------------------------------------------------
def _proc_cpu(pid: int) -> tuple[int, float]:
    """(parent pid, user + system seconds) of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """CPU seconds of a server and of its live child processes (mlward's audit shippers)."""
    total = _proc_cpu(pid)[1]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent, seconds = _proc_cpu(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
            if parent == pid:
                total += seconds
    return total


def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("server exited during startup")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("server did not become ready")


class LoadGenerator:
    """The load-generator process, driven over a pipe."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--loadgen"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def run(self, url: str, rows: int, token: str, duration: float, concurrency: int) -> dict[str, Any]:
        """One burst of load; the raw measurements."""
        assert self.process.stdin is not None and self.process.stdout is not None
        command = {"url": url, "rows": rows, "token": token, "duration": duration, "concurrency": concurrency}
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self) -> None:
        """Stop the process."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


def _start(kind: str, fixtures: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, "--fixtures", json.dumps(fixtures), "--port", str(port)]
    )


def _summary(parts: list[dict[str, Any]], cpu_seconds: float) -> dict[str, Any]:
    latencies = np.array([x for part in parts for x in part["latencies_ms"]])
    statuses: dict[str, int] = {}
    for part in parts:
        for code, count in part["statuses"].items():
            statuses[code] = statuses.get(code, 0) + count
    seconds = sum(part["seconds"] for part in parts)
    return {
        "requests": len(latencies),
        "statuses": statuses,
        "seconds": seconds,
        "rps": statuses.get("200", 0) / seconds,
        "p50_ms": float(np.percentile(latencies, 50)),
        "p99_ms": float(np.percentile(latencies, 99)),
        "server_cpu_us_per_request": cpu_seconds / max(len(latencies), 1) * 1e6,
    }


def measure(fixtures: dict[str, str], args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Run both servers side by side and interleave short bursts, so drifting machine load hits both alike."""
    kinds = {"plain": 18_431, "mlward": 18_432}
    processes = {kind: _start(kind, fixtures, port) for kind, port in kinds.items()}
    load = LoadGenerator()
    results: dict[str, dict[str, Any]] = {kind: {} for kind in kinds}
    try:
        for kind, port in kinds.items():
            _wait_ready(f"http://127.0.0.1:{port}", processes[kind])
        targets = {kind: f"http://127.0.0.1:{port}/v1/models/{MODEL}/predict" for kind, port in kinds.items()}
        burst = args.duration / args.rounds
        for rows in (1, 100):
            for kind in kinds:
                load.run(targets[kind], rows, fixtures["token"], 2.0, args.concurrency)  # warm-up
            for shape, concurrency in (("latency", 1), ("throughput", args.concurrency)):
                parts: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
                cpu = dict.fromkeys(kinds, 0.0)
                for round_ in range(args.rounds):
                    order = list(kinds) if round_ % 2 == 0 else list(reversed(kinds))
                    for kind in order:
                        before = _cpu_seconds(processes[kind].pid)
                        parts[kind].append(
                            load.run(targets[kind], rows, fixtures["token"], burst, concurrency)
                        )
                        cpu[kind] += _cpu_seconds(processes[kind].pid) - before
                for kind in kinds:
                    result = _summary(parts[kind], cpu[kind])
                    result["round_rps"] = [
                        part["statuses"].get("200", 0) / part["seconds"] for part in parts[kind]
                    ]
                    results[kind][f"{rows}-row/{shape}"] = result
                    print(
                        f"  {kind:6} {rows:3}-row {shape:10} {result['rps']:8.0f} req/s"
                        f"  p50 {result['p50_ms']:6.2f} ms  p99 {result['p99_ms']:6.2f} ms"
                        f"  server CPU {result['server_cpu_us_per_request']:6.0f} µs/req"
                        f"  statuses {result['statuses']}",
                        flush=True,
                    )
    finally:
        load.close()
        for process in processes.values():
            process.terminate()
            process.wait(timeout=60)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--serve", choices=["plain", "mlward"])
    parser.add_argument("--fixtures")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=10, help="interleaved bursts per scenario and server")
    parser.add_argument("--loadgen", action="store_true")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, json.loads(args.fixtures), args.port)
        return
    if args.loadgen:
        loadgen_loop()
        return
    work = Path(tempfile.mkdtemp(prefix="mlward-bench-serve-", dir=Path(__file__).parent))
    try:
        fixtures = build_workspace(work)
        print(f"serving {MODEL}: {args.duration:.0f} s per scenario, {args.concurrency} connections at most")
        results = measure(fixtures, args)
        report(results["plain"], results["mlward"], args)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(plain: dict[str, Any], guarded: dict[str, Any], args: argparse.Namespace) -> None:
    """Print the comparison table and write bench/results/serve.json."""
    summary = {}
    print(
        f"\n{'scenario':10} {'plain req/s':>11} {'mlward req/s':>12} {'ratio':>6} {'paired':>6}"
        f" {'plain p50/p99 ms':>17}"
        f" {'mlward p50/p99 ms':>18} {'Δp99 ms':>8} {'CPU µs/req plain→mlward':>24}"
    )
    for rows in (1, 100):
        p_lat, m_lat = plain[f"{rows}-row/latency"], guarded[f"{rows}-row/latency"]
        p_thr, m_thr = plain[f"{rows}-row/throughput"], guarded[f"{rows}-row/throughput"]
        ratio = m_thr["rps"] / p_thr["rps"]
        # Each round ran both servers back to back: the ratio within a round is what the
        # machine's drifting speed disturbs least, and its median what the target is judged on.
        paired = [m / p for m, p in zip(m_thr["round_rps"], p_thr["round_rps"], strict=True) if p > 0]
        paired_median = float(np.median(paired))
        delta = m_lat["p99_ms"] - p_lat["p99_ms"]
        summary[f"{rows}-row"] = {
            "throughput_ratio": ratio,
            "paired_throughput_ratios": [round(x, 3) for x in paired],
            "paired_throughput_ratio_median": paired_median,
            "p99_delta_ms": delta,
            "meets_throughput_target": paired_median >= TARGET_THROUGHPUT,
            "meets_p99_target": delta <= TARGET_P99_MS,
        }
        print(
            f"{rows:3}-row    {p_thr['rps']:11.0f} {m_thr['rps']:12.0f} {ratio:6.2f} {paired_median:6.2f} "
            f"{p_lat['p50_ms']:8.2f}/{p_lat['p99_ms']:<8.2f} {m_lat['p50_ms']:9.2f}/{m_lat['p99_ms']:<8.2f}"
            f" {delta:8.2f} {p_thr['server_cpu_us_per_request']:11.0f} → "
            f"{m_thr['server_cpu_us_per_request']:.0f}"
        )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "serve.json").write_text(
        json.dumps(
            {
                "model": "StandardScaler+LogisticRegression (4 features), joblib",
                "duration_s": args.duration,
                "concurrency": args.concurrency,
                "cpus": os.cpu_count(),
                "load_average_at_end": os.getloadavg(),
                "plain": plain,
                "mlward": guarded,
                "summary": summary,
                "targets": {"p99_delta_ms": TARGET_P99_MS, "throughput_ratio": TARGET_THROUGHPUT},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
