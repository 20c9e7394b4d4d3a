"""Real MariaDB servers for the mysql probe and kind tests.

`mariadb`: one server for the session, grant tables on, `skip-name-resolve` (so accounts are
matched by IP: 'app'@'127.0.0.1'), with the accounts the tests log in as: a password user whose
grants cover `app\\_%` databases (so `app_missing` is 1049, not 1044), a user with no password, a
user with no grants (1044), and an ed25519 user (an auth switch the probe does not speak).
`exhausted()` fills every connection slot for 1040.

`mariadb_no_tcp_users`: a second server whose only accounts are 'localhost' ones: with
`skip-name-resolve` a client from 127.0.0.1 matches no account, and the server sends error 1130
instead of its greeting. Started only by the tests that ask for it.

Each server runs on its own copy of one datadir installed per session by `mariadb-install-db`
(the slow part, 1-5 s on a busy machine), under the session's temp dir; it listens on 127.0.0.1
on a free high port and is stopped by pid in teardown. MariaDB refuses to run as root unless
told `--user=root`, so it is told when the tests run as root.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from tests.servers.process import Server, free_port, held_until_turned_away, require_program

APP_USER = "app"
APP_PASSWORD = "mysqlCanary7Q2@x/y:z"
"""The canary: it must never appear in any output. URL-special characters on purpose."""
APP_CANARY = "mysqlCanary7Q2"
LIMITED_USER = "limited"
LIMITED_PASSWORD = "limitedCanary5K8"
ED_USER = "edward"
ED_PASSWORD = "edCanary3M1"
NOPASS_USER = "nopass"
DATABASE = "app_main"

SETUP_SQL = f"""
CREATE DATABASE {DATABASE};
CREATE USER '{APP_USER}'@'127.0.0.1' IDENTIFIED BY '{APP_PASSWORD}';
GRANT ALL PRIVILEGES ON `app\\_%`.* TO '{APP_USER}'@'127.0.0.1';
CREATE USER '{NOPASS_USER}'@'127.0.0.1';
GRANT ALL PRIVILEGES ON `app\\_%`.* TO '{NOPASS_USER}'@'127.0.0.1';
CREATE USER '{LIMITED_USER}'@'127.0.0.1' IDENTIFIED BY '{LIMITED_PASSWORD}';
INSTALL SONAME 'auth_ed25519';
CREATE USER '{ED_USER}'@'127.0.0.1' IDENTIFIED VIA ed25519 USING PASSWORD('{ED_PASSWORD}');
GRANT ALL PRIVILEGES ON `app\\_%`.* TO '{ED_USER}'@'127.0.0.1';
"""

AS_ROOT = ["--user=root"] if os.geteuid() == 0 else []
"""mariadbd will not run as root unless told to."""
SMALL = ["--innodb-log-file-size=8M", "--innodb-buffer-pool-size=16M"]
"""A test server holds a few rows: 25 MB of datadir, not 113."""

NO_TCP_USERS_SQL = """
DELETE FROM mysql.global_priv WHERE Host <> 'localhost';
FLUSH PRIVILEGES;
"""


@dataclass
class Mariadb:
    """One running mariadbd; `sql` runs statements as root over its Unix socket."""

    port: int
    datadir: Path
    socket_path: Path
    log: Path
    server: Server
    client: str

    def url(
        self,
        user: str = "",
        password: str | None = None,
        database: str = "",
        scheme: str = "mysql",
    ) -> str:
        auth = ""
        if user:
            auth = quote(user, safe="")
            if password is not None:
                auth += ":" + quote(password, safe="")
            auth += "@"
        path = f"/{database}" if database else ""
        return f"{scheme}://{auth}127.0.0.1:{self.port}{path}"

    def sql(self, statements: str, timeout: float = 10.0) -> str:
        """Runs as root over the socket; retried while the server answers 1040 (full)."""
        argv = [
            self.client,
            "--no-defaults",
            f"--socket={self.socket_path}",
            "--user=root",
            "--batch",
            "--skip-column-names",
            "-e",
            statements,
        ]
        deadline = time.monotonic() + timeout
        while True:
            proc = subprocess.run(
                argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
            )
            if proc.returncode == 0:
                return proc.stdout
            if "Too many connections" not in proc.stderr or time.monotonic() > deadline:
                pytest.fail(f"mariadb client failed: {proc.stderr}")
            time.sleep(0.05)

    @contextmanager
    def exhausted(self) -> Iterator[int]:
        """Every connection slot in use: the next client gets error 1040 before any greeting.

        MariaDB's smallest max_connections is 10, and it lets one more in (kept for a SUPER
        user), so raw connections that only read the greeting are opened until one is turned
        away. They count until connect_timeout (60 s here) drops them: plenty for a few runs.
        Yields the number of connections held.
        """
        self.sql("SET GLOBAL max_connections = 10")
        try:
            with held_until_turned_away(
                self.port, _error_first, 40, "the server never answered 1040"
            ) as held:
                yield held
        finally:
            self.sql("SET GLOBAL max_connections = 151")


def _error_first(sock: socket.socket) -> bool:
    """The first packet is an error packet (0xff), not a greeting."""
    return sock.recv(5)[4:5] == b"\xff"


def _install(datadir: Path) -> None:
    """`mariadb-install-db` into `datadir`: the system tables, root@localhost with no password."""
    install = require_program("mariadb-install-db", "mariadb-server")
    init = subprocess.run(
        [
            install,
            "--no-defaults",
            f"--datadir={datadir}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            *AS_ROOT,
            *SMALL,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    if init.returncode != 0:
        pytest.fail(f"mariadb-install-db failed:\n{init.stdout}\n{init.stderr}")


def _start(base: Path, template: Path, setup: str) -> Mariadb:
    """A server on a copy of the installed `template` datadir, then `setup` run as root."""
    mariadbd = require_program("mariadbd", "mariadb-server")
    client = require_program("mariadb", "mariadb-client")
    datadir = base / "data"
    shutil.copytree(template, datadir)
    log = base / "mariadbd.log"
    port = free_port()
    sock = base / "s.sock"
    server = Server(
        [
            mariadbd,
            "--no-defaults",
            f"--datadir={datadir}",
            f"--socket={sock}",
            f"--port={port}",
            "--bind-address=127.0.0.1",
            "--skip-name-resolve",
            "--connect-timeout=60",  # connections held open by exhausted() stay counted
            f"--pid-file={base / 'mariadbd.pid'}",
            *AS_ROOT,
            *SMALL,
        ],
        port,
        log,
    ).listening("mariadbd", 60)
    db = Mariadb(port, datadir, sock, log, server, client)
    try:
        db.sql(setup)
    except BaseException:
        server.stop()
        raise
    return db


@pytest.fixture(scope="session")
def _mariadb_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One installed datadir per session (the slow part); each server runs on a copy."""
    datadir = tmp_path_factory.mktemp("mariadb-template") / "data"
    _install(datadir)
    return datadir


@pytest.fixture(scope="session")
def mariadb(tmp_path_factory: pytest.TempPathFactory, _mariadb_template: Path) -> Iterator[Mariadb]:
    db = _start(tmp_path_factory.mktemp("mariadb"), _mariadb_template, SETUP_SQL)
    try:
        yield db
    finally:
        db.server.stop()


@pytest.fixture(scope="session")
def mariadb_no_tcp_users(
    tmp_path_factory: pytest.TempPathFactory, _mariadb_template: Path
) -> Iterator[Mariadb]:
    db = _start(tmp_path_factory.mktemp("mariadb-strict"), _mariadb_template, NO_TCP_USERS_SQL)
    try:
        yield db
    finally:
        db.server.stop()
