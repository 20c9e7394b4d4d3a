"""Real memcached processes: no auth, an auth file (`-Y`, memcached 1.6's ASCII login), and one
whose connection limit is tiny (to meet `ERROR Too many open connections`).

All session-scoped: none of them is changed by a test (the tiny one only while a test holds
its connections). UDP is off (`-U 0`); as root, memcached insists on `-u`, and then reads its
auth file as that user, so it runs as the current user (root on a throwaway machine).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.servers.process import Server, free_port, held_until_turned_away, require_program

MEMCACHED_USER = "alice"
MEMCACHED_PASSWORD = "canary-memcached-4d2e"


@dataclass
class MemcachedServer:
    server: Server
    port: int
    host: str = "127.0.0.1"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def url(self, user: str = "", password: str | None = None) -> str:
        auth = f"{user}:{password}@" if password is not None else (f"{user}@" if user else "")
        return f"memcached://{auth}{self.address}"

    def call(self, data: bytes, timeout: float = 5.0) -> bytes:
        """Sends `data` on a fresh connection: the first reply line."""
        with socket.create_connection((self.host, self.port), timeout=timeout) as sock:
            sock.sendall(data)
            return sock.makefile("rb").readline().rstrip(b"\r\n")


def start_memcached(base: Path, *extra: str) -> MemcachedServer:
    program = require_program("memcached", "memcached")
    base.mkdir(parents=True, exist_ok=True)
    port = free_port()
    argv = [program, "-p", str(port), "-l", "127.0.0.1", "-U", "0", *extra]
    if os.geteuid() == 0:
        argv += ["-u", pwd.getpwuid(os.geteuid()).pw_name]
    server = Server(argv, port, base / "memcached.log").listening("memcached")
    return MemcachedServer(server, port)


@contextlib.contextmanager
def running(base: Path, *extra: str) -> Iterator[MemcachedServer]:
    found = start_memcached(base, *extra)
    try:
        yield found
    finally:
        # SIGKILL: a cache with nothing on disk loses nothing, and memcached takes 0.8 s to
        # leave on SIGTERM (it waits for its maintenance threads).
        found.server.stop(signal.SIGKILL)


@pytest.fixture(scope="session")
def memcached_plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MemcachedServer]:
    with running(tmp_path_factory.mktemp("memcached-plain")) as found:
        yield found


@pytest.fixture(scope="session")
def memcached_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MemcachedServer]:
    base = tmp_path_factory.mktemp("memcached-auth")
    authfile = base / "auth"
    authfile.write_text(f"{MEMCACHED_USER}:{MEMCACHED_PASSWORD}\n", encoding="utf-8")
    authfile.chmod(0o600)
    with running(base, "-Y", str(authfile)) as found:
        yield found


@pytest.fixture(scope="session")
def memcached_tiny(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MemcachedServer]:
    """One worker thread and 16 descriptors: a handful of clients fill it."""
    with running(tmp_path_factory.mktemp("memcached-tiny"), "-t", "1", "-c", "16") as found:
        yield found


def filled(found: MemcachedServer) -> contextlib.AbstractContextManager[int]:
    """Opens connections until memcached turns the next one away; yields how many it holds."""
    return held_until_turned_away(
        found.port, _turned_away, 64, "memcached accepted 64 connections with -c 16", timeout=2
    )


def _turned_away(sock: socket.socket) -> bool:
    sock.sendall(b"version\r\n")
    line = sock.makefile("rb").readline()
    if line.startswith(b"VERSION"):
        return False
    assert line.startswith(b"ERROR Too many open connections"), line
    return True
