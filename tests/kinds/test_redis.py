"""`redis` end to end: the real CLI against real redis-server processes.

Every test that puts a password in a URL runs it through `secret_free`: the console report, the
JSON report and `explain` must not hold the password in any form (raw or percent-encoded).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from tests.conftest import Project, closed_port
from tests.kinds._helpers import check, never_shown, one_check, only
from tests.servers.memcached import MemcachedServer
from tests.servers.redis import (
    ALICE,
    ALICE_PASSWORD,
    REDIS_PASSWORD,
    Protected,
    RedisServer,
    busy_script,
    running,
)

WRONG = "wrong-pw-c4n4ry"


def one(
    project: Project, url: str, extra: str = "", *args: str, secrets: tuple[str, ...] = ()
) -> tuple[int, dict[str, Any]]:
    """A project whose one check `cache` reads its URL from REDIS_URL (as projects do); the JSON
    report (stdout and stderr) must hold none of `secrets`."""
    body = f'url = "${{REDIS_URL}}"\n{extra}'
    env = {"REDIS_URL": url}
    return one_check(
        project, "cache", "redis", body, *args, env=env, codes=(0, 1, 3), secrets=secrets
    )


def secret_free(project: Project, url: str, *secrets: str) -> None:
    """The console report (verbose) and `explain` hold none of the secrets (`one` checks the
    JSON report)."""
    never_shown(project, "cache", {"REDIS_URL": url}, secrets)


def test_pong_passes(project: Project, redis_plain: RedisServer) -> None:
    code, found = one(project, redis_plain.url())
    assert code == 0
    assert found["status"] == "pass"
    assert found["message"].startswith(f"Redis answered PONG at {redis_plain.address} in ")


def test_host_and_port_options(project: Project, redis_plain: RedisServer) -> None:
    project.checks(
        f'[[check]]\nid = "cache"\nkind = "redis"\nhost = "127.0.0.1"\nport = {redis_plain.port}\n'
    )
    code, report = check(project)
    assert code == 0
    assert only(report)["message"].startswith("Redis answered PONG at ")


def test_needs_auth_is_a_warning(project: Project, redis_password: RedisServer) -> None:
    code, found = one(project, redis_password.url())
    assert code == 0  # a warning does not make the project not ready
    assert found["status"] == "warn"
    assert found["message"] == (
        f"Redis is up at {redis_password.address} but needs credentials the URL does not carry: "
        "the server requires a password, or an ACL user and password (NOAUTH)"
    )
    assert found["fix"] == (
        f"put the credentials in the URL: redis://:PASSWORD@{redis_password.address}"
    )


def test_a_password_written_as_a_user_gets_the_password_form(
    project: Project, redis_password: RedisServer
) -> None:
    code, found = one(project, redis_password.url(user="app"))
    assert code == 0
    assert found["status"] == "warn"
    address = redis_password.address
    assert found["fix"] == (
        f"put the credentials in the URL: redis://app:PASSWORD@{address} (a password alone "
        f"goes after the colon: redis://:PASSWORD@{address})"
    )


def test_right_password_passes_and_stays_secret(
    project: Project, redis_password: RedisServer
) -> None:
    url = redis_password.url(password=REDIS_PASSWORD, path="2")
    code, found = one(project, url, secrets=(REDIS_PASSWORD,))
    assert code == 0
    assert found["status"] == "pass"
    assert found["message"].startswith("Redis answered PONG (password accepted, database 2) at ")
    secret_free(project, url, REDIS_PASSWORD)


def test_wrong_password_fails_with_a_fix(project: Project, redis_password: RedisServer) -> None:
    url = redis_password.url(password=WRONG)
    code, found = one(project, url, secrets=(WRONG,))
    assert code == 1
    assert found["status"] == "fail"
    assert found["message"] == (
        f"Redis at {redis_password.address} rejected the credentials: "
        "invalid username-password pair or user is disabled (WRONGPASS)"
    )
    assert found["fix"] == "check the user and password in the URL (they are never shown here)"
    secret_free(project, url, WRONG)


def test_acl_user_passes_and_stays_secret(project: Project, redis_acl: RedisServer) -> None:
    url = redis_acl.url(ALICE, ALICE_PASSWORD)
    code, found = one(project, url, secrets=(ALICE_PASSWORD,))
    assert code == 0
    assert found["message"].startswith("Redis answered PONG (logged in as alice) at ")
    secret_free(project, url, ALICE_PASSWORD)


def test_acl_user_wrong_password(project: Project, redis_acl: RedisServer) -> None:
    url = redis_acl.url(ALICE, WRONG)
    code, found = one(project, url, secrets=(WRONG,))
    assert code == 1
    assert found["message"].endswith(
        "rejected the credentials: user alice: invalid username-password pair or user is "
        "disabled (WRONGPASS)"
    )
    secret_free(project, url, WRONG)


def test_password_on_a_server_without_one(project: Project, redis_plain: RedisServer) -> None:
    url = redis_plain.url(password=WRONG)
    code, found = one(project, url, secrets=(WRONG,))
    assert code == 1
    assert "the server has no password set" in found["message"]
    secret_free(project, url, WRONG)


def test_database_number_is_selected(project: Project, redis_plain: RedisServer) -> None:
    code, found = one(project, redis_plain.url(path="5"))
    assert code == 0
    assert found["message"].startswith("Redis answered PONG (database 5) at ")


def test_missing_database_fails_with_a_fix(project: Project, redis_plain: RedisServer) -> None:
    code, found = one(project, redis_plain.url(path="42"))
    assert code == 1
    assert found["message"] == (
        f"Redis is up at {redis_plain.address} but refuses this login: "
        "database 42 does not exist (DB index is out of range)"
    )
    assert found["fix"].endswith(f"e.g. redis://{redis_plain.address}/0")


def test_a_database_that_is_not_a_number_is_a_configuration_error(project: Project) -> None:
    project.checks('[[check]]\nid = "cache"\nkind = "redis"\nurl = "redis://localhost/app"\n')
    result = project.run("check")
    assert result.code == 2
    assert "the path of a redis URL is a database number" in result.stdout + result.stderr


def test_tls_without_verification(project: Project, redis_tls: RedisServer) -> None:
    code, found = one(project, redis_tls.url(), "verify = false")
    assert code == 0
    assert found["message"].startswith(f"Redis answered PONG at {redis_tls.address} in ")


def test_tls_ssl_cert_reqs_none_in_the_url(project: Project, redis_tls: RedisServer) -> None:
    code, found = one(project, redis_tls.url() + "?ssl_cert_reqs=none")
    assert code == 0
    assert found["status"] == "pass"


def test_tls_verification_fails_on_a_private_ca(project: Project, redis_tls: RedisServer) -> None:
    code, found = one(project, redis_tls.url())
    assert code == 1
    assert found["message"].startswith(
        f"TLS failed with {redis_tls.address}: certificate verify failed"
    ) or found["message"].startswith(f"TLS failed with {redis_tls.address}: self-signed")
    assert "self-signed certificate" in found["message"]
    assert "verify = false" in found["fix"]


def test_plain_url_on_a_tls_port(project: Project, redis_tls: RedisServer) -> None:
    code, found = one(project, f"redis://{redis_tls.address}")
    assert code == 1
    assert found["message"] == (
        f"TLS answered at {redis_tls.address}, not Redis (it closed the plain-text connection "
        "without a word, then completed a TLS handshake: use rediss://)"
    )
    assert "rediss://" in found["fix"]


def test_loading_fails_then_wait_sees_it_ready(
    project: Project, redis_loading: RedisServer
) -> None:
    code, found = one(project, redis_loading.url())
    assert code == 1
    assert found["message"] == (
        f"Redis at {redis_loading.address} is not ready: loading the dataset into memory (LOADING)"
    )
    assert found["fix"] == "wait for it: envdoctor check --wait 60s"
    started = time.monotonic()
    code, found = one(project, redis_loading.url(), "", "--wait", "20s")
    assert code == 0, found
    assert found["status"] == "pass"
    assert time.monotonic() - started < 15


def test_busy_script(project: Project, redis_busy: RedisServer) -> None:
    with busy_script(redis_busy):
        code, found = one(project, redis_busy.url())
    assert code == 1
    assert found["message"].startswith(
        f"Redis at {redis_busy.address} is not ready: busy running a script or function (BUSY)"
    )
    assert f"redis-cli -h 127.0.0.1 -p {redis_busy.port} SCRIPT KILL" in found["fix"]


def test_a_replica_without_its_master_says_to_start_the_master(
    project: Project, tmp_path: Path
) -> None:
    master = closed_port()
    with running(
        tmp_path / "replica",
        "--replicaof",
        "127.0.0.1",
        str(master),
        "--replica-serve-stale-data",
        "no",
    ) as replica:
        code, found = one(project, replica.url())
    assert code == 1
    assert found["message"].startswith(f"Redis at {replica.address} is not ready: a replica whose")
    assert "(MASTERDOWN)" in found["message"]
    assert found["fix"].startswith(
        f"start the replica's master (`redis-cli -h 127.0.0.1 -p {replica.port} info replication`"
    )


def test_a_stopped_redis_is_named_as_stuck_not_as_another_server(
    project: Project, tmp_path: Path
) -> None:
    """A redis-server that accepts (the kernel does) but never answers, because it is stopped
    (or blocked by a long command or load): our own protocol's server, not "another server",
    and the fix says how to see what it is doing."""
    with running(tmp_path / "stopped") as server:
        assert server.server.proc is not None
        pid = server.server.proc.pid
        os.kill(pid, signal.SIGSTOP)
        try:
            code, found = one(project, server.url(), 'timeout = "1s"')
        finally:
            os.kill(pid, signal.SIGCONT)
    assert code == 1
    assert found["message"] == (
        f"connected to {server.address}, but no answer within 1.0 s waiting for the Redis "
        f"reply: redis-server (pid {pid}), a Redis server holds that port but does not answer: "
        "it is busy (a long command or script, a save or a load) or stopped"
    )
    assert f"kill -CONT {pid}" in found["fix"]
    assert "does not speak Redis" not in found["fix"]


def test_protected_mode(project: Project, redis_protected: Protected) -> None:
    code, found = one(project, f"redis://{redis_protected.address}")
    assert code == 1
    assert found["message"].startswith(
        f"Redis is up at {redis_protected.address} but refuses this login: protected mode (DENIED)"
    )
    assert "requirepass" in found["fix"]


def test_refused_names_the_fix_and_the_redis_that_does_listen(
    project: Project, redis_plain: RedisServer
) -> None:
    port = closed_port()
    code, found = one(project, f"redis://127.0.0.1:{port}")
    assert code == 1
    assert found["message"].startswith(
        f"refused at 127.0.0.1:{port}; nothing listens on port {port}; "
    )
    # Redis servers of this machine (this session's, at least) are named; at most two, with
    # a count of the others.
    assert "redis-server (pid " in found["message"]
    if sys.platform.startswith("linux"):
        assert found["fix"] == "sudo systemctl start redis-server"


def test_memcached_on_the_port_is_named(project: Project, memcached_plain: MemcachedServer) -> None:
    code, found = one(project, f"redis://{memcached_plain.address}")
    assert code == 1
    assert found["message"].startswith(
        f"memcached answered at {memcached_plain.address}, not Redis (it sent ERROR"
    )
    assert found["fix"].startswith(f"check the port: {memcached_plain.port} ")
    assert found["fix"].endswith("(Redis's usual port is 6379)")


def test_explain_shows_the_conversation_not_the_password(
    project: Project, redis_acl: RedisServer
) -> None:
    url = redis_acl.url(ALICE, ALICE_PASSWORD, path="1")
    project.checks('[[check]]\nid = "cache"\nkind = "redis"\nurl = "${REDIS_URL}"\n')
    result = project.run("explain", "cache", env={"REDIS_URL": url})
    assert "sent AUTH as alice (password not shown), SELECT 1, PING in one write" in result.stdout
    assert "AUTH: +OK" in result.stdout
    assert "PING: +PONG" in result.stdout
    secret_free(project, url, ALICE_PASSWORD)


def test_rediss_against_a_plain_text_redis_says_to_drop_the_s(
    project: Project, redis_plain: RedisServer
) -> None:
    code, found = one(project, f"rediss://{redis_plain.address}", 'timeout = "1s"')
    assert code == 1
    assert found["message"].startswith(
        f"connected to {redis_plain.address}, but no answer to the TLS handshake within 1.0 s"
    )
    assert found["fix"] == "the port speaks plain text: use redis:// instead of rediss://"
