"""Real PostgreSQL 15 clusters for the tests, in the states the `postgres` probe must tell apart.

One `initdb` per session (`pg_template`, ~0.7 s); every cluster is a copy of it (`cp -a`,
~0.1 s on /dev/shm) started on a free port in ~0.1 s, so the destructive states get their own
cluster cheaply:

- `pg_server` (session): ssl = on (a self-signed certificate for `localhost` only), pg_hba with
  a trust user, a SCRAM user, an md5 user, a cleartext-password user, a TLS-only user, a
  database `appdb` and a database pg_hba rejects.
- `pg_nossl` (session, started only when a test asks): ssl = off, trust for everyone.
- `pg_standby` (module): `standby.signal` and hot_standby = off → 57P03 "not accepting".
- `pg_shutting_down` (function): a smart shutdown held open by one idle logged-in session.
- `pg_starting_up` (function): a `restore_command` that sleeps holds the startup state.

PostgreSQL refuses to run as root, so clusters run as an existing unprivileged user (`postgres`,
else `nobody`) via `Server(user=...)`, under a /tmp directory that user owns (pytest's own temp
dirs are 0700 root). Everything listens on 127.0.0.1 only, sockets in the cluster's directory.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
from tests.servers.process import Server, free_port, require_program, wait_until

PASSWORDS = {
    "scram_user": "scram-canary-7Hq2Zx",
    "md5_user": "md5-canary-K3v9Rb",
    "clear_user": "clear-canary-P5w1Ly",
    "utf8_user": "\ufb01nal-\u2168-pässwörd",  # "ﬁnal-Ⅸ-…": SASLprep maps it to "final-IX-…"
}
"""Each password is its own canary: tests assert none of them shows up in any output."""

HBA = """\
local   all       all                       trust
host    rejectdb  all         127.0.0.1/32  reject
host    all       postgres    127.0.0.1/32  trust
host    all       trust_user  127.0.0.1/32  trust
host    all       scram_user  127.0.0.1/32  scram-sha-256
host    all       utf8_user   127.0.0.1/32  scram-sha-256
host    all       md5_user    127.0.0.1/32  md5
host    all       clear_user  127.0.0.1/32  password
hostssl all       ssl_user    127.0.0.1/32  trust
host    appdb     all         127.0.0.1/32  trust
"""
"""Any other role may log into `appdb` only (so a missing role says 'does not exist'); ssl_user
gets in over TLS only (plain: 'no pg_hba.conf entry ... no encryption')."""

SETUP_SQL = f"""
CREATE ROLE trust_user LOGIN;
CREATE ROLE ssl_user LOGIN;
SET password_encryption = 'scram-sha-256';
CREATE ROLE scram_user LOGIN PASSWORD '{PASSWORDS["scram_user"]}';
CREATE ROLE utf8_user LOGIN PASSWORD '{PASSWORDS["utf8_user"]}';
CREATE ROLE clear_user LOGIN PASSWORD '{PASSWORDS["clear_user"]}';
SET password_encryption = 'md5';
CREATE ROLE md5_user LOGIN PASSWORD '{PASSWORDS["md5_user"]}';
CREATE DATABASE appdb;
CREATE DATABASE rejectdb;
"""


def server_user() -> str:
    """An existing unprivileged account to run postgres as (it refuses root)."""
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    pytest.fail("no unprivileged user (postgres or nobody) to run PostgreSQL as")
    raise AssertionError("unreachable")


def _chown(path: Path, user: str) -> None:
    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)


@dataclass
class PgCluster:
    """One cluster: its directory (sockets, certificate, log), data dir, port and process."""

    root: Path
    port: int
    bin: Path
    user: str
    server: Server | None = None
    ca_file: Path | None = None
    sessions: list[socket.socket] = field(default_factory=list)
    host: str = "127.0.0.1"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    def url(
        self,
        user: str = "trust_user",
        password: str | None = None,
        database: str | None = "appdb",
        host: str | None = None,
        **params: str,
    ) -> str:
        auth = quote(user, safe="")
        if password is not None:
            auth += ":" + quote(password, safe="")
        path = f"/{quote(database, safe='')}" if database else ""
        query = "&".join(f"{k}={quote(v, safe='/')}" for k, v in params.items())
        return f"postgresql://{auth}@{host or self.host}:{self.port}{path}" + (
            f"?{query}" if query else ""
        )

    def start(self, *settings: str) -> PgCluster:
        argv = [
            str(self.bin / "postgres"),
            "-D",
            str(self.data),
            *("-c", "listen_addresses=127.0.0.1"),
            *("-c", f"port={self.port}"),
            *("-c", f"unix_socket_directories={self.root}"),
            *("-c", "fsync=off"),
            *("-c", "synchronous_commit=off"),
            *("-c", "full_page_writes=off"),
            *("-c", "shared_buffers=16MB"),
            *("-c", "max_connections=30"),
        ]
        for setting in settings:
            argv += ["-c", setting]
        self.server = Server(argv, self.port, self.log, user=self.user).start()
        return self

    def psql(self, sql: str) -> str:
        """Runs SQL as the superuser over the Unix socket (psql may run as root: only the
        server refuses it)."""
        proc = subprocess.run(
            [
                str(self.bin / "psql"),
                *("-h", str(self.root), "-p", str(self.port), "-U", "postgres"),
                *("-d", "postgres", "-v", "ON_ERROR_STOP=1", "-X", "-q", "-At"),
            ],
            input=sql,
            env={**os.environ, "PGCLIENTENCODING": "UTF8"},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if proc.returncode != 0:
            pytest.fail(f"psql failed: {proc.stderr}")
        return proc.stdout

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().splitlines()[0])

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_ready(self, timeout: float = 20.0) -> None:
        """Until a trust login gets an authentication answer (`R`), not 57P03."""
        wait_until(
            lambda: first_reply(self.port)[:1] == b"R",
            timeout,
            f"postgres on {self.port}",
            self.log,
        )

    def wait_refusal(self, wanted: bytes, timeout: float = 20.0) -> None:
        """Until the server's first answer is an ErrorResponse containing `wanted`."""

        def refused() -> bool:
            reply = first_reply(self.port)
            return reply[:1] == b"E" and wanted in reply

        wait_until(refused, timeout, f"postgres on {self.port} ({wanted.decode()})", self.log)

    def touch(self, name: str) -> None:
        """An empty file in the data dir that the server's user owns (`standby.signal`, ...)."""
        (self.data / name).touch()
        _chown(self.data / name, self.user)

    def __enter__(self) -> PgCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        for sock in self.sessions:
            sock.close()
        self.sessions.clear()
        if self.server is not None:
            # SIGINT: a fast shutdown (SIGTERM's smart one would wait for any client left).
            self.server.stop(signal.SIGINT)
        shutil.rmtree(self.root, ignore_errors=True)


def startup_packet(user: str, database: str) -> bytes:
    body = f"user\0{user}\0database\0{database}\0\0".encode()
    return struct.pack("!ii", 8 + len(body), 196608) + body


def first_reply(port: int, user: str = "postgres", database: str = "postgres") -> bytes:
    """The first bytes a plain StartupMessage gets back (b"" when nothing answers yet)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(startup_packet(user, database))
            return sock.recv(4096)
    except OSError:
        return b""


def logged_in_session(
    port: int, user: str = "postgres", database: str = "postgres"
) -> socket.socket:
    """A raw connection that completed a trust login (read to ReadyForQuery) and stays idle."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(startup_packet(user, database))
    data = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            sock.close()
            pytest.fail(f"postgres closed the session during login: {data!r}")
        data += chunk
        if _ready_for_query(data):
            return sock
        if data[:1] == b"E":
            sock.close()
            pytest.fail(f"postgres refused the session: {data!r}")


def _ready_for_query(data: bytes) -> bool:
    offset = 0
    while offset + 5 <= len(data):
        kind = data[offset : offset + 1]
        (length,) = struct.unpack("!i", data[offset + 1 : offset + 5])
        if kind == b"Z":
            return True
        offset += 1 + length
    return False


@dataclass
class PgTemplate:
    """An initdb'd data directory (never started): clusters are copies of it."""

    base: Path
    bin: Path
    user: str

    def cluster(self, name: str) -> PgCluster:
        root = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.base))
        _chown(root, self.user)
        # cp -a keeps the owner and the 0700 mode postgres insists on.
        subprocess.run(
            ["cp", "-a", str(self.base / "template"), str(root / "data")], check=True, timeout=60
        )
        return PgCluster(root=root, port=free_port(), bin=self.bin, user=self.user)


def _fast_tmp() -> str | None:
    """/dev/shm when there is one: initdb and the copies are I/O-bound, and on a busy disk a
    28 MB copy takes 0.7 s instead of 0.05 s. Else the usual temp dir."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK) else None


@pytest.fixture(scope="session")
def pg_template() -> Iterator[PgTemplate]:
    initdb = Path(require_program("initdb", "postgresql-15"))
    bindir = initdb.resolve().parent
    user = server_user()
    base = Path(tempfile.mkdtemp(prefix="envdoctor-pg-", dir=_fast_tmp()))
    base.chmod(0o755)  # the server user must reach its cluster directories
    template = base / "template"
    template.mkdir()
    _chown(template, user)
    template.chmod(0o700)
    proc = subprocess.run(
        [
            "runuser",
            "-u",
            user,
            "--",
            str(bindir / "initdb"),
            *("-N", "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--wal-segsize=1"),
            *("-D", str(template)),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"initdb failed: {proc.stdout}\n{proc.stderr}")
    try:
        yield PgTemplate(base, bindir, user)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _self_signed(cluster: PgCluster) -> None:
    """A certificate for DNS name `localhost` only: verify-full to 127.0.0.1 must fail."""
    key, cert = cluster.root / "server.key", cluster.root / "server.crt"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            *("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"),
            *("-keyout", str(key), "-out", str(cert), "-days", "2"),
            *("-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    for path in (key, cert):
        _chown(path, cluster.user)
    key.chmod(0o600)
    cluster.ca_file = cert


@pytest.fixture(scope="session")
def pg_server(pg_template: PgTemplate) -> Iterator[PgCluster]:
    """The shared cluster: roles for every auth method, TLS on; tests must not change it."""
    with pg_template.cluster("primary") as cluster:
        (cluster.data / "pg_hba.conf").write_text(HBA)
        _self_signed(cluster)
        cluster.start(
            "ssl=on",
            f"ssl_cert_file={cluster.root / 'server.crt'}",
            f"ssl_key_file={cluster.root / 'server.key'}",
        )
        cluster.wait_ready()
        cluster.psql(SETUP_SQL)
        yield cluster


@pytest.fixture(scope="session")
def pg_nossl(pg_template: PgTemplate) -> Iterator[PgCluster]:
    """ssl = off (the initdb default), trust for everyone."""
    with pg_template.cluster("nossl") as cluster:
        cluster.start("ssl=off")
        cluster.wait_ready()
        yield cluster


@pytest.fixture(scope="module")
def pg_standby(pg_template: PgTemplate) -> Iterator[PgCluster]:
    """A standby with nothing to follow and hot_standby = off: it answers 57P03
    "the database system is not accepting connections" (detail: "Hot standby mode is
    disabled.") for as long as it runs."""
    with pg_template.cluster("standby") as cluster:
        cluster.touch("standby.signal")
        cluster.start("hot_standby=off")
        cluster.wait_refusal(b"not accepting connections")
        yield cluster


@pytest.fixture
def pg_shutting_down(pg_template: PgTemplate) -> Iterator[PgCluster]:
    """A smart shutdown (SIGTERM to the postmaster) held open by one idle logged-in session:
    new logins get 57P03 "the database system is shutting down" until that session ends."""
    with pg_template.cluster("shutdown") as cluster:
        cluster.start()
        cluster.wait_ready()
        cluster.sessions.append(logged_in_session(cluster.port))
        os.kill(cluster.postmaster_pid(), signal.SIGTERM)
        wait_until(
            lambda: "received smart shutdown request" in cluster.log_text(),
            10,
            "the smart shutdown",
            cluster.log,
        )
        yield cluster


@pytest.fixture
def pg_starting_up(pg_template: PgTemplate) -> Iterator[PgCluster]:
    """Archive recovery whose restore_command sleeps: while the startup process waits for it
    (looking for timeline history files), the server answers 57P03 "starting up"."""
    with pg_template.cluster("starting") as cluster:
        cluster.touch("recovery.signal")
        cluster.start("restore_command=sleep 60; exit 1")
        cluster.wait_refusal(b"starting up")
        yield cluster
