"""`disk` end to end: tiny minimums pass, absurd ones fail with the filesystem named."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import psutil
import pytest

from ._helpers import one_check


def one(project: Any, body: str) -> tuple[int, dict[str, Any]]:
    return one_check(project, "room", "disk", body)


def mount_of(path: Path) -> str:
    path = path.resolve()
    while not os.path.ismount(path):
        path = path.parent
    return str(path)


def test_tiny_minimum_passes_and_names_the_filesystem(project: Any) -> None:
    code, check = one(project, 'min_free = "1MiB"')
    assert code == 0
    assert check["status"] == "pass"
    assert check["message"].endswith(f" free on {mount_of(project.root)} (needs 1.0 MiB)")
    free_gib = psutil.disk_usage(str(project.root)).free / 2**30
    shown = float(check["message"].split()[0])
    unit = check["message"].split()[1]
    assert unit != "GiB" or abs(shown - free_gib) < 1.0


def test_absurd_minimum_fails_with_a_command_to_find_space(project: Any) -> None:
    code, check = one(project, 'min_free = "1000TB"')
    assert code == 1
    assert check["status"] == "fail"
    assert check["message"].startswith("only ")
    assert check["message"].endswith("needs 909.5 TiB for .")
    assert check["fix"].startswith("du -xh -d 1 ")


def test_a_path_that_does_not_exist_yet_is_measured_at_its_parent(project: Any) -> None:
    code, check = one(project, 'path = "data/not/yet"\nmin_free = "1KB"')
    assert code == 0
    assert check["status"] == "pass"
    assert not (project.root / "data").exists()


def test_absolute_path(project: Any, tmp_path: Path) -> None:
    code, check = one(project, f'path = "{tmp_path}"\nmin_free = 1024')
    assert code == 0
    assert check["message"].endswith("(needs 1.0 KiB)")


def test_explain_records_the_bytes(project: Any) -> None:
    project.checks('[[check]]\nid = "room"\nkind = "disk"\nmin_free = "1KB"\n')
    result = project.run("explain", "room")
    assert "bytes free of" in result.stdout
    assert "1000 required" in result.stdout


@pytest.mark.parametrize(
    ("body", "error"),
    [("", "kind disk needs option 'min_free'"), ('min_free = "lots"', "not a size")],
)
def test_configuration_errors(project: Any, body: str, error: str) -> None:
    project.checks(f'[[check]]\nid = "room"\nkind = "disk"\n{body}\n')
    result = project.run("check")
    assert result.code == 2
    assert error in result.stderr
