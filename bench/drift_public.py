"""Drift detection scored against truth known by construction: mlward, Evidently, NannyML.

Cases come from the datasets bundled with scikit-learn (breast cancer, wine, diabetes;
``load_*``, no download), split at random into reference and current halves, plus
synthetic ones (a 20k-row reference): controls of 50 / 100 / 500 / 5000 rows, mean shifts of
0.1 and 0.5 sd, variance change with equal mean, heavy tails with equal variance, a single-
category surge, a 30 % null spike, a correlated pair whose correlation flips (marginals
unchanged), gradual drift, subpopulation shift and label shift.

Truth per case: whether the dataset changed and, per column where it is defined, whether
the column's marginal distribution changed (columns drawn from the same distribution on
both sides: no; columns a shift was planted in: yes; columns only indirectly affected, as in
label shift on real data: undefined, not scored). Each tool runs with its defaults:

* mlward: ``DriftDetector()`` on the local engine (per-column tests, null-rate and category
  checks, the permutation-calibrated domain classifier); dataset verdict ``report.drifted``.
* Evidently: ``Report([DataDriftPreset()])``; dataset verdict: drifted share >= 0.5.
* NannyML: ``UnivariateDriftCalculator`` (default Jensen-Shannon, thresholds learned from
  reference chunks), five chunks per current window; a column drifts when any of its
  chunks alerts. It has no dataset verdict, so any drifted column counts as one.

Evidently and NannyML run in ``bench/.venv-drift`` (``pip install evidently nannyml
"pandas<3"``), each case in the same worker process, so their pins never touch the project
venv. Usage: ``.venv/bin/python bench/drift_public.py [--only NAME] [--no-peers]``.
Writes ``bench/results/drift_public.json`` and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "drift_public.json"
PEER_VENV = HERE / ".venv-drift"
REFERENCE_ROWS = 20_000
NANNYML_CHUNKS = 5


@dataclass
class Case:
    """One reference / current pair with its known truth."""

    name: str
    reference: pd.DataFrame
    current: pd.DataFrame
    dataset_drift: bool
    columns: dict[str, bool] = field(default_factory=dict)
    """Per-column truth where defined (column -> its marginal changed)."""


# ---- public datasets ------------------------------------------------------------------------
def _halves(frame: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    order = np.random.default_rng(seed).permutation(len(frame))
    half = len(frame) // 2
    return (frame.iloc[order[:half]].reset_index(drop=True), frame.iloc[order[half:]].reset_index(drop=True))


def _sklearn(name: str) -> tuple[pd.DataFrame, pd.Series]:
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{name}")(as_frame=True)
    return bunch.data, bunch.target


def _shifted(frame: pd.DataFrame, full: pd.DataFrame, columns: list[str], sd: float) -> pd.DataFrame:
    out = frame.copy()
    for column in columns:
        out[column] = out[column] + sd * full[column].std()
    return out


def public_cases() -> list[Case]:
    cases = []
    for name, shift_columns, sd in (
        ("breast_cancer", ["mean radius", "mean texture", "worst area"], 0.5),
        ("wine", ["alcohol", "proline"], 1.0),
        ("diabetes", ["bmi", "bp"], 0.5),
    ):
        data, _ = _sklearn(name)
        ref, cur = _halves(data, 0)
        none = dict.fromkeys(data.columns, False)
        cases.append(Case(f"{name}: control {len(ref)} vs {len(cur)}", ref, cur, False, none))
        cases.append(
            Case(
                f"{name}: +{sd:g} sd on {len(shift_columns)} columns",
                ref,
                _shifted(cur, data, shift_columns, sd),
                True,
                {**none, **dict.fromkeys(shift_columns, True)},
            )
        )
    data, target = _sklearn("breast_cancer")
    ref, cur = _halves(data.assign(_y=target), 1)
    none = dict.fromkeys(data.columns, False)
    spiked = cur.drop(columns="_y").copy()
    spiked.loc[np.random.default_rng(2).random(len(spiked)) < 0.3, "mean smoothness"] = np.nan
    cases.append(
        Case(
            "breast_cancer: 30% nulls in one column",
            ref.drop(columns="_y"),
            spiked,
            True,
            {**none, "mean smoothness": True},
        )
    )
    # Label shift: malignant (target 0) from ~37 % to ~80 %; which features move is not
    # known column by column, only that the data changed.
    malignant, benign = cur[cur._y == 0], cur[cur._y == 1]
    shifted = pd.concat([malignant, benign.iloc[: len(malignant) // 4]]).drop(columns="_y")
    cases.append(
        Case(
            "breast_cancer: label shift 37% -> 80% malignant",
            ref.drop(columns="_y"),
            shifted.reset_index(drop=True),
            True,
        )
    )
    data, _ = _sklearn("diabetes")
    ref, cur = _halves(data, 3)
    one_sex = cur[cur["sex"] > 0].reset_index(drop=True)
    cases.append(Case("diabetes: subpopulation (one sex only)", ref, one_sex, True, {"sex": True}))
    return cases


# ---- synthetic ------------------------------------------------------------------------------
CATEGORIES = ["a", "b", "c", "d", "e"]


def synthetic(n: int, seed: int, **plant: Any) -> pd.DataFrame:
    """The synthetic schema; ``plant`` changes one aspect, the rest is the same distribution."""
    rng = np.random.default_rng(seed)
    normal = rng.normal(0.0, 1.0, n) + plant.get("shift", 0.0)
    if "ramp" in plant:  # gradual drift: the shift grows linearly over the window
        normal = normal + np.linspace(0.0, plant["ramp"], n)
    if "scale" in plant:
        normal = normal * plant["scale"]
    if plant.get("heavy_tails"):  # Student t with 3 degrees of freedom, variance 1
        normal = rng.standard_t(3, n) / np.sqrt(3.0)
    segment_b = rng.random(n) < plant.get("segment_b", 0.2)
    normal = normal + np.where(segment_b, 1.0, 0.0) - 0.2  # segment B sits 1 sd higher
    label = rng.random(n) < plant.get("positive", 0.2)
    lognormal = rng.lognormal(3.0, 0.5, n) * np.where(label, 2.0, 1.0)
    if "nulls" in plant:
        lognormal[rng.random(n) < plant["nulls"]] = np.nan
    p = np.array([0.3, 0.25, 0.2, 0.15, 0.1])
    if plant.get("surge"):
        p = np.array([0.2, 0.17, 0.15, 0.13, 0.35])
    pair_a = rng.normal(size=n)
    rho = plant.get("rho", 0.8)
    pair_b = rho * pair_a + np.sqrt(1 - rho**2) * rng.normal(size=n)
    return pd.DataFrame(
        {
            "normal": normal,
            "lognormal": lognormal,
            "count": rng.poisson(40, n),
            "category": rng.choice(CATEGORIES, n, p=p / p.sum()),
            "segment": np.where(segment_b, "B", "A"),
            "label": label.astype(np.int64),
            "pair_a": pair_a,
            "pair_b": pair_b,
        }
    )


def synthetic_cases() -> list[Case]:
    reference = synthetic(REFERENCE_ROWS, 0)
    none = dict.fromkeys(reference.columns, False)

    def case(name: str, rows: int, seed: int, changed: list[str], **plant: Any) -> Case:
        current = synthetic(rows, seed, **plant)
        return Case(
            f"synthetic: {name}",
            reference,
            current,
            bool(changed or plant),
            {**none, **dict.fromkeys(changed, True)},
        )

    return [
        case("control 50 rows", 50, 1, []),
        case("control 100 rows", 100, 2, []),
        case("control 500 rows", 500, 3, []),
        case("control 5000 rows", 5_000, 4, []),
        case("mean +0.1 sd, 20k rows", 20_000, 5, ["normal"], shift=0.1),
        case("mean +0.5 sd, 1000 rows", 1_000, 6, ["normal"], shift=0.5),
        case("variance x1.5, same mean, 1000 rows", 1_000, 7, ["normal"], scale=1.5),
        case("heavy tails, same variance, 2000 rows", 2_000, 8, ["normal"], heavy_tails=True),
        case("category surge 10% -> 35%, 1000 rows", 1_000, 9, ["category"], surge=True),
        case("30% nulls, 1000 rows", 1_000, 10, ["lognormal"], nulls=0.3),
        case("correlation 0.8 -> -0.8, 2000 rows", 2_000, 11, [], rho=-0.8),
        case("gradual drift 0 -> 1 sd, 5000 rows", 5_000, 12, ["normal"], ramp=1.0),
        case("subpopulation B 20% -> 50%, 2000 rows", 2_000, 13, ["normal", "segment"], segment_b=0.5),
        case("label shift 20% -> 50%, 2000 rows", 2_000, 14, ["label", "lognormal"], positive=0.5),
    ]


# ---- tools ----------------------------------------------------------------------------------
def run_mlward(reference: Path, current: Path) -> dict[str, Any]:
    from mlward.data.drift import DriftDetector
    from mlward.engine.local import LocalEngine

    start = time.perf_counter()
    report = DriftDetector(engine=LocalEngine()).fit(str(reference)).compare(str(current))
    multi = report.multivariate
    return {
        "seconds": time.perf_counter() - start,
        "columns": {c.column: c.drifted for c in report.columns},
        "dataset_drifted": report.drifted,
        "multivariate": None
        if multi is None
        else {"auc": multi.auc, "p_value": multi.p_value, "drifted": multi.drifted},
    }


def run_evidently(reference: Path, current: Path) -> dict[str, Any]:
    from evidently import Report
    from evidently.presets import DataDriftPreset

    start = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(pd.read_parquet(current), pd.read_parquet(reference))
    columns, share = {}, 0.0
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        kind = config.get("type", "")
        if kind.endswith("DriftedColumnsCount"):
            share = metric["value"]["share"]
        elif kind.endswith("ValueDrift"):
            value, threshold = float(metric["value"]), config["threshold"]
            columns[config["column"]] = bool(
                value < threshold if "p_value" in config["method"] else value >= threshold
            )
    return {"seconds": time.perf_counter() - start, "columns": columns, "dataset_drifted": share >= 0.5}


def run_nannyml(reference: Path, current: Path) -> dict[str, Any]:
    import nannyml

    start = time.perf_counter()
    ref, cur = pd.read_parquet(reference), pd.read_parquet(current)
    names = list(ref.columns)
    categorical = [c for c in names if ref[c].dtype == object]
    # NannyML learns each threshold from the spread over reference chunks (mean +- 3 sd), so
    # it needs several chunks: five per current window, the reference cut at the same size.
    calculator = nannyml.UnivariateDriftCalculator(
        column_names=names, treat_as_categorical=categorical, chunk_size=max(len(cur) // NANNYML_CHUNKS, 10)
    )
    calculator.fit(ref)
    table = calculator.calculate(cur).filter(period="analysis").to_df()
    columns = {}
    for name in names:
        alerts = [table[key] for key in table.columns if key[0] == name and key[-1] == "alert"]
        columns[name] = bool(any(bool(a.any()) for a in alerts))
    return {
        "seconds": time.perf_counter() - start,
        "columns": columns,
        "dataset_drifted": any(columns.values()),
    }


PEERS = {"evidently": run_evidently, "nannyml": run_nannyml}


def peer_worker(tool: str, manifest: str, out: str) -> None:
    """In the peer venv: run ``tool`` on every case of ``manifest``; errors are recorded."""
    results = {}
    for entry in json.loads(Path(manifest).read_text()):
        try:
            results[entry["name"]] = PEERS[tool](Path(entry["reference"]), Path(entry["current"]))
        except Exception as error:  # a peer failing on one case must not lose the others
            results[entry["name"]] = {"error": f"{type(error).__name__}: {error}"[:300]}
    Path(out).write_text(json.dumps(results))


# ---- scoring --------------------------------------------------------------------------------
def score(case: Case, output: dict[str, Any]) -> dict[str, Any]:
    """Missed drifts and false alarms, per column (where truth is defined) and per dataset."""
    if "error" in output:
        return {"error": output["error"]}
    said = output["columns"]
    missed = sorted(c for c, truth in case.columns.items() if truth and not said.get(c, False))
    false = sorted(c for c, truth in case.columns.items() if not truth and said.get(c, False))
    dataset = bool(output["dataset_drifted"])
    return {
        "missed_columns": missed,
        "false_alarm_columns": false,
        "dataset_drifted": dataset,
        "dataset_missed": case.dataset_drift and not dataset,
        "dataset_false_alarm": dataset and not case.dataset_drift,
        "seconds": round(output["seconds"], 3),
    }


def errors(entry: dict[str, Any]) -> tuple[int, int, int, int]:
    if "error" in entry:
        return (0, 0, 0, 0)
    return (
        len(entry["missed_columns"]),
        len(entry["false_alarm_columns"]),
        int(entry["dataset_missed"]),
        int(entry["dataset_false_alarm"]),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="run cases whose name contains this")
    parser.add_argument("--no-peers", action="store_true", help="mlward only")
    parser.add_argument("--worker", choices=sorted(PEERS), help=argparse.SUPPRESS)
    parser.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker:
        peer_worker(options.worker, *options.args)
        return
    cases = [c for c in public_cases() + synthetic_cases() if not options.only or options.only in c.name]
    tools = ["mlward"]
    peer_python = PEER_VENV / "bin" / "python"
    if not options.no_peers:
        if peer_python.exists():
            tools += list(PEERS)
        else:
            print(
                f"no {PEER_VENV}: running mlward only "
                f"(python -m venv {PEER_VENV} && {PEER_VENV}/bin/pip install evidently nannyml "
                "'pandas<3')",
                file=sys.stderr,
            )
    outputs: dict[str, dict[str, Any]] = {tool: {} for tool in tools}
    with tempfile.TemporaryDirectory(prefix="drift_public_") as tmp:
        manifest = []
        for index, case in enumerate(cases):
            ref, cur = Path(tmp, f"{index}_ref.parquet"), Path(tmp, f"{index}_cur.parquet")
            case.reference.to_parquet(ref, index=False)
            case.current.to_parquet(cur, index=False)
            manifest.append({"name": case.name, "reference": str(ref), "current": str(cur)})
            outputs["mlward"][case.name] = run_mlward(ref, cur)
        Path(tmp, "manifest.json").write_text(json.dumps(manifest))
        for tool in tools[1:]:
            out = Path(tmp, f"{tool}.json")
            subprocess.run(
                [str(peer_python), __file__, "--worker", tool, str(Path(tmp, "manifest.json")), str(out)],
                check=True,
                env={**os.environ, "NML_DISABLE_USAGE_LOGGING": "1", "DO_NOT_TRACK": "1"},
            )
            outputs[tool] = json.loads(out.read_text())
    report: dict[str, Any] = {"tools": tools, "cases": [], "totals": {}}
    for case in cases:
        report["cases"].append(
            {
                "case": case.name,
                "truth": {
                    "dataset_drift": case.dataset_drift,
                    "drifted_columns": sorted(c for c, t in case.columns.items() if t),
                    "scored_columns": len(case.columns),
                },
                **{tool: score(case, outputs[tool][case.name]) for tool in tools},
            }
        )
    for tool in tools:
        sums = np.sum([errors(entry[tool]) for entry in report["cases"]], axis=0)
        report["totals"][tool] = {
            "missed_columns": int(sums[0]),
            "false_alarm_columns": int(sums[1]),
            "dataset_missed": int(sums[2]),
            "dataset_false_alarms": int(sums[3]),
            "errors": int(sums.sum()),
            "failed_cases": sum("error" in entry[tool] for entry in report["cases"]),
        }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=1) + "\n")
    print_table(report)


def print_table(report: dict[str, Any]) -> None:
    tools = report["tools"]
    print("| case | truth | " + " | ".join(f"{t} (missed / false, dataset)" for t in tools) + " |")
    print("|---|---|" + "---|" * len(tools))
    for entry in report["cases"]:
        truth = entry["truth"]
        cells = []
        for tool in tools:
            result = entry[tool]
            if "error" in result:
                cells.append("error")
                continue
            missed, false, d_missed, d_false = errors(result)
            dataset = "drift" if result["dataset_drifted"] else "no drift"
            mark = " ✗" if d_missed or d_false else ""
            cells.append(f"{missed} / {false}, {dataset}{mark}")
        label = (
            "drift: " + (", ".join(truth["drifted_columns"]) or "(joint)")
            if truth["dataset_drift"]
            else "no drift"
        )
        print(f"| {entry['case']} | {label} | " + " | ".join(cells) + " |")
    total = [
        "{missed_columns} / {false_alarm_columns}, dataset {dataset_missed} missed "
        "{dataset_false_alarms} false".format(**report["totals"][t])
        for t in tools
    ]
    print("| **total** | | " + " | ".join(total) + " |")


if __name__ == "__main__":
    main()
