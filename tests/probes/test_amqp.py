"""The AMQP 0-9-1 probe against a real rabbitmq-server, and fake brokers for what RabbitMQ
never says: another AMQP version's header, another protocol, a hang-up after the login."""

from __future__ import annotations

import asyncio
import re
import socket
import struct
import time
from typing import Any

import pytest
from tests.servers.rabbitmq import (
    Rabbit,
    answer,
    close_frame,
    fake_broker,
    longstr,
    read_frame,
    recv_exactly,
    shortstr,
    start_frame,
    table,
    tune_frame,
)

from envdoctor.probes.amqp import (
    HEADER,
    Malformed,
    decode_table,
    encode_table,
    header_version,
    probe,
)
from envdoctor.probes.result import ProbeResult, State, Target
from envdoctor.probes.wire import Closed, tls_context


def run_probe(
    port: int,
    *,
    user: str = "",
    password: str = "",
    vhost: str = "",
    tls: Any = None,
    timeout: float = 5.0,
) -> tuple[ProbeResult, list[str]]:
    lines: list[str] = []
    target = Target("127.0.0.1", port, user=user, password=password, database=vhost, tls=tls)
    result = asyncio.run(probe(target, time.monotonic() + timeout, lines.append))
    return result, lines


# -- the real broker ------------------------------------------------------------------------


def test_connection_start_names_the_product_and_version(rabbitmq: Rabbit) -> None:
    result, lines = run_probe(rabbitmq.port)
    assert result.state is State.READY
    assert re.fullmatch(r"RabbitMQ 3\.\d+\.\d+", result.server)
    assert result.server == f"RabbitMQ {rabbitmq.version}"
    assert result.message == f"RabbitMQ {rabbitmq.version} accepting connections " \
        "(mechanisms: AMQPLAIN PLAIN)"
    assert lines[-1].startswith(f"Connection.Start: RabbitMQ {rabbitmq.version} (protocol 0-9")


def test_login_and_vhost_open(rabbitmq: Rabbit) -> None:
    result, lines = run_probe(
        rabbitmq.port, user=rabbitmq.user, password=rabbitmq.password, vhost=rabbitmq.vhost
    )
    assert result.state is State.READY, result.message
    assert result.message == (
        f'RabbitMQ {rabbitmq.version} accepting connections (user "envdoctor" logged in, '
        'vhost "envdoctor-vh" open)'
    )
    assert any(line.startswith("Connection.Tune: credentials accepted") for line in lines)
    assert "Connection.Open-Ok" in lines
    assert lines[-1] == "Connection.Close-Ok: closed cleanly"
    assert not any(rabbitmq.password in line for line in lines)


def test_no_vhost_in_the_url_means_the_default_vhost(rabbitmq: Rabbit) -> None:
    result, _ = run_probe(rabbitmq.port, user=rabbitmq.user, password=rabbitmq.password)
    assert result.state is State.READY, result.message
    assert result.message.endswith('(user "envdoctor" logged in, vhost "/" open)')


def test_wrong_password_is_access_refused(rabbitmq: Rabbit) -> None:
    canary = "wrong-canary-3f9a"
    result, lines = run_probe(rabbitmq.port, user=rabbitmq.user, password=canary)
    assert result.state is State.AUTH_REJECTED
    assert result.code == "403"
    assert result.message.startswith('user "envdoctor" was refused: 403 ACCESS_REFUSED - Login')
    assert "Connection.Close 403: ACCESS_REFUSED" in lines[-1]
    assert not any(canary in line for line in lines)
    assert canary not in result.message


def test_unknown_user_is_access_refused(rabbitmq: Rabbit) -> None:
    result, _ = run_probe(rabbitmq.port, user="nobody-here", password="x")
    assert result.state is State.AUTH_REJECTED
    assert result.code == "403"


def test_missing_vhost_is_a_refused_login(rabbitmq: Rabbit) -> None:
    result, _ = run_probe(
        rabbitmq.port, user=rabbitmq.user, password=rabbitmq.password, vhost="no-such-vhost"
    )
    assert result.state is State.REFUSED_LOGIN
    assert result.code == "530"
    assert result.message.startswith('vhost "no-such-vhost" does not exist (530 NOT_ALLOWED')


def test_vhost_without_permissions_is_a_refused_login(rabbitmq: Rabbit) -> None:
    result, _ = run_probe(
        rabbitmq.port, user=rabbitmq.user, password=rabbitmq.password, vhost=rabbitmq.locked_vhost
    )
    assert result.state is State.REFUSED_LOGIN
    assert result.code == "530"
    assert result.message.startswith('user "envdoctor" has no access to vhost "locked-vh" (530')


def test_amqps_speaks_tls_first(rabbitmq: Rabbit) -> None:
    result, lines = run_probe(
        rabbitmq.tls_port,
        user=rabbitmq.user,
        password=rabbitmq.password,
        tls=tls_context(verify=False),
    )
    assert result.state is State.READY, result.message
    assert any(line.startswith("TLS established (TLSv1.") for line in lines)


def test_plain_amqp_on_the_tls_port_is_named_tls(rabbitmq: Rabbit) -> None:
    result, _ = run_probe(rabbitmq.tls_port, timeout=2.0)
    # The TLS listener answers a plain AMQP header with a TLS alert record.
    assert result.state is State.WRONG_PROTOCOL
    assert result.protocol == "TLS"
    assert result.message.startswith(
        r"the port speaks TLS: it answered the plain AMQP protocol header with a TLS record (\x15"
    )
    assert result.message.endswith("); use amqps://")


# -- fake brokers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "protocol", "version"),
    [
        (b"AMQP\x00\x01\x00\x00", "AMQP 1.0", "1.0"),
        (b"AMQP\x03\x01\x00\x00", "AMQP 1.0", "1.0 (SASL)"),
        (b"AMQP\x01\x01\x00\x0a", "AMQP 0-10", "0-10"),
        (b"AMQP\x01\x01\x08\x00", "AMQP 0-8", "0-8"),
    ],
)
def test_another_amqp_version_is_named(header: bytes, protocol: str, version: str) -> None:
    with fake_broker(answer(header)) as (port, seen):
        result, lines = run_probe(port)
    assert seen["header"] == HEADER
    assert result.state is State.WRONG_PROTOCOL
    assert result.protocol == protocol
    assert result.message == (
        f"an AMQP {version} broker: it answered the 0-9-1 protocol header with its own, "
        + repr(header)[2:-1]
    )
    assert lines[-1].startswith("the server answered with a protocol header: AMQP")


def test_header_versions() -> None:
    assert header_version(HEADER) == "0-9-1"
    assert header_version(b"AMQP\x00\x01\x00\x00") == "1.0"
    assert header_version(b"AMQP\x02\x01\x00\x00") == "1.0 (TLS)"
    assert header_version(b"AMQP\x01\x01\x00\x09") == "0-9"


def test_our_own_header_back_is_not_connection_start() -> None:
    with fake_broker(answer(HEADER)) as (port, _seen):
        result, _ = run_probe(port)
    assert result.state is State.WRONG_PROTOCOL
    assert result.protocol == ""
    assert "instead of Connection.Start" in result.message


def test_http_on_the_port_is_named() -> None:
    reply = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"
    with fake_broker(answer(reply)) as (port, _seen):
        result, _ = run_probe(port)
    assert result.state is State.WRONG_PROTOCOL
    assert result.protocol == "HTTP"
    assert result.message.startswith(r"it answered the AMQP protocol header with HTTP/1.1 400")


def test_unrecognisable_bytes_are_the_wrong_protocol() -> None:
    with fake_broker(answer(b"\x00\x07garbage")) as (port, _seen):
        result, _ = run_probe(port)
    assert result.state is State.WRONG_PROTOCOL
    assert result.protocol == ""
    assert result.message == r"it answered the AMQP protocol header with \x00\x07garbage"


def test_a_frame_that_is_not_start_is_the_wrong_protocol() -> None:
    with fake_broker(answer(tune_frame())) as (port, _seen):
        result, _ = run_probe(port)
    assert result.state is State.WRONG_PROTOCOL
    assert result.protocol == ""
    assert result.message.endswith("(Connection.Tune, not Connection.Start)")


def test_a_bad_frame_end_is_the_wrong_protocol() -> None:
    frame = start_frame()[:-1] + b"\x00"
    with fake_broker(answer(frame)) as (port, _seen):
        result, _ = run_probe(port)
    assert result.state is State.WRONG_PROTOCOL
    assert result.message.endswith("(frame end 0x00 instead of 0xce)")


def test_a_huge_frame_size_is_not_waited_for() -> None:
    with fake_broker(answer(b"\x01\x00\x00\x7f\xff\xff\xff")) as (port, _seen):
        started = time.monotonic()
        result, _ = run_probe(port)
    assert time.monotonic() - started < 1.0
    assert result.state is State.WRONG_PROTOCOL
    assert "not an AMQP frame header" in result.message


def test_truncated_start_hangs_up_as_closed() -> None:
    with fake_broker(answer(start_frame()[:20])) as (port, _seen), pytest.raises(Closed) as caught:
        run_probe(port)
    assert caught.value.received == start_frame()[:20]


def test_every_field_type_in_server_properties_is_decoded() -> None:
    nested = table(shortstr("publisher_confirms") + b"t\x01")
    array = longstr(b"S" + longstr(b"a") + b"I" + struct.pack(">i", -2) + b"V")
    entries = (
        shortstr("product") + b"S" + longstr(b"FakeMQ")
        + shortstr("version") + b"S" + longstr(b"1.2.3")
        + shortstr("t") + b"t\x00"
        + shortstr("b") + b"b" + struct.pack(">b", -5)
        + shortstr("B") + b"B\xfa"
        + shortstr("s") + b"s" + struct.pack(">h", -300)
        + shortstr("u") + b"u" + struct.pack(">H", 60000)
        + shortstr("I") + b"I" + struct.pack(">i", -70000)
        + shortstr("i") + b"i" + struct.pack(">I", 4000000000)
        + shortstr("l") + b"l" + struct.pack(">q", -(2**40))
        + shortstr("L") + b"L" + struct.pack(">Q", 2**63)
        + shortstr("f") + b"f" + struct.pack(">f", 1.5)
        + shortstr("d") + b"d" + struct.pack(">d", -2.25)
        + shortstr("D") + b"D\x02" + struct.pack(">i", 12345)
        + shortstr("x") + b"x" + longstr(b"\x00\xff")
        + shortstr("A") + b"A" + array
        + shortstr("T") + b"T" + struct.pack(">Q", 1700000000)
        + shortstr("capabilities") + b"F" + nested
        + shortstr("V") + b"V"
    )
    decoded = decode_table(table(entries))
    assert decoded == {
        "product": "FakeMQ",
        "version": "1.2.3",
        "t": False,
        "b": -5,
        "B": 250,
        "s": -300,
        "u": 60000,
        "I": -70000,
        "i": 4000000000,
        "l": -(2**40),
        "L": 2**63,
        "f": 1.5,
        "d": -2.25,
        "D": 123.45,
        "x": b"\x00\xff",
        "A": ["a", -2, None],
        "T": 1700000000,
        "capabilities": {"publisher_confirms": True},
        "V": None,
    }
    # ... and the probe reads the product and version out of such a Start.
    with fake_broker(answer(start_frame(table(entries), "PLAIN"))) as (port, _seen):
        result, _ = run_probe(port)
    assert result.state is State.READY
    assert result.message == "FakeMQ 1.2.3 accepting connections (mechanisms: PLAIN)"


@pytest.mark.parametrize(
    "data",
    [
        table(shortstr("x") + b"Z\x00"),  # unknown type
        table(shortstr("x") + b"S" + struct.pack(">I", 99) + b"ab"),  # string past the end
        table(shortstr("x")),  # name without a value
        struct.pack(">I", 10) + b"\x00",  # table size past the end
        table(b"") + b"extra",
    ],
)
def test_malformed_tables_raise(data: bytes) -> None:
    with pytest.raises(Malformed):
        decode_table(data)


def test_encoded_client_properties_decode_back() -> None:
    props = {"product": "envdoctor", "capabilities": {"authentication_failure_close": True}}
    assert decode_table(encode_table(props)) == props


def test_start_without_product_still_ready() -> None:
    with fake_broker(answer(start_frame(table(b""), "PLAIN"))) as (port, _seen):
        result, _ = run_probe(port)
    assert result.state is State.READY
    assert result.message == "an AMQP 0-9-1 broker accepting connections (mechanisms: PLAIN)"


def login_script(after_login: bytes | None, after_open: bytes | None = None) -> Any:
    """Start, read Start-Ok (recorded), send `after_login` (None: hang up); then read Tune-Ok
    and Open and send `after_open` (None: hang up)."""

    def script(conn: socket.socket, seen: dict[str, Any]) -> None:
        seen["header"] = recv_exactly(conn, 8)
        conn.sendall(start_frame())
        seen["start_ok"] = read_frame(conn)
        if after_login is None:
            return
        conn.sendall(after_login)
        if after_open is None and after_login != tune_frame():
            seen["close_ok"] = read_frame(conn)
            return
        seen["tune_ok"] = read_frame(conn)
        seen["open"] = read_frame(conn)
        if after_open is not None:
            conn.sendall(after_open)
            seen["after"] = read_frame(conn)

    return script


def test_start_ok_carries_plain_and_the_capability() -> None:
    with fake_broker(login_script(close_frame(403, "ACCESS_REFUSED - no"))) as (port, seen):
        result, _ = run_probe(port, user="u", password="p@ss")
    frame = seen["start_ok"]
    assert frame[7:11] == b"\x00\x0a\x00\x0b"
    assert b"authentication_failure_close" in frame
    assert b"\x05PLAIN" in frame
    assert longstr(b"\x00u\x00p@ss") in frame
    assert result.state is State.AUTH_REJECTED
    assert result.message == 'user "u" was refused: 403 ACCESS_REFUSED - no'
    assert seen["close_ok"][7:11] == b"\x00\x0a\x00\x33"  # we answered Close with Close-Ok


def test_a_hang_up_after_the_login_is_a_rejected_login() -> None:
    with fake_broker(login_script(None)) as (port, _seen):
        result, lines = run_probe(port, user="u", password="secret-canary")
    assert result.state is State.AUTH_REJECTED
    assert result.message == 'the broker closed the connection after the login of user "u"'
    assert "secret-canary" not in " ".join(lines)


def test_amqplain_when_plain_is_not_offered() -> None:
    def script(conn: socket.socket, seen: dict[str, Any]) -> None:
        recv_exactly(conn, 8)
        conn.sendall(start_frame(mechanisms="AMQPLAIN"))
        seen["start_ok"] = read_frame(conn)
        conn.sendall(close_frame(403, "ACCESS_REFUSED - nope"))

    with fake_broker(script) as (port, seen):
        result, _ = run_probe(port, user="u", password="pw")
    assert b"\x08AMQPLAIN" in seen["start_ok"]
    body = shortstr("LOGIN") + b"S" + longstr(b"u") + shortstr("PASSWORD") + b"S" + longstr(b"pw")
    assert longstr(body) in seen["start_ok"]
    assert result.state is State.AUTH_REJECTED


def test_no_usable_mechanism_is_ready_without_a_login() -> None:
    with fake_broker(answer(start_frame(mechanisms="EXTERNAL"))) as (port, _seen):
        result, _ = run_probe(port, user="u", password="pw")
    assert result.state is State.READY
    assert "login not checked: it offers EXTERNAL" in result.message


def test_tune_ok_and_open_carry_the_vhost() -> None:
    open_ok = b"\x01\x00\x00\x00\x00\x00\x05\x00\x0a\x00\x29\x00\xce"
    with fake_broker(login_script(tune_frame(), open_ok)) as (port, seen):
        result, _ = run_probe(port, user="u", password="pw", vhost="a/b")
    assert seen["tune_ok"][7:11] == b"\x00\x0a\x00\x1f"
    assert seen["tune_ok"][11:19] == struct.pack(">HIH", 2047, 131072, 0)  # heartbeats off
    assert seen["open"][7:11] == b"\x00\x0a\x00\x28"
    assert seen["open"][11:15] == shortstr("a/b")
    assert seen["after"][7:13] == b"\x00\x0a\x00\x32\x00\xc8"  # Connection.Close 200
    assert result.state is State.READY
    assert result.message == (
        'FakeMQ 9.9.9 accepting connections (user "u" logged in, vhost "a/b" open)'
    )


def test_connection_forced_on_open_is_not_ready() -> None:
    closing = close_frame(320, "CONNECTION_FORCED - broker forced connection closure")
    with fake_broker(login_script(tune_frame(), closing)) as (port, _seen):
        result, _ = run_probe(port, user="u", password="pw")
    assert result.state is State.NOT_READY
    assert result.code == "320"
    assert "shutting down" in result.message


def test_a_broker_text_that_echoes_the_password_is_masked() -> None:
    closing = close_frame(403, "ACCESS_REFUSED - bad password hunter2-canary")
    with fake_broker(login_script(closing)) as (port, _seen):
        result, lines = run_probe(port, user="u", password="hunter2-canary")
    assert "hunter2-canary" not in result.message + " ".join(lines)
    assert result.message.endswith("bad password ***")


def test_silence_after_the_login_is_not_ready_at_the_deadline() -> None:
    def script(conn: socket.socket, seen: dict[str, Any]) -> None:
        recv_exactly(conn, 8)
        conn.sendall(start_frame())
        read_frame(conn)
        time.sleep(1.0)

    with fake_broker(script) as (port, _seen):
        started = time.monotonic()
        result, _ = run_probe(port, user="u", password="pw", timeout=0.5)
    assert 0.45 <= time.monotonic() - started < 1.2
    assert result.state is State.NOT_READY
    assert result.message == "FakeMQ 9.9.9 did not answer the login before the deadline"


@pytest.mark.parametrize(
    ("code", "state"), [(320, State.NOT_READY), (530, State.REFUSED_LOGIN)]
)
def test_close_instead_of_start(code: int, state: State) -> None:
    text = "CONNECTION_FORCED - node going down" if code == 320 else "NOT_ALLOWED - too many"
    with fake_broker(answer(close_frame(code, text))) as (port, _seen):
        result, lines = run_probe(port)
    assert result.state is state
    assert result.code == str(code)
    assert result.message.startswith(
        f"the broker closed the connection after the protocol header: {code} {text}"
    )
    assert lines[-1] == f"Connection.Close {code} instead of Connection.Start: {text}"


def test_a_truncated_close_after_the_login_still_counts() -> None:
    truncated = b"\x01\x00\x00\x00\x00\x00\x05\x00\x0a\x00\x32\x01\xce"  # Close, half a code
    with fake_broker(login_script(truncated)) as (port, _seen):
        result, _ = run_probe(port, user="u", password="pw")
    assert result.state is State.REFUSED_LOGIN
    assert result.message == "FakeMQ 9.9.9 closed the connection after the login: 0 (no reply code)"
