"""Python-version specifiers (`>=3.10`, `~=3.11`, `>=3.9,<3.13`, `==3.12.*`) without `packaging`.

Why: importing `packaging.specifiers` costs ~9 ms (it pulls in `packaging.tags`), and the
`python` kind is in almost every check module, so every run paid it just to compare two
release numbers. This handles exactly the specifiers whose meaning is plain arithmetic on
release numbers — the operators `==`, `!=`, `<=`, `>=`, `<`, `>`, `~=` and `==X.*` / `!=X.*`,
applied to plain dotted numbers, against a plain release (`3.11.7`) — and says `None` for
anything else (pre-releases, local versions, `===`, odd spacing), which then goes to
`packaging` as before. For what it handles it agrees with `SpecifierSet.contains(...,
prereleases=True)`; tests/test_pyspec.py checks that against packaging itself.
"""

from __future__ import annotations

import re

_CLAUSE = re.compile(r"^(~=|==|!=|<=|>=|<|>)(\d+(?:\.\d+)*)(\.\*)?$")
_RELEASE = re.compile(r"^\d+(?:\.\d+)*$")


def _release(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def _pad(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    width = max(len(a), len(b))
    return a + (0,) * (width - len(a)), b + (0,) * (width - len(b))


def _clause(op: str, wanted: tuple[int, ...], wildcard: bool, have: tuple[int, ...]) -> bool:
    if wildcard:  # ==3.12.* : the release starts with 3.12 (padded, as PEP 440 says)
        prefix = (have + (0,) * len(wanted))[: len(wanted)]
        return (prefix == wanted) is (op == "==")
    if op == "~=":  # ~=3.11.2 : >=3.11.2 and ==3.11.*
        lower_ok = _pad(have, wanted)[0] >= _pad(have, wanted)[1]
        return lower_ok and _clause("==", wanted[:-1], True, have)
    a, b = _pad(have, wanted)
    return {
        "==": a == b,
        "!=": a != b,
        "<=": a <= b,
        ">=": a >= b,
        "<": a < b,
        ">": a > b,
    }[op]


def parse(text: str) -> list[tuple[str, tuple[int, ...], bool]] | None:
    """The clauses of a simple specifier, or None when `packaging` must judge it."""
    clauses = []
    for raw in text.split(","):
        match = _CLAUSE.match(raw.strip())
        if not match:
            return None
        op, number, star = match.groups()
        wanted = _release(number)
        if star and op not in ("==", "!="):
            return None  # invalid in PEP 440: let packaging say so
        if op == "~=" and (star or len(wanted) < 2):
            return None
        clauses.append((op, wanted, bool(star)))
    return clauses


def contains(text: str, version: str) -> bool | None:
    """Whether `version` satisfies `text`; None when this module cannot tell (use packaging)."""
    clauses = parse(text)
    if clauses is None or not _RELEASE.match(version):
        return None
    have = _release(version)
    return all(_clause(op, wanted, star, have) for op, wanted, star in clauses)
