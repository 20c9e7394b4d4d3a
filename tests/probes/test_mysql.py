"""The MySQL probe against a real MariaDB (greeting, logins, 1040, 1130), a conversation server
for what this machine has no server for (MySQL 8's caching_sha2_password, 1129), and other
protocols on the port."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.probes._helpers import seconds_to_no_answer, verdict_against
from tests.servers.hostile import HostileLoop, HostileServer
from tests.servers.mariadb import (
    APP_CANARY,
    APP_PASSWORD,
    APP_USER,
    DATABASE,
    ED_PASSWORD,
    ED_USER,
    LIMITED_PASSWORD,
    LIMITED_USER,
    NOPASS_USER,
    Mariadb,
)
from tests.servers.smtp import BannerServer

from envdoctor.probes.connect import ProbeError
from envdoctor.probes.mysql import (
    MAX_FIRST_PACKET,
    packet,
    parse_error,
    parse_greeting,
    probe,
    scramble,
    server_name,
)
from envdoctor.probes.result import ProbeResult, State, Target

SECRETS = (APP_PASSWORD, APP_CANARY, LIMITED_PASSWORD, ED_PASSWORD)


def run(target: Target, timeout: float = 3.0) -> tuple[ProbeResult, list[str]]:
    """The probe's verdict and its evidence; no secret may be in either."""
    log: list[str] = []
    result = asyncio.run(probe(target, time.monotonic() + timeout, log.append))
    shown = " ".join([result.message, result.server, *log])
    for secret in SECRETS:
        assert secret not in shown
    return result, log


def at(db: Mariadb, user: str = "", password: str = "", database: str = "") -> Target:
    return Target("127.0.0.1", db.port, user=user, password=password, database=database)


def version_of(db: Mariadb) -> str:
    """The version ("10.11.18") from the server's own SELECT VERSION()."""
    return db.sql("SELECT VERSION()").strip().split("-")[0]


# -- a real MariaDB ---------------------------------------------------------------------------


def test_greeting_names_mariadb_and_its_version(mariadb: Mariadb) -> None:
    result, log = run(at(mariadb))
    version = version_of(mariadb)
    assert result.state is State.READY
    assert result.message == (
        f"MariaDB {version} accepting connections (auth: mysql_native_password)"
    )
    assert result.server == f"MariaDB {version}"
    assert any(line.startswith(f"greeting: MariaDB {version} (version '5.5.5-") for line in log)
    # No user in the URL: the probe still completes a login, as `envdoctor`, to stay off the
    # server's max_connect_errors count.
    assert any("sent a login as 'envdoctor' with no password" in line for line in log)


def test_login_with_the_right_password_is_accepted(mariadb: Mariadb) -> None:
    result, log = run(at(mariadb, APP_USER, APP_PASSWORD, DATABASE))
    assert result.state is State.READY
    assert result.message == (
        f"MariaDB {version_of(mariadb)} accepting connections "
        f"(login as {APP_USER} to {DATABASE} accepted)"
    )
    assert log[-1] == "login accepted; sent COM_QUIT"


def test_wrong_password_is_rejected(mariadb: Mariadb) -> None:
    result, _log = run(at(mariadb, APP_USER, "not-the-password", DATABASE))
    assert result.state is State.AUTH_REJECTED
    assert result.code == "1045"
    assert result.message == (
        f"access denied for user {APP_USER} (error 1045: Access denied for user "
        f"'{APP_USER}'@'127.0.0.1' (using password: YES))"
    )


def test_unknown_user_is_rejected(mariadb: Mariadb) -> None:
    result, _log = run(at(mariadb, "ghost", "whatever"))
    assert result.state is State.AUTH_REJECTED
    assert result.code == "1045"


def test_missing_database_is_not_a_wrong_password(mariadb: Mariadb) -> None:
    result, _log = run(at(mariadb, APP_USER, APP_PASSWORD, "app_missing"))
    assert result.state is State.REFUSED_LOGIN
    assert result.code == "1049"
    assert result.message == (
        "database app_missing does not exist (error 1049: Unknown database 'app_missing')"
    )


def test_database_the_user_may_not_use(mariadb: Mariadb) -> None:
    result, _log = run(at(mariadb, LIMITED_USER, LIMITED_PASSWORD, DATABASE))
    assert result.state is State.REFUSED_LOGIN
    assert result.code == "1044"
    assert result.message.startswith(f"user {LIMITED_USER} may not use database {DATABASE} ")
    assert f"'{LIMITED_USER}'@'127.0.0.1' to database '{DATABASE}'" in result.message


def test_account_without_password_logs_in_without_one(mariadb: Mariadb) -> None:
    result, log = run(at(mariadb, NOPASS_USER, "", DATABASE))
    assert result.state is State.READY
    assert result.message.endswith(f"(login as {NOPASS_USER} to {DATABASE} accepted)")
    assert any("with no password (the URL has none)" in line for line in log)


def test_password_missing_from_the_url_needs_auth(mariadb: Mariadb) -> None:
    result, _log = run(at(mariadb, APP_USER, "", DATABASE))
    assert result.state is State.NEEDS_AUTH
    assert result.code == "1045"
    assert result.message.startswith(f"user {APP_USER} needs a password (error 1045: ")
    assert "(using password: NO)" in result.message


def test_auth_plugin_it_does_not_speak_is_reported_not_guessed(mariadb: Mariadb) -> None:
    result, log = run(at(mariadb, ED_USER, ED_PASSWORD, DATABASE))
    assert result.state is State.READY
    assert result.message.endswith(
        f"(login as {ED_USER} to {DATABASE} not verified: "
        "the account uses auth plugin client_ed25519)"
    )
    # The login is ended with an empty answer (a refused login), not a hang-up.
    assert any(
        "answered it with an empty response; the server said error 1045" in line for line in log
    )


def test_host_not_allowed_comes_instead_of_the_greeting(mariadb_no_tcp_users: Mariadb) -> None:
    result, log = run(at(mariadb_no_tcp_users, APP_USER, APP_PASSWORD, DATABASE))
    assert result.state is State.REFUSED_LOGIN
    assert result.code == "1130"
    assert result.message == (
        "no account on the server may connect from this host (error 1130: Host '127.0.0.1' "
        "is not allowed to connect to this MariaDB server)"
    )
    assert log[-1].startswith("the server sent an error packet instead of a greeting")


def test_too_many_connections_then_ready_again(mariadb: Mariadb) -> None:
    with mariadb.exhausted() as held:
        result, _log = run(at(mariadb))
    # max_connections 10, plus the one MariaDB keeps for a SUPER user (10 when a connection
    # of an earlier test is still being torn down)
    assert 10 <= held <= 11
    assert result.state is State.NOT_READY
    assert result.code == "1040"
    assert result.message.startswith("too many connections: ")
    assert result.message.endswith("(error 1040: Too many connections)")
    again, _log = run(at(mariadb, APP_USER, APP_PASSWORD, DATABASE))
    assert again.state is State.READY


# -- other protocols on the port --------------------------------------------------------------


def test_smtp_banner_is_another_protocol_at_once(
    smtp_banner: Callable[[bytes], BannerServer],
) -> None:
    server = smtp_banner(b"220 mx.example ESMTP Postfix\r\n")
    started = time.monotonic()
    result, _log = run(Target("127.0.0.1", server.port), timeout=3.0)
    assert time.monotonic() - started < 1.0  # a text banner is never read as a 2 MB packet
    assert result.state is State.WRONG_PROTOCOL
    assert result.protocol == "SMTP"
    assert result.message == "it sent 220 mx.example ESMTP Postfix\\r\\n"


def test_ssh_banner_is_named(smtp_banner: Callable[[bytes], BannerServer]) -> None:
    server = smtp_banner(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
    result, _log = run(Target("127.0.0.1", server.port))
    assert result.state is State.WRONG_PROTOCOL
    assert result.protocol == "SSH"


def test_binary_that_is_not_a_greeting(smtp_banner: Callable[[bytes], BannerServer]) -> None:
    server = smtp_banner(b"\x05\x00\x00\x00\x42hello")
    result, _log = run(Target("127.0.0.1", server.port))
    assert result.state is State.WRONG_PROTOCOL
    assert result.protocol == ""
    assert result.message == "it sent \\x05\\x00\\x00\\x00Bhello"


def test_silent_server_is_no_answer_at_the_deadline(black_hole: HostileServer) -> None:
    target = Target(black_hole.host, black_hole.port)
    assert 0.25 < seconds_to_no_answer(lambda: run(target, timeout=0.3)) < 1.0


# -- a conversation server: MySQL 8 logins and a blocked host -------------------------------------

NONCE = bytes(range(65, 85))  # 20 printable bytes, as servers send


def greeting(version: str, plugin: str, nonce: bytes = NONCE) -> bytes:
    """A protocol-10 greeting as MySQL 8 sends it."""
    caps = 0xFFFFF7FF  # everything but CLIENT_SSL
    return (
        b"\x0a" + version.encode() + b"\x00" + (7).to_bytes(4, "little") + nonce[:8] + b"\x00"
        + (caps & 0xFFFF).to_bytes(2, "little") + bytes([255]) + (2).to_bytes(2, "little")
        + (caps >> 16).to_bytes(2, "little") + bytes([21]) + bytes(10)
        + nonce[8:] + b"\x00" + plugin.encode() + b"\x00"
    )  # fmt: skip


def sha2_matches(response: bytes, password: str, nonce: bytes) -> bool:
    """The server side of caching_sha2_password's fast path: it keeps SHA256(SHA256(pw))."""
    stored = hashlib.sha256(hashlib.sha256(password.encode()).digest()).digest()
    mask = hashlib.sha256(stored + nonce).digest()
    candidate = bytes(a ^ b for a, b in zip(response, mask, strict=True))
    return hashlib.sha256(candidate).digest() == stored


def native_matches(response: bytes, password: str, nonce: bytes) -> bool:
    """The server side of mysql_native_password: it keeps SHA1(SHA1(pw))."""
    stored = hashlib.sha1(hashlib.sha1(password.encode()).digest()).digest()
    mask = hashlib.sha1(nonce + stored).digest()
    candidate = bytes(a ^ b for a, b in zip(response, mask, strict=True))
    return hashlib.sha1(candidate).digest() == stored


def auth_data(response: bytes) -> tuple[str, bytes]:
    """(user, auth response) from a HandshakeResponse41 payload."""
    user, _, rest = response[32:].partition(b"\x00")
    return user.decode(), rest[1 : 1 + rest[0]]


@dataclass
class Conversation:
    """Sends `first`, then answers each client packet with `script(index, payload)`."""

    first: bytes
    script: Callable[[int, bytes], bytes | None]
    port: int = 0
    got: list[bytes] = field(default_factory=list)

    def serve(self, listener: socket.socket) -> None:
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(5)
            conn.sendall(packet(0, self.first))
            seq = 0
            for index in range(6):
                header = conn.recv(4, socket.MSG_WAITALL)
                if len(header) < 4:
                    return
                seq = header[3]
                payload = conn.recv(int.from_bytes(header[:3], "little"), socket.MSG_WAITALL)
                self.got.append(payload)
                reply = self.script(index, payload)
                if reply is None:
                    return
                for part in reply.split(b"|"):
                    seq += 1
                    conn.sendall(packet(seq, part))


@contextmanager
def conversation(
    first: bytes, script: Callable[[int, bytes], bytes | None]
) -> Iterator[Conversation]:
    talk = Conversation(first, script)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        talk.port = listener.getsockname()[1]
        thread = threading.Thread(target=talk.serve, args=(listener,), daemon=True)
        thread.start()
        yield talk
        thread.join(5)


OK = b"\x00\x00\x00\x02\x00\x00\x00"
DENIED = b"\xff\x15\x04#28000Access denied for user 'app'@'10.0.0.9' (using password: YES)"


def test_mysql8_caching_sha2_fast_path() -> None:
    def script(index: int, payload: bytes) -> bytes | None:
        if index == 0:
            user, auth = auth_data(payload)
            assert user == "app"
            assert payload.endswith(b"caching_sha2_password\x00")
            return b"\x01\x03|" + OK if sha2_matches(auth, "s3cret", NONCE) else DENIED
        assert payload == b"\x01"  # COM_QUIT
        return None

    with conversation(greeting("8.0.36", "caching_sha2_password"), script) as talk:
        result, log = run(Target("127.0.0.1", talk.port, "app", "s3cret", "shop"))
    assert result.state is State.READY
    assert result.message == "MySQL 8.0.36 accepting connections (login as app to shop accepted)"
    assert talk.got[-1] == b"\x01"
    assert "s3cret" not in " ".join(log)


def test_mysql8_wrong_password() -> None:
    def script(index: int, payload: bytes) -> bytes | None:
        _user, auth = auth_data(payload)
        return b"\x01\x03|" + OK if sha2_matches(auth, "s3cret", NONCE) else DENIED

    with conversation(greeting("8.0.36", "caching_sha2_password"), script) as talk:
        result, _log = run(Target("127.0.0.1", talk.port, "app", "wrong", "shop"))
    assert result.state is State.AUTH_REJECTED
    assert result.code == "1045"


def test_mysql8_full_authentication_is_not_faked() -> None:
    with conversation(greeting("8.0.36", "caching_sha2_password"), lambda i, p: b"\x01\x04") as t:
        result, log = run(Target("127.0.0.1", t.port, "app", "s3cret"))
    assert result.state is State.READY
    assert result.message == (
        "MySQL 8.0.36 accepting connections (login as app not verified: "
        "caching_sha2_password full authentication needs TLS)"
    )
    assert any("full authentication" in line for line in log)


def test_auth_switch_to_native_uses_the_new_seed() -> None:
    fresh = bytes(range(97, 117))

    def script(index: int, payload: bytes) -> bytes | None:
        if index == 0:
            return b"\xfemysql_native_password\x00" + fresh + b"\x00"
        if index == 1:
            return OK if native_matches(payload, "s3cret", fresh) else DENIED
        return None

    with conversation(greeting("8.0.36", "caching_sha2_password"), script) as talk:
        result, _log = run(Target("127.0.0.1", talk.port, "app", "s3cret"))
    assert result.state is State.READY
    assert result.message.endswith("(login as app accepted)")


def test_blocked_host_1129() -> None:
    # Loopback clients are never blocked (the server skips its host cache for them), so the
    # packet comes from a conversation server, byte for byte as MariaDB sends it.
    blocked = (
        b"\xff" + (1129).to_bytes(2, "little")
        + b"Host '10.0.0.9' is blocked because of many connection errors; "
        b"unblock with 'mariadb-admin flush-hosts'"
    )  # fmt: skip
    with conversation(blocked, lambda i, p: None) as talk:
        result, _log = run(Target("127.0.0.1", talk.port, "app", "s3cret"))
    assert result.state is State.REFUSED_LOGIN
    assert result.code == "1129"
    assert result.message.startswith("this host is blocked after too many interrupted")
    assert "unblock with 'mariadb-admin flush-hosts'" in result.message


def test_shutting_down_1053() -> None:
    with conversation(b"\xff\x1d\x04Server shutdown in progress", lambda i, p: None) as talk:
        result, _log = run(Target("127.0.0.1", talk.port))
    assert result.state is State.NOT_READY
    assert result.message == (
        "the server is shutting down (error 1053: Server shutdown in progress)"
    )


# -- the pieces -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("5.5.5-10.11.6-MariaDB-0+deb12u1", ("MariaDB", "10.11.6")),
        ("11.4.2-MariaDB", ("MariaDB", "11.4.2")),
        ("8.0.36", ("MySQL", "8.0.36")),
        ("8.0.36-0ubuntu0.22.04.1", ("MySQL", "8.0.36")),
        ("5.7.44-log", ("MySQL", "5.7.44")),
        ("8.0.11-TiDB-v7.5.1", ("TiDB", "7.5.1")),
    ],
)
def test_server_name(version: str, expected: tuple[str, str]) -> None:
    assert server_name(version) == expected


def test_parse_greeting_reads_the_seed_and_plugin() -> None:
    parsed = parse_greeting(greeting("8.0.36", "caching_sha2_password"))
    assert parsed.server == "MySQL 8.0.36"
    assert parsed.seed == NONCE
    assert parsed.plugin == "caching_sha2_password"
    assert parsed.connection_id == 7


def test_parse_error_with_and_without_sqlstate() -> None:
    with_state = parse_error(b"\xff\x19\x04#42000Unknown database 'x'")
    assert (with_state.code, with_state.sqlstate, with_state.message) == (
        1049,
        "42000",
        "Unknown database 'x'",
    )
    bare = parse_error(b"\xff\x10\x04Too many connections")
    assert (bare.code, bare.sqlstate, bare.message) == (1040, "", "Too many connections")


def test_scrambles_match_what_servers_check() -> None:
    assert native_matches(scramble("mysql_native_password", "pw", NONCE), "pw", NONCE)
    assert sha2_matches(scramble("caching_sha2_password", "pw", NONCE), "pw", NONCE)
    assert scramble("mysql_native_password", "", NONCE) == b""


def test_first_packet_limit_is_far_below_any_text_banner() -> None:
    # Four ASCII bytes read as a little-endian length are at least 0x202020.
    assert MAX_FIRST_PACKET < 0x202020


# -- whatever a server sends ------------------------------------------------------------------


_GREETING_LIKE = st.binary(max_size=120).map(lambda body: packet(0, b"\x0a" + body))
_ERROR_LIKE = st.binary(max_size=60).map(lambda body: packet(0, b"\xff" + body))


@settings(max_examples=60, deadline=None)
@given(
    data=st.one_of(st.binary(max_size=200), _GREETING_LIKE, _ERROR_LIKE),
    user=st.sampled_from(["", "app"]),
)
def test_any_bytes_give_a_verdict_or_a_probe_error(
    hostile_loop: HostileLoop, data: bytes, user: str
) -> None:
    outcome = verdict_against(hostile_loop, data, probe, user=user, password="pw", database="d")
    assert isinstance(outcome, ProbeResult | ProbeError)
    if isinstance(outcome, ProbeResult):
        assert outcome.message
