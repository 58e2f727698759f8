"""Benign model files made by the real libraries (used by the tests and the benchmark).

Every builder writes real artifacts with the library that owns the format: scikit-learn,
XGBoost and LightGBM estimators (pickle and joblib), PyTorch state dicts and optimizer
states (zip and legacy formats), Keras, ONNX, safetensors, NumPy, GGUF. None of them
should produce a finding at HIGH or above.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np

Builder = Callable[[Path], list[Path]]


def _xy(n: int = 120, d: int = 5, classes: int = 2) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, d))
    y = (x[:, 0] * 3 + x[:, 1] > 0).astype(int) if classes == 2 else rng.integers(0, classes, n)
    return x, y


def sklearn_models(out: Path) -> list[Path]:
    """Several estimator types, pickled (protocols 2-5) and joblib-dumped (plain and zlib)."""
    import joblib
    from sklearn.cluster import KMeans
    from sklearn.compose import ColumnTransformer
    from sklearn.decomposition import PCA
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.naive_bayes import GaussianNB
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    from sklearn.svm import SVC
    from sklearn.tree import DecisionTreeClassifier

    x, y = _xy()
    cats = np.array([["a", "x"], ["b", "y"], ["a", "y"]] * 40, dtype=object)
    models = {
        "logreg": LogisticRegression().fit(x, y),
        "rf": RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0).fit(x, y),
        "gb": GradientBoostingClassifier(n_estimators=5, random_state=0).fit(x, y),
        "kmeans": KMeans(n_clusters=3, n_init=2, random_state=0).fit(x),
        "scaler": StandardScaler().fit(x),
        "onehot": OneHotEncoder(handle_unknown="ignore").fit(cats),
        "tree": DecisionTreeClassifier(max_depth=3).fit(x, y),
        "svc": SVC().fit(x, y),
        "knn": KNeighborsClassifier().fit(x, y),
        "nb": GaussianNB().fit(x, y),
        "ridge": Ridge().fit(x, y),
        "pca": PCA(n_components=2).fit(x),
        "pipeline": Pipeline(
            [("impute", SimpleImputer()), ("scale", StandardScaler()), ("clf", LogisticRegression())]
        ).fit(x, y),
        "coltrans": ColumnTransformer(
            [("num", StandardScaler(), [0, 1]), ("pca", PCA(n_components=1), [2, 3, 4])]
        ).fit(x),
        "tfidf": TfidfVectorizer().fit(["the model is safe", "pickles are code", "scan it"]),
    }
    paths = []
    for i, (name, model) in enumerate(models.items()):
        proto = (2, 3, 4, 5)[i % 4]
        p = out / f"sk_{name}.p{proto}.pkl"
        p.write_bytes(pickle.dumps(model, protocol=proto))
        paths.append(p)
        j = out / f"sk_{name}.joblib"
        joblib.dump(model, j, compress=3 if i % 3 == 0 else 0)
        paths.append(j)
    return paths


def boosting_models(out: Path) -> list[Path]:
    """XGBoost and LightGBM sklearn-API models, pickled and joblib-dumped."""
    import joblib
    import lightgbm
    import xgboost

    x, y = _xy()
    models = {
        "xgb_clf": xgboost.XGBClassifier(n_estimators=4, max_depth=2).fit(x, y),
        "xgb_reg": xgboost.XGBRegressor(n_estimators=4, max_depth=2).fit(x, y.astype(float)),
        "lgbm_clf": lightgbm.LGBMClassifier(n_estimators=4, verbose=-1).fit(x, y),
        "lgbm_reg": lightgbm.LGBMRegressor(n_estimators=4, verbose=-1).fit(x, y.astype(float)),
    }
    paths = []
    for name, model in models.items():
        p = out / f"{name}.pkl"
        p.write_bytes(pickle.dumps(model, protocol=4))
        j = out / f"{name}.joblib"
        joblib.dump(model, j)
        paths += [p, j]
    booster = out / "lgbm_booster.pkl"
    booster.write_bytes(pickle.dumps(models["lgbm_clf"].booster_))
    xgb_booster = out / "xgb_booster.pkl"
    xgb_booster.write_bytes(pickle.dumps(models["xgb_clf"].get_booster()))
    return [*paths, booster, xgb_booster]


def torch_files(out: Path) -> list[Path]:
    """State dicts, optimizer states and tensors in the zip and legacy formats."""
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3),
        torch.nn.BatchNorm2d(4),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(4 * 6 * 6, 3),
    )
    lstm = torch.nn.LSTM(4, 8, batch_first=True)
    opt = torch.optim.Adam(net.parameters())
    net(torch.randn(2, 3, 8, 8)).sum().backward()
    opt.step()
    paths = {
        "state_dict.pt": net.state_dict(),
        "lstm.pth": lstm.state_dict(),
        "optimizer.pt": opt.state_dict(),
        "checkpoint.ckpt": {
            "epoch": 3,
            "model": net.state_dict(),
            "optimizer": opt.state_dict(),
            "sgd": torch.optim.SGD(lstm.parameters(), lr=0.1, momentum=0.9).state_dict(),
            "rng": torch.get_rng_state(),
            "dtypes": [torch.float16, torch.bfloat16, torch.int8],
            "sizes": torch.Size([2, 3]),
            "half": torch.ones(3, dtype=torch.float16),
            "bf16": torch.ones(3, dtype=torch.bfloat16),
            "bool": torch.ones(2, dtype=torch.bool),
            "complex": torch.ones(2, dtype=torch.complex64),
            "int": torch.arange(4),
            "param": torch.nn.Parameter(torch.ones(2)),
        },
    }
    written = []
    for name, obj in paths.items():
        p = out / name
        torch.save(obj, p)
        written.append(p)
    plain = out / "tensors_plain_pickle.pkl"  # pickle.dump of tensors: nested torch.load
    plain.write_bytes(pickle.dumps({"w": torch.ones(3), "p": torch.nn.Parameter(torch.zeros(2))}))
    written.append(plain)
    scripted = out / "traced.torchscript.pt"
    torch.jit.trace(net.eval(), torch.randn(1, 3, 8, 8)).save(str(scripted))
    written.append(scripted)
    legacy = out / "legacy_state_dict.pt"
    torch.save(net.state_dict(), legacy, _use_new_zipfile_serialization=False)
    legacy_opt = out / "legacy_optimizer.bin"
    torch.save(opt.state_dict(), legacy_opt, _use_new_zipfile_serialization=False)
    return [*written, legacy, legacy_opt]


def numpy_files(out: Path) -> list[Path]:
    """npy, npz (plain and compressed), and NumPy arrays pickled with protocols 0-5."""
    arr = np.arange(24, dtype=np.float32).reshape(4, 6)
    rec = np.zeros(3, dtype=[("a", "<i4"), ("b", "<f8", (2,))])
    paths = []
    for name, obj in {"arr.npy": arr, "rec.npy": rec}.items():
        np.save(out / name, obj)
        paths.append(out / name)
    np.savez(out / "arrays.npz", a=arr, b=rec)
    np.savez_compressed(out / "arrays_c.npz", a=arr, m=np.ones((3, 3), dtype=np.int64))
    paths += [out / "arrays.npz", out / "arrays_c.npz"]
    data = {
        "f32": arr,
        "rec": rec,
        "i8": np.arange(5, dtype=np.int8),
        "s": np.array(["ab", "c"]),
        "dt": np.array(["2024-01-01"], dtype="datetime64[D]"),
        "scalar": np.float64(1.5),
        "masked": np.ma.masked_array([1, 2, 3], mask=[0, 1, 0]),
        "rng": np.random.default_rng(1),
        "legacy_rng": np.random.RandomState(2),
        "c": np.complex128(1 + 2j),
    }
    for proto in range(6):
        p = out / f"numpy_dict.p{proto}.pkl"
        p.write_bytes(pickle.dumps(data, protocol=proto))
        paths.append(p)
    return paths


def python_data(out: Path) -> list[Path]:
    """Plain Python containers through pickle, dill, cloudpickle, plus scipy and pandas."""
    import collections
    import datetime
    import decimal
    import fractions
    import uuid

    import cloudpickle
    import dill
    import pandas as pd
    import scipy.sparse as sp

    data = {
        "set": {1, 2},
        "frozenset": frozenset({"a"}),
        "slice": slice(1, 5, 2),
        "complex": 1j,
        "bytearray": bytearray(b"xy"),
        "range": range(3),
        "od": collections.OrderedDict(a=1),
        "dd": collections.defaultdict(list, {"k": [1]}),
        "counter": collections.Counter("aab"),
        "deque": collections.deque([1, 2]),
        "dt": datetime.datetime(2024, 5, 1, 12, 0),
        "date": datetime.date(2024, 1, 2),
        "td": datetime.timedelta(days=1),
        "tz": datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC),
        "decimal": decimal.Decimal("1.5"),
        "fraction": fractions.Fraction(1, 3),
        "uuid": uuid.UUID(int=7),
        "bytes": b"\x00\x01",
        "nested": [[1, (2, 3)], {"x": None}],
    }
    paths = []
    for proto in range(6):
        p = out / f"pydata.p{proto}.pkl"
        p.write_bytes(pickle.dumps(data, protocol=proto))
        paths.append(p)
    # dill pickles range objects through eval (dill._dill._eval_repr): code, so left out.
    (out / "pydata.dill").write_bytes(dill.dumps({k: v for k, v in data.items() if k != "range"}))
    (out / "pydata.cloudpickle").write_bytes(cloudpickle.dumps(data))
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"], "t": pd.to_datetime(["2024-01-01"] * 2)})
    (out / "frame.pkl").write_bytes(pickle.dumps({"df": frame, "s": frame["a"]}, protocol=4))
    sparse = {
        "csr": sp.csr_matrix(np.eye(3)),
        "coo": sp.coo_matrix(np.eye(2)),
        "csr_array": sp.csr_array(np.eye(2)),
    }
    (out / "sparse.pkl").write_bytes(pickle.dumps(sparse, protocol=4))
    paths += [out / "pydata.dill", out / "pydata.cloudpickle", out / "frame.pkl", out / "sparse.pkl"]
    return paths


def keras_files(out: Path) -> list[Path]:
    """A functional Keras model saved as ``.keras`` and legacy ``.h5`` (torch backend)."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    inputs = keras.Input(shape=(4,))
    hidden = keras.layers.Dense(8, activation="relu")(inputs)
    hidden = keras.layers.Dropout(0.1)(hidden)
    norm = keras.layers.BatchNormalization()(hidden)
    outputs = keras.layers.Dense(2, activation="softmax")(norm)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    seq = keras.Sequential([keras.Input(shape=(5, 3)), keras.layers.LSTM(4), keras.layers.Dense(1)])
    paths = [out / "model.keras", out / "model.h5", out / "seq.keras"]
    model.save(paths[0])
    model.save(paths[1])
    seq.save(paths[2])
    model.save_weights(out / "model.weights.h5")
    return [*paths, out / "model.weights.h5"]


def onnx_safetensors_gguf(out: Path) -> list[Path]:
    """An ONNX graph, a torch-exported ONNX model, safetensors files and a GGUF file."""
    import gguf
    import onnx
    import torch
    from onnx import TensorProto, helper
    from safetensors.numpy import save_file as save_np
    from safetensors.torch import save_file as save_torch

    node = helper.make_node("Gemm", ["x", "w", "b"], ["y"])
    graph = helper.make_graph(
        [node, helper.make_node("Relu", ["y"], ["z"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 2])],
        [
            helper.make_tensor(
                "w", TensorProto.FLOAT, [2, 2], np.eye(2, dtype=np.float32).tobytes(), raw=True
            ),
            helper.make_tensor("b", TensorProto.FLOAT, [2], np.full(2, 0.5, np.float32).tobytes(), raw=True),
        ],
    )
    model = helper.make_model(graph, producer_name="mlward-tests")
    onnx.checker.check_model(model)
    paths = [out / "gemm.onnx"]
    onnx.save(model, paths[0])
    ext = out / "ext" / "model_ext.onnx"
    ext.parent.mkdir(exist_ok=True)
    onnx.save_model(
        model,
        ext,
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="weights.bin",
        size_threshold=0,
    )
    paths.append(ext)
    save_torch(
        {"w": torch.randn(3, 4), "b": torch.zeros(4, dtype=torch.bfloat16)},
        out / "model.safetensors",
        metadata={"format": "pt"},
    )
    save_np(
        {"a": np.arange(6, dtype=np.int64).reshape(2, 3), "e": np.zeros((0,), np.float32)},
        out / "np.safetensors",
    )
    paths += [out / "model.safetensors", out / "np.safetensors"]
    writer = gguf.GGUFWriter(out / "tiny.gguf", "llama")
    writer.add_context_length(128)
    writer.add_string(
        "tokenizer.chat_template",
        "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n"
        "{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}",
    )
    writer.add_array("tokenizer.ggml.tokens", ["<s>", "</s>", "a"])
    writer.add_tensor("w", np.ones((4, 4), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    paths.append(out / "tiny.gguf")
    return paths


def training_checkpoints(out: Path) -> list[Path]:
    """Hugging Face ``training_args.bin`` and a Lightning-style checkpoint with hparams."""
    import argparse

    import torch
    from omegaconf import OmegaConf
    from transformers import TrainingArguments

    args = out / "training_args.bin"
    torch.save(TrainingArguments(output_dir=str(out / "hf"), report_to=[]), args)
    net = torch.nn.Linear(3, 2)
    ckpt = out / "lightning.ckpt"
    torch.save(
        {
            "state_dict": net.state_dict(),
            "epoch": 2,
            "global_step": 10,
            "hyper_parameters": {
                "args": argparse.Namespace(lr=0.1, data=Path("/data/x")),
                "cfg": OmegaConf.create({"a": 1, "b": [1, 2], "c": {"d": "x"}}),
            },
        },
        ckpt,
    )
    whole = out / "whole_module.pt"  # torch.save(module): built-in layers only
    torch.save(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU()), whole)
    return [args, ckpt, whole]


BUILDERS: dict[str, Builder] = {
    "training": training_checkpoints,
    "sklearn": sklearn_models,
    "boosting": boosting_models,
    "torch": torch_files,
    "numpy": numpy_files,
    "python": python_data,
    "keras": keras_files,
    "onnx_safetensors_gguf": onnx_safetensors_gguf,
}


def build_benign(out: Path) -> list[Path]:
    """Build the whole benign corpus under ``out`` and return the files."""
    out.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    for name, builder in BUILDERS.items():
        sub = out / name
        sub.mkdir(exist_ok=True)
        files += builder(sub)
    return files
