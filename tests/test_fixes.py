"""`envdoctor fix`: the script a person pastes, and the only steps --apply may run."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from conftest import Project
from envdoctor.fixes import _is_command, fix_script, safe_steps
from envdoctor.model import Finding, Status
from reporters._reports import report, result


def test_script_has_a_comment_and_a_fix_per_problem() -> None:
    rep = report(
        [
            result("ok", Status.PASS, "fine"),
            result("db", Status.FAIL, "refused at 127.0.0.1:5432", fix="docker compose up -d db"),
            result("env", Status.FAIL, "2 of 3 variables missing", fix="set A, B in .env"),
            result("after", Status.BLOCKED, "depends on db (fail)"),
            result("odd", Status.ERROR, "crashed: KeyError"),
        ]
    )
    script = fix_script(rep)
    lines = script.splitlines()
    assert lines[0] == "#!/bin/sh"
    assert "# db: fail: refused at 127.0.0.1:5432" in lines
    assert "docker compose up -d db" in lines  # a program on PATH: a command line
    assert "# to do: set A, B in .env" in lines  # advice stays a comment
    assert "# fix what it depends on first" in lines
    assert "# (no automatic fix known: see the message above)" in lines
    assert "ok" not in script.split("\n", 2)[2]  # passing checks are not mentioned


def test_a_fix_two_checks_share_is_written_once_and_the_second_says_so() -> None:
    rep = report(
        [
            result("db", Status.FAIL, "refused", fix="docker compose up -d db"),
            result("db-admin", Status.FAIL, "refused", fix="docker compose up -d db"),
        ]
    )
    lines = fix_script(rep).splitlines()
    assert lines.count("docker compose up -d db") == 1
    assert lines[lines.index("# db-admin: fail: refused") + 1] == "# (the same fix as above)"


def test_the_script_runs_from_the_project_directory() -> None:
    rep = report([result("env", Status.FAIL, "missing", fix="cp .env.example .env")])
    lines = fix_script(rep).splitlines()
    assert lines[2] == f"cd {shlex.quote(rep.project)} || exit 1"


def test_nothing_to_fix() -> None:
    assert "# nothing to fix: every check passed" in fix_script(
        report([result("ok", Status.PASS, "x")])
    )


def test_finding_fixes_are_used_when_the_check_has_none() -> None:
    finding = Finding("hvac", Status.FAIL, "not installed", fix="python -m pip install 'hvac>=1'")
    rep = report([result("pkgs", Status.FAIL, "1 missing", findings=[finding])])
    assert "python -m pip install 'hvac>=1'" in fix_script(rep).splitlines()


def test_safe_steps_are_the_actions_each_once() -> None:
    a = result("a", Status.FAIL, "x")
    b = result("b", Status.FAIL, "y")
    a.actions = [["python", "-m", "pip", "install", "six"]]
    b.actions = [
        ["python", "-m", "pip", "install", "six"],
        ["python", "-m", "pip", "install", "idna"],
    ]
    assert safe_steps(report([a, b])) == [
        ["python", "-m", "pip", "install", "six"],
        ["python", "-m", "pip", "install", "idna"],
    ]


def test_is_command() -> None:
    assert _is_command("sh -c true")
    assert _is_command(f"{sys.executable} -m pip install x")
    assert _is_command("cd /tmp && make")
    assert not _is_command("set A in .env (or export it)")
    assert not _is_command("unterminated 'quote")
    assert not _is_command("")


README_WITH_FIX = """
[[check]]
id = "readme"
kind = "file"
path = "README.md"
fix = "touch README.md"
"""


def test_fix_command_end_to_end(project: Project, tmp_path: Path) -> None:
    project.checks(README_WITH_FIX)
    result_ = project.run("fix")
    assert result_.code == 0, result_.stderr
    assert "# readme: fail: README.md not found in the project directory" in result_.stdout
    assert "touch README.md" in result_.stdout.splitlines()
    assert not (project.root / "README.md").exists()  # printing never runs anything


def test_fix_apply_without_safe_steps_runs_nothing(project: Project) -> None:
    project.checks(README_WITH_FIX)
    result_ = project.run("fix", "--apply", "--yes")
    assert result_.code == 1
    assert "nothing that --apply may run" in result_.stderr
    assert not (project.root / "README.md").exists()
