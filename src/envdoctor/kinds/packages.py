"""`packages`: the project's requirements hold in the target interpreter, and so does the target.

The most common reason a test run dies is a missing or wrong package, so this kind reads every
input users have (requirements files with includes, constraints and options; pyproject
dependencies, extras and PEP 735 groups), evaluates markers for the *target* interpreter (not
envdoctor's own), walks extras transitively, and checks the environment's consistency like
`pip check` in the same pass. All problems end in ONE install command (pip, or uv when the
project has `uv.lock`), which `envdoctor fix --apply` may run.

Parsing lives in `envdoctor.pkgs`; this module only decides what to read and how to say it.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envdoctor.context import CheckContext
from envdoctor.errors import ConfigError, ProjectFileError, Source
from envdoctor.kinds.base import Kind
from envdoctor.model import CheckSpec, Finding, Outcome, Status, worst
from envdoctor.options import Bool, Option, OptionType, StrList

if TYPE_CHECKING:
    from envdoctor.pkgs.environment import Environment
    from envdoctor.pkgs.evaluate import Evaluation, Problem
    from envdoctor.pkgs.requirements import Req

NOTHING = "nothing to check: set requirements or pyproject"


class BoolOrPath(OptionType):
    """`true`/`false`, or the path of a pyproject.toml (relative to the project)."""

    name = "true, false or a path to a pyproject.toml"

    def coerce(self, value: Any) -> Any:
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in ("true", "false"):  # a value that came through ${VAR}
                return lowered == "true"
            if value.strip():
                return value
            raise ConfigError("expected true, false or a path, got an empty string")
        raise self.fail(value)

    def schema(self) -> dict[str, Any]:
        return {"anyOf": [{"type": "boolean"}, {"type": "string", "minLength": 1}]}


@dataclass
class _Inputs:
    """What one check reads: requirements files and/or one pyproject.toml."""

    requirements: list[str] = field(default_factory=list)
    pyproject: Path | None = None
    dependencies: bool = True
    extras: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)


class PackagesKind(Kind):
    name = "packages"
    category = "Packages"
    summary = (
        "The project's requirements (requirements files, pyproject dependencies, extras, "
        "dependency groups) are installed in the target interpreter, and its installed "
        "distributions are consistent (like pip check)."
    )
    passes_when = (
        "every applicable requirement is installed at a matching version, extras included "
        "(and, with consistent = true, every installed distribution's requirements hold)"
    )
    options = (
        Option(
            "requirements",
            StrList(),
            "Requirements file(s), relative to the project directory. `-r`/`-c` includes, "
            "option lines, hashes, `-e`, URL/VCS lines, markers and extras are understood.",
        ),
        Option(
            "pyproject",
            BoolOrPath(),
            "true: check `[project].dependencies` of pyproject.toml; or the path of another "
            "pyproject.toml. false with `extras`/`groups`: only those. Default: true when "
            "pyproject.toml declares dependencies and `requirements` is not set; else "
            "requirements.txt when it exists.",
        ),
        Option(
            "extras",
            StrList(),
            'Optional-dependency extras of the pyproject to check too ("*" = all).',
        ),
        Option(
            "groups",
            StrList(),
            "PEP 735 dependency groups of the pyproject to check too (`include-group` followed).",
        ),
        Option(
            "consistent",
            Bool(),
            "Also check that every installed distribution's own requirements hold (like "
            "`pip check`, markers evaluated for the target).",
            default=True,
        ),
    )

    async def run(self, spec: CheckSpec, ctx: CheckContext) -> Outcome:
        from envdoctor.pkgs.environment import inspect_environment

        inputs = _inputs(spec.options, ctx.project)
        if inputs is None:
            return Outcome(Status.ERROR, NOTHING)
        memo = _Memo.open(spec, ctx)
        if memo is not None and memo.outcome is not None:
            return memo.outcome
        # The target is inspected (a child interpreter, or the cache) while files are parsed.
        inspecting = asyncio.ensure_future(inspect_environment(ctx))
        inspecting.add_done_callback(lambda t: t.cancelled() or t.exception())
        try:
            read = await ctx.run_sync(_read, inputs, ctx.project)
        except ProjectFileError as exc:
            raise _safe_error(ctx, exc) from None
        env = await inspecting
        consistent = bool(spec.options.get("consistent", True))
        verbose = ctx.session.verbose
        evaluation, checked = await ctx.run_sync(_evaluate, read.reqs, env, consistent, verbose)
        _note_evidence(ctx, env, read.files, read.reqs, evaluation, checked)
        outcome = _outcome(ctx, env, evaluation, checked, read.via_file, read.index_files)
        if memo is not None:
            memo.keep(ctx, env, read, outcome)
        return outcome


@dataclass
class _Memo:
    """The remembered verdict of this check (pkgs/verdicts.py): looked up before anything is
    parsed, kept after a pass."""

    entry: Path
    ident: str
    key: dict[str, Any]
    outcome: Outcome | None = None

    @classmethod
    def open(cls, spec: CheckSpec, ctx: CheckContext) -> _Memo | None:
        if not ctx.session.use_cache or ctx.session.verbose:
            return None
        from envdoctor import cache
        from envdoctor.pkgs import verdicts
        from envdoctor.pkgs.environment import _interpreter_key

        try:
            base = cache.cache_dir()
        except (RuntimeError, KeyError, OSError):
            return None
        if cache.inside(base, ctx.project):
            return None
        key = _interpreter_key(str(ctx.session.target.executable))
        ident = verdicts.identity(key["path"], ctx.project, spec.options)
        memo = cls(cache.entry_path(verdicts.SECTION, ident, base=base), ident, key)
        outcome, why = verdicts.lookup(memo.entry, ident, key)
        if outcome is None:
            ctx.note(f"verdict cache: miss ({why})")
            return memo
        for line in outcome.evidence:
            ctx.note(line)
        ctx.note("verdict cache: hit (nothing it read has changed since it passed)")
        outcome.evidence = []
        memo.outcome = outcome
        return memo

    def keep(self, ctx: CheckContext, env: Environment, read: _Read, outcome: Outcome) -> None:
        if outcome.status is not Status.PASS or not env.watched:
            return
        if any(r.path or r.url for r in read.reqs):
            return  # names read from local paths / URLs: outside what the entry watches
        from envdoctor.pkgs import verdicts

        project = ctx.project
        files = [str(project / name) for name in read.files]
        files += [str(project / "pyproject.toml"), str(project / "requirements.txt")]
        kept = Outcome(
            outcome.status, outcome.message, outcome.findings, evidence=list(ctx.evidence)
        )
        why = verdicts.store(
            self.entry, self.ident, self.key, env.watched, list(dict.fromkeys(files)), kept
        )
        if why:
            ctx.note(f"verdict cache: not written ({why})")


def _safe_error(ctx: CheckContext, exc: ProjectFileError) -> ProjectFileError:
    """The parser quotes the bad line; that line may hold a secret (a token in a URL, a
    value that came through ${VAR}). Mask it, and never quote a line of a `.env*` file."""
    source = exc.source
    if source is not None and Path(source.path).name.startswith(".env"):
        message = (
            "not a valid requirements line (not quoted: the file is named like an "
            "environment file and may hold secrets)"
        )
        return ProjectFileError(message, source)
    return ProjectFileError(ctx.session.redact(exc.message) or exc.message, source)


def _inputs(options: dict[str, Any], project: Path) -> _Inputs | None:
    """Resolves the options (and the project's files, when none are set) to what to read."""
    requirements = list(options.get("requirements") or [])
    pyproject = options.get("pyproject")
    extras = list(options.get("extras") or [])
    groups = list(options.get("groups") or [])
    inputs = _Inputs(requirements=requirements, extras=extras, groups=groups)
    if pyproject is None and not requirements and not extras and not groups:
        if _declares_dependencies(project / "pyproject.toml"):
            pyproject = True
        elif (project / "requirements.txt").is_file():
            inputs.requirements = ["requirements.txt"]
            return inputs
        else:
            return None
    if pyproject is None:
        # extras/groups alone: they live in pyproject.toml, next to the base dependencies.
        pyproject = bool(extras or groups)
    if pyproject is False:
        if extras or groups:
            inputs.pyproject, inputs.dependencies = project / "pyproject.toml", False
        return inputs
    path = project / "pyproject.toml" if pyproject is True else project / str(pyproject)
    if path.is_dir():
        path = path / "pyproject.toml"
    inputs.pyproject = path
    return inputs


def _declares_dependencies(path: Path) -> bool:
    """Whether pyproject.toml has `[project] dependencies` (the zero-option default)."""
    if not path.is_file():
        return False
    from envdoctor.tomlfile import read_toml

    try:
        doc = read_toml("pyproject.toml", path.read_bytes())
    except ConfigError as exc:
        raise ProjectFileError(exc.message, exc.source or Source("pyproject.toml")) from None
    except OSError as exc:
        raise ProjectFileError(
            f"cannot read: {exc.strerror or exc}", Source("pyproject.toml")
        ) from None
    table = doc.data.get("project")
    return isinstance(table, dict) and "dependencies" in table


@dataclass
class _Read:
    reqs: list[Req]
    files: list[str]  # read, for the evidence
    via_file: dict[str, str] = field(default_factory=dict)  # a file read -> its top file
    index_files: set[str] = field(default_factory=set)  # top files whose tree sets an index


_INDEX_OPTION = re.compile(
    r"^\s*(?:-i|-f|--index-url|--extra-index-url|--find-links|--no-index)(?:[\s=]|$)", re.M
)


def _read(inputs: _Inputs, project: Path) -> _Read:
    """Every requirement of every input, the files that were read, and for each file read
    the requirements file given in the options that includes it (a fix may install that)."""
    from envdoctor.pkgs.requirements import parse_requirements, pyproject_requirements

    reqs: list[Req] = []
    files: list[str] = []
    via_file: dict[str, str] = {}
    index_files: set[str] = set()
    for name in inputs.requirements:
        path = project / name
        found = parse_requirements(path, project)
        reqs += found
        shown = _display(path, project)
        files.append(shown)
        top = str(path.resolve())
        tree = {shown, *(r.source.rsplit(":", 1)[0] for r in found if ":" in r.source)}
        for member in tree:
            via_file.setdefault(member, top)
            if _sets_an_index(project / member):
                index_files.add(top)
    if inputs.pyproject is not None:
        shown = _display(inputs.pyproject, project)
        if not inputs.pyproject.is_file():
            raise ProjectFileError("not found", Source(shown))
        reqs += pyproject_requirements(
            inputs.pyproject,
            project,
            dependencies=inputs.dependencies,
            extras=inputs.extras,
            groups=inputs.groups,
        )
        files.append(shown)
    for req in reqs:  # includes (-r/-c) read along the way
        where = req.source.rsplit(":", 1)[0] if ":" in req.source else req.source
        if where and where not in files:
            files.append(where)
    return _Read(reqs, files, via_file, index_files)


def _sets_an_index(path: Path) -> bool:
    try:
        return _INDEX_OPTION.search(path.read_text(encoding="utf-8", errors="replace")) is not None
    except OSError:
        return False


def _display(path: Path, project: Path) -> str:
    try:
        return str(path.resolve().relative_to(project.resolve()))
    except (ValueError, OSError):
        return str(path)


def _evaluate(
    reqs: list[Req], env: Environment, consistent: bool, verbose: bool
) -> tuple[Evaluation, Evaluation | None]:
    from envdoctor.pkgs.evaluate import check_consistency, check_requirements

    evaluation = check_requirements(reqs, env, passes=verbose)
    return evaluation, check_consistency(env) if consistent else None


def _note_evidence(
    ctx: CheckContext,
    env: Environment,
    files: list[str],
    reqs: list[Req],
    evaluation: Evaluation,
    checked: Evaluation | None,
) -> None:
    info = env.info
    ctx.note(
        f"target {ctx.session.target.executable} ({ctx.session.target.reason}): "
        f"{info.implementation} {info.version}"
    )
    # The inspection notes its own details (what it read or skipped, why the cache missed).
    ctx.note(
        f"{len(env.distributions)} distributions; site directories: "
        + (", ".join(env.site_dirs) or "none")
    )
    ctx.note("inspection cache: hit" if env.from_cache else "inspection cache: miss")
    ctx.note(f"read {', '.join(files)}" if files else "read no requirements file")
    constraints = sum(1 for r in reqs if r.constraint)
    ctx.note(
        f"{len(reqs)} requirement lines: {evaluation.applicable} applicable to this target, "
        f"{constraints} constraints, {evaluation.unverified} not verifiable"
    )
    if checked is not None:
        ctx.note(
            f"consistency: {checked.applicable} requirements of installed distributions checked"
        )


def _outcome(
    ctx: CheckContext,
    env: Environment,
    evaluation: Evaluation,
    checked: Evaluation | None,
    via_file: dict[str, str] | None = None,
    index_files: set[str] | None = None,
) -> Outcome:
    from envdoctor.pkgs.evaluate import (
        UV_FALLBACK_NOTE,
        display_command,
        externally_managed,
        install_command,
        merge_install,
        uv_fallback,
        venv_command,
    )

    python = str(ctx.session.target.executable)
    problems = evaluation.problems + (checked.problems if checked else [])
    _install_from_files(ctx, problems, via_file or {}, index_files or set())
    managed = externally_managed(env.info)
    if managed:
        ctx.note(
            f"the target is externally managed (PEP 668: {env.info.stdlib}/EXTERNALLY-MANAGED) "
            "and not a virtual environment: pip would refuse to install into it, so the fix "
            "creates a venv (not run by fix --apply)"
        )
    elif any(p.install for p in problems) and uv_fallback(ctx.project):
        ctx.note(UV_FALLBACK_NOTE)

    def command(specs: list[str], reinstall: bool = False) -> list[str]:
        argv = install_command(python, specs, ctx.project)
        if reinstall:  # installed but broken: put its files back, touch nothing else
            argv += ["--reinstall" if argv[0] == "uv" else "--force-reinstall", "--no-deps"]
        return argv

    findings: list[Finding] = []
    for problem in problems:
        finding = problem.finding
        if problem.install:  # a whole command, not just the spec (DESIGN.md §7)
            if managed:
                finding.fix = venv_command(python, list(problem.install), ctx.project)
            else:
                finding.fix = display_command(command(list(problem.install), problem.reinstall))
        findings.append(finding)
    findings += evaluation.passes
    specs = merge_install(p.install for p in problems if p.install and not p.reinstall)
    broken = merge_install(p.install for p in problems if p.install and p.reinstall)
    actions: list[list[str]] = []
    fix: str | None = None
    if managed and (specs or broken):
        fix = venv_command(python, merge_install([tuple(specs), tuple(broken)]), ctx.project)
    elif specs or broken:
        argvs = ([command(specs)] if specs else []) + ([command(broken, True)] if broken else [])
        if argvs[0][0] != "uv" and "pip" not in env.distributions:
            # A venv made --without-pip: `-m pip` would fail; ensurepip is stdlib and offline.
            actions.append([python, "-m", "ensurepip"])
        actions += argvs
        fix = " && ".join(display_command(a) for a in actions)
    # Problems no install repairs (a copy ahead of the environment on sys.path, duplicate
    # metadata) carry their own fix: the check's fix must say it too, once.
    advice = [p.finding.fix for p in problems if not p.install and p.finding.fix]
    if advice:
        fix = " && ".join(([fix] if fix else []) + list(dict.fromkeys(advice)))
    status = worst(f.status for f in findings)
    return Outcome(
        status,
        _message(evaluation, checked),
        findings,
        fix=fix,
        actions=actions,
    )


def _install_from_files(
    ctx: CheckContext,
    problems: list[Problem],
    via_file: dict[str, str],
    index_files: set[str],
) -> None:
    """`pip install -r <file>` instead of the requirement itself, where that is the only
    command that works: the file sets an index (--index-url, --find-links: installing the
    bare name would fetch it from PyPI instead, a dependency-confusion risk), or the URL's
    text was masked (`***`) or holds `${VAR}` (the printed URL would be broken)."""
    from envdoctor.pkgs.evaluate import display_command

    for problem in problems:
        if not problem.install or problem.reinstall:
            continue
        source = problem.finding.source or ""
        top = via_file.get(source.rsplit(":", 1)[0] if ":" in source else source)
        hidden = any("***" in arg or "${" in arg for arg in problem.install)
        if top is not None and (hidden or top in index_files):
            problem.install = ("-r", top)
        elif hidden:  # no file to install from: a broken URL is no fix
            problem.install = ()
            problem.finding.fix = None
            ctx.note(f"{problem.finding.subject}: its URL is masked, no install command given")
        if problem.install:
            problem.finding.fix = display_command(problem.install)


def _message(evaluation: Evaluation, checked: Evaluation | None) -> str:
    """ "2 of 41 requirements not met; environment consistent" and the like."""
    n, unmet = evaluation.applicable, evaluation.unmet
    if unmet:
        text = f"{unmet} of {n} requirement{'s' if n != 1 else ''} not met"
    elif n:
        text = f"{n} requirement{'s' if n != 1 else ''} met"
    elif evaluation.listed:
        text = "no requirement applies to this target"
    else:
        text = "no requirements listed"
    if evaluation.unverified:
        text += f"; {evaluation.unverified} not verified"
    if checked is not None:
        count = sum(1 for p in checked.problems if p.finding.status is not Status.PASS)
        if count:
            text += f"; {count} consistency problem{'s' if count != 1 else ''}"
        else:
            text += "; environment consistent"
    return text


KIND = PackagesKind()
