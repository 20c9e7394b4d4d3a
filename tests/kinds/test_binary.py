"""`binary`: PATH lookup, version extraction and comparison, through the real CLI.

Real programs only: the interpreter running the tests, `git`, and sh scripts written into the
temp project that print versions the way real tools do.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import Project

from envdoctor.kinds._version import extract_version

from ._helpers import check, only, script


def toml(value: str) -> str:
    """A TOML basic string (JSON string escapes are valid TOML)."""
    return json.dumps(value)


@pytest.mark.parametrize(
    ("output", "version"),
    [
        ("git version 2.39.5", "2.39.5"),
        ("psql (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)", "15.18"),
        ("Docker version 28.2.2, build e6534b4", "28.2.2"),
        ("redis-server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64", "7.0.15"),
        ("OpenSSL 3.0.11 19 Sep 2023 (Library: OpenSSL 3.0.11 19 Sep 2023)", "3.0.11"),
        ("v20.20.2", "20.20.2"),
        ("ffmpeg version n6.1 Copyright (c) 2000-2023 the FFmpeg developers", "6.1"),
        ("GNU bash, version 5.2.15(1)-release (x86_64-pc-linux-gnu)", "5.2.15"),
        ("go version go1.21.5 linux/amd64", "1.21.5"),
        ("OpenSSH_9.2p1 Debian-2+deb12u3, OpenSSL 3.0.15 3 Sep 2024", "9.2"),
        ("tmux 3.3a", "3.3"),
        ('openjdk version "17.0.9" 2023-10-17', "17.0.9"),
        ("v20", "20"),
        ("17\n", "17"),
        ("java version 21", "21"),
    ],
)
def test_extract_version_finds_the_first_version_token(output: str, version: str) -> None:
    assert extract_version(output) == version


@pytest.mark.parametrize(
    "output", ["", "usage: tool [options]", "build e6534b4 sha=00000000:0", "released 2023-10-17"]
)
def test_extract_version_returns_none_without_a_version(output: str) -> None:
    assert extract_version(output) is None


def test_found_on_path_without_version_passes_and_names_the_path(project: Project) -> None:
    project.checks('[[check]]\nid = "git"\nkind = "binary"\nname = "git"\n')
    code, report = check(project)
    result = only(report)
    assert code == 0
    assert result["status"] == "pass"
    assert shutil.which("git") in result["message"]


def test_program_is_not_run_without_a_version(project: Project) -> None:
    tool = script(project, "bin/tool", 'touch "$(dirname "$0")/ran"\necho "tool 1.0"\n')
    project.checks(f'[[check]]\nid = "tool"\nkind = "binary"\nname = {toml(str(tool))}\n')
    code, report = check(project)
    assert (code, only(report)["status"]) == (0, "pass")
    assert not (tool.parent / "ran").exists()


def test_python_itself_matching_version_passes(project: Project) -> None:
    current = platform.python_version()
    project.checks(
        f'[[check]]\nid = "py"\nkind = "binary"\nname = {toml(sys.executable)}\n'
        f'version = "=={current}"\n'
    )
    code, report = check(project)
    result = only(report)
    assert (code, result["status"]) == (0, "pass"), result
    assert f"{current} satisfies =={current}" in result["message"]


def test_python_itself_wrong_version_fails_with_found_and_expected(project: Project) -> None:
    current = platform.python_version()
    project.checks(
        f'[[check]]\nid = "py"\nkind = "binary"\nname = {toml(sys.executable)}\nversion = "<3"\n'
    )
    code, report = check(project)
    result = only(report)
    assert (code, result["status"]) == (1, "fail")
    assert f"{current} does not satisfy <3" in result["message"]
    assert report["ready"] is False


def test_git_version_specifier_pass_and_fail(project: Project) -> None:
    project.checks(
        """
        [[check]]
        id = "git-new-enough"
        kind = "binary"
        name = "git"
        version = ">=2"

        [[check]]
        id = "git-too-old"
        kind = "binary"
        name = "git"
        version = ">=99"
        severity = "optional"
        """
    )
    code, report = check(project)
    by_id = {c["id"]: c for c in report["checks"]}
    assert by_id["git-new-enough"]["status"] == "pass"
    assert by_id["git-too-old"]["status"] == "fail"
    assert "does not satisfy >=99" in by_id["git-too-old"]["message"]
    assert by_id["git-too-old"]["fix"]  # an upgrade hint for this platform
    assert code == 0  # the failing check is optional


def test_version_args_are_passed_to_the_program(project: Project) -> None:
    script(
        project,
        "bin/svc",
        'if [ "$1" = "-V" ]; then echo "svc v=7.0.15 sha=00000000:0"; '
        'else echo "usage: svc [-V]" >&2; exit 64; fi\n',
    )
    project.checks(
        """
        [[check]]
        id = "with-args"
        kind = "binary"
        name = "bin/svc"
        version = ">=7,<8"
        version_args = ["-V"]

        [[check]]
        id = "default-args"
        kind = "binary"
        name = "bin/svc"
        version = ">=7"
        """
    )
    code, report = check(project, "-v")
    by_id = {c["id"]: c for c in report["checks"]}
    assert by_id["with-args"]["status"] == "pass"
    assert "svc 7.0.15 satisfies >=7,<8" in by_id["with-args"]["message"]
    default = by_id["default-args"]
    assert default["status"] == "fail"
    assert "could not read a version from `bin/svc --version` output" in default["message"]
    assert "exit 64" in default["message"]
    assert "| usage: svc [-V]" in default["evidence"]
    assert code == 1


def test_missing_binary_fails_with_an_install_hint(project: Project) -> None:
    project.checks('[[check]]\nid = "tool"\nkind = "binary"\nname = "envdoctor-no-such-tool"\n')
    code, report = check(project)
    result = only(report)
    assert (code, result["status"]) == (1, "fail")
    assert result["message"] == "envdoctor-no-such-tool not found on PATH"
    if sys.platform == "darwin":
        assert result["fix"] == "brew install envdoctor-no-such-tool"
    elif os.path.exists("/etc/debian_version"):
        assert result["fix"] == "sudo apt-get install envdoctor-no-such-tool"
    else:
        assert "envdoctor-no-such-tool" in result["fix"]


def test_common_tools_get_their_package_name_in_the_hint(project: Project) -> None:
    from envdoctor.programs import install_hint

    hint = install_hint("psql")
    assert "postgresql" in hint or "libpq" in hint or "psql" in hint


def test_relative_path_is_resolved_in_the_project(project: Project) -> None:
    script(project, "tools/mytool", 'echo "mytool 1.4.2"\n')
    project.checks(
        '[[check]]\nid = "t"\nkind = "binary"\nname = "tools/mytool"\nversion = "~=1.4"\n'
    )
    code, report = check(project)
    result = only(report)
    assert (code, result["status"]) == (0, "pass"), result
    assert str(project.root / "tools" / "mytool") in result["message"]


def test_path_that_is_not_executable_fails_with_chmod_fix(project: Project) -> None:
    project.write("tools/plain", "echo hi\n")
    project.checks('[[check]]\nid = "t"\nkind = "binary"\nname = "tools/plain"\n')
    code, report = check(project)
    result = only(report)
    assert (code, result["status"]) == (1, "fail")
    assert "not executable" in result["message"]
    assert result["fix"].startswith("chmod +x ")


def test_missing_path_fails(project: Project) -> None:
    project.checks('[[check]]\nid = "t"\nkind = "binary"\nname = "./bin/absent"\n')
    code, report = check(project)
    result = only(report)
    assert (code, result["status"]) == (1, "fail")
    assert "./bin/absent not found" in result["message"]


def test_bad_specifier_is_a_configuration_error(project: Project) -> None:
    project.checks('[[check]]\nid = "git"\nkind = "binary"\nname = "git"\nversion = "2.30"\n')
    result = project.run("check", "--format", "json")
    assert result.code == 2
    assert result.stdout == ""
    assert "checks/envdoctor.toml:5:" in result.stderr
    assert "not a PEP 440 version specifier: '2.30'" in result.stderr


def test_hanging_version_command_is_killed_at_the_deadline(project: Project) -> None:
    script(project, "bin/hang", "sleep 30\n")
    project.checks(
        '[[check]]\nid = "h"\nkind = "binary"\nname = "bin/hang"\nversion = ">=1"\n'
        'timeout = "500ms"\n'
    )
    started = time.monotonic()
    code, report = check(project)
    elapsed = time.monotonic() - started
    result = only(report)
    assert (code, result["status"]) == (1, "fail")
    assert "did not finish" in result["message"] or "timed out" in result["message"]
    assert elapsed < 5


def test_list_shows_binary_checks_in_tools(project: Project) -> None:
    project.checks('[[check]]\nid = "git"\nkind = "binary"\nname = "git"\n')
    result = project.run("check")
    assert result.code == 0
    assert "Tools\n" in result.stdout
    assert "git found at" in result.stdout


def test_kind_handles_its_own_timed_out_result(project: Project) -> None:
    """Without the runner's deadline around it, the kind reports the killed version command."""
    import asyncio

    from envdoctor.context import CheckContext, Session
    from envdoctor.errors import Source
    from envdoctor.kinds.binary import KIND
    from envdoctor.model import CheckSpec, Status
    from envdoctor.target import Target

    script(project, "bin/hang", "sleep 30\n")
    session = Session(project=project.root, target=Target(Path(sys.executable), "t"), environ={})
    options = {"name": "bin/hang", "version": ">=1", "version_args": ["--version"]}
    spec = CheckSpec(id="h", kind="binary", source=Source("t.toml", 1), options=options)
    ctx = CheckContext(session, deadline=time.monotonic() + 0.3)

    async def run() -> Any:
        outcome = await KIND.run(spec, ctx)
        await asyncio.sleep(0.2)  # let the loop reap the killed child before it closes
        return outcome

    outcome = asyncio.run(run())
    assert outcome.status is Status.FAIL
    assert outcome.message.startswith("`bin/hang --version` did not finish within")
    assert any("killed after" in item for item in ctx.evidence)


def test_a_project_script_is_not_run_under_safe(project: Project) -> None:
    marker = project.root / "RAN"
    script = project.write("tools/lint", f"#!/bin/sh\ntouch {marker}\necho lint 1.0\n")
    script.chmod(0o755)
    project.checks(
        '[[check]]\nid = "lint"\nkind = "binary"\nname = "tools/lint"\nversion = ">=1"\n'
    )
    result = project.run("check", "--safe", "-f", "json")
    assert result.json()["checks"][0]["status"] == "skip"
    assert not marker.exists()
    assert project.run("check", "-f", "json").json()["checks"][0]["status"] == "pass"
    assert marker.exists()
