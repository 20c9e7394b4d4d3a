"""The shared half of the service kinds (kinds/service.py), end to end through the CLI with the
`redis` and `postgres` kinds, against what needs no real server: a closed port (and the compose
service that would publish it), a name that does not resolve, a full backlog, black holes, a
server that closes at once, and peers of another protocol."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from tests.conftest import Project, closed_port
from tests.kinds._helpers import one_check
from tests.servers.hostile import HostileServer

CANARY = "canary-pw-5f0e2c"

START = {
    "redis": "sudo systemctl start redis-server",
    "postgres": "sudo systemctl start postgresql",
}
SCHEME = {"redis": "redis", "postgres": "postgresql"}
PROTOCOL = {"redis": "Redis", "postgres": "PostgreSQL"}


def run_one(project: Project, kind: str, body: str, *args: str) -> dict[str, Any]:
    """One check of `kind` (`body`: its option lines); its JSON entry. It must fail, cleanly."""
    _, check = one_check(project, "svc", kind, body, *args, codes=(1,))
    assert check["status"] == "fail", check
    return check


def url(kind: str, port: int, host: str = "127.0.0.1", password: str = "") -> str:
    """`redis://[:pw@]host:port` or `postgresql://app[:pw]@host:port/app`."""
    secret = f":{password}" if password else ""
    if kind == "postgres":
        return f"postgresql://app{secret}@{host}:{port}/app"
    return f"redis://{secret + '@' if secret else ''}{host}:{port}"


def assert_no_canary(project: Project, *texts: str) -> None:
    explained = project.run("explain", "svc")
    for text in (*texts, explained.stdout, explained.stderr):
        assert CANARY not in text


# -- refused, and the fix that fits the project ------------------------------------------


@pytest.mark.parametrize("kind", ["redis", "postgres"])
def test_refused_says_nothing_listens_and_how_to_start_it(project: Project, kind: str) -> None:
    port = closed_port()
    check = run_one(project, kind, f'url = "{url(kind, port)}"')
    # the psutil hint may go on to name servers of this kind on other ports of this machine
    assert check["message"].startswith(
        f"refused at 127.0.0.1:{port}; nothing listens on port {port}"
    )
    assert check["fix"] == START[kind]


def test_refused_with_host_and_port_options(project: Project) -> None:
    port = closed_port()
    check = run_one(project, "redis", f'host = "127.0.0.1"\nport = {port}')
    assert check["message"].startswith(
        f"refused at 127.0.0.1:{port}; nothing listens on port {port}"
    )
    assert check["fix"] == START["redis"]


@pytest.mark.parametrize(("kind", "service"), [("redis", "cache"), ("postgres", "db")])
def test_refused_port_published_by_a_compose_service(
    project: Project, kind: str, service: str
) -> None:
    port = closed_port()
    project.write(
        "compose.yaml",
        f"""
        services:
          app:
            build: .
            ports: ["8000:8000"]
          {service}:
            image: {kind}:16
            ports:
              - "127.0.0.1:{port}:{6379 if kind == "redis" else 5432}"
        """,
    )
    check = run_one(project, kind, f'url = "{url(kind, port)}"')
    assert check["message"].startswith(f"refused at 127.0.0.1:{port}")
    assert check["fix"] == f"docker compose up -d {service}"


def test_compose_port_from_the_dotenv_and_an_override(project: Project) -> None:
    port = closed_port()
    project.write("docker-compose.yml", "services:\n  db:\n    image: postgres:16\n")
    project.write(
        "docker-compose.override.yml",
        "services:\n  db:\n    ports:\n      - target: 5432\n        published: ${PG_PORT:-5432}\n",
    )
    project.write(".env", f"PG_PORT={port}\n")
    check = run_one(project, "postgres", f'url = "{url("postgres", port)}"')
    assert check["fix"] == "docker compose up -d db"


def test_compose_file_compose_would_not_load_by_itself(project: Project) -> None:
    port = closed_port()
    project.write(
        "dev env/compose.yaml",
        f"services:\n  redis:\n    image: redis:7\n    ports: ['{port}:6379']\n",
    )
    check = run_one(project, "redis", f'url = "{url("redis", port)}"')
    assert check["fix"] == "docker compose -f 'dev env/compose.yaml' up -d redis"


def test_compose_service_on_another_port_is_no_fix(project: Project) -> None:
    port = closed_port()
    project.write(
        "compose.yaml",
        f"services:\n  cache:\n    image: redis:7\n    ports: ['{port + 1 if port < 65535 else 1}:6379', '{port}']\n",
    )
    check = run_one(project, "redis", f'url = "{url("redis", port)}"')
    assert check["fix"] == START["redis"]


def test_a_broken_compose_file_does_not_spoil_the_refusal(project: Project) -> None:
    port = closed_port()
    project.write("compose.yaml", "services:\n  cache: [\n")
    check = run_one(project, "redis", f'url = "{url("redis", port)}"')
    assert check["message"].startswith(f"refused at 127.0.0.1:{port}")
    assert check["fix"] == START["redis"]


def test_refused_never_shows_the_password(project: Project) -> None:
    port = closed_port()
    project.write(
        "compose.yaml", f"services:\n  cache:\n    image: redis\n    ports: ['{port}:6379']\n"
    )
    project.checks(
        f'[[check]]\nid = "svc"\nkind = "redis"\nurl = "{url("redis", port, password=CANARY)}"\n'
    )
    result = project.run("check", "--format", "json")
    assert result.code == 1
    assert result.json()["checks"][0]["fix"] == "docker compose up -d cache"
    console = project.run("check", "-v")
    assert "docker compose up -d cache" in console.stdout
    assert_no_canary(project, result.stdout, result.stderr, console.stdout, console.stderr)


# -- names, timeouts, silence --------------------------------------------------------------


@pytest.mark.parametrize("kind", ["redis", "postgres"])
def test_dns_name_not_found(project: Project, kind: str) -> None:
    check = run_one(project, kind, 'host = "no-such-host.invalid"')
    assert check["message"] == "DNS name not found: no-such-host.invalid"
    assert check["fix"] == "check the host name 'no-such-host.invalid' in the URL"


@pytest.mark.parametrize("kind", ["redis", "postgres"])
def test_full_backlog_times_out_while_connecting(
    project: Project, full_backlog_port: int, kind: str
) -> None:
    port = full_backlog_port
    started = time.monotonic()
    check = run_one(project, kind, f'url = "{url(kind, port)}"\ntimeout = "1s"')
    assert time.monotonic() - started < 5
    assert check["message"] == f"timed out after 1.0 s connecting to 127.0.0.1:{port}"
    assert check["fix"] == "check the host, the port and any firewall between here and there"
    assert 900 <= check["duration_ms"] <= 1300


@pytest.mark.parametrize("kind", ["redis", "postgres"])
def test_black_hole_is_connected_but_silent(
    project: Project, black_hole: HostileServer, kind: str
) -> None:
    port = black_hole.port
    check = run_one(project, kind, f'url = "{url(kind, port, password=CANARY)}"\ntimeout = "1s"')
    # The black hole is this test process: psutil names it as the port's holder.
    assert re.fullmatch(
        rf"connected to 127\.0\.0\.1:{port}, but no answer within 1\.0 s waiting for the "
        rf"{PROTOCOL[kind]} reply: \S+ \(pid {os.getpid()}\) holds that port: another server, "
        "waiting for the client to speak",
        check["message"],
    ), check["message"]
    assert check["fix"].startswith(f"check the port: {port} does not speak {PROTOCOL[kind]}")
    assert 900 <= check["duration_ms"] <= 1300
    assert_no_canary(project, str(check))


def test_fifty_black_holes_finish_within_one_point_two_seconds(
    project: Project, black_holes: Callable[[int], list[HostileServer]]
) -> None:
    holes = black_holes(50)
    project.checks(
        "".join(
            f'[[check]]\nid = "hole{i}"\nkind = "redis"\nurl = "redis://{h.address}"\n'
            'timeout = "1s"\n\n'
            for i, h in enumerate(holes)
        )
    )
    project.run("list")  # a warm start: the run below measures envdoctor, not a cold disk cache
    started = time.monotonic()
    result = project.run("check", "--format", "json")
    took = time.monotonic() - started
    assert result.code == 1, result.stderr
    checks = result.json()["checks"]
    assert len(checks) == 50
    assert all(c["status"] == "fail" for c in checks)
    assert all("but no answer within 1.0 s" in c["message"] for c in checks)
    assert all(h.accepted == 1 for h in holes)
    # Concurrent: one timeout for all (serially it would be 50 s). The 1.2 s budget of the whole
    # run is measured in benchmarks/bench_services.py, not asserted on a loaded CI machine.
    assert all(c["duration_ms"] < 1500 for c in checks)
    assert took < 4, f"50 black holes took {took:.2f} s"


def test_closer_hangs_up_without_an_answer(project: Project, closer: HostileServer) -> None:
    check = run_one(project, "redis", f'url = "redis://{closer.address}"\ntimeout = "2s"')
    assert re.fullmatch(
        rf"{re.escape(closer.address)} closed the connection without a Redis answer "
        rf"\(\S+ \(pid {os.getpid()}\) holds that port\)",
        check["message"],
    ), check["message"]
    assert check["fix"].startswith(f"check the port: {closer.port} does not speak Redis")
    assert check["duration_ms"] < 1000


# -- another protocol on the port ------------------------------------------------------------


def test_http_on_the_redis_port(project: Project, http_responder: HostileServer) -> None:
    check = run_one(project, "redis", f'url = "redis://{http_responder.address}"\ntimeout = "2s"')
    assert check["message"].startswith(f"HTTP answered at {http_responder.address}, not Redis")
    assert check["fix"] == (
        f"check the port: {http_responder.port} does not speak Redis (Redis's usual port is 6379)"
    )


def test_redis_on_the_postgres_port_is_silence(project: Project, redis_like: HostileServer) -> None:
    # Redis reads a StartupMessage as an unfinished inline command: it waits, like a black hole.
    port = redis_like.port
    check = run_one(project, "postgres", f'url = "{url("postgres", port)}"\ntimeout = "1s"')
    assert check["message"].startswith(
        f"connected to 127.0.0.1:{port}, but no answer within 1.0 s waiting for the PostgreSQL reply"
    )


def test_ssh_banner_on_the_postgres_port(
    project: Project, banner_server: Callable[[bytes], HostileServer]
) -> None:
    server = banner_server(b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n")
    check = run_one(project, "postgres", f'url = "{url("postgres", server.port)}"\ntimeout = "1s"')
    assert check["message"].startswith(f"SSH answered at 127.0.0.1:{server.port}, not PostgreSQL")
    assert check["fix"].startswith(f"check the port: {server.port} does not speak PostgreSQL")


def test_several_hosts_each_with_its_own_failure(
    project: Project, black_hole: HostileServer, closer: HostileServer
) -> None:
    refused = closed_port()
    hosts = f"127.0.0.1:{refused},{black_hole.address},{closer.address}"
    check = run_one(project, "redis", f'url = "redis://{hosts}"\ntimeout = "1s"')
    assert check["message"].startswith("0 of 3 Redis hosts ready: ")
    by_subject = {f["subject"]: f for f in check["findings"]}
    assert set(by_subject) == {f"127.0.0.1:{refused}", black_hole.address, closer.address}
    assert by_subject[f"127.0.0.1:{refused}"]["message"].startswith(
        f"refused at 127.0.0.1:{refused}"
    )
    assert "but no answer within 1.0 s" in by_subject[black_hole.address]["message"]
    assert "closed the connection" in by_subject[closer.address]["message"]
    assert check["duration_ms"] <= 1300
