"""Drift benchmark: mlward (local and Dask engines) vs Evidently's DataDriftPreset.

Same Parquet data for every tool, end to end (read + profile + test), each run in its own
subprocess so its peak memory (RSS of the process tree, sampled every 50 ms) is its own:

* ``1m_x_50``: 1,000,000 rows x 50 columns (30 float, 5 wide int, 5 int with 4 values,
  10 strings), 10 columns with planted drift;
* ``5m_x_20``: 5,000,000 rows x 20 columns (12 float, 2 int with 4 values, 6 strings),
  6 columns with planted drift.

Evidently (installed into bench/.venv-evidently with ``pandas<3``, so its pins never touch
the project venv) runs under a timeout. Verdict agreement is counted on the columns where
both tools picked the same kind of test (Wasserstein-normed vs Wasserstein-normed,
Jensen-Shannon vs Jensen-Shannon). Prints a table and writes bench/results/drift.json.

Usage: ``.venv/bin/python bench/drift.py [--only 1m_x_50] [--evidently-timeout 900]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data" / "drift"
RESULTS = HERE / "results" / "drift.json"
EVIDENTLY_VENV = HERE / ".venv-evidently"
SHAPES = {"1m_x_50": (1_000_000, 30, 5, 5, 10, 10), "5m_x_20": (5_000_000, 12, 0, 2, 6, 6)}
"""name -> rows, floats, wide ints, small ints, strings, drifted columns."""
FILES = 8


# ---- data ---------------------------------------------------------------------------------
def _columns(shape: tuple[int, ...], seed: int, drifted: set[str], rows: int) -> dict[str, object]:
    import numpy as np

    _, floats, wide, small, strings, _ = shape
    rng = np.random.default_rng(seed)
    out: dict[str, object] = {}
    for i in range(floats):
        name = f"f{i:02d}"
        bump = name in drifted
        kind = i % 3
        if kind == 0:
            out[name] = rng.normal(10 * i + (0.5 if bump else 0.0), 1 + i % 5, rows)
        elif kind == 1:
            out[name] = rng.lognormal(1.0, 0.6 * (1.6 if bump else 1.0), rows)
        else:
            out[name] = rng.uniform(0, 1 + (0.3 if bump else 0.0), rows)
    for i in range(wide):
        name = f"w{i}"
        out[name] = rng.integers(0, 1_000 + (400 if name in drifted else 0), rows)
    for i in range(small):
        name = f"s{i}"
        p = [0.1, 0.2, 0.3, 0.4] if name in drifted else [0.4, 0.3, 0.2, 0.1]
        out[name] = rng.choice(4, rows, p=p)
    for i in range(strings):
        name = f"c{i}"
        cats = 5 + 5 * i
        labels = np.array([f"{name}_{j}" for j in range(cats)])
        weights = 1.0 / np.arange(1, cats + 1)
        if name in drifted:
            weights = weights[::-1]
        out[name] = labels[rng.choice(cats, rows, p=weights / weights.sum())]
    return out


def planted(name: str) -> list[str]:
    """The columns whose distribution changes between reference and current."""
    _, floats, wide, small, strings, count = SHAPES[name]
    pool = [f"f{i:02d}" for i in range(0, floats, 3)] + [f"c{i}" for i in range(strings)]
    pool += [f"s{i}" for i in range(small)] + [f"w{i}" for i in range(wide)]
    picked = pool[: count // 2] + [p for p in pool if p.startswith(("c", "s"))][: count - count // 2]
    return sorted(set(picked))


def ensure_data(name: str) -> tuple[Path, Path]:
    """Write reference and current Parquet directories once (bench/data is git-ignored)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = SHAPES[name][0]
    drifted = set(planted(name))
    paths = []
    for side, seed in (("reference", 1), ("current", 2)):
        root = DATA / name / side
        paths.append(root)
        if (root / "_done").exists():
            continue
        root.mkdir(parents=True, exist_ok=True)
        per_file = rows // FILES
        for part in range(FILES):
            changed = drifted if side == "current" else set()
            cols = _columns(SHAPES[name], seed * 100 + part, changed, per_file)
            pq.write_table(pa.table(cols), root / f"part-{part:02d}.parquet", row_group_size=131_072)
        (root / "_done").write_text("ok")
    return paths[0], paths[1]


# ---- workers (each runs in its own subprocess) ----------------------------------------------
def worker_mlward(reference: str, current: str, engine: str, out: str) -> None:
    sys.path.insert(0, str(ROOT / "src"))
    from mlward.data.drift import DriftDetector
    from mlward.engine.dask import make_engine

    runner = make_engine(engine, workers=2)
    start = time.perf_counter()
    report = DriftDetector(engine=runner).fit(reference).compare(current)
    elapsed = time.perf_counter() - start
    close = getattr(runner, "close", None)
    if close:
        close()
    verdicts = {
        c.column: {"test": c.test, "statistic": c.statistic, "drifted": c.drifted} for c in report.columns
    }
    Path(out).write_text(
        json.dumps({"seconds": elapsed, "columns": verdicts, "dataset_drifted": report.drifted})
    )


def worker_evidently(reference: str, current: str, out: str) -> None:
    import pandas as pd
    from evidently import Report
    from evidently.presets import DataDriftPreset

    start = time.perf_counter()
    ref = pd.read_parquet(reference)
    cur = pd.read_parquet(current)
    snapshot = Report([DataDriftPreset()]).run(cur, ref)
    result = snapshot.dict()
    elapsed = time.perf_counter() - start
    verdicts = {}
    drifted_share = None
    for metric in result["metrics"]:
        config = metric["config"]
        if config.get("type", "").endswith("DriftedColumnsCount"):
            drifted_share = metric["value"]["share"]
        if not config.get("type", "").endswith("ValueDrift"):
            continue
        method, threshold, value = config["method"], config["threshold"], float(metric["value"])
        is_p_value = "p_value" in method
        verdicts[config["column"]] = {
            "test": method,
            "statistic": value,
            "drifted": value < threshold if is_p_value else value >= threshold,
        }
    Path(out).write_text(
        json.dumps({"seconds": elapsed, "columns": verdicts, "dataset_drifted": (drifted_share or 0) >= 0.5})
    )


# ---- driver ---------------------------------------------------------------------------------
def measure(command: list[str], timeout: float) -> tuple[dict | None, float, float, str]:
    """Run ``command``; return (its JSON result, wall seconds, peak tree RSS in MiB, status)."""
    import psutil

    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = handle.name
    start = time.perf_counter()
    proc = subprocess.Popen([*command, out], cwd=ROOT)
    peak = 0
    status = "ok"
    parent = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            tree = [parent, *parent.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        if time.perf_counter() - start > timeout:
            for child in parent.children(recursive=True):
                child.kill()
            proc.kill()
            status = f"timeout after {timeout:.0f} s"
            break
        time.sleep(0.05)
    proc.wait()
    wall = time.perf_counter() - start
    if status == "ok" and proc.returncode != 0:
        status = f"exit {proc.returncode}"
    text = Path(out).read_text() if Path(out).exists() else ""
    Path(out).unlink(missing_ok=True)
    return (json.loads(text) if status == "ok" and text else None), wall, peak / 2**20, status


def agreement(ours: dict, theirs: dict) -> dict[str, object]:
    """Count matching verdicts where both tools used the same kind of test."""
    pairs = {
        "wasserstein": "Wasserstein",
        "jensenshannon": "Jensen-Shannon",
        "ks": "K-S",
        "chisquare": "chi-square",
    }
    comparable, same, differ = 0, 0, []
    for column, mine in ours["columns"].items():
        other = theirs["columns"].get(column)
        if other is None or pairs.get(mine["test"], "?") not in other["test"]:
            continue
        comparable += 1
        if mine["drifted"] == other["drifted"]:
            same += 1
        else:
            differ.append(column)
    return {"comparable_columns": comparable, "agreeing": same, "disagreeing": differ}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(SHAPES))
    parser.add_argument("--evidently-timeout", type=float, default=900.0)
    parser.add_argument("--worker", choices=["mlward", "evidently"], help=argparse.SUPPRESS)
    parser.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker == "mlward":
        worker_mlward(*options.args)
        return 0
    if options.worker == "evidently":
        worker_evidently(*options.args)
        return 0

    evidently_python = EVIDENTLY_VENV / "bin" / "python"
    if not evidently_python.exists():
        print(f"creating {EVIDENTLY_VENV} (evidently, pandas<3, pyarrow)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(EVIDENTLY_VENV)], check=True)
        subprocess.run(
            [str(EVIDENTLY_VENV / "bin" / "pip"), "install", "-q", "evidently", "pandas<3", "pyarrow"],
            check=True,
        )
    results: dict[str, object] = {"cpu_count": os.cpu_count(), "datasets": {}}
    rows_out = []
    for name in [options.only] if options.only else list(SHAPES):
        reference, current = ensure_data(name)
        runs = {
            "mlward (local)": (
                [sys.executable, __file__, "--worker", "mlward", str(reference), str(current), "local"],
                1800.0,
            ),
            "mlward (dask, 2 workers)": (
                [sys.executable, __file__, "--worker", "mlward", str(reference), str(current), "dask"],
                1800.0,
            ),
            "evidently": (
                [str(evidently_python), __file__, "--worker", "evidently", str(reference), str(current)],
                options.evidently_timeout,
            ),
        }
        entry: dict[str, object] = {"rows": SHAPES[name][0], "planted": planted(name)}
        outputs = {}
        for tool, (command, timeout) in runs.items():
            print(f"{name}: running {tool} ...", flush=True)
            result, wall, peak, status = measure(command, timeout)
            outputs[tool] = result
            found = sorted(c for c, v in (result or {}).get("columns", {}).items() if v["drifted"])
            entry[tool] = {
                "wall_seconds": round(wall, 2),
                "peak_rss_mib": round(peak, 1),
                "status": status,
                "drifted_columns": found,
                "planted_found": sorted(set(found) & set(planted(name))) == planted(name),
            }
            rows_out.append((name, tool, wall, peak, status, len(found)))
        if outputs.get("evidently") and outputs.get("mlward (local)"):
            entry["agreement_local_vs_evidently"] = agreement(outputs["mlward (local)"], outputs["evidently"])
            local, evid = entry["mlward (local)"], entry["evidently"]
            entry["speedup_vs_evidently"] = round(evid["wall_seconds"] / local["wall_seconds"], 1)
            entry["memory_ratio_vs_evidently"] = round(local["peak_rss_mib"] / evid["peak_rss_mib"], 3)
        results["datasets"][name] = entry
    print(f"\n{'data':9} {'tool':26} {'wall s':>8} {'peak MiB':>9} {'drifted':>8}  status")
    for name, tool, wall, peak, status, found in rows_out:
        print(f"{name:9} {tool:26} {wall:8.1f} {peak:9.0f} {found:8d}  {status}")
    for name, entry in results["datasets"].items():
        if "agreement_local_vs_evidently" in entry:
            agree = entry["agreement_local_vs_evidently"]
            print(
                f"{name}: {entry['speedup_vs_evidently']}x faster, "
                f"{entry['memory_ratio_vs_evidently']} of Evidently's peak memory, verdicts agree on "
                f"{agree['agreeing']}/{agree['comparable_columns']} comparable columns"
            )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
