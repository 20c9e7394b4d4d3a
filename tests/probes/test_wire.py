"""The probes' connection: reads bounded by one absolute deadline, received bytes kept for
recognising the protocol, clean errors for hang-ups, and TLS started at any point."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time
from pathlib import Path

import pytest
from tests.conftest import closed_port
from tests.servers.process import self_signed_cert
from tests.servers.threaded import Handle, serve

from envdoctor.probes.connect import Refused
from envdoctor.probes.wire import Closed, NoAnswer, TlsFailure, Wire, tls_context


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_read_until_and_exactly_over_a_real_connection() -> None:
    def handler(conn: socket.socket, _stop: threading.Event) -> None:
        data = conn.recv(100)
        conn.sendall(b"+" + data + b"\r\nabcdef")

    async def go() -> tuple[bytes, bytes, bytes]:
        async with await Wire.open("127.0.0.1", server.port, time.monotonic() + 2) as wire:
            await wire.send(b"PING")
            line = await wire.read_until(b"\r\n")
            three = await wire.read_exactly(3)
            rest = await wire.read_some()
            return line, three, rest

    with serve(handler) as server:
        assert run(go()) == (b"+PING\r\n", b"abc", b"def")


def test_a_dripping_server_is_cut_at_the_deadline_not_per_read() -> None:
    def handler(conn: socket.socket, _stop: threading.Event) -> None:
        for _ in range(40):
            try:
                conn.sendall(b"x")
            except OSError:
                return
            time.sleep(0.1)

    async def go() -> None:
        async with await Wire.open("127.0.0.1", server.port, time.monotonic() + 0.5) as wire:
            await wire.read_until(b"\r\n")

    with serve(handler) as server:
        started = time.monotonic()
        with pytest.raises(NoAnswer) as caught:
            run(go())
        took = time.monotonic() - started
    assert took < 1.0
    assert caught.value.received.startswith(b"xx")
    assert caught.value.phase == "read"


def test_silence_is_no_answer_with_nothing_received() -> None:
    with serve(lambda _conn, stop: stop.wait(1)) as server:

        async def go() -> None:
            async with await Wire.open("127.0.0.1", server.port, time.monotonic() + 0.2) as wire:
                await wire.read_some()

        with pytest.raises(NoAnswer) as caught:
            run(go())
    assert caught.value.received == b""


def test_a_hang_up_is_closed_with_what_was_sent_before() -> None:
    def handler(conn: socket.socket, _stop: threading.Event) -> None:
        conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
        conn.close()

    async def go() -> None:
        async with await Wire.open("127.0.0.1", server.port, time.monotonic() + 2) as wire:
            await wire.read_exactly(100)

    with serve(handler) as server, pytest.raises(Closed) as caught:
        run(go())
    assert caught.value.received == b"SSH-2.0-OpenSSH_9.2\r\n"
    assert "after 21 bytes" in caught.value.message


def test_connect_errors_come_from_connect() -> None:
    with pytest.raises(Refused):
        run(Wire.open("127.0.0.1", closed_port(), time.monotonic() + 1))


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed_cert(tmp_path_factory.mktemp("tls"))


def tls_echo(cert: Path, key: Path, *, starttls: bool = False) -> Handle:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    def handler(conn: socket.socket, _stop: threading.Event) -> None:
        try:
            if starttls:
                assert conn.recv(8) == b"STARTTLS"
                conn.sendall(b"S")
            with context.wrap_socket(conn, server_side=True) as tls:
                tls.sendall(b"hello " + tls.recv(100))
        except (OSError, AssertionError):
            pass

    return handler


def test_tls_from_the_first_byte_with_and_without_verification(certificate) -> None:  # type: ignore[no-untyped-def]
    cert, key = certificate

    async def go(context: ssl.SSLContext) -> bytes:
        wire = await Wire.open(
            "127.0.0.1", server.port, time.monotonic() + 3, tls=context, server_hostname="localhost"
        )
        async with wire:
            assert wire.tls
            await wire.send(b"there")
            return await wire.read_exactly(11)

    with serve(tls_echo(cert, key)) as server:
        assert run(go(tls_context(verify=False))) == b"hello there"
        with pytest.raises(TlsFailure) as caught:
            run(go(tls_context(verify=True)))
        assert "certificate" in caught.value.message
        trusting = ssl.create_default_context(cafile=str(cert))
        assert run(go(trusting)) == b"hello there"


def test_tls_started_mid_conversation(certificate) -> None:  # type: ignore[no-untyped-def]
    cert, key = certificate

    async def go() -> bytes:
        async with await Wire.open("127.0.0.1", server.port, time.monotonic() + 3) as wire:
            await wire.send(b"STARTTLS")
            assert await wire.read_exactly(1) == b"S"
            await wire.start_tls(tls_context(verify=False), "localhost")
            await wire.send(b"later")
            return await wire.read_exactly(11)

    with serve(tls_echo(cert, key, starttls=True)) as server:
        assert run(go()) == b"hello later"


def test_tls_to_a_plain_text_server_fails_with_the_bytes_it_sent() -> None:
    def handler(conn: socket.socket, _stop: threading.Event) -> None:
        conn.recv(1000)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        time.sleep(0.3)

    async def go() -> None:
        await Wire.open("127.0.0.1", server.port, time.monotonic() + 2, tls=tls_context(False))

    with serve(handler) as server, pytest.raises(TlsFailure) as caught:
        run(go())
    assert caught.value.phase == "tls"
    assert "wrong version number" in caught.value.reason
    assert caught.value.received.startswith(b"HTTP/1.1 400")


def test_a_silent_tls_server_is_no_answer_in_the_tls_phase() -> None:
    with serve(lambda _conn, stop: stop.wait(1)) as server, pytest.raises(NoAnswer) as caught:
        run(Wire.open("127.0.0.1", server.port, time.monotonic() + 0.2, tls=tls_context(False)))
    assert caught.value.phase == "tls"


def test_contexts_are_shared() -> None:
    assert tls_context(True) is tls_context(True)
    assert tls_context(False) is not tls_context(True)
    assert tls_context(False).verify_mode == ssl.CERT_NONE
