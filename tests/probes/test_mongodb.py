"""The MongoDB probe against the fake server (real OP_MSG framing over real sockets), other
protocols on the port, and the message parser on its own."""

from __future__ import annotations

import asyncio
import struct
import time
from typing import Any

import pytest
from tests.conftest import closed_port
from tests.probes._helpers import seconds_to_no_answer
from tests.servers.mongo_fake import MongoFakes, crc32c, op_msg, parse_request

from envdoctor.probes import bson
from envdoctor.probes.connect import Refused
from envdoctor.probes.mongodb import hello_message, judge, parse_op_msg, probe
from envdoctor.probes.result import ProbeResult, State, Target
from envdoctor.probes.wire import Closed

CANARY = "CANARY-mongo-pw-7Qx"


def run(port: int, timeout: float = 2.0, **target: Any) -> tuple[ProbeResult, list[str]]:
    notes: list[str] = []
    result = asyncio.run(
        probe(Target("127.0.0.1", port, **target), time.monotonic() + timeout, notes.append)
    )
    return result, notes


def test_hello_is_the_52_byte_op_msg_of_the_spec() -> None:
    message = hello_message(0x01020304)
    assert len(message) == 52
    assert message[:16] == struct.pack("<iiii", 52, 0x01020304, 0, 2013)
    assert message[16:21] == b"\x00\x00\x00\x00\x00"  # flagBits 0, section kind 0
    assert parse_request(message) == {"hello": 1, "$db": "admin"}


@pytest.mark.parametrize(
    ("mode", "role"),
    [
        ("standalone", "standalone"),
        ("primary", "primary of replica set 'rs0'"),
        ("secondary", "secondary of replica set 'rs0'"),
        ("arbiter", "arbiter of replica set 'rs0' (holds no data)"),
        ("mongos", "mongos router"),
        ("checksum", "standalone"),
    ],
)
def test_ready_roles(mongo_fake: MongoFakes, mode: str, role: str) -> None:
    result, notes = run(mongo_fake.start(mode).port)
    assert result.state is State.READY
    assert result.message == f"MongoDB accepting connections (maxWireVersion 21, {role})"
    assert result.server == "MongoDB (maxWireVersion 21)"
    assert any(n.startswith('sent OP_MSG {hello: 1, $db: "admin"}') for n in notes)
    assert any("received OP_MSG reply" in n and "ok 1.0" in n for n in notes)


def test_a_server_without_hello_is_asked_is_master(mongo_fake: MongoFakes) -> None:
    server = mongo_fake.fresh("no_hello")
    result, notes = run(server.port)
    assert result.state is State.READY
    assert result.message == "MongoDB accepting connections (maxWireVersion 6, standalone)"
    assert [next(iter(parse_request(r))) for r in server.requests] == ["hello", "isMaster"]
    assert any("CommandNotFound" in n for n in notes)


def test_shutting_down_is_not_ready_with_the_servers_words(mongo_fake: MongoFakes) -> None:
    result, _ = run(mongo_fake.start("shutdown").port)
    assert result.state is State.NOT_READY
    assert result.code == "91"
    assert result.message == (
        "shutting down (ShutdownInProgress): The server is in quiesce mode and will shut down"
    )


def test_an_uninitiated_replica_set_is_not_ready(mongo_fake: MongoFakes) -> None:
    result, _ = run(mongo_fake.start("uninitiated").port)
    assert result.state is State.NOT_READY
    assert "rs.initiate()" in result.message


def test_a_recovering_member_is_not_ready(mongo_fake: MongoFakes) -> None:
    result, _ = run(mongo_fake.start("recovering").port)
    assert result.state is State.NOT_READY
    assert result.message.startswith("member of replica set 'rs0' is neither primary nor secondary")


def test_unauthorized_means_credentials_are_needed(mongo_fake: MongoFakes) -> None:
    result, _ = run(mongo_fake.start("unauthorized").port)
    assert result.state is State.NEEDS_AUTH
    assert result.code == "13"
    assert "13 Unauthorized" in result.message


def test_op_reply_means_a_server_too_old_for_op_msg(mongo_fake: MongoFakes) -> None:
    result, _ = run(mongo_fake.start("legacy").port)
    assert result.state is State.REFUSED_LOGIN
    assert result.code == "OP_REPLY"
    assert "older than MongoDB 3.6" in result.message


def test_the_url_replica_set_is_checked(mongo_fake: MongoFakes) -> None:
    port = mongo_fake.start("primary").port
    assert run(port, params={"replicaSet": "rs0"})[0].state is State.READY
    assert run(port, params={"replicaset": "prod"})[0].state is State.REFUSED_LOGIN
    wrong, _ = run(port, params={"replicaSet": "prod"})
    assert wrong.state is State.REFUSED_LOGIN
    assert wrong.message == (
        "the URL asks for replica set 'prod' but this server is in replica set 'rs0'"
    )
    standalone, _ = run(mongo_fake.start("standalone").port, params={"replicaSet": "rs0"})
    assert standalone.message == (
        "the URL asks for replica set 'rs0' but this server is a standalone"
    )
    # A mongos stands for the cluster: replicaSet does not apply to it.
    assert run(mongo_fake.start("mongos").port, params={"replicaSet": "x"})[0].ok


def test_credentials_are_never_sent_or_logged(mongo_fake: MongoFakes) -> None:
    server = mongo_fake.fresh("standalone")
    result, notes = run(server.port, user="app", password=CANARY, database="shop")
    assert result.ok
    assert len(server.requests) == 1
    assert parse_request(server.requests[0]) == {"hello": 1, "$db": "admin"}
    assert CANARY.encode() not in b"".join(server.requests)
    assert not any(CANARY in n for n in notes)


def test_a_reply_to_another_request_is_not_ours(mongo_fake: MongoFakes) -> None:
    result, _ = run(mongo_fake.start("wrong_response_to").port)
    assert result.state is State.WRONG_PROTOCOL
    assert result.protocol == ""
    assert result.message.startswith("a reply framed like MongoDB but to request ")


def test_silence_is_no_answer(mongo_fake: MongoFakes) -> None:
    port = mongo_fake.start("silent").port
    assert seconds_to_no_answer(lambda: run(port, timeout=0.3)) < 1.0


def test_a_refused_port_is_left_to_the_kind() -> None:
    with pytest.raises(Refused):
        run(closed_port())


@pytest.mark.parametrize(
    ("reply", "close", "protocol"),
    [
        (b"-ERR unknown command '4', with args beginning with: \r\n", False, "Redis"),
        (
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            True,
            "HTTP",
        ),
        (b"\x00\x00\x00\x10\x00\x12\x00\x00" + bytes(12), False, ""),
    ],
)
def test_another_protocol_is_named(
    mongo_fake: MongoFakes, reply: bytes, close: bool, protocol: str
) -> None:
    result, _ = run(mongo_fake.canned(reply, close=close).port)
    assert result.state is State.WRONG_PROTOCOL
    assert result.protocol == protocol
    if protocol:
        assert result.message.startswith("it sent ")
    else:
        assert result.message.startswith("not a MongoDB message header (it sent ")


def test_a_short_answer_then_hanging_up_is_closed_with_the_bytes(mongo_fake: MongoFakes) -> None:
    with pytest.raises(Closed) as caught:
        run(mongo_fake.canned(b"-ERR\r\n", close=True).port)
    assert caught.value.received == b"-ERR\r\n"


# -- the parser on its own ----------------------------------------------------------------


def test_parse_op_msg_skips_document_sequences_and_checksums() -> None:
    body = bson.encode({"ok": 1.0})
    sequence = b"documents\x00" + bson.encode({"_id": 1})
    section1 = b"\x01" + struct.pack("<i", 4 + len(sequence)) + sequence
    payload = struct.pack("<I", 1) + section1 + b"\x00" + body
    message = struct.pack("<iiii", 16 + len(payload) + 4, 1, 2, 2013) + payload
    message += struct.pack("<I", crc32c(message))
    assert parse_op_msg(message) == {"ok": 1.0}
    assert parse_op_msg(op_msg({"ok": 1.0}, 2, 1, checksum=True)) == {"ok": 1.0}


@pytest.mark.parametrize(
    ("flags", "sections", "words"),
    [
        (1 << 2, b"\x00" + bson.encode({}), "required flag bits"),
        (0, b"", "without a body"),
        (0, b"\x00" + bson.encode({}) + b"\x00" + bson.encode({}), "two body sections"),
        (0, b"\x07", "unknown kind 7"),
        (0, b"\x01\x02\x00\x00\x00", "does not fit"),
    ],
)
def test_parse_op_msg_refuses_what_a_server_would(flags: int, sections: bytes, words: str) -> None:
    payload = struct.pack("<I", flags) + sections
    message = struct.pack("<iiii", 16 + len(payload), 1, 2, 2013) + payload
    with pytest.raises(bson.BsonError, match=words):
        parse_op_msg(message)


def test_optional_flag_bits_are_ignored() -> None:
    message = op_msg({"ok": 1.0}, 2, 1)
    flagged = message[:16] + struct.pack("<I", 1 << 16) + message[20:]  # exhaustAllowed
    assert parse_op_msg(flagged) == {"ok": 1.0}


# -- judging reply documents ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "state", "message"),
    [
        ({"ismaster": True, "maxWireVersion": 8, "ok": 1.0}, State.READY,
         "MongoDB accepting connections (maxWireVersion 8, standalone)"),
        ({"isWritablePrimary": True, "ok": True}, State.READY,
         "MongoDB accepting connections (standalone)"),
        ({"secondary": True, "setName": "rs0", "hidden": True, "ok": 1}, State.READY,
         "MongoDB accepting connections (secondary of replica set 'rs0' (hidden))"),
        ({"ok": 0.0, "code": 11600, "codeName": "InterruptedAtShutdown"}, State.NOT_READY,
         "interrupted at shutdown (InterruptedAtShutdown)"),
        ({"ok": 0.0, "code": 13436, "errmsg": "node is not in primary or recovering state"},
         State.NOT_READY,
         "neither primary nor secondary: still starting up or recovering "
         "(NotPrimaryOrSecondary): node is not in primary or recovering state"),
        ({"ok": 0.0, "code": 18, "codeName": "AuthenticationFailed"}, State.AUTH_REJECTED,
         "error 18 AuthenticationFailed"),
        ({"ok": 0.0, "code": 40571, "codeName": "Location40571", "errmsg": "no $db"},
         State.REFUSED_LOGIN, "`hello` failed with error 40571 Location40571: no $db"),
        ({"ok": 0.0, "errmsg": "proxy says no"}, State.REFUSED_LOGIN,
         "`hello` failed: proxy says no"),
        ({"ok": 0}, State.REFUSED_LOGIN,
         "`hello` answered without ok: 1 and without an error code"),
        ({"ok": "1"}, State.REFUSED_LOGIN,
         "`hello` answered without ok: 1 and without an error code"),
    ],
)
def test_judge(reply: dict, state: State, message: str) -> None:
    result = judge(reply)
    assert (result.state, result.message) == (state, message)
