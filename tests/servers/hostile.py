"""Misbehaving peers for the service probes: what a probe meets when the port is not what it
expects.

A black hole (accepts, never reads, never writes), a listener whose backlog is full (connect
hangs), a server that drips one byte every 0.5 s, one that closes at once, one that sends a
banner and waits, one that sends its words and hangs up, one that waits for the client and then
replies, a minimal HTTP/1.1 server and a Redis-like line server (for "HTTP on the Redis port",
"Redis on the Postgres port", ...).

They all run on one asyncio loop in a daemon thread (`HostileLoop`), each on a free high port of
127.0.0.1 (bound to port 0: no race with another test for the port), built from light
`asyncio.Protocol`s so thousands of connections cost little. Every server keeps its
connections, and `close()` (or the end of a `with server:` block) aborts them all and stops
listening; the loop stops at the end of the session. A black hole never reads, so it cannot see
a client hang up the usual way: a sweep polls its sockets for the peer's FIN/RST (POLLRDHUP) and
drops them, so a session-long black hole does not collect file descriptors.

Fixtures (function-scoped ones are closed when the test ends):
- `hostile_loop` (session): the loop; its methods start servers of every kind, for a test that
  wants its own (fresh counters) instance.
- `black_hole` (session), `black_holes(n)` (function): n black holes on n ports.
- `full_backlog_port` (function): `tests.conftest.full_backlog` as a fixture.
- `drip_server` (session): one byte every 0.5 s, from the moment it accepts, forever (an HTTP
  response head with a huge Content-Length, then dots: an HTTP client gets a 200 it can never
  finish; any other client gets bytes too slow to make sense of).
- `closer` (session): accepts, closes at once (FIN).
- `banner_server(banner)` (function): sends `banner` on accept, then waits (reads, never writes).
- `replay_server(data)` (function): sends `data` on accept, then hangs up (recorded words of a
  server that refuses the client, or any bytes a fuzz test makes up).
- `responder(reply)` (function): silent until the client's first bytes, then sends `reply` once.
- `http_responder` (session): HTTP/1.1, 200 `ok` to every well-formed request (keep-alive,
  pipelining, bodies by Content-Length); a first line that is no request line gets `400` and a
  close, as real servers answer a Redis `PING`.
- `redis_like` (session): `+PONG` to PING, `-ERR unknown command` to any other command, inline
  or as a RESP array.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import re
import select
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest
from tests.conftest import full_backlog

T = TypeVar("T")

HOST = "127.0.0.1"
DRIP_INTERVAL = 0.5
DRIP_PAYLOAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000000000\r\n\r\n"
"""What the drip server sends first (then `.` forever)."""
HTTP_BODY = b"ok\n"
HTTP_OK = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: %d\r\nServer: envdoctor-hostile\r\n\r\n" % len(HTTP_BODY)
)
HTTP_BAD = (
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n"
    b"Connection: close\r\n\r\nbad request\n"
)
REDIS_PONG = b"+PONG\r\n"
REDIS_UNKNOWN = b"-ERR unknown command\r\n"
REDIS_PROTOCOL_ERROR = b"-ERR Protocol error\r\n"
MAX_BUFFER = 64 * 1024
"""A peer that buffers more than this without a complete request is cut off (as real servers)."""
SWEEP_INTERVAL = 0.25
KEEP_RECEIVED = 256
"""How many connections' received bytes a server remembers (the most recent ones)."""

_REQUEST_LINE = re.compile(rb"^[!#$%&'*+.^_`|~0-9A-Za-z-]+ \S+ HTTP/\d\.\d$")
_POLL_GONE = getattr(select, "POLLRDHUP", 0) | select.POLLHUP | select.POLLERR


class HostileServer:
    """One listening server on the hostile loop: its port, what it saw, and `close()`."""

    def __init__(self, loop: HostileLoop, kind: str, host: str) -> None:
        self.hostile = loop
        self.kind = kind
        self.host = host
        self.port = 0
        self.accepted = 0
        """Connections accepted so far."""
        self.received: collections.deque[bytearray] = collections.deque(maxlen=KEEP_RECEIVED)
        """Bytes received, one entry per connection (a black hole never reads: its stay empty)."""
        self.transports: set[asyncio.Transport] = set()
        self.closed = False
        self._server: asyncio.AbstractServer | None = None
        self._sweeper: asyncio.Task[None] | None = None

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def open_connections(self) -> int:
        return len(self.transports)

    def url(self, scheme: str, path: str = "") -> str:
        return f"{scheme}://{self.address}{path}"

    def close(self) -> None:
        """Stops listening and aborts every connection (from any thread; idempotent)."""
        if not self.closed:
            self.hostile.run(self._close())

    async def _close(self) -> None:
        self.closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._server is not None:
            self._server.close()
        for transport in list(self.transports):
            transport.abort()
        self.transports.clear()
        if self._server is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    def __enter__(self) -> HostileServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{self.kind} at {self.address}>"


class _Peer(asyncio.Protocol):
    """One accepted connection; subclasses say how to misbehave."""

    def __init__(self, server: HostileServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.seen = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.server.accepted += 1
        if self.server.closed:
            transport.abort()
            return
        self.server.transports.add(transport)
        self.server.received.append(self.seen)
        self.opened()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.server.transports.discard(self.transport)
        self.lost()

    def data_received(self, data: bytes) -> None:
        if len(self.seen) < MAX_BUFFER:
            self.seen += data[: MAX_BUFFER - len(self.seen)]
        self.got(data)

    def eof_received(self) -> bool:
        return False  # the client hung up: close our side too

    def send(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def opened(self) -> None: ...

    def got(self, data: bytes) -> None: ...

    def lost(self) -> None: ...


class _BlackHole(_Peer):
    def opened(self) -> None:
        assert self.transport is not None
        self.transport.pause_reading()  # never reads: the client's bytes fill the buffers


class _Drip(_Peer):
    def __init__(self, server: HostileServer, payload: bytes, interval: float) -> None:
        super().__init__(server)
        self.payload = payload
        self.interval = interval
        self.sent = 0
        self.timer: asyncio.TimerHandle | None = None

    def opened(self) -> None:
        self.tick()

    def tick(self) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        byte = self.payload[self.sent : self.sent + 1] or b"."
        self.sent += 1
        self.send(byte)
        self.timer = asyncio.get_running_loop().call_later(self.interval, self.tick)

    def lost(self) -> None:
        if self.timer is not None:
            self.timer.cancel()


class _Closer(_Peer):
    def opened(self) -> None:
        assert self.transport is not None
        self.transport.close()


class _Banner(_Peer):
    def __init__(self, server: HostileServer, banner: bytes, hang_up: bool = False) -> None:
        super().__init__(server)
        self.banner = banner
        self.hang_up = hang_up

    def opened(self) -> None:
        self.send(self.banner)
        if self.hang_up and self.transport is not None:
            self.transport.close()  # after what is buffered has been sent


class _Responder(_Peer):
    def __init__(self, server: HostileServer, reply: bytes) -> None:
        super().__init__(server)
        self.reply = reply
        self.replied = False

    def got(self, data: bytes) -> None:
        if not self.replied:
            self.replied = True
            self.send(self.reply)


class _Http(_Peer):
    def __init__(self, server: HostileServer) -> None:
        super().__init__(server)
        self.buffer = bytearray()
        self.checked_line = False

    def got(self, data: bytes) -> None:
        self.buffer += data
        while self.transport is not None and not self.transport.is_closing():
            if not self.answer_one():
                break
        if len(self.buffer) > MAX_BUFFER:
            self.bad()

    def answer_one(self) -> bool:
        """Answers the first complete request in the buffer; False when it needs more bytes."""
        if not self.checked_line:
            newline = self.buffer.find(b"\n")
            if newline < 0:
                return False
            line = bytes(self.buffer[:newline]).rstrip(b"\r")
            if not line and newline < len(self.buffer):  # blank lines before a request are ok
                del self.buffer[: newline + 1]
                return bool(self.buffer)
            if not _REQUEST_LINE.match(line):
                self.bad()
                return False
            self.checked_line = True
        head_end = _head_end(self.buffer)
        if head_end < 0:
            return False
        head = bytes(self.buffer[:head_end]).decode("latin-1")
        lines = head.replace("\r\n", "\n").split("\n")
        method, _, version = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        try:
            length = int(headers.get("content-length", "0") or 0)
        except ValueError:
            self.bad()
            return False
        if length < 0 or len(self.buffer) < head_end + length:
            return False
        del self.buffer[: head_end + length]
        self.checked_line = False
        close = headers.get("connection", "").lower() == "close" or version == "HTTP/1.0"
        self.send(HTTP_OK if method == "HEAD" else HTTP_OK + HTTP_BODY)
        if close and self.transport is not None:
            self.transport.close()
            return False
        return True

    def bad(self) -> None:
        self.send(HTTP_BAD)
        if self.transport is not None:
            self.transport.close()


def _head_end(buffer: bytearray) -> int:
    """Index just past the blank line that ends a request head, or -1."""
    ends = [i + len(sep) for sep in (b"\r\n\r\n", b"\n\n") if (i := buffer.find(sep)) >= 0]
    return min(ends) if ends else -1


class _RedisLike(_Peer):
    def __init__(self, server: HostileServer) -> None:
        super().__init__(server)
        self.buffer = bytearray()

    def got(self, data: bytes) -> None:
        self.buffer += data
        while self.buffer and self.transport is not None and not self.transport.is_closing():
            command = self.next_command()
            if command is None:
                break
            if command:
                self.send(REDIS_PONG if command[0].upper() == b"PING" else REDIS_UNKNOWN)
        if len(self.buffer) > MAX_BUFFER:
            self.protocol_error()

    def next_command(self) -> list[bytes] | None:
        """The next command's words ([] for a blank line), or None when more bytes are needed."""
        if self.buffer[:1] != b"*":
            newline = self.buffer.find(b"\n")
            if newline < 0:
                return None
            line = bytes(self.buffer[:newline])
            del self.buffer[: newline + 1]
            return line.split()
        # RESP: *<count>\r\n then <count> times $<length>\r\n<bytes>\r\n
        pos, count = _resp_number(self.buffer, 0, b"*")
        if pos < 0:
            return self.protocol_error() if pos == -2 else None
        words: list[bytes] = []
        for _ in range(count):
            pos, length = _resp_number(self.buffer, pos, b"$")
            if pos < 0:
                return self.protocol_error() if pos == -2 else None
            if len(self.buffer) < pos + length + 2:
                return None
            words.append(bytes(self.buffer[pos : pos + length]))
            pos += length + 2
        del self.buffer[:pos]
        return words

    def protocol_error(self) -> None:
        self.buffer.clear()
        self.send(REDIS_PROTOCOL_ERROR)
        if self.transport is not None:
            self.transport.close()
        return None


def _resp_number(buffer: bytearray, pos: int, marker: bytes) -> tuple[int, int]:
    """(position after `<marker><n>\\r\\n`, n); (-1, 0) incomplete, (-2, 0) malformed."""
    if len(buffer) <= pos:
        return -1, 0
    if buffer[pos : pos + 1] != marker:
        return -2, 0
    end = buffer.find(b"\r\n", pos)
    if end < 0:
        return (-2, 0) if len(buffer) - pos > 32 else (-1, 0)
    digits = bytes(buffer[pos + 1 : end])
    if not digits.isdigit() or len(digits) > 9:
        return -2, 0
    return end + 2, int(digits)


class HostileLoop:
    """One asyncio loop in a daemon thread, serving every hostile server of the session."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.servers: list[HostileServer] = []
        self._thread = threading.Thread(
            target=self._run_forever, name="hostile-servers", daemon=True
        )
        self._thread.start()

    def _run_forever(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 10) -> T:
        """Runs `coro` on the loop and waits for its result (from a test's thread)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(
        self, kind: str, make: Callable[[HostileServer], _Peer], host: str = HOST
    ) -> HostileServer:
        """A new server on a free port of `host`, each connection served by `make(server)`."""
        server = HostileServer(self, kind, host)

        async def listen() -> None:
            server._server = await self.loop.create_server(
                lambda: make(server), host, 0, backlog=4096
            )
            server.port = int(server._server.sockets[0].getsockname()[1])
            if kind == "black hole":
                server._sweeper = self.loop.create_task(_sweep(server))

        self.run(listen())
        self.servers.append(server)
        return server

    def black_hole(self, host: str = HOST) -> HostileServer:
        return self.start("black hole", _BlackHole, host)

    def drip(
        self, payload: bytes = DRIP_PAYLOAD, interval: float = DRIP_INTERVAL, host: str = HOST
    ) -> HostileServer:
        return self.start("drip server", lambda s: _Drip(s, payload, interval), host)

    def closer(self, host: str = HOST) -> HostileServer:
        return self.start("closer", _Closer, host)

    def banner(self, banner: bytes, host: str = HOST) -> HostileServer:
        return self.start("banner server", lambda s: _Banner(s, banner), host)

    def replay(self, data: bytes, host: str = HOST) -> HostileServer:
        return self.start("replay server", lambda s: _Banner(s, data, hang_up=True), host)

    def responder(self, reply: bytes, host: str = HOST) -> HostileServer:
        return self.start("responder", lambda s: _Responder(s, reply), host)

    def http(self, host: str = HOST) -> HostileServer:
        return self.start("HTTP responder", _Http, host)

    def redis_like(self, host: str = HOST) -> HostileServer:
        return self.start("Redis-like server", _RedisLike, host)

    def close(self) -> None:
        for server in self.servers:
            with contextlib.suppress(Exception):
                server.close()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self.loop.close()


async def _sweep(server: HostileServer) -> None:
    """Drops a black hole's connections whose client has gone (it never reads, so asyncio
    cannot notice)."""
    while not server.closed:
        await asyncio.sleep(SWEEP_INTERVAL)
        by_fd: dict[int, asyncio.Transport] = {}
        poller = select.poll()
        for transport in list(server.transports):
            sock = transport.get_extra_info("socket")
            fd = sock.fileno() if sock is not None else -1
            if fd >= 0:
                by_fd[fd] = transport
                poller.register(fd, _POLL_GONE)
        for fd, events in poller.poll(0):
            if events & _POLL_GONE and fd in by_fd:
                by_fd[fd].abort()


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def hostile_loop() -> Iterator[HostileLoop]:
    with contextlib.closing(HostileLoop()) as hostile:
        yield hostile


@contextlib.contextmanager
def _closing(servers: list[HostileServer]) -> Iterator[None]:
    try:
        yield
    finally:
        for server in servers:
            server.close()


@contextlib.contextmanager
def _factory(start: Callable[[bytes], HostileServer]) -> Iterator[Callable[[bytes], HostileServer]]:
    """`make(data)`: a server from `start(data)`; every one made is closed at the end."""
    made: list[HostileServer] = []

    def make(data: bytes) -> HostileServer:
        made.append(start(data))
        return made[-1]

    with _closing(made):
        yield make


@pytest.fixture(scope="session")
def black_hole(hostile_loop: HostileLoop) -> Iterator[HostileServer]:
    with hostile_loop.black_hole() as server:
        yield server


@pytest.fixture
def black_holes(hostile_loop: HostileLoop) -> Iterator[Callable[[int], list[HostileServer]]]:
    """`black_holes(n)`: n fresh black holes, each on its own port."""
    made: list[HostileServer] = []

    def make(n: int) -> list[HostileServer]:
        servers = [hostile_loop.black_hole() for _ in range(n)]
        made.extend(servers)
        return servers

    with _closing(made):
        yield make


@pytest.fixture
def full_backlog_port() -> Iterator[int]:
    """A port on 127.0.0.1 whose listen queue is full: a connect there hangs."""
    with full_backlog() as port:
        yield port


@pytest.fixture(scope="session")
def drip_server(hostile_loop: HostileLoop) -> Iterator[HostileServer]:
    with hostile_loop.drip() as server:
        yield server


@pytest.fixture(scope="session")
def closer(hostile_loop: HostileLoop) -> Iterator[HostileServer]:
    with hostile_loop.closer() as server:
        yield server


@pytest.fixture
def banner_server(hostile_loop: HostileLoop) -> Iterator[Callable[[bytes], HostileServer]]:
    """`banner_server(b"220 ...")`: sends the bytes on accept, then waits."""
    with _factory(hostile_loop.banner) as make:
        yield make


@pytest.fixture
def replay_server(hostile_loop: HostileLoop) -> Iterator[Callable[[bytes], HostileServer]]:
    """`replay_server(b"...")`: sends the bytes on accept, then hangs up."""
    with _factory(hostile_loop.replay) as make:
        yield make


@pytest.fixture
def responder(hostile_loop: HostileLoop) -> Iterator[Callable[[bytes], HostileServer]]:
    """`responder(b"...")`: silent until the client speaks, then sends the bytes once."""
    with _factory(hostile_loop.responder) as make:
        yield make


@pytest.fixture(scope="session")
def http_responder(hostile_loop: HostileLoop) -> Iterator[HostileServer]:
    with hostile_loop.http() as server:
        yield server


@pytest.fixture(scope="session")
def redis_like(hostile_loop: HostileLoop) -> Iterator[HostileServer]:
    with hostile_loop.redis_like() as server:
        yield server
