"""Benchmark mlward's model scanner against picklescan, modelscan and fickling.

    .venv/bin/python bench/model_scan.py [--skip-perf] [--startup-only] [--peer-corpora DIR]

Creates bench/.venv with the peers when missing, builds the benign and malicious corpora
(the same builders as the tests), and measures in one run:
  (a) detection rate and false-positive rate per tool;
  (b) wall time and peak RSS on a 1 GB PyTorch checkpoint, a 400 MB pickled NumPy dict and
      a 30 MB opcode-dense pickle (each scan is a subprocess under /usr/bin/time -v);
  (c) start-up: whole-process wall time of ``mlward model scan tiny.pkl`` against
      ``picklescan -p tiny.pkl`` (median of STARTUP_RUNS), where import cost is all there is.
Rates count only malicious samples proven to run under their real loader; inert and
unverified ones are counted apart. ``--peer-corpora DIR`` scores every tool on the peers'
own samples instead (DIR written by bench/corpus/peer_corpora.py, outside the repo).
Prints tables and writes bench/results/model_scan.json. Big files live in bench/data/.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "corpus"))

from model_corpus_benign import build_benign  # noqa: E402
from model_corpus_loaders import MaliciousSample  # noqa: E402
from model_corpus_malicious import build_malicious_samples  # noqa: E402

DATA = ROOT / "data" / "model_scan"
VENV = ROOT / ".venv"
PEERS = ("picklescan", "modelscan", "fickling")
PY = sys.executable
PERF_TIMEOUT_S = 300
STARTUP_RUNS = 7


def ensure_peer_venv(packages: tuple[str, ...] = (*PEERS, "typing_extensions")) -> Path:
    """Create bench/.venv with the peer scanners if it is missing."""
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *packages], check=True)
    return python


def build_corpora() -> tuple[list[Path], list[MaliciousSample]]:
    """(benign files, malicious samples) under bench/data/model_scan."""
    shutil.rmtree(DATA / "benign", ignore_errors=True)
    shutil.rmtree(DATA / "malicious", ignore_errors=True)
    benign = build_benign(DATA / "benign")
    benign.append(ROOT.parent / "tests/model/scan/fixtures/benign_savedmodel/saved_model.pb")
    malicious = build_malicious_samples(DATA / "malicious", DATA / "marker-never-written")
    malicious.append(
        MaliciousSample(
            ROOT.parent / "tests/model/scan/fixtures/readfile_savedmodel/saved_model.pb",
            "tensorflow.saved_model.load",
            "unverified:TensorFlow is not installed to load it",
        )
    )
    return benign, malicious


def mlward_flags(files: list[Path]) -> dict[str, dict[str, object]]:
    from mlward.core.findings import Severity
    from mlward.model.scan import Verdict, scan_paths

    report = scan_paths(files, workers=2)
    return {
        r.path: {
            "flagged": r.max_severity is not None and r.max_severity >= Severity.HIGH,
            "error": r.error if r.verdict is Verdict.ERROR else None,
        }
        for r in report.files
    }


def peer_flags(python: Path, tool: str, files: list[Path]) -> dict[str, dict[str, object]]:
    out = DATA / f"peer-{tool}.json"
    proc = subprocess.run(
        [str(python), str(ROOT / "corpus" / "model_scan_peers.py"), tool, str(out), *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{tool} driver failed: {proc.stderr[-500:]}")
    return json.loads(out.read_text())


def detection(
    python: Path, benign: list[Path], samples: list[MaliciousSample], peers: tuple[str, ...] = PEERS
) -> dict[str, dict]:
    """Detection/false-positive rates per tool (flagged = HIGH+ for mlward, any issue for peers).

    Rates count only the malicious samples whose payload is proven to run under their real
    loader; inert and unverified samples are reported apart (``flagged_inert`` …).
    """
    malicious = [s.path for s in samples if s.executes]
    apart = {status: [s.path for s in samples if s.status == status] for status in ("inert", "unverified")}
    everything = benign + [s.path for s in samples]
    results = {}
    for tool in ("mlward", *peers):
        started = time.perf_counter()
        flags = mlward_flags(everything) if tool == "mlward" else peer_flags(python, tool, everything)
        tp = sum(bool(flags[str(p)]["flagged"]) for p in malicious)
        fp = sum(bool(flags[str(p)]["flagged"]) for p in benign)
        errors = sum(flags[str(p)]["error"] is not None for p in everything)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / len(malicious)
        results[tool] = {
            "detected": tp,
            "malicious": len(malicious),
            "false_positives": fp,
            "benign": len(benign),
            "errors": errors,
            "detection_rate": round(recall, 4),
            "false_positive_rate": round(fp / len(benign), 4),
            "f1": round(2 * precision * recall / (precision + recall), 4) if tp else 0.0,
            "wall_s": round(time.perf_counter() - started, 2),
            "missed": sorted(Path(p).name for p in map(str, malicious) if not flags[p]["flagged"]),
            **{
                f"flagged_{status}": sum(bool(flags[str(p)]["flagged"]) for p in paths)
                for status, paths in apart.items()
            },
            **{status: len(paths) for status, paths in apart.items()},
        }
    return results


def peer_corpora(python: Path, root: Path) -> dict[str, dict[str, dict]]:
    """Per corpus under ``root`` (``<corpus>/{malicious,benign}/``, written by
    bench/corpus/peer_corpora.py): caught/total, false alarms/benign and errors per tool."""
    results: dict[str, dict[str, dict]] = {}
    for corpus in sorted(p for p in root.iterdir() if p.is_dir()):
        labelled = {
            label: sorted(str(f) for f in (corpus / label).rglob("*") if f.is_file())
            for label in ("malicious", "benign")
        }
        everything = [Path(f) for files in labelled.values() for f in files]
        if not everything:
            continue
        results[corpus.name] = {}
        for tool in ("mlward", *PEERS, "modelaudit"):
            flags = mlward_flags(everything) if tool == "mlward" else peer_flags(python, tool, everything)
            results[corpus.name][tool] = {
                "caught": sum(bool(flags[f]["flagged"]) for f in labelled["malicious"]),
                "malicious": len(labelled["malicious"]),
                "false_alarms": sum(bool(flags[f]["flagged"]) for f in labelled["benign"]),
                "benign": len(labelled["benign"]),
                "errors": sum(flags[str(f)]["error"] is not None for f in everything),
                "missed": sorted(Path(f).name for f in labelled["malicious"] if not flags[f]["flagged"]),
                "false_alarm_files": sorted(Path(f).name for f in labelled["benign"] if flags[f]["flagged"]),
            }
    return results


def print_peer_corpora(rows: dict[str, dict[str, dict]]) -> None:
    print("\nPeers' corpora (caught/malicious, false alarms/benign, errors)")
    tools = ("mlward", *PEERS, "modelaudit")
    print(f"{'corpus':18} " + " ".join(f"{t:>22}" for t in tools))
    for corpus, per_tool in rows.items():
        cells = [
            f"{r['caught']}/{r['malicious']} {r['false_alarms']}/{r['benign']} e{r['errors']}"
            for r in (per_tool[t] for t in tools)
        ]
        print(f"{corpus:18} " + " ".join(f"{c:>22}" for c in cells))


def make_perf_files() -> dict[str, Path]:
    """The three large inputs (built once, kept in bench/data/model_scan)."""
    import numpy as np
    import torch

    DATA.mkdir(parents=True, exist_ok=True)
    files = {
        "pytorch_1gb": DATA / "checkpoint_1gb.pt",
        "numpy_400mb": DATA / "numpy_400mb.pkl",
        "dense_30mb": DATA / "dense_30mb.pkl",
    }
    if not files["pytorch_1gb"].exists():
        state = {f"layer{i}.weight": torch.randn(2048, 2048) for i in range(64)}
        torch.save(state, files["pytorch_1gb"])
    if not files["numpy_400mb"].exists():
        arrays = {f"a{i}": np.random.default_rng(i).random(1_250_000) for i in range(40)}
        files["numpy_400mb"].write_bytes(pickle.dumps(arrays, protocol=4))
    if not files["dense_30mb"].exists():
        dense = [{"a": i, "b": [i, "x"], "c": (i, 2.5)} for i in range(720_000)]
        files["dense_30mb"].write_bytes(pickle.dumps(dense, protocol=4))
    return files


def perf_command(tool: str, path: Path, python: Path) -> list[str]:
    bindir = python.parent
    return {
        "mlward": [PY, "-c", f"from mlward.model.scan import scan_file; scan_file({str(path)!r})"],
        "picklescan": [str(bindir / "picklescan"), "--path", str(path)],
        "modelscan": [str(bindir / "modelscan"), "-p", str(path)],
        "fickling": [str(bindir / "fickling"), "--check-safety", str(path)],
    }[tool]


def measure(cmd: list[str]) -> dict[str, object]:
    """Wall time and peak RSS of one subprocess, via GNU time."""
    started = time.perf_counter()
    # A session of its own, so that a timeout ends the scanner too, not only GNU time.
    proc = subprocess.Popen(
        ["/usr/bin/time", "-v", *cmd],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _, stderr = proc.communicate(timeout=PERF_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return {"wall_s": None, "peak_rss_mb": None, "note": f"timeout {PERF_TIMEOUT_S}s"}
    wall = time.perf_counter() - started
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
    return {
        "wall_s": round(wall, 2),
        "peak_rss_mb": round(int(rss.group(1)) / 1024, 1) if rss else None,
        "exit_code": proc.returncode,
    }


def performance(python: Path) -> dict[str, dict]:
    files = make_perf_files()
    warm = DATA / "benign" / "numpy" / "arr.npy"
    for tool in ("mlward", *PEERS):  # imports compiled and cached before timing
        measure(perf_command(tool, warm, python))
    results: dict[str, dict] = {}
    for label, path in files.items():
        results[label] = {"size_mb": round(path.stat().st_size / 1e6, 1)}
        for tool in ("mlward", *PEERS):
            results[label][tool] = measure(perf_command(tool, path, python))
    return results


def startup(python: Path) -> dict[str, dict]:
    """Median whole-process wall time of a CLI scan of a tiny pickle: start-up, not scanning."""
    tiny = DATA / "startup" / "tiny.pkl"
    tiny.parent.mkdir(parents=True, exist_ok=True)
    tiny.write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    commands = {
        "mlward": [PY, "-m", "mlward.cli.main", "model", "scan", str(tiny)],
        "picklescan": [str(python.parent / "picklescan"), "-p", str(tiny)],
    }
    # Bytecode is cached as in an installed package (pip compiles picklescan's on install),
    # even where the environment says not to write it; the first, uncounted run writes it.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    results: dict[str, dict] = {}
    for tool, cmd in commands.items():
        subprocess.run(cmd, cwd=tiny.parent, env=env, capture_output=True, check=False)
        walls, codes = [], set()
        for _ in range(STARTUP_RUNS):
            started = time.perf_counter()
            proc = subprocess.run(cmd, cwd=tiny.parent, env=env, capture_output=True, check=False)
            walls.append(time.perf_counter() - started)
            codes.add(proc.returncode)
        walls.sort()
        results[tool] = {
            "median_ms": round(walls[len(walls) // 2] * 1000, 1),
            "min_ms": round(walls[0] * 1000, 1),
            "max_ms": round(walls[-1] * 1000, 1),
            "runs": STARTUP_RUNS,
            "exit_codes": sorted(codes),
        }
    return results


def print_startup(rows: dict[str, dict]) -> None:
    print(f"\nStart-up (scan of a tiny pickle, whole process, {STARTUP_RUNS} runs, ms)")
    print(f"{'tool':12} {'median':>8} {'min':>8} {'max':>8} {'exit':>6}")
    for tool, r in rows.items():
        codes = ",".join(map(str, r["exit_codes"]))
        print(f"{tool:12} {r['median_ms']:>8} {r['min_ms']:>8} {r['max_ms']:>8} {codes:>6}")


def print_tables(det: dict[str, dict], perf: dict[str, dict] | None) -> None:
    print("\nDetection (malicious flagged HIGH+/any issue; benign flagged = false positive)")
    print(
        f"{'tool':12} {'detected':>10} {'det.rate':>9} {'FP':>6} {'FP rate':>8} {'F1':>6} "
        f"{'errors':>7} {'wall s':>7}"
    )
    for tool, r in det.items():
        print(
            f"{tool:12} {r['detected']:>4}/{r['malicious']:<5} {r['detection_rate']:>9.1%} "
            f"{r['false_positives']:>3}/{r['benign']:<3}{r['false_positive_rate']:>7.1%} "
            f"{r['f1']:>6.3f} {r['errors']:>7} {r['wall_s']:>7}"
            f"   inert flagged {r['flagged_inert']}/{r['inert']},"
            f" unverified {r['flagged_unverified']}/{r['unverified']}"
        )
    if not perf:
        return
    print("\nPerformance (wall seconds / peak RSS MB, one process per scan)")
    print(f"{'input':14} {'size MB':>8} " + " ".join(f"{t:>20}" for t in ("mlward", *PEERS)))
    for label, row in perf.items():
        cells = []
        for tool in ("mlward", *PEERS):
            m = row[tool]
            text = m.get("note") or f"{m['wall_s']}s / {m['peak_rss_mb']}MB"
            cells.append(f"{text:>20}")
        print(f"{label:14} {row['size_mb']:>8} " + " ".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-perf", action="store_true", help="Only detection rates.")
    parser.add_argument(
        "--startup-only",
        action="store_true",
        help="Only the start-up comparison; other results in the json are kept.",
    )
    parser.add_argument(
        "--peer-corpora",
        type=Path,
        metavar="DIR",
        help="Only the peers' own corpora exported by "
        "bench/corpus/peer_corpora.py into DIR; other results are kept.",
    )
    args = parser.parse_args()
    out = ROOT / "results" / "model_scan.json"
    out.parent.mkdir(exist_ok=True)
    if args.peer_corpora:
        python = ensure_peer_venv((*PEERS, "modelaudit", "typing_extensions"))
        results = json.loads(out.read_text()) if out.exists() else {}
        results["peer_corpora"] = peer_corpora(python, args.peer_corpora.expanduser())
        print_peer_corpora(results["peer_corpora"])
        out.write_text(json.dumps(results, indent=2))
        print(f"\nwrote {out}")
        return
    if args.startup_only:
        python = ensure_peer_venv(("picklescan",))
        results = json.loads(out.read_text()) if out.exists() else {}
    else:
        python = ensure_peer_venv()
        benign, malicious = build_corpora()
        det = detection(python, benign, malicious)
        perf = None if args.skip_perf else performance(python)
        print_tables(det, perf)
        results = {"detection": det, "performance": perf}
    results["startup"] = startup(python)
    results["cpu_count"] = os.cpu_count()
    print_startup(results["startup"])
    out.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
