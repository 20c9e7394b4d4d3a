"""The command line: parse, load, run, report, exit code. Thin on purpose (DESIGN.md §2).

Exit codes: 0 ready · 1 not ready · 2 usage or configuration error · 130 interrupted.
Nothing but the report goes to stdout; errors and progress go to stderr.
"""

from __future__ import annotations

import os
import sys
import time
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from envdoctor import __version__

EXIT_READY, EXIT_NOT_READY, EXIT_CONFIG, EXIT_WAIT_EXPIRED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Is this machine ready to run this project? Checks, a readiness score, and the fixes.",
    context_settings={"help_option_names": ["-h", "--help"]},
)


class Format(str, Enum):
    console = "console"
    json = "json"
    junit = "junit"
    github = "github"
    markdown = "markdown"


class Fail(Exception):
    """A one-line error for the user, with its exit code."""

    def __init__(self, message: str, code: int = EXIT_CONFIG) -> None:
        super().__init__(message)
        self.code = code


def _version(value: bool) -> None:
    if value:
        typer.echo(f"envdoctor {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """envdoctor: is this machine ready to run this project, and if not, exactly what to do."""


ConfigOpt = Annotated[
    Optional[list[Path]],  # noqa: UP045 - typer needs Optional here on Python 3.10
    typer.Option(
        "--config",
        "-c",
        help="Check module to use instead of discovery (repeatable).",
        show_default=False,
    ),
]
ProjectOpt = Annotated[
    Path | None,
    typer.Option(
        "--project", "-p", help="Project directory (default: the current one).", show_default=False
    ),
]
TimeoutOpt = Annotated[
    str | None,
    typer.Option(
        "--timeout",
        help="Default per-check timeout, e.g. 2s (checks with their own keep it).",
        show_default=False,
    ),
]
SafeOpt = Annotated[
    bool,
    typer.Option(
        "--safe",
        help="Do not run commands or project code (for a repository you have not read yet).",
    ),
]
NoCacheOpt = Annotated[
    bool, typer.Option("--no-cache", help="Inspect the target interpreter afresh (skip the cache).")
]
NoColorOpt = Annotated[bool, typer.Option("--no-color", help="No colour, whatever the terminal.")]
PythonOpt = Annotated[
    str | None,
    typer.Option(
        "--python",
        help="Target interpreter (default: $VIRTUAL_ENV, ./.venv, this one).",
        show_default=False,
    ),
]


def check(
    config: ConfigOpt = None,
    project: ProjectOpt = None,
    python: PythonOpt = None,
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only", help="Run only these checks (id or tag; repeatable).", show_default=False
        ),
    ] = None,
    skip: Annotated[
        list[str] | None,
        typer.Option(
            "--skip", help="Leave out these checks (id or tag; repeatable).", show_default=False
        ),
    ] = None,
    format: Annotated[
        Format, typer.Option("--format", "-f", help="Report format.")
    ] = Format.console,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write the report to this file instead of stdout.",
            show_default=False,
        ),
    ] = None,
    timeout: TimeoutOpt = None,
    wait: Annotated[
        str | None,
        typer.Option(
            "--wait",
            metavar="DURATION",
            help="Re-run what has not passed until it does (exit 0) or DURATION runs out "
            "(exit 3), e.g. 60s.",
            show_default=False,
        ),
    ] = None,
    min_score: Annotated[
        int | None,
        typer.Option(
            "--min-score", min=0, max=100, help="Not ready below this score.", show_default=False
        ),
    ] = None,
    strict: Annotated[
        bool,
        typer.Option("--strict", help="Optional failures and warnings also make it not ready."),
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show passing details, evidence and tracebacks.")
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Show only problems and the summary.")
    ] = False,
    no_color: NoColorOpt = False,
    safe: SafeOpt = False,
    no_cache: NoCacheOpt = False,
) -> None:
    """Run the checks and report whether this machine is ready."""
    report = _check_once(
        project, config, python, only=only, skip=skip, timeout=timeout, min_score=min_score,
        strict=strict, safe=safe, no_cache=no_cache, verbose=verbose, wait=wait,
        progress=_Progress.create(enabled=not quiet),
    )  # fmt: skip
    _emit(report, format.value, output, verbose=verbose, quiet=quiet, no_color=no_color)
    if report.interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)
    if report.verdict.ready:
        raise typer.Exit(EXIT_READY)
    raise typer.Exit(EXIT_WAIT_EXPIRED if report.wait and report.wait.expired else EXIT_NOT_READY)


def fix(
    config: ConfigOpt = None,
    project: ProjectOpt = None,
    python: PythonOpt = None,
    apply: Annotated[
        bool,
        typer.Option(
            "--apply", help="Run the safe steps (installs into the target), then re-check."
        ),
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask before --apply runs.")
    ] = False,
    timeout: TimeoutOpt = None,
    safe: SafeOpt = False,
    no_cache: NoCacheOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Print one fix script for everything failing; --apply runs its safe steps."""
    from envdoctor.fixes import apply_steps, fix_script, safe_steps

    report = _check_once(project, config, python, timeout=timeout, safe=safe, no_cache=no_cache)
    if report.interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)
    if not apply:
        _write(fix_script(report))
        raise typer.Exit(EXIT_READY)
    steps = safe_steps(report)
    if not steps:
        sys.stderr.write(
            "envdoctor: nothing that --apply may run (only installs into the target are)\n"
        )
        _write(fix_script(report))
        raise typer.Exit(EXIT_READY if report.verdict.ready else EXIT_NOT_READY)
    if not apply_steps(steps, assume_yes=yes, cwd=str(report.project)):
        raise Fail("not applied: answer y, or pass --yes (no terminal to ask on)", EXIT_NOT_READY)
    # Afresh: the installs just changed the target (its cached inspection is stale).
    after = _check_once(project, config, python, timeout=timeout, safe=safe, no_cache=True)
    _emit(after, "console", None, verbose=False, quiet=False, no_color=no_color)
    raise typer.Exit(EXIT_READY if after.verdict.ready else EXIT_NOT_READY)


def list_checks(
    config: ConfigOpt = None, project: ProjectOpt = None, python: PythonOpt = None
) -> None:
    """List the checks that would run: id, kind, severity and where each is defined."""
    cfg, _ = _load(project, config, python)
    if not cfg.checks:
        raise Fail(_no_checks_message(cfg))
    rows = [("ID", "KIND", "SEVERITY", "SOURCE")]
    rows += [(s.id, s.kind, s.severity.value, str(s.source)) for s in cfg.checks]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        _write(
            "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3]))
            + "  "
            + row[3]
            + "\n"
        )


def explain(
    check_id: Annotated[
        str, typer.Argument(metavar="ID", help="The id of the check to run and explain.")
    ],
    config: ConfigOpt = None,
    project: ProjectOpt = None,
    python: PythonOpt = None,
    timeout: TimeoutOpt = None,
    no_color: NoColorOpt = False,
    safe: SafeOpt = False,
    no_cache: NoCacheOpt = False,
) -> None:
    """Run one check (ignoring depends_on) and show all its evidence."""
    from envdoctor.options import did_you_mean
    from envdoctor.units import parse_duration

    default_timeout = (
        _parse_cli_duration("--timeout", timeout, parse_duration) if timeout is not None else None
    )
    cfg, session = _load(project, config, python)
    spec = next((s for s in cfg.checks if s.id == check_id), None)
    if spec is None:
        raise Fail(
            f"no check with id '{check_id}'{did_you_mean(check_id, [s.id for s in cfg.checks])}"
        )
    session.verbose, session.safe, session.use_cache = True, safe, not no_cache
    from dataclasses import replace

    alone = replace(spec, depends_on=())
    started = time.monotonic()
    per_check = default_timeout if default_timeout is not None else cfg.settings.timeout
    results, interrupted = _run(cfg, session, [alone], per_check, None)
    report = _report(cfg, session, results, None, False, interrupted, started)
    from envdoctor.reporters.explain import render_explain

    color, unicode = _terminal_style(sys.stdout, no_color)
    shown = replace(results[0], spec=replace(spec, title=results[0].spec.title))  # keep depends_on
    _write(render_explain(report, shown, cfg, color=color, unicode=unicode))
    if interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)
    raise typer.Exit(
        EXIT_READY if results[0].status.ok or results[0].status.value == "skip" else EXIT_NOT_READY
    )


def schema() -> None:
    """Print the JSON Schema of the check-module format (for editor completion)."""
    import json

    from envdoctor.schema import build_schema

    typer.echo(json.dumps(build_schema(), indent=2))


COMMANDS = {
    "check": check,
    "list": list_checks,
    "explain": explain,
    "fix": fix,
    "schema": schema,
}


def build_app(argv: list[str]) -> typer.Typer:
    """Registers the commands on the app; only the one being run when argv names one.

    typer turns every registered function's signature into click parameters on each run
    (~2 ms a command): `envdoctor check` should not pay for the others (DESIGN.md §10).
    """
    if not app.registered_commands:
        first = next((arg for arg in argv if not arg.startswith("-")), None)
        for name in [first] if first in COMMANDS else list(COMMANDS):
            app.command(name)(COMMANDS[name])  # type: ignore[index]
    return app


# -- helpers ------------------------------------------------------------------------------


def _check_once(  # type: ignore[no-untyped-def]
    project: Path | None,
    config: list[Path] | None,
    python: str | None,
    *,
    only: list[str] | None = None,
    skip: list[str] | None = None,
    timeout: str | None = None,
    min_score: int | None = None,
    strict: bool = False,
    safe: bool = False,
    no_cache: bool = False,
    progress: _Progress | None = None,
    verbose: bool = False,
    wait: str | None = None,
):
    """Load, select, run and judge: what `check` does, and what `fix` does before and after."""
    from envdoctor.units import parse_duration

    default_timeout = (
        _parse_cli_duration("--timeout", timeout, parse_duration) if timeout is not None else None
    )
    wait_for = _parse_cli_duration("--wait", wait, parse_duration) if wait is not None else None
    started = time.monotonic()
    cfg, session = _load(project, config, python)
    if not cfg.checks:
        raise Fail(_no_checks_message(cfg))
    specs = _select(cfg.checks, only or [], skip or [])
    session.verbose, session.safe, session.use_cache = verbose, safe, not no_cache
    per_check = default_timeout if default_timeout is not None else cfg.settings.timeout
    results, interrupted = _run(cfg, session, specs, per_check, progress, wait_for, strict)
    return _report(cfg, session, results, min_score, strict, interrupted, started, wait_for)


def _parse_cli_duration(flag: str, value: str, parse: object) -> float:
    from envdoctor.errors import ConfigError

    try:
        return parse(value)  # type: ignore[operator,no-any-return]
    except ConfigError as exc:
        raise Fail(f"{flag}: {exc.message}") from None


def _load(project: Path | None, config: list[Path] | None, python: str | None):  # type: ignore[no-untyped-def]
    from envdoctor.config import load_config
    from envdoctor.context import Session
    from envdoctor.errors import ConfigErrors
    from envdoctor.target import choose_target

    root = (project or Path.cwd()).resolve()
    if not root.is_dir():
        raise Fail(f"--project {project}: not a directory")
    try:
        cfg = load_config(root, config or None)
    except ConfigErrors as exc:
        from envdoctor.redact import Redactor

        mask = Redactor()  # a literal URL quoted back in an error keeps its password hidden
        raise Fail(
            "\n".join(f"envdoctor: {mask(str(e))}" for e in exc.errors), EXIT_CONFIG
        ) from None
    target = choose_target(root, python, os.environ)
    if target.problem:  # said once here; the checks that need the target say it in the report
        sys.stderr.write(f"envdoctor: {target.problem}\n")
    return cfg, Session(
        project=root, target=target, environ=cfg.variables, dotenv=cfg.settings.dotenv
    )


def _no_checks_message(cfg) -> str:  # type: ignore[no-untyped-def]
    patterns = ", ".join(cfg.settings.include) or "(none)"
    hint = (
        "run it from the project's root or pass --project DIR"
        if not (cfg.project / "pyproject.toml").exists()
        else "add [[check]] tables to a check module (envdoctor schema prints the format)"
    )
    return (
        f"no checks defined in {cfg.project}: [tool.envdoctor] in pyproject.toml has none and "
        f"include = [{patterns}] matched no check module with checks; {hint}"
    )


def _select(specs, only: list[str], skip: list[str]):  # type: ignore[no-untyped-def]
    from envdoctor.options import did_you_mean
    from envdoctor.runner import select

    names = {s.id for s in specs} | {t for s in specs for t in s.tags}
    for name in [*only, *skip]:
        if name not in names:
            raise Fail(
                f"--only/--skip: no check id or tag '{name}'{did_you_mean(name, sorted(names))}"
            )
    chosen = select(specs, only, skip)
    if not chosen:
        raise Fail("--only/--skip left no checks to run")
    return chosen


def _run(cfg, session, specs, default_timeout: float, progress, wait=None, strict=False):  # type: ignore[no-untyped-def]
    import asyncio
    import signal
    import threading

    from envdoctor.runner import Runner

    session.redact = cfg.redactor()
    runner = Runner(
        session,
        default_timeout,
        session.redact,
        progress=progress.update if progress else None,
    )
    # SIGTERM (what CI sends to cancel a job) ends the run like Ctrl-C: children killed, the
    # report of what finished printed.
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        if wait is None:
            results = asyncio.run(runner.run(specs))
        else:
            from envdoctor.score import not_good_enough

            # The clock starts when the checks start (DESIGN.md §6), not at start-up.
            results = asyncio.run(
                runner.run(
                    specs,
                    wait_until=time.monotonic() + wait,
                    keep_trying=not_good_enough(strict),
                )
            )
        return results, False
    except KeyboardInterrupt:
        return runner.finished_or_interrupted(specs), True
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if progress:
            progress.clear()


def _write(text: str) -> None:
    """stdout in whatever encoding it has: what it cannot encode is escaped, never a crash."""
    try:
        sys.stdout.write(text)
    except UnicodeEncodeError:
        encoding = sys.stdout.encoding or "ascii"
        sys.stdout.write(text.encode(encoding, "backslashreplace").decode(encoding))
    sys.stdout.flush()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _report(
    cfg,
    session,
    results,
    min_score: int | None,
    strict: bool,
    interrupted: bool,
    started: float,
    wait: float | None = None,
):  # type: ignore[no-untyped-def]
    from envdoctor.model import Interpreter, Report, Wait
    from envdoctor.score import judge
    from envdoctor.units import format_duration

    floor = cfg.settings.min_score if min_score is None else min_score
    gave_up = format_duration(wait) if wait is not None and not interrupted else None
    verdict = judge(results, floor, strict, interrupted, gave_up_after=gave_up)
    if session.target.problem and verdict.ready:  # no check needed it: the run still may not pass
        verdict.ready = False
        verdict.reasons.append(f"the target interpreter cannot be used: {session.target.problem}")
    info = session.target_info_result
    python = Interpreter(
        executable=str(session.target.executable),
        version=info.version if info else session.target.cheap_version(),
        reason=session.target.reason,
    )
    return Report(
        project=str(session.project),
        python=python,
        results=results,
        verdict=verdict,
        min_score=floor,
        duration_ms=(time.monotonic() - started) * 1000,
        strict=strict,
        interrupted=interrupted,
        envdoctor_version=__version__,
        wait=None if wait is None else Wait(wait, expired=not verdict.ready and not interrupted),
    )


def _terminal_style(stream, no_color: bool) -> tuple[bool, bool]:  # type: ignore[no-untyped-def]
    """Colour only on a terminal and when nobody said no; Unicode only if it can be encoded."""
    tty = bool(getattr(stream, "isatty", lambda: False)())
    color = (
        tty and not no_color and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"
    )
    encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
    return color, encoding in ("utf8", "utf8sig")


def _emit(
    report, fmt: str, output: Path | None, *, verbose: bool, quiet: bool, no_color: bool
) -> None:  # type: ignore[no-untyped-def]
    from envdoctor.reporters import RenderOptions, render

    if output is not None:
        options = RenderOptions(color=False, unicode=True, verbose=verbose, quiet=quiet)
    else:
        color, unicode = _terminal_style(sys.stdout, no_color)
        options = RenderOptions(color=color, unicode=unicode, verbose=verbose, quiet=quiet)
    text = render(report, fmt, options)
    if output is None:
        _write(text)
        sys.stdout.flush()
        return
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise Fail(f"--output {output}: {exc.strerror or exc}") from None


class _Progress:
    """A live line on stderr while checks run: on a terminal only, never in CI logs."""

    def __init__(self) -> None:
        self.shown = False
        self.frames = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
        self.tick = 0

    @classmethod
    def create(cls, enabled: bool) -> _Progress | None:
        if not enabled or os.environ.get("CI") or os.environ.get("TERM") == "dumb":
            return None
        if not (sys.stderr.isatty() and sys.stdout.isatty()):
            return None
        return cls()

    def update(self, done: int, total: int, running: list[str]) -> None:
        self.tick += 1
        names = ", ".join(running[:4]) + ("…" if len(running) > 4 else "")
        line = f"{self.frames[self.tick % len(self.frames)]} {done}/{total} checks" + (
            f" · {names}" if names else ""
        )
        sys.stderr.write("\r\x1b[K" + line[:120])
        sys.stderr.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


def run() -> None:
    """The console script: main(), then exit without the interpreter's teardown.

    Tearing down a process that imported asyncio, typer and the kinds costs ~45 ms here,
    a third of a whole `envdoctor check` (benchmarks/README.md): everything worth keeping is
    written and closed by then, so flush stdio and leave.
    """
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe: nothing more can be said anyway
        pass
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: one clear line per error, never a traceback."""
    try:
        from typer._click.exceptions import ClickException, UsageError  # newer typer vendors click
    except ImportError:  # pragma: no cover - older typer
        from click.exceptions import ClickException, UsageError  # type: ignore[no-redef]

    try:
        args = sys.argv[1:] if argv is None else argv
        code = build_app(args)(args=args, prog_name="envdoctor", standalone_mode=False)
    except Fail as exc:
        sys.stderr.write(("" if str(exc).startswith("envdoctor:") else "envdoctor: ") + f"{exc}\n")
        return exc.code
    except UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare `envdoctor`: the help, as asked
            sys.stdout.write(exc.format_message() + "\n")
            return EXIT_CONFIG
        command = exc.ctx.command_path if exc.ctx else "envdoctor"
        sys.stderr.write(f"envdoctor: {exc.format_message()} (see '{command} --help')\n")
        return EXIT_CONFIG
    except ClickException as exc:
        sys.stderr.write(f"envdoctor: {exc.format_message()}\n")
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        sys.stderr.write("envdoctor: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_NOT_READY
    except Exception as exc:  # a bug of ours: one line, the traceback only on request
        if os.environ.get("ENVDOCTOR_DEBUG"):
            raise
        sys.stderr.write(
            f"envdoctor: internal error: {type(exc).__name__}: {exc} "
            "(set ENVDOCTOR_DEBUG=1 for the traceback, and please report it)\n"
        )
        return EXIT_CONFIG
    return code if isinstance(code, int) else 0
