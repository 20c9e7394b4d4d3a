"""Secrets never shown (DESIGN.md §7), whatever a check prints: canary values across kinds."""

from __future__ import annotations

import pytest

from conftest import Project

FORMATS = ("console", "json", "junit", "github", "markdown")
TOKEN = "ghp_canaryTOKEN123"


@pytest.mark.parametrize("fmt", FORMATS)
def test_secret_named_variable_echoed_by_a_command_is_masked(project: Project, fmt: str) -> None:
    # The check module never mentions the variable: the command prints it on its own.
    project.checks(
        """
        [[check]]
        id = "c"
        kind = "command"
        run = ["sh", "-c", "echo auth failed for token $GITHUB_TOKEN >&2; exit 1"]
        """
    )
    for args in (("check", "-f", fmt), ("check", "-f", fmt, "-v"), ("explain", "c")):
        result = project.run(*args, env={"GITHUB_TOKEN": TOKEN})
        assert result.code == 1, result.stderr
        assert TOKEN not in result.stdout + result.stderr, args
    assert "***" in project.run("check", "-f", "json", env={"GITHUB_TOKEN": TOKEN}).stdout


def test_a_shortened_command_line_leaks_no_part_of_a_secret(project: Project) -> None:
    project.checks(
        """
        [[check]]
        id = "c"
        kind = "command"
        run = ["python3", "-c", "import sys; sys.exit(1)", "--some-long-flag-name-here", "--token", "${GITHUB_TOKEN}"]
        """
    )
    result = project.run("check", "-f", "json", env={"GITHUB_TOKEN": TOKEN})
    message = result.json()["checks"][0]["message"]
    assert "ghp_c" not in message and TOKEN[:4] not in message.replace("--token", ""), message


def test_query_string_credentials_are_masked(project: Project) -> None:
    project.checks(
        """
        [[check]]
        id = "f"
        title = "db ${DBURL}"
        kind = "file"
        path = "nope"
        """
    )
    url = "https://host/x?api_key=canary-QS1&password=canary-QS2&page=2"
    result = project.run("check", "-f", "json", env={"DBURL": url})
    assert "canary-QS" not in result.stdout
    assert "page=2" in result.stdout  # only credentials are masked


def test_dotenv_secret_values_are_masked(project: Project) -> None:
    project.write("pyproject.toml", '[tool.envdoctor]\ndotenv = ".env"\n')
    project.write(".env", "API_SECRET=canary-dotenv-secret\n")
    project.checks(
        """
        [[check]]
        id = "c"
        kind = "command"
        run = ["sh", "-c", "echo using canary-dotenv-secret; exit 1"]
        """
    )
    result = project.run("check", "-v")
    assert "canary-dotenv-secret" not in result.stdout + result.stderr


def test_secret_values_of_the_projects_dotenv_are_masked_without_settings(project: Project) -> None:
    project.write(".env", "STRIPE_SECRET=sk_live_canary42\n")
    project.checks(
        """
        [[check]]
        id = "c"
        kind = "command"
        run = ["sh", "-c", "echo key sk_live_canary42; exit 1"]
        """
    )
    for args in (("check", "-v"), ("check", "-f", "json", "-v"), ("explain", "c")):
        result = project.run(*args)
        assert "sk_live_canary42" not in result.stdout + result.stderr, args
