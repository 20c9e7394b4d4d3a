"""Secrets never shown (DESIGN.md §7), whatever a check prints: canary values across kinds."""

from __future__ import annotations

import socket
import threading

import pytest
from tests.kinds._helpers import SERVICE_SCHEMES, service_url
from tests.servers.threaded import serve

from conftest import Project, closed_port

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


# -- service URLs: every service kind, every format, the refused and the answered paths --------

CANARY = "s3cr3t-CANARY-pw"


def _url(kind: str, port: int) -> str:
    return service_url(kind, port, f"app:{CANARY}@")


def _service_checks(port: int, via_env: bool) -> str:
    out = []
    for kind in SERVICE_SCHEMES:
        url = _url(kind, port)
        value = "${SERVICE_URL_" + kind.upper() + "}" if via_env else url
        out.append(f'[[check]]\nid = "{kind}"\nkind = "{kind}"\nurl = "{value}"\ntimeout = "1s"\n')
    return "\n".join(out)


@pytest.mark.parametrize("via_env", [False, True], ids=["literal", "from-env"])
def test_service_url_passwords_never_show_in_any_format(project: Project, via_env: bool) -> None:
    """Refused (a closed port) and answered-by-another-protocol (an HTTP-ish listener that
    echoes what it got) paths: the password is in no report, log or explanation."""

    def echo(conn: socket.socket, _stop: threading.Event) -> None:
        """Answers anything with what it received: a hostile echo."""
        conn.settimeout(0.3)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n" + conn.recv(4096))

    with serve(echo) as server:
        port = server.port
        env = {f"SERVICE_URL_{kind.upper()}": _url(kind, port) for kind in SERVICE_SCHEMES}
        project.checks(_service_checks(port, via_env))
        runs = [("check", "-f", fmt) for fmt in FORMATS]
        runs += [("check", "-f", "json", "-v"), ("explain", "postgres"), ("explain", "redis")]
        runs += [("explain", "http"), ("list",), ("fix",)]
        for args in runs:
            result = project.run(*args, env=env)
            assert result.code in (0, 1), (args, result.stderr)
            assert CANARY not in result.stdout + result.stderr, args
            assert "CANARY" not in result.stdout + result.stderr, args
    project.checks(_service_checks(closed_port(), via_env))
    for fmt in FORMATS:
        result = project.run("check", "-f", fmt, "-v", env=env)
        assert result.code == 1
        assert CANARY not in result.stdout + result.stderr, fmt


@pytest.mark.parametrize("password", ["CANARY XQZ", "CANARY/XQZ@more", "CANARYp@ss:w/rd spä€"])
def test_raw_passwords_with_spaces_and_slashes_are_masked_in_explain(
    project: Project, password: str
) -> None:
    project.checks(
        f'[[check]]\nid = "db"\nkind = "postgres"\nurl = "postgresql://app:{password}@127.0.0.1:1/x"\n'
    )
    for args in (("explain", "db"), ("check", "-v"), ("check", "-f", "json"), ("list",)):
        result = project.run(*args)
        out = result.stdout + result.stderr
        assert "CANARY" not in out and "XQZ" not in out, (args, out)
        assert "Traceback" not in out


def test_a_literal_url_quoted_in_a_module_error_is_masked(project: Project) -> None:
    project.checks('[[check]]\nid = "c"\nkind = "redis"\nurl = ["redis://:CANARY2@h"]\n')
    result = project.run("check")
    assert result.code == 2
    assert "CANARY2" not in result.stderr and "***" in result.stderr
