"""`imports`: modules can be found (or really imported) by the target interpreter.

`find` mode (the default) asks the target's import system where each module is, running none
of its code: cheap, and safe under `--safe`. It cannot see a module that is present but fails
when imported (prompt_toolkit found, its dependency wcwidth gone), so `import` mode really
imports, all modules in ONE child interpreter (`pkgs/importcheck.py`), each under its own
deadline; a module that hangs, exits, aborts or floods stdout is reported as such and the rest
are still checked. A failure names the exception and, for a missing module, the distribution
that provides it (`pkgs/names.py`), with the install command for the target.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envdoctor.context import CheckContext
from envdoctor.errors import ConfigError
from envdoctor.kinds.base import Kind
from envdoctor.model import CheckSpec, Finding, Outcome, Status, worst
from envdoctor.options import Choice, Duration, Option, StrList

if TYPE_CHECKING:
    from envdoctor.pkgs.importcheck import ImportRun, ModuleReport
    from envdoctor.pkgs.names import Provider

IMPORT_MODE_TIMEOUT = 60.0
DEADLINE_MARGIN = 0.05  # finish (kill, reap, report) before the runner's own hard stop
HEADLINE_NAMES = 5
FIND_MODULE_SHARE = 0.5  # find mode: one module gets at most this share of the check's timeout
FIND_MIN_MODULE_TIMEOUT = 0.5


class ModuleNames(StrList):
    """Dotted Python identifiers; a distribution name given by mistake gets its import name."""

    def __init__(self) -> None:
        super().__init__(single=True, non_empty=True)
        self.name = "a module name or a list of them"

    def coerce(self, value: Any) -> Any:
        names = super().coerce(value)
        for name in names:
            problem = module_name_problem(name)
            if problem:
                raise ConfigError(problem)
        return list(dict.fromkeys(names))


def module_name_problem(name: str) -> str | None:
    """Why `name` cannot be a module name, with the likely intended one; None when it can."""
    if all(part.isidentifier() for part in name.split(".")):
        return None
    from envdoctor.pkgs.names import import_name_for

    problem = f"{name!r} is not a module name (a dotted Python name, e.g. yaml or google.protobuf)"
    known = import_name_for(name)
    if known:
        return f"{problem}: it is a distribution name, import it as {known!r}"
    fixed = name.strip().replace("-", "_")
    if fixed != name and all(part.isidentifier() for part in fixed.split(".")):
        return f"{problem}; did you mean {fixed!r}?"
    return problem


class ImportsKind(Kind):
    name = "imports"
    category = "Python"
    summary = "Modules the target interpreter can find (`find`) or really import (`import`)."
    passes_when = (
        "every module imports; a failure names the exception and the distribution "
        "that would provide it"
    )
    safe_mode_note = (
        "In `import` mode it runs the modules' code (in a child interpreter), so under "
        '`--safe` it is `skip` ("not run under --safe"). `find` mode still runs: it locates '
        "modules without running them; under `--safe`, a dotted name that can only be found "
        "by importing its parent package is reported as not verified instead."
    )
    options = (
        Option(
            "modules",
            ModuleNames(),
            'Import names to check, e.g. ["yaml", "google.protobuf", "myapp.settings"].',
            required=True,
        ),
        Option(
            "mode",
            Choice("find", "import"),
            "`find`: locate each module without running it (importlib.util.find_spec); "
            "`import`: really import them all, in one isolated child interpreter.",
            default="find",
        ),
        Option(
            "module_timeout",
            Duration(),
            "Each module's own deadline (inside the check's `timeout`, whose default in "
            "`import` mode is 60 s); a module that takes longer is reported as hung.",
            default="5s",
        ),
    )

    def validate(self, options: dict[str, Any]) -> list[tuple[str | None, str]]:
        per_module = options.get("module_timeout")
        if isinstance(per_module, (int, float)) and per_module <= 0:
            return [("module_timeout", "option 'module_timeout': must be more than 0")]
        return []

    def default_timeout(self, spec: CheckSpec) -> float | None:
        return IMPORT_MODE_TIMEOUT if spec.options.get("mode") == "import" else None

    def runs_code(self, spec: CheckSpec) -> bool:
        return spec.options.get("mode") == "import"

    async def run(self, spec: CheckSpec, ctx: CheckContext) -> Outcome:
        from envdoctor.pkgs.importcheck import check_modules

        modules: list[str] = list(spec.options["modules"])
        mode: str = spec.options["mode"]
        target = ctx.session.target
        if target.problem:
            from envdoctor.target import TargetError

            raise TargetError(target.problem)
        python = str(target.executable)
        in_process = mode == "find" and target.is_running_interpreter
        ctx.note(
            f"target {python} ({target.reason}); {mode} mode for {len(modules)} module(s)"
            + (", in-process (the target runs envdoctor)" if in_process else "")
        )
        module_timeout = float(spec.options["module_timeout"])
        if mode == "find" and len(modules) > 1:
            # Finding takes milliseconds; only a parent imported to find a child can hang, and
            # it must not eat the whole check: at most half of it, the rest for the others.
            share = max(FIND_MIN_MODULE_TIMEOUT, ctx.timeout * FIND_MODULE_SHARE)
            if share < module_timeout:
                module_timeout = share
                ctx.note(
                    f"each module's deadline: {_seconds(share)} (half the check's "
                    f"{_seconds(ctx.timeout)}), so one that hangs leaves time for the rest"
                )
        info = None
        if mode == "find" and not in_process:
            info = await ctx.target_info()  # cached with the environment: no child on a hit
        run = await check_modules(
            python,
            modules,
            mode=mode,
            module_timeout=module_timeout,
            deadline=ctx.deadline - DEADLINE_MARGIN,
            cwd=ctx.project,
            safe=ctx.session.safe,
            in_process=in_process,
            info=info,
        )
        explainer = _Explainer(ctx, mode, python, run)
        explainer.vouched = await _vouched(ctx, run)
        findings = [explainer.finding(report) for report in run.reports]
        for line in run.evidence:
            ctx.note(line)
        return explainer.outcome(findings)


class _Explainer:
    """Turns ModuleReports into findings, a headline and one combined fix."""

    def __init__(self, ctx: CheckContext, mode: str, python: str, run: ImportRun) -> None:
        self.ctx, self.mode, self.python, self.run = ctx, mode, python, run
        # distributions to install, by how; only names the table or the target's metadata
        # vouch for: a bare import name is never installed (dependency confusion).
        self.dists: dict[str, list[str]] = {"install": [], "reinstall": []}
        self.other_fixes: list[str] = []
        self.reasons: dict[str, str] = {}
        # canonical name -> a distribution of a missing module's name that the project
        # declares or an installed distribution requires (pkgs/vouch.py)
        self.vouched: dict[str, Provider] = {}

    # -- one module ---------------------------------------------------------------------

    def finding(self, report: ModuleReport) -> Finding:
        self._note(report)
        handler = getattr(self, f"_{report.state}")
        finding: Finding = handler(report)
        return finding

    def _ok(self, r: ModuleReport) -> Finding:
        is_file = bool(r.origin) and Path(r.origin or "").is_absolute()
        if self.mode == "import":
            where = f" from {self._path(r.origin or '')}" if is_file else ""
            return Finding(r.module, Status.PASS, f"imported in {_took(r.seconds)}{where}")
        where = f" at {self._path(r.origin or '')}" if is_file else ""
        if r.origin and not is_file:  # "built-in", "frozen", "namespace package"
            where = f" ({r.origin})"
        return Finding(r.module, Status.PASS, f"found{where}")

    def _missing(self, r: ModuleReport) -> Finding:
        from envdoctor.pkgs.names import (
            PLATFORM_ONLY,
            STDLIB_BUILD_DEPS,
            added_to_stdlib,
            canonical,
            import_name_for,
            provider_for,
            removed_from_stdlib,
            table_dist,
            top_level,
        )

        module, top = r.module, top_level(r.module)
        self.reasons[module] = "not found"
        removed = removed_from_stdlib(module, self.run.version)
        if removed:
            version, replacement = removed
            message = f"not found: removed from the standard library in Python {version}"
            if replacement:
                return self._fail_install(r, f"{message} (provided by {replacement})", replacement)
            return Finding(module, Status.FAIL, message)
        added = added_to_stdlib(module, self.run.version)
        if added:
            version, backport = added
            message = f"not found: in the standard library from Python {version}"
            if self.run.version:
                message += f" (the target is {'.'.join(map(str, self.run.version[:2]))})"
            if backport:
                message += f"; on older Pythons use {backport}"
            return Finding(module, Status.FAIL, message)
        parent_exists = bool(r.missing) and r.missing != top
        if parent_exists and not table_dist(module):
            parent, _, last = (r.missing or module).rpartition(".")
            message = f"not found: {parent} has no module {last!r}"
            if r.claims:
                message += f" (from {r.claims[0]})"
            return Finding(module, Status.FAIL, message)
        if r.stdlib and not parent_exists:
            only = PLATFORM_ONLY.get(top)
            if only:
                message = f"not found: a standard-library module that exists on {only} only"
                return Finding(module, Status.FAIL, message)
            needs = STDLIB_BUILD_DEPS.get(top)
            if needs:
                message = f"not found: this Python was built without {needs.split(' (')[0]}"
                fix = f"use a Python built with {needs}"
                self.other_fixes.append(fix)
                return Finding(module, Status.FAIL, message, fix=fix)
            return Finding(
                module,
                Status.FAIL,
                "not found, although it belongs to the standard library "
                "(an incomplete Python installation)",
            )
        known = import_name_for(module)
        if known and known != module and canonical(known) != canonical(module):
            message = f"not found: {module!r} is a distribution name; its import name is {known!r}"
            return Finding(module, Status.FAIL, message)
        provider = provider_for(module, claims=() if parent_exists else r.claims)
        if provider.reinstall:
            message = (
                f"not found, although {provider.dist} is installed and declares it "
                "(a broken install)"
            )
            return self._fail_install(r, message, provider.dist, "reinstall")
        if provider.source == "guess":
            vouched = self.vouched.get(canonical(top))
            if vouched is None:
                return Finding(module, Status.FAIL, "not found: " + self._unknown(top))
            return self._fail_install(r, f"not found ({_vouched_by(vouched)})", vouched.dist)
        return self._fail_install(r, f"not found (provided by {provider.display})", provider.dist)

    def _error(self, r: ModuleReport) -> Finding:
        from envdoctor.pkgs.names import canonical, missing_shared_library, provider_for

        detail = f"{r.error_type or 'Exception'}: {r.message}" if r.message else r.error_type
        message = detail or "failed"
        self.reasons[r.module] = r.error_type or "error"
        found = f"{r.dist[0]} {r.dist[1]}".strip() if r.dist else None
        source = self._path(r.where) if r.where else None
        if r.missing:
            owner = r.dist[0] if r.dist else None
            provider = provider_for(
                r.missing, requires=r.requires, required_by=owner, claims=r.claims
            )
            if provider.reinstall:
                message += f" ({provider.dist} is installed but incomplete: reinstall it)"
                return self._fail_install(r, message, provider.dist, "reinstall", found, source)
            if provider.source == "requirement":
                message += f" (provided by {provider.display}, required by {provider.required_by})"
            elif provider.source == "table":
                message += f" (provided by {provider.display})"
            else:  # a guess: never advise installing a name nobody vouched for
                top = r.missing.split(".", 1)[0]
                vouched = self.vouched.get(canonical(top))
                if vouched is None:
                    message += f" ({self._unknown(top)})"
                    return Finding(r.module, Status.FAIL, message, found=found, source=source)
                message += f" ({_vouched_by(vouched)})"
                provider = vouched
            return self._fail_install(r, message, provider.dist, "install", found, source)
        library = missing_shared_library(r.message or "") if r.error_type else None
        fix = None
        if library:
            name, package = library
            message += f" (the system library {name} is missing)"
            if package:
                fix = f"apt-get install {package}"
                self.other_fixes.append(fix)
        return Finding(r.module, Status.FAIL, message, found=found, source=source, fix=fix)

    def _exit(self, r: ModuleReport) -> Finding:
        status = "" if r.exit_code is None else f" with status {r.exit_code}"
        self.reasons[r.module] = "exited"
        source = self._path(r.where) if r.where else self._frame(r)
        message = f"exited the interpreter{status} while importing"
        return Finding(r.module, Status.FAIL, message, source=source)

    def _crashed(self, r: ModuleReport) -> Finding:
        self.reasons[r.module] = "crashed"
        message = f"crashed the interpreter ({r.signal or 'killed by a signal'})"
        return Finding(r.module, Status.FAIL, message, source=self._frame(r))

    def _hung(self, r: ModuleReport) -> Finding:
        self.reasons[r.module] = "hung"
        message = f"hung: no answer within {_seconds(r.seconds or 0.0)}"
        return Finding(r.module, Status.FAIL, message, source=self._frame(r))

    def _late(self, r: ModuleReport) -> Finding:
        self.reasons[r.module] = "unfinished"
        message = f"no answer before the check's deadline ({_seconds(self.ctx.timeout)}) ran out"
        return Finding(r.module, Status.FAIL, message, source=self._frame(r))

    def _unchecked(self, r: ModuleReport) -> Finding:
        self.reasons[r.module] = "not checked"
        message = f"not checked: the check's deadline ({_seconds(self.ctx.timeout)}) ran out first"
        return Finding(r.module, Status.FAIL, message)

    def _unverified(self, r: ModuleReport) -> Finding:
        message = f"not verified under --safe: finding it means importing {r.parent}"
        return Finding(r.module, Status.SKIP, message)

    def _fail_install(
        self,
        r: ModuleReport,
        message: str,
        dist: str,
        how: str = "install",
        found: str | None = None,
        source: str | None = None,
    ) -> Finding:
        """A failure fixed by installing `dist` into the target (collected for one command)."""
        self.dists[how].append(dist)
        argv = self._install_argv([dist], how == "reinstall")
        return Finding(
            r.module, Status.FAIL, message, found=found, source=source, fix=shlex.join(argv)
        )

    def _unknown(self, top: str) -> str:
        """Why no install command is given for `top`, and where it may be instead.

        A bare import name is not a distribution name anybody vouched for: advising
        `pip install <name>` invites dependency confusion and typosquatting (a private package
        of the same name, or a look-alike, on the public index). A directory or file of that
        name in the project is most often the project's own package, not on sys.path.
        """
        text = "no installed or known distribution provides it"
        for where in (Path(top), Path(f"{top}.py"), Path("src") / top):
            candidate = self.ctx.project / where
            if candidate.is_dir() or candidate.is_file():
                shown = f"./{where.as_posix()}"
                return (
                    f"{text}; found in the project at {shown} but not importable: install "
                    "the project (pip install -e .) or put it on sys.path"
                )
        return text

    # -- the whole check ----------------------------------------------------------------

    def outcome(self, findings: list[Finding]) -> Outcome:
        status = worst((f.status for f in findings), default=Status.SKIP)
        passed = sum(f.status is Status.PASS for f in findings)
        unverified = sum(f.status is Status.SKIP for f in findings)
        total = len(findings)
        if status in (Status.PASS, Status.SKIP):
            noun = "module imports" if passed == 1 else "modules import"
            if self.mode == "find":
                noun = "module found" if passed == 1 else "modules found"
            message = f"{passed} {noun}"
            if unverified:
                message += f", {unverified} not verified under --safe"
            if status is Status.SKIP:
                message = f"{unverified} module(s) not verified under --safe"
            return Outcome(status, message, findings)
        message = self._headline([f for f in findings if f.status is Status.FAIL], total)
        actions: list[list[str]] = []
        for how in ("install", "reinstall"):
            if self.dists[how]:
                dists = list(dict.fromkeys(self.dists[how]))
                actions.append(self._install_argv(dists, how == "reinstall"))
        steps = [shlex.join(a) for a in actions]
        if actions:
            from envdoctor.pkgs.evaluate import UV_FALLBACK_NOTE, uv_fallback

            if uv_fallback(self.ctx.project):
                self.ctx.note(UV_FALLBACK_NOTE)
        steps += list(dict.fromkeys(self.other_fixes))
        return Outcome(
            status,
            message,
            findings,
            fix=" && ".join(steps) if steps else None,
            actions=actions,
        )

    def _headline(self, bad: list[Finding], total: int) -> str:
        """ "2 of 6 modules not found: a, b; 1 hung: c; 3 not checked: d, e, f".

        Modules whose answer never came (a hang in find mode, the deadline, never tried) are
        counted apart: calling them "not found" would send the user after a missing package.
        """
        apart = ["unfinished", "not checked"]
        if self.mode == "find":
            apart.insert(0, "hung")
        quiet = "not found" if self.mode == "find" else ""  # the usual reason: not repeated
        main = [f for f in bad if self.reasons.get(f.subject) not in apart]
        groups: list[tuple[str, list[Finding]]] = []
        if main:
            what = "not found"
            if self.mode == "import":
                what = "fails to import" if len(main) == 1 else "fail to import"
            groups.append((what, main))
        for label in apart:
            group = [f for f in bad if self.reasons.get(f.subject) == label]
            if group:
                groups.append((label, group))
        parts = []
        for what, group in groups:
            shown = []
            for f in group[:HEADLINE_NAMES]:
                reason = self.reasons.get(f.subject)
                shown.append(f.subject if reason in (quiet, what) else f"{f.subject} ({reason})")
            names = ", ".join(shown)
            if len(group) > HEADLINE_NAMES:
                names += f", +{len(group) - HEADLINE_NAMES} more"
            lead = f"{len(group)} of {total} modules" if not parts else str(len(group))
            parts.append(f"{lead} {what}: {names}")
        return "; ".join(parts)

    # -- helpers ------------------------------------------------------------------------

    def _install_argv(self, dists: list[str], reinstall: bool) -> list[str]:
        from envdoctor.pkgs.evaluate import install_command

        argv = install_command(self.python, dists, self.ctx.project)
        if reinstall:  # installed but files are missing: put them back, touch nothing else
            argv += ["--reinstall" if argv[0] == "uv" else "--force-reinstall", "--no-deps"]
        return argv

    def _note(self, r: ModuleReport) -> None:
        took = f" in {_took(r.seconds)}" if r.seconds is not None else ""
        where = f" ({self._path(r.origin)})" if r.origin else ""
        self.ctx.note(f"{r.module}: {r.state}{took}{where}")
        if r.imported:
            self.ctx.note(f"{r.module}: found after importing {r.imported}")
        if r.stdout_bytes or r.stderr_bytes:
            from envdoctor.units import format_size

            self.ctx.note(
                f"{r.module}: printed {format_size(r.stdout_bytes)} to stdout and "
                f"{format_size(r.stderr_bytes)} to stderr while importing (discarded)"
            )
        for frame in r.stack:
            self.ctx.note(f"{r.module}:   at {self._path(frame)}")

    def _frame(self, r: ModuleReport) -> str | None:
        """The most telling frame of a crash or hang: the project's own code, else innermost."""
        if not r.stack:
            return None
        project = str(self.ctx.project.resolve())
        mine = [f for f in r.stack if f.startswith(project)]
        return self._path((mine or list(r.stack))[0].split(" in ", 1)[0])

    def _path(self, location: str) -> str:
        """A file (or file:line) relative to the project when inside it."""
        path, sep, rest = location.rpartition(":") if _has_line(location) else (location, "", "")
        shown = self.ctx.session.display_path(Path(path)) if path else location
        return f"{shown}{sep}{rest}"


async def _vouched(ctx: CheckContext, run: ImportRun) -> dict[str, Provider]:
    """For missing modules that no table or metadata names a distribution for: a distribution
    of that very name the project declares, or an installed one requires. Looked up only when
    such a module is missing, within the check's deadline; nothing found is no error."""
    import asyncio

    from envdoctor.pkgs.names import table_dist, top_level

    names = set()
    for r in run.reports:
        missing = r.missing or (r.module if r.state == "missing" else None)
        if missing and r.state in ("missing", "error") and not table_dist(missing):
            names.add(top_level(missing))
    if not names:
        return {}
    from envdoctor.pkgs.environment import inspect_environment
    from envdoctor.pkgs.vouch import declared, required_by_installed

    found = await ctx.run_sync(declared, ctx.project, names)
    try:
        env = await asyncio.wait_for(inspect_environment(ctx), max(0.001, ctx.remaining() - 0.1))
    except Exception as exc:  # a hint must never turn a clear "not found" into an error
        ctx.note(f"installed requirements not read: {type(exc).__name__}: {exc}")
        return found
    for name, provider in required_by_installed(env, names).items():
        found.setdefault(name, provider)
    return found


def _vouched_by(provider: Provider) -> str:
    if provider.source == "declared":
        return f"provided by {provider.display}, declared in {provider.required_by}"
    return f"provided by {provider.display}, required by {provider.required_by}"


def _has_line(location: str) -> bool:
    head, sep, tail = location.rpartition(":")
    return bool(sep and head and tail.split(" ", 1)[0].isdigit())


def _took(seconds: float | None) -> str:
    from envdoctor.units import format_duration

    return format_duration(seconds or 0.0)


def _seconds(seconds: float) -> str:
    """ "5 s" for whole seconds (as the option was written), else the usual format."""
    if seconds >= 1 and float(seconds).is_integer():
        return f"{int(seconds)} s"
    from envdoctor.units import format_duration

    return format_duration(seconds)


KIND = ImportsKind()
