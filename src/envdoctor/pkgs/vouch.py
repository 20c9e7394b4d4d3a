"""Who vouches for installing a distribution named like a missing module.

A bare import name is no distribution name anybody vouched for: advising `pip install <name>`
for any missing module invites dependency confusion (a private package of that name, or a
look-alike, on the public index). But two sources do vouch for it, and then the fix may name
it: the project itself declares a requirement of that name (pyproject dependencies, extras,
dependency groups, requirements*.txt), or an installed distribution requires it (requests
needs idna). Both are read only when a module is missing, never on a passing run.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from envdoctor.pkgs.names import Provider, canonical, requirement_name

if TYPE_CHECKING:
    from envdoctor.pkgs.environment import Environment
    from envdoctor.pkgs.requirements import Req

_EXTRA_ONLY = re.compile(r"\bextra\s*==")

# Where projects declare requirements, as zero-config discovery reads them (DESIGN.md §8).
REQUIREMENT_GLOBS = ("requirements*.txt", "requirements/*.txt")


def declared(project: Path, names: Iterable[str]) -> dict[str, Provider]:
    """canonical name -> the project's own requirement of that name (its first declaration).
    Files that do not parse are passed over: the `packages` check reports them."""
    wanted = {canonical(n) for n in names}
    found: dict[str, Provider] = {}
    for req in _project_requirements(project):
        name = canonical(req.name or "")
        if name in wanted and name not in found and not req.constraint and not req.url:
            spec = f"{req.name}{req.specifier}"
            found[name] = Provider(spec, req.name or spec, "declared", req.source)
    return found


def required_by_installed(env: Environment, names: Iterable[str]) -> dict[str, Provider]:
    """canonical name -> a Requires-Dist line of an installed distribution naming it."""
    wanted = {canonical(n) for n in names}
    found: dict[str, Provider] = {}
    for dist in sorted(env.distributions.values(), key=lambda d: d.name):
        for line in dist.requires:
            name = canonical(requirement_name(line))
            if name in wanted and name not in found and not _EXTRA_ONLY.search(line):
                spec = "".join(line.split(";", 1)[0].split()).replace("(", "").replace(")", "")
                if "@" in spec:
                    spec = requirement_name(line)
                needer = f"{dist.display_name or dist.name} {dist.version}"
                found[name] = Provider(spec, requirement_name(line), "requirement", needer)
    return found


def _project_requirements(project: Path) -> list[Req]:
    from envdoctor.errors import EnvdoctorError
    from envdoctor.pkgs.requirements import parse_requirements, pyproject_requirements

    reqs: list[Req] = []
    pyproject = project / "pyproject.toml"
    if pyproject.is_file():
        with contextlib.suppress(EnvdoctorError, OSError, ValueError):
            reqs += pyproject_requirements(pyproject, project, extras=["*"], groups=["*"])
    for pattern in REQUIREMENT_GLOBS:
        for path in sorted(project.glob(pattern)):
            try:
                reqs += parse_requirements(path, project)
            except (EnvdoctorError, OSError, ValueError):
                continue
    return reqs
