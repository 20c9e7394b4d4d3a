"""`envdoctor list` and `envdoctor explain ID`, end to end through the installed console script.

`list` answers "what would run, and where is it defined?" (id, kind, severity, file:line);
`explain` runs one check alone and shows everything it tried. Both must read the same modules
as `check` and fail the same way on bad ones (exit 2, see test_cli_errors.py).
"""

from __future__ import annotations

import platform
import re
import sys
from pathlib import Path

import pytest
from tests.conftest import Project, run_cli

MODULE = """
[[check]]
id = "readme"
kind = "file"
path = "README.md"
tags = ["docs"]

[[check]]
id = "py"
kind = "python"
version = ">=3.8"

[[check]]
id = "missing"
kind = "file"
path = "NOTES.md"
fix = "touch NOTES.md"
severity = "optional"

[[check]]
id = "after-missing"
kind = "file"
path = "README.md"
depends_on = ["missing"]

[[check]]
id = "later"
kind = "file"
path = "README.md"
skip = "not this week"
"""


@pytest.fixture
def demo(project: Project) -> Project:
    project.write("README.md", "hello\n")
    project.checks(MODULE)
    return project


def list_rows(stdout: str) -> list[list[str]]:
    return [line.split() for line in stdout.splitlines()]


# -- list ---------------------------------------------------------------------------------


def test_list_shows_id_kind_severity_and_source(demo: Project) -> None:
    result = demo.run("list")
    assert result.code == 0
    assert result.stderr == ""
    assert list_rows(result.stdout) == [
        ["ID", "KIND", "SEVERITY", "SOURCE"],
        ["readme", "file", "required", "checks/envdoctor.toml:1"],
        ["py", "python", "required", "checks/envdoctor.toml:7"],
        ["missing", "file", "optional", "checks/envdoctor.toml:12"],
        ["after-missing", "file", "required", "checks/envdoctor.toml:19"],
        ["later", "file", "required", "checks/envdoctor.toml:25"],
    ]


def test_list_columns_are_aligned(demo: Project) -> None:
    lines = demo.run("list").stdout.splitlines()
    for header in ("KIND", "SEVERITY", "SOURCE"):
        column = lines[0].index(header)
        for line in lines[1:]:
            assert line[column - 1] == " " and line[column] != " ", (header, line)


def test_list_runs_nothing(project: Project, tmp_path: Path) -> None:
    # A python target that would leave a trace if it were run: list must not run it.
    marker = tmp_path / "ran"
    wrapper = tmp_path / "python"
    wrapper.write_text(f'#!/bin/sh\ntouch "{marker}"\nexec "{sys.executable}" "$@"\n')
    wrapper.chmod(0o755)
    project.checks('[[check]]\nid = "py"\nkind = "python"\n')
    result = project.run("list", "--python", str(wrapper))
    assert result.code == 0
    assert not marker.exists()
    assert sorted(p.name for p in project.root.rglob("*")) == ["checks", "envdoctor.toml"]


def test_list_follows_pyproject_include_and_config(project: Project) -> None:
    project.write(
        "pyproject.toml",
        '[tool.envdoctor]\ninclude = ["ops/*.toml"]\n\n[[tool.envdoctor.check]]\nid = "pp"\n'
        'kind = "file"\npath = "x"\n',
    )
    project.write("ops/a.toml", '# ops\n[[check]]\nid = "ops"\nkind = "python"\n')
    project.write("ci.toml", '[[check]]\nid = "ci"\nkind = "file"\npath = "x"\n')
    discovered = project.run("list")
    assert [row[0] for row in list_rows(discovered.stdout)[1:]] == ["pp", "ops"]
    assert list_rows(discovered.stdout)[1][3] == "pyproject.toml:4"
    assert list_rows(discovered.stdout)[2][3] == "ops/a.toml:2"
    chosen = project.run("list", "--config", "ci.toml")
    assert list_rows(chosen.stdout)[1:] == [["ci", "file", "required", "ci.toml:1"]]


def test_list_with_project_flag(demo: Project, tmp_path: Path) -> None:
    result = run_cli("list", "--project", str(demo.root), cwd=tmp_path)
    assert result.code == 0
    assert len(list_rows(result.stdout)) == 6


# -- explain ------------------------------------------------------------------------------


def test_explain_a_passing_check_shows_its_evidence(demo: Project) -> None:
    result = demo.run("explain", "readme")
    assert result.code == 0
    assert result.stderr == ""
    out = result.stdout
    assert out.splitlines()[0].startswith("envdoctor ")
    assert "check readme · kind file · required · checks/envdoctor.toml:1" in out
    assert "    path = 'README.md'" in out
    assert "    exists = True" in out
    assert re.search(r"^evidence\n  looked for .*README\.md$", out, re.M)
    assert f"looked for {demo.root / 'README.md'}" in out
    assert re.search(r"^  \[✓\] readme +README\.md exists", out, re.M)
    assert re.search(r"^  status pass in \d+\.\d ms$", out, re.M)


def test_explain_a_failing_check_exits_1_with_its_fix(demo: Project) -> None:
    result = demo.run("explain", "missing")
    assert result.code == 1
    out = result.stdout
    assert "check missing · kind file · optional · checks/envdoctor.toml:12" in out
    assert f"looked for {demo.root / 'NOTES.md'}" in out
    assert re.search(r"^        fix: touch NOTES\.md$", out, re.M)
    assert re.search(r"^  status fail in ", out, re.M)


def test_explain_python_names_the_target_and_the_requirement(demo: Project) -> None:
    result = demo.run("explain", "py")
    assert result.code == 0
    out = result.stdout
    assert re.search(
        rf"^  target .+ \(running interpreter\): \S+ {re.escape(platform.python_version())}$",
        out,
        re.M,
    )
    assert "  required >=3.8 (checks/envdoctor.toml:10 version)" in out


def test_explain_runs_the_check_even_when_its_dependency_fails(demo: Project) -> None:
    result = demo.run("explain", "after-missing")
    assert result.code == 0
    assert re.search(r"^  \[✓\] after-missing +README\.md exists", result.stdout, re.M)
    assert "blocked" not in result.stdout


def test_explain_says_which_dependencies_it_did_not_run(demo: Project) -> None:
    result = demo.run("explain", "after-missing")
    assert "depends on missing (not run by explain)" in result.stdout


def test_explain_a_skipped_check_exits_0(demo: Project) -> None:
    result = demo.run("explain", "later")
    assert result.code == 0
    assert re.search(r"^  \[·\] later +skipped: not this week", result.stdout, re.M)
    assert "(none recorded)" in result.stdout


def test_explain_unknown_id_exits_2_with_did_you_mean(demo: Project) -> None:
    result = demo.run("explain", "readm")
    assert result.code == 2
    assert result.stdout == ""
    assert result.stderr == "envdoctor: no check with id 'readm' (did you mean 'readme'?)\n"


def test_explain_unknown_id_without_a_close_match(demo: Project) -> None:
    result = demo.run("explain", "zzz")
    assert result.code == 2
    assert result.stderr == "envdoctor: no check with id 'zzz'\n"


def test_explain_names_variables_but_never_their_values(project: Project) -> None:
    secret = "canary-explain-Wq9"
    project.checks(
        '[[check]]\nid = "db"\nkind = "file"\npath = "data/${ENVDOCTOR_TEST_PASSWORD}"\n\n'
        '[[check]]\nid = "unset"\nkind = "file"\npath = "${ENVDOCTOR_TEST_SURELY_UNSET_7F3A}"\n'
    )
    env = {"ENVDOCTOR_TEST_PASSWORD": secret}
    db = project.run("explain", "db", env=env)
    assert db.code == 1
    assert secret not in db.stdout + db.stderr
    assert "variables read: ENVDOCTOR_TEST_PASSWORD (values not shown)" in db.stdout
    assert "    path = 'data/***'" in db.stdout
    unset = project.run("explain", "unset", env=env)
    assert unset.code == 1
    assert "variables read: ENVDOCTOR_TEST_SURELY_UNSET_7F3A (values not shown)" in unset.stdout
    assert re.search(
        r"^  \[✗\] unset +error: ENVDOCTOR_TEST_SURELY_UNSET_7F3A is not set", unset.stdout, re.M
    )


def test_explain_honours_timeout_and_python(project: Project, tmp_path: Path) -> None:
    marker = tmp_path / "started"
    slow = tmp_path / "python"
    slow.write_text(f'#!/bin/sh\ntouch "{marker}"\nsleep 20\nexec "{sys.executable}" "$@"\n')
    slow.chmod(0o755)
    project.checks('[[check]]\nid = "py"\nkind = "python"\n')
    result = project.run("explain", "py", "--python", str(slow), "--timeout", "300ms")
    assert result.code == 1
    assert marker.exists()
    assert re.search(r"^  \[✗\] py +timed out after 300 ms", result.stdout, re.M)
    assert "deadline of 300 ms reached" in result.stdout
    assert str(slow) in result.stdout.splitlines()[0]
