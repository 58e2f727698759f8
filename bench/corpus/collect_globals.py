"""Print every pickle global the benign corpus imports that the allowlist does not cover.

This is how names are found to propose in allowlist.yaml: save real objects with the real
libraries, scan them, and read off the globals they use. A proposed name becomes SAFE only
once `python -m mlward.model.scan.census` has resolved it in the real library and written it
to allowlist_census.json. Run: python bench/corpus/collect_globals.py DIR
"""

from __future__ import annotations

import collections
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from model_corpus_benign import build_benign

from mlward.model.scan import scan_paths


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "bench/data/benign")
    build_benign(out)
    report = scan_paths([out], workers=1)
    census: collections.Counter[str] = collections.Counter()
    for file in report.files:
        for f in file.findings:
            key = f.properties.get("global") or f"{f.rule_id} {f.message[:90]}"
            census[f"{f.severity.name:8} {key}"] += 1
            if f.severity >= 2:
                print(f"{file.path}: {f.rule_id} {f.message}", file=sys.stderr)
    for key, n in sorted(census.items()):
        print(f"{n:4}  {key}")


if __name__ == "__main__":
    main()
