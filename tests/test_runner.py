"""The runner: concurrency, deadlines, depends_on, when/skip, crash isolation, redaction.

Real kinds (`file`, `python`) run against real files; the behaviours no real kind can be
made to show on demand (sleeping past a deadline, raising) come from a small test-only kind
module written under a temp directory and registered by patching the kinds registry.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import envdoctor.kinds
from envdoctor.context import Session
from envdoctor.errors import Source
from envdoctor.model import CheckSpec, Result, Severity, Status
from envdoctor.redact import Redactor
from envdoctor.runner import Runner, select
from envdoctor.target import Target

TEST_KINDS = '''
"""Test-only kinds: they sleep, raise, echo and record when they ran."""

from __future__ import annotations

import asyncio
import time

from envdoctor.errors import ProjectFileError, Source
from envdoctor.kinds.base import Kind
from envdoctor.model import Finding, Outcome, Status
from envdoctor.options import Bool, Number, Option, Str

EVENTS: list[tuple[str, str, float]] = []


class Sleepy(Kind):
    name = "sleepy"
    category = "Test"
    summary = "Sleeps, then passes."
    passes_when = "it wakes up"
    options = (Option("seconds", Number(minimum=0), "How long.", default=0),)

    async def run(self, spec, ctx):
        EVENTS.append((spec.id, "start", time.monotonic()))
        await asyncio.sleep(spec.options["seconds"])
        EVENTS.append((spec.id, "end", time.monotonic()))
        ctx.note("slept")
        return Outcome(Status.PASS, f"slept {spec.options['seconds']}")


class SlowDefault(Sleepy):
    name = "slow_default"

    def default_timeout(self, spec):
        return 0.1


class Boom(Kind):
    name = "boom"
    category = "Test"
    summary = "Raises."
    passes_when = "never"
    options = (Option("project_file", Bool(), "Raise a ProjectFileError instead.", default=False),)

    async def run(self, spec, ctx):
        ctx.note("about to fail")
        if spec.options["project_file"]:
            raise ProjectFileError("not a requirement", Source("requirements.txt", 3))
        raise RuntimeError("kaboom\\nsecond line of the reason")


class Echo(Kind):
    name = "echo"
    category = "Test"
    summary = "Returns what it is told to."
    passes_when = "status is pass"
    options = (
        Option("status", Str(), "The status.", default="pass"),
        Option("text", Str(), "Message, finding, fix and evidence.", default="hello"),
        Option("runs", Bool(), "Claims to run code (for --safe).", default=False),
    )

    def runs_code(self, spec):
        return spec.options["runs"]

    async def run(self, spec, ctx):
        text = spec.options["text"]
        ctx.note("ctx " + text)
        finding = Finding(text, Status(spec.options["status"]), text, expected=text, found=text,
                          source="x:1", fix=text)
        return Outcome(Status(spec.options["status"]), text, [finding], fix="kind fix " + text,
                       evidence=["evidence " + text])


KINDS = {"sleepy": Sleepy(), "slow_default": SlowDefault(), "boom": Boom(), "echo": Echo()}
'''

TEST_KIND_NAMES = ("sleepy", "slow_default", "boom", "echo")


@pytest.fixture(scope="module")
def kinds_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """Writes the test-only kinds as real modules on sys.path (one module per kind)."""
    root = tmp_path_factory.mktemp("test_kinds")
    (root / "edt_runner_kinds.py").write_text(textwrap.dedent(TEST_KINDS), encoding="utf-8")
    for name in TEST_KIND_NAMES:
        (root / f"edt_kind_{name}.py").write_text(
            f"from edt_runner_kinds import KINDS\nKIND = KINDS[{name!r}]\n", encoding="utf-8"
        )
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module("edt_runner_kinds")
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m.startswith("edt_")]:
            del sys.modules[name]


@pytest.fixture
def kinds(kinds_module: object, monkeypatch: pytest.MonkeyPatch) -> object:
    for name in TEST_KIND_NAMES:
        monkeypatch.setitem(envdoctor.kinds.KINDS, name, f"edt_kind_{name}")
    kinds_module.EVENTS.clear()  # type: ignore[attr-defined]
    return kinds_module


def make(
    check_id: str,
    kind: str = "file",
    *,
    severity: Severity = Severity.REQUIRED,
    tags: tuple[str, ...] = (),
    timeout: float | None = None,
    depends_on: tuple[str, ...] = (),
    when: str | None = None,
    skip: str | None = None,
    fix: str | None = None,
    problem: str | None = None,
    **options: object,
) -> CheckSpec:
    defaults: dict[str, dict[str, object]] = {
        "file": {"exists": True},
        "sleepy": {"seconds": 0},
        "slow_default": {"seconds": 0},
        "boom": {"project_file": False},
        "echo": {"status": "pass", "text": "hello", "runs": False},
        "python": {},
    }
    return CheckSpec(
        id=check_id,
        kind=kind,
        source=Source("checks/test.toml", 1),
        severity=severity,
        tags=tags,
        timeout=timeout,
        depends_on=depends_on,
        when=when,
        skip=skip,
        fix=fix,
        problem=problem,
        options={**defaults.get(kind, {}), **options},
    )


def run(
    project_dir: Path,
    specs: list[CheckSpec],
    *,
    default_timeout: float = 5.0,
    secrets: set[str] | None = None,
    safe: bool = False,
) -> dict[str, Result]:
    session = Session(
        project_dir, Target(Path(sys.executable), "running interpreter"), {}, safe=safe
    )
    runner = Runner(session, default_timeout, Redactor(secrets or set()))
    results = asyncio.run(runner.run(specs))
    assert [r.spec.id for r in results] == [s.id for s in specs]  # declared order
    return {r.spec.id: r for r in results}


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "README.md").write_text("# hello\n", encoding="utf-8")
    return root


# -- real kinds ---------------------------------------------------------------------------


def test_real_file_checks(project_dir: Path) -> None:
    results = run(
        project_dir,
        [
            make("readme", path="README.md"),
            make("missing", path="nope.txt"),
            make("absent", path="nope.txt", exists=False),
        ],
    )
    assert results["readme"].status is Status.PASS
    assert results["readme"].category == "Files"
    assert results["missing"].status is Status.FAIL
    assert "nope.txt" in results["missing"].message
    assert results["absent"].status is Status.PASS
    assert any("looked for" in e for e in results["readme"].evidence)
    assert all(r.duration_ms >= 0 for r in results.values())


def test_real_python_check(project_dir: Path) -> None:
    major, minor = sys.version_info[:2]
    results = run(
        project_dir,
        [
            make("py", "python", version=f">={major}.{minor}"),
            make("old", "python", version=f"<{major}.{minor}"),
        ],
    )
    assert results["py"].status is Status.PASS
    assert results["py"].category == "Python"
    assert results["old"].status is Status.FAIL


def test_spec_fix_overrides_the_kind_fix_only_when_not_passing(project_dir: Path) -> None:
    results = run(
        project_dir,
        [
            make("bad", path="README.md", exists=False, fix="git rm README.md"),
            make("good", path="README.md", fix="never shown"),
        ],
    )
    assert results["bad"].fix == "git rm README.md"
    assert results["good"].fix is None


# -- concurrency and deadlines ------------------------------------------------------------


def test_checks_run_concurrently(project_dir: Path, kinds: object) -> None:
    specs = [make(f"s{i}", "sleepy", seconds=0.3) for i in range(8)]
    started = time.monotonic()
    results = run(project_dir, specs)
    elapsed = time.monotonic() - started
    assert all(r.status is Status.PASS for r in results.values())
    assert elapsed < 1.5  # one after another would be 2.4 s


def test_overrunning_check_fails_and_others_finish(project_dir: Path, kinds: object) -> None:
    specs = [
        make("slow", "sleepy", seconds=30, timeout=0.3),
        make("quick", "sleepy", seconds=0.05),
        make("readme", path="README.md"),
    ]
    started = time.monotonic()
    results = run(project_dir, specs)
    assert time.monotonic() - started < 3
    slow = results["slow"]
    assert slow.status is Status.FAIL
    assert slow.message == "timed out after 300 ms"
    assert "deadline of 300 ms reached" in slow.evidence
    assert 250 <= slow.duration_ms < 3000
    assert results["quick"].status is Status.PASS
    assert results["readme"].status is Status.PASS


def test_default_timeout_of_the_run(project_dir: Path, kinds: object) -> None:
    results = run(project_dir, [make("slow", "sleepy", seconds=30)], default_timeout=0.2)
    assert results["slow"].status is Status.FAIL
    assert results["slow"].message == "timed out after 200 ms"


def test_kind_default_timeout_beats_the_run_default(project_dir: Path, kinds: object) -> None:
    results = run(project_dir, [make("slow", "slow_default", seconds=30)], default_timeout=60)
    assert results["slow"].message == "timed out after 100 ms"


def test_spec_timeout_beats_the_kind_default(project_dir: Path, kinds: object) -> None:
    results = run(project_dir, [make("slow", "slow_default", seconds=0.3, timeout=5)])
    assert results["slow"].status is Status.PASS


def test_timeout_in_seconds_is_formatted(project_dir: Path, kinds: object) -> None:
    results = run(project_dir, [make("slow", "sleepy", seconds=30, timeout=1.0)])
    assert results["slow"].message == "timed out after 1.0 s"


# -- crash isolation ----------------------------------------------------------------------


def test_raising_check_is_error_and_others_pass(project_dir: Path, kinds: object) -> None:
    results = run(
        project_dir,
        [make("boom", "boom"), make("readme", path="README.md"), make("z", "sleepy", seconds=0.1)],
    )
    boom = results["boom"]
    assert boom.status is Status.ERROR
    assert boom.message == "crashed: RuntimeError: kaboom"
    assert "\n" not in boom.message
    assert boom.traceback is not None
    assert "Traceback (most recent call last)" in boom.traceback
    assert "second line of the reason" in boom.traceback
    assert "edt_runner_kinds.py" in boom.traceback
    assert "about to fail" in boom.evidence
    assert results["readme"].status is Status.PASS
    assert results["z"].status is Status.PASS


def test_project_file_error_is_error_without_traceback(project_dir: Path, kinds: object) -> None:
    results = run(project_dir, [make("req", "boom", project_file=True)])
    assert results["req"].status is Status.ERROR
    assert results["req"].message == "requirements.txt:3: not a requirement"
    assert results["req"].traceback is None


def test_problem_is_error_without_running(project_dir: Path, kinds: object) -> None:
    results = run(
        project_dir, [make("db", "sleepy", seconds=30, problem="DATABASE_URL is not set")]
    )
    assert results["db"].status is Status.ERROR
    assert results["db"].message == "DATABASE_URL is not set"
    assert kinds.EVENTS == []  # type: ignore[attr-defined]


# -- depends_on, when, skip ---------------------------------------------------------------


def test_dependency_runs_first(project_dir: Path, kinds: object) -> None:
    results = run(
        project_dir, [make("b", "sleepy", depends_on=("a",)), make("a", "sleepy", seconds=0.2)]
    )
    assert results["a"].status is Status.PASS
    assert results["b"].status is Status.PASS
    events = kinds.EVENTS  # type: ignore[attr-defined]
    a_end = next(t for i, what, t in events if i == "a" and what == "end")
    b_start = next(t for i, what, t in events if i == "b" and what == "start")
    assert b_start >= a_end


def test_failed_dependency_blocks(project_dir: Path, kinds: object) -> None:
    results = run(
        project_dir,
        [
            make("missing", path="nope.txt"),
            make("needs", "sleepy", depends_on=("missing",)),
            make("chain", "sleepy", depends_on=("needs",)),
            make("two", "sleepy", depends_on=("missing", "readme")),
            make("readme", path="README.md"),
        ],
    )
    assert results["needs"].status is Status.BLOCKED
    assert results["needs"].message == "depends on missing (fail)"
    assert results["chain"].status is Status.BLOCKED
    assert results["chain"].message == "depends on needs (blocked)"
    assert results["two"].message == "depends on missing (fail)"
    assert [e for e in kinds.EVENTS] == []  # type: ignore[attr-defined]


def test_error_and_timeout_block_dependents(project_dir: Path, kinds: object) -> None:
    results = run(
        project_dir,
        [
            make("boom", "boom"),
            make("slow", "sleepy", seconds=30, timeout=0.1),
            make("after", "echo", depends_on=("boom", "slow")),
        ],
    )
    assert results["after"].status is Status.BLOCKED
    assert results["after"].message == "depends on boom (error), slow (fail)"


def test_warning_dependency_does_not_block(project_dir: Path, kinds: object) -> None:
    results = run(
        project_dir, [make("w", "echo", status="warn"), make("after", "echo", depends_on=("w",))]
    )
    assert results["w"].status is Status.WARN
    assert results["after"].status is Status.PASS


def test_skipped_dependency_skips(project_dir: Path, kinds: object) -> None:
    results = run(
        project_dir,
        [
            make("off", "echo", skip="not today"),
            make("after", "echo", depends_on=("off",)),
            make("later", "echo", depends_on=("after",)),
        ],
    )
    assert results["off"].status is Status.SKIP
    assert results["off"].message == "not today"
    assert results["after"].status is Status.SKIP
    assert results["after"].message == "depends on off, which was skipped"
    assert results["later"].status is Status.SKIP


def test_dependency_outside_the_selection_is_ignored(project_dir: Path, kinds: object) -> None:
    results = run(project_dir, [make("after", "echo", depends_on=("not-selected",))])
    assert results["after"].status is Status.PASS


def test_problem_dependency_blocks(project_dir: Path, kinds: object) -> None:
    results = run(
        project_dir,
        [make("db", "echo", problem="X is not set"), make("m", "echo", depends_on=("db",))],
    )
    assert results["m"].status is Status.BLOCKED
    assert results["m"].message == "depends on db (error)"


def test_when_false_skips(project_dir: Path, kinds: object) -> None:
    results = run(
        project_dir,
        [
            make("never", "sleepy", when='sys_platform == "no-such-os"'),
            make("always", "sleepy", when=f'sys_platform == "{sys.platform}"'),
            make(
                "py",
                "sleepy",
                when=f'python_version >= "{sys.version_info[0]}.{sys.version_info[1]}"',
            ),
        ],
    )
    assert results["never"].status is Status.SKIP
    assert results["never"].message == 'when: sys_platform == "no-such-os" is false for this target'
    assert results["always"].status is Status.PASS
    assert results["py"].status is Status.PASS
    assert {i for i, _, _ in kinds.EVENTS} == {"always", "py"}  # type: ignore[attr-defined]


def test_skip_option_always_skips(project_dir: Path, kinds: object) -> None:
    results = run(
        project_dir, [make("s", "sleepy", skip="flaky on CI"), make("e", "echo", skip="")]
    )
    assert results["s"].status is Status.SKIP
    assert results["s"].message == "flaky on CI"
    assert results["e"].status is Status.SKIP
    assert results["e"].message == "skipped"


def test_safe_mode_skips_code_running_checks(project_dir: Path, kinds: object) -> None:
    specs = [make("code", "echo", runs=True), make("plain", "echo")]
    safe = run(project_dir, specs, safe=True)
    assert safe["code"].status is Status.SKIP
    assert safe["code"].message == "not run under --safe"
    assert safe["plain"].status is Status.PASS
    assert run(project_dir, specs)["code"].status is Status.PASS


# -- redaction ----------------------------------------------------------------------------


def test_everything_a_result_carries_is_redacted(project_dir: Path, kinds: object) -> None:
    text = "postgresql://app:pg-pass@db:5432/app token=tok-123456"
    results = run(
        project_dir, [make("e", "echo", status="fail", text=text)], secrets={"tok-123456"}
    )
    e = results["e"]
    expected = "postgresql://app:***@db:5432/app token=***"
    assert e.message == expected
    assert e.fix == "kind fix " + expected
    assert e.evidence == ["ctx " + expected, "evidence " + expected]
    [finding] = e.findings
    assert (finding.subject, finding.message, finding.expected, finding.found, finding.fix) == (
        expected,
    ) * 5
    assert finding.source == "x:1"
    flat = repr([e.message, e.fix, e.evidence, e.findings])
    assert "pg-pass" not in flat
    assert "tok-123456" not in flat


def test_title_is_redacted(project_dir: Path, kinds: object) -> None:
    spec = make("t", "echo")
    spec.title = "cache at redis://:pw-1234@cache"
    [result] = run(project_dir, [spec]).values()
    assert result.spec.title == "cache at redis://:***@cache"
    assert result.spec.id == "t"


def test_traceback_is_redacted(project_dir: Path, kinds: object) -> None:
    results = run(project_dir, [make("boom", "boom")], secrets={"kaboom"})
    assert results["boom"].message == "crashed: RuntimeError: ***"
    assert "kaboom" not in (results["boom"].traceback or "")


def test_problem_message_is_redacted(project_dir: Path, kinds: object) -> None:
    results = run(project_dir, [make("p", "echo", problem="could not use redis://:pw-1234@cache")])
    assert results["p"].message == "could not use redis://:***@cache"


# -- progress and interruption ------------------------------------------------------------


def test_progress_is_reported(project_dir: Path, kinds: object) -> None:
    calls: list[tuple[int, int, list[str]]] = []
    session = Session(project_dir, Target(Path(sys.executable), "running interpreter"), {})
    runner = Runner(
        session, 5.0, progress=lambda done, total, running: calls.append((done, total, running))
    )
    asyncio.run(runner.run([make("a", "sleepy"), make("b", "sleepy")]))
    assert calls
    assert all(total == 2 for _, total, _ in calls)
    assert calls[-1][0] == 2
    assert calls[-1][2] == []
    assert any(running for _, _, running in calls)


def test_finished_or_interrupted(project_dir: Path, kinds: object) -> None:
    session = Session(project_dir, Target(Path(sys.executable), "running interpreter"), {})
    runner = Runner(session, 5.0)
    specs = [make("quick", "sleepy"), make("slow", "sleepy", seconds=30)]

    async def interrupted() -> None:
        task = asyncio.ensure_future(runner.run(specs))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(interrupted())
    results = runner.finished_or_interrupted(specs)
    assert results[0].status is Status.PASS
    assert results[1].status is Status.SKIP
    assert results[1].message == "interrupted before it finished"
    assert results[1].unfinished and not results[0].unfinished


# -- select (--only / --skip) -------------------------------------------------------------


SPECS = [
    make("postgres", tags=("services", "db")),
    make("redis", tags=("services",)),
    make("python", tags=("python",)),
    make("readme"),
]


def ids(specs: list[CheckSpec]) -> list[str]:
    return [s.id for s in specs]


@pytest.mark.parametrize(
    ("only", "skip", "chosen"),
    [
        ([], [], ["postgres", "redis", "python", "readme"]),
        (["redis"], [], ["redis"]),
        (["services"], [], ["postgres", "redis"]),
        (["readme", "db"], [], ["postgres", "readme"]),  # declared order, not argument order
        ([], ["services"], ["python", "readme"]),
        ([], ["readme", "python"], ["postgres", "redis"]),
        (["services"], ["redis"], ["postgres"]),
        (["services"], ["services"], []),
        (["nothing-matches"], [], []),
        ([], ["nothing-matches"], ["postgres", "redis", "python", "readme"]),
    ],
)
def test_select(only: list[str], skip: list[str], chosen: list[str]) -> None:
    assert ids(select(SPECS, only, skip)) == chosen
