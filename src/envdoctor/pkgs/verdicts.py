"""A `packages` check that passed, remembered until anything it read changes.

Why: on a second run with nothing changed, parsing the requirements, loading `packaging`'s
marker and specifier machinery and evaluating ~100 distributions costs ~20 ms, most of a warm
check's budget (DESIGN.md §10: ≤ 2 × `import typer`). The answer is a pure function of what the
check read, so it is kept, keyed the way issue 3 asks: the interpreter (`_interpreter_key`),
the environment's own watch list (every site directory, .pth file and metadata file whose
mtime decides the installed set, as the environment cache uses it), the mtime and size of every
requirements / pyproject file read, and a hash of the environment variables those files
reference as `${VAR}` (the values themselves are never stored).

Only a pass is kept: a failure's message and fix depend on more (uv on PATH, an index in a
file), and a user with a failure is about to change something anyway. Not kept either: `-v`
runs (they list every passing requirement) and requirements on local paths (their names come
from files outside this list). Like every cache here, best effort: any doubt is a miss.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

from envdoctor.model import Finding, Outcome, Status

SECTION = "verdicts"
FORMAT = 1
KEEP = 256
# A file written this recently may change again within its mtime's resolution: not kept.
RACY_NS = 2_000_000_000
_VAR = re.compile(rb"\$\{([A-Z0-9_]+)\}")


def identity(executable: str, project: Path, options: dict[str, Any]) -> str:
    shown = json.dumps(options, sort_keys=True, default=str)
    return f"{executable}\0{project}\0{shown}"


def _stat(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_size]


def _variables(paths: list[str]) -> str:
    """A hash of the values of every ${VAR} the files name (pip expands them from os.environ)."""
    from envdoctor.cache import fnv1a64

    names: set[str] = set()
    for path in paths:
        try:
            with open(path, "rb") as f:
                names.update(m.decode() for m in _VAR.findall(f.read()))
        except OSError:
            continue
    text = "\0".join(f"{n}={os.environ.get(n, '')}" for n in sorted(names))
    return f"{fnv1a64(text):016x}"


def lookup(entry: Path, ident: str, key: dict[str, Any]) -> tuple[Outcome | None, str]:
    """The remembered outcome if nothing changed, else (None, why it missed)."""
    from envdoctor import cache
    from envdoctor.pkgs.environment import _changed, _watched_from_json

    data, why = cache.read_entry(entry)
    if why:
        return None, why
    try:
        if data["format"] != FORMAT or data["identity"] != ident:
            return None, "another check or format"
        if data["key"] != key:
            return None, "the interpreter changed"
        if _changed(_watched_from_json(data["watch"])):
            return None, "the environment changed"
        files = data["files"]
        if any(_stat(path) != stamp for path, stamp in files):
            return None, "a requirements file changed"
        if data["variables"] != _variables([path for path, _stamp in files]):
            return None, "a variable the requirements name changed"
        raw = data["outcome"]
        outcome = Outcome(
            Status(raw["status"]),
            str(raw["message"]),
            [Finding(**{**f, "status": Status(f["status"])}) for f in raw["findings"]],
            evidence=[str(e) for e in raw["evidence"]],
        )
    except (KeyError, TypeError, ValueError):
        return None, "unreadable entry"
    return outcome, ""


def store(
    entry: Path,
    ident: str,
    key: dict[str, Any],
    watched: list[tuple[str, int | None]],
    files: list[str],
    outcome: Outcome,
) -> str | None:
    """Keeps a passing outcome; returns why it was not kept (None when it was)."""
    from dataclasses import asdict

    from envdoctor import cache

    stamps = [[path, _stat(path)] for path in files]
    now = time.time_ns()
    if any(s is not None and s[0] > now - RACY_NS for _p, s in stamps):
        return "a requirements file changed just now"
    data = {
        "format": FORMAT,
        "identity": ident,
        "key": key,
        "watch": [[p, m] for p, m in watched],
        "files": stamps,
        "variables": _variables(files),
        "outcome": {
            "status": outcome.status.value,
            "message": outcome.message,
            "findings": [{**asdict(f), "status": f.status.value} for f in outcome.findings],
            "evidence": outcome.evidence,
        },
    }
    why = cache.write_entry(entry, data)
    if why is None:
        cache.prune(entry.parent, KEEP)
    return why
