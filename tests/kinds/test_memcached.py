"""`memcached` end to end: the real CLI against real memcached processes."""

from __future__ import annotations

from typing import Any

from tests.conftest import Project
from tests.kinds._helpers import never_shown, one_check
from tests.servers.memcached import (
    MEMCACHED_PASSWORD,
    MEMCACHED_USER,
    MemcachedServer,
    filled,
)
from tests.servers.redis import RedisServer

WRONG = "wrong-pw-c4n4ry"


def one(project: Project, url: str, *secrets: str) -> tuple[int, dict[str, Any]]:
    """One check `cache` with its URL from CACHE_URL; with `secrets`, the JSON report, the
    console report and `explain` must hold none of them."""
    env = {"CACHE_URL": url}
    found = one_check(
        project, "cache", "memcached", 'url = "${CACHE_URL}"', env=env, secrets=secrets
    )
    if secrets:
        never_shown(project, "cache", env, secrets)
    return found


def test_version_passes(project: Project, memcached_plain: MemcachedServer) -> None:
    code, found = one(project, memcached_plain.url())
    assert code == 0
    assert found["status"] == "pass"
    assert found["message"].startswith("memcached 1.")
    assert f" answered version at {memcached_plain.address} in " in found["message"]


def test_auth_file_without_credentials_warns(
    project: Project, memcached_auth: MemcachedServer
) -> None:
    code, found = one(project, memcached_auth.url())
    assert code == 0
    assert found["status"] == "warn"
    assert found["message"] == (
        f"memcached is up at {memcached_auth.address} but needs credentials the URL does not "
        "carry: the server requires a login (auth file on: CLIENT_ERROR unauthenticated)"
    )
    assert found["fix"] == (
        f"put the credentials in the URL: memcached://USER:PASSWORD@{memcached_auth.address}"
    )


def test_auth_file_login_passes_and_stays_secret(
    project: Project, memcached_auth: MemcachedServer
) -> None:
    code, found = one(
        project, memcached_auth.url(MEMCACHED_USER, MEMCACHED_PASSWORD), MEMCACHED_PASSWORD
    )
    assert code == 0
    assert "answered version (logged in as alice) at " in found["message"]


def test_wrong_password_fails_with_a_fix(project: Project, memcached_auth: MemcachedServer) -> None:
    code, found = one(project, memcached_auth.url(MEMCACHED_USER, WRONG), WRONG)
    assert code == 1
    assert found["message"] == (
        f"memcached at {memcached_auth.address} rejected the credentials: "
        "user alice: authentication failure"
    )
    assert found["fix"] == "check the user and password in the URL (they are never shown here)"


def test_too_many_connections(project: Project, memcached_tiny: MemcachedServer) -> None:
    with filled(memcached_tiny):
        code, found = one(project, memcached_tiny.url())
    assert code == 1
    assert found["message"] == (
        f"memcached at {memcached_tiny.address} is not ready: "
        "too many open connections (its -c limit is reached)"
    )


def test_redis_on_the_port_is_named(project: Project, redis_plain: RedisServer) -> None:
    code, found = one(project, f"memcached://{redis_plain.address}")
    assert code == 1
    assert found["message"].startswith(
        f"Redis answered at {redis_plain.address}, not memcached (it sent -ERR unknown command"
    )
    assert found["fix"].startswith(f"check the port: {redis_plain.port} ")
    assert found["fix"].endswith("(memcached's usual port is 11211)")
