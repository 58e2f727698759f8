"""Benchmark: offline dependency audit over an OSV all.zip the size of the real PyPI export.

Builds (once) a synthetic ``PyPI/all.zip`` in bench/data/deps_audit/ shaped like the real
export (one OSV record per member: ECOSYSTEM ranges, explicit version lists, CVSS v3
vectors on half of them, aliases, ~1 KB of details), then audits 300 pinned dependencies:

- ``no index``: open the zip and evaluate every record for every dependency, the way a
  tool without an index has to on each run (same matcher, so only the data access differs);
- ``mlward cold``: first audit, which also builds the SQLite index keyed by the zip digest;
- ``mlward warm``: later audits that reuse the cached index.

pip-audit is not in the table: it has no offline database option (its ``osv`` service
queries api.osv.dev and its ``pypi`` service the PyPI JSON API), so it cannot audit
against the same advisories without the network.

Prints a table and writes bench/results/deps_audit.json. Run:
``.venv/bin/python bench/deps_audit.py [--advisories 20000] [--repeat 5]``
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import tempfile
import time
import zipfile
from pathlib import Path

from mlward.supplychain.interface import PackageVersion
from mlward.supplychain.osv import vulnerability_for
from mlward.supplychain.osv_archive import OsvArchiveService

HERE = Path(__file__).resolve().parent
VECTORS = [
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
    "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L",
    "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:N/A:N",
]


def _version(rng: random.Random) -> str:
    return f"{rng.randint(0, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 20)}"


def build_archive(advisories: int, packages: int) -> Path:
    """Write the synthetic export once (deterministic); reuse it when it exists."""
    target = HERE / "data" / "deps_audit" / f"PyPI-all-{advisories}.zip"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(2024)
    temp = target.with_suffix(".tmp")
    with zipfile.ZipFile(temp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for n in range(advisories):
            name = f"bench-pkg-{rng.randrange(packages)}"
            bounds = sorted({_version(rng) for _ in range(4)}, key=lambda v: tuple(map(int, v.split("."))))
            events = [{"introduced": "0"}, {"fixed": bounds[0]}]
            if len(bounds) >= 3:
                events += [{"introduced": bounds[1]}, {"fixed": bounds[2]}]
            record = {
                "schema_version": "1.6.0",
                "id": f"PYSEC-2099-{n}",
                "modified": "2024-01-01T00:00:00Z",
                "published": "2023-01-01T00:00:00Z",
                "aliases": [f"CVE-2099-{n}", f"GHSA-bench-{n:06d}"],
                "details": "Synthetic advisory. " + "Lorem ipsum dolor sit amet. " * 35,
                "affected": [
                    {
                        "package": {"ecosystem": "PyPI", "name": name, "purl": f"pkg:pypi/{name}"},
                        "ranges": [{"type": "ECOSYSTEM", "events": events}],
                        "versions": sorted({_version(rng) for _ in range(30)}),
                    }
                ],
                "references": [{"type": "ADVISORY", "url": f"https://example.org/{n}"}],
            }
            if n % 2 == 0:
                record["severity"] = [{"type": "CVSS_V3", "score": VECTORS[n % 3]}]
            zf.writestr(f"PYSEC-2099-{n}.json", json.dumps(record))
    temp.replace(target)
    return target


def audit_without_index(archive: Path, queries: list[PackageVersion]) -> int:
    """Evaluate every record of the zip against every dependency (no index)."""
    wanted: dict[str, list[PackageVersion]] = {}
    for query in queries:
        wanted.setdefault(query.name, []).append(query)
    found = 0
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            record = json.loads(zf.read(info))
            for entry in record.get("affected", []):
                for query in wanted.get(entry["package"]["name"], []):
                    if vulnerability_for(record, query.name, query.version, []) is not None:
                        found += 1
    return found


def audit_with_index(archive: Path, cache: Path, queries: list[PackageVersion]) -> int:
    """One mlward audit through the cached index."""
    service = OsvArchiveService(archive, cache_dir=cache)
    try:
        result = service.query(queries)
    finally:
        service.close()
    return sum(len(v) for v in result.vulnerabilities.values())


def timed(func, *args) -> tuple[float, int]:
    start = time.perf_counter()
    value = func(*args)
    return time.perf_counter() - start, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--advisories", type=int, default=20000)
    parser.add_argument("--packages", type=int, default=5000)
    parser.add_argument("--dependencies", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    archive = build_archive(args.advisories, args.packages)
    rng = random.Random(7)
    queries = sorted(
        {
            PackageVersion(f"bench-pkg-{rng.randrange(args.packages)}", _version(rng))
            for _ in range(args.dependencies)
        }
    )
    results = []
    naive = [timed(audit_without_index, archive, queries) for _ in range(max(1, args.repeat // 2))]
    with tempfile.TemporaryDirectory() as folder:
        cold_runs = []
        for i in range(max(1, args.repeat // 2)):
            cold_runs.append(timed(audit_with_index, archive, Path(folder) / f"cold-{i}", queries))
        warm_cache = Path(folder) / "warm"
        audit_with_index(archive, warm_cache, queries)
        warm = [timed(audit_with_index, archive, warm_cache, queries) for _ in range(args.repeat)]
        index_bytes = sum(p.stat().st_size for p in warm_cache.glob("*.sqlite"))
    matches = {n for _, n in naive} | {n for _, n in cold_runs} | {n for _, n in warm}
    assert len(matches) == 1, f"the three ways disagree: {matches}"
    baseline = statistics.median(t for t, _ in naive)
    for label, runs in (
        ("no index (parse the whole zip)", naive),
        ("mlward cold (build index + audit)", cold_runs),
        ("mlward warm (cached index)", warm),
    ):
        median = statistics.median(t for t, _ in runs)
        results.append(
            {
                "tool": label,
                "runs_s": [round(t, 3) for t, _ in runs],
                "median_s": round(median, 3),
                "speedup_vs_no_index": round(baseline / median, 2),
            }
        )
    report = {
        "benchmark": "deps_audit",
        "advisories": args.advisories,
        "dependencies": len(queries),
        "vulnerabilities_found": matches.pop(),
        "zip_bytes": archive.stat().st_size,
        "index_bytes": index_bytes,
        "machine": {"python": platform.python_version(), "cpu": platform.processor() or platform.machine()},
        "peers_not_run": {"pip-audit": "no offline advisory database option (network services only)"},
        "results": results,
    }
    print(
        f"{args.advisories} advisories ({report['zip_bytes'] / 1e6:.1f} MB zip, "
        f"{index_bytes / 1e6:.1f} MB index), {len(queries)} dependencies, "
        f"{report['vulnerabilities_found']} vulnerabilities found by every method"
    )
    print(f"{'method':<36} {'median s':>9} {'speed-up':>9}")
    for row in results:
        print(f"{row['tool']:<36} {row['median_s']:>9.3f} {row['speedup_vs_no_index']:>8.2f}x")
    out = HERE / "results" / "deps_audit.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
