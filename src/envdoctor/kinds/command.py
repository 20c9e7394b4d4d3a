"""`command`: a program run from the project exits with the expected status within the deadline.

The escape hatch for everything no other kind covers (`make check-db`, `./scripts/ready.sh`).
`run` is an argv list and never goes through a shell, so quoting cannot change what runs; the
whole process group is killed at the deadline (`ctx.run_process`), so a script's background
children cannot outlive the check. Because it runs programs, `--safe` skips it.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from envdoctor.context import CheckContext
from envdoctor.errors import ConfigError
from envdoctor.kinds.base import Kind
from envdoctor.model import CheckSpec, Outcome, Status
from envdoctor.options import IntOrIntList, Option, Str, StrList
from envdoctor.programs import install_hint, is_path

OUTPUT_LINES = 20
LINE_CHARS = 200
SHOWN_CHARS = 80


class Argv(StrList):
    """A non-empty argv list; a plain string is refused, since splitting it would mean a shell."""

    def __init__(self) -> None:
        super().__init__(single=False, non_empty=True)
        self.name = "a list of strings (argv)"

    def coerce(self, value: Any) -> Any:
        if isinstance(value, str):
            raise ConfigError(
                f"run takes a list (argv), never a shell string: write run = [{_example(value)}]"
            )
        argv = super().coerce(value)
        if not argv[0]:
            raise ConfigError("the program (first item of run) must not be empty")
        return argv


class CommandKind(Kind):
    name = "command"
    category = "Tools"
    summary = "Runs a program (argv, never a shell) and checks its exit status."
    passes_when = "the exit status matches within the timeout"
    safe_mode_note = (
        'It runs a program, so under `--safe` it is `skip` ("not run under --safe"). Output '
        "is captured (never a terminal); the last lines are kept for `envdoctor explain`."
    )
    options = (
        Option(
            "run",
            Argv(),
            'The program and its arguments, e.g. ["make", "check-db"]; never a shell string. '
            "A program with a `/` (`./scripts/ready.sh`) is relative to `cwd`, else looked up "
            "on PATH.",
            required=True,
        ),
        Option(
            "expect_exit",
            IntOrIntList(),
            "Exit status (or list of statuses) that means ready.",
            default=0,
        ),
        Option(
            "cwd",
            Str(),
            "Working directory, relative to the project directory (default: the project itself).",
        ),
    )

    def runs_code(self, spec: CheckSpec) -> bool:
        return True

    async def run(self, spec: CheckSpec, ctx: CheckContext) -> Outcome:
        from envdoctor.units import format_duration

        argv: list[str] = list(spec.options["run"])
        expected: list[int] = spec.options["expect_exit"]
        shown = _shorten(_one_line(ctx.session.redact(shlex.join(argv)) or ""))
        cwd = ctx.project
        if spec.options.get("cwd"):
            cwd = Path(spec.options["cwd"]).expanduser()
            cwd = cwd if cwd.is_absolute() else ctx.project / cwd
            if not cwd.is_dir():
                message = f"cwd {spec.options['cwd']} is not a directory ({cwd})"
                return Outcome(Status.ERROR, message)
        program = _resolve(argv[0], cwd)
        if program is None:
            where = f"in {cwd}" if is_path(argv[0]) else "on PATH"
            fix = None if is_path(argv[0]) else install_hint(argv[0])
            message = f"cannot run `{shown}`: {argv[0]} not found {where}"
            return Outcome(Status.FAIL, message, fix=fix)
        ctx.note(f"running `{shlex.join(argv)}` in {cwd} (program {program})")
        try:
            result = await ctx.run_process([program, *argv[1:]], cwd=cwd)
        except OSError as exc:
            fix = f"chmod +x {shlex.quote(program)}" if isinstance(exc, PermissionError) else None
            return Outcome(Status.FAIL, f"cannot run `{shown}`: {exc.strerror or exc}", fix=fix)
        took = format_duration(result.duration)
        lines = result.stdout.splitlines() + result.stderr.splitlines()
        last = next((line.strip() for line in reversed(lines) if line.strip()), "")
        last = ctx.session.redact(last) or ""
        tail = f": {_shorten(last, 120)}" if last else " (no output)"
        if result.timed_out:
            ctx.note(f"killed after {took}, with its process group")
            _note_output(ctx, lines)
            return Outcome(Status.FAIL, f"`{shown}` did not finish within {took} (killed){tail}")
        code = result.returncode if result.returncode is not None else -1
        status = _describe_exit(code)
        ctx.note(f"{status} after {took}")
        _note_output(ctx, lines)
        if code in expected:
            return Outcome(Status.PASS, f"`{shown}` {status} in {took}")
        want = " or ".join(str(c) for c in expected)
        return Outcome(Status.FAIL, f"`{shown}` {status}, expected exit {want}{tail}")


def _example(text: str) -> str:
    """The list a shell would have made of `text` (a hint only: first items, naive on errors)."""
    import json

    try:
        parts = shlex.split(text)
    except ValueError:
        parts = text.split()
    shown = ", ".join(json.dumps(part) for part in parts[:6]) or '"make", "check"'
    return shown + (", ..." if len(parts) > 6 else "")


def _resolve(program: str, cwd: Path) -> str | None:
    """The program's path: relative to `cwd` when it has a directory part, else from PATH."""
    import shutil

    if is_path(program):
        path = Path(program).expanduser()
        path = path if path.is_absolute() else cwd / path
        return str(path) if path.exists() else None
    return shutil.which(program)


def _describe_exit(code: int) -> str:
    if code >= 0:
        return f"exited {code}"
    import signal

    try:
        return f"killed by {signal.Signals(-code).name}"
    except ValueError:
        return f"killed by signal {-code}"


def _note_output(ctx: CheckContext, lines: list[str]) -> None:
    """The last lines of output, for `explain`: the end is where a failure says why."""
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    if not lines:
        ctx.note("no output")
        return
    kept = lines[-OUTPUT_LINES:]
    if len(kept) == len(lines):
        ctx.note("output:")
    else:
        ctx.note(f"output (last {len(kept)} of {len(lines)} lines):")
    for line in kept:
        ctx.note(f"| {_shorten(ctx.session.redact(line) or '', LINE_CHARS)}")


def _one_line(text: str) -> str:
    """A command line shown on one report line: newlines inside arguments made visible."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


def _shorten(text: str, limit: int = SHOWN_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


KIND = CommandKind()
