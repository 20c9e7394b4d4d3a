"""The Markdown report: a heading, the facts, one intact table, and the fixes to copy."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from envdoctor.model import Finding, Status
from envdoctor.reporters import RenderOptions
from envdoctor.reporters.markdown import cell, code, render

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
HEADER = "| | Check | Status | Details |"
UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def table(text: str) -> list[list[str]]:
    """The table's body rows split into cells (escaped pipes kept inside their cell)."""
    lines = text.splitlines()
    start = lines.index(HEADER)
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        assert len(UNESCAPED_PIPE.findall(line)) == 5, f"row does not have 4 cells: {line!r}"
        rows.append([c.strip() for c in UNESCAPED_PIPE.split(line)[1:-1]])
    return rows


def section(text: str, heading: str) -> str:
    return text.split(heading, 1)[1]


def test_heading_and_facts() -> None:
    text = render(every_status_report(), PLAIN)
    lines = text.splitlines()
    assert lines[0] == "## envdoctor: ❌ Not ready · score 28/100"
    assert "- **Project:** `/srv/shop`" in lines
    assert "- **Python:** `/srv/shop/.venv/bin/python` (3.12.3)" in lines
    assert "- **Result:** 3 required checks failed · 1 warning · 7 checks in 0.31 s" in lines
    assert HEADER in lines
    assert lines[lines.index(HEADER) + 1] == "|---|---|---|---|"


def test_ready_heading() -> None:
    ok = report([result("readme", Status.PASS, "README.md exists (file)")], min_score=80)
    text = render(ok, PLAIN)
    assert text.startswith("## envdoctor: ✅ Ready · score 100/100\n")
    assert "- **Minimum score:** 80" in text
    assert "Fixes" not in text


def test_rows_in_declared_order_grouped_by_category() -> None:
    rows = table(render(every_status_report(), PLAIN))
    assert [r[:3] for r in rows] == [
        ["", "**Python**", ""],
        ["✅", "python", "pass"],
        ["", "**Packages**", ""],
        ["❌", "packages", "fail"],
        ["", "**Services**", ""],
        ["❌", "postgres", "error"],
        ["⛔", "redis", "blocked"],
        ["⚠️", "alertmanager", "fail (optional)"],
        ["", "**Environment**", ""],
        ["⚠️", "env", "warn"],
        ["", "**Files**", ""],
        ["⏭️", "docs", "skip"],
    ]


def test_details_expand_problem_findings_only() -> None:
    rows = {r[1]: r for r in table(render(every_status_report(), PLAIN))}
    details = rows["packages"][3].split("<br>")
    assert details == [
        "2 of 41 requirements not met",
        "**hvac** not installed (expected >=1.0; requirements.txt:12)",
        "**pydantic** 2.7.1 installed (expected <2; requirements.txt:4)",
        "**./local** editable install whose name is unknown",
    ]
    assert rows["python"][3] == "3.12.3 satisfies >=3.11 (pyproject.toml requires-python)"
    assert rows["postgres"][3] == "crashed: ValueError: bad \\| pipe"


def test_verbose_shows_passing_findings_and_where_each_check_is_defined() -> None:
    rows = {r[1]: r for r in table(render(every_status_report(), RenderOptions(verbose=True)))}
    assert "**requests** 2.31.0 installed (requirements.txt:7)" in rows["packages"][3]
    assert "**version** 3.12.3 matches >=3.11" in rows["python"][3]
    assert rows["python"][3].endswith("(12 ms, checks/python.toml:1)")


def test_quiet_keeps_only_problems() -> None:
    rows = table(render(every_status_report(), RenderOptions(quiet=True)))
    names = [r[1] for r in rows]
    assert "python" not in names and "docs" not in names
    assert "**Python**" not in names and "**Files**" not in names
    assert names == [
        "**Packages**",
        "packages",
        "**Services**",
        "postgres",
        "redis",
        "alertmanager",
        "**Environment**",
        "env",
    ]


def test_fixes_section_has_one_fenced_block_per_problem_check() -> None:
    text = render(every_status_report(), PLAIN)
    fixes = section(text, "\n### Fixes\n")
    assert fixes == (
        "\n**packages**\n\n"
        "```sh\n.venv/bin/python -m pip install 'hvac>=1.0' 'pydantic<2'\n```\n\n"
        "**alertmanager (optional)**\n\n"
        "```sh\ndocker compose up -d alertmanager\n```\n\n"
        "**env**\n\n"
        "```sh\nedit .env and give SENTRY_DSN a value\n```\n"
    )


def test_finding_fixes_when_the_check_has_none_and_each_command_once() -> None:
    a = result(
        "api",
        Status.FAIL,
        "2 variables missing",
        findings=[
            Finding("A", Status.FAIL, "not set", fix="echo 'A=' >> .env"),
            Finding("B", Status.FAIL, "not set", fix="echo 'B=' >> .env"),
        ],
    )
    b = result("worker", Status.FAIL, "broken", fix="echo 'A=' >> .env")
    fixes = section(render(report([a, b]), PLAIN), "### Fixes")
    assert "```sh\necho 'A=' >> .env\necho 'B=' >> .env\n```" in fixes
    assert "worker" not in fixes


def test_fence_is_longer_than_backticks_in_the_command() -> None:
    r = result("odd", Status.FAIL, "broken", fix="echo ```not a fence``` `x`")
    fixes = section(render(report([r]), PLAIN), "### Fixes")
    assert "\n````sh\necho ```not a fence``` `x`\n````\n" in fixes


def test_hostile_cells_keep_the_table_intact() -> None:
    r = result(
        "we|ird",
        Status.FAIL,
        "a | b\nsecond line\r\nthird <script>alert(1)</script> but pydantic<2 stays",
        category="Odd | Category",
        findings=[Finding("x|y", Status.FAIL, "p|q", expected="<2|>1")],
    )
    rows = table(render(report([r]), PLAIN))
    assert rows[0][1] == "**Odd \\| Category**"
    assert rows[1][1] == "we\\|ird"
    assert rows[1][3].split("<br>") == [
        "a \\| b",
        "second line",
        "third &lt;script>alert(1)&lt;/script> but pydantic<2 stays",
        "**x\\|y** p\\|q (expected <2\\|>1)",
    ]


def test_cell_and_code_helpers() -> None:
    assert cell(None) == ""
    assert cell("a|b\nc") == "a\\|b<br>c"
    assert code("/srv/shop") == "`/srv/shop`"
    assert code("we`ird") == "``we`ird``"
    assert code("`x`") == "`` `x` ``"


def test_ascii_output_without_unicode() -> None:
    text = render(every_status_report(), RenderOptions(unicode=False))
    assert text.isascii()
    assert text.startswith("## envdoctor: Not ready - score 28/100\n")
    marks = [r[0] for r in table(text) if r[0]]
    assert marks == ["`+`", "`x`", "`x`", "`-`", "`!`", "`!`", "`.`"]


def test_no_secret_in_a_redacted_report() -> None:
    for text in secret_renders(render, PLAIN, RenderOptions(verbose=True)):
        assert REDACTED_URL in text
        assert f"pg_isready -d {REDACTED_URL}" in section(text, "### Fixes")


def test_end_to_end_markdown_from_the_cli(project: Project) -> None:
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
        """
    )
    project.write("README.md", "hello\n")
    (project.root / "build").mkdir()
    out = project.run("check", "--format", "markdown", env={"PYTHONIOENCODING": "utf-8"})
    assert out.code == 1, out.stderr
    assert out.stdout.startswith("## envdoctor: ❌ Not ready · score 50/100\n")
    rows = table(out.stdout)
    assert [r[1:3] for r in rows] == [["**Files**", ""], ["readme", "pass"], ["no-build", "fail"]]
    assert "```sh\nrm -r build\n```" in section(out.stdout, "### Fixes")


def test_end_to_end_secret_never_shown(project: Project) -> None:
    for _, out in secret_runs(project, ("--format", "markdown"), (), ("-v",)):
        assert "touch postgresql://u:***@h/db" in section(out.stdout, "### Fixes")
