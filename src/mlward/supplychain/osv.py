"""OSV records for PyPI: which versions an advisory affects, and what fixes it.

Implements the evaluation algorithm of the OSV schema (``IsVulnerable``): a version is
affected when it is listed in ``affected[].versions`` or lies inside one of the
``ECOSYSTEM``/``SEMVER`` ranges, where a range is a timeline of ``introduced`` /
``fixed`` (exclusive) / ``last_affected`` (inclusive) events sorted by version, bounded
by optional ``limit`` events. Versions compare with PEP 440 (``packaging.version``);
``introduced: "0"`` sorts before every version, pre-releases included. ``GIT`` ranges
name commits, which an installed distribution does not have, so they never match here.

Malformed data never crashes an audit: an unparseable version in a range skips that
range and is reported in ``warnings``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from mlward.supplychain.interface import ECOSYSTEM, Vulnerability
from mlward.supplychain.ratings import overall_severity, ratings_from_record

_ORDERED_RANGE_TYPES = frozenset({"ECOSYSTEM", "SEMVER"})
_EVENT_KINDS = ("introduced", "fixed", "last_affected", "limit")
# "introduced: 0" and "limit: *" are the schema's minus and plus infinity; the rank
# decides every comparison with them, the placeholder version is never compared.
_MINUS_INFINITY = (0, Version("0"))
_PLUS_INFINITY = (2, Version("0"))

Record = Mapping[str, Any]


@lru_cache(maxsize=65536)
def parse_version(text: str) -> Version | None:
    """Parse a PEP 440 version, returning None (never raising) when it is not one."""
    try:
        return Version(text)
    except (InvalidVersion, TypeError):
        return None


def package_entries(record: Record, key: str) -> list[Mapping[str, Any]]:
    """Return the ``affected`` entries of ``record`` for the PyPI project ``key`` (normalised)."""
    entries = []
    for entry in record.get("affected") or []:
        package = entry.get("package") if isinstance(entry, Mapping) else None
        if not isinstance(package, Mapping) or package.get("ecosystem") != ECOSYSTEM:
            continue
        if canonicalize_name(str(package.get("name", ""))) == key:
            entries.append(entry)
    return entries


def affected_package_names(record: Record) -> set[str]:
    """Return the normalised names of every PyPI package an advisory lists."""
    names = set()
    for entry in record.get("affected") or []:
        package = entry.get("package") if isinstance(entry, Mapping) else None
        if isinstance(package, Mapping) and package.get("ecosystem") == ECOSYSTEM:
            names.add(str(canonicalize_name(str(package.get("name", "")))))
    names.discard("")
    return names


def _events(rng: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Flatten a range's events to ``(kind, version)`` pairs, ignoring unknown keys."""
    pairs = []
    for event in rng.get("events") or []:
        if not isinstance(event, Mapping):
            continue
        for kind in _EVENT_KINDS:
            if kind in event:
                pairs.append((kind, str(event[kind])))
    return pairs


def _event_key(kind: str, value: str) -> tuple[int, Version]:
    """Sort key of an event version; raise ``ValueError`` when it is not PEP 440."""
    if kind == "introduced" and value == "0":
        return _MINUS_INFINITY
    if kind == "limit" and "*" in value:
        return _PLUS_INFINITY
    version = parse_version(value)
    if version is None:
        raise ValueError(value)
    return (1, version)


def in_range(version: Version, rng: Mapping[str, Any]) -> bool:
    """Evaluate one ordered range per the OSV algorithm; raise ``ValueError`` on a bad version."""
    here = (1, version)
    keyed = [(kind, _event_key(kind, value)) for kind, value in _events(rng)]
    limits = [key for kind, key in keyed if kind == "limit"]
    if limits and not any(here < limit for limit in limits):
        return False
    vulnerable = False
    # Stable sort: equal versions keep the advisory's order, as the schema intends.
    for kind, key in sorted(keyed, key=lambda item: item[1]):
        if kind == "introduced" and here >= key:
            vulnerable = True
        elif (kind == "fixed" and here >= key) or (kind == "last_affected" and here > key):
            vulnerable = False  # fixed is exclusive, last_affected inclusive
    return vulnerable


def is_affected(entries: Iterable[Mapping[str, Any]], version: str, warnings: list[str], source: str) -> bool:
    """Return whether ``version`` is affected by any of the advisory's ``entries``."""
    parsed = parse_version(version)
    for entry in entries:
        listed = [str(v) for v in entry.get("versions") or []]
        if version in listed:
            return True
        if parsed is None:
            continue  # ranges need an ordered version; only the explicit list can match
        if any(parse_version(v) == parsed for v in listed):
            return True  # "1.0" and "1.0.0" are the same PEP 440 version
        for rng in entry.get("ranges") or []:
            if not isinstance(rng, Mapping) or rng.get("type") not in _ORDERED_RANGE_TYPES:
                continue
            try:
                if in_range(parsed, rng):
                    return True
            except ValueError as exc:
                bad = exc.args[0]
                warnings.append(f"{source}: range skipped, {bad!r} is not a PEP 440 version")
    return False


def fix_versions(entries: Iterable[Mapping[str, Any]], version: str) -> tuple[str, ...]:
    """Return the ``fixed`` versions above ``version``, ascending (all of them if unparseable)."""
    current = parse_version(version)
    found: dict[Version, str] = {}
    for entry in entries:
        for rng in entry.get("ranges") or []:
            if not isinstance(rng, Mapping) or rng.get("type") not in _ORDERED_RANGE_TYPES:
                continue
            for kind, value in _events(rng):
                fixed = parse_version(value) if kind == "fixed" else None
                if fixed is not None and (current is None or fixed > current):
                    found.setdefault(fixed, value)
    return tuple(found[v] for v in sorted(found))


def record_summary(record: Record) -> str:
    """The advisory's summary, else the first line of its details, else its id."""
    summary = str(record.get("summary") or "").strip()
    if not summary:
        details = str(record.get("details") or "").strip()
        summary = details.splitlines()[0][:200] if details else ""
    return summary or str(record.get("id", ""))


def _references(record: Record) -> tuple[str, ...]:
    refs = [r for r in record.get("references") or [] if isinstance(r, Mapping) and r.get("url")]
    refs.sort(key=lambda r: r.get("type") != "ADVISORY")
    return tuple(dict.fromkeys(str(r["url"]) for r in refs))


def vulnerability_for(
    record: Record,
    key: str,
    version: str,
    warnings: list[str],
    *,
    assume_affected: bool = False,
) -> Vulnerability | None:
    """Build the ``Vulnerability`` of ``record`` for project ``key`` at ``version``.

    Returns None when the advisory is withdrawn or does not affect that version.
    ``assume_affected`` skips the version check, for services (the OSV API) that have
    already matched the version server-side.
    """
    if record.get("withdrawn"):
        return None
    source = str(record.get("id", "?"))
    entries = package_entries(record, key)
    if not assume_affected and not is_affected(entries, version, warnings, source):
        return None
    ratings = ratings_from_record(record, entries, warnings)
    severity, rated = overall_severity(ratings)
    aliases = {str(a) for a in record.get("aliases") or []} - {source}
    return Vulnerability(
        id=source,
        aliases=tuple(sorted(aliases)),
        summary=record_summary(record),
        severity=severity,
        rated=rated,
        ratings=ratings,
        fix_versions=fix_versions(entries, version),
        references=_references(record),
        published=record.get("published"),
        modified=record.get("modified"),
    )


def compact_record(record: Record) -> dict[str, Any]:
    """Strip a record to what matching and reporting use (for the offline index).

    Keeps PyPI ``affected`` entries (package, ordered ranges, versions, severity), the
    ratings, aliases, summary, references and dates; drops the long ``details``.
    """
    affected = []
    for entry in record.get("affected") or []:
        package = entry.get("package") if isinstance(entry, Mapping) else None
        if not isinstance(package, Mapping) or package.get("ecosystem") != ECOSYSTEM:
            continue
        ranges: Sequence[Any] = entry.get("ranges") or []
        affected.append(
            {
                "package": {"ecosystem": ECOSYSTEM, "name": package.get("name")},
                "ranges": [r for r in ranges if isinstance(r, Mapping) and r.get("type") != "GIT"],
                "versions": list(entry.get("versions") or []),
                "severity": list(entry.get("severity") or []),
            }
        )
    compact: dict[str, Any] = {
        "id": record.get("id"),
        "summary": record_summary(record),
        "aliases": list(record.get("aliases") or []),
        "severity": list(record.get("severity") or []),
        "affected": affected,
        "references": list(record.get("references") or []),
        "published": record.get("published"),
        "modified": record.get("modified"),
    }
    database = record.get("database_specific")
    if isinstance(database, Mapping) and database.get("severity"):
        compact["database_specific"] = {"severity": database["severity"]}
    return compact
