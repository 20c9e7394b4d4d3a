"""The Kafka probe against the fake broker (real ApiVersions framing over real sockets), other
protocols on the port, and the response parser on its own."""

from __future__ import annotations

import asyncio
import struct
import time

import pytest
from tests.conftest import closed_port
from tests.probes._helpers import seconds_to_no_answer
from tests.servers.kafka_fake import BROKER_APIS, KafkaFakes, api_versions_response, parse_request

from envdoctor.probes.connect import Refused
from envdoctor.probes.kafka import api_versions_request, parse_api_versions, probe
from envdoctor.probes.result import ProbeResult, State, Target
from envdoctor.probes.wire import Closed


def run(port: int, timeout: float = 2.0) -> tuple[ProbeResult, list[str]]:
    notes: list[str] = []
    result = asyncio.run(probe(Target("127.0.0.1", port), time.monotonic() + timeout, notes.append))
    return result, notes


def test_the_request_is_api_versions_v0_with_header_v1() -> None:
    message = api_versions_request(0x0A0B0C0D)
    assert message == (struct.pack(">ihhih", 19, 18, 0, 0x0A0B0C0D, 9) + b"envdoctor")
    assert parse_request(message[4:]) == (18, 0, 0x0A0B0C0D, "envdoctor")


def test_a_broker_answering_is_ready(kafka_fake: KafkaFakes) -> None:
    server = kafka_fake.fresh("ok")
    result, notes = run(server.port)
    assert result.state is State.READY
    assert result.message == (
        f"Kafka broker answering ({len(BROKER_APIS)} APIs, ApiVersions up to v2)"
    )
    (request,) = server.requests
    api_key, version, correlation_id, client = parse_request(request)
    assert (api_key, version, client) == (18, 0, "envdoctor")
    assert f"sent ApiVersions v0 (correlation id {correlation_id}, client id envdoctor)" in notes
    assert f"received ApiVersions v0 response: error 0, {len(BROKER_APIS)} APIs" in notes


def test_each_probe_uses_a_new_correlation_id(kafka_fake: KafkaFakes) -> None:
    server = kafka_fake.fresh("ok")
    run(server.port)
    run(server.port)
    ids = {parse_request(r)[2] for r in server.requests}
    assert len(ids) == 2


def test_unsupported_version_still_proves_kafka(kafka_fake: KafkaFakes) -> None:
    result, _ = run(kafka_fake.start("unsupported").port)
    assert result.state is State.READY
    assert result.code == "35"
    assert result.message == (
        "Kafka broker answering, though it refused ApiVersions v0 "
        "(error 35 UNSUPPORTED_VERSION; it takes ApiVersions v3..v4)"
    )


def test_another_error_code_is_not_ready(kafka_fake: KafkaFakes) -> None:
    result, _ = run(kafka_fake.start("broken").port)
    assert result.state is State.NOT_READY
    assert result.code == "-1"
    assert result.message == "the broker answered ApiVersions with error -1 UNKNOWN_SERVER_ERROR"


def test_a_foreign_correlation_id_is_the_wrong_protocol(kafka_fake: KafkaFakes) -> None:
    result, _ = run(kafka_fake.start("wrong_correlation").port)
    assert result.state is State.WRONG_PROTOCOL
    assert result.protocol == ""
    assert result.message.startswith("a reply framed like Kafka but to correlation id ")


def test_a_listener_that_hangs_up_raises_closed(kafka_fake: KafkaFakes) -> None:
    with pytest.raises(Closed) as caught:
        run(kafka_fake.start("close").port)
    assert caught.value.received == b""


def test_silence_is_no_answer(kafka_fake: KafkaFakes) -> None:
    port = kafka_fake.start("silent").port
    assert seconds_to_no_answer(lambda: run(port, timeout=0.3)) < 1.0


def test_a_refused_port_is_left_to_the_kind() -> None:
    with pytest.raises(Refused):
        run(closed_port())


@pytest.mark.parametrize(
    ("reply", "close", "protocol", "start"),
    [
        (b"-ERR unknown command\r\n", False, "Redis", "it sent "),
        (b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n", True, "HTTP", "it sent "),
        (b"\x15\x03\x03\x00\x02\x02\x46", True, "TLS", "it sent "),
        (b"\x00\x00\x00\x02\x00\x00", False, "", "a size prefix of 2, not a Kafka response"),
        (
            struct.pack(">iihi", 12, 1, 0, 5) + b"\x00\x00",
            False,
            "",
            "not an ApiVersions response: an array of 5 APIs that does not fit",
        ),
        (b"\x7f\x00\x00\x00", False, "", "a size prefix of 2130706432, not a Kafka response"),
    ],
)
def test_another_protocol_is_named(
    kafka_fake: KafkaFakes, reply: bytes, close: bool, protocol: str, start: str
) -> None:
    result, _ = run(kafka_fake.canned(reply, close=close).port)
    assert result.state is State.WRONG_PROTOCOL
    assert result.protocol == protocol
    assert result.message.startswith(start)


# -- the parser on its own ----------------------------------------------------------------


def test_parse_reads_v0_and_tolerates_the_v1_throttle_time() -> None:
    for version in (0, 1):
        frame = api_versions_response(7, version, 0, ((18, 0, 3), (3, 0, 12)))
        assert parse_api_versions(frame[4:]) == (7, 0, [(18, 0, 3), (3, 0, 12)])


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (b"\x00\x00\x00\x01\x00", "a 5-byte response"),
        (b"\x00\x00\x00\x01\x00\x00", "without its list"),
        (b"\x00\x00\x00\x01\x00\x00\x00\x00\x00\x02" + bytes(6), "array of 2 APIs"),
        (b"\x00\x00\x00\x01\x00\x00\xff\xff\xff\xfe", "array of -2 APIs"),
    ],
)
def test_parse_refuses_what_is_not_an_api_versions_response(payload: bytes, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_api_versions(payload)
