"""When checks run: concurrently, each under its own total deadline, in dependency order.

A check that overruns is `fail` ("timed out after …"); one that raises is `error` with a one-line
reason (the traceback is kept for `-v`); neither stops the others. `depends_on` waits for the
named checks and marks this one `blocked` unless they passed (or passed with a warning).
"""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from envdoctor.context import CheckContext, Session
from envdoctor.errors import EnvdoctorError
from envdoctor.kinds import get_kind
from envdoctor.model import CheckSpec, Finding, Outcome, Result, Status
from envdoctor.redact import Redactor
from envdoctor.units import format_duration

ProgressFn = Callable[[int, int, list[str]], None]

# Kinds see the deadline itself (ctx.remaining()) and can report a timeout in their own words,
# with what they saw so far; the runner's hard stop comes this much later (enough for an event
# loop that 50 concurrent probes keep busy on a loaded 2-core machine to deliver their words).
GRACE = 0.25

# Under --wait, the pause before re-running a check that has not passed: as long as its last
# attempt took, within these bounds. A refused port is re-tried 10 times a second (a service
# that comes up is seen within ~0.1 s); a slow check does not spin.
RETRY_MIN, RETRY_MAX = 0.1, 0.25

KeepTrying = Callable[[Result], bool]


@dataclass
class Runner:
    session: Session
    default_timeout: float
    redactor: Redactor = field(default_factory=Redactor)
    progress: ProgressFn | None = None
    results: dict[str, Result] = field(default_factory=dict)
    _running: list[str] = field(default_factory=list)

    async def run(
        self,
        specs: list[CheckSpec],
        *,
        wait_until: float | None = None,
        keep_trying: KeepTrying | None = None,
    ) -> list[Result]:
        """Runs `specs`; dependencies outside this set are ignored (left out by --only/--skip).

        With `wait_until` (a `time.monotonic()` value: --wait), each check whose result
        `keep_trying` says is not good enough runs again, on its own, until it is or time runs
        out; no attempt runs past `wait_until`. A dependent check waits for the final result of
        what it depends on, so it starts the moment its dependency passes.
        """
        ids = {spec.id for spec in specs}
        futures: dict[str, asyncio.Future[Result]] = {}
        loop = asyncio.get_running_loop()
        for spec in specs:
            futures[spec.id] = loop.create_future()
        total = len(specs)

        async def one(spec: CheckSpec) -> None:
            deps = [d for d in spec.depends_on if d in ids and d != spec.id]
            dep_results = [await asyncio.shield(futures[d]) for d in deps]
            self._running.append(spec.id)
            self._report(total)
            try:
                result = await self._run_one(spec, dep_results, wait_until)
                attempts = 1
                while (
                    wait_until is not None
                    and keep_trying is not None
                    and keep_trying(result)
                    and time.monotonic() + RETRY_MIN < wait_until
                ):
                    self.results[spec.id] = result
                    pause = min(RETRY_MAX, max(RETRY_MIN, result.duration_ms / 1000))
                    await asyncio.sleep(min(pause, max(0.0, wait_until - time.monotonic())))
                    result = await self._run_one(spec, dep_results, wait_until)
                    attempts += 1
                result.attempts = attempts
            finally:
                self._running.remove(spec.id)
            self.results[spec.id] = result
            futures[spec.id].set_result(result)
            self._report(total)

        await asyncio.gather(*(one(spec) for spec in specs))
        return [self.results[spec.id] for spec in specs]

    def finished_or_interrupted(self, specs: Iterable[CheckSpec]) -> list[Result]:
        """After Ctrl-C: what finished, and the rest marked as not finished (a skip whose
        weight still counts, with no credit: an interrupted run never scores as a full one)."""
        out = []
        for spec in specs:
            out.append(
                self.results.get(spec.id)
                or Result(
                    self._redact_spec(spec),
                    _category(spec),
                    Status.SKIP,
                    "interrupted before it finished",
                    unfinished=True,
                )
            )
        return out

    def _redact_spec(self, spec: CheckSpec) -> CheckSpec:
        """The title is interpolated from the environment: mask it like every message."""
        return replace(spec, title=self.redactor(spec.title) or "") if spec.title else spec

    def _report(self, total: int) -> None:
        if self.progress is not None:
            self.progress(len(self.results), total, list(self._running))

    async def _run_one(
        self, spec: CheckSpec, deps: list[Result], cap: float | None = None
    ) -> Result:
        started = time.monotonic()
        category = _category(spec)
        outcome, tb, evidence = await self._outcome(spec, deps, started, cap)
        fix = outcome.fix
        if spec.fix and outcome.status in (Status.FAIL, Status.ERROR, Status.WARN):
            fix = spec.fix
        r = self.redactor
        return Result(
            spec=self._redact_spec(spec),
            category=category,
            status=outcome.status,
            message=r(outcome.message) or "",
            findings=[_redact_finding(f, r) for f in outcome.findings],
            fix=r(fix),
            evidence=[r(e) or "" for e in [*evidence, *outcome.evidence]],
            duration_ms=(time.monotonic() - started) * 1000,
            traceback=r(tb),
            actions=[list(a) for a in outcome.actions] if outcome.status is not Status.PASS else [],
            where=outcome.where,
        )

    async def _outcome(
        self, spec: CheckSpec, deps: list[Result], started: float, cap: float | None = None
    ) -> tuple[Outcome, str | None, list[str]]:
        if spec.skip is not None:
            return Outcome(Status.SKIP, spec.skip or "skipped"), None, []
        if spec.problem:
            return Outcome(Status.ERROR, spec.problem), None, []
        for dep in deps:
            if dep.status is Status.SKIP:
                return (
                    Outcome(Status.SKIP, f"depends on {dep.spec.id}, which was skipped"),
                    None,
                    [],
                )
        bad = [d for d in deps if not d.status.ok]
        if bad:
            names = ", ".join(f"{d.spec.id} ({d.status.value})" for d in bad)
            return Outcome(Status.BLOCKED, f"depends on {names}"), None, []
        kind = get_kind(spec.kind)
        timeout = spec.timeout if spec.timeout is not None else kind.default_timeout(spec)
        if timeout is None:
            timeout = self.default_timeout
        if cap is not None:  # --wait: no attempt outlives the wait
            timeout = max(0.05, min(timeout, cap - started))
        ctx = CheckContext(self.session, deadline=started + timeout, timeout=timeout)
        try:
            if spec.when and not await asyncio.wait_for(self._when(spec.when), timeout):
                return (
                    Outcome(Status.SKIP, f"when: {spec.when} is false for this target"),
                    None,
                    ctx.evidence,
                )
            if self.session.safe and kind.runs_code(spec):
                return Outcome(Status.SKIP, "not run under --safe"), None, []
            outcome = await asyncio.wait_for(kind.run(spec, ctx), timeout + GRACE)
            return outcome, None, ctx.evidence
        except asyncio.TimeoutError:
            ctx.note(f"deadline of {format_duration(timeout)} reached")
            return (
                Outcome(Status.FAIL, f"timed out after {format_duration(timeout)}"),
                None,
                ctx.evidence,
            )
        except EnvdoctorError as exc:
            source = getattr(exc, "source", None)  # ProjectFileError: the file it is about
            where = str(source) if source is not None else None
            return Outcome(Status.ERROR, str(exc), where=where), None, ctx.evidence
        except Exception as exc:
            reason = str(exc).splitlines()[0] if str(exc) else ""
            message = f"crashed: {type(exc).__name__}" + (f": {reason}" if reason else "")
            return Outcome(Status.ERROR, message), traceback.format_exc(), ctx.evidence

    async def _when(self, marker: str) -> bool:
        from packaging.markers import Marker

        info = await self.session.target_info()
        return Marker(marker).evaluate(dict(info.markers))


def _category(spec: CheckSpec) -> str:
    return get_kind(spec.kind).category


def _redact_finding(finding: Finding, r: Redactor) -> Finding:
    return Finding(
        subject=r(finding.subject) or "",
        status=finding.status,
        message=r(finding.message) or "",
        expected=r(finding.expected),
        found=r(finding.found),
        source=finding.source,
        fix=r(finding.fix),
    )


def select(specs: list[CheckSpec], only: list[str], skip: list[str]) -> list[CheckSpec]:
    """`--only`/`--skip` by id or tag; left-out checks are simply absent."""

    def matches(spec: CheckSpec, names: list[str]) -> bool:
        return any(name == spec.id or name in spec.tags for name in names)

    chosen = [s for s in specs if not only or matches(s, only)]
    return [s for s in chosen if not matches(s, skip)]
