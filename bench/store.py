"""Object-store throughput vs the floor of `cp` + `sha256sum` on the same file.

Usage: python bench/store.py [--size-mb 1024]

Writes a file of random bytes, then times (best of 3, page cache warm for everyone):
  floor:  cp FILE COPY && sha256sum FILE   (read twice, write once; no fsync, so
          the floor is stricter than the store, which fsyncs)
  put:    ObjectStore.put_file(FILE)        (read once, hash, write, fsync, rename)
  get:    ObjectStore.get_file(DIGEST, OUT) (read, hash, write, fsync, verify, rename)
and reports each as a ratio of the floor (target: within 1.3x).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from mlward.store.objects import ObjectStore

RESULTS = Path(__file__).with_name("results")


def best_of(runs: int, action) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mlward-bench-store-", dir=Path(__file__).parent))
    try:
        source = work / "model.bin"
        with source.open("wb") as out:
            for _ in range(args.size_mb):
                out.write(os.urandom(1 << 20))

        def floor() -> None:
            copy = work / "copy.bin"
            subprocess.run(["cp", str(source), str(copy)], check=True)
            subprocess.run(["sha256sum", str(source)], check=True, capture_output=True)
            copy.unlink()

        def put() -> None:
            store_dir = work / "objects"
            shutil.rmtree(store_dir, ignore_errors=True)
            ObjectStore(store_dir).put_file(source)

        floor_s = best_of(args.runs, floor)
        put_s = best_of(args.runs, put)
        store = ObjectStore(work / "objects")
        digest = store.put_file(source).digest

        def get() -> None:
            target = work / "out.bin"
            store.get_file(digest, target)
            target.unlink()

        get_s = best_of(args.runs, get)
        mb = args.size_mb
        rows = [
            ("cp + sha256sum (floor, no fsync)", floor_s),
            ("mlward put_file", put_s),
            ("mlward get_file (verified)", get_s),
        ]
        print(f"\nobject store, {mb} MiB file, best of {args.runs}")
        print(f"{'operation':34} {'seconds':>8} {'MiB/s':>8} {'vs floor':>9}")
        for name, seconds in rows:
            print(f"{name:34} {seconds:8.2f} {mb / seconds:8.0f} {seconds / floor_s:8.2f}x")
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "store.json").write_text(
            json.dumps(
                {
                    "size_mib": mb,
                    "floor_s": floor_s,
                    "put_s": put_s,
                    "get_s": get_s,
                    "put_ratio": put_s / floor_s,
                    "get_ratio": get_s / floor_s,
                    "target_ratio": 1.3,
                },
                indent=2,
            )
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
