"""Export the peers' committed test samples into DIR/<corpus>/{malicious,benign}/.

    python bench/corpus/peer_corpora.py OUT picklescan=GITDIR modelaudit=GITDIR ...

GITDIR is a bare mirror of the peer's repository (read with ``git ls-tree`` / ``git show``,
nothing is checked out or executed from it); OUT should lie outside this repository.
Each sample is labelled by the peer's own naming, one rule per corpus (``RULES``):

picklescan   tests/data*/: benign are the files its test_scanner.py expects to carry no
             dangerous global (``benign*``, ``int_array*``, ``object_array*``,
             ``pytorch_model.bin``, ``new_pytorch_model.bin``, ``not_a_pickle.bin``,
             ``broken_model.pkl``); every other file there is malicious.
modelaudit   tests/assets/ outside jinja2/, manifests/ and license_scenarios/: benign when
             the name contains ``safe`` or ``benign``, otherwise malicious.
modelaudit-jinja  tests/assets/samples/jinja2/ outside edge_cases/: benign when the path
             contains ``benign``, otherwise malicious.
modelscan, fickling  commit no malicious samples (their tests build them at run time);
             whatever they commit under tests/data or test/fixtures is exported with the
             picklescan-style rule (``malicious``/``unsafe`` in the name: malicious).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path, PurePosixPath

_PICKLESCAN_BENIGN = (
    "benign",
    "int_array",
    "object_array",
    "pytorch_model.bin",
    "new_pytorch_model.bin",
    "not_a_pickle.bin",
    "broken_model.pkl",
)


def _picklescan(path: PurePosixPath) -> str | None:
    if path.parts[:2] not in (("tests", "data"), ("tests", "data2")):
        return None
    return "benign" if path.name.startswith(_PICKLESCAN_BENIGN) else "malicious"


def _modelaudit(path: PurePosixPath) -> str | None:
    text = str(path)
    if (
        not text.startswith("tests/assets/")
        or path.suffix in (".py", ".md")
        or any(p in path.parts for p in ("jinja2", "manifests", "license_scenarios", "generators"))
    ):
        return None
    return "benign" if "safe" in path.name or "benign" in path.name else "malicious"


def _modelaudit_jinja(path: PurePosixPath) -> str | None:
    text = str(path)
    if not text.startswith("tests/assets/samples/jinja2/") or "edge_cases" in path.parts:
        return None
    return "benign" if "benign" in text else "malicious"


def _named(prefixes: tuple[str, ...]) -> Callable[[PurePosixPath], str | None]:
    def rule(path: PurePosixPath) -> str | None:
        if not str(path).startswith(prefixes) or path.suffix in (".py", ".md"):
            return None
        return "malicious" if any(w in path.name for w in ("malicious", "unsafe")) else "benign"

    return rule


RULES: dict[str, list[tuple[str, Callable[[PurePosixPath], str | None]]]] = {
    "picklescan": [("picklescan", _picklescan)],
    "modelaudit": [("modelaudit", _modelaudit), ("modelaudit-jinja", _modelaudit_jinja)],
    "modelscan": [("modelscan", _named(("tests/data/",)))],
    "fickling": [("fickling", _named(("test/fixtures/",)))],
}


def export(peer: str, gitdir: Path, out: Path) -> dict[str, int]:
    """Write ``peer``'s labelled samples under ``out``; counts per corpus and label."""
    names = subprocess.run(
        ["git", "-C", str(gitdir), "ls-tree", "-r", "--name-only", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    counts: dict[str, int] = {}
    for corpus, rule in RULES[peer]:
        for name in names:
            path = PurePosixPath(name)
            label = rule(path)
            if label is None:
                continue
            shown = subprocess.run(
                ["git", "-C", str(gitdir), "show", f"HEAD:{name}"], capture_output=True, check=False
            )
            if shown.returncode:  # a large blob the mirror left out
                print(f"skipped {name}: not in the mirror", file=sys.stderr)
                continue
            data = shown.stdout
            # Keep the peer's relative path: some samples only make sense beside siblings.
            target = out / corpus / label / Path(*path.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            counts[f"{corpus}/{label}"] = counts.get(f"{corpus}/{label}", 0) + 1
    return counts


def main() -> None:
    out = Path(sys.argv[1]).expanduser()
    for arg in sys.argv[2:]:
        peer, _, gitdir = arg.partition("=")
        print(peer, export(peer, Path(gitdir), out))


if __name__ == "__main__":
    main()
