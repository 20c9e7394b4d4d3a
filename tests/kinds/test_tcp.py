"""`tcp` end to end: real listeners, closed ports, a full backlog and a `.invalid` name."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from tests.conftest import closed_port, full_backlog

from envdoctor.kinds.tcp import KIND, endpoint, parse_address


@contextmanager
def listener(host: str = "127.0.0.1", port: int = 0) -> Iterator[int]:
    """Listening is enough: the kernel completes the handshake without accept()."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        sock.bind((host, port))
        sock.listen(64)
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


def one(project: Any, body: str, *args: str) -> dict[str, Any]:
    project.checks(f'[[check]]\nid = "svc"\nkind = "tcp"\n{body}\n')
    result = project.run("check", "--format", "json", *args)
    assert result.code in (0, 1), result.stderr
    (check,) = result.json()["checks"]
    return check


def test_connects_to_a_listener(project: Any) -> None:
    with listener() as port:
        check = one(project, f'host = "127.0.0.1"\nport = {port}')
    assert check["status"] == "pass"
    assert check["message"].startswith(f"connected to 127.0.0.1:{port} in ")
    assert check["message"].endswith(" ms")


def test_port_alone_means_localhost(project: Any) -> None:
    with listener() as port:
        check = one(project, f"port = {port}")
    assert check["status"] == "pass"
    assert check["message"].startswith(f"connected to localhost:{port} (127.0.0.1:{port}) in ")


def test_address_option_with_ipv6_brackets(project: Any) -> None:
    with listener("::1") as port:
        check = one(project, f'address = "[::1]:{port}"')
    assert check["status"] == "pass"
    assert f"[::1]:{port}" in check["message"]


def test_address_from_an_environment_variable(project: Any) -> None:
    with listener() as port:
        project.checks('[[check]]\nid = "svc"\nkind = "tcp"\naddress = "${SVC_ADDR}"\n')
        result = project.run("check", env={"SVC_ADDR": f"127.0.0.1:{port}"})
    assert result.code == 0, result.stdout + result.stderr
    assert f"connected to 127.0.0.1:{port}" in result.stdout


def test_refused_on_this_machine_says_nothing_listens(project: Any) -> None:
    port = closed_port()
    check = one(project, f'host = "127.0.0.1"\nport = {port}')
    assert check["status"] == "fail"
    assert check["message"] == f"refused at 127.0.0.1:{port}; nothing listens on port {port}"


def test_refused_but_listening_on_another_address_names_the_process(project: Any) -> None:
    with listener("127.0.0.2") as port:
        check = one(project, f'host = "127.0.0.1"\nport = {port}')
    assert check["status"] == "fail"
    assert check["message"].startswith(f"refused at 127.0.0.1:{port}; listening on port {port}: ")
    assert f"(pid {os.getpid()}) on 127.0.0.2:{port}" in check["message"]


def test_refused_with_a_name_shows_the_addresses_tried(project: Any) -> None:
    port = closed_port()
    check = one(project, f'host = "localhost"\nport = {port}')
    assert check["status"] == "fail"
    assert check["message"].startswith(f"refused at localhost:{port} (127.0.0.1)")


def test_full_backlog_times_out_while_connecting(project: Any) -> None:
    with full_backlog() as port:
        started = time.monotonic()
        check = one(project, f'host = "127.0.0.1"\nport = {port}\ntimeout = "1s"')
        took = time.monotonic() - started
    assert check["status"] == "fail"
    assert check["message"] == f"timed out after 1.0 s connecting to 127.0.0.1:{port}"
    assert 900 <= check["duration_ms"] <= 1200
    assert took < 5


def test_dns_name_not_found(project: Any) -> None:
    check = one(project, 'host = "no-such-service.envdoctor.invalid"\nport = 5432')
    assert check["status"] == "fail"
    assert check["message"] == "DNS name not found: no-such-service.envdoctor.invalid"


def test_explain_shows_each_attempt(project: Any) -> None:
    port = closed_port()
    project.checks(f'[[check]]\nid = "svc"\nkind = "tcp"\nport = {port}\n')
    result = project.run("explain", "svc")
    assert "localhost resolved to 127.0.0.1" in result.stdout
    assert f"127.0.0.1:{port}: refused after" in result.stdout


def test_fifty_black_holes_run_concurrently(project: Any) -> None:
    with full_backlog() as port:
        project.checks(
            "".join(
                f'[[check]]\nid = "hole{i}"\nkind = "tcp"\naddress = "127.0.0.1:{port}"\n'
                'timeout = "1s"\n\n'
                for i in range(50)
            )
        )
        started = time.monotonic()
        result = project.run("check", "--format", "json")
        took = time.monotonic() - started
    assert result.code == 1
    checks = result.json()["checks"]
    assert len(checks) == 50
    assert all("timed out after 1.0 s connecting to" in c["message"] for c in checks)
    assert took < 3.0


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ('address = "localhost:5432"\nport = 5432', "either 'address' or 'host' and 'port'"),
        ('host = "db"', "kind tcp needs option 'port' (or 'address')"),
        ("", "kind tcp needs option 'port' (or 'address')"),
        ('address = "::1:5432"', "an IPv6 address needs brackets"),
        ('address = "localhost"', 'expected "host:port"'),
        ('address = "localhost:99999"', "the port must be a number from 1 to 65535"),
        ("port = 0", "out of range"),
    ],
)
def test_configuration_errors(project: Any, body: str, error: str) -> None:
    path = project.checks(f'[[check]]\nid = "svc"\nkind = "tcp"\n{body}\n')
    result = project.run("check")
    assert result.code == 2
    assert error in result.stderr
    assert "checks/envdoctor.toml:" in result.stderr
    assert path.exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("localhost:5432", ("localhost", 5432)),
        (" db.internal:6379 ", ("db.internal", 6379)),
        ("[::1]:5432", ("::1", 5432)),
        ("10.0.0.1:1", ("10.0.0.1", 1)),
    ],
)
def test_parse_address(text: str, expected: tuple[str, int]) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize("text", ["", ":80", "db", "db:", "db:x", "[::1]5432", "[::1", "::1:80"])
def test_parse_address_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_address(text)


def test_endpoint_and_validate_agree() -> None:
    assert endpoint({"port": 80}) == ("localhost", 80)
    assert endpoint({"host": "db", "port": 80}) == ("db", 80)
    assert endpoint({"address": "db:81"}) == ("db", 81)
    assert KIND.validate({"port": 80}) == []
    assert KIND.validate({"address": "db:81"}) == []
    assert KIND.validate({"host": " ", "port": 80}) == [("host", "option 'host' must not be empty")]


def test_a_refused_port_a_compose_service_publishes_gets_its_up_command(project: Any) -> None:
    port = closed_port()
    project.write("compose.yaml", f'services:\n  db:\n    image: postgres:16\n    ports: ["{port}:5432"]\n')
    check = one(project, f"port = {port}")
    assert check["status"] == "fail"
    assert check["fix"] == "docker compose up -d db"
