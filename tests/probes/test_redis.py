"""The Redis probe against real redis-server processes in each state it must tell apart."""

from __future__ import annotations

import asyncio
import http.server
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from tests.probes._helpers import seconds_to_no_answer
from tests.servers.hostile import HostileServer
from tests.servers.memcached import MemcachedServer
from tests.servers.redis import (
    ACL_DEFAULT_PASSWORD,
    ALICE,
    ALICE_PASSWORD,
    CAROL,
    CAROL_PASSWORD,
    REDIS_PASSWORD,
    Protected,
    RedisServer,
    busy_script,
    running,
)

from envdoctor.probes.redis import command, probe
from envdoctor.probes.result import ProbeResult, State, Target
from envdoctor.probes.wire import TlsFailure, tls_context

CANARIES = (REDIS_PASSWORD, ALICE_PASSWORD, CAROL_PASSWORD, ACL_DEFAULT_PASSWORD, "wrong-pw-c4n4ry")


def run(target: Target, timeout: float = 3.0) -> tuple[ProbeResult, list[str]]:
    log: list[str] = []
    result = asyncio.run(probe(target, time.monotonic() + timeout, log.append))
    for line in log:
        for canary in CANARIES:
            assert canary not in line, line
    for canary in CANARIES:
        assert canary not in result.message
    return result, log


def at(server: RedisServer | Protected, **kw: object) -> Target:
    return Target(server.host, server.port, **kw)  # type: ignore[arg-type]


def test_commands_are_resp_arrays_so_spaces_and_quotes_survive() -> None:
    assert command("AUTH", "a b'c") == b"*2\r\n$4\r\nAUTH\r\n$5\r\na b'c\r\n"
    assert command("PING") == b"*1\r\n$4\r\nPING\r\n"


def test_pong_without_credentials(redis_plain: RedisServer) -> None:
    result, log = run(at(redis_plain))
    assert result == ProbeResult(State.READY, "Redis answered PONG", server="Redis")
    assert log[-2:] == ["sent PING in one write", "PING: +PONG"]


def test_database_in_the_path_is_selected(redis_plain: RedisServer) -> None:
    result, log = run(at(redis_plain, database="3"))
    assert result.state is State.READY
    assert result.message == "Redis answered PONG (database 3)"
    assert "sent SELECT 3, PING in one write" in log


def test_database_zero_needs_no_select(redis_plain: RedisServer) -> None:
    result, log = run(at(redis_plain, database="0"))
    assert result.message == "Redis answered PONG"
    assert "sent PING in one write" in log


def test_database_out_of_range_refuses_the_login(redis_plain: RedisServer) -> None:
    result, _ = run(at(redis_plain, database="99"))
    assert result.state is State.REFUSED_LOGIN
    assert result.message == "database 99 does not exist (DB index is out of range)"
    assert result.code == "ERR"


def test_password_for_a_server_without_one_is_rejected_clearly(redis_plain: RedisServer) -> None:
    result, log = run(at(redis_plain, password="wrong-pw-c4n4ry"))
    assert result.state is State.AUTH_REJECTED
    assert result.message.startswith("the server has no password set")
    assert "remove the password from the URL" in result.message
    assert "sent AUTH (password not shown), PING in one write" in log


def test_no_credentials_on_a_password_server_needs_auth(redis_password: RedisServer) -> None:
    result, log = run(at(redis_password))
    assert result.state is State.NEEDS_AUTH
    assert result.code == "NOAUTH"
    assert "requires a password" in result.message
    assert log[-1] == "PING: -NOAUTH Authentication required."


def test_no_credentials_and_a_database_needs_auth_too(redis_password: RedisServer) -> None:
    result, _ = run(at(redis_password, database="2"))
    assert result.state is State.NEEDS_AUTH


def test_requirepass_with_spaces_is_accepted(redis_password: RedisServer) -> None:
    result, log = run(at(redis_password, password=REDIS_PASSWORD, database="2"))
    assert result.state is State.READY
    assert result.message == "Redis answered PONG (password accepted, database 2)"
    assert log[-4:] == [
        "sent AUTH (password not shown), SELECT 2, PING in one write",
        "AUTH: +OK",
        "SELECT: +OK",
        "PING: +PONG",
    ]


def test_wrong_password_is_rejected(redis_password: RedisServer) -> None:
    result, log = run(at(redis_password, password="wrong-pw-c4n4ry"))
    assert result.state is State.AUTH_REJECTED
    assert result.code == "WRONGPASS"
    assert result.message == "invalid username-password pair or user is disabled (WRONGPASS)"
    assert "PING" not in log[-1]


def test_acl_user_with_quotes_and_spaces_in_the_password(redis_acl: RedisServer) -> None:
    result, log = run(at(redis_acl, user=ALICE, password=ALICE_PASSWORD))
    assert result.state is State.READY
    assert result.message == "Redis answered PONG (logged in as alice)"
    assert "sent AUTH as alice (password not shown), PING in one write" in log


def test_acl_default_user_with_a_bare_password(redis_acl: RedisServer) -> None:
    result, _ = run(at(redis_acl, password=ACL_DEFAULT_PASSWORD))
    assert result.state is State.READY


def test_acl_user_with_a_wrong_password(redis_acl: RedisServer) -> None:
    result, _ = run(at(redis_acl, user=ALICE, password="wrong-pw-c4n4ry"))
    assert result.state is State.AUTH_REJECTED
    assert result.message == (
        "user alice: invalid username-password pair or user is disabled (WRONGPASS)"
    )


def test_unknown_acl_user(redis_acl: RedisServer) -> None:
    result, _ = run(at(redis_acl, user="mallory", password=ALICE_PASSWORD))
    assert result.state is State.AUTH_REJECTED
    assert result.message.startswith("user mallory: invalid username-password pair")


def test_user_without_a_password_sends_no_auth(redis_acl: RedisServer) -> None:
    result, log = run(at(redis_acl, user=ALICE))
    assert result.state is State.NEEDS_AUTH
    assert "sent PING in one write" in log


def test_acl_user_who_may_not_select(redis_acl: RedisServer) -> None:
    result, _ = run(at(redis_acl, user=CAROL, password=CAROL_PASSWORD, database="1"))
    assert result.state is State.REFUSED_LOGIN
    assert result.code == "NOPERM"
    assert result.message.startswith("this user may not SELECT database 1 (")


def test_tls_without_verification(redis_tls: RedisServer) -> None:
    result, log = run(at(redis_tls, tls=tls_context(verify=False)))
    assert result.state is State.READY
    assert any(line.startswith("TLS established (TLS") for line in log)


def test_tls_with_verification_fails_on_the_private_ca(redis_tls: RedisServer) -> None:
    with pytest.raises(TlsFailure) as caught:
        run(at(redis_tls, tls=tls_context(verify=True)))
    assert caught.value.message.startswith("certificate verification failed: ")
    assert "self-signed certificate" in caught.value.reason


def test_plain_text_on_a_tls_port_says_use_rediss(redis_tls: RedisServer) -> None:
    result, log = run(at(redis_tls))
    assert result.state is State.WRONG_PROTOCOL
    assert result.protocol == "TLS"
    assert result.message.endswith("use rediss://")
    assert any("trying a TLS handshake" in line for line in log)


def test_loading_dataset_is_not_ready(redis_loading: RedisServer) -> None:
    result, _ = run(at(redis_loading))
    assert result.state is State.NOT_READY
    assert result.code == "LOADING"
    assert result.message == "loading the dataset into memory (LOADING)"


def test_busy_script_is_not_ready(redis_busy: RedisServer) -> None:
    with busy_script(redis_busy):
        result, _ = run(at(redis_busy))
    assert result.state is State.NOT_READY
    assert result.code == "BUSY"
    assert result.message.startswith("busy running a script or function (BUSY)")


def test_protected_mode_refuses_the_login(redis_protected: Protected) -> None:
    result, log = run(at(redis_protected))
    assert result.state is State.REFUSED_LOGIN
    assert result.code == "DENIED"
    assert result.message.startswith("protected mode (DENIED)")
    assert log[-1].startswith("PING: -DENIED Redis is running in protected mode")


def test_an_echoed_password_is_scrubbed(tmp_path: Path) -> None:
    """A server without AUTH echoes the arguments of the unknown command back."""
    with running(tmp_path / "r", "--rename-command", "AUTH", "") as found:
        result, log = run(at(found, password="wrong-pw-c4n4ry"))
    assert result.state is State.AUTH_REJECTED
    assert result.message.startswith("AUTH failed: ERR unknown command 'AUTH'")
    assert "'***'" in result.message
    assert any("'***'" in line for line in log)


def test_memcached_answering_is_named(memcached_plain: MemcachedServer) -> None:
    result, _ = run(Target("127.0.0.1", memcached_plain.port))
    assert result.state is State.WRONG_PROTOCOL
    assert result.protocol == "memcached"
    assert result.message.startswith("it sent ERROR\\r\\n")


@contextmanager
def http_server() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def test_http_answering_is_named() -> None:
    with http_server() as port:
        result, _ = run(Target("127.0.0.1", port))
    assert result.state is State.WRONG_PROTOCOL
    assert result.protocol == "HTTP"
    # "*1" reads as an HTTP/0.9 request line: the 400 page comes without a status line.
    assert result.message.startswith("it sent <!DOCTYPE HTML>")


def test_a_resp_looking_line_that_is_not_redis_is_named(
    replay_server: Callable[[bytes], HostileServer],
) -> None:
    pop3 = replay_server(b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n")
    result, _ = run(Target(pop3.host, pop3.port))
    assert result.state is State.WRONG_PROTOCOL
    assert result.protocol == "POP3"
    assert result.message == (
        "PING was answered +OK POP3 server ready <1896.697170952@db…, not +PONG"
    )


def test_a_silent_listener_costs_the_deadline_not_more(black_hole: HostileServer) -> None:
    target = Target(black_hole.host, black_hole.port)
    assert 0.25 <= seconds_to_no_answer(lambda: run(target, timeout=0.3)) < 0.6
