"""The HTTP probe against real local servers: what `fetch` returns or raises, under one total
deadline, through one shared client per event loop, with no proxy for loopback."""

from __future__ import annotations

import asyncio
import gc
import time
import warnings
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import closed_port
from tests.servers import http_fake
from tests.servers.hostile import HostileLoop
from tests.servers.http_fake import Web
from tests.servers.mariadb import Mariadb
from tests.servers.process import self_signed_cert

from envdoctor.probes import http
from envdoctor.probes.connect import DnsError, Refused
from envdoctor.probes.http import (
    BODY_LIMIT,
    HttpAnswer,
    HttpRequest,
    HttpState,
    Incomplete,
    NotHttp,
    PlainHttp,
    SpeaksTls,
    classify,
    expected_text,
    fetch,
    is_loopback,
)
from envdoctor.probes.identify import identify
from envdoctor.probes.result import State, Target
from envdoctor.probes.wire import Closed, NoAnswer, TlsFailure


@pytest.fixture(scope="module")
def web() -> Iterator[Web]:
    with http_fake.web() as server:
        yield server


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed_cert(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def tls_web(cert: tuple[Path, Path]) -> Iterator[Web]:
    with http_fake.web(tls=cert) as server:
        yield server


def get(url: str, timeout: float = 2.0, **kw: Any) -> tuple[HttpAnswer, list[str]]:
    """One fetch on a fresh event loop: the answer and the evidence it logged."""
    log: list[str] = []

    async def go() -> HttpAnswer:
        return await fetch(HttpRequest(url, **kw), time.monotonic() + timeout, log.append)

    return asyncio.run(go()), log


def failure(url: str, timeout: float = 2.0, **kw: Any) -> tuple[Exception, float]:
    """The ProbeError a fetch raises, and how long it took."""
    started = time.monotonic()
    with pytest.raises(Exception) as caught:
        get(url, timeout, **kw)
    return caught.value, time.monotonic() - started


def test_reads_status_and_body(web: Web) -> None:
    answer, log = get(web.url("/ok"))
    assert (answer.status, answer.status_text) == (200, "200 OK")
    assert answer.body == b"hello from the fake server: status green\n"
    assert not answer.truncated
    assert answer.content_type == "text/plain; charset=utf-8"
    assert any(line.startswith(f"127.0.0.1:{web.port}: connected in ") for line in log)
    assert "answer: HTTP/1.1 200 OK (text/plain; charset=utf-8)" in log


def test_redirects_are_reported_not_followed(web: Web) -> None:
    answer, _ = get(web.url("/redirect"))
    assert answer.status == 302
    assert answer.location == "/ok"
    assert classify(answer) is HttpState.READY
    assert classify(answer, [200]) is HttpState.UNEXPECTED_STATUS


def test_body_is_capped_at_one_mebibyte(web: Web) -> None:
    answer, log = get(web.url("/big"))
    assert len(answer.body) == BODY_LIMIT
    assert answer.truncated
    assert classify(answer, contains="needle-at-the-end") is HttpState.BODY_MISMATCH
    assert any("the rest left" in line for line in log)


def test_method_and_headers_are_sent(web: Web) -> None:
    answer, _ = get(web.url("/method"), method="POST")
    assert answer.body == b"you sent POST"
    answer, log = get(web.url("/gate"), headers={"X-Canary": web.canary})
    assert answer.status == 200
    assert web.seen[-1].canary == web.canary
    assert "X-Canary" in web.seen[-1].header_names
    assert not any(web.canary in line for line in log)


def test_head_reads_no_body(web: Web) -> None:
    answer, _ = get(web.url("/ok"), method="HEAD")
    assert answer.status == 200
    assert answer.body == b""
    assert web.seen[-1].method == "HEAD"


def test_basic_auth_from_the_login(web: Web) -> None:
    answer, _ = get(web.url("/basic"), auth=(web.user, web.password))
    assert answer.status == 200
    answer, _ = get(web.url("/basic"), auth=(web.user, "wrong"))
    assert classify(answer, credentials=True) is HttpState.AUTH_REJECTED
    assert classify(answer, credentials=False) is HttpState.NEEDS_AUTH


@pytest.mark.parametrize(
    ("path", "expect", "state"),
    [
        ("/ok", None, HttpState.READY),
        ("/login", None, HttpState.NEEDS_AUTH),
        ("/forbidden", None, HttpState.NEEDS_AUTH),
        ("/unavailable", None, HttpState.NOT_READY),
        ("/nope", None, HttpState.UNEXPECTED_STATUS),
        ("/nope", [404], HttpState.READY),
        ("/unavailable", [503], HttpState.READY),
        ("/ok", [204], HttpState.UNEXPECTED_STATUS),
    ],
)
def test_classification(web: Web, path: str, expect: list[int] | None, state: HttpState) -> None:
    answer, _ = get(web.url(path))
    assert classify(answer, expect) is state


def test_contains_matches_the_text(web: Web) -> None:
    answer, _ = get(web.url("/ok"))
    assert classify(answer, contains="status green") is HttpState.READY
    assert classify(answer, contains="status red") is HttpState.BODY_MISMATCH


def test_expected_text() -> None:
    assert expected_text(None) == "2xx or 3xx"
    assert expected_text([200]) == "200"
    assert expected_text([200, 204]) == "200 or 204"
    assert expected_text([200, 201, 204, 201]) == "200, 201 or 204"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LOCALHOST.", True),
        ("api.localhost", True),
        ("127.0.0.1", True),
        ("127.3.2.1", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("0.0.0.0", True),
        ("10.0.0.1", False),
        ("example.com", False),
        ("localhost.example.com", False),
        ("128.0.0.1", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


# -- the total deadline --------------------------------------------------------------------


def test_a_dripping_head_is_cut_at_the_deadline() -> None:
    with http_fake.drip() as server:
        exc, took = failure(server.url(), timeout=1.0)
    assert isinstance(exc, NoAnswer) and not isinstance(exc, Incomplete)
    assert exc.received and b"HTTP/1.1 200 OK".startswith(exc.received)
    assert 0.95 <= took <= 1.3


def test_a_dripping_body_is_cut_at_the_deadline() -> None:
    with http_fake.drip(head_at_once=True) as server:
        exc, took = failure(server.url(), timeout=1.0)
    assert isinstance(exc, Incomplete)
    assert (exc.status, exc.status_text) == (200, "200 OK")
    assert 1 <= exc.body_read <= 3
    assert 0.95 <= took <= 1.3


def test_a_black_hole_is_no_answer() -> None:
    with http_fake.black_hole() as server:
        exc, took = failure(server.url(), timeout=0.5)
    assert isinstance(exc, NoAnswer)
    assert exc.received == b""
    assert 0.45 <= took <= 0.8


def test_fifty_black_holes_share_one_client_and_one_deadline() -> None:
    clients: list[Any] = []

    async def go(port: int) -> list[Any]:
        deadline = time.monotonic() + 1.0
        requests = [
            fetch(HttpRequest(f"http://127.0.0.1:{port}/{i}"), deadline, lambda _text: None)
            for i in range(50)
        ]
        results = await asyncio.gather(*requests, return_exceptions=True)
        state = http._BY_LOOP[asyncio.get_running_loop()]
        clients.extend(state.clients.values())
        return results

    with http_fake.black_hole() as server:
        started = time.monotonic()
        results = asyncio.run(go(server.port))
        took = time.monotonic() - started
    assert all(isinstance(r, NoAnswer) for r in results)
    assert len(clients) == 1
    assert clients[0].is_closed  # closed when the loop shut down
    assert took <= 1.5


# -- what the transport tells ------------------------------------------------------------


def test_refused_and_dns_are_the_shared_errors() -> None:
    exc, took = failure(f"http://127.0.0.1:{closed_port()}/")
    assert isinstance(exc, Refused)
    assert took < 0.5
    exc, _ = failure("http://no-such-host.envdoctor.invalid/")
    assert isinstance(exc, DnsError) and exc.not_found


def test_another_protocol_is_named_at_once() -> None:
    with http_fake.line_server() as server:
        exc, took = failure(server.url(), timeout=3.0)
    assert isinstance(exc, NotHttp)
    assert exc.protocol == "Redis"
    assert exc.received.startswith(b"-ERR unknown command\r\n")
    assert took < 1.0  # the first bytes settle it: no waiting for the deadline


def test_a_malformed_http_answer() -> None:
    with http_fake.line_server(b"HTTP/1.1 abc\r\n\r\n") as server:
        exc, _ = failure(server.url())
    assert isinstance(exc, NotHttp)
    assert exc.protocol == "HTTP"
    assert "illegal status line" in exc.detail


def test_a_server_that_hangs_up() -> None:
    with http_fake.hang_up() as server:
        exc, took = failure(server.url())
    assert isinstance(exc, Closed)
    assert exc.received == b""
    assert took < 1.0


def test_tls_with_and_without_verification(tls_web: Web) -> None:
    answer, log = get(tls_web.url("/ok"), verify=False)
    assert answer.status == 200
    assert any(line.startswith("TLS established") for line in log)
    exc, _ = failure(tls_web.url("/ok"))
    assert isinstance(exc, TlsFailure)
    assert exc.message.startswith("certificate verification failed")
    assert exc.reason == "self-signed certificate"


def test_https_on_a_plain_port(web: Web) -> None:
    exc, _ = failure(web.url("/ok").replace("http://", "https://"))
    assert isinstance(exc, TlsFailure)
    assert exc.reason == "wrong version number"
    assert identify(exc.received) == "HTTP"  # what answered the ClientHello: the proof


def test_https_on_a_plain_server_that_waits_for_a_whole_head() -> None:
    # uvicorn (h11) says nothing to a ClientHello: a plain request on a second connection,
    # sent once the handshake has been silent for a moment, gets the HTTP answer.
    with http_fake.whole_head() as server:
        exc, took = failure(server.url("/ok", scheme="https"), timeout=3.0)
        log_lines = _log_of(server.url("/ok", scheme="https"))
    assert isinstance(exc, PlainHttp)
    assert exc.reason == "no answer to the TLS handshake"
    assert exc.received == b"HTTP/1.1 400 Bad Request"
    assert took < 1.5  # told after the patience, not at the deadline
    assert any("asking in plain HTTP on a second connection" in line for line in log_lines)


def test_http_on_a_tls_port_that_hangs_up_is_named_tls(tls_web: Web) -> None:
    # Python's ssl (like OpenSSL's s_server) hangs up on plain text without a byte.
    exc, took = failure(tls_web.url("/ok").replace("https://", "http://"))
    assert isinstance(exc, SpeaksTls)
    assert isinstance(exc, Closed) and exc.received == b""
    assert took < 1.0


def test_http_on_a_tls_port_that_sends_an_alert(hostile_loop: HostileLoop) -> None:
    with hostile_loop.responder(b"\x15\x03\x01\x00\x02\x02\x46") as server:
        exc, took = failure(server.url("http", "/"))
    assert isinstance(exc, NotHttp)
    assert exc.protocol == "TLS"
    assert took < 1.0


def test_a_mysql_greeting_is_named(mariadb: Mariadb) -> None:
    # MariaDB greets on connect and resets the connection when the request arrives: the
    # greeting is still read (no empty write fails first on the reset connection).
    for _ in range(5):
        exc, took = failure(f"http://127.0.0.1:{mariadb.port}/")
        assert isinstance(exc, NotHttp)
        assert exc.protocol == "MySQL"
        assert took < 1.0


def _log_of(url: str) -> list[str]:
    log: list[str] = []

    async def go() -> None:
        with pytest.raises(TlsFailure):
            await fetch(HttpRequest(url), time.monotonic() + 3.0, log.append)

    asyncio.run(go())
    return log


# -- clients and proxies -------------------------------------------------------------------


def test_one_client_per_verify_mode_and_route() -> None:
    async def go() -> tuple[Any, ...]:
        a = await http.shared_client(True, True)
        b = await http.shared_client(True, True)
        c = await http.shared_client(False, True)
        d = await http.shared_client(True, False)
        return a, b, c, d

    a, b, c, d = asyncio.run(go())
    assert a is b
    assert len({id(a), id(c), id(d)}) == 3
    assert a.is_closed and c.is_closed and d.is_closed
    assert http.ssl_context(True) is http.ssl_context(True)


def test_proxy_variables_are_ignored_for_loopback(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = f"http://127.0.0.1:{closed_port()}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, dead)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    for host in ("127.0.0.1", "localhost"):
        answer, _ = get(web.url("/ok", host=host))
        assert answer.status == 200


def test_remote_hosts_keep_the_environment_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    with http_fake.proxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        answer, _ = get("http://service.envdoctor.invalid/health")
    assert answer.status == 200
    assert answer.body == b"via proxy"
    assert proxy.request_lines == ["GET http://service.envdoctor.invalid/health HTTP/1.1"]


def test_failures_leave_no_socket_open(web: Web, tls_web: Web) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with http_fake.black_hole() as hole, http_fake.line_server() as lines:
            for url, kw in [
                (tls_web.url("/ok"), {}),
                (web.url("/ok").replace("http://", "https://"), {}),
                (hole.url(), {}),
                (lines.url(), {}),
                (web.url("/big"), {}),
            ]:
                expected = pytest.raises(Exception) if "big" not in url else nullcontext()
                with expected:
                    get(url, timeout=0.3, **kw)
        gc.collect()
    leaks = [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert not leaks, [str(w.message) for w in leaks]


# -- the shared probe contract -------------------------------------------------------------


def test_probe_contract_on_host_and_port(web: Web) -> None:
    async def go(port: int) -> Any:
        return await http.probe(Target("127.0.0.1", port), time.monotonic() + 2, lambda _text: None)

    result = asyncio.run(go(web.port))
    assert result.state is State.READY
    assert result.message == "HTTP server answered 404 Not Found"
    with http_fake.line_server() as server:
        result = asyncio.run(go(server.port))
    assert result.state is State.WRONG_PROTOCOL
    assert result.protocol == "Redis"


def test_probe_contract_names_a_tls_port(tls_web: Web) -> None:
    async def go() -> Any:
        target = Target("127.0.0.1", tls_web.port)
        return await http.probe(target, time.monotonic() + 2, lambda _text: None)

    result = asyncio.run(go())
    assert result.state is State.WRONG_PROTOCOL
    assert result.protocol == "TLS"
    assert result.message.endswith("use https://")
