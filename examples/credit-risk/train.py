"""Train the credit-risk model on the protected applications (run by `mlward run`).

Reads the PII-protected dataset, fits a scikit-learn pipeline, and writes the model
(joblib), its metrics and the hold-out predictions (for the fairness stage). The
sensitive attribute ``gender`` is not a feature; it is kept next to the predictions so
the fairness check can compare groups.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import joblib
import polars as pl
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

HERE = Path(__file__).resolve().parent
NUMERIC = [
    "age",
    "income",
    "loan_amount",
    "term_months",
    "credit_score",
    "debt_to_income",
    "employment_years",
]
CATEGORICAL = ["home_ownership", "purpose"]


def main() -> None:
    """Fit, evaluate and save."""
    params = json.loads(os.environ.get("MLWARD_PARAMS", "{}"))
    data = pl.read_parquet(HERE / "data" / "applications.protected.parquet").to_pandas()
    features = data[NUMERIC + CATEGORICAL]
    label = data["default"]
    x_train, x_test, y_train, y_test, _, g_test = train_test_split(
        features, label, data["gender"], test_size=0.25, random_state=7, stratify=label
    )
    model = Pipeline(
        [
            (
                "prepare",
                ColumnTransformer(
                    [("categories", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL)],
                    remainder="passthrough",
                ),
            ),
            (
                "classify",
                HistGradientBoostingClassifier(
                    max_iter=int(params.get("max_iter", 150)),
                    learning_rate=float(params.get("learning_rate", 0.08)),
                    random_state=7,
                ),
            ),
        ]
    )
    model.fit(x_train, y_train)
    scores = model.predict_proba(x_test)[:, 1]
    predictions = (scores >= 0.5).astype(int)
    (HERE / "models").mkdir(exist_ok=True)
    joblib.dump(model, HERE / "models" / "credit-risk.joblib")
    metrics = {
        "auc": round(float(roc_auc_score(y_test, scores)), 4),
        "accuracy": round(float(accuracy_score(y_test, predictions)), 4),
        "rows": len(data),
    }
    (HERE / "models" / "metrics.json").write_text(json.dumps(metrics, indent=2))
    pl.DataFrame(
        {
            "gender": g_test.to_numpy(),
            "default": y_test.to_numpy(),
            "prediction": predictions,
            "score": scores,
        }
    ).write_parquet(HERE / "data" / "predictions.parquet")
    print(f"trained on {len(x_train)} rows: auc={metrics['auc']} accuracy={metrics['accuracy']}")


if __name__ == "__main__":
    main()
