"""Requirements against what is installed in the target, and the target against itself.

Pure logic over plain data (`Req` from requirements.py, `Environment` from environment.py), so
every rule can be tested without a venv. Two questions are answered:

- `evaluate`: does every requirement the project declares hold in the target? Markers are
  evaluated for the *target* interpreter, constraints (`-c`) narrow the versions of the names
  they mention, and a requirement with extras (`uvicorn[standard]`) pulls in the extra's own
  requirements transitively, which `pip check` never looks at.
- `consistency`: does every installed distribution's own base requirements hold (`pip check`)?
  Requires-Dist lines are many (thousands in a big venv) and most are extra-only, so those are
  dropped with a text test before any parsing, and parsed requirements are cached per string.

Each problem also carries the `pip install` arguments that would fix it, so the kind can build
one combined command (`install_command`).
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from envdoctor.model import Finding, Status

if TYPE_CHECKING:
    from envdoctor.pkgs.environment import Dist, Environment
    from envdoctor.pkgs.requirements import Req


@dataclass
class Problem:
    """One finding plus the `pip install` arguments that would repair it (empty: none known)."""

    finding: Finding
    install: tuple[str, ...] = ()
    reinstall: bool = False  # installed but broken: `--force-reinstall --no-deps`, apart


@dataclass
class Evaluation:
    """What `check_requirements` / `check_consistency` found, with counts for the message."""

    problems: list[Problem] = field(default_factory=list)
    passes: list[Finding] = field(default_factory=list)
    listed: int = 0  # requirements read (constraints excluded), applicable here or not
    applicable: int = 0  # requirements whose marker holds on the target (constraints excluded)
    unmet: int = 0  # of those, how many have at least one problem (their extras included)
    unverified: int = 0  # applicable lines that cannot be checked (skip findings)

    @property
    def findings(self) -> list[Finding]:
        return [p.finding for p in self.problems] + self.passes

    @property
    def install(self) -> list[tuple[str, ...]]:
        return [p.install for p in self.problems if p.install]


# -- public interface ----------------------------------------------------------------------


def evaluate(reqs: list[Req], env: Environment, *, passes: bool = False) -> list[Finding]:
    """Requirements vs installed: one finding per problem (and per pass when `passes`)."""
    return check_requirements(reqs, env, passes=passes).findings


def consistency(env: Environment) -> list[Finding]:
    """Like `pip check`: every installed distribution's base requirements hold."""
    return check_consistency(env).findings


def install_command(
    target_python: str, specs: list[str], project: Path, *, path: str | None = None
) -> list[str]:
    """The argv that installs `specs` into the target: uv's when the project uses uv and uv
    is on PATH (`path`: the search path, default $PATH), else the target's own pip."""
    if uv_fallback(project, path) is False:
        return ["uv", "pip", "install", "--python", target_python, *specs]
    return [target_python, "-m", "pip", "install", *specs]


def uv_fallback(project: Path, path: str | None = None) -> bool | None:
    """None: not a uv project; False: uv is used; True: `uv.lock` is there but uv is not on
    PATH, so the fix falls back to pip (a command that cannot run helps nobody)."""
    if not (project / "uv.lock").exists():
        return None
    import shutil

    return shutil.which("uv", path=path) is None


UV_FALLBACK_NOTE = "uv.lock is present but uv is not on PATH: the fix uses the target's pip"


def externally_managed(info: object) -> bool:
    """PEP 668: the target's stdlib holds EXTERNALLY-MANAGED and the target is not a venv, so
    `pip install` would refuse (error: externally-managed-environment)."""
    stdlib = getattr(info, "stdlib", "")
    if not stdlib or getattr(info, "in_virtualenv", True):
        return False
    return os.path.isfile(os.path.join(stdlib, "EXTERNALLY-MANAGED"))


def venv_command(target_python: str, specs: list[str], project: Path) -> str:
    """The fix for an externally managed target: a project venv, and the install into it."""
    venv = project.resolve() / ".venv"
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    make = display_command([target_python, "-m", "venv", str(venv)])
    return f"{make} && {display_command([str(python), '-m', 'pip', 'install', *specs])}"


def display_command(argv: Sequence[str]) -> str:
    """A copy-paste form of an argv (each argument shell-quoted)."""
    return shlex.join(argv)


# -- requirements --------------------------------------------------------------------------


def check_requirements(reqs: list[Req], env: Environment, *, passes: bool = False) -> Evaluation:
    """The detailed form of `evaluate`: problems with their install arguments, and counts."""
    walker = _Walker(env)
    constraints = _constraints(reqs, walker)
    broken = broken_metadata(env)
    out = Evaluation()
    local_seen: set[str] = set()
    for req in reqs:
        if req.constraint:
            continue
        if req.path is not None:
            # `-e ./lib` in one file and `./lib` in another: one package, one finding
            if req.path in local_seen:
                continue
            local_seen.add(req.path)
        out.listed += 1
        applicable = walker.req_marker(req)
        if applicable is None:
            out.applicable += 1
            out.unmet += 1
            out.problems.append(
                _req_problem(
                    req, Status.ERROR, f"cannot evaluate the marker {req.marker!r} for the target"
                )
            )
            continue
        if not applicable:
            if passes:
                out.passes.append(
                    Finding(
                        req.name or req.text,
                        Status.PASS,
                        f"not applicable here (marker false: {req.marker})",
                        source=req.source,
                    )
                )
            continue
        if req.editable and req.path is not None and not os.path.isdir(req.path):
            out.applicable += 1
            out.unmet += 1
            out.problems.append(
                _req_problem(
                    req,
                    Status.ERROR,
                    f"-e {req.text}: {req.url} is not a directory (pip refuses it: "
                    "not a valid editable requirement)",
                )
            )
            continue
        if req.unverified or not req.name:
            out.unverified += 1
            reason = req.unverified or "the distribution name is unknown"
            out.problems.append(_req_problem(req, Status.SKIP, f"not verified: {reason}"))
            continue
        out.applicable += 1
        found = _check_one(req, env, walker, constraints.get(req.name, []), broken)
        if found:
            if any(p.finding.status in (Status.FAIL, Status.ERROR) for p in found):
                out.unmet += 1
            out.problems.extend(found)
        elif passes:
            out.passes.append(_pass_finding(req, env.distributions[req.name]))
    _found_ahead(out.problems, env)
    return out


@dataclass(frozen=True)
class _Limit:
    """A version limit from a constraints file, applied to requirements of the same name."""

    specifier: SpecifierSet
    source: str


def _constraints(reqs: Iterable[Req], walker: _Walker) -> dict[str, list[_Limit]]:
    limits: dict[str, list[_Limit]] = {}
    for req in reqs:
        if not req.constraint or not req.name or not req.specifier:
            continue
        if not walker.req_marker(req):
            continue
        try:
            specifier = SpecifierSet(req.specifier)
        except InvalidSpecifier:
            continue
        limits.setdefault(req.name, []).append(_Limit(specifier, req.source))
    return limits


_SKIPPED = re.compile(r"^(?P<path>.+?\.(?:dist|egg)-info): skipped \((?P<why>.*)\)$")


def broken_metadata(env: Environment) -> dict[str, tuple[str, str]]:
    """Canonical name -> (metadata directory, why) for metadata the inspection skipped.

    A dist-info without METADATA, or with unreadable METADATA, is invisible to importlib and
    to pip's resolver, yet its files are there: "not installed" would be the wrong story.
    The environment says so only in its notes ("<dir>: skipped (no METADATA)").
    """
    out: dict[str, tuple[str, str]] = {}
    for note in env.notes:
        match = _SKIPPED.match(note)
        if match is None:
            continue
        stem = os.path.basename(match["path"]).rsplit(".", 1)[0]
        name = canonicalize_name(stem.partition("-")[0])
        if name and name not in env.distributions:
            out.setdefault(name, (match["path"], match["why"]))
    return out


def _check_one(
    req: Req,
    env: Environment,
    walker: _Walker,
    limits: list[_Limit],
    broken: Mapping[str, tuple[str, str]] | None = None,
) -> list[Problem]:
    """The problems of one applicable requirement, its extras' requirements included."""
    dist = env.distributions.get(req.name)
    own = _specifier(req.specifier)
    combined = own if own is not None else SpecifierSet()
    for limit in limits:
        combined = combined & limit.specifier
    install = _req_install(req, combined)
    if dist is None and broken and req.name in broken:
        where, why = broken[req.name]
        return [
            Problem(
                Finding(
                    req.name,
                    Status.FAIL,
                    f"installed but its metadata is broken ({why}: {where})",
                    expected=str(combined) or "any version",
                    found="broken metadata",
                    source=req.source,
                    fix=display_command([*install, "--force-reinstall", "--no-deps"]),
                ),
                install,
                reinstall=True,
            )
        ]
    if dist is None:
        return [
            Problem(
                Finding(
                    req.name,
                    Status.FAIL,
                    "not installed",
                    expected=str(combined) or "any version",
                    found=None,
                    source=req.source,
                    fix=display_command(install),
                ),
                install,
            )
        ]
    problems: list[Problem] = []
    wants: list[tuple[str, str]] = []  # (source, specifier) the installed version fails
    if own is None and req.specifier:
        problems.append(
            Problem(
                Finding(
                    req.name,
                    Status.ERROR,
                    f"not a version specifier: {req.specifier!r}",
                    source=req.source,
                )
            )
        )
    if own is not None and own and _matches(own, dist.version) is False:
        wants.append((req.source, str(own)))
    for limit in limits:
        if _matches(limit.specifier, dist.version) is False:
            wants.append((f"constraint {limit.source}", str(limit.specifier)))
    if wants:
        where = "; ".join(f"{src} wants {spec}" for src, spec in wants)
        problems.append(
            Problem(
                Finding(
                    req.name,
                    Status.FAIL,
                    f"{dist.version} installed, {where}",
                    expected=str(combined),
                    found=dist.version,
                    source=wants[0][0].removeprefix("constraint "),
                    fix=display_command(install),
                ),
                install,
            )
        )
    elif combined and _matches(combined, dist.version) is None:
        problems.append(
            Problem(
                Finding(
                    req.name,
                    Status.WARN,
                    f"version {dist.version!r} is not a PEP 440 version: cannot compare "
                    f"with {combined}",
                    expected=str(combined),
                    found=dist.version,
                    source=req.source,
                )
            )
        )
    if req.extras:
        problems += _extra_problems(walker.extra_deps(dist, req.extras), env, req.source)
    return problems


def _extra_problems(events: Iterable[_Event], env: Environment, source: str) -> list[Problem]:
    """Findings for an extra's requirements, in the `evaluate` style (naming the chain)."""
    problems: list[Problem] = []
    for event in events:
        if event.missing_extra is not None:
            problems.append(Problem(_no_extra_finding(event, source)))
            continue
        assert event.dep is not None
        dep, name = event.dep, canonicalize_name(event.dep.name)
        found = env.distributions.get(name)
        install = (_requirement_spec(dep),)
        if found is None:
            problems.append(
                Problem(
                    Finding(
                        name,
                        Status.FAIL,
                        f"not installed (needed by {event.chain}, {source})",
                        expected=str(dep.specifier) or "any version",
                        found=None,
                        source=source,
                        fix=display_command(install),
                    ),
                    install,
                )
            )
        elif dep.specifier and _matches(dep.specifier, found.version) is False:
            problems.append(
                Problem(
                    Finding(
                        name,
                        Status.FAIL,
                        f"{found.version} installed, {dep.specifier} wanted "
                        f"(needed by {event.chain}, {source})",
                        expected=str(dep.specifier),
                        found=found.version,
                        source=source,
                        fix=display_command(install),
                    ),
                    install,
                )
            )
    return problems


def _no_extra_finding(event: _Event, source: str | None) -> Finding:
    dist = event.dist
    declared = ", ".join(dist.provides_extras) or "none"
    via = f" (needed by {event.via})" if event.via else ""
    # pip only warns ("does not provide the extra") and installs the rest: a warning here too
    return Finding(
        dist.name,
        Status.WARN,
        f"{dist.name} {dist.version} has no extra '{event.missing_extra}'{via}",
        expected=f"extra '{event.missing_extra}'",
        found=f"extras: {declared}",
        source=source,
    )


def _pass_finding(req: Req, dist: Dist) -> Finding:
    parts = [f"{dist.version} installed"]
    if req.specifier:
        parts.append(f"satisfies {req.specifier}")
    if req.url:
        parts.append("(from a URL: the URL is not compared)")
    if req.extras:
        parts.append(f"with extras {', '.join(req.extras)}")
    return Finding(
        req.name,
        Status.PASS,
        " ".join(parts),
        expected=req.specifier or "any version",
        found=dist.version,
        source=req.source,
    )


def _req_install(req: Req, combined: SpecifierSet) -> tuple[str, ...]:
    """The pip arguments that install one requirement as the project wants it."""
    extras = f"[{','.join(req.extras)}]" if req.extras else ""
    if req.path is not None:
        # absolute: the fix must work from any directory (pip reads paths from its cwd);
        # an editable's extras are part of the argument (`-e '/abs/proj[test]'`)
        return ("-e", f"{req.path}{extras}") if req.editable else (f"{req.path}{extras}",)
    if req.editable and req.url:
        return ("-e", req.url)
    if req.url:
        # A direct reference: pip needs the URL itself (the name alone may resolve elsewhere).
        return (req.text,)
    return (f"{req.name}{extras}{combined}",)


# -- consistency ---------------------------------------------------------------------------


def check_consistency(env: Environment) -> Evaluation:
    """The detailed form of `consistency`: each problem names the distribution needing it."""
    walker = _Walker(env)
    out = Evaluation()
    for dist in sorted(env.distributions.values(), key=lambda d: d.name):
        needer = f"{dist.display_name or dist.name} {dist.version}"
        for line in dist.requires:
            if "extra ==" in line or "extra==" in line:
                continue  # extra-only requirement: not part of the base install
            dep = _parse(line)
            if dep is None or not walker.metadata_marker(dep.marker, ""):
                continue
            out.applicable += 1
            problems = _consistency_problems(dep, needer, env)
            installed = env.distributions.get(canonicalize_name(dep.name))
            if installed is not None and dep.extras:
                # A dependency's extras must hold too: `pip check` does not look at them.
                events = walker.extra_deps(installed, _canonical_extras(dep), chain=needer)
                problems += _chained_consistency(events, env)
            if problems:
                if any(p.finding.status in (Status.FAIL, Status.ERROR) for p in problems):
                    out.unmet += 1
                out.problems.extend(problems)
    out.problems += _duplicate_metadata(env)
    _found_ahead(out.problems, env)
    return out


def _duplicate_metadata(env: Environment) -> list[Problem]:
    """Two versions' metadata of one distribution in one directory (a copy, or an install
    that died half-way): Python reads the first; pip would upgrade or uninstall only that one,
    so the stale one must go, and the files are put back for the version Python reports."""
    from envdoctor.pkgs.environment import duplicates_in_place

    problems = []
    for used, stale in duplicates_in_place(env):
        pin = f"{used.display_name or used.name}=={used.version}"
        remove = display_command(["rm", "-r", stale.path])
        reinstall = display_command(
            [env.info.executable, "-m", "pip", "install", "--force-reinstall", "--no-deps", pin]
        )
        message = (
            f"two metadata directories in {used.location}: {os.path.basename(used.path)} "
            f"(the one Python reads) and {os.path.basename(stale.path)}"
        )
        finding = Finding(
            used.name,
            Status.WARN,
            message,
            expected="one installed version",
            found=f"{used.version} and {stale.version}",
            fix=f"{remove} && {reinstall}",
        )
        problems.append(Problem(finding))
    return problems


def _install_dir(env: Environment) -> str | None:
    """Where the target's pip installs: the first site directory under its prefix."""
    prefix = os.path.realpath(env.info.prefix)
    for entry in env.info.sys_path:
        real = os.path.realpath(entry)
        if os.path.basename(real) in ("site-packages", "dist-packages") and real.startswith(
            prefix + os.sep
        ):
            return entry
    return None


def _found_ahead(problems: list[Problem], env: Environment) -> None:
    """A wrong version that an install cannot replace: Python finds it in a directory ahead of
    the one pip installs into ($PYTHONPATH, the user site, a .pth-added directory), so
    `pip install` would put the right version behind it and change nothing (pip even says
    "Not uninstalling … outside environment"). Such a finding says where the copy is and how
    to get it out of the way, and gives no install command for `fix --apply` to loop on."""
    install_dir = _install_dir(env)
    if install_dir is None:
        return
    order: dict[str, int] = {}
    for i, entry in enumerate(env.info.sys_path):
        order.setdefault(os.path.realpath(entry), i)
    limit = order[os.path.realpath(install_dir)]
    pythonpath = {
        os.path.realpath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p
    }
    for problem in problems:
        finding = problem.finding
        dist = env.distributions.get(finding.subject)
        if dist is None or finding.found != dist.version or not problem.install:
            continue
        where = os.path.realpath(dist.location)
        if order.get(where, limit) >= limit:
            continue
        hidden = [d.version for d in env.shadowed if d.name == dist.name]
        finding.message += f"; Python finds it in {dist.location}, ahead of {install_dir}"
        if hidden:
            finding.message += f" (which holds {hidden[0]})"
        name = dist.display_name or dist.name
        if where in pythonpath:
            finding.fix = f"take {dist.location} out of PYTHONPATH (or fix the versions there)"
        else:
            finding.fix = (
                f"remove {name} {dist.version} from {dist.location} (pip installs into "
                f"{install_dir}, which Python searches later)"
            )
        problem.install = ()
        problem.reinstall = False


def _consistency_problems(dep: Requirement, needer: str, env: Environment) -> list[Problem]:
    name = canonicalize_name(dep.name)
    found = env.distributions.get(name)
    wanted = _requirement_text(dep)
    install = (_requirement_spec(dep),)
    if found is None:
        message = f"needed by {needer}: {wanted}, not installed"
    elif dep.specifier and _matches(dep.specifier, found.version) is False:
        message = f"needed by {needer}: {wanted}, {found.version} installed"
    else:
        return []
    return [
        Problem(
            Finding(
                name,
                Status.FAIL,
                message,
                expected=str(dep.specifier) or "any version",
                found=found.version if found else None,
                fix=display_command(install),
            ),
            install,
        )
    ]


def _chained_consistency(events: Iterable[_Event], env: Environment) -> list[Problem]:
    problems: list[Problem] = []
    for event in events:
        if event.missing_extra is not None:
            problems.append(Problem(_no_extra_finding(event, None)))
        elif event.dep is not None:
            problems += _consistency_problems(event.dep, event.chain, env)
    return problems


# -- the walker: markers for the target and extras, transitively -------------------------


@dataclass
class _Event:
    """One step of an extras walk: a requirement an extra brings in, or an undeclared extra."""

    dist: Dist
    chain: str  # "uvicorn[standard]" or "foo[bar] via uvicorn[standard]"
    via: str | None = None  # what asked for this extra, when not the requirement itself
    dep: Requirement | None = None
    missing_extra: str | None = None


class _Walker:
    """Evaluates markers for the target (cached) and walks extras' requirements."""

    def __init__(self, env: Environment) -> None:
        self.env = env
        self.markers: Mapping[str, str] = dict(env.info.markers)
        self._cache: dict[tuple[str, str], bool | None] = {}

    def evaluate(self, marker: Marker | str, extra: str) -> bool | None:
        """True/False on the target; None when the marker cannot be evaluated."""
        key = (str(marker), extra)
        if key not in self._cache:
            try:
                parsed = marker if isinstance(marker, Marker) else _marker(marker)
                self._cache[key] = bool(parsed.evaluate({**self.markers, "extra": extra}))
            except Exception:  # an undefined comparison or name: packaging raises several types
                self._cache[key] = None
        return self._cache[key]

    def req_marker(self, req: Req) -> bool | None:
        return True if not req.marker else self.evaluate(req.marker, "")

    def metadata_marker(self, marker: Marker | None, extra: str) -> bool:
        """A metadata marker that cannot be evaluated counts as false (pip skips it too)."""
        return True if marker is None else bool(self.evaluate(marker, extra))

    def extra_deps(
        self, dist: Dist, extras: Iterable[str], chain: str | None = None
    ) -> Iterator[_Event]:
        """Every requirement that `dist[extras]` adds to the base install, transitively through
        the extras of those requirements; each (distribution, extra) is visited once."""
        seen: set[tuple[str, str]] = set()
        yield from self._walk(dist, tuple(extras), chain, seen)

    def _walk(
        self, dist: Dist, extras: tuple[str, ...], via: str | None, seen: set[tuple[str, str]]
    ) -> Iterator[_Event]:
        for extra in extras:
            if (dist.name, extra) in seen:
                continue
            seen.add((dist.name, extra))
            label = f"{dist.name}[{extra}]"
            chain = f"{label} via {via}" if via else label
            adds = self._extra_only(dist, extra)
            if extra not in dist.provides_extras and not adds and not self._mentions(dist, extra):
                yield _Event(dist, chain, via, missing_extra=extra)
                continue
            for dep in adds:
                yield _Event(dist, chain, via, dep=dep)
                installed = self.env.distributions.get(canonicalize_name(dep.name))
                if installed is not None and dep.extras:
                    yield from self._walk(installed, _canonical_extras(dep), chain, seen)

    def _extra_only(self, dist: Dist, extra: str) -> list[Requirement]:
        """Requires-Dist lines that hold with `extra` but not in the base install."""
        out = []
        for line in dist.requires:
            if "extra" not in line:
                continue  # no marker on `extra`: a base requirement (consistency's job)
            dep = _parse(line)
            if dep is None or dep.marker is None:
                continue
            if self.metadata_marker(dep.marker, extra) and not self.metadata_marker(dep.marker, ""):
                out.append(dep)
        return out

    @staticmethod
    def _mentions(dist: Dist, extra: str) -> bool:
        """Old metadata may omit Provides-Extra but still name the extra in a marker."""
        for line in dist.requires:
            if "extra" in line:
                dep = _parse(line)
                if dep is not None and dep.marker is not None and extra in _marker_extras(dep):
                    return True
        return False


# -- small helpers -------------------------------------------------------------------------

_PARSED: dict[str, Requirement | None] = {}
_MARKERS: dict[str, Marker] = {}


def _parse(line: str) -> Requirement | None:
    """A Requires-Dist line, parsed once per process; None when it is not PEP 508."""
    try:
        return _PARSED[line]
    except KeyError:
        pass
    try:
        parsed: Requirement | None = Requirement(line)
    except InvalidRequirement:
        parsed = None
    _PARSED[line] = parsed
    return parsed


def _marker(text: str) -> Marker:
    try:
        return _MARKERS[text]
    except KeyError:
        parsed = _MARKERS[text] = Marker(text)
        return parsed


def _marker_extras(dep: Requirement) -> set[str]:
    """The extras a marker compares `extra` with (`extra == "socks"` -> {"socks"})."""
    found: set[str] = set()

    def visit(node: object) -> None:
        if isinstance(node, (list, tuple)):
            if len(node) == 3 and all(hasattr(n, "value") for n in node):
                names = [getattr(n, "value", None) for n in node]
                if names[0] == "extra":
                    found.add(canonicalize_name(str(names[2])))
                elif names[2] == "extra":
                    found.add(canonicalize_name(str(names[0])))
                return
            for child in node:
                visit(child)

    visit(getattr(dep.marker, "_markers", []))
    return found


def _canonical_extras(dep: Requirement) -> tuple[str, ...]:
    return tuple(sorted(canonicalize_name(e) for e in dep.extras))


def _specifier(text: str) -> SpecifierSet | None:
    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        return None


def _matches(specifier: SpecifierSet, version: str) -> bool | None:
    """Whether `version` satisfies `specifier`; an installed pre-release counts when it
    matches. None when the installed version is not PEP 440 (it cannot be compared)."""
    try:
        parsed = Version(version)
    except InvalidVersion:
        return None
    return specifier.contains(parsed, prereleases=True)


def _requirement_text(dep: Requirement) -> str:
    """`urllib3<3,>=1.21.1` / `h2[x]>=3`: name, extras and specifier, no marker."""
    extras = f"[{','.join(sorted(dep.extras))}]" if dep.extras else ""
    if dep.url:
        return f"{dep.name}{extras} @ {dep.url}"
    return f"{dep.name}{extras}{dep.specifier}"


def _requirement_spec(dep: Requirement) -> str:
    """What to pass to pip for a metadata requirement: its canonical name, extras, specifier."""
    extras = f"[{','.join(_canonical_extras(dep))}]" if dep.extras else ""
    name = canonicalize_name(dep.name)
    if dep.url:
        return f"{name}{extras} @ {dep.url}"
    return f"{name}{extras}{dep.specifier}"


def merge_install(entries: Iterable[tuple[str, ...]]) -> list[str]:
    """One argument list for one `pip install`: the same name asked for twice becomes one
    spec (extras joined, specifiers intersected); URLs and `-e` are kept as they are."""
    plain: dict[str, tuple[set[str], SpecifierSet]] = {}
    order: list[str | tuple[str, ...]] = []
    for entry in entries:
        if len(entry) == 1 and "@" not in entry[0] and not entry[0].startswith("-"):
            dep = _parse(entry[0])
            if dep is not None and dep.url is None and dep.marker is None:
                name = canonicalize_name(dep.name)
                if name not in plain:
                    plain[name] = (set(), SpecifierSet())
                    order.append(name)
                extras, spec = plain[name]
                plain[name] = (
                    extras | {canonicalize_name(e) for e in dep.extras},
                    spec & dep.specifier,
                )
                continue
        if entry not in order:
            order.append(entry)
    out: list[str] = []
    for item in order:
        if isinstance(item, str):
            extras, spec = plain[item]
            joined = f"[{','.join(sorted(extras))}]" if extras else ""
            out.append(f"{item}{joined}{spec}")
        else:
            out.extend(item)
    return out


def _req_problem(req: Req, status: Status, message: str) -> Problem:
    """A problem with the requirement line itself (not with what is installed)."""
    return Problem(Finding(req.name or req.text, status, message, source=req.source))
