"""Real redis-server processes in the states the redis probe must tell apart.

Session-scoped (cheap, shared, never left in a bad state): no password; `requirepass`; an ACL
file (a default-user password, `alice` with a password holding spaces, `carol` who may not
SELECT); TLS only, with a throwaway CA made by the `openssl` CLI; a busy-script server whose
`busy-reply-threshold` is 50 ms (`busy_script` always ends the script); protected mode reached
from a non-loopback address of this machine. Function-scoped: a server still loading a dataset
at start-up (each test gets a fresh one, since loading ends on its own).

Every server listens on a free high port under a temp dir, and is stopped by pid in teardown.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest
from tests.servers.process import Server, free_port, port_open, require_program, wait_until

if TYPE_CHECKING:  # a plugin listed before hostile: importing it here would skip its rewrite
    from tests.servers.hostile import HostileLoop

# Canary secrets: tests assert these appear in no output of envdoctor, in any form.
REDIS_PASSWORD = "canary-requirepass-5b1e with space"
ACL_DEFAULT_PASSWORD = "canary-default-0c9d"
ALICE = "alice"
ALICE_PASSWORD = "canary-alice-77f2 'q\" x"
CAROL = "carol"
CAROL_PASSWORD = "canary-carol-31aa"
LOADING_KEYS = 40000  # ≈3.4 s of loading at key-load-delay 5 (each key sleeps ≈85 µs)


@dataclass
class RedisServer:
    """One running redis-server and how to reach it."""

    server: Server
    port: int
    dir: Path
    host: str = "127.0.0.1"
    password: str = ""
    scheme: str = "redis"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def url(self, user: str = "", password: str | None = None, path: str = "") -> str:
        """`redis://[user[:password]@]host:port[/path]`, the password percent-encoded."""
        auth = ""
        if password is not None:
            auth = f"{quote(user, safe='')}:{quote(password, safe='')}@"
        elif user:
            auth = f"{quote(user, safe='')}@"
        return f"{self.scheme}://{auth}{self.address}{('/' + path) if path else ''}"

    def call(self, *args: str, timeout: float = 5.0) -> bytes:
        """One command on a fresh plain connection (AUTH first when the server has a password):
        the first line of its reply."""
        with socket.create_connection((self.host, self.port), timeout=timeout) as sock:
            data = b""
            if self.password:
                data += resp("AUTH", self.password)
            sock.sendall(data + resp(*args))
            reader = sock.makefile("rb")
            if self.password:
                reader.readline()
            return reader.readline().rstrip(b"\r\n")


def resp(*args: str) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def _argv(program: str, port: int, directory: Path, *extra: str) -> list[str]:
    return [
        program,
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--save", "",
        "--appendonly", "no",
        "--dir", str(directory),
        "--daemonize", "no",
        *extra,
    ]  # fmt: skip


def start_redis(base: Path, *extra: str, port: int | None = None, **kw: Any) -> RedisServer:
    """A redis-server on a free port (the options in `extra` override the defaults); `kw` goes
    to RedisServer (password, scheme)."""
    program = require_program("redis-server", "redis-server")
    port = port or free_port()
    base.mkdir(parents=True, exist_ok=True)
    server = Server(_argv(program, port, base, *extra), port, base / "redis.log")
    return RedisServer(server.listening("redis-server"), port, base, **kw)


@contextlib.contextmanager
def running(base: Path, *extra: str, **kw: Any) -> Iterator[RedisServer]:
    found = start_redis(base, *extra, **kw)
    try:
        yield found
    finally:
        found.server.stop()


@pytest.fixture(scope="session")
def redis_plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with running(tmp_path_factory.mktemp("redis-plain")) as found:
        yield found


@pytest.fixture(scope="session")
def redis_password(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    base = tmp_path_factory.mktemp("redis-password")
    with running(base, "--requirepass", REDIS_PASSWORD, password=REDIS_PASSWORD) as found:
        yield found


@pytest.fixture(scope="session")
def redis_acl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """Users from an ACL file; passwords as SHA-256 (`#…`) so they may hold spaces."""
    base = tmp_path_factory.mktemp("redis-acl")

    def sha(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()

    acl = base / "users.acl"
    acl.write_text(
        f"user default on #{sha(ACL_DEFAULT_PASSWORD)} ~* &* +@all\n"
        f"user {ALICE} on #{sha(ALICE_PASSWORD)} ~* &* +@all\n"
        f"user {CAROL} on #{sha(CAROL_PASSWORD)} ~* &* +@all -select\n",
        encoding="utf-8",
    )
    with running(base, "--aclfile", str(acl), password=ACL_DEFAULT_PASSWORD) as found:
        yield found


@dataclass
class Certificates:
    ca: Path
    cert: Path
    key: Path


def make_certificates(base: Path) -> Certificates:
    """A throwaway CA and a server certificate for 127.0.0.1 and localhost, signed by it."""
    openssl = require_program("openssl", "openssl")
    base.mkdir(parents=True, exist_ok=True)
    ca, ca_key = base / "ca.pem", base / "ca-key.pem"
    cert, key, csr = base / "server.pem", base / "server-key.pem", base / "server.csr"
    ext = base / "san.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n", encoding="utf-8")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    steps = [
        [openssl, "req", "-x509", *ec, "-keyout", str(ca_key), "-out", str(ca),
         "-days", "2", "-subj", "/CN=envdoctor test CA"],
        [openssl, "req", *ec, "-keyout", str(key), "-out", str(csr), "-subj", "/CN=localhost"],
        [openssl, "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
         "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(ext)],
    ]  # fmt: skip
    for argv in steps:
        subprocess.run(argv, check=True, capture_output=True, timeout=30)
    return Certificates(ca, cert, key)


@pytest.fixture(scope="session")
def redis_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """TLS only (`--port 0`), no client certificates; the CA is not in any trust store."""
    base = tmp_path_factory.mktemp("redis-tls")
    certs = make_certificates(base / "certs")
    port = free_port()
    tls = [
        "--port", "0",
        "--tls-port", str(port),
        "--tls-cert-file", str(certs.cert),
        "--tls-key-file", str(certs.key),
        "--tls-ca-cert-file", str(certs.ca),
        "--tls-auth-clients", "no",
    ]  # fmt: skip
    with running(base, *tls, port=port, scheme="rediss") as found:
        yield found


@pytest.fixture(scope="session")
def redis_busy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """Answers -BUSY 50 ms into a long script (the default threshold is 5 s)."""
    base = tmp_path_factory.mktemp("redis-busy")
    with running(base, "--busy-reply-threshold", "50") as found:
        yield found


@contextlib.contextmanager
def busy_script(found: RedisServer) -> Iterator[None]:
    """A Lua script that never ends, run from its own connection; killed (SCRIPT KILL) on exit,
    and the server answers PONG again before this returns."""
    hog = socket.create_connection((found.host, found.port), timeout=5)
    try:
        hog.sendall(resp("EVAL", "while true do end", "0"))
        wait_until(lambda: found.call("PING").startswith(b"-BUSY"), 5, "redis BUSY state")
        yield
    finally:
        with contextlib.suppress(OSError):
            found.call("SCRIPT", "KILL")
        wait_until(lambda: found.call("PING") == b"+PONG", 5, "redis after SCRIPT KILL")
        hog.close()


@pytest.fixture(scope="session")
def redis_dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An RDB file of LOADING_KEYS keys (written once, copied into each loading server)."""
    base = tmp_path_factory.mktemp("redis-dump")
    with running(base, "--enable-debug-command", "yes") as found:
        assert found.call("DEBUG", "POPULATE", str(LOADING_KEYS)) == b"+OK"
        assert found.call("SAVE") == b"+OK"
    return base / "dump.rdb"


@pytest.fixture
def redis_loading(redis_dump: Path, tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server that is loading its dataset when the test starts: every key takes
    `key-load-delay` to load, and it answers clients every KiB read (else it would be silent,
    not `-LOADING`). Loading ends by itself after about 3.4 s: long enough for a slow CLI start to
    still meet it, short enough for a `--wait` test to see it end."""
    base = tmp_path / "redis-loading"
    base.mkdir()
    shutil.copy(redis_dump, base / "dump.rdb")
    slow = ["--key-load-delay", "5", "--loading-process-events-interval-bytes", "1024"]
    with running(base, *slow) as found:
        yield found


def outside_address() -> str | None:
    """An IPv4 address of this machine that is not loopback (the source of its default route)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("192.0.2.1", 9))  # UDP: picks a route, sends nothing
        except OSError:
            return None
        address = str(sock.getsockname()[0])
    return None if address.startswith("127.") or address == "0.0.0.0" else address


# What redis-server 7.0.15 sent (then closed) to a client from another host, recorded here:
# the stand-in for a machine with no address but loopback, where protected mode cannot be met.
DENIED = (
    b"-DENIED Redis is running in protected mode because protected mode is enabled and no "
    b"password is set for the default user. In this mode connections are only accepted from "
    b"the loopback interface. If you want to connect from external computers to Redis you may "
    b"adopt one of the following solutions: 1) Just disable protected mode sending the command "
    b"'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from "
    b"the same host the server is running, however MAKE SURE Redis is not publicly accessible "
    b"from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) "
    b"Alternatively you can just disable the protected mode by editing the Redis configuration "
    b"file, and setting the protected mode option to 'no', and then restarting the server. 3) "
    b"If you started the server manually just for testing, restart it with the "
    b"'--protected-mode no' option. 4) Setup a an authentication password for the default "
    b"user. NOTE: You only need to do one of the above things in order for the server to start "
    b"accepting connections from the outside.\r\n"
)


@dataclass
class Protected:
    host: str
    port: int
    real: bool

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@pytest.fixture(scope="session")
def redis_protected(
    tmp_path_factory: pytest.TempPathFactory, hostile_loop: HostileLoop
) -> Iterator[Protected]:
    """Protected mode as a client from another host meets it: a real redis-server reached on a
    non-loopback address of this machine (Redis counts only 127.0.0.1 and ::1 as local), or,
    on a machine without one, a hostile replay server sending the server's recorded words."""
    address = outside_address()
    if address is not None:
        base = tmp_path_factory.mktemp("redis-protected")
        port = free_port()
        extra = ["--bind", "127.0.0.1", address, "--protected-mode", "yes"]
        with running(base, *extra, port=port) as found:
            wait_until(lambda: port_open(port, address), 5, "redis on " + address)
            yield Protected(address, found.port, real=True)
        return
    with hostile_loop.replay(DENIED) as server:
        yield Protected(server.host, server.port, real=False)
