"""MongoDB: one OP_MSG `hello` proves a server speaks the wire protocol and takes commands.

`hello` (`isMaster` before 4.4.2/4.2.10/4.0.21/3.6.21) is the command every driver sends first,
before authenticating: the server answers it without a login. So the probe never attempts
SCRAM even when the URL carries credentials — an answer to `hello` already says the server is
up, and which role it plays (standalone, primary or secondary of a replica set, arbiter,
mongos). The password is never sent, logged or shown.

Wire format (MongoDB Wire Protocol, all integers little-endian): a 16-byte header
(messageLength, requestID, responseTo, opCode 2013 = OP_MSG), uint32 flagBits, then sections;
ours is one kind-0 section holding the BSON body `{hello: 1, $db: "admin"}` (52 bytes in all).
The reply is an OP_MSG whose responseTo is our requestID and whose kind-0 body has `ok: 1.0`
(or `ok: 0` with `code`/`codeName`/`errmsg`). A server too old for `hello` answers
CommandNotFound (59) and is asked `isMaster` on the same connection; one too old for OP_MSG
itself (before 3.6) would answer OP_REPLY (opCode 1), which we report as such.
"""

from __future__ import annotations

import secrets
import struct
from typing import Any

from envdoctor.probes import bson
from envdoctor.probes.connect import Log
from envdoctor.probes.result import ProbeResult, State, Target, wrong_protocol
from envdoctor.probes.wire import Wire

OP_REPLY = 1
OP_COMPRESSED = 2012
OP_MSG = 2013
HEADER = struct.Struct("<iiii")
MAX_MESSAGE = 48_000_000
"""The servers' `maxMessageSizeBytes`: a bigger length is not a MongoDB reply."""
CHECKSUM_PRESENT = 1 << 0
MORE_TO_COME = 1 << 1

COMMAND_NOT_FOUND = 59

# Error codes (src/mongo/base/error_codes.yml) that mean "up, but not serving yet / any more".
NOT_READY_CODES = {
    91: "shutting down (ShutdownInProgress)",
    11600: "interrupted at shutdown (InterruptedAtShutdown)",
    11602: "interrupted by a replica set state change (InterruptedDueToReplStateChange)",
    13436: "neither primary nor secondary: still starting up or recovering (NotPrimaryOrSecondary)",
    10107: "not a writable primary (NotWritablePrimary)",
    13435: "not primary and secondaryOk is false (NotPrimaryNoSecondaryOk)",
    189: "the primary stepped down (PrimarySteppedDown)",
    94: "the replica set is not yet initialized (NotYetInitialized)",
    262: "exceeded its time limit (ExceededTimeLimit)",
    6: "host unreachable (HostUnreachable)",
    7: "host not found (HostNotFound)",
    89: "network timeout (NetworkTimeout)",
}
NEEDS_AUTH_CODES = {13: "Unauthorized", 11: "UserNotFound"}
AUTH_REJECTED_CODES = {18: "AuthenticationFailed"}


def hello_message(request_id: int, command: str = "hello") -> bytes:
    """An OP_MSG carrying `{<command>: 1, $db: "admin"}` in one kind-0 section."""
    body = bson.encode({command: 1, "$db": "admin"})
    payload = struct.pack("<I", 0) + b"\x00" + body
    return HEADER.pack(HEADER.size + len(payload), request_id, 0, OP_MSG) + payload


def parse_op_msg(message: bytes) -> dict[str, Any]:
    """The kind-0 body of an OP_MSG (header included in `message`); BsonError if malformed."""
    if len(message) < HEADER.size + 4:
        raise bson.BsonError("an OP_MSG shorter than its header and flags")
    (flags,) = struct.unpack_from("<I", message, HEADER.size)
    end = len(message) - (4 if flags & CHECKSUM_PRESENT else 0)
    unknown_required = flags & 0xFFFF & ~(CHECKSUM_PRESENT | MORE_TO_COME)
    if unknown_required:
        raise bson.BsonError(f"required flag bits we do not know: 0x{unknown_required:x}")
    pos = HEADER.size + 4
    body: dict[str, Any] | None = None
    while pos < end:
        kind = message[pos]
        pos += 1
        if kind == 0:
            document, pos = bson.decode_document(message[:end], pos)
            if body is not None:
                raise bson.BsonError("an OP_MSG with two body sections")
            body = document
        elif kind == 1:
            if pos + 4 > end:
                raise bson.BsonError("a truncated document sequence section")
            (size,) = struct.unpack_from("<i", message, pos)
            if size < 4 or pos + size > end:
                raise bson.BsonError("a document sequence section that does not fit")
            pos += size
        else:
            raise bson.BsonError(f"an OP_MSG section of unknown kind {kind}")
    if pos != end:
        raise bson.BsonError("the OP_MSG sections overrun the message")
    if body is None:
        raise bson.BsonError("an OP_MSG without a body section")
    return body


async def probe(target: Target, deadline: float, log: Log) -> ProbeResult:
    """Sends `hello` (then `isMaster` if the server predates `hello`) and reads the reply."""
    async with await Wire.open(
        target.host, target.port, deadline, tls=target.tls, server_hostname=target.host, log=log
    ) as wire:
        reply = await _command(wire, "hello", log)
        if isinstance(reply, ProbeResult):
            return reply
        if reply.get("ok") != 1 and _code(reply) == COMMAND_NOT_FOUND:
            log("the server does not know `hello` (CommandNotFound): asking `isMaster`")
            reply = await _command(wire, "isMaster", log)
            if isinstance(reply, ProbeResult):
                return reply
        # URI option names are case-insensitive (`replicaSet`, `replicaset`).
        replica_set = next((v for k, v in target.params.items() if k.lower() == "replicaset"), "")
        return judge(reply, replica_set)


async def _command(wire: Wire, command: str, log: Log) -> dict[str, Any] | ProbeResult:
    """One command round trip: the reply body, or a ProbeResult when it was not MongoDB's."""
    request_id = secrets.randbits(31) or 1
    await wire.send(hello_message(request_id, command))
    log(f'sent OP_MSG {{{command}: 1, $db: "admin"}} (requestID {request_id})')
    header = await wire.read_exactly(HEADER.size)
    length, _reply_id, response_to, op_code = HEADER.unpack(header)
    if op_code not in (OP_MSG, OP_REPLY, OP_COMPRESSED) or not (
        HEADER.size < length <= MAX_MESSAGE
    ):
        return _wrong(wire, "not a MongoDB message header")
    if response_to != request_id:
        return _wrong(
            wire,
            f"a reply framed like MongoDB but to request {response_to}, not ours ({request_id})",
        )
    message = header + await wire.read_exactly(length - HEADER.size)
    if op_code == OP_REPLY:
        log(f"received OP_REPLY ({length} bytes): the legacy reply format")
        return _legacy_reply(message)
    if op_code == OP_COMPRESSED:
        # We offered no compressors in `hello`, so a server must not compress its answer.
        return _wrong(wire, "an OP_COMPRESSED reply though no compression was negotiated")
    try:
        body = parse_op_msg(message)
    except bson.BsonError as exc:
        return _wrong(wire, f"an OP_MSG reply that does not parse: {exc}")
    log(f"received OP_MSG reply ({length} bytes): {_summary(body)}")
    return body


def _wrong(wire: Wire, what: str) -> ProbeResult:
    return wrong_protocol(bytes(wire.received), "MongoDB", what)


def _legacy_reply(message: bytes) -> ProbeResult:
    """OP_REPLY: only a server older than 3.6 (no OP_MSG) answers this way."""
    detail = ""
    # header, responseFlags int32, cursorID int64, startingFrom int32, numberReturned int32
    start = HEADER.size + 20
    try:
        document, _ = bson.decode_document(message, start)
        if "$err" in document:
            detail = f"; it said: {str(document['$err'])[:200]}"
        elif "maxWireVersion" in document:
            detail = f"; maxWireVersion {document['maxWireVersion']}"
    except bson.BsonError:
        pass
    return ProbeResult(
        State.REFUSED_LOGIN,
        "the server answered with the legacy OP_REPLY: it is older than MongoDB 3.6 and does "
        f"not speak OP_MSG, which current drivers require{detail}",
        server="MongoDB (before 3.6)",
        code="OP_REPLY",
    )


def _code(reply: dict[str, Any]) -> int | None:
    code = reply.get("code")
    return code if isinstance(code, int) and not isinstance(code, bool) else None


def _summary(body: dict[str, Any]) -> str:
    """A short line for the evidence: the fields that decide, never the whole document."""
    keys = (
        "ok",
        "code",
        "codeName",
        "isWritablePrimary",
        "ismaster",
        "secondary",
        "arbiterOnly",
        "msg",
        "setName",
        "maxWireVersion",
    )
    shown = [f"{k} {body[k]!r}" for k in keys if k in body]
    return ", ".join(shown) or "an empty document"


def judge(reply: dict[str, Any], replica_set: str = "") -> ProbeResult:
    """What a `hello`/`isMaster` reply body says (`replica_set`: the URL's `replicaSet`)."""
    ok = reply.get("ok")
    wire_version = reply.get("maxWireVersion")
    server = f"MongoDB (maxWireVersion {wire_version})" if wire_version is not None else "MongoDB"
    if ok != 1:  # ok: 0 (or 0.0): a command error; `ok` is a double, 1 == 1.0 in Python
        return _command_error(reply, server)
    role, not_ready = _role(reply)
    if not_ready:
        return ProbeResult(State.NOT_READY, not_ready, server=server)
    set_name = reply.get("setName")
    if replica_set and reply.get("msg") != "isdbgrid" and set_name != replica_set:
        # Drivers ignore a member of another set (or a standalone) and time out selecting one.
        actual = f"is in replica set {set_name!r}" if isinstance(set_name, str) else f"is a {role}"
        return ProbeResult(
            State.REFUSED_LOGIN,
            f"the URL asks for replica set {replica_set!r} but this server {actual}",
            server=server,
            code="replicaSet",
        )
    parts = [f"maxWireVersion {wire_version}"] if wire_version is not None else []
    parts.append(role)
    return ProbeResult(
        State.READY, f"MongoDB accepting connections ({', '.join(parts)})", server=server
    )


def _role(reply: dict[str, Any]) -> tuple[str, str]:
    """(what this member is, "" or why it cannot serve) from the `hello` fields."""
    primary = reply.get("isWritablePrimary", reply.get("ismaster")) is True
    set_name = reply.get("setName")
    in_set = f" of replica set {set_name!r}" if isinstance(set_name, str) else ""
    if reply.get("msg") == "isdbgrid":
        return "mongos router", ""
    if reply.get("arbiterOnly") is True:
        return f"arbiter{in_set} (holds no data)", ""
    if primary:
        return (f"primary{in_set}" if in_set else "standalone"), ""
    if reply.get("secondary") is True:
        hidden = " (hidden)" if reply.get("hidden") is True else ""
        return f"secondary{in_set}{hidden}", ""
    if reply.get("isreplicaset") is True:
        return "", (
            "started with --replSet but the replica set is not initiated: run rs.initiate() "
            "in mongosh"
        )
    if in_set:
        return "", (
            f"member{in_set} is neither primary nor secondary (starting up, recovering or "
            "rolling back)"
        )
    return "not writable", ""


def _command_error(reply: dict[str, Any], server: str) -> ProbeResult:
    code = _code(reply)
    name = reply.get("codeName")
    errmsg = reply.get("errmsg")
    said = f": {str(errmsg)[:200]}" if isinstance(errmsg, str) and errmsg else ""
    label = f"{code} {name}" if code is not None and isinstance(name, str) else str(code)
    if code in NOT_READY_CODES:
        return ProbeResult(
            State.NOT_READY, f"{NOT_READY_CODES[code]}{said}", server=server, code=str(code)
        )
    if code in NEEDS_AUTH_CODES:
        return ProbeResult(
            State.NEEDS_AUTH,
            f"`hello` was refused with error {label}{said}",
            server=server,
            code=str(code),
        )
    if code in AUTH_REJECTED_CODES:
        return ProbeResult(
            State.AUTH_REJECTED, f"error {label}{said}", server=server, code=str(code)
        )
    # Any other error: the server is up and answered, but will not serve this client.
    if code is not None:
        failed = f"`hello` failed with error {label}{said}"
    elif said:
        failed = f"`hello` failed{said}"
    else:
        failed = "`hello` answered without ok: 1 and without an error code"
    return ProbeResult(
        State.REFUSED_LOGIN, failed, server=server, code="" if code is None else str(code)
    )
