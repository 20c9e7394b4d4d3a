"""Starting and stopping real servers for the tests: free high ports, private temp dirs, and a
stop by pid in teardown whatever happened.

Each server module in this package (postgres, redis, ...) builds on `Server`: it knows its
program's command line and readiness test; this module knows processes. A missing program is
`pytest.fail` when ENVDOCTOR_REQUIRE_SERVICES=1 (CI: the test command installs everything), and
a skip with the install command otherwise (a developer without the package).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest


def free_port(host: str = "127.0.0.1") -> int:
    """A high port nothing listens on right now (bound, then released)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def require_program(name: str, package: str) -> str:
    """The program's path; fail (CI) or skip (a developer's machine) when it is missing."""
    path = shutil.which(name) or next(
        (
            str(p / name)
            for p in (Path("/usr/sbin"), Path("/usr/lib/postgresql/15/bin"))
            if (p / name).exists()
        ),
        None,
    )
    if path:
        return path
    message = f"{name} is not installed: apt-get install -y {package} (scripts/test does)"
    if os.environ.get("ENVDOCTOR_REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)
    raise AssertionError("unreachable")


def self_signed_cert(directory: Path, name: str = "localhost") -> tuple[Path, Path]:
    """A self-signed certificate for DNS name `name` and 127.0.0.1, made by the `openssl` CLI:
    (cert, key), as cert.pem and key.pem in `directory`."""
    openssl = require_program("openssl", "openssl")
    cert, key = directory / "cert.pem", directory / "key.pem"
    made = subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2",
            "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name},IP:127.0.0.1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    if made.returncode != 0:
        pytest.fail(f"openssl could not make a certificate: {made.stderr}")
    return cert, key


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
        return True
    return False


def wait_until(
    test: Callable[[], bool], timeout: float, what: str, log: Path | None = None
) -> None:
    """Polls `test` every 20 ms; fails with the server's log tail when time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if test():
            return
        time.sleep(0.02)
    tail = "\n" + log_tail(log) if log is not None and log.exists() else ""
    pytest.fail(f"{what} did not become ready within {timeout} s{tail}")


def log_tail(log: Path) -> str:
    """The last 3000 characters of a server's log: enough to see why it stopped."""
    return log.read_text(errors="replace")[-3000:]


@contextlib.contextmanager
def held_until_turned_away(
    port: int,
    turned_away: Callable[[socket.socket], bool],
    most: int,
    never: str,
    timeout: float = 5.0,
) -> Iterator[int]:
    """Opens connections to 127.0.0.1:`port` until `turned_away(sock)` says the server refused
    one (that one is closed at once); yields how many it holds, and closes them at the end. A
    server that takes `most` connections without refusing one fails the test with `never`."""
    held: list[socket.socket] = []
    try:
        for _ in range(most):
            sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
            try:
                refused = turned_away(sock)
            except BaseException:
                sock.close()
                raise
            if refused:
                sock.close()
                break
            held.append(sock)
        else:
            pytest.fail(never)
        yield len(held)
    finally:
        for sock in held:
            sock.close()


@dataclass
class Server:
    """One server process started by a test, stopped (and reaped) by `stop`."""

    argv: Sequence[str]
    port: int
    log: Path
    env: dict[str, str] | None = None
    user: str | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> Server:
        out = self.log.open("ab")
        argv = list(self.argv)
        if self.user:
            argv = ["runuser", "-u", self.user, "--", *argv]
        self.proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
        )
        out.close()
        return self

    def listening(self, what: str, timeout: float = 10.0) -> Server:
        """Starts the process and waits until its port takes connections; fails the test with
        the tail of its log when it exits first."""
        self.start()
        wait_until(lambda: port_open(self.port) or not self.alive(), timeout, what, self.log)
        if not self.alive():
            pytest.fail(f"{what} exited:\n{log_tail(self.log)}")
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        """SIGTERM the process group, then SIGKILL what is left; always reaps."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
