"""The exact allowlist: the checked-in census matches the installed libraries, and names
that are re-exports of process, network, thread or I/O objects are refused."""

from __future__ import annotations

import json
import pickle
import socket
import threading
from pathlib import Path

import pytest

from mlward.core.findings import Severity
from mlward.model.scan import GlobalStatus, default_allowlist, scan_file
from mlward.model.scan import rules as R
from mlward.model.scan.allowlist import CENSUS_PATH, ClassPattern
from mlward.model.scan.census import build_census, describe, dumps, resolve


@pytest.fixture(scope="module")
def fresh_census() -> dict:  # type: ignore[type-arg]
    return build_census()


def _same_version_tops(fresh: dict, shipped: dict) -> set[str]:  # type: ignore[type-arg]
    return {top for top, v in fresh["libraries"].items() if shipped["libraries"].get(top) == v}


def test_checked_in_census_matches_the_installed_libraries(fresh_census: dict) -> None:  # type: ignore[type-arg]
    shipped = json.loads(CENSUS_PATH.read_text("utf-8"))
    tops = _same_version_tops(fresh_census, shipped)
    assert {"numpy", "torch", "sklearn", "pandas", "builtins"} <= tops

    def part(data: dict, key: str) -> dict:  # type: ignore[type-arg]
        return {n: v for n, v in data[key].items() if n.split(".")[0] in tops}

    # A library at the version the census was made with must yield exactly the same names:
    # regenerate with `python -m mlward.model.scan.census` after editing allowlist.yaml.
    assert part(fresh_census, "allowed") == part(shipped, "allowed")
    assert part(fresh_census, "refused") == part(shipped, "refused")
    if tops == set(shipped["libraries"]):
        assert dumps(fresh_census) == CENSUS_PATH.read_text("utf-8")


def test_every_allowed_name_resolves_to_what_the_census_recorded() -> None:
    shipped = json.loads(CENSUS_PATH.read_text("utf-8"))
    checked = 0
    for name, record in shipped["allowed"].items():
        if name.split(".")[0] not in ("numpy", "torch", "sklearn", "pandas"):
            continue
        obj = resolve(name)
        _source, kind, *defined = record.split(" ")
        if kind == "legacy":
            continue
        assert describe(obj) == (kind, defined[0] if defined else name), name
        checked += 1
    assert checked > 1000


def test_shipped_allowlist_is_exact_names_only() -> None:
    allow = default_allowlist()
    assert allow.patterns == ()
    shipped = json.loads(CENSUS_PATH.read_text("utf-8"))
    assert set(allow.exact) == set(shipped["allowed"])
    assert all(entry.why for entry in allow.exact.values())


# Names the old rule ("CamelCase under sklearn./pandas./xgboost.sklearn./...") admitted,
# with what they really are.
REEXPORTS = {
    "sklearn.callback._transport.Client": "multiprocessing.connection.Client",
    "sklearn.callback._transport.Listener": "multiprocessing.connection.Listener",
    "sklearn.callback._progressbar.Thread": "threading.Thread",
    "xgboost.sklearn.ThreadPoolExecutor": "concurrent.futures.thread.ThreadPoolExecutor",
    "pandas.core.frame.StringIO": "_io.StringIO",
    "pandas._typing.PathLike": "os.PathLike",
    "sklearn.utils.validation.Parameter": "inspect.Parameter",
    "transformers.trainer_pt_utils.StreamHandler": "logging.StreamHandler",
    "omegaconf._yaml.CSafeLoader": "yaml.cyaml.CSafeLoader",
}


@pytest.mark.parametrize("written", sorted(REEXPORTS))
def test_reexport_under_an_ml_package_is_not_safe(written: str) -> None:
    obj = resolve(written)
    # The dev extra installs every library named here: a name that stops resolving is a
    # census to redo, not a case to skip.
    assert obj is not None and describe(obj)[0] != "module", f"{written} does not resolve here"
    assert describe(obj)[1] == REEXPORTS[written]
    module, _, name = written.rpartition(".")
    old_rule = ClassPattern(prefix=written.split(".")[0] + ".", why="main's class pattern")
    assert old_rule.matches(module, name)  # what let it through before
    assert default_allowlist().classify(module, name) is not GlobalStatus.SAFE


def _reduce_pickle(module: str, name: str, args: bytes) -> bytes:
    # GLOBAL module name; args tuple; REDUCE; STOP (protocol 2).
    return b"\x80\x02c" + f"{module}\n{name}\n".encode() + args + b"R."


def test_reexported_multiprocessing_client_connects_on_load_and_is_high(tmp_path: Path) -> None:
    pytest.importorskip("sklearn.callback._transport")
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(10)
    port = server.getsockname()[1]
    # Client(("127.0.0.1", port)): the argument tuple, pickled by pickle itself.
    args = pickle.dumps(((("127.0.0.1", port),)), protocol=2)[2:-1]
    payload = _reduce_pickle("sklearn.callback._transport", "Client", args)
    accepted: list[socket.socket] = []
    waiter = threading.Thread(target=lambda: accepted.append(server.accept()[0]))
    waiter.start()
    conn = pickle.loads(payload)  # the test shows the payload really runs
    waiter.join(10)
    try:
        assert accepted, "pickle.loads opened a network connection to the test server"
        assert type(conn).__module__ == "multiprocessing.connection"
    finally:
        conn.close()
        for s in accepted:
            s.close()
        server.close()

    path = tmp_path / "estimator.pkl"
    path.write_bytes(payload)
    findings = scan_file(path).findings
    assert any(
        f.rule_id == R.PICKLE_GLOBAL_UNKNOWN
        and f.severity >= Severity.HIGH
        and f.properties.get("global") == "sklearn.callback._transport.Client"
        for f in findings
    )


def test_reexported_thread_pool_is_high(tmp_path: Path) -> None:
    pytest.importorskip("xgboost")
    payload = _reduce_pickle("xgboost.sklearn", "ThreadPoolExecutor", b")")
    pool = pickle.loads(payload)  # a real executor: the name is a re-export
    pool.shutdown()
    path = tmp_path / "xgb.pkl"
    path.write_bytes(payload)
    assert max(f.severity for f in scan_file(path).findings) >= Severity.HIGH


def test_census_refuses_reexports_and_records_why() -> None:
    shipped = json.loads(CENSUS_PATH.read_text("utf-8"))
    refused = shipped["refused"]
    assert (
        "re-export of concurrent.futures.thread.ThreadPoolExecutor"
        in refused["xgboost.sklearn.ThreadPoolExecutor"]
    )
    assert "re-export of _io.StringIO" in refused["pandas.core.frame.StringIO"]
    assert "subclasses" in refused["pandas.compat.pickle_compat.Unpickler"]
    assert not any(n.startswith("sklearn.callback.") for n in shipped["allowed"])
