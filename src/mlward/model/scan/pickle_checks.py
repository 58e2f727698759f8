"""Call-site and import checks of the pickle analyser (mixed into ``PickleAnalyser``).

Every imported global is classified against the allowlist; every call site must invoke an
allowlisted global; higher-order allowlisted functions must receive globals; type lookups
by name are resolved; ``torch.storage._load_from_bytes`` payloads are scanned as nested
PyTorch files; mutating an imported global is reported.
"""

from __future__ import annotations

import builtins
import io
from typing import TYPE_CHECKING, Any

from mlward.core.findings import Severity
from mlward.model.scan import rules
from mlward.model.scan.allowlist import GlobalStatus
from mlward.model.scan.pickle_values import ANY, BytesRef, GlobalRef, Instance

if TYPE_CHECKING:
    from mlward.model.scan._io import ByteStream
    from mlward.model.scan.interface import ScanContext

# Callables that deserialize their argument: a bytes argument found in the stream is
# analysed (as a pickle for the pickle family, by content for the others); any other
# argument is HIGH, since what it deserializes cannot be seen.
PICKLE_LOADERS = frozenset(
    {
        "pickle.loads",
        "pickle._loads",
        "_pickle.loads",
        "pickle.load",
        "_pickle.load",
        "dill.loads",
        "dill._dill.loads",
        "cloudpickle.loads",
        "cloudpickle.cloudpickle.loads",
        "marshal.loads",
        "pandas.read_pickle",
        "pickle.Unpickler",
        "_pickle.Unpickler",
    }
)
FILE_LOADERS = frozenset(
    {
        "torch.storage._load_from_bytes",
        "torch.load",
        "torch.serialization.load",
        "numpy.load",
        "joblib.load",
        "joblib.numpy_pickle.load",
    }
)
NESTED_LOADERS = PICKLE_LOADERS | FILE_LOADERS
_BYTES_FILES = frozenset({"_io.BytesIO", "io.BytesIO"})
# Allowlisted functions that return a type looked up by name in these modules.
TYPE_RESOLVERS: dict[str, tuple[str, ...]] = {
    "dill._dill._load_type": ("builtins", "types"),
    "cloudpickle.cloudpickle._builtin_type": ("types",),
}


# Distinct (module, name, protocol) imports one stream may make: real pickles make hundreds.
MAX_GLOBALS = 1 << 16


def _importable(module: str, name: str) -> bool:
    """True when ``module``/``name`` are dotted identifiers, the only names import finds."""
    return all(part.isidentifier() for part in (*module.split("."), *name.split(".")))


def _global_prop(full: str) -> dict[str, Any]:
    """The ``global`` finding property, passed as ``**`` because ``global`` is a keyword."""
    return {"global": full}


class CallChecks:
    """Import and call checks; expects the attributes ``PickleAnalyser`` defines."""

    bs: ByteStream
    ctx: ScanContext
    member: str | None
    label: str
    depth: int
    calls: int
    op_at: int
    globals_seen: dict[str, None]
    global_refs: dict[tuple[str, str, int], GlobalRef]
    proto: int
    consumed: set[Any]
    strict_names: bool = False
    """Treat a global whose dotted names are not identifiers as the end of the stream
    (set when a file of another format is also read as a pickle)."""

    def report(
        self,
        rule_id: str,
        severity: Severity,
        message: str,
        *,
        key: str,
        offset: int | None = None,
        opcode: str | None = None,
        **props: Any,
    ) -> None:
        raise NotImplementedError  # provided by PickleAnalyser

    def import_global(self, module: str, name: str, opcode: str) -> GlobalRef:
        """Classify an import and report it unless it is allowlisted."""
        if self.strict_names and not _importable(module, name):
            from mlward.model.scan.pickle_analyser import Malformed

            # find_class would raise: this reading of the bytes stops here, nothing ran.
            raise Malformed("global name that no import can resolve")
        ref = self.global_refs.get((module, name, self.proto))
        if ref is None:
            ref = self._new_global(module, name)
        self.globals_seen[ref.full] = None
        status = ref.status
        if status is GlobalStatus.CRITICAL:
            self.report(
                rules.PICKLE_GLOBAL_CRITICAL,
                Severity.CRITICAL,
                f"{self.label} imports {ref.full}, which can execute code or reach the system",
                key=ref.full,
                opcode=opcode,
                **_global_prop(ref.full),
            )
        elif status is GlobalStatus.UNKNOWN:
            self.report(
                rules.PICKLE_GLOBAL_UNKNOWN,
                Severity.HIGH,
                f"{self.label} imports {ref.full}, which is not on the allowlist: "
                "unknown callable, review before loading",
                key=ref.full,
                opcode=opcode,
                **_global_prop(ref.full),
            )
        return ref

    def _new_global(self, module: str, name: str) -> GlobalRef:
        """Classify a name not imported before in this stream; one ``GlobalRef`` per name,
        so a stream that imports the same global millions of times holds one."""
        if len(self.global_refs) >= MAX_GLOBALS:
            from mlward.model.scan.pickle_analyser import LimitReached

            raise LimitReached(f"more than {MAX_GLOBALS} distinct globals imported")
        allowlist = self.ctx.allowlist
        ref = GlobalRef(module, name, allowlist.classify(module, name, self.proto))
        ref.full = allowlist.effective_name(module, name, self.proto)
        self.global_refs[(module, name, self.proto)] = ref
        return ref

    def check_call(self, func: Any, args: Any, opcode: str) -> Any:
        """Check one call site and return the modelled result."""
        self.calls += 1
        if isinstance(func, GlobalRef):
            if func.full in NESTED_LOADERS:
                self._scan_nested(func, args, opcode)
            if func.status is GlobalStatus.SAFE:
                resolver = TYPE_RESOLVERS.get(func.full)
                if resolver is not None:
                    return self._resolve_type(resolver, args, opcode)
                entry = self.ctx.allowlist.entry(func.full)
                if entry is not None and entry.callable_args:
                    self._check_callable_args(func, args, entry.callable_args, opcode)
        else:
            what = type(func).__name__ if func is not ANY else "an untracked value"
            self.report(
                rules.PICKLE_CALL_UNRESOLVED,
                Severity.HIGH,
                f"{self.label} calls {what} that is not an allowlisted global ({opcode})",
                key=f"{opcode}@{self.op_at}",
                opcode=opcode,
            )
        return Instance(func, args)

    def _scan_nested(self, func: GlobalRef, args: Any, opcode: str) -> None:
        """An inner loader (``pickle.loads(b)``, ``torch.storage._load_from_bytes(b)``,
        ``joblib.load(io.BytesIO(b))``, ``pickle.loads(base64.b64decode(s))``...)
        deserializes ``b``: analyse ``b`` in place, or decoded when a decoder feeds it."""
        from mlward.model.scan import pickle_embedded as emb

        ref = args[0] if isinstance(args, tuple) and args else None
        if isinstance(ref, Instance) and ref.func_name() in _BYTES_FILES:
            inner = ref.args
            ref = inner[0] if isinstance(inner, tuple) and inner else None
        chain = emb.decoded_argument(ref)
        data = emb.decode_operand(self, *chain) if chain is not None else None  # type: ignore[arg-type]
        if chain is not None and data is not None:
            operand = chain[1]
            self.consumed.add(operand.offset if isinstance(operand, BytesRef) else operand)
            self._scan_loaded(func, io.BytesIO(data), len(data), f"{chain[0]}@{self.op_at}")
            return
        if not isinstance(ref, BytesRef):
            self.report(
                rules.PICKLE_HIGHER_ORDER,
                Severity.HIGH,
                f"{func.full} deserializes an argument that is not bytes in the stream "
                "(a computed value, a path or a file): its content cannot be analysed",
                key=f"nested@{self.op_at}",
                opcode=opcode,
                **_global_prop(func.full),
            )
            return
        self.consumed.add(ref.offset)
        self._scan_loaded(
            func,
            emb.window(self, ref),  # type: ignore[arg-type]
            ref.length,
            f"bytes@{ref.offset}",
        )

    def _scan_loaded(self, func: GlobalRef, stream: Any, size: int, where: str) -> None:
        """Scan what loader ``func`` deserializes: as a pickle, or by content for files."""
        from mlward.model.scan.dispatch import scan_artifact
        from mlward.model.scan.interface import Artifact
        from mlward.model.scan.pickle_embedded import scan_bytes

        if func.full in PICKLE_LOADERS:
            scan_bytes(self, stream, size, where, f"pickle loaded by {func.full}")  # type: ignore[arg-type]
            return
        label = f"{self.member}!" if self.member else ""
        nested = Artifact(
            stream=stream,
            size=size,
            name=f"{func.full}.bytes",
            member=f"{label}{where}",
            depth=self.depth + 1,
        )
        scan_artifact(nested, self.ctx)  # by content: zip, legacy torch, npy, pickle...

    def _resolve_type(self, modules: tuple[str, ...], args: Any, opcode: str) -> Any:
        """dill/cloudpickle look types up by name: the result is that type, as a global."""
        name = args[0] if isinstance(args, tuple) and len(args) == 1 else None
        if not isinstance(name, str):
            self.report(
                rules.PICKLE_STACK_GLOBAL_UNRESOLVED,
                Severity.HIGH,
                f"{self.label} looks up a type whose name cannot be resolved statically",
                key=f"type@{self.op_at}",
                opcode=opcode,
            )
            return GlobalRef("?", "?", GlobalStatus.UNKNOWN)
        module = modules[-1]
        for candidate in modules:
            if candidate == "builtins" and isinstance(getattr(builtins, name, None), type):
                module = candidate
                break
        return self.import_global(module, name, opcode)

    def _check_callable_args(
        self, func: GlobalRef, args: Any, positions: tuple[int, ...], opcode: str
    ) -> None:
        for pos in positions:
            arg = args[pos] if isinstance(args, tuple) and pos < len(args) else None
            if isinstance(arg, GlobalRef):
                continue  # its import was classified (and reported) when it was pushed
            self.report(
                rules.PICKLE_HIGHER_ORDER,
                Severity.HIGH,
                f"{func.full} receives argument {pos} that is not an allowlisted global; "
                "it would be called or instantiated",
                key=f"{func.full}@{self.op_at}",
                opcode=opcode,
                **_global_prop(func.full),
            )

    def mutate_target(self, target: Any, opcode: str) -> None:
        """BUILD/SETITEM/APPEND on an imported global changes process-wide state."""
        if isinstance(target, GlobalRef):
            self.report(
                rules.PICKLE_MUTATES_GLOBAL,
                Severity.HIGH,
                f"{self.label} mutates the imported global {target.full} ({opcode})",
                key=f"{target.full}:{opcode}",
                opcode=opcode,
                **_global_prop(target.full),
            )
