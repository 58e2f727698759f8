"""``mlward model privacy``: exit codes, JSON output, and no raw value in any output."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

CANARY = "CANARY-ZX81-QQ"
CANARY_NUMBER = "987654.321"


def _case(root: Path, model, name: str) -> Path:
    x, y = make_classification(n_samples=1200, n_features=5, n_informative=3, flip_y=0.2, random_state=4)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(5)])
    frame.loc[5, "f0"] = float(CANARY_NUMBER)
    frame["label"] = y
    frame["region"] = np.where(x[:, 1] > 0, "north", "south")
    frame.loc[7, "region"] = CANARY
    frame[:600].to_csv(root / "members.csv", index=False)
    frame[600:].to_csv(root / "holdout.csv", index=False)
    path = root / name
    joblib.dump(model.fit(frame.iloc[:600, :5].to_numpy(), y[:600]), path)
    return path


def _args(model: Path, *extra: str) -> list[str]:
    return [
        "model", "privacy", str(model), "--members", "members.csv", "--nonmembers", "holdout.csv",
        "--label", "label", "--sensitive", "region", "--bootstrap", "50", *extra,
    ]  # fmt: skip


def test_overfitted_model_exits_1_with_json(mlward, tmp_path: Path):
    model = _case(tmp_path, RandomForestClassifier(n_estimators=30, random_state=0), "forest.joblib")
    result = mlward(*_args(model, "--format", "json"))
    assert result.code == 1, result.err
    doc = json.loads(result.out)
    assert doc["mia_auc"] > 0.62 and doc["violations"]  # measured 0.646
    assert {a["name"] for a in doc["attacks"]} == {"loss", "confidence", "shadow"}
    assert [g["group"] for g in doc["groups"]] == ["north", "south"]
    assert doc["attribute_inference"]["attribute"] == "region"
    table = mlward(*_args(model, "-o", "out.json"))
    assert table.code == 1 and "Membership inference" in table.out and "fail" in table.out
    for text in (result.out, result.err, table.out, table.err, (tmp_path / "out.json").read_text()):
        assert CANARY not in text and CANARY_NUMBER not in text


def test_regularised_model_exits_0(mlward, tmp_path: Path):
    model = _case(tmp_path, LogisticRegression(C=0.01), "logistic.joblib")
    result = mlward(*_args(model, "--format", "json", "--attack", "loss", "--attack", "shadow"))
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert doc["mia_auc"] < 0.56 and doc["violations"] == []
    assert [a["name"] for a in doc["attacks"]] == ["loss", "shadow"]


def test_missing_column_and_unloadable_model_are_errors(mlward, tmp_path: Path):
    model = _case(tmp_path, LogisticRegression(C=0.01), "logistic.joblib")
    missing = mlward(*_args(model, "--feature", "nope"))
    assert missing.code == 3 and "nope" in missing.err  # InputError
    (tmp_path / "evil.pkl").write_bytes(b"cos\nsystem\n(S'echo pwned'\ntR.")
    evil = mlward(*_args(tmp_path / "evil.pkl"))
    assert evil.code != 0 and "refusing to load" in evil.err
