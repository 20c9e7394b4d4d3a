"""Helpers shared by the kind tests: run the CLI for a JSON report, pick its one check, and
write executable scripts into the project."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

from tests.conftest import Project


def check(project: Project, *args: str) -> tuple[int, dict[str, Any]]:
    """`envdoctor check --format json` in the project: exit code and parsed report."""
    result = project.run("check", "--format", "json", *args)
    assert result.stdout, result.stderr
    return result.code, result.json()


def only(report: dict[str, Any]) -> dict[str, Any]:
    assert len(report["checks"]) == 1
    return report["checks"][0]


def script(project: Project, relative: str, body: str) -> Path:
    path = project.write(relative, "#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def one_check(project: Project, check_id: str, kind: str, body: str) -> tuple[int, dict[str, Any]]:
    """Run a project holding just one check (`body`: its option lines); it passes or fails."""
    project.checks(f'[[check]]\nid = "{check_id}"\nkind = "{kind}"\n{body}\n')
    result = project.run("check", "--format", "json")
    assert result.code in (0, 1), result.stderr
    (found,) = result.json()["checks"]
    return result.code, found
