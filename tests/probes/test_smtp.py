"""The SMTP probe against a real aiosmtpd (plain and implicit TLS), scripted banners (refusals,
multi-line, a postscreen-style pause, FTP), and a real MariaDB on the port."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.probes._helpers import seconds_to_no_answer, verdict_against
from tests.servers.hostile import HostileLoop, HostileServer
from tests.servers.mariadb import Mariadb
from tests.servers.smtp import SMTP_HOSTNAME, SMTP_IDENT, BannerServer, SmtpServer
from tests.servers.threaded import serve

from envdoctor.probes.connect import ProbeError
from envdoctor.probes.identify import identify
from envdoctor.probes.result import ProbeResult, State, Target
from envdoctor.probes.smtp import parse_line, probe
from envdoctor.probes.wire import Closed, TlsFailure, tls_context

Banner = Callable[[bytes], BannerServer]


def run(target: Target, timeout: float = 3.0) -> tuple[ProbeResult, list[str]]:
    log: list[str] = []
    result = asyncio.run(probe(target, time.monotonic() + timeout, log.append))
    return result, log


def test_aiosmtpd_greeting_names_host_and_software(smtp_server: SmtpServer) -> None:
    result, log = run(Target("127.0.0.1", smtp_server.port))
    assert result.state is State.READY
    assert result.message == f"SMTP server {SMTP_HOSTNAME} ({SMTP_IDENT}) ready"
    assert result.server == SMTP_IDENT
    assert result.code == "220"
    assert f"greeting: 220 {SMTP_HOSTNAME} {SMTP_IDENT}" in log
    assert log[-1] == "sent QUIT; the server answered 221"


def test_multi_line_greeting_is_read_to_its_end_then_quit(smtp_banner: Banner) -> None:
    server = smtp_banner(
        b"220-mx.example.org ESMTP Postfix (Debian/GNU)\r\n"
        b"220-No UCE, no spam\r\n"
        b"220 mx.example.org ready\r\n"
    )
    result, log = run(Target("127.0.0.1", server.port))
    assert result.state is State.READY
    assert result.message == "SMTP server mx.example.org (ESMTP Postfix (Debian/GNU)) ready"
    assert "greeting: 220 mx.example.org ESMTP Postfix (Debian/GNU) (+2 lines)" in log
    assert server.sessions() == [b"QUIT\r\n"]


@pytest.mark.parametrize(
    ("greeting", "message"),
    [
        (
            b"421 mx.example.org Service not available, closing transmission channel\r\n",
            "rejecting connections: 421 mx.example.org Service not available, closing "
            "transmission channel",
        ),
        (
            b"554-mx.example.org no SMTP service here\r\n554 your IP is listed\r\n",
            "rejecting connections: 554 mx.example.org no SMTP service here",
        ),
    ],
)
def test_refusing_greetings_are_not_ready(
    smtp_banner: Banner, greeting: bytes, message: str
) -> None:
    server = smtp_banner(greeting)
    result, _log = run(Target("127.0.0.1", server.port))
    assert result.state is State.NOT_READY
    assert result.message == message
    assert result.code == greeting[:3].decode()
    assert server.sessions() == [b"QUIT\r\n"]


def test_postscreen_pause_still_proves_smtp_and_is_not_interrupted(smtp_banner: Banner) -> None:
    server = smtp_banner(b"220-mx.example.org ESMTP\r\n")  # ... and the rest never comes
    result, log = run(Target("127.0.0.1", server.port), timeout=0.4)
    assert result.state is State.READY
    assert result.message == (
        "SMTP server mx.example.org (ESMTP) ready "
        "(its greeting was still unfinished after 1 line(s))"
    )
    assert "the deadline struck after 1 greeting line(s), before the greeting ended" in log
    # Speaking into the pause would mark us as a spammer: nothing was sent.
    assert server.sessions() == [b""]


def test_hang_up_in_the_middle_of_the_greeting_is_not_ready() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)

        async def go() -> ProbeResult:
            task = asyncio.ensure_future(
                probe(
                    Target("127.0.0.1", listener.getsockname()[1]),
                    time.monotonic() + 2,
                    lambda _t: None,
                )
            )
            conn, _ = await asyncio.get_running_loop().run_in_executor(None, listener.accept)
            conn.sendall(b"220-mx.example.org ESMTP\r\n")
            conn.close()
            return await task

        result = asyncio.run(go())
    assert result.state is State.NOT_READY
    assert result.message == "it hung up in the middle of its greeting (220 mx.example.org ESMTP)"


def test_ftp_banner_is_ftp(smtp_banner: Banner) -> None:
    server = smtp_banner(b"220 (vsFTPd 3.0.3)\r\n")
    result, _log = run(Target("127.0.0.1", server.port))
    assert result.state is State.WRONG_PROTOCOL
    assert result.protocol == "FTP"
    assert result.message == "it sent 220 (vsFTPd 3.0.3)\\r\\n"


def test_a_reply_code_smtp_does_not_greet_with(smtp_banner: Banner) -> None:
    server = smtp_banner(b"200 news.example.org NNTP Service Ready, posting permitted\r\n")
    result, _log = run(Target("127.0.0.1", server.port))
    assert result.state is State.WRONG_PROTOCOL
    assert result.protocol == ""


def test_ssh_is_named_at_once(smtp_banner: Banner) -> None:
    server = smtp_banner(b"SSH-2.0-OpenSSH_9.2p1\r\n")
    started = time.monotonic()
    result, _log = run(Target("127.0.0.1", server.port))
    assert time.monotonic() - started < 1.0
    assert result.state is State.WRONG_PROTOCOL
    assert result.protocol == "SSH"


def test_mariadb_greeting_is_mysql(mariadb: Mariadb) -> None:
    result, _log = run(Target("127.0.0.1", mariadb.port))
    assert result.state is State.WRONG_PROTOCOL
    assert result.protocol == "MySQL"
    assert result.message.startswith("it sent d\\x00\\x00\\x00\\n5.5.5-10.")


def test_silent_server_is_no_answer(black_hole: HostileServer) -> None:
    target = Target(black_hole.host, black_hole.port)
    assert seconds_to_no_answer(lambda: run(target, timeout=0.3)) < 1.0


def test_a_server_that_closes_at_once_is_closed_not_another_protocol(
    closer: HostileServer,
) -> None:
    # Nothing was sent: no "it sent " with nothing after it, but the transport's own Closed.
    started = time.monotonic()
    with pytest.raises(Closed) as caught:
        run(Target(closer.host, closer.port))
    assert caught.value.received == b""
    assert time.monotonic() - started < 1.0


def test_a_late_greeting_is_still_read() -> None:
    # A plain SMTP server may greet late (a slow reverse lookup): the TLS handshake tried on a
    # second connection meanwhile gets the same greeting in clear text, which proves nothing.
    def late(conn: socket.socket, stop: threading.Event) -> None:
        if not stop.wait(0.8):
            conn.sendall(b"220 mx.example.org ESMTP slow\r\n")
            conn.settimeout(2)
            conn.recv(100)

    with serve(late) as server:
        result, log = run(Target("127.0.0.1", server.port))
    assert result.state is State.READY, result
    assert result.message == "SMTP server mx.example.org (ESMTP slow) ready"
    assert any("trying TLS on a second connection" in line for line in log)


def test_another_protocol_waiting_for_the_client_is_named_by_the_tls_attempt(
    http_responder: HostileServer,
) -> None:
    # An HTTP server is silent too, but answers the ClientHello (a line that is no request)
    # with 400: named at once, not at the deadline.
    started = time.monotonic()
    result, _ = run(Target(http_responder.host, http_responder.port))
    assert result.state is State.WRONG_PROTOCOL
    assert result.protocol == "HTTP"
    assert result.message.startswith(
        "it sent no greeting, and answered a TLS handshake on a second connection with "
        "HTTP/1.1 400 Bad Request"
    )
    assert time.monotonic() - started < 1.5


# -- implicit TLS ---------------------------------------------------------------------------


def test_implicit_tls_with_verification_off(smtps_server: SmtpServer) -> None:
    target = Target("127.0.0.1", smtps_server.port, tls=tls_context(verify=False))
    result, log = run(target)
    assert result.state is State.READY
    assert result.message == f"SMTP server {SMTP_HOSTNAME} ({SMTP_IDENT}) ready over TLS"
    assert any(line.startswith("TLS established (TLSv1.") for line in log)
    assert log[-1] == "sent QUIT; the server answered 221"


def test_implicit_tls_trusting_its_certificate(smtps_server: SmtpServer) -> None:
    assert smtps_server.cert is not None
    context = ssl.create_default_context(cafile=str(smtps_server.cert))
    result, _log = run(Target("127.0.0.1", smtps_server.port, tls=context))
    assert result.state is State.READY


def test_self_signed_certificate_fails_verification(smtps_server: SmtpServer) -> None:
    with pytest.raises(TlsFailure) as caught:
        run(Target("127.0.0.1", smtps_server.port, tls=tls_context(verify=True)))
    assert "self-signed certificate" in caught.value.reason


def test_tls_to_a_plain_smtp_server_fails_with_its_banner(smtp_server: SmtpServer) -> None:
    with pytest.raises(TlsFailure) as caught:
        run(Target("127.0.0.1", smtp_server.port, tls=tls_context(verify=False)))
    assert "wrong version number" in caught.value.reason
    assert identify(caught.value.received) == "SMTP"


def test_plain_smtp_to_an_implicit_tls_port_says_use_smtps(smtps_server: SmtpServer) -> None:
    # An SMTPS server waits for a ClientHello: silence, then a handshake that completes.
    started = time.monotonic()
    result, log = run(Target("127.0.0.1", smtps_server.port))
    assert result.state is State.WRONG_PROTOCOL
    assert result.protocol == "TLS"
    assert result.message == (
        "it sent no greeting in plain text, but completed a TLS handshake on a second "
        "connection: the server expects TLS first (implicit TLS, as on port 465): use smtps://"
    )
    assert time.monotonic() - started < 1.5  # at the patience, not at the deadline
    assert any(line.startswith("TLS established (TLSv1.") for line in log)


def test_parse_line() -> None:
    assert parse_line(b"220-mx ESMTP\r\n") == ("220", True, "mx ESMTP")
    assert parse_line(b"220 mx\r\n") == ("220", False, "mx")
    assert parse_line(b"220\r\n") == ("220", False, "")
    assert parse_line(b"* OK IMAP4rev1\r\n") is None


# -- whatever a server sends ------------------------------------------------------------------


_LINES = st.lists(
    st.sampled_from(
        [b"220-mx ESMTP\r\n", b"220 mx\r\n", b"421 busy\r\n", b"554-no\r\n", b"250 ok\r\n",
         b"220", b"\r\n", b"hello\r\n", b"220-\xff\xfe\r\n", b"\n"]
    ),
    max_size=6,
).map(b"".join)  # fmt: skip


@settings(max_examples=80, deadline=None)
@given(data=st.one_of(st.binary(max_size=200), _LINES))
def test_any_bytes_give_a_verdict_or_a_probe_error(hostile_loop: HostileLoop, data: bytes) -> None:
    outcome = verdict_against(hostile_loop, data, probe)
    assert isinstance(outcome, ProbeResult | ProbeError)
    if isinstance(outcome, ProbeResult):
        assert outcome.message
        if outcome.state is State.READY:
            assert data.startswith(b"220")
