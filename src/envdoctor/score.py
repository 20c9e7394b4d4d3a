"""The readiness score and the ready / not-ready verdict, exactly as DESIGN.md §5 defines them."""

from __future__ import annotations

from collections.abc import Callable

from envdoctor.model import Result, Severity, Status, Verdict


def judge(
    results: list[Result],
    min_score: int = 0,
    strict: bool = False,
    interrupted: bool = False,
    gave_up_after: str | None = None,
) -> Verdict:
    counts = {status.value: 0 for status in Status}
    total = earned = 0.0
    for result in results:
        counts[result.status.value] += 1
        if result.status is Status.SKIP and not result.unfinished:
            continue  # asked to skip: counts nowhere; unfinished: its weight, no credit
        weight = result.spec.effective_weight
        total += weight
        earned += weight * result.status.credit
    score = round(100 * earned / total) if total else 100
    reasons: list[str] = []
    failing = [r for r in results if r.counts_against]
    if failing:
        n = len(failing)
        reasons.append(f"{n} required check{'s' if n != 1 else ''} failed")
    if score < min_score:
        reasons.append(f"score below min_score {min_score}")
    if strict:
        optional = [
            r
            for r in results
            if r.spec.severity is Severity.OPTIONAL
            and r.status in (Status.FAIL, Status.ERROR, Status.BLOCKED)
        ]
        warnings = [r for r in results if r.status is Status.WARN]
        if optional:
            n = len(optional)
            reasons.append(f"{n} optional check{'s' if n != 1 else ''} failed (--strict)")
        if warnings:
            n = len(warnings)
            reasons.append(f"{n} warning{'s' if n != 1 else ''} (--strict)")
    if interrupted:  # unfinished checks count nowhere, so the score alone cannot say "ready"
        reasons.append("interrupted before every check finished")
    if gave_up_after and reasons:
        reasons.append(f"still not ready after waiting {gave_up_after}")
    return Verdict(score=score, ready=not reasons, reasons=reasons, counts=counts)


def not_good_enough(strict: bool = False) -> Callable[[Result], bool]:
    """What `--wait` keeps re-running: results that would make the verdict "not ready"."""

    def test(result: Result) -> bool:
        if result.counts_against:
            return True
        if not strict:
            return False
        return result.status is Status.WARN or result.status in (
            Status.FAIL,
            Status.ERROR,
            Status.BLOCKED,
        )

    return test
