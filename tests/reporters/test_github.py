"""GitHub Actions annotations, parsed back with a regex the way the runner splits a command."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote

from envdoctor.model import Finding, Severity, Status
from envdoctor.reporters import RenderOptions
from envdoctor.reporters.github import command, escape_data, escape_property, render

from ._reports import (
    REDACTED_URL,
    every_status_report,
    report,
    result,
    secret_renders,
    secret_runs,
)

if TYPE_CHECKING:
    from conftest import Project

PLAIN = RenderOptions()
# `::level key=value,key=value::message`; escaped properties can hold neither `:` nor `,`.
COMMAND = re.compile(r"^::(?P<level>error|warning|notice)(?: (?P<props>[^:]*))?::(?P<message>.*)$")


@dataclass
class Annotation:
    level: str
    props: dict[str, str]
    message: str


def unescape(text: str) -> str:
    # Every escape the toolkit makes is a %XX sequence, so URL unquoting inverts it exactly.
    return unquote(text)


def annotations(text: str) -> tuple[list[Annotation], list[str]]:
    """The workflow commands in `text`, unescaped, and the plain lines left over."""
    found, plain = [], []
    for line in text.splitlines():
        match = COMMAND.match(line)
        if match is None:
            assert not line.startswith("::"), f"malformed command: {line!r}"
            plain.append(line)
            continue
        props = {}
        for pair in (match["props"] or "").split(","):
            if pair:
                key, _, value = pair.partition("=")
                props[key] = unescape(value)
        found.append(Annotation(match["level"], props, unescape(match["message"])))
    return found, plain


def by_title(items: list[Annotation]) -> dict[str, Annotation]:
    return {a.props["title"]: a for a in items}


def test_one_annotation_per_non_passing_check_at_its_definition() -> None:
    found, _ = annotations(render(every_status_report(), PLAIN))
    checks = [a for a in found if a.props["file"].startswith("checks/")]
    assert [(a.level, a.props["title"]) for a in checks] == [
        ("error", "envdoctor packages"),
        ("error", "envdoctor postgres"),
        ("error", "envdoctor redis"),
        ("warning", "envdoctor alertmanager"),
        ("warning", "envdoctor env"),
    ]
    packages = by_title(checks)["envdoctor packages"]
    assert packages.props == {
        "file": "checks/python.toml",
        "line": "7",
        "title": "envdoctor packages",
    }


def test_nothing_for_pass_and_skip() -> None:
    found, _ = annotations(render(every_status_report(), PLAIN))
    titles = " ".join(a.props["title"] for a in found)
    assert "python" not in titles
    assert "docs" not in titles


def test_check_message_has_findings_and_fix() -> None:
    found, _ = annotations(render(every_status_report(), PLAIN))
    message = by_title(found)["envdoctor packages"].message
    lines = message.split("\n")
    assert lines[0] == "2 of 41 requirements not met"
    assert "  hvac: not installed (expected >=1.0; requirements.txt:12)" in lines
    assert "requests" not in message
    assert lines[-1] == "fix: .venv/bin/python -m pip install 'hvac>=1.0' 'pydantic<2'"
    assert by_title(found)["envdoctor postgres"].message == "error: crashed: ValueError: bad | pipe"
    assert by_title(found)["envdoctor redis"].message == "blocked: depends on postgres (error)"
    assert by_title(found)["envdoctor alertmanager"].message.startswith("optional: timed out")


def test_findings_with_a_file_line_point_at_it() -> None:
    found, _ = annotations(render(every_status_report(), PLAIN))
    in_files = [a for a in found if not a.props["file"].startswith("checks/")]
    assert [(a.level, a.props["file"], a.props["line"], a.props["title"]) for a in in_files] == [
        ("error", "requirements.txt", "12", "envdoctor packages: hvac"),
        ("error", "requirements.txt", "4", "envdoctor packages: pydantic"),
        ("warning", ".env.example", "3", "envdoctor env: SENTRY_DSN"),
    ]
    hvac = in_files[0]
    assert hvac.message == (
        "hvac: not installed (expected >=1.0)\nfix: .venv/bin/python -m pip install 'hvac>=1.0'"
    )


def test_optional_check_findings_are_warnings() -> None:
    r = result(
        "extras",
        Status.FAIL,
        "1 of 2 requirements not met",
        severity=Severity.OPTIONAL,
        findings=[Finding("rich", Status.FAIL, "not installed", source="requirements-dev.txt:2")],
    )
    found, _ = annotations(render(report([r]), PLAIN))
    assert [(a.level, a.props["file"]) for a in found] == [
        ("warning", "checks/envdoctor.toml"),
        ("warning", "requirements-dev.txt"),
    ]


def test_finding_without_a_line_gets_no_annotation_of_its_own() -> None:
    r = result(
        "env",
        Status.FAIL,
        "1 variable missing",
        findings=[
            Finding("API_TOKEN", Status.FAIL, "not set"),
            Finding("X", Status.FAIL, "not set", source="DATABASE_URL from .env"),
        ],
    )
    found, _ = annotations(render(report([r]), PLAIN))
    assert len(found) == 1
    assert "API_TOKEN: not set" in found[0].message


def test_summary_is_the_last_plain_line() -> None:
    found, plain = annotations(render(every_status_report(), PLAIN))
    assert len(found) == 8
    assert plain == [
        "envdoctor: Not ready · score 28/100 · 3 required checks failed · 1 warning"
        " · 7 checks in 0.31 s"
    ]
    ok = render(report([result("readme", Status.PASS, "README.md exists (file)")]), PLAIN)
    assert ok == "envdoctor: Ready · score 100/100 · 1 check in 0.31 s\n"


def test_ascii_summary_without_unicode() -> None:
    text = render(every_status_report(), RenderOptions(unicode=False))
    assert text.splitlines()[-1].startswith("envdoctor: Not ready - score 28/100 - ")


def test_escaping_follows_the_workflow_command_rules() -> None:
    assert escape_data("100% done\r\nnext: a, b") == "100%25 done%0D%0Anext: a, b"
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"
    made = command("error", "m", file="x.toml", line=None, title="t")
    assert made == "::error file=x.toml,title=t::m"
    assert command("warning", "plain") == "::warning::plain"


def test_hostile_text_stays_one_command_and_round_trips() -> None:
    message = "50% up\nline two\r\n::error::injected"
    r = result(
        "we,ird:id",
        Status.FAIL,
        message,
        path="checks/a,b:c.toml",
        line=3,
        findings=[Finding("x", Status.FAIL, "bad%0A", source="dir, with:colons/req.txt:9")],
        fix="printf '%s\\n' done",
    )
    text = render(report([r]), PLAIN)
    assert text.count("\n") == 3  # two commands and the summary, nothing injected
    found, plain = annotations(text)
    assert len(plain) == 1
    check, finding = found
    assert check.props == {"file": "checks/a,b:c.toml", "line": "3", "title": "envdoctor we,ird:id"}
    assert check.message == (
        f"{message}\n  x: bad%0A (dir, with:colons/req.txt:9)\nfix: printf '%s\\n' done"
    )
    assert finding.props["file"] == "dir, with:colons/req.txt"
    assert finding.props["line"] == "9"
    assert finding.message == "x: bad%0A"


def test_windows_paths_and_unknown_lines() -> None:
    r = result("w", Status.FAIL, "missing", path="checks\\win.toml", line=None)
    found, _ = annotations(render(report([r]), PLAIN))
    assert found[0].props == {"file": "checks/win.toml", "title": "envdoctor w"}


def test_no_secret_in_a_redacted_report() -> None:
    for text in secret_renders(render, PLAIN, RenderOptions(verbose=True)):
        assert REDACTED_URL in unescape(text)


def test_end_to_end_github_from_the_cli(project: Project) -> None:
    project.write("requirements.txt", "hvac>=1.0\n")
    project.checks(
        """
        [[check]]
        id = "readme"
        kind = "file"
        path = "README.md"

        [[check]]
        id = "license"
        kind = "file"
        path = "LICENSE"
        severity = "optional"
        """
    )
    out = project.run("check", "--format", "github")
    assert out.code == 1, out.stderr
    found, plain = annotations(out.stdout)
    assert [(a.level, a.props["title"], a.props["line"]) for a in found] == [
        ("error", "envdoctor readme", "1"),
        ("warning", "envdoctor license", "6"),
    ]
    assert all(a.props["file"] == "checks/envdoctor.toml" for a in found)
    assert plain[-1].startswith("envdoctor: Not ready")


def test_a_bad_line_in_a_requirements_file_is_annotated_on_that_line(project: Project) -> None:
    """The line the pull request must change is the requirements file's, not the check's."""
    project.write("requirements.txt", "-r base.txt\n")
    project.write("base.txt", "six\nthis is ( not valid\n")
    project.checks('[[check]]\nid = "pkgs"\nkind = "packages"\nrequirements = "requirements.txt"\n')
    out = project.run("check", "--format", "github")
    assert out.code == 1, out.stderr
    found, _ = annotations(out.stdout)
    assert [(a.level, a.props["file"], a.props["line"]) for a in found] == [
        ("error", "checks/envdoctor.toml", "1"),
        ("error", "base.txt", "2"),
    ]
    assert found[1].message.startswith("error: base.txt:2: ")


def test_end_to_end_secret_never_shown(project: Project) -> None:
    for _, out in secret_runs(project, ("--format", "github"), (), ("-v",)):
        found, _ = annotations(out.stdout)
        assert [a.props["title"] for a in found] == ["envdoctor dsn-file"]
        assert "not found" in found[0].message
