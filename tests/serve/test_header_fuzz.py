"""A header fuzzer against the real gateway: no header value is a 5xx, every 4xx is a problem.

Hypothesis generates ``Authorization`` values (raw bytes, near-misses of real API keys,
JWTs with arbitrary JSON headers and claims signed with the real HS256 secret), the three
signature headers (digits of every script, huge numbers, raw bytes) and the content
headers (``Content-Type``, ``Content-Length``, ``Content-Encoding``), with valid and
invalid bodies, against prediction and management routes of an app serving real models.
Bounded: ``MLWARD_FUZZ_EXAMPLES`` examples per app (200 by default), no deadline.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serve_testlib import HS_SECRET, JWT_AUDIENCE, JWT_ISSUER, good_row

from mlward.serve.signing import sign_request

EXAMPLES = int(os.environ.get("MLWARD_FUZZ_EXAMPLES", "200"))
PREDICT = "/v1/models/credit-risk/predict"
ROUTES = [
    ("POST", PREDICT),
    ("POST", "/v1/models/plain/predict"),
    ("GET", "/v1/models"),
    ("GET", "/v1/models/credit-risk/lineage"),
    ("POST", "/v1/models/credit-risk/versions/1/promote"),
    ("POST", "/v1/tokens"),
    ("GET", "/v1/audit"),
]
# Header values as they can arrive on the wire: latin-1 bytes without CR, LF or NUL.
wire_bytes = st.binary(max_size=300).map(lambda b: b.translate(None, b"\r\n\x00"))
wire_text = st.text(st.characters(max_codepoint=0xFF, exclude_characters="\r\n\x00"), max_size=200)
any_digits = st.text(st.characters(categories=["Nd", "No"]), min_size=1, max_size=30)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@st.composite
def jwts(draw: st.DrawFn) -> bytes:
    """An HS256 JWT, correctly signed, whose header and claims are partly arbitrary JSON."""
    now = int(time.time())
    header = {"alg": "HS256", "typ": "JWT"}
    claims: dict[str, object] = {
        "iss": JWT_ISSUER,
        "aud": JWT_AUDIENCE,
        "sub": "alice",
        "iat": now,
        "exp": now + 300,
        "roles": ["predictor"],
    }
    for name in draw(st.sets(st.sampled_from(["alg", "kid", "typ", "crit", "cty", "b64"]), max_size=2)):
        header[name] = draw(json_values)
    for name in draw(st.sets(st.sampled_from([*claims, "nbf", "jti"]), max_size=3)):
        claims[name] = draw(json_values)
    head = _b64(json.dumps(header).encode())
    body = _b64(json.dumps(claims).encode())
    mac = hmac.new(HS_SECRET.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    token = f"{head}.{body}.{_b64(mac)}"
    if draw(st.booleans()):  # sometimes damage it
        at = draw(st.integers(0, len(token) - 1))
        token = token[:at] + draw(st.sampled_from([".", "=", "é", "", "%", "A"])) + token[at + 1 :]
    return f"Bearer {token}".encode("latin-1")


def authorizations(tokens: tuple[str, ...]) -> st.SearchStrategy[bytes | None]:
    """Every kind of ``Authorization`` value: absent, real, near-miss, JWT, garbage."""
    real = st.sampled_from(tokens)
    near_miss = st.tuples(real, st.integers(0, 60), wire_text).map(
        lambda t: f"Bearer {t[0][: t[1]]}{t[2]}{t[0][t[1] + 1 :]}".encode("latin-1")
    )
    schemes = st.tuples(st.sampled_from(["Bearer", "bearer", "BEARER", "Basic", "Token", ""]), wire_text).map(
        lambda t: f"{t[0]} {t[1]}".encode("latin-1")
    )
    return st.one_of(
        st.none(),
        real.map(lambda t: f"Bearer {t}".encode()),
        near_miss,
        schemes,
        jwts(),
        wire_bytes,
        st.integers(1, 20_000).map(lambda n: b"Bearer " + b"A" * n),
    )


signature_values = st.one_of(
    st.none(),
    any_digits,
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.integers(0, 6000).map(lambda n: "9" * n),
    wire_text,
    wire_bytes,
)
content_types = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            "application/json; charset=unknown-8",
            "text/plain",
            "multipart/form-data; boundary=x",
            "application/x-www-form-urlencoded",
            "application/json;;;",
        ]
    ),
    wire_text,
)
content_lengths = st.one_of(
    st.none(),
    st.integers(0, 10**30).map(str),
    any_digits,
    st.integers(0, 6000).map(lambda n: "9" * n),
    wire_text,
)
bodies = st.one_of(
    st.just(json.dumps({"rows": [good_row()]}).encode()),
    st.just(json.dumps({"stage": "staging"}).encode()),
    st.just(json.dumps({"roles": ["predictor"], "expires": "1d"}).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),
)


def _wire(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


# Each header is genuine half the time, so requests also get past authentication and the
# fuzzed header is not always drowned out by another one.
MODES = st.sampled_from(["genuine", "genuine", "fuzzed", "absent"])


def _headers(draw: st.DrawFn, secret: str, body: bytes, method: str, path: str) -> list[tuple[bytes, bytes]]:
    headers: list[tuple[bytes, bytes]] = []
    signed = sign_request(secret, method, path, body)
    genuine = {
        **{name.lower(): value for name, value in signed.items()},
        "content-type": "application/json",
        "content-length": str(len(body)),
        "content-encoding": None,
    }
    fuzzed = {
        "x-mlward-timestamp": signature_values,
        "x-mlward-nonce": signature_values,
        "x-mlward-signature": signature_values,
        "content-type": content_types,
        "content-length": content_lengths,
        "content-encoding": st.one_of(st.none(), st.sampled_from(["gzip", "br", "identity"]), wire_text),
    }
    for name, strategy in fuzzed.items():
        mode = draw(MODES)
        value = genuine[name] if mode == "genuine" else draw(strategy) if mode == "fuzzed" else None
        if value is not None:
            headers.append((name.encode(), _wire(value)))
    return headers


@st.composite
def requests(
    draw: st.DrawFn, tokens: tuple[str, ...], secret: str
) -> tuple[str, str, bytes, list[tuple[bytes, bytes]]]:
    """One request: route, body and fuzzed headers (signature headers under ``secret``)."""
    method, path = draw(st.sampled_from(ROUTES))
    body = draw(bodies) if method == "POST" else b""
    headers = _headers(draw, secret, body, method, path)
    real = f"Bearer {draw(st.sampled_from(tokens))}".encode()
    authorization = real if draw(st.booleans()) else draw(authorizations(tokens))
    if authorization is not None:
        headers.append((b"authorization", authorization))
    return method, path, body, headers


def _send(client, method: str, path: str, body: bytes, headers: list[tuple[bytes, bytes]]):
    # httpx would add its own Content-Length; the fuzzed one (if any) must be the one sent.
    request = client.build_request(method, path, content=body)
    raw = [(k, v) for k, v in request.headers.raw if k.lower() not in (b"content-length", b"content-type")]
    request.headers = httpx.Headers(raw + headers)
    return client.send(request)


def _fuzz(client, template, seen: dict[int, int]) -> None:
    @given(case=requests(tuple(sorted(template.tokens.values())), template.secrets["predictor"]))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def check(case):
        method, path, body, headers = case
        response = _send(client, method, path, body, headers)
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        assert response.status_code < 500, (case, response.status_code, response.text)
        if response.status_code >= 400:
            assert response.headers["content-type"] == "application/problem+json", (case, response.text)
            problem = response.json()
            assert problem["status"] == response.status_code and problem["detail"], problem

    check()


def test_fuzzed_headers_never_cause_a_server_error(make_client, template):
    seen: dict[int, int] = {}
    started = time.monotonic()
    _fuzz(make_client(), template, seen)
    _fuzz(make_client(require_signed_requests=True), template, seen)
    # The fuzzer reached past authentication too, not only the 401 wall.
    print("status counts", sorted(seen.items()), f"{time.monotonic() - started:.1f} s")
    assert 401 in seen and 200 in seen and (set(seen) & {400, 403, 404, 413, 422}), seen
    assert time.monotonic() - started < 300, "keep the fuzzer bounded"
