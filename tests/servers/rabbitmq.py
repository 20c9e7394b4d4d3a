"""Server fixtures: a private rabbitmq-server, and fake brokers that answer what RabbitMQ never
would (an AMQP 1.0 header, another protocol, a hang-up after the login).

The real broker runs as root from `/usr/lib/rabbitmq/bin/rabbitmq-server` (Debian's
`/usr/sbin` wrapper would `su` to the rabbitmq user and use /var/lib/rabbitmq), with every path,
port and name private to the test session: node `envdoctor-test-<random>@localhost`, AMQP and
AMQPS on free 127.0.0.1 ports, its own distribution port, and its *own epmd* on a free port,
started in the foreground by us so it is a process we can stop by pid (an epmd that beam
starts by itself daemonizes and outlives everything). Users, vhosts and permissions come from a
definitions file loaded at boot (SHA-256 password hashes computed here), which is quicker than
a rabbitmqctl call per object. Boot takes several seconds: one broker per session.

Teardown stops the broker (SIGTERM: a graceful stop), then epmd, and asserts that no
beam.smp, erl_child_setup or epmd process of ours is left.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import secrets
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from tests.servers.process import Server, free_port, port_open, require_program, wait_until

RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")
BOOT_TIMEOUT = 90.0

USER = "envdoctor"
VHOST = "envdoctor-vh"
LOCKED_VHOST = "locked-vh"
"""A vhost that exists but USER has no permissions on (530 "access ... refused")."""


def password_hash(password: str) -> str:
    """RabbitMQ's rabbit_password_hashing_sha256: base64(salt + sha256(salt + password))."""
    salt = secrets.token_bytes(4)
    digest = hashlib.sha256(salt + password.encode("utf-8")).digest()
    return base64.b64encode(salt + digest).decode("ascii")


def amqp_answers(port: int, host: str = "127.0.0.1") -> bool:
    """The broker answers the 0-9-1 header with a method frame (the listener is up)."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5) as s:
        s.sendall(b"AMQP\x00\x00\x09\x01")
        s.settimeout(1.0)
        return s.recv(1) == b"\x01"
    return False


@dataclass
class Rabbit:
    """The session's broker: where it listens, how to reach it, and its rabbitmqctl."""

    port: int
    tls_port: int
    env: dict[str, str]
    password: str = field(repr=False)
    version: str
    boot_seconds: float
    root: Path

    user: str = USER
    vhost: str = VHOST
    locked_vhost: str = LOCKED_VHOST

    def url(
        self,
        user: str | None = None,
        password: str | None = None,
        vhost: str | None = None,
        *,
        scheme: str = "amqp",
        port: int | None = None,
    ) -> str:
        """amqp://[user:password@]127.0.0.1:port[/vhost], the vhost percent-encoded."""
        auth = ""
        if user is not None:
            auth = quote(user, safe="")
            if password is not None:
                auth += ":" + quote(password, safe="")
            auth += "@"
        if port is None:
            port = self.tls_port if scheme == "amqps" else self.port
        path = "" if vhost is None else "/" + quote(vhost, safe="")
        return f"{scheme}://{auth}127.0.0.1:{port}{path}"

    def ctl(self, *args: str) -> str:
        """rabbitmqctl against this node (same cookie, node name and epmd)."""
        proc = subprocess.run(
            [str(RABBIT_BIN / "rabbitmqctl"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        assert proc.returncode == 0, f"rabbitmqctl {' '.join(args)}: {proc.stderr}{proc.stdout}"
        return proc.stdout


def _self_signed(root: Path) -> tuple[Path, Path]:
    openssl = require_program("openssl", "openssl")
    cert, key = root / "cert.pem", root / "key.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def _our_processes(pids: set[int]) -> list[str]:
    """Those of `pids` still running (zombies do not count: they hold nothing)."""
    import psutil

    left = []
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc = psutil.Process(pid)
            if proc.status() != psutil.STATUS_ZOMBIE:
                left.append(f"{proc.name()} (pid {pid})")
    return left


@pytest.fixture(scope="session")
def rabbitmq(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rabbit]:
    import psutil

    require_program("rabbitmq-server", "rabbitmq-server")
    epmd = require_program("epmd", "erlang-base")
    script = RABBIT_BIN / "rabbitmq-server"
    if not script.exists():
        pytest.fail(f"{script} is missing: apt-get install -y rabbitmq-server")
    root = tmp_path_factory.mktemp("rabbitmq")
    port, tls_port, dist_port, epmd_port, ctl_port = (free_port() for _ in range(5))
    password = "rabbit-canary-" + secrets.token_hex(6)
    cert, key = _self_signed(root)

    definitions = {
        "users": [
            {
                "name": USER,
                "password_hash": password_hash(password),
                "hashing_algorithm": "rabbit_password_hashing_sha256",
                "tags": [],
            }
        ],
        "vhosts": [{"name": "/"}, {"name": VHOST}, {"name": LOCKED_VHOST}],
        "permissions": [
            {"user": USER, "vhost": v, "configure": ".*", "write": ".*", "read": ".*"}
            for v in ("/", VHOST)
        ],
    }
    (root / "definitions.json").write_text(json.dumps(definitions), encoding="utf-8")
    (root / "rabbitmq.conf").write_text(
        "\n".join(
            [
                f"load_definitions = {root / 'definitions.json'}",
                f"listeners.ssl.1 = 127.0.0.1:{tls_port}",
                f"ssl_options.certfile = {cert}",
                f"ssl_options.keyfile = {key}",
                "ssl_options.verify = verify_none",
                "ssl_options.fail_if_no_peer_cert = false",
                "log.console = false",
                "log.file.level = info",
                "",
            ]
        ),
        encoding="utf-8",
    )
    (root / "enabled_plugins").write_text("[].\n", encoding="utf-8")
    node = f"envdoctor-test-{secrets.token_hex(4)}@localhost"
    env = {
        **os.environ,
        "HOME": str(root),  # the Erlang cookie lives here, for the node and rabbitmqctl
        "LC_ALL": "C.UTF-8",
        "RABBITMQ_NODENAME": node,
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(dist_port),
        "RABBITMQ_CTL_DIST_PORT_MIN": str(ctl_port),
        "RABBITMQ_CTL_DIST_PORT_MAX": str(min(ctl_port + 10, 65535)),
        "ERL_EPMD_PORT": str(epmd_port),
        "ERL_EPMD_ADDRESS": "127.0.0.1",
        "RABBITMQ_MNESIA_BASE": str(root / "mnesia"),
        "RABBITMQ_LOG_BASE": str(root / "log"),
        "RABBITMQ_CONFIG_FILE": str(root / "rabbitmq.conf"),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(root / "advanced.config"),
        "RABBITMQ_CONF_ENV_FILE": str(root / "rabbitmq-env.conf"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(root / "enabled_plugins"),
        "RABBITMQ_PID_FILE": str(root / "rabbitmq.pid"),
    }
    env.pop("RABBITMQ_ALLOW_INPUT", None)

    epmd_server = Server([epmd, "-port", str(epmd_port)], epmd_port, root / "epmd.log", env=env)
    broker = Server([str(script)], port, root / "rabbitmq.log", env=env)
    ours: set[int] = set()
    try:
        epmd_server.start()
        ours.add(epmd_server.pid)
        wait_until(lambda: port_open(epmd_port), 10, "epmd", root / "epmd.log")
        started = time.monotonic()
        broker.start()
        ours.add(broker.pid)

        def up() -> bool:
            if not broker.alive():
                tail = (root / "rabbitmq.log").read_text(errors="replace")[-3000:]
                pytest.fail(f"rabbitmq-server exited during boot:\n{tail}")
            return amqp_answers(port) and port_open(tls_port)

        wait_until(up, BOOT_TIMEOUT, "rabbitmq-server", root / "rabbitmq.log")
        boot = time.monotonic() - started
        with contextlib.suppress(psutil.NoSuchProcess):
            ours.update(c.pid for c in psutil.Process(broker.pid).children(recursive=True))
        version = _broker_version(root)
        yield Rabbit(port, tls_port, env, password, version, boot, root)
    finally:
        with contextlib.suppress(psutil.NoSuchProcess):
            if broker.proc is not None:
                ours.update(c.pid for c in psutil.Process(broker.pid).children(recursive=True))
        broker.stop(timeout=20)
        epmd_server.stop()
    left = _our_processes(ours)
    assert not left, f"rabbitmq teardown left processes behind: {', '.join(left)}"
    assert not port_open(epmd_port) and not port_open(port) and not port_open(dist_port)


def _broker_version(root: Path) -> str:
    """The version the broker logged at boot ("3.10.8"), to compare with what the probe says."""
    for log in sorted((root / "log").glob("*.log")):
        for line in log.read_text(errors="replace").splitlines():
            if "Starting RabbitMQ " in line:
                return line.split("Starting RabbitMQ ", 1)[1].split()[0]
    return ""


# -- fake brokers ---------------------------------------------------------------------------


def method_frame(class_id: int, method_id: int, args: bytes = b"") -> bytes:
    payload = struct.pack(">HH", class_id, method_id) + args
    return struct.pack(">BHI", 1, 0, len(payload)) + payload + b"\xce"


def longstr(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def shortstr(text: str) -> bytes:
    data = text.encode()
    return bytes([len(data)]) + data


def table(entries: bytes) -> bytes:
    """A field table from already encoded (name, type, value) entries."""
    return longstr(entries)


def start_frame(
    properties: bytes | None = None, mechanisms: str = "PLAIN AMQPLAIN", locales: str = "en_US"
) -> bytes:
    """A Connection.Start as a broker sends it (default properties: FakeMQ 9.9.9)."""
    if properties is None:
        properties = table(
            shortstr("product") + b"S" + longstr(b"FakeMQ")
            + shortstr("version") + b"S" + longstr(b"9.9.9")
        )
    args = b"\x00\x09" + properties + longstr(mechanisms.encode()) + longstr(locales.encode())
    return method_frame(10, 10, args)


def close_frame(code: int, text: str) -> bytes:
    return method_frame(10, 50, struct.pack(">H", code) + shortstr(text) + b"\x00" * 4)


def tune_frame() -> bytes:
    return method_frame(10, 30, struct.pack(">HIH", 2047, 131072, 60))


def read_frame(conn: socket.socket) -> bytes:
    """One whole frame from the client (header, payload, frame end)."""
    head = recv_exactly(conn, 7)
    size = struct.unpack(">I", head[3:7])[0]
    return head + recv_exactly(conn, size + 1)


def recv_exactly(conn: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = conn.recv(count - len(data))
        if not chunk:
            raise ConnectionError("the client closed the connection")
        data += chunk
    return data


Script = Callable[[socket.socket, dict[str, Any]], None]
"""What a fake broker does with one accepted connection; it may record into the dict."""


def answer(data: bytes) -> Script:
    """Read the client's protocol header, send `data`, hang up."""

    def script(conn: socket.socket, seen: dict[str, Any]) -> None:
        seen["header"] = recv_exactly(conn, 8)
        conn.sendall(data)

    return script


@contextlib.contextmanager
def fake_broker(script: Script) -> Iterator[tuple[int, dict[str, Any]]]:
    """A listener on a free 127.0.0.1 port that runs `script` for each connection, on a
    thread (so both in-process probes and envdoctor subprocesses can talk to it)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.05)
    seen: dict[str, Any] = {}
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except (TimeoutError, OSError):
                continue
            with conn:
                conn.settimeout(5)
                with contextlib.suppress(OSError):
                    script(conn, seen)

    thread = threading.Thread(target=serve, name="fake-amqp-broker", daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1]), seen
    finally:
        stop.set()
        thread.join(5)
        server.close()
