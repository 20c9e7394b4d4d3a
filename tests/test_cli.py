"""`envdoctor check` end to end: the installed console script, run in temp projects as users run it.

Every test starts the real console script as a subprocess (conftest `run_cli`, NO_COLOR=1), so
entry points, start-up, exit codes and the stdout/stderr split are all exercised. Only the `file`
and `python` kinds are used: they need nothing from the machine but the interpreter itself.
Configuration errors live in test_cli_errors.py; `list`/`explain` in test_cli_explain.py.
"""

from __future__ import annotations

import json
import os
import platform
import pty
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import CliResult, Project, clean_env, envdoctor_executable, run_cli

from envdoctor import __version__

ANSI = re.compile(r"\x1b\[")
HEADER = re.compile(
    r"^envdoctor (?P<version>\S+) · project (?P<project>.+) · python (?P<python>.+?)"
    r"(?: \((?P<pyversion>[^)]+)\))?$"
)
SUMMARY = re.compile(
    r"^(?P<verdict>Ready|Not ready|Interrupted) · score (?P<score>\d+)/100 · .*"
    r"(?P<n>\d+) checks? in \d+\.\d\d s$"
)
STATUSES = ("pass", "warn", "fail", "error", "blocked", "skip")
UNSET = "ENVDOCTOR_TEST_SURELY_UNSET_7F3A"

# Two passing checks (one per category), one required failure with a fix, one optional failure.
MIXED = """
[[check]]
id = "readme"
kind = "file"
path = "README.md"
tags = ["docs"]

[[check]]
id = "license"
kind = "file"
path = "LICENSE"
fix = "touch LICENSE"

[[check]]
id = "py"
kind = "python"
version = ">=3.8"
tags = ["python"]

[[check]]
id = "changelog"
title = "change log"
kind = "file"
path = "CHANGELOG.md"
severity = "optional"
tags = ["docs"]
"""


def file_check(check_id: str, path: str, **extra: str) -> str:
    """One `[[check]]` of kind file; extra values are written verbatim as TOML."""
    lines = ["[[check]]", f'id = "{check_id}"', 'kind = "file"', f'path = "{path}"']
    lines += [f"{key} = {value}" for key, value in extra.items()]
    return "\n".join(lines) + "\n\n"


READY_PLUS_OPTIONAL_FAILURE = file_check("readme", "README.md") + file_check(
    "opt", "x", severity='"optional"'
)


def by_id(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in doc["checks"]}


def json_run(project: Project, *args: str, env: dict[str, str] | None = None) -> CliResult:
    return project.run("check", "--format", "json", *args, env=env)


def assert_subset(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    assert {k: actual.get(k) for k in expected} == expected, actual


def assert_number(value: Any) -> None:
    assert isinstance(value, (int, float)) and not isinstance(value, bool), value


def assert_report_shape(doc: dict[str, Any]) -> None:
    """Every key of DESIGN.md §7 with its type; counts consistent with the checks listed."""
    assert doc["schema_version"] == 1
    assert isinstance(doc["envdoctor_version"], str) and doc["envdoctor_version"] == __version__
    assert isinstance(doc["project"], str) and os.path.isabs(doc["project"])
    assert set(doc["python"]) >= {"executable", "version"}
    assert isinstance(doc["python"]["executable"], str)
    assert doc["python"]["version"] is None or isinstance(doc["python"]["version"], str)
    assert isinstance(doc["ready"], bool)
    assert isinstance(doc["score"], int) and 0 <= doc["score"] <= 100
    assert isinstance(doc["min_score"], int)
    assert_number(doc["duration_ms"])
    assert doc["duration_ms"] >= 0
    assert set(doc["counts"]) == set(STATUSES)
    assert all(isinstance(n, int) and not isinstance(n, bool) for n in doc["counts"].values())
    assert isinstance(doc["checks"], list)
    assert sum(doc["counts"].values()) == len(doc["checks"])
    for status in STATUSES:
        assert doc["counts"][status] == sum(c["status"] == status for c in doc["checks"])
    for check in doc["checks"]:
        assert set(check) >= {
            "id",
            "kind",
            "title",
            "severity",
            "weight",
            "tags",
            "status",
            "duration_ms",
            "source",
            "message",
            "fix",
            "findings",
        }
        for key in ("id", "kind", "title", "source", "message"):
            assert isinstance(check[key], str), (key, check)
        assert check["severity"] in ("required", "optional")
        assert check["status"] in STATUSES
        assert_number(check["weight"])
        assert_number(check["duration_ms"])
        assert isinstance(check["tags"], list) and all(isinstance(t, str) for t in check["tags"])
        assert check["fix"] is None or isinstance(check["fix"], str)
        assert isinstance(check["findings"], list)
        assert re.fullmatch(r".+:\d+", check["source"]), check["source"]


def wrapper_python(directory: Path, name: str = "python", delay: int = 0) -> tuple[Path, Path]:
    """A shell script standing in for an interpreter: (sleeps, then) execs the real one.

    The `python` kind inspects its target by running it with `-I -c SCRIPT`; the wrapper passes
    that through, so it is a real interpreter as far as envdoctor can tell. The marker file says
    the wrapper has started (so envdoctor is inside its run loop).
    """
    directory.mkdir(parents=True, exist_ok=True)
    marker = directory / f"{name}.started"
    script = directory / name
    body = ["#!/bin/sh", f"touch {shlex.quote(str(marker))}"]
    if delay:
        body.append(f"sleep {delay}")
    body.append(f'exec {shlex.quote(sys.executable)} "$@"')
    script.write_text("\n".join(body) + "\n", encoding="utf-8")
    script.chmod(0o755)
    return script, marker


# -- exit codes and the JSON report --------------------------------------------------------


def test_all_pass_exits_0_with_a_clean_json_report(project: Project) -> None:
    project.write("README.md", "hello\n")
    project.checks(file_check("readme", "README.md") + '[[check]]\nid = "py"\nkind = "python"\n')
    result = json_run(project)
    assert result.code == 0, result.stderr
    assert result.stderr == ""
    doc = result.json()  # the whole of stdout is one JSON document
    assert_report_shape(doc)
    assert doc["ready"] is True and doc["score"] == 100 and doc["min_score"] == 0
    assert doc["counts"] == {"pass": 2, "warn": 0, "fail": 0, "error": 0, "blocked": 0, "skip": 0}
    assert Path(doc["project"]).resolve() == project.root.resolve()
    assert_subset(
        by_id(doc)["readme"],
        {
            "kind": "file",
            "title": "readme",
            "severity": "required",
            "weight": 3,
            "tags": [],
            "status": "pass",
            "source": "checks/envdoctor.toml:1",
            "fix": None,
            "findings": [],
        },
    )
    assert by_id(doc)["py"]["source"] == "checks/envdoctor.toml:6"


def test_a_required_failure_exits_1(project: Project) -> None:
    project.write("README.md", "hello\n")
    project.checks(MIXED)
    result = json_run(project)
    assert result.code == 1, result.stderr
    assert result.stderr == ""
    doc = result.json()
    assert_report_shape(doc)
    assert doc["ready"] is False
    # readme 3 + py 3 pass; license 3 and changelog 1 fail: 6/10.
    assert doc["score"] == 60
    assert doc["counts"] == {"pass": 2, "warn": 0, "fail": 2, "error": 0, "blocked": 0, "skip": 0}
    assert [c["id"] for c in doc["checks"]] == ["readme", "license", "py", "changelog"]
    checks = by_id(doc)
    assert checks["license"]["status"] == "fail"
    assert checks["license"]["fix"] == "touch LICENSE"
    assert "LICENSE" in checks["license"]["message"]
    assert_subset(
        checks["changelog"],
        {
            "title": "change log",
            "severity": "optional",
            "weight": 1,
            "status": "fail",
            "tags": ["docs"],
        },
    )
    assert any("required" in reason for reason in doc["reasons"])


def test_json_names_the_running_interpreter_by_default(project: Project) -> None:
    project.checks('[[check]]\nid = "py"\nkind = "python"\n')
    doc = json_run(project).json()
    # The console script's interpreter: the venv the tests run in (VIRTUAL_ENV is cleared).
    assert os.path.samefile(doc["python"]["executable"], sys.executable)
    assert doc["python"]["version"] == platform.python_version()
    assert by_id(doc)["py"]["message"].startswith(platform.python_version())


def test_json_names_the_python_given_with_the_flag(project: Project, tmp_path: Path) -> None:
    wrapper, marker = wrapper_python(tmp_path / "bin")
    project.checks('[[check]]\nid = "py"\nkind = "python"\nversion = ">=3"\n')
    result = json_run(project, "--python", str(wrapper))
    assert result.code == 0, result.stdout + result.stderr
    doc = result.json()
    assert_subset(doc["python"], {"executable": str(wrapper), "version": platform.python_version()})
    assert marker.exists()  # it really was run, not guessed


def test_project_venv_is_the_default_target(project: Project) -> None:
    wrapper, _ = wrapper_python(project.root / ".venv" / "bin")
    project.checks('[[check]]\nid = "py"\nkind = "python"\n')
    doc = json_run(project).json()
    assert Path(doc["python"]["executable"]).resolve() == wrapper.resolve()
    assert doc["python"]["version"] == platform.python_version()


def test_python_check_reads_requires_python_from_pyproject(project: Project) -> None:
    project.write("pyproject.toml", '[project]\nname = "x"\nrequires-python = "<3"\n')
    project.checks('[[check]]\nid = "py"\nkind = "python"\n')
    result = json_run(project)
    assert result.code == 1
    check = by_id(result.json())["py"]
    assert check["status"] == "fail"
    assert "pyproject.toml:3 requires-python" in check["message"]


def test_checks_keep_declared_order_across_pyproject_and_modules(project: Project) -> None:
    project.write(
        "pyproject.toml",
        """
        [project]
        name = "demo"

        [tool.envdoctor]
        min_score = 0

        [[tool.envdoctor.check]]
        id = "from-pyproject"
        kind = "file"
        path = "pyproject.toml"
        """,
    )
    project.checks(file_check("b2", "pyproject.toml") + file_check("b1", "x"), "checks/b.toml")
    project.checks(
        file_check("a1", "pyproject.toml") + '[[check]]\nid = "a2"\nkind = "python"\n',
        "checks/a.toml",
    )
    doc = json_run(project).json()
    assert [c["id"] for c in doc["checks"]] == ["from-pyproject", "a1", "a2", "b2", "b1"]
    assert [c["source"] for c in doc["checks"]] == [
        "pyproject.toml:7",
        "checks/a.toml:1",
        "checks/a.toml:6",
        "checks/b.toml:1",
        "checks/b.toml:6",
    ]


# -- stdout carries the report and nothing else -------------------------------------------


@pytest.mark.parametrize("fmt", ["console", "json"])
def test_clean_run_writes_only_the_report(project: Project, fmt: str) -> None:
    project.write("README.md", "x\n")
    project.checks(file_check("readme", "README.md"))
    result = project.run("check", "--format", fmt)
    assert result.code == 0
    assert result.stderr == ""
    assert result.stdout.endswith("\n") and not result.stdout.endswith("\n\n")
    if fmt == "console":
        assert SUMMARY.match(result.stdout.splitlines()[-1])


def test_version_flag(project: Project) -> None:
    result = project.run("--version")
    assert result.code == 0
    assert result.stdout == f"envdoctor {__version__}\n"
    assert result.stderr == ""


# -- the console report -------------------------------------------------------------------


def test_console_layout_with_no_color(project: Project) -> None:
    project.write("README.md", "x\n")
    project.checks(MIXED)
    result = project.run("check")
    assert result.code == 1
    assert result.stderr == ""
    assert not ANSI.search(result.stdout)
    lines = result.stdout.splitlines()
    header = HEADER.match(lines[0])
    assert header, lines[0]
    assert header["version"] == __version__
    assert header["pyversion"] == platform.python_version()
    assert lines[1] == ""
    # Grouped by category (first appearance), declared order inside each group.
    assert lines[2] == "Files"
    assert re.match(r"^  \[✓\] readme +README\.md exists", lines[3]), lines[3]
    assert re.match(r"^  \[✗\] license +LICENSE not found", lines[4]), lines[4]
    assert lines[5] == "        fix: touch LICENSE"
    assert re.match(r"^  \[!\] change log +optional · CHANGELOG\.md not found", lines[6]), lines[6]
    assert lines[7] == "Python"
    assert re.match(
        rf"^  \[✓\] py +{re.escape(platform.python_version())} satisfies >=3\.8", lines[8]
    ), lines[8]
    assert lines[9] == ""
    summary = SUMMARY.match(lines[10])
    assert summary, lines[10]
    assert summary["verdict"] == "Not ready" and summary["score"] == "60"
    assert "1 required check failed" in lines[10]
    assert lines[10].endswith(" s") and " 4 checks in " in lines[10]
    assert len(lines) == 11


def test_console_summary_when_ready(project: Project) -> None:
    project.write("README.md", "x\n")
    project.checks(file_check("readme", "README.md") + file_check("readme2", "README.md"))
    result = project.run("check")
    assert result.code == 0
    last = result.stdout.splitlines()[-1]
    assert re.fullmatch(r"Ready · score 100/100 · 2 checks in \d+\.\d\d s", last), last


def test_quiet_shows_only_problems_and_the_summary(project: Project) -> None:
    project.write("README.md", "x\n")
    project.checks(MIXED + file_check("later", "x", skip='"not today"'))
    result = project.run("check", "-q")
    assert result.code == 1
    out = result.stdout
    assert not HEADER.match(out.splitlines()[0])
    assert "readme" not in out and "later" not in out and "satisfies" not in out
    assert "license" in out and "fix: touch LICENSE" in out and "change log" in out
    assert SUMMARY.match(out.splitlines()[-1])


def test_quiet_when_all_pass_is_just_the_summary(project: Project) -> None:
    project.write("README.md", "x\n")
    project.checks(file_check("readme", "README.md"))
    result = project.run("check", "--quiet")
    assert result.code == 0
    assert len(result.stdout.splitlines()) == 1
    assert SUMMARY.match(result.stdout.strip())


def test_verbose_shows_details_of_passing_checks(project: Project) -> None:
    project.write("README.md", "x\n")
    project.checks(file_check("readme", "README.md"))
    plain = project.run("check").stdout
    verbose = project.run("check", "-v")
    assert verbose.code == 0
    assert verbose.stderr == ""
    readme_path = str(project.root / "README.md")
    assert readme_path not in plain
    lines = verbose.stdout.splitlines()
    index = next(i for i, line in enumerate(lines) if "[✓] readme" in line)
    assert re.search(r"\(\d+ ms\)$", lines[index]), lines[index]
    assert lines[index + 1].strip() == f"looked for {readme_path}"


def test_ascii_glyphs_when_the_output_encoding_is_not_utf8(project: Project) -> None:
    project.write("README.md", "x\n")
    project.checks(MIXED)
    result = project.run("check", env={"PYTHONIOENCODING": "ascii"})
    assert result.code == 1
    assert result.stdout.isascii(), [c for c in result.stdout if not c.isascii()]
    out = result.stdout
    assert re.search(r"^  \[\+\] readme ", out, re.M)
    assert re.search(r"^  \[x\] license ", out, re.M)
    assert re.search(r"^  \[!\] change log +optional - ", out, re.M)
    assert re.search(r"^Not ready - score 60/100 - ", out, re.M)


def _run_on_a_terminal(project: Project, *args: str, env: dict[str, str]) -> str:
    """Runs envdoctor with stdout on a pseudo-terminal; returns what it wrote there."""
    primary, secondary = pty.openpty()
    environment = clean_env(env)
    if "NO_COLOR" not in env:
        del environment["NO_COLOR"]
    try:
        proc = subprocess.Popen(
            [envdoctor_executable(), *args],
            cwd=project.root,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=secondary,
            stderr=subprocess.PIPE,
        )
        os.close(secondary)
        chunks = []
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        proc.communicate(timeout=30)
    finally:
        os.close(primary)
    return b"".join(chunks).decode("utf-8", errors="replace")


@pytest.mark.parametrize(
    ("env", "args", "coloured"),
    [
        ({"TERM": "xterm"}, (), True),
        ({"TERM": "xterm", "NO_COLOR": "1"}, (), False),
        ({"TERM": "xterm"}, ("--no-color",), False),
        ({"TERM": "dumb"}, (), False),
    ],
    ids=["terminal", "NO_COLOR", "--no-color", "TERM=dumb"],
)
def test_colour_only_on_a_terminal_that_wants_it(
    project: Project, env: dict[str, str], args: tuple[str, ...], coloured: bool
) -> None:
    project.checks(file_check("license", "LICENSE"))
    out = _run_on_a_terminal(project, "check", *args, env=env)
    assert "license" in out and "Not ready" in out
    assert bool(ANSI.search(out)) is coloured


# -- selection, dependencies, skips -------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--only", "readme"), ["readme"]),
        (("--only", "docs"), ["readme", "changelog"]),
        (("--only", "readme", "--only", "py"), ["readme", "py"]),
        (("--skip", "license"), ["readme", "py", "changelog"]),
        (("--skip", "docs"), ["license", "py"]),
        (("--only", "docs", "--skip", "changelog"), ["readme"]),
    ],
)
def test_only_and_skip_by_id_and_tag(
    project: Project, args: tuple[str, ...], expected: list[str]
) -> None:
    project.write("README.md", "x\n")
    project.checks(MIXED)
    result = json_run(project, *args)
    doc = result.json()
    assert [c["id"] for c in doc["checks"]] == expected  # left-out checks are absent
    assert sum(doc["counts"].values()) == len(expected)
    assert result.code == (1 if "license" in expected else 0)


def test_depends_on_a_failure_blocks(project: Project) -> None:
    project.write("README.md", "x\n")
    project.checks(
        file_check("license", "LICENSE")
        + file_check("after", "README.md", depends_on='["license"]')
        + file_check("after-after", "README.md", depends_on='["after"]')
        + file_check("readme", "README.md")
        + file_check("after-readme", "README.md", depends_on='["readme"]')
    )
    result = json_run(project)
    assert result.code == 1
    doc = result.json()
    checks = by_id(doc)
    assert checks["after"]["status"] == "blocked"
    assert checks["after"]["message"] == "depends on license (fail)"
    assert checks["after-after"]["status"] == "blocked"
    assert checks["after-readme"]["status"] == "pass"
    assert doc["counts"]["blocked"] == 2
    console = project.run("check").stdout
    assert re.search(r"^  \[-\] after +blocked: depends on license \(fail\)$", console, re.M)


def test_depends_on_outside_the_selection_is_ignored(project: Project) -> None:
    project.write("README.md", "x\n")
    project.checks(
        file_check("license", "LICENSE")
        + file_check("after", "README.md", depends_on='["license"]')
    )
    result = json_run(project, "--only", "after")
    assert result.code == 0
    assert [(c["id"], c["status"]) for c in result.json()["checks"]] == [("after", "pass")]


def test_depends_on_a_skipped_check_skips(project: Project) -> None:
    project.checks(
        file_check("later", "x", skip='"not today"')
        + file_check("after", "x", depends_on='["later"]')
    )
    result = json_run(project)
    assert result.code == 0
    checks = by_id(result.json())
    assert_subset(checks["later"], {"status": "skip", "message": "not today"})
    assert checks["after"]["status"] == "skip"
    assert "later" in checks["after"]["message"]


def test_when_false_and_skip_reason_skip_and_count_nowhere(project: Project) -> None:
    project.write("README.md", "x\n")
    project.checks(
        file_check("readme", "README.md")
        + file_check("elsewhere", "nothing-here", when="'sys_platform == \"nonexistent\"'")
        + file_check("here", "README.md", when=f"'sys_platform == \"{sys.platform}\"'")
        + file_check("later", "nothing-here", skip='"waiting for the new docs"')
    )
    result = json_run(project)
    assert result.code == 0
    doc = result.json()
    assert doc["score"] == 100
    assert doc["counts"] == {"pass": 2, "warn": 0, "fail": 0, "error": 0, "blocked": 0, "skip": 2}
    checks = by_id(doc)
    assert checks["elsewhere"]["status"] == "skip"
    assert "sys_platform" in checks["elsewhere"]["message"]
    assert checks["here"]["status"] == "pass"
    assert checks["later"]["message"] == "waiting for the new docs"
    console = project.run("check").stdout
    assert re.search(r"^  \[·\] later +skipped: waiting for the new docs$", console, re.M)


# -- severity, weight, score, strict ------------------------------------------------------


def test_optional_failure_is_ready_but_lowers_the_score(project: Project) -> None:
    project.write("README.md", "x\n")
    project.checks(READY_PLUS_OPTIONAL_FAILURE)
    result = json_run(project)
    assert result.code == 0
    doc = result.json()
    assert doc["ready"] is True and doc["score"] == 75  # 3 / (3 + 1)


def test_strict_makes_an_optional_failure_not_ready(project: Project) -> None:
    project.write("README.md", "x\n")
    project.checks(READY_PLUS_OPTIONAL_FAILURE)
    result = json_run(project, "--strict")
    assert result.code == 1
    doc = result.json()
    assert doc["ready"] is False and doc["score"] == 75
    assert any("--strict" in reason for reason in doc["reasons"])


@pytest.mark.parametrize(("weight", "score"), [("5", 38), ("0", 100), ("1.5", 67)])
def test_weight_overrides_the_severity_weight(project: Project, weight: str, score: int) -> None:
    project.write("README.md", "x\n")
    project.checks(
        file_check("readme", "README.md")
        + file_check("opt", "x", severity='"optional"', weight=weight)
    )
    doc = json_run(project).json()
    assert doc["score"] == score
    assert by_id(doc)["opt"]["weight"] == float(weight)


def test_min_score_setting_and_flag(project: Project) -> None:
    project.write("README.md", "x\n")
    project.write("pyproject.toml", "[tool.envdoctor]\nmin_score = 80\n")
    project.checks(READY_PLUS_OPTIONAL_FAILURE)
    below = json_run(project)
    assert below.code == 1
    doc = below.json()
    assert doc["ready"] is False and doc["score"] == 75 and doc["min_score"] == 80
    assert "score below min_score 80" in doc["reasons"]
    lowered = json_run(project, "--min-score", "70")
    assert lowered.code == 0
    assert lowered.json()["min_score"] == 70
    raised = json_run(project, "--min-score", "76")
    assert raised.code == 1


def test_min_score_exactly_met_is_ready(project: Project) -> None:
    project.write("README.md", "x\n")
    project.checks(READY_PLUS_OPTIONAL_FAILURE)
    assert json_run(project, "--min-score", "75").code == 0


# -- timeouts and interruption ------------------------------------------------------------


SLOW_PY = """
[[check]]
id = "readme"
kind = "file"
path = "README.md"

[[check]]
id = "py"
kind = "python"
{timeout}
"""


@pytest.mark.parametrize(
    ("timeout_line", "args", "pyproject"),
    [
        ('timeout = "300ms"', (), None),
        ("", ("--timeout", "300ms"), None),
        ('timeout = "300ms"', ("--timeout", "30s"), None),  # the check's own wins
        ("", (), '[tool.envdoctor]\ntimeout = "0.3s"\n'),
    ],
    ids=["check-timeout", "--timeout", "check-beats-flag", "setting"],
)
def test_a_check_that_overruns_fails_with_timed_out(
    project: Project,
    tmp_path: Path,
    timeout_line: str,
    args: tuple[str, ...],
    pyproject: str | None,
) -> None:
    slow, marker = wrapper_python(tmp_path / "bin", delay=20)
    project.write("README.md", "x\n")
    if pyproject:
        project.write("pyproject.toml", pyproject)
    project.checks(SLOW_PY.format(timeout=timeout_line))
    started = time.monotonic()
    result = json_run(project, "--python", str(slow), *args)
    elapsed = time.monotonic() - started
    assert marker.exists()
    assert result.code == 1
    checks = by_id(result.json())
    assert_subset(checks["py"], {"status": "fail", "message": "timed out after 300 ms"})
    assert checks["readme"]["status"] == "pass"  # the others go on
    assert elapsed < 5, elapsed
    assert result.stderr == ""  # the killed target is reaped: no asyncio noise


def _interrupt_while_checking(
    project: Project,
    tmp_path: Path,
    *args: str,
    title: str = "",
    env: dict[str, str] | None = None,
) -> tuple[int, str, str, float]:
    """Starts `check` with a python target that hangs, sends SIGINT once it is waiting on it."""
    slow, marker = wrapper_python(tmp_path / "bin", delay=20)
    project.write("README.md", "x\n")
    extra = f'title = "{title}"\n' if title else ""
    project.checks(SLOW_PY.format(timeout='timeout = "30s"\n' + extra))
    started = time.monotonic()
    proc = subprocess.Popen(
        [envdoctor_executable(), "check", "--python", str(slow), *args],
        cwd=project.root,
        env=clean_env(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A test runner started in the background may ignore SIGINT; a user's terminal does not.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        while not marker.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() - started < 15, "the target interpreter was never started"
            time.sleep(0.02)
        time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, out, err, time.monotonic() - started


def test_sigint_exits_130_with_the_report_of_what_finished(
    project: Project, tmp_path: Path
) -> None:
    code, out, err, elapsed = _interrupt_while_checking(project, tmp_path, "--format", "json")
    assert code == 130, err
    assert elapsed < 10  # not the 20 s the target would have taken
    assert "Traceback" not in err and "never retrieved" not in err, err
    doc = json.loads(out)
    assert doc["interrupted"] is True
    checks = by_id(doc)
    assert checks["readme"]["status"] == "pass"
    assert checks["py"]["status"] != "pass"
    assert "interrupted" in checks["py"]["message"]
    assert doc["score"] < 100  # what never finished earned nothing


def test_sigint_console_report_says_interrupted(project: Project, tmp_path: Path) -> None:
    code, out, err, _ = _interrupt_while_checking(project, tmp_path)
    assert code == 130, err
    assert re.search(r"^  \[✓\] readme +README\.md exists", out, re.M)
    assert out.splitlines()[-1].startswith("Interrupted · ")


def test_sigint_report_masks_secret_titles(project: Project, tmp_path: Path) -> None:
    secret = "hunter2-canary-Q7z"
    code, out, err, _ = _interrupt_while_checking(
        project,
        tmp_path,
        title="py ${ENVDOCTOR_TEST_PASSWORD}",
        env={"ENVDOCTOR_TEST_PASSWORD": secret},
    )
    assert code == 130
    assert "py ***" in out
    assert secret not in out + err


# -- where the checks come from -----------------------------------------------------------


def test_output_file_gets_the_report_and_stdout_stays_empty(project: Project) -> None:
    project.write("README.md", "x\n")
    project.checks(file_check("readme", "README.md"))
    target = project.root.parent / "reports" / "nested" / "envdoctor.json"
    result = json_run(project, "--output", str(target))
    assert result.code == 0
    assert result.stdout == "" and result.stderr == ""
    doc = json.loads(target.read_text(encoding="utf-8"))
    assert_report_shape(doc)
    assert [c["id"] for c in doc["checks"]] == ["readme"]


def test_output_file_in_console_format_has_no_colour(project: Project) -> None:
    project.checks(file_check("license", "LICENSE", fix='"touch LICENSE"'))
    target = project.root.parent / "report.txt"
    result = project.run("check", "-o", str(target))
    assert result.code == 1
    assert result.stdout == ""
    text = target.read_text(encoding="utf-8")
    assert "[✗] license" in text and "fix: touch LICENSE" in text
    assert not ANSI.search(text)


@pytest.mark.parametrize("how", ["absolute", "relative"])
def test_project_flag_from_another_directory(project: Project, tmp_path: Path, how: str) -> None:
    project.write("README.md", "x\n")
    project.checks(file_check("readme", "README.md"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = str(project.root) if how == "absolute" else os.path.relpath(project.root, elsewhere)
    result = run_cli("check", "--project", where, "--format", "json", cwd=elsewhere)
    assert result.code == 0, result.stderr
    doc = result.json()
    assert Path(doc["project"]).resolve() == project.root.resolve()
    assert by_id(doc)["readme"]["source"] == "checks/envdoctor.toml:1"


def test_config_files_replace_discovery(project: Project) -> None:
    project.write("README.md", "x\n")
    project.write(
        "pyproject.toml",
        '[tool.envdoctor]\nmin_score = 90\n\n[[tool.envdoctor.check]]\nid = "pp"\nkind = "file"\n'
        'path = "missing"\n',
    )
    project.checks(file_check("discovered", "missing"))
    project.write("ci/one.toml", file_check("one", "README.md"))
    project.write("ci/two.toml", file_check("two", "README.md") + file_check("three", "README.md"))
    result = json_run(project, "--config", "ci/two.toml", "-c", "ci/one.toml")
    assert result.code == 0, result.stdout + result.stderr
    doc = result.json()
    assert [(c["id"], c["source"]) for c in doc["checks"]] == [
        ("two", "ci/two.toml:1"),
        ("three", "ci/two.toml:6"),
        ("one", "ci/one.toml:1"),
    ]
    assert doc["min_score"] == 90  # settings still come from pyproject.toml


def test_pyproject_settings_and_checks(project: Project) -> None:
    project.write(
        "pyproject.toml",
        """
        [project]
        name = "demo"
        requires-python = ">=3.8"

        [tool.envdoctor]
        min_score = 50
        timeout = "2s"

        [[tool.envdoctor.check]]
        id = "py"
        kind = "python"

        [[tool.envdoctor.check]]
        id = "readme"
        kind = "file"
        path = "README.md"
        severity = "optional"
        """,
    )
    result = json_run(project)
    assert result.code == 0, result.stderr
    doc = result.json()
    assert doc["min_score"] == 50 and doc["score"] == 75
    checks = by_id(doc)
    assert checks["py"]["source"] == "pyproject.toml:9"
    assert checks["readme"]["source"] == "pyproject.toml:13"
    assert "pyproject.toml:3 requires-python" in checks["py"]["message"]


def test_include_globs_replace_the_default(project: Project) -> None:
    project.write(
        "pyproject.toml", '[tool.envdoctor]\ninclude = ["ops/*.toml", "more/**/*.toml"]\n'
    )
    project.checks(file_check("default-location", "missing"))
    project.write("ops/a.toml", file_check("ops-a", "pyproject.toml"))
    project.write("ops/notes.txt", file_check("not-toml", "missing"))
    project.write("more/deep/er/b.toml", file_check("deep-b", "pyproject.toml"))
    result = json_run(project)
    assert result.code == 0, result.stdout + result.stderr
    assert [(c["id"], c["source"]) for c in result.json()["checks"]] == [
        ("ops-a", "ops/a.toml:1"),
        ("deep-b", "more/deep/er/b.toml:1"),
    ]


def test_default_include_without_pyproject(project: Project) -> None:
    project.checks(file_check("a", "checks"), "checks/one.toml")
    project.checks(file_check("b", "checks"), "checks/sub/ignored.toml")
    result = json_run(project)
    assert [c["id"] for c in result.json()["checks"]] == ["a"]


# -- interpolation ------------------------------------------------------------------------


def test_dotenv_values_are_used_and_the_environment_wins(project: Project) -> None:
    project.write("pyproject.toml", '[tool.envdoctor]\ndotenv = ".env"\n')
    project.write(".env", "# settings\nENVDOCTOR_TEST_DOC=from-dotenv.md\n")
    project.write("from-dotenv.md", "x\n")
    project.checks(file_check("doc", "${ENVDOCTOR_TEST_DOC}"))
    assert "ENVDOCTOR_TEST_DOC" not in os.environ
    from_file = json_run(project)
    assert from_file.code == 0, from_file.stdout
    assert by_id(from_file.json())["doc"]["message"].startswith("from-dotenv.md exists")
    overridden = json_run(project, env={"ENVDOCTOR_TEST_DOC": "from-shell.md"})
    assert overridden.code == 1
    assert by_id(overridden.json())["doc"]["message"].startswith("from-shell.md not found")


def test_dotenv_is_not_read_unless_configured(project: Project) -> None:
    project.write(".env", "ENVDOCTOR_TEST_DOC=from-dotenv.md\n")
    project.write("from-dotenv.md", "x\n")
    project.checks(file_check("doc", "${ENVDOCTOR_TEST_DOC}"))
    result = json_run(project)
    assert result.code == 1
    check = by_id(result.json())["doc"]
    assert check["status"] == "error"
    # ... but says where the value is and how to have it read
    assert check["message"] == (
        "ENVDOCTOR_TEST_DOC is not set (.env sets it, but ${...} reads only the environment: "
        'add dotenv = ".env" under [tool.envdoctor] in pyproject.toml, or export it)'
    )


def test_unset_variable_errors_that_check_and_the_others_run(project: Project) -> None:
    project.write("README.md", "x\n")
    project.checks(file_check("needs-var", f"${{{UNSET}}}/x") + file_check("readme", "README.md"))
    assert UNSET not in os.environ
    result = json_run(project)
    assert result.code == 1
    doc = result.json()
    checks = by_id(doc)
    assert_subset(checks["needs-var"], {"status": "error", "message": f"{UNSET} is not set"})
    assert checks["readme"]["status"] == "pass"
    assert doc["counts"]["error"] == 1
    console = project.run("check")
    assert re.search(rf"^  \[✗\] needs-var +error: {UNSET} is not set$", console.stdout, re.M)
    assert "Traceback" not in console.stdout + console.stderr


def test_default_value_is_used_when_the_variable_is_unset(project: Project) -> None:
    project.write("README.md", "x\n")
    project.write("OTHER.md", "x\n")
    project.checks(file_check("doc", f"${{{UNSET}:-README.md}}"))
    result = json_run(project)
    assert result.code == 0
    assert by_id(result.json())["doc"]["message"].startswith("README.md exists")
    chosen = json_run(project, env={UNSET: "OTHER.md"})
    assert by_id(chosen.json())["doc"]["message"].startswith("OTHER.md exists")


def test_secret_values_are_masked_in_messages(project: Project) -> None:
    secret = "hunter2-canary-Q7z"
    project.checks(file_check("db", "data/${ENVDOCTOR_TEST_PASSWORD}"))
    for fmt in ("console", "json"):
        result = project.run(
            "check", "--format", fmt, "-v", env={"ENVDOCTOR_TEST_PASSWORD": secret}
        )
        assert result.code == 1
        assert secret not in result.stdout + result.stderr
        assert "data/***" in result.stdout


def test_secret_values_are_masked_in_titles(project: Project) -> None:
    secret = "hunter2-canary-Q7z"
    project.checks(file_check("db", "x", title='"db as ${ENVDOCTOR_TEST_PASSWORD}"'))
    env = {"ENVDOCTOR_TEST_PASSWORD": secret}
    for args in (("check",), ("check", "--format", "json"), ("explain", "db")):
        result = project.run(*args, env=env)
        assert secret not in result.stdout + result.stderr, args


# -- findings (the `env` kind is the first kind here that reports them) --------------------


def test_findings_in_json_and_console(project: Project) -> None:
    project.checks(f'[[check]]\nid = "env"\nkind = "env"\nrequired = ["{UNSET}", "HOME"]\n')
    result = json_run(project)
    assert result.code == 1
    doc = result.json()
    assert_report_shape(doc)
    findings = by_id(doc)["env"]["findings"]
    assert [f["subject"] for f in findings] == [UNSET]  # problems only, without -v
    finding = findings[0]
    assert set(finding) == {"subject", "status", "message", "expected", "found", "source", "fix"}
    assert finding["status"] == "fail"
    assert finding["source"] == "checks/envdoctor.toml:4"
    for key in ("expected", "found", "fix"):
        assert finding[key] is None or isinstance(finding[key], str)
    verbose = json_run(project, "-v").json()
    assert {f["subject"]: f["status"] for f in by_id(verbose)["env"]["findings"]} == {
        UNSET: "fail",
        "HOME": "pass",
    }
    console = project.run("check").stdout
    assert re.search(rf"^        {UNSET} +not set \(checks/envdoctor\.toml:4\)$", console, re.M)


def test_output_in_an_ascii_only_encoding_never_crashes(tmp_path: Path) -> None:
    root = tmp_path / "café"
    (root / "checks").mkdir(parents=True)
    (root / "checks" / "a.toml").write_text(
        '[[check]]\nid = "x"\ntitle = "Optional ✨ 日本語"\nkind = "file"\npath = "nope"\n',
        encoding="utf-8",
    )
    for fmt in ("console", "json", "junit", "github", "markdown"):
        result = run_cli("check", "-f", fmt, cwd=root, env={"PYTHONIOENCODING": "ascii"})
        assert result.code == 1, (fmt, result.stderr)
        assert "internal error" not in result.stderr and result.stdout, fmt
    parsed = json.loads(
        run_cli("check", "-f", "json", cwd=root, env={"PYTHONIOENCODING": "ascii"}).stdout
    )
    assert parsed["checks"][0]["title"] == "Optional ✨ 日本語"


def test_sigterm_ends_the_run_like_ctrl_c_and_kills_children(project: Project) -> None:
    pidfile = project.root / "child.pid"
    project.checks(
        f"""
        [[check]]
        id = "quick"
        kind = "file"
        path = "checks"

        [[check]]
        id = "slow"
        kind = "command"
        run = ["sh", "-c", "echo $$$$ > {pidfile}; exec sleep 31"]
        timeout = "60s"
        """
    )
    proc = subprocess.Popen(
        [envdoctor_executable(), "check", "-f", "json"],
        cwd=project.root,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 10
    while not pidfile.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    report = json.loads(out)
    assert report["interrupted"] is True
    assert {c["id"]: c["status"] for c in report["checks"]}["quick"] == "pass"
    child = int(pidfile.read_text())
    time.sleep(0.2)
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)


def test_the_same_config_file_twice_is_one_module(project: Project) -> None:
    path = project.checks('[[check]]\nid = "a"\nkind = "file"\npath = "checks"\n')
    result = project.run("check", "--config", str(path), "--config", str(path))
    assert result.code == 0, result.stderr


def test_console_caps_findings_per_check(project: Project) -> None:
    keys = "".join(f"KEY_{i}=\n" for i in range(100))
    project.write(".env.example", keys)
    project.checks('[[check]]\nid = "e"\nkind = "env"\nexample = ".env.example"\n')
    result = project.run("check")
    assert "… and 70 more (all of them with -v or --format json)" in result.stdout
    assert len(project.run("check", "-f", "json").json()["checks"][0]["findings"]) == 100
