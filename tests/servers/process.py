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
from collections.abc import Callable, Sequence
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
        (str(p / name) for p in (Path("/usr/sbin"), Path("/usr/lib/postgresql/15/bin"))
         if (p / name).exists()),
        None,
    )
    if path:
        return path
    message = f"{name} is not installed: apt-get install -y {package} (scripts/test does)"
    if os.environ.get("ENVDOCTOR_REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)
    raise AssertionError("unreachable")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
        return True
    return False


def wait_until(test: Callable[[], bool], timeout: float, what: str, log: Path | None = None) -> None:
    """Polls `test` every 20 ms; fails with the server's log tail when time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if test():
            return
        time.sleep(0.02)
    tail = ""
    if log is not None and log.exists():
        tail = "\n" + log.read_text(errors="replace")[-3000:]
    pytest.fail(f"{what} did not become ready within {timeout} s{tail}")


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
