"""The PostgreSQL probe against real PostgreSQL 15 clusters (tests/servers/postgres.py) in every
state it must tell apart, plus small fake servers for what a real one will not do on request
(a server that does not know the password, protocol negotiation, a broken TLS offer)."""

from __future__ import annotations

import asyncio
import base64
import re
import struct
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from tests.servers.postgres import PASSWORDS, PgCluster, PgTemplate

from envdoctor.endpoints import parse_url
from envdoctor.probes.postgres import probe, saslprep, scram_final
from envdoctor.probes.result import ProbeResult, State, Target
from envdoctor.probes.wire import NoAnswer, TlsFailure, tls_context


def target_for(url: str, tls: Any = None) -> Target:
    endpoint = parse_url(url, ("postgresql", "postgres"))
    ((host, port),) = endpoint.hosts
    return Target(
        host, port, endpoint.user, endpoint.password, endpoint.database, tls, endpoint.params
    )


def run(url: str, timeout: float = 5.0, tls: Any = None) -> tuple[ProbeResult, list[str]]:
    lines: list[str] = []
    result = asyncio.run(probe(target_for(url, tls), time.monotonic() + timeout, lines.append))
    return result, lines


def assert_secret_free(lines: list[str]) -> None:
    text = "\n".join(lines)
    for password in PASSWORDS.values():
        assert password not in text
    assert not re.search(r"p=[A-Za-z0-9+/]{20,}", text)  # a SCRAM proof
    assert not re.search(r"md5[0-9a-f]{32}", text)  # an md5 password hash


# -- real server: logins ------------------------------------------------------------------


def test_trust_login_is_ready_over_tls_by_default(pg_server: PgCluster) -> None:
    result, lines = run(pg_server.url("trust_user"))
    assert result.state is State.READY
    assert re.fullmatch(
        r"PostgreSQL 15\.\d+ accepting connections \(auth: trust, TLS\)", result.message
    )
    assert result.server.startswith("PostgreSQL 15.")
    assert "sent SSLRequest" in lines
    assert "ReadyForQuery: the login works" in lines


def test_sslmode_disable_stays_plain(pg_server: PgCluster) -> None:
    result, lines = run(pg_server.url("trust_user", sslmode="disable"))
    assert result.state is State.READY
    assert result.message.endswith("(auth: trust)")
    assert "sent SSLRequest" not in lines


@pytest.mark.parametrize("sslmode", ["prefer", "disable"])
def test_scram_right_password_is_ready(pg_server: PgCluster, sslmode: str) -> None:
    url = pg_server.url("scram_user", PASSWORDS["scram_user"], sslmode=sslmode)
    result, lines = run(url)
    assert result.state is State.READY, result
    assert "(auth: SCRAM-SHA-256" in result.message
    assert "SCRAM server signature verified" in lines
    # Over TLS the server offers SCRAM-SHA-256-PLUS first; the probe takes plain SCRAM.
    offered = next(line for line in lines if line.startswith("the server asks for SASL"))
    assert ("SCRAM-SHA-256-PLUS" in offered) is (sslmode == "prefer")
    assert_secret_free(lines)


def test_scram_password_needing_saslprep(pg_server: PgCluster) -> None:
    result, lines = run(pg_server.url("utf8_user", PASSWORDS["utf8_user"]))
    assert result.state is State.READY, result
    assert_secret_free(lines)


@pytest.mark.parametrize("user", ["scram_user", "md5_user", "clear_user"])
def test_wrong_password_is_rejected(pg_server: PgCluster, user: str) -> None:
    result, lines = run(pg_server.url(user, "not-the-password"))
    assert result.state is State.AUTH_REJECTED
    assert result.code == "28P01"
    assert result.message == f'password authentication failed for user "{user}" (SQLSTATE 28P01)'
    assert_secret_free(lines)


@pytest.mark.parametrize(
    ("user", "method"),
    [
        ("scram_user", "SCRAM-SHA-256"),
        ("md5_user", "MD5"),
        ("clear_user", "password (cleartext)"),
    ],
)
def test_no_password_needs_auth_naming_the_method(
    pg_server: PgCluster, user: str, method: str
) -> None:
    result, _ = run(pg_server.url(user))
    assert result.state is State.NEEDS_AUTH
    assert result.message == (
        f'user "{user}" must authenticate with {method}, and the URL has no password'
    )


@pytest.mark.parametrize(("user", "method"), [("md5_user", "MD5"), ("clear_user", "cleartext")])
def test_md5_and_cleartext_right_password(pg_server: PgCluster, user: str, method: str) -> None:
    result, lines = run(pg_server.url(user, PASSWORDS[user]))
    assert result.state is State.READY, result
    assert method in result.message
    assert_secret_free(lines)


def test_missing_database(pg_server: PgCluster) -> None:
    result, _ = run(pg_server.url("trust_user", database="nosuchdb"))
    assert result.state is State.REFUSED_LOGIN
    assert result.code == "3D000"
    assert result.message == 'database "nosuchdb" does not exist (SQLSTATE 3D000)'


def test_password_and_database_problems_are_told_apart(pg_server: PgCluster) -> None:
    right = pg_server.url("scram_user", PASSWORDS["scram_user"], database="nosuchdb")
    wrong = pg_server.url("scram_user", "wrong", database="nosuchdb")
    assert run(right)[0].code == "3D000"
    assert run(wrong)[0].code == "28P01"


def test_missing_role(pg_server: PgCluster) -> None:
    result, _ = run(pg_server.url("ghost"))
    assert result.state is State.REFUSED_LOGIN
    assert result.code == "28000"
    assert result.message == 'role "ghost" does not exist (SQLSTATE 28000)'


def test_database_defaults_to_the_user_name(pg_server: PgCluster) -> None:
    result, lines = run(pg_server.url("trust_user", database=None))
    assert result.code == "3D000"
    assert 'database "trust_user" does not exist' in result.message
    assert any('user "trust_user", database "trust_user"' in line for line in lines)


def test_pg_hba_reject_line(pg_server: PgCluster) -> None:
    result, _ = run(pg_server.url("trust_user", database="rejectdb"))
    assert result.state is State.REFUSED_LOGIN
    assert result.code == "28000"
    assert result.message.startswith('pg_hba.conf rejects connection for host "127.0.0.1"')


# -- real server: TLS ---------------------------------------------------------------------


def test_tls_only_user_without_tls_has_no_pg_hba_entry(pg_server: PgCluster) -> None:
    result, _ = run(pg_server.url("ssl_user", database="postgres", sslmode="disable"))
    assert result.state is State.REFUSED_LOGIN
    assert result.code == "28000"
    assert "no pg_hba.conf entry" in result.message
    assert "no encryption" in result.message


@pytest.mark.parametrize("sslmode", ["allow", "prefer", "require"])
def test_tls_only_user_with_tls(pg_server: PgCluster, sslmode: str) -> None:
    result, lines = run(pg_server.url("ssl_user", database="postgres", sslmode=sslmode))
    assert result.state is State.READY, result
    assert result.message.endswith("(auth: trust, TLS)")
    # allow: plain first, then TLS once pg_hba says it has no entry without encryption.
    assert any(line.startswith("trying again with TLS") for line in lines) is (sslmode == "allow")


def test_verify_full_rejects_a_self_signed_certificate(pg_server: PgCluster) -> None:
    with pytest.raises(TlsFailure) as caught:
        run(pg_server.url("trust_user", sslmode="verify-full"))
    assert "self-signed certificate" in caught.value.reason


def test_verify_full_checks_the_host_name(pg_server: PgCluster) -> None:
    root = str(pg_server.ca_file)
    result, _ = run(pg_server.url("trust_user", host="localhost", sslmode="verify-full",
                                  sslrootcert=root))
    assert result.state is State.READY
    with pytest.raises(TlsFailure) as caught:  # the certificate names localhost only
        run(pg_server.url("trust_user", sslmode="verify-full", sslrootcert=root))
    assert "mismatch" in caught.value.reason.lower()


def test_verify_ca_checks_the_chain_not_the_name(pg_server: PgCluster) -> None:
    url = pg_server.url("trust_user", sslmode="verify-ca", sslrootcert=str(pg_server.ca_file))
    result, _ = run(url)
    assert result.state is State.READY


def test_missing_sslrootcert_file_is_a_tls_failure(pg_server: PgCluster) -> None:
    url = pg_server.url("trust_user", sslmode="verify-ca", sslrootcert="/nonexistent/root.crt")
    with pytest.raises(TlsFailure) as caught:
        run(url)
    assert "sslrootcert" in caught.value.reason


def test_a_callers_context_is_used_for_the_upgrade(pg_server: PgCluster) -> None:
    # The kind's `verify = false`: a non-verifying context even under verify-full.
    url = pg_server.url("trust_user", sslmode="verify-full")
    result, _ = run(url, tls=tls_context(verify=False))
    assert result.state is State.READY


@pytest.mark.parametrize("sslmode", ["require", "verify-full"])
def test_tls_required_but_server_has_ssl_off(pg_nossl: PgCluster, sslmode: str) -> None:
    result, lines = run(pg_nossl.url("postgres", sslmode=sslmode))
    assert result.state is State.REFUSED_LOGIN
    assert result.code == "sslmode"
    assert result.message == (
        f"the server does not offer TLS (it answered N to SSLRequest; sslmode={sslmode} "
        "requires TLS)"
    )
    assert not any(line.startswith("sent StartupMessage") for line in lines)


def test_prefer_falls_back_to_plain_when_ssl_is_off(pg_nossl: PgCluster) -> None:
    result, lines = run(pg_nossl.url("postgres", database="postgres"))
    assert result.state is State.READY
    assert result.message.endswith("(auth: trust)")
    assert "the server answered N: it does not accept TLS" in lines


@pytest.fixture(scope="module")
def pg_nossl_strict_hba(pg_template: PgTemplate) -> Iterator[PgCluster]:
    """ssl = off, and pg_hba lets only `postgres` in over TCP: any other user meets "no
    pg_hba.conf entry ... no encryption" on the plain connection `prefer` falls back to."""
    with pg_template.cluster("nossl-hba") as cluster:
        (cluster.data / "pg_hba.conf").write_text(
            "local all all trust\nhost all postgres 127.0.0.1/32 trust\n"
        )
        cluster.start("ssl=off")
        cluster.wait_ready()
        yield cluster


def test_prefer_does_not_retry_plain_text_when_the_first_try_was_plain(
    pg_nossl_strict_hba: PgCluster,
) -> None:
    # The server answered N to the SSLRequest: the StartupMessage already went in plain text,
    # and a second, identical one would get the same refusal.
    result, lines = run(pg_nossl_strict_hba.url("app", database="appdb"))
    assert result.state is State.REFUSED_LOGIN
    assert result.code == "28000"
    assert "no pg_hba.conf entry" in result.message
    assert "the server answered N: it does not accept TLS" in lines
    assert not any(line.startswith("trying again") for line in lines), lines
    assert sum(line.startswith("sent StartupMessage") for line in lines) == 1


def test_bad_sslmode_is_a_value_error(pg_nossl: PgCluster) -> None:
    with pytest.raises(ValueError, match="sslmode must be one of"):
        run(pg_nossl.url("postgres", sslmode="required"))


# -- real server: not ready ---------------------------------------------------------------


def test_standby_with_hot_standby_off(pg_standby: PgCluster) -> None:
    result, _ = run(pg_standby.url())
    assert result.state is State.NOT_READY
    assert result.code == "57P03"
    assert result.message == (
        "a standby, or a server in archive recovery, that does not accept connections "
        "(hot_standby = off) (the server says: the "
        "database system is not accepting connections. Hot standby mode is disabled; "
        "SQLSTATE 57P03)"
    )


def test_smart_shutdown_held_open_is_shutting_down(pg_shutting_down: PgCluster) -> None:
    result, _ = run(pg_shutting_down.url())
    assert result.state is State.NOT_READY
    assert result.code == "57P03"
    assert result.message.startswith("shutting down (the server says: the database system is")


def test_starting_up(pg_starting_up: PgCluster) -> None:
    result, _ = run(pg_starting_up.url())
    assert result.state is State.NOT_READY
    assert result.message.startswith("starting up (the server says: the database system is")


# -- SCRAM arithmetic and SASLprep --------------------------------------------------------


def test_scram_matches_the_rfc_7677_test_vector() -> None:
    client_first_bare = "n=user,r=rOprNGfwEbeRWgbNEkqO"
    server_first = (
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
    )
    salt = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
    final, server_signature = scram_final("pencil", client_first_bare, server_first, salt)
    assert final == (
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
        "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
    )
    assert server_signature == "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="


@pytest.mark.parametrize(
    ("password", "prepared"),
    [
        ("plain-ascii", b"plain-ascii"),
        ("I\u00adX", b"IX"),  # soft hyphen: mapped to nothing
        ("\u2168", b"IX"),  # ROMAN NUMERAL NINE: NFKC
        ("a\u00a0b", b"a b"),  # no-break space: a space
        ("\u00aa", b"a"),  # ordinal indicator: NFKC
        ("bad\u0007bell", "bad\u0007bell".encode()),  # ASCII: never touched
        ("x\u200ey", "x\u200ey".encode()),  # prohibited (C.8): the raw bytes, as the server
    ],
)
def test_saslprep(password: str, prepared: bytes) -> None:
    assert saslprep(password) == prepared


# -- fake servers -------------------------------------------------------------------------

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def message(kind: bytes, payload: bytes = b"") -> bytes:
    return kind + struct.pack("!i", len(payload) + 4) + payload


def auth(code: int, extra: bytes = b"") -> bytes:
    return message(b"R", struct.pack("!i", code) + extra)


READY_TAIL = (
    message(b"S", b"server_version\x0016.2 (fake)\x00")
    + message(b"K", struct.pack("!ii", 1, 2))
    + message(b"Z", b"I")
)


async def read_packet(reader: asyncio.StreamReader) -> bytes:
    """A startup-phase packet (no type byte): SSLRequest or StartupMessage."""
    (length,) = struct.unpack("!i", await reader.readexactly(4))
    return await reader.readexactly(length - 4)


async def read_message(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    kind = await reader.readexactly(1)
    (length,) = struct.unpack("!i", await reader.readexactly(4))
    return kind, await reader.readexactly(length - 4)


def against(handler: Handler, url_tail: str = "app?sslmode=disable", timeout: float = 3.0,
            password: str = "") -> tuple[ProbeResult, list[str]]:
    """Runs the probe against `handler` served on a free loopback port."""

    async def main() -> tuple[ProbeResult, list[str]]:
        async def guarded(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await handler(reader, writer)
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(guarded, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        auth_part = f"app:{password}@" if password else "app@"
        lines: list[str] = []
        try:
            url = f"postgresql://{auth_part}127.0.0.1:{port}/{url_tail}"
            result = await probe(target_for(url), time.monotonic() + timeout, lines.append)
        finally:
            server.close()
        return result, lines

    return asyncio.run(main())


def test_a_server_that_does_not_know_the_password_fails_the_signature() -> None:
    async def impostor(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_packet(reader)
        writer.write(auth(10, b"SCRAM-SHA-256\x00\x00"))
        _, body = await read_message(reader)
        nonce = body.split(b"r=", 1)[1].decode()
        salt = base64.b64encode(b"0123456789abcdef").decode()
        writer.write(auth(11, f"r={nonce}IMPOSTOR,s={salt},i=4096".encode()))
        await read_message(reader)  # the client's proof: we cannot check it, and say OK
        writer.write(auth(12, b"v=" + base64.b64encode(bytes(32))) + auth(0) + READY_TAIL)
        await writer.drain()

    result, lines = against(impostor, password="canary-impostor-pw")
    assert result.state is State.AUTH_REJECTED
    assert result.message.startswith("the server's SCRAM signature does not match")
    assert not any("canary-impostor-pw" in line for line in lines)


def test_a_scram_nonce_the_server_did_not_extend_is_refused() -> None:
    async def replayer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_packet(reader)
        writer.write(auth(10, b"SCRAM-SHA-256\x00\x00"))
        await read_message(reader)
        writer.write(auth(11, b"r=someone-elses-nonce,s=c2FsdA==,i=4096"))
        await writer.drain()
        await reader.read(100)

    result, _ = against(replayer, password="pw")
    assert result.state is State.AUTH_REJECTED
    assert result.message == "the server's SCRAM nonce does not extend ours"


def test_protocol_version_negotiation_is_tolerated() -> None:
    goodbye: list[bytes] = []

    async def newer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_packet(reader)
        negotiate = message(b"v", struct.pack("!ii", 0, 1) + b"_pq_.something\x00")
        writer.write(negotiate + auth(0) + READY_TAIL)
        await writer.drain()
        goodbye.append((await read_message(reader))[0])

    result, lines = against(newer)
    assert goodbye == [b"X"]  # the polite Terminate after ReadyForQuery
    assert result.state is State.READY
    assert result.message == "PostgreSQL 16.2 accepting connections (auth: trust)"
    assert any(line.startswith("NegotiateProtocolVersion") for line in lines)


def test_prefer_retries_in_plain_text_when_the_tls_handshake_fails() -> None:
    connections: list[bytes] = []

    async def broken_tls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        packet = await read_packet(reader)
        connections.append(packet[:4])
        if packet == struct.pack("!i", 80877103):
            writer.write(b"S")  # then hang up on the ClientHello
            await writer.drain()
            return
        writer.write(auth(0) + READY_TAIL)
        await writer.drain()
        await reader.read(100)

    result, lines = against(broken_tls, url_tail="app")
    assert result.state is State.READY
    assert result.message.endswith("(auth: trust)")
    assert len(connections) == 2
    assert any(line.startswith("trying again without TLS") for line in lines)


def test_require_does_not_fall_back_when_the_handshake_fails() -> None:
    async def broken_tls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_packet(reader)
        writer.write(b"S")
        await writer.drain()

    with pytest.raises(TlsFailure):
        against(broken_tls, url_tail="app?sslmode=require")


def test_unencrypted_bytes_after_the_tls_answer_are_refused() -> None:
    async def injector(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_packet(reader)
        writer.write(b"S" + auth(0) + READY_TAIL)  # plaintext where TLS must begin
        await writer.drain()
        await reader.read(100)

    with pytest.raises(TlsFailure) as caught:
        against(injector, url_tail="app?sslmode=require")
    assert "unencrypted data" in caught.value.reason


def test_an_auth_method_envdoctor_cannot_perform_needs_auth() -> None:
    async def gss(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_packet(reader)
        writer.write(auth(7))
        await writer.drain()
        await reader.read(100)

    result, _ = against(gss)
    assert result.state is State.NEEDS_AUTH
    assert result.message == (
        'user "app" must authenticate with GSSAPI, which envdoctor cannot perform '
        "(the server is up)"
    )


def test_too_many_connections_is_not_ready() -> None:
    async def full(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_packet(reader)
        fields = b"SFATAL\x00VFATAL\x00C53300\x00Msorry, too many clients already\x00\x00"
        writer.write(message(b"E", fields))
        await writer.drain()

    result, _ = against(full)
    assert result.state is State.NOT_READY
    assert result.code == "53300"
    assert result.message.startswith("too many connections (the server says: sorry, too many")


@pytest.mark.parametrize(
    ("reply", "protocol"),
    [
        (b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", "HTTP"),
        (b"ERROR\r\n", "memcached"),
        (b"-ERR unknown command\r\n", "Redis"),
    ],
)
@pytest.mark.parametrize("sslmode", ["disable", "prefer"])
def test_another_protocol_is_named(reply: bytes, protocol: str, sslmode: str) -> None:
    async def other(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(100)
        writer.write(reply)
        await writer.drain()
        await reader.read(100)

    result, _ = against(other, url_tail=f"app?sslmode={sslmode}")
    assert result.state is State.WRONG_PROTOCOL
    assert result.protocol == protocol
    assert result.message.startswith("it answered ")


def mysql_greeting(length: int) -> bytes:
    """A MySQL protocol-10 greeting whose payload is `length` bytes (its first byte)."""
    payload = (b"\x0a5.5.5-10.11.6-MariaDB\x00" + bytes(range(1, 100)))[:length]
    return struct.pack("<I", length)[:3] + b"\x00" + payload


@pytest.mark.parametrize("length", [ord("N"), ord("S"), ord("R"), ord("E"), 90])
@pytest.mark.parametrize("sslmode", ["disable", "prefer"])
def test_a_mysql_greeting_is_named_whatever_its_length_byte(length: int, sslmode: str) -> None:
    async def mysql(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(mysql_greeting(length))  # the server speaks first
        await writer.drain()
        await reader.read(100)

    result, _ = against(mysql, url_tail=f"app?sslmode={sslmode}")
    assert result.state is State.WRONG_PROTOCOL
    assert result.protocol == "MySQL"


def test_silence_is_no_answer_within_the_deadline() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(100)
        await asyncio.sleep(5)

    started = time.monotonic()
    with pytest.raises(NoAnswer):
        against(silent, timeout=0.3)
    assert time.monotonic() - started < 1.0
