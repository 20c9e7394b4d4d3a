"""The nouns every part shares: statuses, severities, check specs, findings, results, reports.

Kinds produce `Outcome`s, the runner wraps them into `Result`s, `score.py` judges a `Report`,
and reporters only read it. Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from envdoctor.errors import Source


class Status(str, Enum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    ERROR = "error"
    BLOCKED = "blocked"
    SKIP = "skip"

    @property
    def rank(self) -> int:
        """Order for "worst of": error > fail > warn > pass; skip counts nowhere."""
        return _RANK[self]

    @property
    def credit(self) -> float:
        """Score credit of DESIGN.md §5."""
        return {Status.PASS: 1.0, Status.WARN: 0.5}.get(self, 0.0)

    @property
    def ok(self) -> bool:
        """Passed, perhaps with a warning: good enough for `depends_on`."""
        return self in (Status.PASS, Status.WARN)


_RANK = {
    Status.SKIP: 0,
    Status.PASS: 1,
    Status.WARN: 2,
    Status.BLOCKED: 3,
    Status.FAIL: 4,
    Status.ERROR: 5,
}


def worst(statuses: Any, default: Status = Status.PASS) -> Status:
    """The worst status among `statuses` (skips ignored), or `default` when none counts."""
    counted = [s for s in statuses if s is not Status.SKIP]
    return max(counted, key=lambda s: s.rank) if counted else default


class Severity(str, Enum):
    REQUIRED = "required"
    OPTIONAL = "optional"

    @property
    def weight(self) -> float:
        return 3.0 if self is Severity.REQUIRED else 1.0


@dataclass
class CheckSpec:
    """One validated `[[check]]`: common options as fields, the kind's own in `options`."""

    id: str
    kind: str
    source: Source
    title: str = ""
    severity: Severity = Severity.REQUIRED
    weight: float | None = None
    tags: tuple[str, ...] = ()
    timeout: float | None = None
    depends_on: tuple[str, ...] = ()
    when: str | None = None
    skip: str | None = None
    fix: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    option_sources: dict[str, Source] = field(default_factory=dict)
    variables: tuple[str, ...] = ()
    # Set when the spec could not be completed at load time (an unset ${VAR}): the check is
    # reported as `error` with this reason instead of running.
    problem: str | None = None

    @property
    def display_title(self) -> str:
        return self.title or self.id

    @property
    def effective_weight(self) -> float:
        return self.severity.weight if self.weight is None else float(self.weight)

    def source_of(self, option: str) -> Source:
        return self.option_sources.get(option, self.source)


@dataclass
class Finding:
    """One requirement, module, variable, … inside a check; see DESIGN.md §7 `findings`."""

    subject: str
    status: Status
    message: str
    expected: str | None = None
    found: str | None = None
    source: str | None = None
    fix: str | None = None


@dataclass
class Outcome:
    """What a kind returns: the runner adds identity, timing and redaction."""

    status: Status
    message: str
    findings: list[Finding] = field(default_factory=list)
    fix: str | None = None
    evidence: list[str] = field(default_factory=list)
    # Safe, mechanical repairs `envdoctor fix --apply` may run: argv lists (never a shell),
    # such as `<target python> -m pip install 'hvac>=1.0'`. Only kinds that know a step is
    # safe (installing into the target) put one here.
    actions: list[list[str]] = field(default_factory=list)
    # The project file (and line) an `error` is about, when it is one the check read
    # (`requirements-dev.txt:4`): annotations point there, not only at the check's table.
    where: str | None = None

    @classmethod
    def from_findings(
        cls,
        findings: list[Finding],
        ok_message: str,
        bad_message: str,
        *,
        fix: str | None = None,
        evidence: list[str] | None = None,
    ) -> Outcome:
        """Status is the worst finding; the message depends on whether anything is wrong."""
        status = worst(f.status for f in findings)
        return cls(
            status,
            ok_message if status is Status.PASS else bad_message,
            findings,
            fix=fix if status is not Status.PASS else None,
            evidence=evidence or [],
        )


@dataclass
class Result:
    """A check as it was run (or not run: skip, blocked, error)."""

    spec: CheckSpec
    category: str
    status: Status
    message: str
    findings: list[Finding] = field(default_factory=list)
    fix: str | None = None
    evidence: list[str] = field(default_factory=list)
    duration_ms: float = 0.0
    traceback: str | None = None
    actions: list[list[str]] = field(default_factory=list)
    attempts: int = 1  # more than one under --wait: this result is the last attempt's
    unfinished: bool = False  # a skip because the run was interrupted, not because it was asked
    where: str | None = None  # Outcome.where: the project file an error is about

    @property
    def counts_against(self) -> bool:
        """A required check that makes the environment not ready."""
        return self.spec.severity is Severity.REQUIRED and self.status in (
            Status.FAIL,
            Status.ERROR,
            Status.BLOCKED,
        )


@dataclass
class Interpreter:
    """The interpreter the report speaks about (DESIGN.md §4 target)."""

    executable: str
    version: str | None
    reason: str = ""


@dataclass
class Verdict:
    score: int
    ready: bool
    reasons: list[str]
    counts: dict[str, int]


@dataclass(frozen=True)
class Wait:
    """How `--wait` went: the limit given, and whether it ran out before the checks passed."""

    limit: float
    expired: bool


@dataclass
class Report:
    project: str
    python: Interpreter
    results: list[Result]
    verdict: Verdict
    min_score: int
    duration_ms: float
    strict: bool = False
    interrupted: bool = False
    envdoctor_version: str = ""
    wait: Wait | None = None
