"""A faithful fake MongoDB server (no server package exists here), plus the asyncio plumbing
that the Kafka fake shares.

The fake speaks the real wire protocol from the MongoDB Wire Protocol spec: 16-byte
little-endian headers, OP_MSG (2013) with flagBits and kind-0/kind-1 sections, an optional
CRC-32C checksum, and BSON bodies. It answers `hello` and the legacy `isMaster` with the
document a mongod 7.0 sends (isWritablePrimary, topologyVersion, maxBsonObjectSize,
maxWireVersion 21, localTime, `$clusterTime` for a replica set, `ok: 1.0`), and unknown commands
with CommandNotFound (59), as the server does. A `mode` picks the state to reproduce:

- `standalone`, `primary`, `secondary`, `arbiter`, `mongos`: the role's real `hello` fields;
- `uninitiated`: started with --replSet, no rs.initiate() yet (`isreplicaset: true`);
- `recovering`: a replica set member that is neither primary nor secondary;
- `shutdown`: quiesce mode, `ok: 0` with 91 ShutdownInProgress (what 5.0+ answers);
- `unauthorized`: `ok: 0`, 13 Unauthorized (a proxy that wants a login first);
- `no_hello`: a server before 4.4.2 — CommandNotFound for `hello`, answers `isMaster`;
- `legacy`: a server before 3.6 answering with OP_REPLY (opCode 1);
- `checksum`: replies carry the checksumPresent flag and a CRC-32C;
- `wrong_response_to`: a reply whose responseTo is not the request's id;
- `silent`: accepts, reads, never answers.

Every server runs on one background event loop thread, on a port the kernel picks (bound to
port 0: no race with other tests), and keeps the raw requests it received for assertions.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import struct
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from envdoctor.probes import bson

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, "FakeServer"], Awaitable[None]]


@dataclass
class FakeServer:
    """One listening fake: its port and every request it read (raw bytes)."""

    port: int
    requests: list[bytes] = field(default_factory=list)
    connections: int = 0


class FakeLoop:
    """A private event loop on a daemon thread serving any number of fake servers."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._servers: list[asyncio.AbstractServer] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def serve(self, handler: Handler) -> FakeServer:
        """Starts a listener on 127.0.0.1 (kernel-chosen port) whose connections `handler` runs."""

        async def start() -> FakeServer:
            fake = FakeServer(0)

            async def on_connect(
                reader: asyncio.StreamReader, writer: asyncio.StreamWriter
            ) -> None:
                fake.connections += 1
                task = asyncio.current_task()
                assert task is not None
                self._tasks.add(task)  # type: ignore[arg-type]
                try:
                    await handler(reader, writer, fake)
                except (ConnectionError, asyncio.IncompleteReadError):
                    pass
                finally:
                    self._tasks.discard(task)  # type: ignore[arg-type]
                    writer.close()

            server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
            self._servers.append(server)
            fake.port = int(server.sockets[0].getsockname()[1])
            return fake

        return asyncio.run_coroutine_threadsafe(start(), self.loop).result(10)

    def close(self) -> None:
        async def shutdown() -> None:
            for server in self._servers:
                server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


def canned_handler(reply: bytes, *, close: bool = False) -> Handler:
    """Another protocol's server: reads what the client sends, answers `reply`, and closes or
    stays silent (as a Redis server does after `-ERR`, or an HTTP server after a 400)."""

    async def handle(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, fake: FakeServer
    ) -> None:
        data = await reader.read(65536)
        fake.requests.append(data)
        writer.write(reply)
        await writer.drain()
        if not close:
            await reader.read()  # until the client hangs up

    return handle


# -- MongoDB ----------------------------------------------------------------------------------

OP_REPLY = 1
OP_MSG = 2013
HEADER = struct.Struct("<iiii")
CHECKSUM_PRESENT = 1


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli, reflected polynomial 0x82F63B78): the OP_MSG checksum."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


MODES = (
    "standalone",
    "primary",
    "secondary",
    "arbiter",
    "mongos",
    "uninitiated",
    "recovering",
    "shutdown",
    "unauthorized",
    "no_hello",
    "legacy",
    "checksum",
    "wrong_response_to",
    "silent",
)

PROCESS_ID = bson.ObjectId(bytes.fromhex("65a1b2c3d4e5f60718293a4b"))


def hello_document(mode: str, port: int, connection_id: int, *, legacy: bool = False) -> dict:
    """What mongod 7.0 answers `hello` with in each role (`legacy`: the isMaster spelling)."""
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    ts = bson.Timestamp(int(now.timestamp()), 1)
    me = f"127.0.0.1:{port}"
    primary_key = "ismaster" if legacy else "isWritablePrimary"
    doc: dict[str, Any] = {
        "topologyVersion": {"processId": PROCESS_ID, "counter": 6},
    }
    if mode in ("primary", "secondary", "arbiter", "recovering"):
        doc.update(
            hosts=[me, "127.0.0.1:1", "127.0.0.1:2"],
            setName="rs0",
            setVersion=1,
        )
    if mode == "uninitiated":
        doc.update(isreplicaset=True, info="Does not have a valid replica set config")
    if mode == "mongos":
        doc["msg"] = "isdbgrid"
    doc[primary_key] = mode in ("standalone", "primary", "mongos")
    if mode in ("primary", "secondary", "arbiter", "recovering", "uninitiated"):
        doc["secondary"] = mode == "secondary"
    if mode == "arbiter":
        doc["arbiterOnly"] = True
    if mode == "primary":
        election = bson.ObjectId(bytes.fromhex("7fffffff0000000000000013"))
        doc.update(primary=me, me=me, electionId=election)
    if mode == "secondary":
        doc.update(primary="127.0.0.1:1", me=me)
    if mode in ("primary", "secondary"):
        doc["lastWrite"] = {
            "opTime": {"ts": ts, "t": 19},
            "lastWriteDate": now,
            "majorityOpTime": {"ts": ts, "t": 19},
            "majorityWriteDate": now,
        }
    doc.update(
        maxBsonObjectSize=16777216,
        maxMessageSizeBytes=48000000,
        maxWriteBatchSize=100000,
        localTime=now,
        logicalSessionTimeoutMinutes=30,
        connectionId=connection_id,
        minWireVersion=0,
        maxWireVersion=6 if legacy else 21,
        readOnly=False,
        ok=1.0,
    )
    if mode in ("primary", "secondary"):
        doc["$clusterTime"] = {
            "clusterTime": ts,
            "signature": {"hash": bytes(20), "keyId": 0},
        }
        doc["operationTime"] = ts
    return doc


def error_document(code: int, name: str, message: str) -> dict:
    return {"ok": 0.0, "errmsg": message, "code": code, "codeName": name}


def op_msg(body: dict, response_to: int, request_id: int, *, checksum: bool = False) -> bytes:
    payload = struct.pack("<I", CHECKSUM_PRESENT if checksum else 0) + b"\x00" + bson.encode(body)
    length = HEADER.size + len(payload) + (4 if checksum else 0)
    message = HEADER.pack(length, request_id, response_to, OP_MSG) + payload
    if checksum:
        message += struct.pack("<I", crc32c(message))
    return message


def op_reply(document: dict, response_to: int, request_id: int) -> bytes:
    """OP_REPLY: responseFlags, cursorID, startingFrom, numberReturned, then the documents."""
    payload = struct.pack("<iqii", 0, 0, 0, 1) + bson.encode(document)
    return HEADER.pack(HEADER.size + len(payload), request_id, response_to, OP_REPLY) + payload


def parse_request(message: bytes) -> dict:
    """The body of a client's OP_MSG, checked as a server checks it (ValueError if malformed)."""
    length, _request_id, response_to, op_code = HEADER.unpack_from(message)
    if length != len(message) or op_code != OP_MSG or response_to != 0:
        raise ValueError("not a client OP_MSG")
    (flags,) = struct.unpack_from("<I", message, HEADER.size)
    end = len(message) - (4 if flags & CHECKSUM_PRESENT else 0)
    if message[HEADER.size + 4] != 0:
        raise ValueError("the first section is not the body")
    body, stop = bson.decode_document(message[:end], HEADER.size + 5)
    if stop != end:
        raise ValueError("sections after the body are not expected from this client")
    return body


def mongo_handler(mode: str) -> Handler:
    async def handle(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, fake: FakeServer
    ) -> None:
        next_id = 1000
        while True:
            header = await reader.readexactly(HEADER.size)
            length, request_id, _response_to, _op_code = HEADER.unpack(header)
            if not HEADER.size <= length <= 48_000_000:
                return  # mongod logs "invalid message length" and closes the connection
            message = header + await reader.readexactly(length - HEADER.size)
            fake.requests.append(message)
            if mode == "silent":
                continue
            try:
                body = parse_request(message)
            except (ValueError, bson.BsonError):
                return  # an unparseable message ends the connection, as in mongod
            command = next(iter(body), "")
            next_id += 1
            response_to = request_id + 1 if mode == "wrong_response_to" else request_id
            if mode == "legacy":
                reply = op_reply(
                    hello_document("standalone", fake.port, fake.connections, legacy=True),
                    response_to,
                    next_id,
                )
            else:
                doc = _answer(mode, command, body, fake)
                reply = op_msg(doc, response_to, next_id, checksum=mode == "checksum")
            writer.write(reply)
            await writer.drain()

    return handle


def _answer(mode: str, command: str, body: dict, fake: FakeServer) -> dict:
    if "$db" not in body:
        return error_document(40571, "Location40571", "OP_MSG requests require a $db argument")
    if command not in ("hello", "isMaster", "ismaster"):
        return error_document(59, "CommandNotFound", f"no such command: '{command}'")
    if mode == "no_hello" and command == "hello":
        return error_document(59, "CommandNotFound", "no such command: 'hello'")
    if mode == "shutdown":
        return error_document(
            91, "ShutdownInProgress", "The server is in quiesce mode and will shut down"
        )
    if mode == "unauthorized":
        return error_document(13, "Unauthorized", "command hello requires authentication")
    role = "standalone" if mode in ("no_hello", "checksum", "wrong_response_to") else mode
    return hello_document(role, fake.port, fake.connections, legacy=command != "hello")


class Fakes:
    """One protocol's fakes on their own loop: `start(mode)` -> a FakeServer in that mode (one
    per mode, shared by the session), `fresh(mode)` -> one of its own, `canned(reply)` ->
    another protocol on a port. Subclasses name the protocol, its modes and its handler."""

    protocol = ""
    modes: tuple[str, ...] = ()
    default_mode = ""

    def __init__(self) -> None:
        self.loop = FakeLoop()
        self._by_mode: dict[str, FakeServer] = {}

    def handler(self, mode: str) -> Handler:
        raise NotImplementedError

    def start(self, mode: str = "") -> FakeServer:
        mode = mode or self.default_mode
        if mode not in self.modes:
            raise ValueError(f"unknown fake {self.protocol} mode {mode!r}")
        if mode not in self._by_mode:
            self._by_mode[mode] = self.fresh(mode)
        return self._by_mode[mode]

    def fresh(self, mode: str = "") -> FakeServer:
        """A server of its own (for tests that count its requests)."""
        return self.loop.serve(self.handler(mode or self.default_mode))

    def canned(self, reply: bytes, *, close: bool = False) -> FakeServer:
        """Another protocol on a port: answers `reply` to whatever it is sent."""
        return self.loop.serve(canned_handler(reply, close=close))

    def close(self) -> None:
        self.loop.close()


class MongoFakes(Fakes):
    protocol = "MongoDB"
    modes = MODES
    default_mode = "standalone"

    def handler(self, mode: str) -> Handler:
        return mongo_handler(mode)


@pytest.fixture(scope="session")
def mongo_fake() -> Iterator[MongoFakes]:
    """Fake MongoDB servers for the session (see the module docstring for the modes)."""
    with contextlib.closing(MongoFakes()) as fakes:
        yield fakes
