"""Real local servers for the `http` kind's tests, each on a free port of 127.0.0.1, served
from daemon threads of the test process and closed by its context manager.

- `web()`: an HTTP/1.1 server (`http.server`) with one route per answer the kind tells apart
  (200, redirects, 401/403, 503, 404, a method echo, a header gate, basic auth, a big body);
  `web(tls=cert)` serves the same routes over TLS with a self-signed certificate.
- `drip()`: answers one byte every 0.5 s (from the first byte, or after complete headers).
- `black_hole()`: listens and never accepts: connects succeed, nothing ever answers.
- `line_server()`: a Redis-like server answering every line `-ERR unknown command`.
- `hang_up()`: reads the request and closes without answering.
- `whole_head()`: says nothing until a whole request head has arrived (up to the blank line),
  as servers built on h11 (uvicorn) do, then answers `400`: a TLS ClientHello gets silence.
- `proxy()`: an HTTP proxy that answers every request itself, recording the request lines.

No fixtures here (the test modules define theirs from these, so nothing is added to conftest).
"""

from __future__ import annotations

import base64
import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.servers.threaded import RawServer, serve

BIG_BODY = 3 * 1024 * 1024
"""/big sends this many bytes of filler, then `needle-at-the-end`: past the kind's 1 MiB cap."""


@dataclass
class Seen:
    """One request a server received: method, path, header names and the canary's value."""

    method: str
    path: str
    header_names: list[str]
    canary: str | None


@dataclass
class Web:
    port: int
    scheme: str = "http"
    seen: list[Seen] = field(default_factory=list)
    canary: str = "canary-header-value-0f1e2d"
    user: str = "alice"
    password: str = "canary-password-9z8y7x"

    def url(self, path: str = "/ok", host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"


class _Routes(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    web: Web  # set on a subclass per server

    def log_message(self, format: str, *args: Any) -> None:  # quiet: pytest shows stderr
        pass

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(5)
            self.request.do_handshake()  # here, in the request's thread, not in accept()
        super().setup()

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _route(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.web.seen.append(
            Seen(self.command, self.path, list(self.headers.keys()), self.headers.get("X-Canary"))
        )
        path = self.path.split("?", 1)[0]
        if path == "/ok":
            self._send(200, b"hello from the fake server: status green\n")
        elif path == "/redirect":
            self._send(302, b"", {"Location": "/ok"})
        elif path == "/login":
            self._send(401, b"who are you?", {"WWW-Authenticate": 'Basic realm="fake"'})
        elif path == "/forbidden":
            self._send(403, b"not you")
        elif path == "/unavailable":
            self._send(503, b"warming up", {"Retry-After": "7"})
        elif path == "/method":
            self._send(200, f"you sent {self.command}".encode())
        elif path == "/post-only":
            if self.command == "POST":
                self._send(201, b"created")
            else:
                self._send(405, b"", {"Allow": "POST"})
        elif path == "/gate":  # the canary header must arrive intact
            ok = self.headers.get("X-Canary") == self.web.canary
            self._send(200 if ok else 400, b"gate open" if ok else b"gate shut")
        elif path == "/echo":  # a server that echoes a secret header back in its body
            self._send(200, f"you said {self.headers.get('X-Canary')} and more".encode())
        elif path == "/basic":
            expected = base64.b64encode(f"{self.web.user}:{self.web.password}".encode()).decode()
            if self.headers.get("Authorization") == f"Basic {expected}":
                self._send(200, b"welcome")
            else:
                self._send(401, b"no", {"WWW-Authenticate": 'Basic realm="fake"'})
        elif path == "/big":
            self._send(200, b"a" * BIG_BODY + b"needle-at-the-end")
        else:
            self._send(404, b"no such page")

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _route


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    tls: ssl.SSLContext | None = None

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = self.socket.accept()
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that aborts a TLS handshake (verify = true) is expected here


@contextlib.contextmanager
def web(tls: tuple[Path, Path] | None = None, port: int = 0) -> Iterator[Web]:
    """The routes on `port` (0: a free one), served until the block ends."""
    handler = type("Routes", (_Routes,), {})
    server = _Server(("127.0.0.1", port), handler)
    state = Web(server.server_address[1], "https" if tls else "http")
    handler.web = state
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(tls[0]), str(tls[1]))
        server.tls = context
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# -- raw socket servers --------------------------------------------------------------------


def _read_head(conn: socket.socket, stop: threading.Event) -> bytes | None:
    """Reads a request's head (up to the blank line); None when the client went away or the
    server is closing."""
    conn.settimeout(0.1)
    data = b""
    while b"\r\n\r\n" not in data and not stop.is_set():
        try:
            chunk = conn.recv(4096)
        except TimeoutError:
            continue
        if not chunk:
            return None
        data += chunk
    return None if stop.is_set() else data


DRIP_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 64\r\n\r\n"


@contextlib.contextmanager
def drip(interval: float = 0.5, *, head_at_once: bool = False) -> Iterator[RawServer]:
    """After the request, one byte every `interval` seconds, forever (until the client goes).
    `head_at_once`: the status line and headers arrive at once, then the body drips."""

    def handle(conn: socket.socket, stop: threading.Event) -> None:
        if _read_head(conn, stop) is None:
            return
        if head_at_once:
            conn.sendall(DRIP_HEAD)
            pending = b"x" * 64
        else:
            pending = DRIP_HEAD + b"x" * 64
        for byte in pending:
            if stop.wait(interval):
                return
            conn.sendall(bytes([byte]))

    with serve(handle) as state:
        yield state


@contextlib.contextmanager
def line_server(reply: bytes = b"-ERR unknown command\r\n") -> Iterator[RawServer]:
    """Like Redis to an HTTP client: every line read gets `reply`."""

    def handle(conn: socket.socket, stop: threading.Event) -> None:
        conn.settimeout(0.1)
        buffer = b""
        while not stop.is_set():
            try:
                chunk = conn.recv(4096)
            except TimeoutError:
                continue
            if not chunk:
                return
            buffer += chunk
            while b"\n" in buffer:
                _line, buffer = buffer.split(b"\n", 1)
                conn.sendall(reply)

    with serve(handle) as state:
        yield state


@contextlib.contextmanager
def hang_up() -> Iterator[RawServer]:
    """Reads the request, then closes the connection without a word."""

    def handle(conn: socket.socket, stop: threading.Event) -> None:
        _read_head(conn, stop)

    with serve(handle) as state:
        yield state


WHOLE_HEAD_ANSWER = (
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n"
    b"Connection: close\r\n\r\nbad request\n"
)


@contextlib.contextmanager
def whole_head() -> Iterator[RawServer]:
    """Silent until a request head is complete, then `400` (whatever the request was)."""

    def handle(conn: socket.socket, stop: threading.Event) -> None:
        if _read_head(conn, stop) is not None:
            conn.sendall(WHOLE_HEAD_ANSWER)

    with serve(handle) as state:
        yield state


@contextlib.contextmanager
def black_hole() -> Iterator[RawServer]:
    """Listens and never accepts: the kernel completes the handshake, nobody ever answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(256)
    try:
        yield RawServer(listener.getsockname()[1])
    finally:
        listener.close()


@dataclass
class Proxy(RawServer):
    request_lines: list[str] = field(default_factory=list)


@contextlib.contextmanager
def proxy() -> Iterator[Proxy]:
    """An HTTP proxy that answers every request itself: `200 via proxy`."""
    lines: list[str] = []

    def handle(conn: socket.socket, stop: threading.Event) -> None:
        head = _read_head(conn, stop)
        if head is None:
            return
        lines.append(head.split(b"\r\n", 1)[0].decode("latin-1"))
        body = b"via proxy"
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        time.sleep(0.05)

    with serve(handle) as state:
        yield Proxy(state.port, request_lines=lines)
