"""TensorFlow graphs are checked against a compute-op allowlist (issue 18, class 8)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tf_protobuf import function, graph_def, meta_graph, node, saved_model, savedmodel_bytes

from mlward.core.findings import Severity
from mlward.model.scan import Verdict, scan_file
from mlward.model.scan import rules as R
from mlward.model.scan.tf_ops import ALLOWED_OPS, CHECKPOINT_OPS, DANGEROUS_OPS

FIXTURES = Path(__file__).parent / "fixtures"
SAVER = ("saver_filename:0", "StatefulPartitionedCall_1:0", "StatefulPartitionedCall_2")


def tf_ops(path: Path) -> dict[str, Severity]:
    """Severity of each op the scanner reports in ``path``."""
    report = scan_file(path)
    return {f.properties["op"]: f.severity for f in report.findings if f.rule_id == R.TF_OP}


def write(tmp_path: Path, data: bytes, name: str = "saved_model.pb") -> Path:
    path = tmp_path / "model" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def tf2_saver_model(
    save_body: list[bytes],
    call_body: list[bytes],
    extra_main: list[bytes] = (),
    exported: tuple[str, ...] = ("call",),
) -> bytes:
    """A TF2-shaped SavedModel: a serving call plus traced save/restore functions."""
    main = [
        node("x", "Placeholder"),
        node("StatefulPartitionedCall", "StatefulPartitionedCall", ["x"], {"f": "call"}),
        node("saver_filename", "Placeholder"),
        node(
            "StatefulPartitionedCall_1", "StatefulPartitionedCall", ["saver_filename"], {"f": "traced_save"}
        ),
        node(
            "StatefulPartitionedCall_2",
            "StatefulPartitionedCall",
            ["saver_filename"],
            {"f": "traced_restore"},
        ),
        *extra_main,
    ]
    fns = [
        function("call", call_body),
        function("traced_save", save_body),
        function("traced_restore", [node("r", "RestoreV2"), node("a", "AssignVariableOp")]),
    ]
    return saved_model(meta_graph(graph_def(main, fns), saver=SAVER, exported=exported))


def test_the_benign_fixture_saved_by_tensorflow_stays_clean() -> None:
    report = scan_file(FIXTURES / "benign_savedmodel" / "saved_model.pb")
    assert report.findings == () and report.verdict is Verdict.SAFE


def test_the_file_access_fixture_reports_both_ops_as_critical() -> None:
    ops = tf_ops(FIXTURES / "readfile_savedmodel" / "saved_model.pb")
    assert ops == {"ReadFile": Severity.CRITICAL, "WriteFile": Severity.CRITICAL}


@pytest.mark.parametrize("op", ["FooBarOp", "TakeDataset", "QueueDequeueV2", "AudioSummaryV2"])
def test_an_op_outside_the_allowlist_is_high(tmp_path: Path, op: str) -> None:
    ops = tf_ops(write(tmp_path, savedmodel_bytes(["Placeholder", op, "MatMul"])))
    assert ops == {op: Severity.HIGH}


def test_decode_proto_is_outside_the_allowlist_and_parse_example_inside(tmp_path: Path) -> None:
    # DecodeProtoV2 reads the descriptor file its attrs may name; ParseExample is in-memory.
    ops = tf_ops(write(tmp_path, savedmodel_bytes(["ParseExampleV2", "DecodeProtoV2"])))
    assert ops == {"DecodeProtoV2": Severity.CRITICAL}


@pytest.mark.parametrize(
    "op",
    [
        "PyFunc",
        "EagerPyFunc",
        "PrintV2",
        "MatchingFiles",
        "InitializeTableFromTextFileV2",
        "DebugIdentityV2",
        "ImmutableConst",
        "WriteSummary",
        "MergeV2Checkpoints",
    ],
)
def test_a_dangerous_op_in_a_nested_function_is_critical(tmp_path: Path, op: str) -> None:
    inner = function("inner", [node("bad", op)])
    outer = function("outer", [node("c", "StatefulPartitionedCall", calls={"f": "inner"})])
    main = [node("x", "Placeholder"), node("call", "PartitionedCall", ["x"], {"f": "outer"})]
    ops = tf_ops(write(tmp_path, saved_model(meta_graph(graph_def(main, [outer, inner])))))
    assert ops == {op: Severity.CRITICAL}


def test_an_unreferenced_library_function_is_still_checked(tmp_path: Path) -> None:
    orphan = function("never_called", [node("w", "WriteFile"), node("q", "FooBarOp")])
    data = saved_model(meta_graph(graph_def([node("c", "Const")], [orphan])))
    assert tf_ops(write(tmp_path, data)) == {"WriteFile": Severity.CRITICAL, "FooBarOp": Severity.HIGH}


def test_a_function_attribute_naming_a_primitive_op_is_checked_as_that_op(tmp_path: Path) -> None:
    # The function runtime instantiates a primitive op when no library function has the name.
    main = [node("p", "Placeholder"), node("call", "PartitionedCall", ["p"], {"f": "ReadFile"})]
    data = saved_model(meta_graph(graph_def(main)))
    assert tf_ops(write(tmp_path, data)) == {"ReadFile": Severity.CRITICAL}


def test_loop_and_branch_bodies_are_checked(tmp_path: Path) -> None:
    body = function("body", [node("p", "PyFunc")])
    main = [node("w", "While", calls={"cond": "cond", "body": "body"})]
    data = saved_model(meta_graph(graph_def(main, [function("cond", [node("l", "Less")]), body])))
    assert tf_ops(write(tmp_path, data)) == {"PyFunc": Severity.CRITICAL}


def test_checkpoint_ops_that_only_the_saver_reaches_are_allowed(tmp_path: Path) -> None:
    save = [node("j", "StringJoin"), node("s", "SaveV2", ["j"]), node("m", "MergeV2Checkpoints", ["s"])]
    data = tf2_saver_model(save, [node("mm", "MatMul")])
    assert tf_ops(write(tmp_path, data)) == {}


def test_a_serving_function_that_calls_the_save_function_is_critical(tmp_path: Path) -> None:
    save = [node("s", "SaveV2")]
    call = [node("k", "Const"), node("c", "PartitionedCall", ["k"], {"f": "traced_save"})]
    ops = tf_ops(write(tmp_path, tf2_saver_model(save, call)))
    assert ops == {"SaveV2": Severity.CRITICAL}


def test_checkpoint_ops_in_a_serving_function_are_critical(tmp_path: Path) -> None:
    call = [node("k", "Const"), node("s", "SaveV2", ["k"])]
    ops = tf_ops(write(tmp_path, tf2_saver_model([node("s", "SaveV2")], call)))
    assert ops == {"SaveV2": Severity.CRITICAL}


def test_an_exported_save_function_is_not_the_savers(tmp_path: Path) -> None:
    data = tf2_saver_model([node("s", "SaveV2")], [], exported=("call", "traced_save"))
    assert tf_ops(write(tmp_path, data)) == {"SaveV2": Severity.CRITICAL}


def test_tf1_saver_nodes_pass_unless_a_serving_node_consumes_them(tmp_path: Path) -> None:
    saver_nodes = [
        node("save/Const", "PlaceholderWithDefault"),
        node("save/SaveV2", "SaveV2", ["save/Const"]),
        node("save/control_dependency", "Identity", ["save/Const", "^save/SaveV2"]),
        node("save/RestoreV2", "RestoreV2", ["save/Const"]),
        node("save/Assign", "AssignVariableOp", ["w", "save/RestoreV2"]),
        node("save/restore_all", "NoOp", ["^save/Assign"]),
    ]
    tf1_saver = ("save/Const:0", "save/control_dependency:0", "save/restore_all")
    model = [node("w", "VarHandleOp"), node("x", "Placeholder"), node("y", "MatMul", ["x", "w"])]
    clean = saved_model(meta_graph(graph_def(model + saver_nodes), saver=tf1_saver))
    assert tf_ops(write(tmp_path, clean, "clean/saved_model.pb")) == {}
    hijack = [node("out", "Identity", ["y", "^save/SaveV2"])]
    dirty = saved_model(meta_graph(graph_def(model + saver_nodes + hijack), saver=tf1_saver))
    assert tf_ops(write(tmp_path, dirty, "dirty/saved_model.pb")) == {"SaveV2": Severity.CRITICAL}


def test_checkpoint_ops_without_a_saver_def_are_critical(tmp_path: Path) -> None:
    ops = tf_ops(write(tmp_path, savedmodel_bytes(["Const", "RestoreV2"])))
    assert ops == {"RestoreV2": Severity.CRITICAL}


def test_a_saved_model_without_its_version_field_is_still_parsed(tmp_path: Path) -> None:
    fns = [function("fn", [node("r", "ReadFile")])]
    data = saved_model(meta_graph(graph_def([node("c", "Const")], fns)), schema_version=None)
    assert data[:1] == b"\x12"
    for name in ("saved_model.pb", "model.pb"):
        report = scan_file(write(tmp_path, data, name))
        assert report.format == "tensorflow-savedmodel"
        assert {f.properties.get("op") for f in report.findings} == {"ReadFile"}
        assert report.verdict is Verdict.UNSAFE


def test_a_frozen_graphdef_is_checked_too(tmp_path: Path) -> None:
    data = graph_def([node("x", "Placeholder"), node("p", "EagerPyFunc", ["x"])])
    report = scan_file(write(tmp_path, data, "frozen.pb"))
    assert report.format == "tensorflow-graphdef"
    assert tf_ops(write(tmp_path, data, "frozen.pb")) == {"EagerPyFunc": Severity.CRITICAL}


def test_an_unparseable_graph_fails_closed(tmp_path: Path) -> None:
    report = scan_file(write(tmp_path, b"\x08\x01\x12\xff\xff\x01abc"))
    assert {(f.rule_id, f.severity) for f in report.findings} == {(R.FORMAT_MALFORMED, Severity.HIGH)}


def test_the_op_tiers_are_disjoint_and_cover_the_checkpoint_ops() -> None:
    assert not ALLOWED_OPS & DANGEROUS_OPS.keys()
    assert DANGEROUS_OPS.keys() >= CHECKPOINT_OPS
    assert {
        "Const",
        "Placeholder",
        "Identity",
        "NoOp",
        "MatMul",
        "StatefulPartitionedCall",
        "ReadVariableOp",
        "AssignVariableOp",
    } <= ALLOWED_OPS


def test_only_the_last_saver_def_value_names_the_saver(tmp_path: Path) -> None:
    # Protobuf merges repeated singular fields, last value winning: an earlier saver_def
    # naming a serving node must not make its checkpoint ops the saver's.
    main = [
        node("k", "Const"),
        node("evil", "SaveV2", ["k"]),
        node("r", "RestoreV2"),
        node("restore_all", "NoOp", ["^r"]),
    ]
    meta = meta_graph(graph_def(main), saver=("k:0", "evil:0", "evil"))
    meta += meta_graph(b"", saver=("k:0", "restore_all:0", "restore_all"))[2:]  # saver only
    ops = tf_ops(write(tmp_path, saved_model(meta)))
    assert ops == {"SaveV2": Severity.CRITICAL}
