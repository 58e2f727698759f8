"""Fast JSON on the prediction path: same data as the standard library, and its fallback."""

from __future__ import annotations

import json

from mlward.core.fastjson import dumps
from mlward.serve.jsonio import FastJSONResponse


def test_dumps_round_trips_and_falls_back_for_wide_integers():
    value = {"rows": [[1, 2.5, "é", None, True]], "columns": ["a", "b", "c", "d", "e"]}
    assert json.loads(dumps(value)) == value
    assert b" " not in dumps(value)  # compact, like the canonical digest expects
    wide = {"n": 2**80}
    assert json.loads(dumps(wide)) == wide  # orjson refuses it; the standard library does not


def test_response_body_is_json():
    response = FastJSONResponse({"predictions": [0, 1]}, headers={"X-Request-ID": "r"})
    assert json.loads(response.body) == {"predictions": [0, 1]}
    assert response.headers["content-type"] == "application/json"


def test_numpy_values_stay_numbers_and_nan_becomes_null():
    import numpy as np

    value = {"f": np.float64(1.5), "i": np.int64(3), "b": np.bool_(True), "n": float("nan")}
    encoded = json.loads(dumps(value))
    assert encoded == {"f": 1.5, "i": 3, "b": True, "n": None}


def test_audit_details_keep_numpy_numbers(workspace):
    import numpy as np

    details = {"psi": np.float64(0.25), "n": np.int64(7)}
    record = workspace.audit.append("tester", "data.drift", "d@1", details=details)
    assert record.details == {"psi": 0.25, "n": 7}
    assert workspace.audit.verify().ok
