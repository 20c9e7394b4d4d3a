"""`kafka` end to end: the real CLI against the fake broker (real ApiVersions framing), several
brokers in one URL, a listener that hangs up, and other protocols on the port."""

from __future__ import annotations

import os
from typing import Any

import psutil
from tests.conftest import Project, closed_port
from tests.kinds._helpers import one_check
from tests.servers.kafka_fake import BROKER_APIS, KafkaFakes


def kafka(project: Project, url: str, extra: str = "") -> tuple[int, dict[str, Any]]:
    return one_check(project, "bus", "kafka", f'url = "{url}"\n{extra}')


def test_a_broker_passes(project: Project, kafka_fake: KafkaFakes) -> None:
    port = kafka_fake.start("ok").port
    code, check = kafka(project, f"kafka://127.0.0.1:{port}")
    assert code == 0
    assert check["status"] == "pass"
    assert check["message"].startswith(
        f"Kafka broker answering ({len(BROKER_APIS)} APIs, ApiVersions up to v2) "
        f"at 127.0.0.1:{port} in "
    )


def test_unsupported_version_still_passes_with_a_note(
    project: Project, kafka_fake: KafkaFakes
) -> None:
    port = kafka_fake.start("unsupported").port
    code, check = kafka(project, f"kafka://127.0.0.1:{port}")
    assert code == 0
    assert check["status"] == "pass"
    assert "refused ApiVersions v0 (error 35 UNSUPPORTED_VERSION" in check["message"]


def test_host_and_port_options(project: Project, kafka_fake: KafkaFakes) -> None:
    port = kafka_fake.start("ok").port
    code, check = one_check(project, "bus", "kafka", f'host = "127.0.0.1"\nport = {port}')
    assert code == 0
    assert check["message"].startswith("Kafka broker answering")


def test_every_broker_is_probed_and_one_down_is_named(
    project: Project, kafka_fake: KafkaFakes
) -> None:
    up = kafka_fake.start("ok").port
    down = closed_port()
    project.checks(
        f'[[check]]\nid = "bus"\nkind = "kafka"\nurl = "kafka://127.0.0.1:{up},127.0.0.1:{down}"\n'
    )
    result = project.run("check")
    assert result.code == 1
    assert (
        f"1 of 2 Kafka hosts ready: 127.0.0.1:{down}: refused at 127.0.0.1:{down}; "
        f"nothing listens on port {down}"
    ) in result.stdout
    assert f"docker run -d -p {down}:9092 apache/kafka:3.7.0" in result.stdout


def test_all_brokers_up_passes(project: Project, kafka_fake: KafkaFakes) -> None:
    one, two = kafka_fake.start("ok").port, kafka_fake.fresh("ok").port
    code, check = kafka(project, f"kafka://127.0.0.1:{one},127.0.0.1:{two}")
    assert code == 0
    assert check["message"].startswith("Kafka ready on all 2 hosts: Kafka broker answering")


def test_a_listener_that_hangs_up_hints_at_tls(project: Project, kafka_fake: KafkaFakes) -> None:
    port = kafka_fake.start("close").port
    _, check = kafka(project, f"kafka://127.0.0.1:{port}")
    assert check["status"] == "fail"
    # The fake is this test process: psutil names it as the port's holder.
    me = f"{psutil.Process().name()} (pid {os.getpid()})"
    assert check["message"] == (
        f"127.0.0.1:{port} closed the connection without a Kafka answer ({me} holds that "
        "port); a listener configured for SSL or SASL_SSL does this to a plaintext client"
    )
    assert check["fix"] == (
        f"check that port {port} is the broker's PLAINTEXT or SASL_PLAINTEXT listener "
        "(see listeners= in server.properties)"
    )


def test_a_foreign_correlation_id_fails(project: Project, kafka_fake: KafkaFakes) -> None:
    port = kafka_fake.start("wrong_correlation").port
    _, check = kafka(project, f"kafka://127.0.0.1:{port}")
    assert check["status"] == "fail"
    assert check["message"].startswith(
        f"something answered at 127.0.0.1:{port}, but not in the Kafka protocol "
        "(a reply framed like Kafka but to correlation id "
    )


def test_a_broker_error_is_not_ready(project: Project, kafka_fake: KafkaFakes) -> None:
    port = kafka_fake.start("broken").port
    _, check = kafka(project, f"kafka://127.0.0.1:{port}")
    assert check["status"] == "fail"
    assert check["message"] == (
        f"Kafka at 127.0.0.1:{port} is not ready: the broker answered ApiVersions with "
        "error -1 UNKNOWN_SERVER_ERROR"
    )


def test_http_on_the_port_is_named(project: Project, kafka_fake: KafkaFakes) -> None:
    port = kafka_fake.canned(
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", close=True
    ).port
    _, check = kafka(project, f"kafka://127.0.0.1:{port}")
    assert check["status"] == "fail"
    assert check["message"].startswith(
        f"HTTP answered at 127.0.0.1:{port}, not Kafka (it sent HTTP/1.1 400 Bad Request"
    )
    assert check["fix"] == (
        f"check the port: {port} does not speak Kafka (Kafka's usual port is 9092)"
    )


def test_redis_on_the_port_is_named(project: Project, kafka_fake: KafkaFakes) -> None:
    port = kafka_fake.canned(b"-ERR unknown command '\\x00\\x00\\x00\\x13'\r\n").port
    _, check = kafka(project, f"kafka://127.0.0.1:{port}")
    assert check["status"] == "fail"
    assert check["message"].startswith(
        f"Redis answered at 127.0.0.1:{port}, not Kafka (it sent -ERR"
    )


def test_silence_is_a_black_hole_within_the_timeout(
    project: Project, kafka_fake: KafkaFakes
) -> None:
    port = kafka_fake.start("silent").port
    _, check = kafka(project, f"kafka://127.0.0.1:{port}", 'timeout = "500ms"')
    assert check["status"] == "fail"
    assert check["message"].startswith(
        f"connected to 127.0.0.1:{port}, but no answer within 500 ms waiting for the Kafka reply"
    )
    assert check["duration_ms"] < 1000
