"""`python`: the target interpreter (not envdoctor's own) has the version the project needs.

The default specifier comes from the project itself: `[project] requires-python`, else
`.python-version` (as pyenv and uv write it), so most projects need no options at all.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from envdoctor.context import CheckContext
from envdoctor.errors import ProjectFileError, Source
from envdoctor.kinds.base import Kind
from envdoctor.model import CheckSpec, Outcome, Status
from envdoctor.options import Bool, Option, Str

_CANDIDATES = ("3.14", "3.13", "3.12", "3.11", "3.10", "3.9", "3.8")


class PythonKind(Kind):
    name = "python"
    category = "Python"
    summary = "The target interpreter's version, implementation and virtual environment."
    passes_when = "the target interpreter matches"
    options = (
        Option(
            "version",
            Str(),
            'PEP 440 specifier, e.g. ">=3.11,<3.14" (default: requires-python, else .python-version).',
        ),
        Option(
            "implementation",
            Str(),
            'Required implementation, e.g. "cpython" or "pypy" (case-insensitive).',
        ),
        Option(
            "virtualenv", Bool(), "true: must run inside a virtual environment; false: must not."
        ),
    )

    def validate(self, options: dict[str, object]) -> list[tuple[str | None, str]]:
        version = options.get("version")
        if isinstance(version, str) and "$" not in version:
            problem = _specifier_problem(version)
            if problem:
                return [("version", f"option 'version': {problem}")]
        return []

    async def run(self, spec: CheckSpec, ctx: CheckContext) -> Outcome:
        from envdoctor.target import TooOld

        try:
            info = await ctx.target_info()
        except TooOld as exc:  # Python 2: too old to inspect, yet its version is the answer
            wanted, origin = spec.options.get("version"), f"{spec.source_of('version')} version"
            if wanted is None:
                wanted, origin = _project_requirement(ctx.project)
            specifier = _specifier(wanted, origin) if wanted else None
            if specifier is None or specifier.contains(exc.version, prereleases=True):
                raise
            return Outcome(
                Status.FAIL,
                f"{exc.version} does not satisfy {wanted} ({origin})",
                fix=_version_fix(specifier, ctx.project),
            )
        ctx.note(
            f"target {info.executable} ({ctx.session.target.reason}): {info.implementation} {info.version}"
        )
        wanted, origin = spec.options.get("version"), f"{spec.source_of('version')} version"
        if wanted is None:
            wanted, origin = _project_requirement(ctx.project)
        problems: list[str] = []
        fix: str | None = None
        described = (
            f"{info.implementation} {info.version}"
            if spec.options.get("implementation")
            else info.version
        )
        if wanted:
            from envdoctor import pyspec

            ctx.note(f"required {wanted} ({origin})")
            satisfied = pyspec.contains(wanted, info.version)
            if satisfied is None or not satisfied:  # packaging judges what pyspec cannot
                specifier = _specifier(wanted, origin)
                from packaging.version import Version

                satisfied = specifier.contains(Version(info.version), prereleases=True)
            if not satisfied:
                problems.append(f"{info.version} does not satisfy {wanted} ({origin})")
                fix = _version_fix(specifier, ctx.project)
        impl = spec.options.get("implementation")
        if impl and impl.lower() != info.implementation.lower():
            problems.append(f"implementation is {info.implementation}, {impl} required")
        venv = spec.options.get("virtualenv")
        if venv is not None:
            ctx.note(f"prefix {info.prefix}, base prefix {info.base_prefix}")
            if venv and not info.in_virtualenv:
                problems.append("not in a virtual environment")
                activate = f"{_venv_command(ctx.project)} && . .venv/bin/activate"
                fix = f"{fix}; then {activate}" if fix else activate
            elif venv is False and info.in_virtualenv:
                problems.append(
                    f"inside a virtual environment ({info.prefix}), a system interpreter is required"
                )
        if problems:
            return Outcome(Status.FAIL, "; ".join(problems), fix=fix)
        parts = [described]
        if wanted:
            parts.append(f"satisfies {wanted} ({origin})")
        if venv:
            parts.append("in a virtual environment")
        return Outcome(Status.PASS, " ".join(parts))


def _project_requirement(project: Path) -> tuple[str | None, str]:
    """requires-python from pyproject.toml, else .python-version turned into a specifier."""
    pyproject = project / "pyproject.toml"
    if pyproject.is_file():
        from envdoctor.errors import ConfigError
        from envdoctor.tomlfile import read_toml

        try:
            doc = read_toml("pyproject.toml", pyproject.read_bytes())
        except (ConfigError, OSError) as exc:
            raise ProjectFileError(
                f"cannot read requires-python: {exc}", Source("pyproject.toml")
            ) from None
        table = doc.data.get("project")
        requires = table.get("requires-python") if isinstance(table, dict) else None
        if isinstance(requires, str) and requires.strip():
            line = doc.tables.get("project")
            where = (
                f"pyproject.toml:{line.keys['requires-python']}"
                if line and "requires-python" in line.keys
                else "pyproject.toml"
            )
            return requires.strip(), f"{where} requires-python"
    dotfile = project / ".python-version"
    if dotfile.is_file():
        try:
            text = dotfile.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None, ""
        for number, line in enumerate(text.splitlines(), start=1):
            entry = line.split("#", 1)[0].strip()
            if entry == "system":  # pyenv: whatever the system's python is, no version asked
                return None, ""
            if entry:
                specifier = _from_python_version(entry)
                if specifier is None:
                    raise ProjectFileError(
                        f"not a Python version: {entry[:40]!r}", Source(".python-version", number)
                    )
                return specifier, f".python-version:{number}"
    return None, ""


def _from_python_version(entry: str) -> str | None:
    """ "3.12" -> "==3.12.*", "3.12.3" -> "==3.12.3", "pypy3.10" / "cpython-3.11" -> by number."""
    import re

    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", entry)
    if not match:
        return None
    major, minor, micro = match.groups()
    return f"=={major}.{minor}.{micro}" if micro else f"=={major}.{minor}.*"


def _specifier(wanted: str, origin: str) -> object:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        return SpecifierSet(wanted)
    except InvalidSpecifier:
        # A value from the check module may come from ${VAR}: never echo it.
        shown = "" if origin.endswith(" version") else f": {wanted!r}"
        raise ProjectFileError(f"not a version specifier{shown}", Source(origin)) from None


def _specifier_problem(text: str) -> str | None:
    from envdoctor import pyspec

    if pyspec.parse(text) is not None:  # valid PEP 440, no packaging import needed
        return None
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        SpecifierSet(text)
    except InvalidSpecifier:
        return f'not a PEP 440 version specifier: {text!r} (e.g. ">=3.11")'
    return None


def _version_fix(specifier: object, project: Path) -> str | None:
    """A venv command for a matching Python: one already on PATH if any, else the newest."""
    import shutil

    from packaging.version import Version

    matching = [
        c
        for c in _CANDIDATES
        if any(specifier.contains(Version(f"{c}.{micro}")) for micro in (0, 99))  # type: ignore[attr-defined]
    ]
    if not matching:
        return None
    installed = [c for c in matching if shutil.which(f"python{c}")]
    chosen = installed[0] if installed else matching[0]
    if (project / "uv.lock").exists():
        return f"uv venv --python {chosen}"
    if installed:
        return f"python{chosen} -m venv .venv"
    return f"python{chosen} -m venv .venv (install Python {chosen} first: pyenv install {chosen}, or your OS packages)"


def _venv_command(project: Path) -> str:
    return (
        "uv venv"
        if (project / "uv.lock").exists()
        else f"cd {shlex.quote(str(project))} && python3 -m venv .venv"
    )


KIND = PythonKind()
