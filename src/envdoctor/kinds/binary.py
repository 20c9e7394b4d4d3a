"""`binary`: a program is on PATH (or at a path) and, when asked, at a matching version.

The program is only run when `version` is set: a bare presence check stays a PATH lookup, so a
module full of `binary` checks costs nothing. The version is the first version-looking token of
the program's output (see `_version.py`), because tools print it in a hundred different ways.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from envdoctor.context import CheckContext
from envdoctor.kinds.base import Kind
from envdoctor.model import CheckSpec, Outcome, Status
from envdoctor.options import Option, Str, StrList
from envdoctor.programs import install_hint, is_path, upgrade_hint


class BinaryKind(Kind):
    name = "binary"
    category = "Tools"
    summary = "A program on PATH (or at a path), optionally at a matching version."
    passes_when = "the program is found and its version matches"
    options = (
        Option(
            "name",
            Str(),
            "Program name looked up on PATH, or a path (relative to the project directory).",
            required=True,
        ),
        Option(
            "version",
            Str(),
            'PEP 440 specifier the program\'s version must satisfy, e.g. ">=2.30".',
        ),
        Option(
            "version_args",
            StrList(),
            "Arguments that make the program print its version.",
            default=["--version"],
        ),
    )

    safe_mode_note = (
        "A `name` that is a relative path (a program inside the project) is not run under "
        "`--safe` when a `version` must be read."
    )

    def runs_code(self, spec: CheckSpec) -> bool:
        """Reading a version runs the program: a project's own script is project code."""
        name = str(spec.options.get("name", ""))
        return (
            bool(spec.options.get("version"))
            and ("/" in name or "\\" in name)
            and not os.path.isabs(name)
        )

    def validate(self, options: dict[str, object]) -> list[tuple[str | None, str]]:
        problems: list[tuple[str | None, str]] = []
        name = options.get("name")
        if isinstance(name, str) and not name.strip():
            problems.append(("name", "option 'name': must not be empty"))
        version = options.get("version")
        if isinstance(version, str):
            from packaging.specifiers import InvalidSpecifier, SpecifierSet

            try:
                SpecifierSet(version)
            except InvalidSpecifier:
                message = f'not a PEP 440 version specifier: {version!r} (e.g. ">=2.30")'
                problems.append(("version", f"option 'version': {message}"))
        return problems

    async def run(self, spec: CheckSpec, ctx: CheckContext) -> Outcome:
        name: str = spec.options["name"]
        found = locate(name, ctx.project)
        if isinstance(found, Outcome):
            return found
        ctx.note(f"{name} found at {found}")
        wanted = spec.options.get("version")
        if not wanted:
            return Outcome(Status.PASS, f"{name} found at {found}")
        return await _check_version(name, found, wanted, spec.options["version_args"], ctx)


def locate(name: str, project: Path) -> str | Outcome:
    """The program's path, or a failing Outcome saying why it cannot be used."""
    import shutil

    if is_path(name):
        path = Path(name).expanduser()
        path = path if path.is_absolute() else project / path
        if not path.exists():
            return Outcome(Status.FAIL, f"{name} not found (looked at {path})")
        if path.is_dir() or not os.access(path, os.X_OK):
            fix = None if path.is_dir() else f"chmod +x {shlex.quote(str(path))}"
            what = "a directory" if path.is_dir() else "not executable"
            return Outcome(Status.FAIL, f"{name} exists but is {what} ({path})", fix=fix)
        return str(path)
    found = shutil.which(name)
    if found is None:
        return Outcome(Status.FAIL, f"{name} not found on PATH", fix=install_hint(name))
    return found


async def _check_version(
    name: str, path: str, wanted: str, args: list[str], ctx: CheckContext
) -> Outcome:
    from packaging.specifiers import SpecifierSet
    from packaging.version import InvalidVersion, Version

    from envdoctor.kinds._version import extract_version
    from envdoctor.units import format_duration

    shown = shlex.join([name, *args])
    try:
        result = await ctx.run_process([path, *args])
    except OSError as exc:
        return Outcome(Status.FAIL, f"cannot run `{shown}`: {exc.strerror or exc}")
    took = format_duration(result.duration)
    if result.timed_out:
        ctx.note(f"ran `{shown}`: killed after {took}")
        return Outcome(Status.FAIL, f"`{shown}` did not finish within {took} (killed)")
    ctx.note(f"ran `{shown}`: exit {result.returncode} in {took}")
    output = result.output
    for line in [*result.stdout.splitlines(), *result.stderr.splitlines()][:20]:
        ctx.note(f"| {line[:200]}")
    text = extract_version(output)
    version = None
    if text is not None:
        try:
            version = Version(text)
        except InvalidVersion:  # pragma: no cover - extract_version only yields digits and dots
            version = None
    if version is None:
        status = f" (exit {result.returncode})" if result.returncode else ""
        return Outcome(Status.FAIL, f"could not read a version from `{shown}` output{status}")
    ctx.note(f"version {version}, required {wanted}")
    if SpecifierSet(wanted).contains(version, prereleases=True):
        return Outcome(Status.PASS, f"{name} {text} satisfies {wanted} ({path})")
    return Outcome(
        Status.FAIL,
        f"{name} {text} does not satisfy {wanted} ({path})",
        fix=upgrade_hint(name),
    )


KIND = BinaryKind()
