"""`command`: argv programs, exit statuses, cwd, --safe, explain, and killing at the deadline.

Everything runs for real through the installed CLI: the interpreter running the tests and sh
scripts written into the temp project stand in for `make check-db` and `./scripts/ready.sh`.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import psutil
from tests.conftest import Project

from ._helpers import check, only, script

PY = json.dumps(sys.executable)  # a TOML basic string (JSON escapes are valid TOML)


def python_check(code: str, extra: str = "", check_id: str = "cmd") -> str:
    return (
        f'[[check]]\nid = "{check_id}"\nkind = "command"\n'
        f'run = [{PY}, "-c", {json.dumps(code)}]\n{extra}'
    )


def alive(pid: int) -> bool:
    """Running, not merely a zombie waiting for a reaper (PID 1 in containers may not reap)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_exit_zero_passes_and_cli_exits_zero(project: Project) -> None:
    project.checks(python_check("print('ready')"))
    code, report = check(project)
    result = only(report)
    assert (code, result["status"]) == (0, "pass")
    assert result["message"].startswith("`")
    assert "exited 0 in" in result["message"]
    assert report["ready"] is True


def test_failure_shows_exit_status_and_last_output_line(project: Project) -> None:
    project.checks(
        python_check(
            "import sys; print('connecting'); print('db not reachable', file=sys.stderr); "
            "print(); sys.exit(3)"
        )
    )
    code, report = check(project)
    result = only(report)
    assert (code, result["status"]) == (1, "fail")
    assert "exited 3, expected exit 0: db not reachable" in result["message"]
    assert report["ready"] is False


def test_failure_without_output_says_so(project: Project) -> None:
    project.checks(python_check("raise SystemExit(1)"))
    code, report = check(project)
    assert code == 1
    assert only(report)["message"].endswith("exited 1, expected exit 0 (no output)")


def test_expect_exit_list(project: Project) -> None:
    project.checks(
        python_check("raise SystemExit(3)", "expect_exit = [0, 3]\n", "in-list")
        + "\n"
        + python_check("raise SystemExit(4)", "expect_exit = [0, 3]\n", "not-in-list")
        + "\n"
        + python_check("raise SystemExit(2)", "expect_exit = 2\n", "single")
    )
    code, report = check(project)
    by_id = {c["id"]: c for c in report["checks"]}
    assert by_id["in-list"]["status"] == "pass"
    assert by_id["single"]["status"] == "pass"
    assert by_id["not-in-list"]["status"] == "fail"
    assert "exited 4, expected exit 0 or 3" in by_id["not-in-list"]["message"]
    assert code == 1


def test_cwd_defaults_to_the_project_and_is_relative_to_it(project: Project) -> None:
    (project.root / "sub").mkdir()
    write_here = "open('marker', 'w').close()"
    project.checks(
        python_check(write_here, check_id="default")
        + "\n"
        + python_check(write_here, 'cwd = "sub"\n', "in-sub")
    )
    code, report = check(project)
    assert code == 0, report
    assert (project.root / "marker").exists()
    assert (project.root / "sub" / "marker").exists()


def test_relative_program_is_resolved_against_cwd(project: Project) -> None:
    script(project, "scripts/ready.sh", 'echo "ready in $(pwd)"\n')
    project.checks('[[check]]\nid = "s"\nkind = "command"\nrun = ["./scripts/ready.sh"]\n')
    code, report = check(project, "-v")
    result = only(report)
    assert (code, result["status"]) == (0, "pass"), result
    assert f"| ready in {project.root}" in result["evidence"]


def test_missing_cwd_is_an_error(project: Project) -> None:
    project.checks(python_check("pass", 'cwd = "build"\n'))
    code, report = check(project)
    result = only(report)
    assert (code, result["status"]) == (1, "error")
    assert "cwd build is not a directory" in result["message"]


def test_program_not_found_fails_clearly(project: Project) -> None:
    project.checks(
        '[[check]]\nid = "c"\nkind = "command"\nrun = ["envdoctor-no-such-program", "--x"]\n'
        '\n[[check]]\nid = "p"\nkind = "command"\nrun = ["./bin/absent"]\n'
    )
    code, report = check(project)
    by_id = {c["id"]: c for c in report["checks"]}
    assert code == 1
    assert by_id["c"]["status"] == "fail"
    assert "envdoctor-no-such-program not found on PATH" in by_id["c"]["message"]
    assert by_id["p"]["status"] == "fail"
    assert f"./bin/absent not found in {project.root}" in by_id["p"]["message"]


def test_script_that_is_not_executable_fails_with_chmod_fix(project: Project) -> None:
    project.write("ready.sh", "#!/bin/sh\nexit 0\n")
    project.checks('[[check]]\nid = "c"\nkind = "command"\nrun = ["./ready.sh"]\n')
    code, report = check(project)
    result = only(report)
    assert (code, result["status"]) == (1, "fail")
    assert "Permission denied" in result["message"]
    assert result["fix"] == f"chmod +x {project.root / 'ready.sh'}"


def test_killed_by_a_signal_is_named(project: Project) -> None:
    project.checks(python_check("import os, signal; os.kill(os.getpid(), signal.SIGKILL)"))
    code, report = check(project)
    result = only(report)
    assert (code, result["status"]) == (1, "fail")
    assert "killed by SIGKILL" in result["message"]


def test_safe_mode_skips_without_running(project: Project) -> None:
    project.checks(
        python_check("open('ran', 'w').close()")
        + '\n[[check]]\nid = "f"\nkind = "file"\npath = "checks"\n'
    )
    code, report = check(project, "--safe")
    by_id = {c["id"]: c for c in report["checks"]}
    assert by_id["cmd"]["status"] == "skip"
    assert by_id["cmd"]["message"] == "not run under --safe"
    assert by_id["f"]["status"] == "pass"
    assert not (project.root / "ran").exists()
    assert code == 0


def test_shell_string_is_a_configuration_error(project: Project) -> None:
    project.checks('[[check]]\nid = "c"\nkind = "command"\nrun = "make check-db"\n')
    result = project.run("check", "--format", "json")
    assert result.code == 2
    assert result.stdout == ""
    assert "checks/envdoctor.toml:4:" in result.stderr
    assert "run takes a list (argv), never a shell string" in result.stderr
    assert 'run = ["make", "check-db"]' in result.stderr


def test_empty_run_is_a_configuration_error(project: Project) -> None:
    project.checks('[[check]]\nid = "c"\nkind = "command"\nrun = []\n')
    result = project.run("check")
    assert result.code == 2
    assert "checks/envdoctor.toml:4:" in result.stderr
    assert "non-empty" in result.stderr


def test_arguments_are_never_interpreted_by_a_shell(project: Project) -> None:
    code_text = json.dumps("import sys; assert sys.argv[1:] == ['$HOME', '; touch pwned', '*']")
    project.checks(
        '[[check]]\nid = "cmd"\nkind = "command"\n'
        f'run = [{PY}, "-c", {code_text}, "$$HOME", "; touch pwned", "*"]\n'
    )
    code, report = check(project)
    assert only(report)["status"] == "pass", report
    assert code == 0
    assert not (project.root / "pwned").exists()


def test_explain_shows_the_last_output_lines(project: Project) -> None:
    project.checks(python_check("import sys\nfor i in range(30): print(f'line {i}')\nsys.exit(5)"))
    result = project.run("explain", "cmd")
    assert result.code == 1
    out = result.stdout
    assert "evidence" in out
    assert "output (last 20 of 30 lines):" in out
    assert "| line 29" in out
    assert "| line 10" in out
    assert "| line 9\n" not in out
    assert "exited 5, expected exit 0: line 29" in out


def test_command_outliving_the_deadline_is_killed_with_its_children(project: Project) -> None:
    script(project, "slow.sh", "sleep 30 &\necho $! > sleep.pid\nwait\n")
    project.checks(
        '[[check]]\nid = "slow"\nkind = "command"\nrun = ["./slow.sh"]\ntimeout = "1s"\n'
    )
    started = time.monotonic()
    code, report = check(project)
    elapsed = time.monotonic() - started
    result = only(report)
    assert (code, result["status"]) == (1, "fail")
    assert "did not finish within" in result["message"] or "timed out after" in result["message"]
    assert 1.0 <= elapsed < 2.5, elapsed
    pid = int((project.root / "sleep.pid").read_text())
    deadline = time.monotonic() + 2
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid), f"sleep {pid} survived the check"


def test_timeout_leaves_no_traceback_on_stderr(project: Project) -> None:
    project.checks(python_check("import time; time.sleep(30)", 'timeout = "500ms"\n'))
    result = project.run("check", "--format", "json")
    assert result.code == 1
    assert result.json()["checks"][0]["status"] == "fail"
    assert "Traceback" not in result.stderr, result.stderr


def run_in_process(root: Path, options: dict[str, Any], seconds: float) -> tuple[Any, list[str]]:
    """The kind alone, with no runner deadline around it: its own timeout handling decides."""
    from envdoctor.context import CheckContext, Session
    from envdoctor.errors import Source
    from envdoctor.kinds.command import KIND
    from envdoctor.model import CheckSpec
    from envdoctor.target import Target

    session = Session(project=root, target=Target(Path(sys.executable), "test"), environ={})
    spec = CheckSpec(id="c", kind="command", source=Source("t.toml", 1), options=options)
    ctx = CheckContext(session, deadline=time.monotonic() + seconds)

    async def run() -> Any:
        outcome = await KIND.run(spec, ctx)
        # run_process does not reap a child it killed; give the loop a moment to do it, or the
        # subprocess transport outlives the loop and warns (the CLI exits right away instead).
        await asyncio.sleep(0.2)
        return outcome

    return asyncio.run(run()), ctx.evidence


def test_kind_kills_at_its_own_deadline_without_the_runner(project: Project) -> None:
    script(project, "slow.sh", "echo starting\nsleep 30 &\necho $! > sleep.pid\nwait\n")
    started = time.monotonic()
    outcome, evidence = run_in_process(
        project.root, {"run": ["./slow.sh"], "expect_exit": [0]}, 0.5
    )
    assert time.monotonic() - started < 2
    assert outcome.status.value == "fail"
    assert "`./slow.sh` did not finish within" in outcome.message
    assert "(killed)" in outcome.message
    assert any("killed after" in item for item in evidence)
    pid = int((project.root / "sleep.pid").read_text())
    deadline = time.monotonic() + 2
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid)


def test_kind_passes_in_process_with_output_in_evidence(project: Project) -> None:
    outcome, evidence = run_in_process(
        project.root,
        {"run": [sys.executable, "-c", "print('hello from the check')"], "expect_exit": [0]},
        10,
    )
    assert outcome.status.value == "pass"
    assert evidence[-2:] == ["output:", "| hello from the check"]
