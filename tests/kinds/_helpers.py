"""Helpers shared by the kind tests: run the CLI for a JSON report, pick its one check, write
executable scripts into the project, and prove that no secret shows in any output."""

from __future__ import annotations

import stat
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tests.conftest import CliResult, Project

SERVICE_SCHEMES = {
    "postgres": "postgresql",
    "redis": "redis",
    "mysql": "mysql",
    "mongodb": "mongodb",
    "amqp": "amqp",
    "kafka": "kafka",
    "memcached": "memcached",
    "smtp": "smtp",
    "http": "http",
}
"""Every protocol kind and the URL scheme it takes."""


def service_url(kind: str, port: int, auth: str = "") -> str:
    """A URL for a `kind` check of 127.0.0.1:`port` (`auth`: `user:password@`), with a
    database in its path (Redis's is a number)."""
    path = "/0" if kind == "redis" else "/db"
    return f"{SERVICE_SCHEMES[kind]}://{auth}127.0.0.1:{port}{path}"


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


def one_check(
    project: Project,
    check_id: str,
    kind: str,
    body: str,
    *args: str,
    env: dict[str, str] | None = None,
    codes: tuple[int, ...] = (0, 1),
    secrets: Iterable[str] = (),
) -> tuple[int, dict[str, Any]]:
    """Run a project holding just one check (`body`: its option lines) as JSON, with more CLI
    `args` and `env`; the exit code is one of `codes`, and no secret shows in the output."""
    project.checks(f'[[check]]\nid = "{check_id}"\nkind = "{kind}"\n{body}\n')
    result = project.run("check", "--format", "json", *args, env=env)
    assert result.code in codes, result.stdout + result.stderr
    assert_hidden([result], secrets)
    (found,) = result.json()["checks"]
    return result.code, found


def run_all(
    project: Project, runs: Sequence[Sequence[str]], env: dict[str, str] | None = None
) -> list[CliResult]:
    """The CLI runs (argument lists) at once, in the project, with `env`; results in order."""
    with ThreadPoolExecutor(len(runs)) as pool:  # several CLI runs at once: seconds saved
        return list(pool.map(lambda args: project.run(*args, env=env), runs))


def secret_forms(secrets: Iterable[str]) -> set[str]:
    """A secret as it could leak: raw or percent-encoded."""
    return {form for s in secrets for form in (s, quote(s, safe=""), quote(s))}


def assert_hidden(results: Iterable[CliResult], secrets: Iterable[str]) -> None:
    """No secret, in any spelling, on any stdout or stderr."""
    forms = secret_forms(secrets)
    for result in results:
        for form in forms:
            assert form not in result.stdout, result.stdout
            assert form not in result.stderr, result.stderr


def never_shown(
    project: Project, check_id: str, env: dict[str, str], secrets: Iterable[str]
) -> None:
    """The console report (verbose) and `explain`, stdout and stderr, hold none of the secrets;
    both did report the check."""
    console, explain = run_all(project, [("check", "-v"), ("explain", check_id)], env)
    assert_hidden([console, explain], secrets)
    assert "[" in console.stdout and check_id in console.stdout
    assert "evidence" in explain.stdout  # explain did run the check


def reported(
    project: Project, check_id: str, env: dict[str, str], secrets: Iterable[str]
) -> dict[str, Any]:
    """The project's one check as JSON, console and `explain` (one after the other) with `env`:
    none shows a secret and the console agrees with JSON; the JSON check, with `explain`'s
    output and the exit code added."""
    result, console, explain = (
        project.run(*args, env=env)
        for args in (("check", "--format", "json"), ("check",), ("explain", check_id))
    )
    assert_hidden([result, console, explain], secrets)
    assert result.code in (0, 1), result.stderr
    assert console.code == result.code, console.stderr
    assert check_id in console.stdout
    (found,) = result.json()["checks"]
    found["explain"] = explain.stdout
    found["code"] = result.code
    return found
