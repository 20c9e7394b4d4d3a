"""The hostile peers of tests/servers/hostile.py behave as documented, seen through raw sockets:
the probes' tests rely on exactly these behaviours."""

from __future__ import annotations

import array
import contextlib
import fcntl
import socket
import termios
import time
import urllib.request
from collections.abc import Callable, Iterator

import pytest
from tests.servers.hostile import (
    DRIP_PAYLOAD,
    HTTP_BAD,
    HTTP_BODY,
    HTTP_OK,
    REDIS_PONG,
    REDIS_PROTOCOL_ERROR,
    REDIS_UNKNOWN,
    HostileLoop,
    HostileServer,
)
from tests.servers.process import wait_until


@contextlib.contextmanager
def client(server: HostileServer, timeout: float = 2.0) -> Iterator[socket.socket]:
    sock = socket.create_connection((server.host, server.port), timeout=timeout)
    try:
        yield sock
    finally:
        sock.close()


def read_for(sock: socket.socket, seconds: float) -> bytes:
    """Everything that arrives within `seconds` (stops early at EOF)."""
    deadline = time.monotonic() + seconds
    data = b""
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        if not chunk:
            break
        data += chunk
    return data


def read_exactly(sock: socket.socket, size: int, timeout: float = 2.0) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, f"closed after {data!r}"
        data += chunk
    return data


def closed_by_peer(sock: socket.socket, timeout: float = 2.0) -> bool:
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def silent(sock: socket.socket, seconds: float = 0.3) -> bool:
    """Nothing arrives, and the connection stays open, for `seconds`."""
    sock.settimeout(seconds)
    try:
        sock.recv(1)
    except TimeoutError:
        return True
    return False


@pytest.fixture
def fresh(hostile_loop: HostileLoop) -> Iterator[Callable[[str], HostileServer]]:
    """`fresh("black_hole")`: a server of its own (counters start at zero), closed after."""
    made: list[HostileServer] = []

    def make(kind: str) -> HostileServer:
        made.append(getattr(hostile_loop, kind)())
        return made[-1]

    yield make
    for server in made:
        server.close()


# -- black holes -------------------------------------------------------------------------


def test_black_hole_accepts_and_never_answers(black_hole: HostileServer) -> None:
    assert black_hole.host == "127.0.0.1" and black_hole.port > 1024
    before = black_hole.accepted
    with client(black_hole) as sock:
        wait_until(lambda: black_hole.accepted == before + 1, 2, "the accept")
        sock.sendall(b"PING\r\n")
        assert silent(sock, 0.5)


def unread_bytes(server: HostileServer) -> int:
    """Bytes waiting, unread, in the kernel's receive queues of the server's connections."""
    total = 0
    for transport in list(server.transports):
        sock = transport.get_extra_info("socket")
        raw = array.array("i", [0])
        fcntl.ioctl(sock.fileno(), termios.FIONREAD, raw)
        total += raw[0]
    return total


def test_black_hole_never_reads(fresh: Callable[[str], HostileServer]) -> None:
    hole = fresh("black_hole")
    with client(hole) as sock:
        sock.sendall(b"x" * 1000)
        wait_until(lambda: unread_bytes(hole) == 1000, 2, "the bytes to arrive")
        time.sleep(0.3)
        assert unread_bytes(hole) == 1000  # still there: nobody read them
        # and it never stops accepting bytes into its queue until the kernel's buffers fill
        sock.setblocking(False)
        sent = 0
        with contextlib.suppress(BlockingIOError):
            while sent < 256 * 1024 * 1024:
                sent += sock.send(b"x" * 65536)
        assert 0 < sent < 256 * 1024 * 1024
    assert list(hole.received) == [bytearray()]


def test_black_hole_drops_connections_whose_client_left(
    fresh: Callable[[str], HostileServer],
) -> None:
    hole = fresh("black_hole")
    with client(hole) as first, client(hole) as second:
        first.sendall(b"unread bytes")
        wait_until(lambda: hole.open_connections == 2, 2, "two connections")
        first.close()
        wait_until(lambda: hole.open_connections == 1, 3, "the sweep of the closed one")
        assert silent(second, 0.2)
    wait_until(lambda: hole.open_connections == 0, 3, "the sweep of the other")


def test_black_holes_factory_gives_distinct_ports(
    black_holes: Callable[[int], list[HostileServer]],
) -> None:
    holes = black_holes(5)
    assert len({h.port for h in holes}) == 5
    for hole in holes:
        with client(hole) as sock:
            assert silent(sock, 0.05)
        assert hole.accepted == 1


def test_full_backlog_port_hangs_while_connecting(full_backlog_port: int) -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        socket.create_connection(("127.0.0.1", full_backlog_port), timeout=0.3)
    assert 0.25 <= time.monotonic() - started < 1.0


# -- servers that speak on their own -------------------------------------------------------


def test_drip_server_sends_one_byte_every_half_second(drip_server: HostileServer) -> None:
    with client(drip_server) as sock:
        started = time.monotonic()
        arrivals = []
        data = b""
        while len(data) < 3:
            chunk = read_exactly(sock, 1)
            arrivals.append(time.monotonic() - started)
            data += chunk
        assert data == DRIP_PAYLOAD[:3] == b"HTT"
        assert arrivals[0] < 0.2  # the first byte right after the accept
        assert 0.4 <= arrivals[1] - arrivals[0] <= 0.7
        assert 0.4 <= arrivals[2] - arrivals[1] <= 0.7
        sock.sendall(b"GET / HTTP/1.1\r\n\r\n")  # what the client says changes nothing
        assert read_for(sock, 0.6) == DRIP_PAYLOAD[3:4]


def test_drip_server_keeps_dripping_past_its_payload(hostile_loop: HostileLoop) -> None:
    server = hostile_loop.drip(payload=b"ab", interval=0.05)
    try:
        with client(server) as sock:
            data = read_for(sock, 0.4)
        assert data.startswith(b"ab.")
        assert set(data[2:]) == {ord(".")}
    finally:
        server.close()


def test_closer_closes_at_once(closer: HostileServer) -> None:
    with client(closer) as sock:
        started = time.monotonic()
        assert closed_by_peer(sock)
        assert time.monotonic() - started < 0.5


def test_banner_server_sends_then_waits(
    banner_server: Callable[[bytes], HostileServer],
) -> None:
    server = banner_server(b"220 mail.example ESMTP\r\n")
    with client(server) as sock:
        assert read_exactly(sock, 24) == b"220 mail.example ESMTP\r\n"
        assert silent(sock, 0.3)
        sock.sendall(b"EHLO me\r\n")
        assert silent(sock, 0.3)
        wait_until(lambda: server.received[-1] == b"EHLO me\r\n", 2, "the EHLO")


def test_replay_server_sends_then_hangs_up(
    replay_server: Callable[[bytes], HostileServer],
) -> None:
    server = replay_server(b"-DENIED not from here\r\n")
    for _ in range(2):  # every client hears the same words
        with client(server) as sock:
            assert read_exactly(sock, 23) == b"-DENIED not from here\r\n"
            assert closed_by_peer(sock)
    assert server.accepted == 2


def test_a_server_closes_at_the_end_of_its_with_block(hostile_loop: HostileLoop) -> None:
    with hostile_loop.banner(b"hi") as server, client(server) as sock:
        assert read_exactly(sock, 2) == b"hi"
    assert server.closed
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((server.host, server.port), timeout=2)


def test_responder_waits_for_the_client_then_replies_once(
    responder: Callable[[bytes], HostileServer],
) -> None:
    server = responder(b"+PONG\r\n")
    with client(server) as sock:
        assert silent(sock, 0.3)
        sock.sendall(b"PING\r\n")
        assert read_exactly(sock, 7) == b"+PONG\r\n"
        sock.sendall(b"PING\r\n")
        assert silent(sock, 0.3)
    wait_until(lambda: server.received[-1] == b"PING\r\nPING\r\n", 2, "both PINGs")


# -- HTTP ------------------------------------------------------------------------------------


def test_http_responder_answers_200(http_responder: HostileServer) -> None:
    with client(http_responder) as sock:
        sock.sendall(b"GET /health?x=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_exactly(sock, len(HTTP_OK + HTTP_BODY)) == HTTP_OK + HTTP_BODY
        # keep-alive, pipelined, a body sent in pieces, HEAD without a body
        sock.sendall(b"POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhel")
        time.sleep(0.05)
        sock.sendall(b"lo\nDELETE /b HTTP/1.1\n\nHEAD / HTTP/1.1\r\n\r\n")
        expected = (HTTP_OK + HTTP_BODY) * 2 + HTTP_OK
        assert read_exactly(sock, len(expected)) == expected
        assert silent(sock, 0.2)


def test_http_responder_honours_connection_close(http_responder: HostileServer) -> None:
    with client(http_responder) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
        assert read_for(sock, 1.0) == HTTP_OK + HTTP_BODY
        assert closed_by_peer(sock)


def test_http_responder_with_a_real_client(http_responder: HostileServer) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(http_responder.url("http", "/anything"), timeout=2) as response:
        assert response.status == 200
        assert response.read() == HTTP_BODY
        assert response.headers["Server"] == "envdoctor-hostile"


@pytest.mark.parametrize(
    "first", [b"PING\r\n", b"*1\r\n$4\r\nPING\r\n", b"\x16\x03\x01\x00\xa5\x01\n", b"GET /\r\n"]
)
def test_http_responder_rejects_what_is_not_http(
    http_responder: HostileServer, first: bytes
) -> None:
    with client(http_responder) as sock:
        sock.sendall(first)
        assert read_for(sock, 1.0) == HTTP_BAD
        assert closed_by_peer(sock)


def test_http_responder_waits_for_a_whole_line(http_responder: HostileServer) -> None:
    with client(http_responder) as sock:
        sock.sendall(b"\x00\x00\x00\x08\x04\xd2\x16\x2f")  # a Postgres SSLRequest: no newline
        assert silent(sock, 0.3)


# -- Redis-like ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "reply"),
    [
        (b"PING\r\n", REDIS_PONG),
        (b"ping\n", REDIS_PONG),
        (b"PING hello\r\n", REDIS_PONG),
        (b"GET key\r\n", REDIS_UNKNOWN),
        (b"AUTH secret\r\n", REDIS_UNKNOWN),
        (b"*1\r\n$4\r\nPING\r\n", REDIS_PONG),
        (b"*2\r\n$3\r\nGET\r\n$1\r\nx\r\n", REDIS_UNKNOWN),
        (b"PING\r\nFOO\r\n*1\r\n$4\r\nping\r\n", REDIS_PONG + REDIS_UNKNOWN + REDIS_PONG),
        (b"\r\nPING\r\n", REDIS_PONG),  # an empty line is no command
    ],
)
def test_redis_like_answers(redis_like: HostileServer, sent: bytes, reply: bytes) -> None:
    with client(redis_like) as sock:
        sock.sendall(sent)
        assert read_exactly(sock, len(reply)) == reply
        assert silent(sock, 0.1)


def test_redis_like_reassembles_split_commands(redis_like: HostileServer) -> None:
    with client(redis_like) as sock:
        for piece in (b"*1\r\n$4", b"\r\nPI", b"NG\r\nPI", b"NG", b"\r\n"):
            sock.sendall(piece)
            time.sleep(0.02)
        assert read_exactly(sock, 14) == REDIS_PONG * 2


def test_redis_like_is_silent_to_a_postgres_startup(redis_like: HostileServer) -> None:
    startup = b"\x00\x00\x00\x25\x00\x03\x00\x00user\x00postgres\x00database\x00db\x00\x00"
    with client(redis_like) as sock:
        sock.sendall(startup)
        assert silent(sock, 0.3)


def test_redis_like_malformed_resp_is_a_protocol_error(redis_like: HostileServer) -> None:
    with client(redis_like) as sock:
        sock.sendall(b"*x\r\n")
        assert read_for(sock, 1.0) == REDIS_PROTOCOL_ERROR
        assert closed_by_peer(sock)


# -- many connections, and teardown ----------------------------------------------------------


def test_thousands_of_connections(fresh: Callable[[str], HostileServer]) -> None:
    redis = fresh("redis_like")
    hole = fresh("black_hole")
    count = 1500
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            socks.append(socket.create_connection((redis.host, redis.port), timeout=5))
            socks.append(socket.create_connection((hole.host, hole.port), timeout=5))
        for sock in socks[::2]:
            sock.sendall(b"PING\r\n")
        for sock in socks[::2]:
            assert read_exactly(sock, 7, timeout=5) == REDIS_PONG
        wait_until(lambda: hole.open_connections == count, 5, "every black-hole connection")
        assert redis.accepted == count and hole.accepted == count
    finally:
        for sock in socks:
            sock.close()
    wait_until(lambda: redis.open_connections == 0, 5, "the Redis-like connections to close")
    wait_until(lambda: hole.open_connections == 0, 5, "the black hole to sweep them all")


@pytest.mark.parametrize("kind", ["black_hole", "drip", "banner", "http", "redis_like"])
def test_close_aborts_connections_and_stops_listening(hostile_loop: HostileLoop, kind: str) -> None:
    server = hostile_loop.banner(b"hi") if kind == "banner" else getattr(hostile_loop, kind)()
    sock = socket.create_connection((server.host, server.port), timeout=2)
    try:
        wait_until(lambda: server.open_connections == 1, 2, "the connection")
        server.close()
        server.close()  # idempotent
        assert server.open_connections == 0
        read_for(sock, 0.3)  # whatever it had sent before the close
        assert closed_by_peer(sock)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((server.host, server.port), timeout=2)
    finally:
        sock.close()


def test_every_server_runs_on_the_one_daemon_loop(
    hostile_loop: HostileLoop, black_hole: HostileServer, http_responder: HostileServer
) -> None:
    assert black_hole.hostile is hostile_loop and http_responder.hostile is hostile_loop
    assert hostile_loop._thread.daemon and hostile_loop._thread.is_alive()
    assert hostile_loop.loop.is_running()
