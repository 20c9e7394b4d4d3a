"""The connect helper against real sockets: a listener, a closed port, a full backlog, DNS."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from tests.conftest import closed_port, full_backlog

from envdoctor.probes.connect import (
    STAGGER,
    Connection,
    ConnectTimeout,
    DnsError,
    ProbeError,
    Refused,
    Socket,
    _interleave,
    _race,
    connect,
    format_address,
)


@contextmanager
def listener(host: str = "127.0.0.1", port: int = 0) -> Iterator[socket.socket]:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family)
    try:
        sock.bind((host, port))
        sock.listen(16)
        yield sock
    finally:
        sock.close()


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_connects_and_reports_peer_and_handshake_time() -> None:
    async def go() -> tuple[Connection, bytes]:
        conn = await connect("127.0.0.1", port, 2.0)
        accepted, _ = server.accept()
        accepted.sendall(b"hello\n")
        line = await asyncio.wait_for(conn.reader.readline(), 2)
        accepted.close()
        conn.writer.close()
        return conn, line

    with listener() as server:
        port = server.getsockname()[1]
        conn, line = run(go())
    assert line == b"hello\n"
    assert conn.peer == f"127.0.0.1:{port}"
    assert 0 <= conn.elapsed < 1.0
    reader, writer, peer, elapsed = conn  # a plain 4-tuple for callers that unpack
    assert (reader, writer) == (conn.reader, conn.writer)
    assert peer == conn.peer and elapsed == conn.elapsed


def test_name_is_resolved_and_logged() -> None:
    lines: list[str] = []

    async def go() -> Connection:
        conn = await connect("localhost", port, 2.0, log=lines.append)
        conn.writer.close()
        return conn

    with listener() as server:
        port = server.getsockname()[1]
        conn = run(go())
    assert conn.peer == f"127.0.0.1:{port}"
    assert any("localhost resolved to" in line and "127.0.0.1" in line for line in lines)
    assert any(line.startswith(f"127.0.0.1:{port}: connected in") for line in lines)


def test_ipv6_literal_with_and_without_brackets() -> None:
    async def go(host: str) -> str:
        conn = await connect(host, port, 2.0)
        conn.writer.close()
        return conn.peer

    with listener("::1") as server:
        port = server.getsockname()[1]
        assert run(go("::1")) == f"[::1]:{port}"
        assert run(go("[::1]")) == f"[::1]:{port}"


def test_refused_port() -> None:
    port = closed_port()
    started = time.monotonic()
    with pytest.raises(Refused) as caught:
        run(connect("127.0.0.1", port, 2.0))
    error = caught.value
    assert time.monotonic() - started < 1.0
    assert error.phase == "connect"
    assert error.target == f"127.0.0.1:{port}"
    assert [a.outcome for a in error.attempts] == ["refused"]
    assert error.attempts[0].ip == "127.0.0.1"
    assert isinstance(error, ProbeError)


def test_full_backlog_times_out_while_connecting_within_the_deadline() -> None:
    with full_backlog() as port:
        started = time.monotonic()
        with pytest.raises(ConnectTimeout) as caught:
            run(connect("127.0.0.1", port, 0.5))
        took = time.monotonic() - started
    assert 0.45 <= took < 0.9
    assert caught.value.phase == "connect"
    assert caught.value.addresses == [f"127.0.0.1:{port}"]
    assert caught.value.attempts[0].outcome == "no answer before the deadline"


def test_dns_name_not_found() -> None:
    with pytest.raises(DnsError) as caught:
        run(connect("no-such-host.envdoctor.invalid", 80, 5.0))
    assert caught.value.not_found is True
    assert caught.value.phase == "resolve"
    assert caught.value.attempts == ()


def test_invalid_host_name_is_a_dns_error_not_a_crash() -> None:
    with pytest.raises(DnsError) as caught:
        run(connect("a" * 70 + ".example", 80, 2.0))
    assert caught.value.not_found is False
    assert caught.value.reason == "not a valid host name"


def test_no_time_left_times_out_at_once() -> None:
    with listener() as server, pytest.raises(ConnectTimeout):
        run(connect("127.0.0.1", server.getsockname()[1], 0.0))


def test_a_black_holed_address_does_not_hold_up_the_next_one() -> None:
    """Happy eyeballs: the second address is tried after STAGGER and wins."""
    with full_backlog("127.0.0.1") as port, listener("127.0.0.2", port):
        addresses = [
            (socket.AF_INET, ("127.0.0.1", port)),
            (socket.AF_INET, ("127.0.0.2", port)),
        ]

        async def go() -> Socket:
            started = time.monotonic()
            conn = await _race("both", port, addresses, started + 3.0, started, lambda _t: None)
            conn.sock.close()
            return conn

        started = time.monotonic()
        conn = run(go())
        took = time.monotonic() - started
    assert conn.peer == f"127.0.0.2:{port}"
    assert STAGGER * 0.9 <= took < 1.5


def test_refused_on_every_address_lists_each_attempt() -> None:
    port = closed_port("127.0.0.1")
    addresses = [
        (socket.AF_INET, ("127.0.0.1", port)),
        (socket.AF_INET, ("127.0.0.3", port)),
    ]

    async def go() -> None:
        started = time.monotonic()
        await _race("both", port, addresses, started + 2.0, started, lambda _t: None)

    with pytest.raises(Refused) as caught:
        run(go())
    assert [a.ip for a in caught.value.attempts] == ["127.0.0.1", "127.0.0.3"]


def test_interleave_alternates_families_and_drops_duplicates() -> None:
    v6a, v6b = (socket.AF_INET6, ("::1", 1, 0, 0)), (socket.AF_INET6, ("::2", 1, 0, 0))
    v4a = (socket.AF_INET, ("127.0.0.1", 1))
    assert _interleave([v6a, v6b, v4a, v6a]) == [v6a, v4a, v6b]


@pytest.mark.parametrize(
    ("host", "port", "text"),
    [("127.0.0.1", 80, "127.0.0.1:80"), ("::1", 5432, "[::1]:5432"), ("db", 1, "db:1")],
)
def test_format_address(host: str, port: int, text: str) -> None:
    assert format_address(host, port) == text
