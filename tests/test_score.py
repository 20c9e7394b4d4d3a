"""The readiness score and verdict, exactly as DESIGN.md §5 writes them."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envdoctor.config import load_config
from envdoctor.errors import ConfigErrors, Source
from envdoctor.model import CheckSpec, Result, Severity, Status
from envdoctor.score import judge

FUZZ = settings(max_examples=200, deadline=None)
REQ, OPT = Severity.REQUIRED, Severity.OPTIONAL


def result(
    status: Status, severity: Severity = REQ, weight: float | None = None, n: int = 0
) -> Result:
    spec = CheckSpec(
        f"c{n}", "file", Source("checks/x.toml", n + 1), severity=severity, weight=weight
    )
    return Result(spec, "Files", status, "")


def results(*items: tuple[Status, Severity] | tuple[Status, Severity, float]) -> list[Result]:
    return [result(*item, n=i) for i, item in enumerate(items)]  # type: ignore[misc]


def design_score(rs: list[Result]) -> int:
    """DESIGN.md §5 transcribed: round(100 * sum(weight * credit) / sum(weight)), skip nowhere."""
    weights = {REQ: 3, OPT: 1}
    credit = {Status.PASS: 1, Status.WARN: 0.5, Status.FAIL: 0, Status.ERROR: 0, Status.BLOCKED: 0}
    counted = [r for r in rs if r.status is not Status.SKIP]
    if not counted:
        return 100
    total = sum(
        weights[r.spec.severity] if r.spec.weight is None else r.spec.weight for r in counted
    )
    earned = sum(
        (weights[r.spec.severity] if r.spec.weight is None else r.spec.weight) * credit[r.status]
        for r in counted
    )
    return round(100 * earned / total) if total else 100


def test_all_pass() -> None:
    verdict = judge(results((Status.PASS, REQ), (Status.PASS, OPT)))
    assert verdict.score == 100
    assert verdict.ready
    assert verdict.reasons == []


def test_weights_three_and_one() -> None:
    # required fail (0 of 3) + optional pass (1 of 1): 25
    assert judge(results((Status.FAIL, REQ), (Status.PASS, OPT))).score == 25
    # required pass (3 of 3) + optional fail (0 of 1): 75
    assert judge(results((Status.PASS, REQ), (Status.FAIL, OPT))).score == 75


def test_custom_weight_overrides_severity() -> None:
    assert judge(results((Status.PASS, REQ, 1), (Status.FAIL, OPT, 3))).score == 25
    assert judge(results((Status.PASS, REQ, 0), (Status.FAIL, OPT))).score == 0


@pytest.mark.parametrize(
    ("status", "score"),
    [
        (Status.PASS, 100),
        (Status.WARN, 50),
        (Status.FAIL, 0),
        (Status.ERROR, 0),
        (Status.BLOCKED, 0),
    ],
)
def test_credits(status: Status, score: int) -> None:
    assert judge([result(status)]).score == score


def test_skip_counts_nowhere() -> None:
    with_skip = judge(
        results((Status.PASS, REQ), (Status.FAIL, OPT), (Status.SKIP, REQ), (Status.SKIP, OPT))
    )
    without = judge(results((Status.PASS, REQ), (Status.FAIL, OPT)))
    assert with_skip.score == without.score == 75
    assert with_skip.counts["skip"] == 2


def test_all_skipped_is_100() -> None:
    verdict = judge(results((Status.SKIP, REQ), (Status.SKIP, OPT)))
    assert verdict.score == 100
    assert verdict.ready


def test_no_results_is_100() -> None:
    assert judge([]).score == 100


def test_zero_total_weight_is_100() -> None:
    assert judge(results((Status.FAIL, OPT, 0))).score == 100


def test_counts() -> None:
    verdict = judge(
        results(
            (Status.PASS, REQ),
            (Status.PASS, REQ),
            (Status.WARN, OPT),
            (Status.FAIL, OPT),
            (Status.ERROR, OPT),
            (Status.BLOCKED, OPT),
            (Status.SKIP, OPT),
        )
    )
    assert verdict.counts == {"pass": 2, "warn": 1, "fail": 1, "error": 1, "blocked": 1, "skip": 1}


@pytest.mark.parametrize("status", [Status.FAIL, Status.ERROR, Status.BLOCKED])
def test_required_failure_is_not_ready(status: Status) -> None:
    verdict = judge(results((Status.PASS, REQ), (status, REQ)))
    assert not verdict.ready
    assert verdict.reasons == ["1 required check failed"]


def test_reasons_count_plural() -> None:
    verdict = judge(results((Status.FAIL, REQ), (Status.ERROR, REQ)))
    assert verdict.reasons == ["2 required checks failed"]


@pytest.mark.parametrize("status", [Status.FAIL, Status.ERROR, Status.BLOCKED, Status.WARN])
def test_optional_problems_do_not_block_readiness(status: Status) -> None:
    assert judge(results((Status.PASS, REQ), (status, OPT))).ready


def test_required_warning_is_ready() -> None:
    assert judge(results((Status.WARN, REQ))).ready


def test_min_score() -> None:
    rs = results((Status.PASS, REQ), (Status.FAIL, OPT))  # 75
    assert judge(rs, min_score=75).ready
    verdict = judge(rs, min_score=76)
    assert not verdict.ready
    assert verdict.reasons == ["score below min_score 76"]


def test_min_score_100_with_all_skipped() -> None:
    assert judge(results((Status.SKIP, REQ)), min_score=100).ready


def test_strict_optional_failure() -> None:
    rs = results((Status.PASS, REQ), (Status.FAIL, OPT))
    assert judge(rs).ready
    verdict = judge(rs, strict=True)
    assert not verdict.ready
    assert verdict.reasons == ["1 optional check failed (--strict)"]


@pytest.mark.parametrize("status", [Status.ERROR, Status.BLOCKED])
def test_strict_optional_error_or_blocked(status: Status) -> None:
    assert not judge(results((Status.PASS, REQ), (status, OPT)), strict=True).ready


def test_strict_warnings() -> None:
    rs = results((Status.WARN, REQ), (Status.WARN, OPT))
    verdict = judge(rs, strict=True)
    assert not verdict.ready
    assert verdict.reasons == ["2 warnings (--strict)"]


def test_strict_skip_is_fine() -> None:
    assert judge(results((Status.PASS, REQ), (Status.SKIP, OPT)), strict=True).ready


def test_all_reasons_together() -> None:
    rs = results((Status.FAIL, REQ), (Status.FAIL, OPT), (Status.WARN, OPT))
    verdict = judge(rs, min_score=50, strict=True)
    assert verdict.reasons == [
        "1 required check failed",
        "score below min_score 50",
        "1 optional check failed (--strict)",
        "1 warning (--strict)",
    ]


def test_interrupted_is_never_ready() -> None:
    # A check skipped on purpose counts nowhere; the score alone could say "ready".
    rs = results((Status.PASS, REQ), (Status.SKIP, REQ))
    verdict = judge(rs, interrupted=True)
    assert verdict.score == 100
    assert not verdict.ready
    assert verdict.reasons == ["interrupted before every check finished"]


def test_an_unfinished_check_weighs_without_credit() -> None:
    """Ctrl-C half a second into 50 checks must not read "score 100/100": the checks that
    never finished keep their weight and earn nothing."""
    rs = results((Status.PASS, REQ), (Status.SKIP, REQ), (Status.SKIP, OPT))
    rs[1].unfinished = rs[2].unfinished = True
    verdict = judge(rs, interrupted=True)
    assert verdict.score == round(100 * 3 / 7)
    none_finished = results((Status.SKIP, REQ), (Status.SKIP, REQ))
    for r in none_finished:
        r.unfinished = True
    assert judge(none_finished, interrupted=True).score == 0


@pytest.mark.parametrize(
    ("items", "score"),
    [
        # 100 * 0.5 / 4 = 12.5: round() is Python's (half to even), as DESIGN writes it
        (((Status.FAIL, REQ), (Status.WARN, OPT)), 12),
        # 100 * 3.5 / 4 = 87.5 -> 88
        (((Status.PASS, REQ), (Status.WARN, OPT)), 88),
        # 100 * 1 / 3 = 33.33 -> 33; 100 * 2 / 3 = 66.67 -> 67
        (((Status.PASS, OPT), (Status.FAIL, OPT), (Status.FAIL, OPT)), 33),
        (((Status.PASS, OPT), (Status.PASS, OPT), (Status.FAIL, OPT)), 67),
        # 100 * 4.5 / 7 = 64.29 -> 64
        (((Status.PASS, REQ), (Status.WARN, REQ), (Status.FAIL, OPT)), 64),
        # 100 * 0.5 / 8 = 6.25 -> 6
        (((Status.WARN, OPT), (Status.FAIL, OPT), (Status.FAIL, REQ), (Status.FAIL, REQ, 3)), 6),
    ],
)
def test_rounding(items: tuple[tuple[Status, Severity], ...], score: int) -> None:
    rs = results(*items)
    assert judge(rs).score == score == design_score(rs)


_ITEM = st.tuples(
    st.sampled_from(list(Status)),
    st.sampled_from([REQ, OPT]),
    st.none() | st.integers(min_value=0, max_value=10) | st.floats(min_value=0, max_value=100),
)


@FUZZ
@given(st.lists(_ITEM, max_size=12), st.integers(min_value=0, max_value=100), st.booleans())
def test_score_is_the_design_formula(
    items: list[tuple[Status, Severity, float | None]], min_score: int, strict: bool
) -> None:
    rs = [
        result(status, severity, weight, n=i) for i, (status, severity, weight) in enumerate(items)
    ]
    verdict = judge(rs, min_score=min_score, strict=strict)
    assert verdict.score == design_score(rs)
    assert 0 <= verdict.score <= 100
    assert sum(verdict.counts.values()) == len(rs)
    required_bad = any(r.counts_against for r in rs)
    expected_ready = not required_bad and verdict.score >= min_score
    if strict:
        expected_ready = expected_ready and not any(
            r.status is Status.WARN
            or (r.spec.severity is OPT and r.status in (Status.FAIL, Status.ERROR, Status.BLOCKED))
            for r in rs
        )
    assert verdict.ready is expected_ready
    assert verdict.ready is (verdict.reasons == [])


@pytest.mark.parametrize("weight", ["inf", "1e308", "1" + "0" * 400])
def test_any_loadable_weight_can_be_judged(tmp_path: Path, weight: str) -> None:
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "x.toml").write_text(
        f'[[check]]\nid = "a"\nkind = "file"\npath = "x"\nweight = {weight}\n'
        f'[[check]]\nid = "b"\nkind = "file"\npath = "x"\nweight = {weight}\n'
    )
    try:
        config = load_config(tmp_path, None, {})
    except ConfigErrors:
        return  # rejected at load time: fine
    specs = config.checks
    verdict = judge(
        [Result(specs[0], "Files", Status.PASS, ""), Result(specs[1], "Files", Status.FAIL, "")]
    )
    assert 0 <= verdict.score <= 100
