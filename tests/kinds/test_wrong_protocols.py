"""An open port is not a ready service: every protocol kind against every other real server.

One `envdoctor check` run per server holds one check of each kind pointed at that server's
port; the kind that matches must pass and every other kind must fail (never pass, never
crash), within its deadline, naming the protocol that answered whenever that protocol speaks
in a way we recognise. Real PostgreSQL, Redis, MariaDB, memcached, RabbitMQ and aiosmtpd, an
HTTP responder, and the MongoDB and Kafka fakes.
"""

from __future__ import annotations

from typing import Any

from tests.conftest import Project
from tests.kinds._helpers import SERVICE_SCHEMES, service_url

# What the message must name when the kind is pointed at another server, for the pairs whose
# answer is recognisable (a protocol that waits for the client to speak first may stay silent:
# then the message must say so and, on this machine, name the process holding the port).
NAMED = {
    ("memcached", "redis"): "Redis",
    ("redis", "memcached"): "memcached",
    ("redis", "smtp"): "SMTP",
    ("postgres", "smtp"): "SMTP",
    ("mysql", "smtp"): "SMTP",
    ("smtp", "mysql"): "MySQL",
    ("redis", "mysql"): "MySQL",
    ("redis", "http"): "HTTP",
    ("http", "mysql"): "MySQL",  # its greeting is read, though it resets on the request
}
# Pairs where the server hangs up without a word (PostgreSQL on a Redis PING; Redis on an HTTP
# request, which it takes for a cross-protocol attack): the process holding the port is named.
HOLDER = {
    ("redis", "postgres"): "postgres",
    ("http", "redis"): "redis-server",
}


def run_all_against(project: Project, port: int) -> dict[str, dict[str, Any]]:
    checks = []
    for kind in SERVICE_SCHEMES:
        checks.append(
            f'[[check]]\nid = "{kind}"\nkind = "{kind}"\n'
            f'url = "{service_url(kind, port)}"\ntimeout = "1500ms"\n'
        )
    project.checks("\n".join(checks))
    result = project.run("check", "--format", "json")
    assert result.code in (0, 1), result.stderr
    assert "Traceback" not in result.stderr
    return {c["id"]: c for c in result.json()["checks"]}


def assert_only(checks: dict[str, dict[str, Any]], own: str, server: str) -> None:
    for kind, check in checks.items():
        if kind == own:  # its own server: up (this login may still be refused: that says "up")
            up = check["status"] in ("pass", "warn") or " is up at " in check["message"]
            assert up, (kind, check["message"])
            continue
        assert check["status"] == "fail", (kind, server, check["message"])
        assert check["duration_ms"] < 2000, (kind, server, check["duration_ms"])
        message = check["message"]
        assert "crashed" not in message, message
        named = NAMED.get((kind, server), "")
        if named:
            assert f"{named} answered at 127.0.0.1:" in message, (kind, server, message)
        holder = HOLDER.get((kind, server))
        if holder:  # named by its process, or (when some bytes arrived first) by its protocol
            assert f"{holder} (pid " in message or " answered at " in message, (kind, server)
        # On this machine the user always learns who answered: a protocol, or a process.
        assert " answered at " in message or " (pid " in message, (kind, server, message)
        assert check["fix"], (kind, server, message)


def test_against_real_postgres(project: Project, pg_server: Any) -> None:
    checks = run_all_against(project, pg_server.port)
    assert_only(checks, "postgres", "postgres")
    # PostgreSQL hangs up on a MongoDB hello without a byte, as a TLS-only mongod would: the
    # holder names the server, so the "requires TLS" guess is left out.
    mongo = checks["mongodb"]["message"]
    assert "a PostgreSQL server holds that port" in mongo, mongo
    assert "requires TLS" not in mongo and "tls=true" not in (checks["mongodb"]["fix"] or "")


def test_against_real_redis(project: Project, redis_plain: Any) -> None:
    assert_only(run_all_against(project, redis_plain.port), "redis", "redis")


def test_against_real_mariadb(project: Project, mariadb: Any) -> None:
    assert_only(run_all_against(project, mariadb.port), "mysql", "mysql")


def test_against_real_memcached(project: Project, memcached_plain: Any) -> None:
    assert_only(run_all_against(project, memcached_plain.port), "memcached", "memcached")


def test_against_real_smtp(project: Project, smtp_server: Any) -> None:
    assert_only(run_all_against(project, smtp_server.port), "smtp", "smtp")


def test_against_real_rabbitmq(project: Project, rabbitmq: Any) -> None:
    assert_only(run_all_against(project, rabbitmq.port), "amqp", "amqp")


def test_against_an_http_server(project: Project, http_responder: Any) -> None:
    assert_only(run_all_against(project, http_responder.port), "http", "http")


def test_against_the_mongodb_fake(project: Project, mongo_fake: Any) -> None:
    port = mongo_fake.start("standalone").port
    assert_only(run_all_against(project, port), "mongodb", "mongodb")


def test_against_the_kafka_fake(project: Project, kafka_fake: Any) -> None:
    port = kafka_fake.start("ok").port
    assert_only(run_all_against(project, port), "kafka", "kafka")


def test_against_a_server_that_closes_at_once(project: Project, closer: Any) -> None:
    # No byte came: every kind says the server hung up (naming who holds the port), never
    # "it sent " followed by nothing.
    checks = run_all_against(project, closer.port)
    for kind, check in checks.items():
        message = check["message"]
        assert check["status"] == "fail", (kind, message)
        assert " closed the connection without " in message, (kind, message)
        assert "it sent" not in message, (kind, message)
        assert " (pid " in message, (kind, message)
        assert check["fix"], (kind, message)
    assert "without an SMTP greeting" in checks["smtp"]["message"]
