"""`env`: the variables the project needs are set, non-empty and well-formed.

Values are secrets by default, so this kind only ever reports *names*: a message may say that
`DATABASE_URL` is not set, empty, or does not match its pattern, never what it holds. Values
come from the session's variables (the settings-level dotenv with the real environment winning,
as compose does), with this check's own `dotenv` file underneath: the real environment wins.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envdoctor.context import CheckContext
from envdoctor.dotenv import DotenvFile, read_dotenv
from envdoctor.errors import ProjectFileError, Source
from envdoctor.kinds.base import Kind
from envdoctor.model import CheckSpec, Finding, Outcome, Status
from envdoctor.options import Option, Str, StrList, StrMap

_MAX_NAMES = 5


@dataclass
class _Wanted:
    """One variable to check: where it was asked for, and its pattern if any."""

    name: str
    source: str
    pattern: str | None = None
    from_example: bool = False


@dataclass
class _Plan:
    """Every variable in the order it was asked for; the first request names the source."""

    wanted: dict[str, _Wanted] = field(default_factory=dict)

    def add(self, name: str, source: str, *, from_example: bool = False) -> _Wanted:
        entry = self.wanted.get(name)
        if entry is None:
            entry = self.wanted[name] = _Wanted(name, source, from_example=from_example)
        entry.from_example = entry.from_example or from_example
        return entry


class EnvKind(Kind):
    name = "env"
    category = "Environment"
    summary = "Environment variables: set, non-empty, and matching a pattern (values never shown)."
    passes_when = "every named variable is set and non-empty (and matches its pattern)"
    options = (
        Option(
            "required",
            StrList(),
            "Names of variables that must be set and non-empty.",
        ),
        Option(
            "example",
            Str(),
            "A `.env.example`-style file, relative to the project: every key it names must be set.",
        ),
        Option(
            "dotenv",
            Str(),
            "A dotenv file, relative to the project, whose values count as set "
            "(the real environment wins; a missing file is fine). Default: `.env`, unless "
            "[tool.envdoctor] names a dotenv (whose values always count).",
        ),
        Option(
            "match",
            StrMap(),
            "Name -> regular expression the whole value must match, e.g. "
            '{ PORT = "[0-9]+" }. Also requires the variable to be set.',
        ),
    )

    def validate(self, options: dict[str, Any]) -> list[tuple[str | None, str]]:
        import re

        problems: list[tuple[str | None, str]] = []
        if not any(options.get(name) for name in ("required", "example", "match")):
            problems.append((None, "kind env needs at least one of 'required', 'example', 'match'"))
        for name in options.get("required") or []:
            if not name.strip() or "=" in name:
                problems.append(("required", f"option 'required': {name!r} is not a variable name"))
        for name, pattern in (options.get("match") or {}).items():
            try:
                re.compile(pattern)
            except re.error as exc:  # the pattern is not echoed: it may come from ${VAR}
                message = f"option 'match': {name}: not a valid regular expression: {exc}"
                problems.append(("match", message))
        return problems

    async def run(self, spec: CheckSpec, ctx: CheckContext) -> Outcome:
        findings: list[Finding] = []
        plan = _Plan()
        for name in spec.options.get("required") or []:
            plan.add(name, str(spec.source_of("required")))

        example_file: DotenvFile | None = None
        example = spec.options.get("example")
        if example:
            example_file = await _read(ctx, example, must_exist=True)
            assert example_file is not None
            ctx.note(f"read {example_file.path}: {len(example_file.lines)} names")
            findings += _malformed(example_file)
            for name, line in example_file.lines.items():
                plan.add(name, f"{example_file.path}:{line}", from_example=True)

        for name, pattern in (spec.options.get("match") or {}).items():
            plan.add(name, str(spec.source_of("match"))).pattern = pattern

        values, origin = await _values(spec, ctx, findings)
        # In-process on purpose: `re` holds the GIL, so neither a thread nor the deadline could
        # stop a catastrophic pattern; patterns are the check author's, like a Makefile's.
        patterns = {e.name: e.pattern for e in plan.wanted.values() if e.pattern is not None}
        mismatched = _mismatched(patterns, values)

        bad: dict[str, list[str]] = {"missing": [], "invalid": []}
        for entry in plan.wanted.values():
            value = values.get(entry.name)
            if value is None:
                status, message, group = Status.FAIL, "not set", "missing"
            elif value == "":
                status, message, group = Status.FAIL, "set but empty", "missing"
            elif entry.name in mismatched:
                status, message, group = Status.FAIL, f"does not match {entry.pattern}", "invalid"
            else:
                status, message, group = Status.PASS, "set", ""
            if group:
                bad[group].append(entry.name)
            if value is not None:  # the finding says the rest; evidence adds who supplied it
                ctx.note(f"{entry.name}: {message} ({origin(entry.name)})")
            findings.append(Finding(entry.name, status, message, source=entry.source))

        total = len(plan.wanted)
        malformed = [f for f in findings if f.status is Status.ERROR]
        return Outcome.from_findings(
            findings,
            _count(total, "variable") + " set",
            _bad_message(total, bad, malformed),
            fix=_fix(spec, ctx, plan, example_file, bad),
        )


def _mismatched(patterns: dict[str, str], values: dict[str, str]) -> set[str]:
    """Names whose non-empty value does not fully match their pattern."""
    import re

    return {
        name
        for name, pattern in patterns.items()
        if values.get(name) and not re.fullmatch(pattern, values[name])
    }


async def _read(ctx: CheckContext, relative: str, *, must_exist: bool) -> DotenvFile | None:
    """Reads a dotenv-format file of the project on a thread (a FIFO must not hang the run)."""
    path = ctx.project / relative
    shown = ctx.session.display_path(path)
    if not path.exists():
        if must_exist:
            raise ProjectFileError("file not found", Source(shown))
        return None
    if path.is_dir():
        raise ProjectFileError("is a directory, not a dotenv file", Source(shown))
    return await ctx.run_sync(read_dotenv, path, shown)


def _malformed(file: DotenvFile) -> list[Finding]:
    return [
        Finding(file.path, Status.ERROR, reason, source=f"{file.path}:{line}")
        for line, reason in file.problems
    ]


async def _values(
    spec: CheckSpec, ctx: CheckContext, findings: list[Finding]
) -> tuple[dict[str, str], Any]:
    """The session's variables over this check's own dotenv file, and who supplied each name."""
    from envdoctor.interpolate import expand_dotenv

    base = dict(ctx.session.environ)
    own: dict[str, str] = {}
    own_file: DotenvFile | None = None
    relative = _own_dotenv(spec, ctx)
    if relative:
        own_file = await _read(ctx, relative, must_exist=False)
        if own_file is None:
            shown = ctx.session.display_path(ctx.project / relative)
            ctx.note(f"dotenv {shown} not found: values from the environment only")
        else:
            count = len(own_file.values)
            ctx.note(f"read dotenv {own_file.path}: {count} names (values not shown)")
            findings += _malformed(own_file)
            own = expand_dotenv(own_file.values, base)

    def origin(name: str) -> str:
        if name in base:
            return "environment" if name in os.environ else "settings dotenv"
        if own_file is not None and name in own_file.lines:
            return f"{own_file.path}:{own_file.lines[name]}"
        return "unknown"

    return {**own, **base}, origin


def _own_dotenv(spec: CheckSpec, ctx: CheckContext) -> str | None:
    """The check's dotenv: its option, else `.env` (what `cp .env.example .env` creates and
    what apps load), unless the settings already name one."""
    if spec.options.get("dotenv"):
        return str(spec.options["dotenv"])
    return None if ctx.session.dotenv else ".env"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:_MAX_NAMES])
    return shown + (f" and {len(names) - _MAX_NAMES} more" if len(names) > _MAX_NAMES else "")


def _bad_message(total: int, bad: dict[str, list[str]], malformed: list[Finding]) -> str:
    parts = []
    if bad["missing"]:
        missing = bad["missing"]
        parts.append(f"{len(missing)} of {_count(total, 'variable')} missing: {_names(missing)}")
    if bad["invalid"]:
        verb = "does" if len(bad["invalid"]) == 1 else "do"
        parts.append(f"{_names(bad['invalid'])} {verb} not match the expected pattern")
    if malformed:
        files = sorted({f.subject for f in malformed})
        parts.append(f"{_count(len(malformed), 'malformed line')} in {', '.join(files)}")
    return "; ".join(parts) or f"{_count(total, 'variable')} set"


def _fix(
    spec: CheckSpec,
    ctx: CheckContext,
    plan: _Plan,
    example: DotenvFile | None,
    bad: dict[str, list[str]],
) -> str | None:
    """`cp .env.example .env` when there is no .env yet, else which names to set where."""
    names = bad["missing"] + bad["invalid"]
    if not names:
        return None
    target_rel = spec.options.get("dotenv") or ctx.session.dotenv or ".env"
    target = ctx.project / target_rel
    shown_target = ctx.session.display_path(target)
    cd = "" if _same_dir(Path.cwd(), ctx.project) else f"cd {shlex.quote(str(ctx.project))} && "
    if example is not None and not target.exists():
        # After the copy, names with a real example value are set; the rest still need one.
        still = [
            n
            for n in names
            if not plan.wanted[n].from_example or not example.values.get(n) or n in bad["invalid"]
        ]
        command = f"{cd}cp {shlex.quote(example.path)} {shlex.quote(shown_target)}"
        return command + (f", then set {_names(still)} in {shown_target}" if still else "")
    where = shown_target if not cd else str(target)
    parts = []
    missing, invalid = bad["missing"], bad["invalid"]
    if missing:
        pronoun = "it" if len(missing) == 1 else "them"
        parts.append(f"set {_names(missing)} in {where} (or export {pronoun} in your shell)")
    if invalid:  # set already: the value is wrong where it is set, not absent from .env
        one = len(invalid) == 1
        parts.append(
            f"change {_names(invalid)} so {'it matches its' if one else 'they match their'} "
            f"pattern where {'it is' if one else 'they are'} set (the environment wins over "
            f"{shown_target})"
        )
    return "; ".join(parts)


def _same_dir(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


KIND = EnvKind()
