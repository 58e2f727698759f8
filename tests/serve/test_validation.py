"""Request validation from the data contract, size limits and hostile bodies: 4xx, never 5xx."""

from __future__ import annotations

import pickle

import pytest
from serve_testlib import CONTRACT, bearer, good_row

PREDICT = "/v1/models/credit-risk/predict"


@pytest.fixture
def client(make_client):
    return make_client(max_batch=50, max_body_bytes=4096)


@pytest.fixture
def auth(template):
    return bearer(template.tokens["predictor"])


def _invalid(response, field: str) -> dict:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert field in body["detail"], body
    assert any(field in e["field"] for e in body["errors"])
    return body


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"age": 17}, "age"),  # below the contract's min
        ({"age": 101}, "age"),  # above its max
        ({"age": "40"}, "age"),  # strings are not numbers (strict)
        ({"age": 40.5}, "age"),  # ints are ints
        ({"income": -1.0}, "income"),
        ({"term_months": 18}, "term_months"),  # not an allowed value
        ({"nickname": "bob"}, "nickname"),  # unknown field
        ({"income": None}, "income"),  # not nullable
    ],
)
def test_contract_violations_name_the_field(client, auth, change, field):
    row = {**good_row(), **change}
    _invalid(client.post(PREDICT, json={"rows": [good_row(), row]}, headers=auth), f"rows.1.{field}")


def test_missing_required_field(client, auth):
    row = good_row()
    del row["loan_amount"]
    _invalid(client.post(PREDICT, json={"rows": [row]}, headers=auth), "loan_amount")


def test_non_finite_numbers_are_refused(client, auth):
    body = b'{"rows": [{"age": 30, "income": NaN, "loan_amount": 1.0, "term_months": 12}]}'
    response = client.post(PREDICT, content=body, headers={**auth, "Content-Type": "application/json"})
    assert response.status_code == 422
    body = b'{"rows": [{"age": 30, "income": 1e999, "loan_amount": 1.0, "term_months": 12}]}'
    response = client.post(PREDICT, content=body, headers={**auth, "Content-Type": "application/json"})
    assert response.status_code == 422


def test_valid_batch_gets_one_prediction_per_row(client, auth):
    rows = [good_row() for _ in range(10)]
    response = client.post(PREDICT, json={"rows": rows}, headers=auth)
    assert response.status_code == 200, response.text
    data = response.json()
    assert len(data["predictions"]) == 10 and len(data["probabilities"]) == 10
    assert data["classes"] == [0, 1]


def test_batch_size_limit(client, auth):
    _invalid(client.post(PREDICT, json={"rows": [good_row()] * 51}, headers=auth), "rows")
    _invalid(client.post(PREDICT, json={"rows": []}, headers=auth), "rows")


def test_oversized_body_refused_by_content_length(client, auth):
    body = b'{"rows": [' + b" " * 5000 + b"]}"
    response = client.post(PREDICT, content=body, headers={**auth, "Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"


def test_oversized_streamed_body_refused_while_counting(client, auth):
    def chunks():
        yield b'{"rows": ['
        for _ in range(100):
            yield b" " * 100

    # A generator body is sent chunked, without Content-Length.
    response = client.post(PREDICT, content=chunks(), headers={**auth, "Content-Type": "application/json"})
    assert response.status_code == 413


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[1, 2, 3]",
        b'{"rows": "all"}',
        b'{"rows": [[1, 2, 3, 4]]}',  # arrays where the contract wants named fields
        b'{"rows": [{}], "extra": 1}',
        b'{"rows": [' + b"[" * 200 + b"]" * 200 + b"]}",
    ],
)
def test_malformed_bodies_are_422(client, auth, body):
    response = client.post(PREDICT, content=body, headers={**auth, "Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_a_pickle_body_is_never_unpickled(client, auth, tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            import os

            return (os.system, (f"touch {marker}",))

    response = client.post(
        PREDICT, content=pickle.dumps(Payload()), headers={**auth, "Content-Type": "application/octet-stream"}
    )
    assert response.status_code == 422
    assert not marker.exists()


def test_feature_schema_without_contract(make_client, template):
    client = make_client()
    auth = bearer(template.tokens["predictor"])
    ok = client.post(
        "/v1/models/plain/predict", json={"rows": [{"a": 30, "b": 50000.5, "c": 1200}]}, headers=auth
    )
    assert ok.status_code == 200, ok.text
    _invalid(client.post("/v1/models/plain/predict", json={"rows": [{"a": 1, "b": 2}]}, headers=auth), "c")


def test_request_schema_comes_from_the_contract():
    from mlward.inference.schema import Column, contract_columns, feature_spec, request_model

    class FourFeatures:
        n_features_in_ = 4

    spec = feature_spec(FourFeatures(), CONTRACT, "credit-risk")
    assert spec.source == "contract:credit-risk" and spec.named and not spec.pii
    schema = request_model(spec, "credit-risk", 10).model_json_schema()
    row = schema["$defs"]["CreditRiskRow"]
    assert row["properties"]["age"]["minimum"] == 18 and row["properties"]["age"]["maximum"] == 100
    assert row["properties"]["term_months"]["enum"] == [12, 24, 36, 60]
    assert set(row["required"]) == set(CONTRACT["columns"])
    assert row["additionalProperties"] is False
    columns = contract_columns({"columns": {"email": {"type": "string", "pii": "EMAIL"}, "x": "float"}})
    assert columns["email"].sensitive and not columns["x"].sensitive
    assert isinstance(columns["x"], Column) and columns["x"].type == "float"
