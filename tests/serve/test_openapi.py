"""The OpenAPI document describes the served models; generated requests never cause a 5xx."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from serve_testlib import bearer


def test_openapi_includes_the_served_models_request_schemas(make_client, template):
    client = make_client()
    spec = client.get("/openapi.json", headers=bearer(template.tokens["predictor"])).json()
    assert spec["openapi"].startswith("3.")
    body = spec["paths"]["/v1/models/{name}/predict"]["post"]["requestBody"]["content"]["application/json"]
    refs = {item["$ref"].rsplit("/", 1)[-1] for item in body["schema"]["anyOf"]}
    assert refs == {"CreditRiskPredictRequest", "PlainPredictRequest"}
    row = spec["components"]["schemas"]["CreditRiskRow"]
    assert row["properties"]["term_months"]["enum"] == [12, 24, 36, 60]
    for path in ("/v1/models", "/v1/tokens", "/v1/audit", "/healthz", "/readyz", "/metrics"):
        assert path in spec["paths"]


def test_generated_requests_never_cause_a_server_error(make_client, template):
    client = make_client()
    auth = bearer(template.tokens["admin"])
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app, headers=auth)
    seen: dict[str, set[int]] = {}

    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=5,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            def check(case):
                response = case.call(headers=auth)
                label = f"{case.method} {case.path}"
                seen.setdefault(label, set()).add(response.status_code)
                assert response.status_code < 500, f"{label} {case.formatted_path} -> {response.status_code}"
                if response.status_code >= 400:
                    assert response.headers["content-type"][0] == "application/problem+json"

            try:
                check()
            except Unsatisfiable:
                # An operation without inputs (GET /healthz) has no invalid variant to send.
                assert mode is GenerationMode.NEGATIVE
    assert len(seen) >= 10
    # Valid bodies reached the models, invalid ones were refused as invalid input.
    assert {200, 422} <= seen["POST /v1/models/{name}/predict"]


def test_metrics_and_api_docs_need_a_login(make_client, template):
    client = make_client()
    for path in ("/metrics", "/openapi.json", "/docs"):
        anonymous = client.get(path)
        assert anonymous.status_code == 401, path
        assert anonymous.headers["content-type"] == "application/problem+json"
        assert client.get(path, headers=bearer("mlw_" + "0" * 12 + "_" + "a" * 43)).status_code == 401
    # /metrics needs metrics:read (the monitor role; admin holds everything).
    assert client.get("/metrics", headers=bearer(template.tokens["predictor"])).status_code == 403
    for role in ("monitor", "admin"):
        metrics = client.get("/metrics", headers=bearer(template.tokens[role]))
        assert metrics.status_code == 200 and "mlward_model_ready" in metrics.text
    # The API documentation: any authenticated caller.
    auth = bearer(template.tokens["predictor"])
    assert client.get("/openapi.json", headers=auth).json()["openapi"].startswith("3.")
    docs = client.get("/docs", headers=auth)
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert client.get("/redoc", headers=auth).status_code == 404


def test_api_docs_can_be_public_or_off(make_client, template):
    public = make_client(api_docs="public")
    assert public.get("/openapi.json").status_code == 200 and public.get("/docs").status_code == 200
    assert public.get("/metrics").status_code == 401  # metrics stay behind metrics:read
    off = make_client(api_docs="off")
    admin = bearer(template.tokens["admin"])
    assert off.get("/openapi.json", headers=admin).status_code == 404
    assert off.get("/docs", headers=admin).status_code == 404
