"""Benchmark: hashing + signing a 2 GB model, mlward vs sha256sum vs model_signing.

Builds (once) a 2.0 GB model in bench/data/model_hash/ - four random weight files of
1.5 GB, 300 MB, 150 MB and 50 MB plus a config.json - then times, on the same warm page
cache:

- ``sha256sum`` over every file, one process (the baseline);
- ``mlward`` ``sign_model(method="shards")``: the Python API end to end (walk, parallel
  sharded hashing, in-toto statement, ECDSA P-256 DSSE signature, bundle written), with
  all cores and with one thread (to separate parallelism from the hash implementation);
- ``mlward`` ``sign_model(method="files")``: the interoperable default;
- the reference tool ``model_signing`` (Python API, key signer), files and shards.

Prints a table and writes bench/results/model_hash.json. Run:
``.venv/bin/python bench/model_hash.py [--repeat 3] [--scale 1.0]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import ssl
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from mlward.crypto.digests import default_workers
from mlward.model.signing import sign_model, verify_model

HERE = Path(__file__).resolve().parent
FILES = {
    "model-00001-of-00004.bin": 1_500_000_000,
    "model-00002-of-00004.bin": 300_000_000,
    "model-00003-of-00004.bin": 150_000_000,
    "model-00004-of-00004.bin": 50_000_000,
}


def build_model(scale: float) -> Path:
    """Write the random model once; reuse it when the sizes already match."""
    root = HERE / "data" / "model_hash" / f"model-x{scale:g}"
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2024)
    block = 64 * 1024 * 1024
    for name, full_size in FILES.items():
        path, size = root / name, int(full_size * scale)
        if path.exists() and path.stat().st_size == size:
            continue
        with path.open("wb") as handle:
            for start in range(0, size, block):
                handle.write(rng.bytes(min(block, size - start)))
    (root / "config.json").write_text(json.dumps({"architecture": "bench", "layers": 24}))
    return root


def write_key(directory: Path) -> tuple[ec.EllipticCurvePrivateKey, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    path = directory / "bench-key.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return key, path


def timed(action: Callable[[], object], repeat: int) -> list[float]:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        runs.append(time.perf_counter() - start)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the 2 GB model")
    args = parser.parse_args()

    model = build_model(args.scale)
    work = model.parent
    key, key_path = write_key(work)
    files = sorted(p for p in model.iterdir() if p.name != "model.sig")
    total = sum(p.stat().st_size for p in files)
    for path in files:  # warm the page cache so every tool reads from memory
        with path.open("rb") as handle:
            while handle.read(64 * 1024 * 1024):
                pass

    import model_signing  # the reference tool (dev dependency)

    def ref_sign(shards: bool) -> None:
        hashing = model_signing.hashing.Config().set_ignored_paths(paths=["model.sig"])
        if shards:
            hashing.use_shard_serialization()
        model_signing.signing.Config().use_elliptic_key_signer(private_key=key_path).set_hashing_config(
            hashing
        ).sign(model, work / "reference.sig")

    cases: dict[str, Callable[[], object]] = {
        "sha256sum (1 process)": lambda: subprocess.run(
            ["sha256sum", *map(str, files)], check=True, capture_output=True
        ),
        "mlward sign, shards": lambda: sign_model(model, key, method="shards"),
        "mlward sign, shards, 1 thread": lambda: sign_model(model, key, method="shards", max_workers=1),
        "mlward sign, files (interop default)": lambda: sign_model(model, key, method="files"),
        "mlward verify, shards": lambda: verify_model(model, model / "model.sig", key.public_key()),
        "model_signing sign key, files": lambda: ref_sign(shards=False),
        "model_signing sign key, shards": lambda: ref_sign(shards=True),
    }
    # verify needs a shards signature in place: sign once untimed first.
    sign_model(model, key, method="shards")
    results = []
    for label, action in cases.items():
        if label.startswith("mlward verify"):
            sign_model(model, key, method="shards")
        runs = timed(action, args.repeat)
        median = statistics.median(runs)
        results.append(
            {
                "tool": label,
                "runs_s": [round(r, 3) for r in runs],
                "median_s": round(median, 3),
                "throughput_mb_s": round(total / median / 1e6, 1),
            }
        )
    baseline = results[0]["median_s"]
    for row in results:
        row["speedup_vs_sha256sum"] = round(baseline / row["median_s"], 2)

    print(
        f"\nModel: {len(files)} files, {total / 1e9:.2f} GB, {default_workers()} cores, median of "
        f"{args.repeat} runs"
    )
    print(f"{'tool':40} {'median s':>9} {'MB/s':>8} {'x sha256sum':>12}")
    for row in results:
        print(
            f"{row['tool']:40} {row['median_s']:9.2f} {row['throughput_mb_s']:8.0f} "
            f"{row['speedup_vs_sha256sum']:12.2f}"
        )

    sha_version = subprocess.run(["sha256sum", "--version"], capture_output=True, text=True).stdout
    report = {
        "benchmark": "model_hash",
        "model_bytes": total,
        "files": {p.name: p.stat().st_size for p in files},
        "repeat": args.repeat,
        "machine": {
            "cores": default_workers(),
            "cpu": _cpu_model(),
            "python": platform.python_version(),
            "openssl": ssl.OPENSSL_VERSION,
            "sha256sum": sha_version.splitlines()[0] if sha_version else "unknown",
            "model_signing": model_signing.__version__,
        },
        "results": results,
        "target": "mlward sign, shards >= 1.8x sha256sum throughput",
        "target_met": results[1]["speedup_vs_sha256sum"] >= 1.8,
    }
    out = HERE / "results" / "model_hash.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {out.relative_to(HERE.parent)}")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
