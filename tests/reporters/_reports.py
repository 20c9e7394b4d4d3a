"""Reports built by hand for the reporter tests: every status, both severities, every field.

Reporters only read a `Report`, so building one directly tests them without running checks, and
lets each test name exactly the situation it renders. `judge` (the real scorer) makes the verdict,
and `redacted` mirrors what the runner does to every string before a reporter sees it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from envdoctor.errors import Source
from envdoctor.model import (
    CheckSpec,
    Finding,
    Interpreter,
    Report,
    Result,
    Severity,
    Status,
)
from envdoctor.redact import Redactor
from envdoctor.reporters import RenderOptions
from envdoctor.score import judge

if TYPE_CHECKING:
    from tests.conftest import CliResult, Project

CANARY = "s3cr3t-canary"
CANARY_URL = f"postgresql://app:{CANARY}@db/app"
REDACTED_URL = "postgresql://app:***@db/app"

E2E_SECRET = "canary-pw-123"
E2E_SECRET_URL = f"postgresql://u:{E2E_SECRET}@h/db"
FORMATS = ("console", "json", "junit", "github", "markdown")


def result(
    id: str,
    status: Status,
    message: str,
    *,
    category: str = "Files",
    kind: str = "file",
    severity: Severity = Severity.REQUIRED,
    title: str = "",
    line: int | None = 1,
    path: str = "checks/envdoctor.toml",
    findings: list[Finding] | None = None,
    fix: str | None = None,
    evidence: list[str] | None = None,
    duration_ms: float = 12.0,
    traceback: str | None = None,
) -> Result:
    spec = CheckSpec(id=id, kind=kind, source=Source(path, line), title=title, severity=severity)
    return Result(
        spec=spec,
        category=category,
        status=status,
        message=message,
        findings=list(findings or []),
        fix=fix,
        evidence=list(evidence or []),
        duration_ms=duration_ms,
        traceback=traceback,
    )


def report(
    results: list[Result],
    *,
    min_score: int = 0,
    strict: bool = False,
    interrupted: bool = False,
    duration_ms: float = 312.4,
    project: str = "/srv/shop",
    python: str = "/srv/shop/.venv/bin/python",
    version: str | None = "3.12.3",
) -> Report:
    return Report(
        project=project,
        python=Interpreter(python, version, "./.venv"),
        results=results,
        verdict=judge(results, min_score, strict),
        min_score=min_score,
        duration_ms=duration_ms,
        strict=strict,
        interrupted=interrupted,
        envdoctor_version="0.1.0",
    )


def packages_result() -> Result:
    """A required failure with findings of every status, some pointing at a file line."""
    return result(
        "packages",
        Status.FAIL,
        "2 of 41 requirements not met",
        category="Packages",
        kind="packages",
        path="checks/python.toml",
        line=7,
        findings=[
            Finding(
                "hvac",
                Status.FAIL,
                "not installed",
                expected=">=1.0",
                source="requirements.txt:12",
                fix=".venv/bin/python -m pip install 'hvac>=1.0'",
            ),
            Finding(
                "pydantic",
                Status.FAIL,
                "2.7.1 installed",
                expected="<2",
                found="2.7.1",
                source="requirements.txt:4",
            ),
            Finding("requests", Status.PASS, "2.31.0 installed", source="requirements.txt:7"),
            Finding("./local", Status.SKIP, "editable install whose name is unknown"),
        ],
        fix=".venv/bin/python -m pip install 'hvac>=1.0' 'pydantic<2'",
        evidence=["read requirements.txt (41 lines)"],
        duration_ms=41.0,
    )


def every_status() -> list[Result]:
    """One check per status, required and optional, in declared order across four categories."""
    return [
        result(
            "python",
            Status.PASS,
            "3.12.3 satisfies >=3.11 (pyproject.toml requires-python)",
            category="Python",
            kind="python",
            path="checks/python.toml",
            line=1,
            findings=[Finding("version", Status.PASS, "3.12.3 matches >=3.11")],
            evidence=["ran /srv/shop/.venv/bin/python -c …"],
        ),
        packages_result(),
        result(
            "postgres",
            Status.ERROR,
            "crashed: ValueError: bad | pipe",
            category="Services",
            kind="postgres",
            path="checks/services.toml",
            line=1,
            traceback="Traceback (most recent call last):\n  ValueError: bad | pipe\n",
        ),
        result(
            "redis",
            Status.BLOCKED,
            "depends on postgres (error)",
            category="Services",
            kind="redis",
            path="checks/services.toml",
            line=9,
        ),
        result(
            "alertmanager",
            Status.FAIL,
            "timed out after 1.0 s reading from 127.0.0.1:9093",
            category="Services",
            kind="http",
            severity=Severity.OPTIONAL,
            path="checks/services.toml",
            line=15,
            fix="docker compose up -d alertmanager",
        ),
        result(
            "env",
            Status.WARN,
            "1 of 3 variables set but empty",
            category="Environment",
            kind="env",
            line=3,
            findings=[
                Finding("SENTRY_DSN", Status.WARN, "set but empty", source=".env.example:3"),
                Finding("DATABASE_URL", Status.PASS, "set"),
            ],
            fix="edit .env and give SENTRY_DSN a value",
        ),
        result(
            "docs",
            Status.SKIP,
            "when: sys_platform == 'win32' is false for this target",
            line=20,
        ),
    ]


def every_status_report(**kwargs: object) -> Report:
    return report(every_status(), **kwargs)  # type: ignore[arg-type]


def redacted(raw: Result, redactor: Redactor | None = None) -> Result:
    """`raw` with every string the runner redacts passed through `Redactor` the same way."""
    r = redactor or Redactor()
    return replace(
        raw,
        message=r(raw.message) or "",
        findings=[
            replace(
                f,
                subject=r(f.subject) or "",
                message=r(f.message) or "",
                expected=r(f.expected),
                found=r(f.found),
                fix=r(f.fix),
            )
            for f in raw.findings
        ],
        fix=r(raw.fix),
        evidence=[r(e) or "" for e in raw.evidence],
        traceback=r(raw.traceback),
    )


def secret_report() -> Report:
    """A failing check whose every string held a URL password, redacted as the runner does."""
    raw = result(
        "database",
        Status.FAIL,
        f"refused at {CANARY_URL} (DATABASE_URL from .env)",
        category="Services",
        kind="postgres",
        findings=[
            Finding(
                "DATABASE_URL",
                Status.FAIL,
                f"{CANARY_URL} refused",
                found=CANARY_URL,
                source="requirements.txt:3",
                fix=f"psql {CANARY_URL}",
            )
        ],
        fix=f"pg_isready -d {CANARY_URL}",
        evidence=[f"connecting to {CANARY_URL}"],
        traceback=f"ConnectionRefusedError: {CANARY_URL}",
    )
    optional = replace(
        redacted(raw),
        spec=replace(raw.spec, id="replica", severity=Severity.OPTIONAL),
    )
    return report([redacted(raw), optional])


def write_secret_project(root: Path) -> None:
    """A project with one `file` check whose `path` and `fix` both hold `${SECRET_URL}`."""
    checks = root / "checks"
    checks.mkdir(parents=True, exist_ok=True)
    (checks / "envdoctor.toml").write_text(
        "[[check]]\n"
        'id = "dsn-file"\n'
        'kind = "file"\n'
        'path = "${SECRET_URL}"\n'
        'fix = "touch ${SECRET_URL}"\n',
        encoding="utf-8",
    )


def secret_renders(
    render: Callable[[Report, RenderOptions], str], *options: RenderOptions
) -> list[str]:
    """`render` of `secret_report()` with each of `options`, each checked to hold no CANARY."""
    texts = []
    for option in options:
        text = render(secret_report(), option)
        assert CANARY not in text
        texts.append(text)
    return texts


def secret_runs(
    project: Project, base: tuple[str, ...], *flag_sets: tuple[str, ...]
) -> list[tuple[tuple[str, ...], CliResult]]:
    """`envdoctor check *base *flags` of `write_secret_project`, for each set of flags: each
    run checked to fail and to show E2E_SECRET on neither stdout nor stderr."""
    write_secret_project(project.root)
    runs = []
    for flags in flag_sets:
        out = project.run("check", *base, *flags, env={"SECRET_URL": E2E_SECRET_URL})
        assert out.code == 1, out.stderr
        assert E2E_SECRET not in out.stdout + out.stderr
        runs.append((flags, out))
    return runs
