"""Keras model configs (``config.json`` of ``.keras`` files, ``model_config`` of ``.h5``).

Keras rebuilds a model by resolving each ``module``/``class_name`` and calling the class
with its config; Lambda layers and ``__lambda__`` objects carry marshalled Python bytecode
that runs on load. Only Keras's own namespaces are accepted.
"""

from __future__ import annotations

from typing import Any

from mlward.core.findings import Severity
from mlward.model.scan import rules
from mlward.model.scan.interface import ScanContext

_KERAS_MODULES = ("keras", "tf_keras", "tensorflow.keras", "tensorflow.python.keras")
_CODE_KEYS = ("function", "output_shape")
_TF_OP_RISKY = ("io", "py_function", "numpy_function", "compat", "raw_ops", "print", "debugging")
_MAX_NODES = 2_000_000


def _is_keras_module(module: str) -> bool:
    return any(module == m or module.startswith(m + ".") for m in _KERAS_MODULES)


def looks_like_keras(obj: Any) -> bool:
    """True for a JSON document shaped like a Keras model/layer config."""
    return isinstance(obj, dict) and "class_name" in obj and "config" in obj


def check_keras_config(obj: Any, ctx: ScanContext, member: str | None, source: str) -> None:
    """Walk a parsed config (every nested level) and report code-carrying entries."""
    todo: list[tuple[Any, str]] = [(obj, "$")]
    seen = 0
    while todo and seen < _MAX_NODES:
        node, path = todo.pop()
        seen += 1
        if isinstance(node, list):
            todo.extend((v, f"{path}[{i}]") for i, v in enumerate(node))
            continue
        if not isinstance(node, dict):
            continue
        _check_object(node, ctx, member, source, path)
        todo.extend((v, f"{path}.{k}") for k, v in node.items())
    if todo:
        ctx.add(
            rules.KERAS_LAMBDA,
            Severity.HIGH,
            f"{source}: more than {_MAX_NODES} config nodes; the rest is unchecked (fail closed)",
            member=member,
            detail="$",
        )


def _check_object(node: dict[str, Any], ctx: ScanContext, member: str | None, source: str, path: str) -> None:
    cls = node.get("class_name")
    module = node.get("module")
    config = node.get("config")
    registered = node.get("registered_name")

    def add(rule: str, sev: Severity, msg: str) -> None:
        ctx.add(rule, sev, f"{source}: {msg}", member=member, detail=path)

    short = cls.replace(">", ".").rsplit(".", 1)[-1] if isinstance(cls, str) else cls
    if short in ("Lambda", "__lambda__") or (
        isinstance(config, dict) and config.get("function_type") == "lambda"
    ):
        has_code = isinstance(config, dict) and (
            "value" in config or any(isinstance(config.get(k), list | str | dict) for k in _CODE_KEYS)
        )
        add(
            rules.KERAS_LAMBDA,
            Severity.CRITICAL if has_code else Severity.HIGH,
            f"{cls} layer with serialized Python code runs it when the model is loaded",
        )
    if cls in ("TFOpLambda", "SlicingOpLambda") and isinstance(config, dict):
        fn = str(config.get("function", ""))
        if any(part in _TF_OP_RISKY for part in fn.split(".")):
            add(rules.KERAS_LAMBDA, Severity.HIGH, f"{cls} calls TensorFlow function {fn!r}")
    if isinstance(module, str) and module and not _is_keras_module(module):
        target = (
            f"{module}.{config}" if cls == "function" and isinstance(config, str) else (f"{module}.{cls}")
        )
        critical = ctx.allowlist.is_critical(target)
        add(
            rules.KERAS_MODULE,
            Severity.CRITICAL if critical else Severity.HIGH,
            f"references {target}, outside the Keras namespaces",
        )
    if isinstance(registered, str) and ">" in registered:
        add(
            rules.KERAS_CUSTOM,
            Severity.HIGH,
            f"custom object {registered!r} needs user code registered at load time",
        )
