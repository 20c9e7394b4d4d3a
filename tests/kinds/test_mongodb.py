"""`mongodb` end to end: the real CLI against the fake MongoDB server (real OP_MSG framing), a
closed port, other protocols on the port, and a password that must never show."""

from __future__ import annotations

from typing import Any

from tests.conftest import Project, closed_port
from tests.kinds._helpers import one_check
from tests.servers.mongo_fake import MongoFakes

CANARY = "CANARY-mongo-9f3Kq"


def mongo(project: Project, url: str, extra: str = "") -> tuple[int, dict[str, Any]]:
    return one_check(project, "db", "mongodb", f'url = "{url}"\n{extra}')


def test_a_standalone_server_passes(project: Project, mongo_fake: MongoFakes) -> None:
    port = mongo_fake.start("standalone").port
    code, check = mongo(project, f"mongodb://127.0.0.1:{port}/shop")
    assert code == 0
    assert check["status"] == "pass"
    assert check["message"].startswith(
        f"MongoDB accepting connections (maxWireVersion 21, standalone) at 127.0.0.1:{port} in "
    )


def test_host_and_port_options(project: Project, mongo_fake: MongoFakes) -> None:
    port = mongo_fake.start("secondary").port
    code, check = one_check(project, "db", "mongodb", f'host = "127.0.0.1"\nport = {port}')
    assert code == 0
    assert "secondary of replica set 'rs0'" in check["message"]


def test_shutting_down_fails_with_the_reason_and_a_wait_fix(
    project: Project, mongo_fake: MongoFakes
) -> None:
    port = mongo_fake.start("shutdown").port
    code, check = mongo(project, f"mongodb://127.0.0.1:{port}")
    assert code == 1
    assert check["status"] == "fail"
    assert check["message"] == (
        f"MongoDB at 127.0.0.1:{port} is not ready: shutting down (ShutdownInProgress): "
        "The server is in quiesce mode and will shut down"
    )
    assert check["fix"] == "wait for it: envdoctor check --wait 60s"


def test_unauthorized_hello_warns_that_credentials_are_needed(
    project: Project, mongo_fake: MongoFakes
) -> None:
    port = mongo_fake.start("unauthorized").port
    code, check = mongo(project, f"mongodb://127.0.0.1:{port}/shop")
    assert code == 0  # a warning: the server itself is up
    assert check["status"] == "warn"
    assert f"MongoDB is up at 127.0.0.1:{port} but needs credentials" in check["message"]
    assert check["fix"].startswith("put the credentials in the URL: mongodb://USER:")
    assert check["fix"].endswith(f"@127.0.0.1:{port}/shop")


def test_a_server_too_old_for_op_msg(project: Project, mongo_fake: MongoFakes) -> None:
    port = mongo_fake.start("legacy").port
    _, check = mongo(project, f"mongodb://127.0.0.1:{port}")
    assert check["status"] == "fail"
    assert check["message"].startswith(f"MongoDB at 127.0.0.1:{port} is too old: ")
    assert "upgrade MongoDB" in check["fix"]


def test_the_wrong_replica_set_fails_with_a_fix(project: Project, mongo_fake: MongoFakes) -> None:
    port = mongo_fake.start("primary").port
    _, check = mongo(project, f"mongodb://127.0.0.1:{port}/?replicaSet=prod")
    assert check["status"] == "fail"
    assert check["message"] == (
        f"MongoDB is up at 127.0.0.1:{port} but refuses this login: the URL asks for replica "
        "set 'prod' but this server is in replica set 'rs0'"
    )
    assert check["fix"].startswith("set replicaSet= in the URL")


def test_every_host_is_probed_and_one_down_is_named(
    project: Project, mongo_fake: MongoFakes
) -> None:
    up = mongo_fake.start("primary").port
    down = closed_port()
    project.checks(
        f'[[check]]\nid = "db"\nkind = "mongodb"\n'
        f'url = "mongodb://127.0.0.1:{up},127.0.0.1:{down}/shop?replicaSet=rs0"\n'
    )
    result = project.run("check")
    assert result.code == 1
    assert (
        f"1 of 2 MongoDB hosts ready: 127.0.0.1:{down}: refused at 127.0.0.1:{down}; "
        f"nothing listens on port {down}"
    ) in result.stdout
    report = project.run("check", "--format", "json").json()
    (check,) = report["checks"]
    assert [f["subject"] for f in check["findings"]] == [f"127.0.0.1:{down}"]
    assert check["fix"] == "sudo systemctl start mongod"


def test_all_hosts_up_passes(project: Project, mongo_fake: MongoFakes) -> None:
    one, two = mongo_fake.start("primary").port, mongo_fake.start("secondary").port
    code, check = mongo(project, f"mongodb://127.0.0.1:{one},127.0.0.1:{two}/?replicaSet=rs0")
    assert code == 0
    assert check["message"].startswith("MongoDB ready on all 2 hosts: ")
    assert "primary of replica set 'rs0'" in check["message"]
    assert "secondary of replica set 'rs0'" in check["message"]


def test_http_on_the_port_is_named(project: Project, mongo_fake: MongoFakes) -> None:
    port = mongo_fake.canned(
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", close=True
    ).port
    _, check = mongo(project, f"mongodb://127.0.0.1:{port}")
    assert check["status"] == "fail"
    assert check["message"].startswith(
        f"HTTP answered at 127.0.0.1:{port}, not MongoDB (it sent HTTP/1.1 400 Bad Request"
    )
    assert check["fix"] == (
        f"check the port: {port} does not speak MongoDB (MongoDB's usual port is 27017)"
    )


def test_redis_on_the_port_is_named(project: Project, mongo_fake: MongoFakes) -> None:
    port = mongo_fake.canned(b"-ERR unknown command '4', with args beginning with: \r\n").port
    _, check = mongo(project, f"mongodb://127.0.0.1:{port}")
    assert check["status"] == "fail"
    assert check["message"].startswith(
        f"Redis answered at 127.0.0.1:{port}, not MongoDB (it sent -ERR"
    )


def test_a_short_redis_error_then_silence_is_still_named(
    project: Project, mongo_fake: MongoFakes
) -> None:
    port = mongo_fake.canned(b"-ERR\r\n").port  # fewer bytes than a header, then nothing
    _, check = mongo(project, f"mongodb://127.0.0.1:{port}", 'timeout = "500ms"')
    assert check["status"] == "fail"
    assert check["message"].startswith(f"Redis answered at 127.0.0.1:{port}, not MongoDB")


def test_silence_is_a_black_hole_within_the_timeout(
    project: Project, mongo_fake: MongoFakes
) -> None:
    port = mongo_fake.start("silent").port
    _, check = mongo(project, f"mongodb://127.0.0.1:{port}", 'timeout = "500ms"')
    assert check["status"] == "fail"
    assert check["message"].startswith(
        f"connected to 127.0.0.1:{port}, but no answer within 500 ms waiting for the MongoDB reply"
    )
    assert check["duration_ms"] < 1000


def test_a_server_that_hangs_up_may_want_tls(project: Project, mongo_fake: MongoFakes) -> None:
    port = mongo_fake.canned(b"", close=True).port
    _, check = mongo(project, f"mongodb://127.0.0.1:{port}")
    assert check["status"] == "fail"
    assert "a server that requires TLS does this to plaintext clients" in check["message"]
    assert check["fix"] == "if the server requires TLS, add tls=true to the URL (?tls=true)"


def test_tls_true_in_the_url_speaks_tls(project: Project, mongo_fake: MongoFakes) -> None:
    port = mongo_fake.start("standalone").port
    _, check = mongo(project, f"mongodb://127.0.0.1:{port}/?tls=true", 'timeout = "500ms"')
    assert check["status"] == "fail"
    # The plaintext fake reads our ClientHello as a message header and waits for the rest.
    assert "no answer to the TLS handshake" in check["message"]
    assert check["fix"] == "the port speaks plain text: drop tls=true from the URL"


def test_srv_urls_say_why_they_are_not_supported(project: Project) -> None:
    project.checks('[[check]]\nid = "db"\nkind = "mongodb"\nurl = "${MONGO_URL}"\n')
    result = project.run(
        "check",
        "--format",
        "json",
        env={"MONGO_URL": f"mongodb+srv://app:{CANARY}@cluster0.example.net/shop"},
    )
    (check,) = result.json()["checks"]
    assert check["status"] == "error"
    assert check["message"].startswith(
        "option 'url': mongodb+srv:// URLs (a DNS SRV seed list) are not supported: list the "
        "hosts instead"
    )
    assert CANARY not in result.stdout + result.stderr


def test_another_scheme_is_a_configuration_error(project: Project) -> None:
    project.checks('[[check]]\nid = "db"\nkind = "mongodb"\nurl = "postgres://localhost/x"\n')
    result = project.run("check")
    assert result.code == 2
    assert "the URL scheme must be mongodb:// (got postgres://)" in result.stderr


def test_the_password_never_shows_in_any_output(project: Project, mongo_fake: MongoFakes) -> None:
    server = mongo_fake.fresh("standalone")
    down = closed_port()
    project.checks(
        f'[[check]]\nid = "db"\nkind = "mongodb"\n'
        f'url = "mongodb://app:{CANARY}@127.0.0.1:{server.port},127.0.0.1:{down}/shop"\n'
    )
    outputs = []
    for fmt in ("console", "json", "junit", "github", "markdown"):
        result = project.run("check", "-v", "--format", fmt)
        assert result.code == 1, result.stderr
        assert "1 of 2 MongoDB hosts ready" in result.stdout
        outputs.append(result.stdout + result.stderr)
    explained = project.run("explain", "db")
    assert "mongodb://app:***@127.0.0.1:" in explained.stdout
    assert "sent OP_MSG {hello: 1" in explained.stdout
    outputs.append(explained.stdout + explained.stderr)
    for text in outputs:
        assert CANARY not in text
    # Not on the wire either: `hello` needs no login, so the probe never sends one.
    assert server.requests
    assert all(CANARY.encode() not in request for request in server.requests)
