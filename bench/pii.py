"""Benchmark: PII discovery on a labelled 1M-row, 12-column table, mlward vs Presidio.

One run, one table (``mlward.data.pii.synthetic.benchmark_table``: names, e-mails and
phones from seven Faker locales, SSNs, cards, IBANs, birth dates, addresses, IPs, two
trap columns -- 16-digit order ids and order dates -- and a free-text notes column),
written once to bench/data/pii/. Then, each tool in its own process (peak RSS measured
per process):

- mlward ``scan`` of the Parquet file on the local engine (2 threads), the full table;
- mlward on the same 20k-row sample Presidio gets (like for like);
- Presidio (``presidio-analyzer`` + ``presidio-structured``, in bench/.venv-presidio):
  its predefined pattern recognizers through ``BatchAnalyzerEngine`` per column, with a
  stub NLP engine (no spaCy model), on a 20k-row sample -- the full million rows would
  take hours, so its rows/s are measured on the sample and the full-table time is
  extrapolated (said so in the output). Columns are classified two ways: Presidio
  structured's "most common entity" strategy, and the same share rule mlward uses.

Column-level precision / recall per entity type against the ground truth. Presidio has
no date-of-birth type: its DATE_TIME counts as DATE_OF_BIRTH (so order dates count
against it); PERSON needs an NER model, which the stub does not provide.

Run: ``.venv/bin/python bench/pii.py [--rows 1000000] [--sample 20000]``. Needs
``bench/.venv-presidio`` (``python -m venv bench/.venv-presidio &&
bench/.venv-presidio/bin/pip install presidio-analyzer presidio-structured pyarrow``).
Prints a table and writes bench/results/pii.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "pii"
PRESIDIO_PYTHON = HERE / ".venv-presidio" / "bin" / "python"
PRESIDIO_TO_MLWARD = {
    "EMAIL_ADDRESS": "EMAIL",
    "PHONE_NUMBER": "PHONE",
    "CREDIT_CARD": "CREDIT_CARD",
    "IBAN_CODE": "IBAN",
    "US_SSN": "US_SSN",
    "US_ITIN": "US_ITIN",
    "UK_NINO": "UK_NINO",
    "IP_ADDRESS": "IP_ADDRESS",
    "MAC_ADDRESS": "MAC_ADDRESS",
    "DATE_TIME": "DATE_OF_BIRTH",
    "PERSON": "PERSON",
    "LOCATION": "ADDRESS",
    "IN_PAN": "IN_PAN",
    "IN_AADHAAR": "IN_AADHAAR",
    "IT_FISCAL_CODE": "IT_FISCAL_CODE",
    "ES_NIF": "ES_DNI",
    "ES_NIE": "ES_NIE",
    "DE_TAX_ID": "DE_TAX_ID",
}


def build_table(rows: int) -> tuple[Path, dict[str, list[str]]]:
    """Write the labelled table once (reused when the row count matches)."""
    DATA.mkdir(parents=True, exist_ok=True)
    path, truth_path = DATA / f"table-{rows}.parquet", DATA / f"truth-{rows}.json"
    if not (path.exists() and truth_path.exists()):
        import pyarrow.parquet as pq

        from mlward.data.pii.synthetic import benchmark_table

        labelled = benchmark_table(rows, seed=7, pool=20_000)
        pq.write_table(labelled.table, path, row_group_size=131_072)
        truth = {name: sorted(e.value for e in entities) for name, entities in labelled.truth.items()}
        truth_path.write_text(json.dumps(truth, indent=2))
    return path, json.loads(truth_path.read_text())


def mlward_worker(path: str, rows: int, out: str) -> None:
    """Scan ``rows`` rows (all when 0) of the table; runs in its own process."""
    import pyarrow.parquet as pq

    from mlward.data.pii import scan
    from mlward.engine.local import LocalEngine

    target: object = path
    if rows:
        target = pq.read_table(path).slice(0, rows)
    started, cpu_started = time.perf_counter(), time.process_time()
    result = scan(target, engine=LocalEngine(workers=2))
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    Path(out).write_text(
        json.dumps(
            {
                "rows": result.rows,
                "seconds": seconds,
                "rows_per_s": result.rows / seconds,
                "cpu_seconds": cpu_seconds,
                "load_average": os.getloadavg()[0],
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "mapping": {c.name: [e.value for e in c.entity_types] for c in result.columns},
                "validated": {c.name: [c.cells_validated, c.cells_candidate] for c in result.columns},
            }
        )
    )


def _run(command: list[str], out: Path) -> dict:
    subprocess.run(command, check=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    return json.loads(out.read_text())


def _presidio_share_mapping(presidio: dict) -> dict[str, list[str]]:
    """mlward's column rule on Presidio's cells: >= 50% of cells, or >= 0.1% in free text."""
    mapping = {}
    for column, by_entity in presidio["shares"].items():
        text_column = presidio["text_like"][column]
        mapping[column] = sorted(
            {
                PRESIDIO_TO_MLWARD.get(entity, entity)
                for entity, share in by_entity.items()
                if share >= 0.5 or (text_column and share >= 0.001)
            }
        )
    return mapping


def score(mapping: dict[str, list[str]], truth: dict[str, list[str]]) -> dict[str, dict[str, float]]:
    """Column-level precision / recall per entity type."""
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for column, expected in truth.items():
        found, wanted = set(mapping.get(column, [])), set(expected)
        tp.update(found & wanted)
        fp.update(found - wanted)
        fn.update(wanted - found)
    entities = sorted(set(tp) | set(fp) | set(fn))
    table = {}
    for entity in entities:
        precision = tp[entity] / (tp[entity] + fp[entity]) if tp[entity] + fp[entity] else None
        recall = tp[entity] / (tp[entity] + fn[entity]) if tp[entity] + fn[entity] else None
        table[entity] = {
            "tp": tp[entity],
            "fp": fp[entity],
            "fn": fn[entity],
            "precision": precision,
            "recall": recall,
        }
    total_tp, total_fp, total_fn = sum(tp.values()), sum(fp.values()), sum(fn.values())
    table["ALL"] = {
        "tp": total_tp,
        "fp": total_fp,
        "fn": total_fn,
        "precision": total_tp / max(1, total_tp + total_fp),
        "recall": total_tp / max(1, total_tp + total_fn),
    }
    return table


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=20_000)
    parser.add_argument(
        "--fresh-presidio", action="store_true", help="rerun Presidio even if a result for this sample exists"
    )
    parser.add_argument("--worker", nargs=3, metavar=("PATH", "ROWS", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        mlward_worker(args.worker[0], int(args.worker[1]), args.worker[2])
        return 0
    if not PRESIDIO_PYTHON.exists():
        print(f"missing {PRESIDIO_PYTHON}: see the module docstring", file=sys.stderr)
        return 2
    started = time.perf_counter()
    path, truth = build_table(args.rows)
    print(
        f"table: {path} ({args.rows} rows x {len(truth)} columns), "
        f"built in {time.perf_counter() - started:.0f}s"
    )
    me = Path(__file__).resolve()
    full = _run(
        [sys.executable, str(me), "--worker", str(path), "0", str(DATA / "mlward.json")], DATA / "mlward.json"
    )
    sample = _run(
        [sys.executable, str(me), "--worker", str(path), str(args.sample), str(DATA / "mlward-sample.json")],
        DATA / "mlward-sample.json",
    )
    cached = DATA / "presidio.json"
    presidio = json.loads(cached.read_text()) if cached.exists() else {}
    if args.fresh_presidio or presidio.get("rows") != args.sample or presidio.get("table") != path.name:
        command = [
            str(PRESIDIO_PYTHON),
            str(HERE / "pii_presidio.py"),
            str(path),
            str(args.sample),
            str(cached),
        ]
        presidio = _run(command, cached)
        presidio["table"] = path.name
        cached.write_text(json.dumps(presidio, indent=2))
    else:
        print(f"presidio: reusing {cached} (same table and sample; --fresh-presidio reruns it)")
    structured = {c: [PRESIDIO_TO_MLWARD.get(e, e)] for c, e in presidio["structured_mapping"].items()}
    results = {
        "mlward": score(full["mapping"], truth),
        "presidio_structured": score(structured, truth),
        "presidio_share_rule": score(_presidio_share_mapping(presidio), truth),
    }
    speedup = full["rows_per_s"] / presidio["rows_per_s"]
    report = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "table": {"rows": args.rows, "columns": len(truth), "sample_rows": args.sample},
        "throughput": {
            "mlward_full": {
                k: full[k]
                for k in ("rows", "seconds", "rows_per_s", "cpu_seconds", "load_average", "peak_rss_mb")
            },
            "mlward_sample": {
                k: sample[k] for k in ("rows", "seconds", "rows_per_s", "cpu_seconds", "peak_rss_mb")
            },
            "presidio_sample": {k: presidio[k] for k in ("rows", "seconds", "rows_per_s", "peak_rss_mb")},
            "presidio_full_extrapolated_s": args.rows / presidio["rows_per_s"],
            "speedup_rows_per_s": speedup,
        },
        "mappings": {
            "truth": truth,
            "mlward": full["mapping"],
            "presidio_structured": structured,
            "presidio_share_rule": _presidio_share_mapping(presidio),
        },
        "mlward_cells_validated": full["validated"],
        "accuracy": results,
    }
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "pii.json").write_text(json.dumps(report, indent=2))

    print(f"\n{'tool':34} {'rows':>9} {'seconds':>9} {'rows/s':>10} {'peak MB':>8}")
    for label, run in (
        ("mlward (full table)", full),
        (f"mlward ({args.sample} rows)", sample),
        (f"presidio ({args.sample} rows)", presidio),
    ):
        print(
            f"{label:34} {run['rows']:>9} {run['seconds']:>9.1f} "
            f"{run['rows_per_s']:>10.0f} {run['peak_rss_mb']:>8.0f}"
        )
    print(
        f"mlward CPU time (all threads) for the full table: {full['cpu_seconds']:.1f}s; "
        f"1-minute load average during the run: {full['load_average']:.1f} on {os.cpu_count()} cores"
    )
    print(
        f"presidio on the full table: ~{args.rows / presidio['rows_per_s'] / 3600:.1f} h (extrapolated from "
        f"the sample); mlward is {speedup:.0f}x faster in rows/s"
    )
    print(
        "\ncolumn-level precision / recall per entity type"
        "  (mlward | presidio-structured | presidio share rule)"
    )
    entities = [*sorted(set().union(*(r.keys() for r in results.values())) - {"ALL"}), "ALL"]
    for entity in entities:
        cells = []
        for name in results:
            row = results[name].get(entity)
            cells.append(f"{_fmt(row['precision']) if row else '-'}/{_fmt(row['recall']) if row else '-'}")
        print(f"  {entity:16} " + "   ".join(f"{c:>11}" for c in cells))
    print(f"\nwrote {HERE / 'results' / 'pii.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
