"""`amqp` end to end: the envdoctor CLI against a real rabbitmq-server and fake brokers.

Every test that puts a password in a URL checks that it shows up in no output: console, JSON,
JUnit, GitHub, Markdown and `explain`.
"""

from __future__ import annotations

import shlex
import sys
from typing import Any

from tests.conftest import Project, closed_port
from tests.kinds._helpers import assert_hidden, one_check, run_all
from tests.servers.rabbitmq import (
    Rabbit,
    answer,
    fake_broker,
    read_frame,
    recv_exactly,
    start_frame,
)

FORMATS = ("console", "json", "junit", "github", "markdown")


def amqp_check(project: Project, body: str) -> tuple[int, dict[str, Any]]:
    return one_check(project, "mq", "amqp", body)


def assert_never_shown(project: Project, secret: str, env: dict[str, str] | None = None) -> None:
    """`secret` is in no report format and not in `explain`, on stdout or stderr."""
    commands = [("check", "--format", fmt) for fmt in FORMATS] + [("explain", "mq")]
    runs = run_all(project, commands, env)
    for result in runs:
        assert result.code in (0, 1), result.stderr
    assert_hidden(runs, [secret])


def test_ready_names_the_broker_and_its_version(project: Project, rabbitmq: Rabbit) -> None:
    code, check = amqp_check(project, f'url = "{rabbitmq.url()}"')
    assert code == 0
    assert check["status"] == "pass"
    address = f"127.0.0.1:{rabbitmq.port}"
    assert check["message"].startswith(
        f"RabbitMQ {rabbitmq.version} accepting connections (mechanisms: AMQPLAIN PLAIN) "
        f"at {address} in "
    )


def test_host_and_port_options(project: Project, rabbitmq: Rabbit) -> None:
    _code, check = amqp_check(project, f'host = "127.0.0.1"\nport = {rabbitmq.port}')
    assert check["status"] == "pass"
    assert check["message"].startswith(f"RabbitMQ {rabbitmq.version} accepting connections")


def test_login_from_an_environment_variable_never_shows_the_password(
    project: Project, rabbitmq: Rabbit
) -> None:
    env = {"AMQP_URL": rabbitmq.url(rabbitmq.user, rabbitmq.password, rabbitmq.vhost)}
    project.checks('[[check]]\nid = "mq"\nkind = "amqp"\nurl = "${AMQP_URL}"\n')
    result = project.run("check", "--format", "json", env=env)
    assert result.code == 0, result.stdout + result.stderr
    (check,) = result.json()["checks"]
    assert check["status"] == "pass"
    assert check["message"].startswith(
        f'RabbitMQ {rabbitmq.version} accepting connections (user "envdoctor" logged in, '
        f'vhost "envdoctor-vh" open) at 127.0.0.1:{rabbitmq.port} in '
    )
    explained = project.run("explain", "mq", env=env)
    assert 'sent Connection.Start-Ok: PLAIN login as user "envdoctor"' in explained.stdout
    assert "Connection.Tune: credentials accepted" in explained.stdout
    assert_never_shown(project, rabbitmq.password, env)


def test_percent_encoded_default_vhost(project: Project, rabbitmq: Rabbit) -> None:
    url = rabbitmq.url(rabbitmq.user, rabbitmq.password, "/")
    assert url.endswith("/%2F")
    _code, check = amqp_check(project, f'url = "{url}"')
    assert check["status"] == "pass"
    assert '(user "envdoctor" logged in, vhost "/" open)' in check["message"]
    assert_never_shown(project, rabbitmq.password)


def test_wrong_password_is_rejected_and_never_shown(project: Project, rabbitmq: Rabbit) -> None:
    canary = "wrong-pw-canary-71c2"
    code, check = amqp_check(project, f'url = "{rabbitmq.url(rabbitmq.user, canary)}"')
    assert code == 1
    assert check["status"] == "fail"
    assert check["message"].startswith(
        f"AMQP 0-9-1 at 127.0.0.1:{rabbitmq.port} rejected the credentials: "
        'user "envdoctor" was refused: 403 ACCESS_REFUSED - Login was refused'
    )
    assert check["fix"] == "check the user and password in the URL (they are never shown here)"
    assert_never_shown(project, canary)


def test_missing_vhost_gets_the_rabbitmqctl_fix_and_the_fix_works(
    project: Project, rabbitmq: Rabbit
) -> None:
    vhost = "team/app"  # a slash: percent-encoded in the URL, decoded for the broker
    url = rabbitmq.url(rabbitmq.user, rabbitmq.password, vhost)
    assert "/team%2Fapp" in url
    _code, check = amqp_check(project, f'url = "{url}"')
    assert check["status"] == "fail"
    assert check["message"].startswith(
        f"AMQP 0-9-1 is up at 127.0.0.1:{rabbitmq.port} but refuses this login: "
        'vhost "team/app" does not exist (530 NOT_ALLOWED'
    )
    assert check["fix"] == (
        "rabbitmqctl add_vhost team/app && "
        "rabbitmqctl set_permissions -p team/app envdoctor '.*' '.*' '.*'"
    )
    for step in check["fix"].split(" && "):
        argv = shlex.split(step)
        assert argv[0] == "rabbitmqctl"
        rabbitmq.ctl(*argv[1:])
    _code, check = amqp_check(project, f'url = "{url}"')
    assert check["status"] == "pass", check["message"]
    assert 'vhost "team/app" open' in check["message"]
    assert_never_shown(project, rabbitmq.password)


def test_vhost_without_permissions_gets_set_permissions(project: Project, rabbitmq: Rabbit) -> None:
    url = rabbitmq.url(rabbitmq.user, rabbitmq.password, rabbitmq.locked_vhost)
    _code, check = amqp_check(project, f'url = "{url}"')
    assert check["status"] == "fail"
    assert (
        'refuses this login: user "envdoctor" has no access to vhost "locked-vh"'
        in (check["message"])
    )
    assert check["fix"] == "rabbitmqctl set_permissions -p locked-vh envdoctor '.*' '.*' '.*'"


def test_amqps_with_verify_off(project: Project, rabbitmq: Rabbit) -> None:
    url = rabbitmq.url(rabbitmq.user, rabbitmq.password, scheme="amqps")
    _code, check = amqp_check(project, f'url = "{url}"\nverify = false')
    assert check["status"] == "pass", check["message"]
    assert check["message"].startswith(f"RabbitMQ {rabbitmq.version} accepting connections")
    assert f"at 127.0.0.1:{rabbitmq.tls_port}" in check["message"]


def test_amqps_with_a_self_signed_certificate_fails_verification(
    project: Project, rabbitmq: Rabbit
) -> None:
    _code, check = amqp_check(project, f'url = "{rabbitmq.url(scheme="amqps")}"')
    assert check["status"] == "fail"
    assert check["message"].startswith(
        f"TLS failed with 127.0.0.1:{rabbitmq.tls_port}: self-signed certificate"
    )


def test_plain_amqp_on_the_tls_port_names_tls(project: Project, rabbitmq: Rabbit) -> None:
    _code, check = amqp_check(project, f'url = "{rabbitmq.url(port=rabbitmq.tls_port)}"')
    assert check["status"] == "fail"
    assert check["message"].startswith(
        f"TLS answered at 127.0.0.1:{rabbitmq.tls_port}, not AMQP 0-9-1 (the port speaks TLS: "
    )
    assert check["message"].endswith("; use amqps://)")


def test_an_amqp_1_0_broker_is_named(project: Project) -> None:
    with fake_broker(answer(b"AMQP\x00\x01\x00\x00")) as (port, seen):
        code, check = amqp_check(project, f'url = "amqp://127.0.0.1:{port}"')
    assert seen["header"] == b"AMQP\x00\x00\x09\x01"
    assert code == 1
    assert check["status"] == "fail"
    assert check["message"] == (
        f"AMQP 1.0 answered at 127.0.0.1:{port}, not AMQP 0-9-1 (an AMQP 1.0 broker: "
        r"it answered the 0-9-1 protocol header with its own, AMQP\x00\x01\x00\x00)"
    )
    assert check["fix"] == (
        f"check the port: {port} does not speak AMQP 0-9-1 (AMQP 0-9-1's usual port is 5672)"
    )


def test_http_on_the_port_is_named(project: Project) -> None:
    reply = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"
    with fake_broker(answer(reply)) as (port, _seen):
        _code, check = amqp_check(project, f'url = "amqp://127.0.0.1:{port}"')
    assert check["status"] == "fail"
    assert check["message"].startswith(f"HTTP answered at 127.0.0.1:{port}, not AMQP 0-9-1 (")


def test_garbage_is_the_wrong_protocol(project: Project) -> None:
    with fake_broker(answer(b"\x00\x07garbage")) as (port, _seen):
        _code, check = amqp_check(project, f'url = "amqp://127.0.0.1:{port}"')
    assert check["status"] == "fail"
    assert check["message"] == (
        f"something answered at 127.0.0.1:{port}, but not in the AMQP 0-9-1 protocol "
        r"(it answered the AMQP protocol header with \x00\x07garbage)"
    )


def test_a_hang_up_after_the_login_is_rejected_credentials(project: Project) -> None:
    canary = "hangup-canary-5d1e"

    def script(conn: Any, seen: dict[str, Any]) -> None:
        recv_exactly(conn, 8)
        conn.sendall(start_frame())
        seen["start_ok"] = read_frame(conn)

    with fake_broker(script) as (port, _seen):
        _code, check = amqp_check(project, f'url = "amqp://app:{canary}@127.0.0.1:{port}/"')
        assert check["status"] == "fail"
        assert check["message"] == (
            f"AMQP 0-9-1 at 127.0.0.1:{port} rejected the credentials: the broker closed the "
            'connection after the login of user "app"'
        )
        assert_never_shown(project, canary)


def test_refused_port_says_how_to_start_rabbitmq(project: Project) -> None:
    port = closed_port()
    _code, check = amqp_check(project, f'url = "amqp://127.0.0.1:{port}"')
    assert check["status"] == "fail"
    assert check["message"].startswith(f"refused at 127.0.0.1:{port}; nothing listens on port")
    if sys.platform.startswith("linux"):
        assert check["fix"] == "sudo systemctl start rabbitmq-server"


def test_another_scheme_is_a_configuration_error(project: Project) -> None:
    project.checks('[[check]]\nid = "mq"\nkind = "amqp"\nurl = "redis://localhost"\n')
    result = project.run("check")
    assert result.code == 2
    assert "the URL scheme must be amqp://, amqps:// (got redis://)" in result.stderr
