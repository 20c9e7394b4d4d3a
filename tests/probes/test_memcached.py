"""The memcached probe against real memcached processes (no auth, an auth file, a full one)."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Callable

from tests.probes._helpers import seconds_to_no_answer
from tests.servers.hostile import HostileServer
from tests.servers.memcached import (
    MEMCACHED_PASSWORD,
    MEMCACHED_USER,
    MemcachedServer,
    filled,
)
from tests.servers.redis import RedisServer

from envdoctor.probes.memcached import probe
from envdoctor.probes.result import ProbeResult, State, Target

CANARIES = (MEMCACHED_PASSWORD, "wrong-pw-c4n4ry")


def run(target: Target, timeout: float = 3.0) -> tuple[ProbeResult, list[str]]:
    log: list[str] = []
    result = asyncio.run(probe(target, time.monotonic() + timeout, log.append))
    for text in [*log, result.message]:
        for canary in CANARIES:
            assert canary not in text, text
    return result, log


def at(server: MemcachedServer | RedisServer | HostileServer, **kw: object) -> Target:
    return Target(server.host, server.port, **kw)  # type: ignore[arg-type]


def installed_version() -> str:
    out = subprocess.run(["memcached", "-V"], capture_output=True, text=True, check=True)
    return out.stdout.split()[1]


def test_version_answered(memcached_plain: MemcachedServer) -> None:
    result, log = run(at(memcached_plain))
    version = installed_version()
    assert result == ProbeResult(
        State.READY, f"memcached {version} answered version", server=f"memcached {version}"
    )
    assert log[-2:] == ["sent version", f"got VERSION {version}"]


def test_credentials_are_not_sent_to_a_server_without_auth(
    memcached_plain: MemcachedServer,
) -> None:
    """The login `set` would be stored by a server without an auth file: never sent there."""
    result, log = run(at(memcached_plain, user=MEMCACHED_USER, password=MEMCACHED_PASSWORD))
    assert result.state is State.READY
    assert not any("login" in line for line in log)
    assert memcached_plain.call(b"get envdoctor\r\n") == b"END"


def test_auth_file_without_credentials_needs_auth(memcached_auth: MemcachedServer) -> None:
    result, _ = run(at(memcached_auth))
    assert result.state is State.NEEDS_AUTH
    assert result.code == "CLIENT_ERROR"
    assert "CLIENT_ERROR unauthenticated" in result.message


def test_auth_file_login(memcached_auth: MemcachedServer) -> None:
    result, log = run(at(memcached_auth, user=MEMCACHED_USER, password=MEMCACHED_PASSWORD))
    assert result.state is State.READY
    version = installed_version()
    assert result.message == f"memcached {version} answered version (logged in as alice)"
    assert log[-4:] == [
        "sent the auth-file login as alice (password not shown)",
        "got STORED",
        "sent version",
        f"got VERSION {installed_version()}",
    ]


def test_auth_file_wrong_password(memcached_auth: MemcachedServer) -> None:
    result, _ = run(at(memcached_auth, user=MEMCACHED_USER, password="wrong-pw-c4n4ry"))
    assert result.state is State.AUTH_REJECTED
    assert result.message == "user alice: authentication failure"


def test_auth_file_password_without_a_user(memcached_auth: MemcachedServer) -> None:
    result, log = run(at(memcached_auth, password=MEMCACHED_PASSWORD))
    assert result.state is State.AUTH_REJECTED
    assert "needs a user and a password" in result.message
    assert not any("login" in line for line in log)


def test_too_many_connections_is_not_ready(memcached_tiny: MemcachedServer) -> None:
    with filled(memcached_tiny):
        result, _ = run(at(memcached_tiny))
    assert result.state is State.NOT_READY
    assert result.message == "too many open connections (its -c limit is reached)"


def test_redis_answering_is_named(redis_plain: RedisServer) -> None:
    result, _ = run(at(redis_plain))
    assert result.state is State.WRONG_PROTOCOL
    assert result.protocol == "Redis"
    assert result.message.startswith("it sent -ERR unknown command 'version'")


def test_bare_error_means_another_text_protocol(
    responder: Callable[[bytes], HostileServer],
) -> None:
    result, _ = run(at(responder(b"ERROR\r\n")))
    assert result.state is State.WRONG_PROTOCOL
    assert result.protocol == ""
    assert "every memcached knows" in result.message


def test_smtp_banner_is_named(banner_server: Callable[[bytes], HostileServer]) -> None:
    result, _ = run(at(banner_server(b"220 mail.example ESMTP\r\n")))
    assert result.state is State.WRONG_PROTOCOL
    assert result.protocol == "SMTP"


def test_silence_costs_the_deadline(black_hole: HostileServer) -> None:
    assert seconds_to_no_answer(lambda: run(at(black_hole), timeout=0.3)) < 0.6
