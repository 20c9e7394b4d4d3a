"""`memory` end to end: tiny minimums pass, absurd ones fail, with the figures."""

from __future__ import annotations

from typing import Any

import pytest

from ._helpers import one_check


def one(project: Any, body: str) -> tuple[int, dict[str, Any]]:
    return one_check(project, "ram", "memory", body)


def test_tiny_minimum_passes(project: Any) -> None:
    code, check = one(project, 'min_available = "1MiB"')
    assert code == 0
    assert check["status"] == "pass"
    assert check["message"].endswith(" available (needs 1.0 MiB)")


def test_absurd_minimum_fails(project: Any) -> None:
    code, check = one(project, 'min_available = "1000TB"')
    assert code == 1
    assert check["status"] == "fail"
    assert check["message"].startswith("only ")
    assert check["message"].endswith(", needs 909.5 TiB")
    assert check["fix"]


def test_console_groups_it_under_system(project: Any) -> None:
    project.checks('[[check]]\nid = "ram"\nkind = "memory"\nmin_available = 1024\n')
    result = project.run("check")
    assert result.code == 0
    assert "System\n" in result.stdout
    assert "available (needs 1.0 KiB)" in result.stdout


@pytest.mark.parametrize(
    ("body", "error"),
    [("", "kind memory needs option 'min_available'"), ("min_available = -1", "not a size")],
)
def test_configuration_errors(project: Any, body: str, error: str) -> None:
    project.checks(f'[[check]]\nid = "ram"\nkind = "memory"\n{body}\n')
    result = project.run("check")
    assert result.code == 2
    assert error in result.stderr
