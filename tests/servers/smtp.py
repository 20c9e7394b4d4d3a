"""SMTP servers for the smtp probe and kind tests.

`smtp_server`: a real aiosmtpd (in a thread of the test process: the CLI under test runs as a
subprocess and connects to it like to any mail server), plain SMTP on a free high port.
`smtps_server`: the same with implicit TLS (what port 465 speaks), its certificate self-signed
by the `openssl` CLI for `mail.envdoctor.test` and 127.0.0.1.
`smtp_banner(greeting)`: a scripted server that sends exactly `greeting` (a 421 or 554
refusal, a multi-line banner, an FTP banner, a greeting that stops half-way like postfix's
postscreen) and records what each client sent back, so tests can see the QUIT.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from tests.servers.process import free_port, self_signed_cert

SMTP_HOSTNAME = "mail.envdoctor.test"
SMTP_IDENT = "envdoctor-test-smtpd"


@dataclass
class SmtpServer:
    port: int
    cert: Path | None = None


def _aiosmtpd(port: int, context: ssl.SSLContext | None) -> object:
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Sink

    controller = Controller(
        Sink(),
        hostname="127.0.0.1",
        port=port,
        server_hostname=SMTP_HOSTNAME,
        ident=SMTP_IDENT,
        ssl_context=context,
        ready_timeout=10,
    )
    controller.start()
    return controller


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SmtpServer]:
    port = free_port()
    controller = _aiosmtpd(port, None)
    try:
        yield SmtpServer(port)
    finally:
        controller.stop()  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def smtps_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpServer]:
    cert, key = self_signed_cert(tmp_path_factory.mktemp("smtps"), SMTP_HOSTNAME)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    port = free_port()
    controller = _aiosmtpd(port, context)
    try:
        yield SmtpServer(port, cert)
    finally:
        controller.stop()  # type: ignore[attr-defined]


@dataclass
class BannerServer:
    """A listener that sends `greeting` to every client, answers QUIT with 221, and keeps
    what each client sent (`received`, one bytes object per connection)."""

    greeting: bytes
    port: int = 0
    received: list[bytes] = field(default_factory=list)
    _sock: socket.socket | None = field(default=None, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)

    def start(self) -> BannerServer:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.1)
        self.port = int(self._sock.getsockname()[1])
        threading.Thread(target=self._serve, daemon=True).start()
        return self

    def _serve(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn: socket.socket) -> None:
        got = bytearray()
        with conn, contextlib.suppress(OSError):
            conn.sendall(self.greeting)
            conn.settimeout(10)
            while b"QUIT" not in got.upper():
                data = conn.recv(4096)
                if not data:
                    break
                got += data
            if b"QUIT" in got.upper():
                conn.sendall(b"221 2.0.0 Bye\r\n")
        self.received.append(bytes(got))

    def sessions(self, count: int = 1, timeout: float = 5.0) -> list[bytes]:
        """What the first `count` clients sent, once they have all gone."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.received) >= count, f"only {len(self.received)} client(s) finished"
        return list(self.received)

    def stop(self) -> None:
        self._stop.set()
        if self._sock is not None:
            self._sock.close()


@pytest.fixture
def smtp_banner() -> Iterator[Callable[[bytes], BannerServer]]:
    """`smtp_banner(greeting)` starts a scripted server; all are stopped after the test."""
    started: list[BannerServer] = []

    def start(greeting: bytes) -> BannerServer:
        server = BannerServer(greeting).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
