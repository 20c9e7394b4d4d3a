"""`port_free` end to end: a port a child process holds, a free port, address filtering."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from envdoctor.kinds.port_free import _bind_fails, _fix
from envdoctor.listeners import Listener, describe

from ._helpers import one_check

HOLDER = """
import socket, sys, time
sock = socket.socket()
sock.bind((sys.argv[1], 0))
sock.listen()
print(sock.getsockname()[1], flush=True)
time.sleep(120)
"""


@contextmanager
def held_port(host: str = "127.0.0.1") -> Iterator[tuple[int, int]]:
    """(port, pid) of a child process that listens on host:port until the test ends."""
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, host], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        port = int(child.stdout.readline())
        yield port, child.pid
    finally:
        child.kill()
        child.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def one(project: Any, body: str) -> tuple[int, dict[str, Any]]:
    return one_check(project, "port", "port_free", body)


def test_passes_when_nothing_listens(project: Any) -> None:
    port = free_port()
    code, check = one(project, f"port = {port}")
    assert code == 0
    assert check["status"] == "pass"
    assert check["message"] == f"nothing listens on port {port}"


def test_names_the_child_process_that_holds_the_port(project: Any) -> None:
    with held_port() as (port, pid):
        code, check = one(project, f"port = {port}")
    assert code == 1
    assert check["status"] == "fail"
    assert check["message"].startswith(f"port {port} is in use: ")
    assert f"(pid {pid}) on 127.0.0.1:{port}" in check["message"]
    assert "python" in check["message"]
    assert check["fix"] == f"kill {pid}"
    (finding,) = check["findings"]
    assert finding["status"] == "fail"
    assert finding["found"] == f"127.0.0.1:{port}"
    assert finding["fix"] == f"kill {pid}"


def test_category_is_system(project: Any) -> None:
    with held_port() as (port, pid):
        project.checks(f'[[check]]\nid = "port"\nkind = "port_free"\nport = {port}\n')
        result = project.run("check")
    assert result.code == 1
    assert "System\n" in result.stdout
    assert f"fix: kill {pid}" in result.stdout


def test_host_counts_only_listeners_that_block_that_address(project: Any) -> None:
    with held_port("127.0.0.1") as (port, pid):
        code, check = one(project, f'port = {port}\nhost = "127.0.0.2"')
        assert (code, check["message"]) == (0, f"nothing listens on port {port} on 127.0.0.2")
        code, check = one(project, f'port = {port}\nhost = "127.0.0.1"')
        assert code == 1
        assert f"(pid {pid})" in check["message"]


def test_a_wildcard_listener_blocks_every_address(project: Any) -> None:
    with held_port("0.0.0.0") as (port, pid):
        code, check = one(project, f'port = {port}\nhost = "127.0.0.2"')
    assert code == 1
    assert f"(pid {pid}) on 0.0.0.0:{port}" in check["message"]


@pytest.mark.parametrize(
    ("body", "error"),
    [("", "kind port_free needs option 'port'"), ("port = 70000", "out of range")],
)
def test_configuration_errors(project: Any, body: str, error: str) -> None:
    project.checks(f'[[check]]\nid = "port"\nkind = "port_free"\n{body}\n')
    result = project.run("check")
    assert result.code == 2
    assert error in result.stderr


def test_bind_probe_agrees_with_psutil() -> None:
    with held_port() as (port, _pid):
        assert _bind_fails("127.0.0.1", port) is not None
    assert _bind_fails("127.0.0.1", free_port()) is None


def test_describe_groups_addresses_by_process() -> None:
    listeners = [
        Listener("0.0.0.0", 5432, 12, "postgres"),
        Listener("::", 5432, 12, "postgres"),
        Listener("127.0.0.1", 5432, None, None),
    ]
    assert describe(listeners) == (
        "postgres (pid 12) on 0.0.0.0:5432 and [::]:5432, "
        "a process of another user (pid not visible) on 127.0.0.1:5432"
    )


def test_fix_kills_known_pids_and_finds_unknown_ones() -> None:
    assert _fix([Listener("0.0.0.0", 80, 7, "nginx"), Listener("::", 80, 9, "x")], 80) == "kill 7 9"
    assert _fix([Listener("0.0.0.0", 80, None, None)], 80) == "sudo lsof -nP -iTCP:80 -sTCP:LISTEN"
    assert _fix([Listener("0.0.0.0", 5432, 3, "docker-proxy")], 5432) == (
        "docker stop $(docker ps -q --filter publish=5432)"
    )
