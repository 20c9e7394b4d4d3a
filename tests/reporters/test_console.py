"""The console report: layout without colour, ASCII fallback, colour only when asked, -q, -v."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from envdoctor.model import Severity, Status
from envdoctor.reporters import RenderOptions
from envdoctor.reporters.console import render

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
ANSI = re.compile(r"\x1b\[[0-9;]*m")
FINDING_INDENT = " " * 8

EXPECTED = """\
envdoctor 0.1.0 · project /srv/shop · python /srv/shop/.venv/bin/python (3.12.3)

Python
  [✓] python          3.12.3 satisfies >=3.11 (pyproject.toml requires-python)
Packages
  [✗] packages        2 of 41 requirements not met
        hvac            not installed (expected >=1.0; requirements.txt:12)
        pydantic        2.7.1 installed (expected <2; requirements.txt:4)
        ./local         editable install whose name is unknown
        fix: .venv/bin/python -m pip install 'hvac>=1.0' 'pydantic<2'
Services
  [✗] postgres        error: crashed: ValueError: bad | pipe
  [-] redis           blocked: depends on postgres (error)
  [!] alertmanager    optional · timed out after 1.0 s reading from 127.0.0.1:9093
        fix: docker compose up -d alertmanager
Environment
  [!] env             1 of 3 variables set but empty
        SENTRY_DSN      set but empty (.env.example:3)
        fix: edit .env and give SENTRY_DSN a value
Files
  [·] docs            skipped: when: sys_platform == 'win32' is false for this target

Not ready · score 28/100 · 3 required checks failed · 1 warning · 7 checks in 0.31 s
"""


def test_layout_without_colour() -> None:
    assert render(every_status_report(), PLAIN) == EXPECTED


def test_no_escape_codes_without_colour() -> None:
    for options in (PLAIN, RenderOptions(verbose=True), RenderOptions(unicode=False)):
        assert "\x1b" not in render(every_status_report(), options)


def test_optional_failure_and_error_show_a_warning_glyph() -> None:
    rep = report(
        [
            result("a", Status.FAIL, "down", severity=Severity.OPTIONAL),
            result("b", Status.ERROR, "X_URL is not set", severity=Severity.OPTIONAL),
            result("c", Status.PASS, "up", severity=Severity.OPTIONAL),
        ]
    )
    lines = render(rep, PLAIN).splitlines()
    assert "  [!] a               optional · down" in lines
    assert "  [!] b               optional · error: X_URL is not set" in lines
    assert "  [✓] c               up" in lines
    assert lines[-1].startswith("Ready · score 33/100")


def test_quiet_shows_only_problems_and_the_summary() -> None:
    text = render(every_status_report(), RenderOptions(quiet=True))
    lines = text.splitlines()
    assert not lines[0].startswith("envdoctor ")  # no header
    assert lines[0] == "Packages"
    assert "Python" not in lines and "Files" not in lines
    assert not any("[✓]" in line or "[·]" in line for line in lines)
    assert "  [-] redis           blocked: depends on postgres (error)" in lines
    assert f"{FINDING_INDENT}fix: docker compose up -d alertmanager" in lines
    assert lines[-1] == EXPECTED.splitlines()[-1]


def test_quiet_when_all_is_well_is_one_line() -> None:
    rep = report([result("readme", Status.PASS, "README.md exists (file)")])
    assert render(rep, RenderOptions(quiet=True)) == ("Ready · score 100/100 · 1 check in 0.31 s\n")


def test_verbose_adds_passing_findings_evidence_timings_and_tracebacks() -> None:
    lines = render(every_status_report(), RenderOptions(verbose=True)).splitlines()
    python = "  [✓] python          3.12.3 satisfies >=3.11 (pyproject.toml requires-python)"
    assert f"{python} (12 ms)" in lines
    assert f"{FINDING_INDENT}version         3.12.3 matches >=3.11" in lines
    assert f"{FINDING_INDENT}ran /srv/shop/.venv/bin/python -c …" in lines
    assert f"{FINDING_INDENT}requests        2.31.0 installed (requirements.txt:7)" in lines
    assert f"{FINDING_INDENT}read requirements.txt (41 lines)" in lines
    assert f"{FINDING_INDENT}Traceback (most recent call last):" in lines
    assert f"{FINDING_INDENT}  ValueError: bad | pipe" in lines
    assert "  [✗] packages        2 of 41 requirements not met (41 ms)" in lines


def test_ascii_fallback() -> None:
    text = render(every_status_report(), RenderOptions(unicode=False))
    assert text.isascii()
    lines = text.splitlines()
    assert lines[0] == (
        "envdoctor 0.1.0 - project /srv/shop - python /srv/shop/.venv/bin/python (3.12.3)"
    )
    glyphs = [line[2:5] for line in lines if line.startswith("  [")]
    assert glyphs == ["[+]", "[x]", "[x]", "[-]", "[!]", "[!]", "[.]"]
    alert = "  [!] alertmanager    optional - timed out after 1.0 s reading from 127.0.0.1:9093"
    assert alert in lines
    assert lines[-1].startswith("Not ready - score 28/100 - ")


def test_colours_only_when_asked() -> None:
    text = render(every_status_report(), RenderOptions(color=True))
    assert "\x1b[32m[✓]\x1b[0m python" in text
    assert "\x1b[31m[✗]\x1b[0m packages" in text
    assert "\x1b[33m[!]\x1b[0m alertmanager" in text  # optional failure: yellow, not red
    assert "\x1b[33m[!]\x1b[0m env" in text
    assert "\x1b[2m[-]\x1b[0m redis" in text
    assert "\x1b[1mServices\x1b[0m" in text
    assert "\x1b[36mfix: \x1b[0m" in text
    assert "\x1b[31mNot ready\x1b[0m" in text
    # With the escapes removed it is exactly the plain report.
    assert ANSI.sub("", text) == EXPECTED


def test_summary_variants() -> None:
    ready = report([result("a", Status.WARN, "slow")])
    assert render(ready, PLAIN).splitlines()[-1] == (
        "Ready · score 50/100 · 1 warning · 1 check in 0.31 s"
    )
    strict = report([result("a", Status.WARN, "slow")], strict=True)
    assert render(strict, PLAIN).splitlines()[-1] == (
        "Not ready · score 50/100 · 1 warning (--strict) · 1 check in 0.31 s"
    )
    cut = report([result("a", Status.SKIP, "interrupted before it finished")], interrupted=True)
    assert render(cut, PLAIN).splitlines()[-1].startswith("Interrupted · score 100/100")


def test_home_directory_is_shortened(monkeypatch) -> None:
    monkeypatch.setenv("HOME", "/home/me")
    rep = report(
        [result("a", Status.PASS, "ok")],
        project="/home/me/src/shop",
        python="/home/me/src/shop/.venv/bin/python",
    )
    assert render(rep, PLAIN).splitlines()[0] == (
        "envdoctor 0.1.0 · project ~/src/shop · python ~/src/shop/.venv/bin/python (3.12.3)"
    )


def test_no_secret_in_a_redacted_report() -> None:
    for text in secret_renders(render, PLAIN, RenderOptions(verbose=True)):
        assert REDACTED_URL in text


def test_end_to_end_layout_with_no_color(project: Project) -> None:
    project.checks(
        """
        [[check]]
        id = "readme"
        kind = "file"
        path = "README.md"

        [[check]]
        id = "no-build"
        kind = "file"
        path = "build"
        exists = false

        [[check]]
        id = "changelog"
        kind = "file"
        path = "CHANGELOG.md"
        depends_on = ["no-build"]
        """
    )
    project.write("README.md", "hello\n")
    (project.root / "build").mkdir()
    out = project.run("check", env={"PYTHONIOENCODING": "utf-8"})
    assert out.code == 1, out.stderr
    assert "\x1b" not in out.stdout
    lines = out.stdout.splitlines()
    assert lines[0].startswith("envdoctor ") and " · project " in lines[0]
    assert lines[2:7] == [
        "Files",
        "  [✓] readme          README.md exists (file)",
        "  [✗] no-build        build exists but must not",
        "        fix: rm -r build",
        "  [-] changelog       blocked: depends on no-build (fail)",
    ]
    assert re.fullmatch(
        r"Not ready · score 33/100 · 2 required checks failed · 3 checks in \d+\.\d\d s", lines[-1]
    )
    quiet = project.run("check", "-q", env={"PYTHONIOENCODING": "utf-8"})
    assert "readme" not in quiet.stdout and "no-build" in quiet.stdout


def test_end_to_end_ascii_when_the_output_cannot_encode_unicode(project: Project) -> None:
    project.checks(
        """
        [[check]]
        id = "readme"
        kind = "file"
        path = "README.md"
        """
    )
    project.write("README.md", "hello\n")
    out = project.run("check", env={"PYTHONIOENCODING": "ascii"})
    assert out.code == 0, out.stderr
    assert out.stdout.isascii()
    assert "  [+] readme          README.md exists (file)" in out.stdout.splitlines()


def test_end_to_end_secret_never_shown(project: Project) -> None:
    for _, out in secret_runs(project, (), (), ("-v",), ("-q",)):
        assert "dsn-file" in out.stdout
