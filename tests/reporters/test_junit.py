"""The JUnit XML report, read back with ElementTree the way a CI system would read it."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from envdoctor.model import Finding, Severity, Status
from envdoctor.reporters import RenderOptions
from envdoctor.reporters.junit import render, xml_safe

from ._reports import (
    REDACTED_URL,
    every_status_report,
    report,
    result,
    secret_renders,
    secret_runs,
)

PLAIN = RenderOptions()
VERBOSE = RenderOptions(verbose=True)


def parse(text: str) -> ET.Element:
    root = ET.fromstring(text.encode("utf-8"))
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 1
    return suites[0]


def cases(suite: ET.Element) -> dict[str, ET.Element]:
    return {case.get("name", ""): case for case in suite.findall("testcase")}


def props(element: ET.Element) -> dict[str, str]:
    return {p.get("name", ""): p.get("value", "") for p in element.findall("properties/property")}


def test_one_suite_with_counts_matching_the_statuses() -> None:
    text = render(every_status_report(), PLAIN)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    suite = parse(text)
    assert suite.get("name") == "envdoctor"
    assert suite.attrib["tests"] == "7"
    assert suite.attrib["failures"] == "2"  # packages, alertmanager (optional)
    assert suite.attrib["errors"] == "2"  # postgres (error), redis (blocked)
    assert suite.attrib["skipped"] == "1"
    assert float(suite.attrib["time"]) == 0.312
    root = ET.fromstring(text)
    assert {k: root.attrib[k] for k in ("tests", "failures", "errors", "skipped")} == {
        "tests": "7",
        "failures": "2",
        "errors": "2",
        "skipped": "1",
    }


def test_suite_properties_carry_the_verdict_and_the_target() -> None:
    suite = parse(render(every_status_report(), PLAIN))
    p = props(suite)
    assert p["ready"] == "false"
    assert p["score"] == "28"
    assert p["project"] == "/srv/shop"
    assert p["python"] == "/srv/shop/.venv/bin/python"
    assert p["python_version"] == "3.12.3"
    assert p["verdict"].startswith("Not ready - score 28/100")
    assert p["interrupted"] == "false"


def test_one_testcase_per_check_in_declared_order() -> None:
    suite = parse(render(every_status_report(), PLAIN))
    found = [(c.get("classname"), c.get("name")) for c in suite.findall("testcase")]
    assert found == [
        ("envdoctor.python", "python"),
        ("envdoctor.packages", "packages"),
        ("envdoctor.services", "postgres"),
        ("envdoctor.services", "redis"),
        ("envdoctor.services", "alertmanager"),
        ("envdoctor.environment", "env"),
        ("envdoctor.files", "docs"),
    ]
    packages = cases(suite)["packages"]
    assert packages.get("time") == "0.041"
    assert packages.get("file") == "checks/python.toml"
    assert packages.get("line") == "7"


def test_pass_has_no_outcome_element() -> None:
    case = cases(parse(render(every_status_report(), PLAIN)))["python"]
    assert [child.tag for child in case] == ["properties"]
    assert props(case)["status"] == "pass"


def test_fail_is_a_failure_with_findings_and_fix() -> None:
    case = cases(parse(render(every_status_report(), PLAIN)))["packages"]
    failure = case.find("failure")
    assert failure is not None
    assert failure.get("message") == "2 of 41 requirements not met"
    assert failure.get("type") == "fail"
    text = failure.text or ""
    assert "hvac: not installed (expected >=1.0; requirements.txt:12)" in text
    assert "pydantic: 2.7.1 installed (expected <2; requirements.txt:4)" in text
    assert "./local: editable install whose name is unknown" in text
    assert "requests" not in text  # passing findings only with -v
    assert "fix: .venv/bin/python -m pip install 'hvac>=1.0' 'pydantic<2'" in text
    assert case.find("error") is None and case.find("skipped") is None


def test_error_and_blocked_are_errors() -> None:
    found = cases(parse(render(every_status_report(), PLAIN)))
    error = found["postgres"].find("error")
    assert error is not None
    assert error.get("type") == "error"
    assert error.get("message") == "error: crashed: ValueError: bad | pipe"
    assert "Traceback" not in (error.text or "")  # the traceback only with -v
    blocked = found["redis"].find("error")
    assert blocked is not None
    assert blocked.get("type") == "blocked"
    assert blocked.get("message") == "blocked: depends on postgres (error)"
    assert found["redis"].find("failure") is None


def test_skip_is_skipped_with_its_reason() -> None:
    case = cases(parse(render(every_status_report(), PLAIN)))["docs"]
    skipped = case.find("skipped")
    assert skipped is not None
    assert skipped.get("message") == "when: sys_platform == 'win32' is false for this target"


def test_optional_failure_is_still_a_failure_marked_optional() -> None:
    case = cases(parse(render(every_status_report(), PLAIN)))["alertmanager"]
    failure = case.find("failure")
    assert failure is not None
    assert failure.get("message", "").startswith("optional: timed out after 1.0 s")
    assert "optional check" in (failure.text or "")
    assert "fix: docker compose up -d alertmanager" in (failure.text or "")
    assert props(case)["severity"] == "optional"


def test_optional_error_is_an_error_marked_optional() -> None:
    r = result("cache", Status.ERROR, "REDIS_URL is not set", severity=Severity.OPTIONAL)
    case = cases(parse(render(report([r]), PLAIN)))["cache"]
    error = case.find("error")
    assert error is not None
    assert error.get("message") == "optional: error: REDIS_URL is not set"


def test_warning_passes_and_says_why_in_system_out() -> None:
    case = cases(parse(render(every_status_report(), PLAIN)))["env"]
    assert case.find("failure") is None and case.find("error") is None
    assert case.find("skipped") is None
    out = case.find("system-out")
    assert out is not None
    assert "warning: 1 of 3 variables set but empty" in (out.text or "")
    assert "SENTRY_DSN: set but empty (.env.example:3)" in (out.text or "")
    assert props(case)["status"] == "warn"


def test_verbose_adds_evidence_traceback_and_passing_findings() -> None:
    found = cases(parse(render(every_status_report(), VERBOSE)))
    python_out = found["python"].find("system-out")
    assert python_out is not None
    assert "version: 3.12.3 matches >=3.11" in (python_out.text or "")
    assert "ran /srv/shop/.venv/bin/python -c …" in (python_out.text or "")
    error = found["postgres"].find("error")
    assert error is not None
    assert "Traceback (most recent call last):" in (error.text or "")
    failure = found["packages"].find("failure")
    assert failure is not None
    assert "requests: 2.31.0 installed" in (failure.text or "")


def test_characters_illegal_in_xml_are_made_visible_not_emitted() -> None:
    nasty = 'bad\x1b[31mred\x00nul \x0bvt \ud800 tab\tok & <tag> "quoted"'
    r = result(
        "weird",
        Status.FAIL,
        nasty,
        findings=[Finding("sub\x07ject", Status.FAIL, nasty, source="a.txt:1")],
        fix="echo \x1b",
        evidence=[nasty],
    )
    text = render(report([r]), VERBOSE)
    text.encode("utf-8")  # no lone surrogate survives
    for bad in ("\x1b", "\x00", "\x0b", "\x07", "\ud800"):
        assert bad not in text
    failure = cases(parse(text))["weird"].find("failure")
    assert failure is not None
    message = failure.get("message", "")
    assert message == 'bad\\x1b[31mred\\x00nul \\x0bvt \\ud800 tab\tok & <tag> "quoted"'
    assert "sub\\x07ject" in (failure.text or "")


def test_xml_safe_keeps_everything_xml_allows() -> None:
    allowed = "tab\t lf\n cr\r é ✓ \U0001f600 \ufffd"
    assert xml_safe(allowed) == allowed
    assert xml_safe("\x01\x1f\ufffe") == "\\x01\\x1f\\ufffe"


def test_interrupted_and_ready_reports() -> None:
    ok = report([result("readme", Status.PASS, "README.md exists (file)")])
    suite = parse(render(ok, PLAIN))
    assert props(suite)["ready"] == "true"
    assert suite.attrib["failures"] == "0" and suite.attrib["errors"] == "0"
    cut = report([result("slow", Status.SKIP, "interrupted before it finished")], interrupted=True)
    suite = parse(render(cut, PLAIN))
    assert props(suite)["interrupted"] == "true"
    assert props(suite)["verdict"].startswith("Interrupted")
    assert cases(suite)["slow"].find("skipped") is not None


def test_no_secret_in_a_redacted_report() -> None:
    for text in secret_renders(render, PLAIN, VERBOSE):
        assert REDACTED_URL in text
        parse(text)


def test_end_to_end_junit_from_the_cli(project) -> None:
    project.checks(
        """
        [[check]]
        id = "readme"
        kind = "file"
        path = "README.md"

        [[check]]
        id = "lockfile"
        kind = "file"
        path = "poetry.lock"
        severity = "optional"

        [[check]]
        id = "gone"
        kind = "file"
        path = "x"
        skip = "not needed here"
        """
    )
    project.write("README.md", "hello\n")
    out = project.run("check", "--format", "junit")
    assert out.code == 0, out.stderr
    suite = parse(out.stdout)
    assert suite.attrib["tests"] == "3"
    assert suite.attrib["failures"] == "1"
    assert suite.attrib["skipped"] == "1"
    found = cases(suite)
    assert found["readme"].get("classname") == "envdoctor.files"
    assert found["readme"].get("file") == "checks/envdoctor.toml"
    assert found["readme"].get("line") == "1"
    lock = found["lockfile"].find("failure")
    assert lock is not None and lock.get("message", "").startswith("optional: poetry.lock")


def test_end_to_end_secret_never_shown(project) -> None:
    for _, out in secret_runs(project, ("--format", "junit"), (), ("-v",)):
        failure = cases(parse(out.stdout))["dsn-file"].find("failure")
        assert failure is not None
        assert "not found" in failure.get("message", "")
