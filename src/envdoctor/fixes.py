"""`envdoctor fix`: one script for everything failing, and the safe part of it to run.

The script is for a person to read and paste; only `actions` (argv lists a kind marked as safe:
installs into the target interpreter) are ever run, by `fix --apply`, after a yes.
"""

from __future__ import annotations

import shlex
import subprocess
import sys

from envdoctor.model import Report, Status

APPLY_TIMEOUT = 15 * 60.0


def fix_script(report: Report) -> str:
    """A shell script: a comment per failing check, then its fix (or why there is none)."""
    lines = [
        "#!/bin/sh",
        f"# envdoctor fix · project {report.project} · python {report.python.executable}",
    ]
    problems = [r for r in report.results if r.status not in (Status.PASS, Status.SKIP)]
    if not problems:
        lines.append("# nothing to fix: every check passed")
    else:
        # Fixes are written for the project directory (`cp .env.example .env`, `docker compose
        # up -d db`, `pip install -r reqs/dev.txt` whose `-e ./lib` pip resolves from the
        # working directory): the script goes there first, wherever it is run from.
        lines.append(f"cd {shlex.quote(str(report.project))} || exit 1")
    seen: set[str] = set()
    for result in problems:
        lines.append("")
        lines.append(f"# {result.spec.id}: {result.status.value}: {_one_line(result.message)}")
        fixes = [result.fix] if result.fix else []
        fixes += [f.fix for f in result.findings if f.fix and not result.fix]
        new = [fix for fix in dict.fromkeys(fixes) if fix not in seen]
        for fix in new:
            seen.add(fix)
            lines.append(fix if _is_command(fix) else f"# to do: {_one_line(fix)}")
        if fixes and not new:  # run once above: not again, but never a check left bare
            lines.append("# (the same fix as above)")
        if not fixes and result.status is Status.BLOCKED:
            lines.append("# fix what it depends on first")
        elif not fixes:
            lines.append("# (no automatic fix known: see the message above)")
    return "\n".join(lines) + "\n"


def safe_steps(report: Report) -> list[list[str]]:
    """The actions of every failing check, each once, in report order."""
    steps: list[list[str]] = []
    for result in report.results:
        for action in result.actions:
            if action not in steps:
                steps.append(action)
    return steps


def apply_steps(steps: list[list[str]], *, assume_yes: bool, cwd: str | None = None) -> bool:
    """Shows the steps, asks (unless assume_yes), runs them in `cwd` (the project directory:
    pip resolves a requirements file's relative paths from there); False when not confirmed."""
    sys.stderr.write("envdoctor fix --apply will run:\n")
    for step in steps:
        sys.stderr.write(f"  {shlex.join(step)}\n")
    if not assume_yes:
        if not sys.stdin or not sys.stdin.isatty():
            return False
        sys.stderr.write("Run these? [y/N] ")
        sys.stderr.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return False
    for step in steps:
        sys.stderr.write(f"$ {shlex.join(step)}\n")
        sys.stderr.flush()
        try:
            done = subprocess.run(
                step, stdin=subprocess.DEVNULL, timeout=APPLY_TIMEOUT, check=False, cwd=cwd
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            sys.stderr.write(f"envdoctor: {shlex.join(step)} failed: {exc}\n")
            continue
        if done.returncode != 0:
            sys.stderr.write(f"envdoctor: {shlex.join(step)} exited {done.returncode}\n")
    return True


def _is_command(fix: str) -> bool:
    """A fix the script may carry as a command line, not advice: its first word is a program."""
    import shutil

    try:
        words = shlex.split(fix)
    except ValueError:
        return False
    first = words[0] if words else ""
    return bool(first) and (
        "/" in first or first in _SHELL_WORDS or shutil.which(first) is not None
    )


_SHELL_WORDS = frozenset({"cd", "export", ".", "source", "sudo", "ulimit", "umask"})


def _one_line(text: str) -> str:
    return " ".join(text.split())
