"""AMQP 0-9-1 (RabbitMQ): the protocol header answered with Connection.Start, and the login.

An open 5672 proves nothing; a broker that speaks 0-9-1 answers `AMQP\\x00\\x00\\x09\\x01` with a
Connection.Start method frame, whose server-properties name the product and version ("RabbitMQ
3.10.8") and whose mechanisms say how it accepts logins. A broker of another AMQP version
(ActiveMQ Artemis, Qpid, Azure Service Bus: AMQP 1.0) answers with its *own* protocol header
instead, and that is worth saying in those words: the port is right, the protocol is not.

When the URL carries a user, the probe goes on as a client would, so "the broker is up" and
"this application can connect" are told apart: Start-Ok with PLAIN (or AMQPLAIN), then Tune
(credentials accepted) or Connection.Close 403 ACCESS_REFUSED; then Tune-Ok and Connection.Open
for the URL's vhost (`amqp://u:p@host/vhost`, default `/`): Open-Ok, or Close 530 NOT_ALLOWED
(the vhost does not exist, or the user has no access to it); then a polite Connection.Close.
The client properties ask for `authentication_failure_close`, so RabbitMQ explains a rejected
login with a Close instead of just hanging up (an older broker that hangs up is still read as a
rejected login). The password is sent once, inside Start-Ok, and never logged or shown.

Field tables are decoded fully (every type RabbitMQ and the 0-9-1 errata define), with bounds
checked: bytes that do not parse are another protocol, not a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import time
from dataclasses import dataclass
from typing import Any

from envdoctor.probes.connect import Log
from envdoctor.probes.identify import describe, identify
from envdoctor.probes.result import ProbeResult, State, Target
from envdoctor.probes.wire import Closed, NoAnswer, Wire

HEADER = b"AMQP\x00\x00\x09\x01"
"""The AMQP 0-9-1 protocol header: "AMQP", protocol id 0, version 0-9-1."""

FRAME_METHOD = 1
FRAME_HEARTBEAT = 8
FRAME_END = 0xCE
FRAME_TYPES = (1, 2, 3, 8)
MAX_FRAME = 1 << 20
"""A Connection.Start is about 500 bytes; a "frame size" beyond this is another protocol."""

# (class id, method id) of the connection class methods the handshake uses.
START, START_OK = (10, 10), (10, 11)
SECURE = (10, 20)
TUNE, TUNE_OK = (10, 30), (10, 31)
OPEN, OPEN_OK = (10, 40), (10, 41)
CLOSE, CLOSE_OK = (10, 50), (10, 51)

METHOD_NAMES = {
    START: "Connection.Start",
    START_OK: "Connection.Start-Ok",
    SECURE: "Connection.Secure",
    TUNE: "Connection.Tune",
    OPEN_OK: "Connection.Open-Ok",
    CLOSE: "Connection.Close",
    CLOSE_OK: "Connection.Close-Ok",
}

# Reply codes of Connection.Close that change what the probe reports.
ACCESS_REFUSED = 403
NOT_ALLOWED = 530
CONNECTION_FORCED = 320

CLOSE_OK_WAIT = 0.25
"""At most this long for the broker's Close-Ok after a polite Close (inside the deadline)."""


class Malformed(ValueError):
    """Bytes that claim to be AMQP but do not parse (truncated table, unknown field type...)."""


# -- decoding -------------------------------------------------------------------------------


class Reader:
    """Reads AMQP's big-endian primitives from one frame payload, bounds checked."""

    def __init__(self, data: bytes, offset: int = 0) -> None:
        self.data = data
        self.pos = offset

    def take(self, count: int) -> bytes:
        end = self.pos + count
        if count < 0 or end > len(self.data):
            raise Malformed(f"truncated: wanted {count} bytes at offset {self.pos}")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def unpack(self, fmt: str) -> Any:
        return struct.unpack(">" + fmt, self.take(struct.calcsize(">" + fmt)))[0]

    def octet(self) -> int:
        return int(self.unpack("B"))

    def short(self) -> int:
        return int(self.unpack("H"))

    def long(self) -> int:
        return int(self.unpack("I"))

    def shortstr(self) -> str:
        return self.take(self.octet()).decode("utf-8", "replace")

    def longstr(self) -> bytes:
        return self.take(self.long())

    def table(self) -> dict[str, Any]:
        """A field table: long size, then (shortstr name, type octet, value) entries."""
        body = Reader(self.take(self.long()))
        table: dict[str, Any] = {}
        while body.pos < len(body.data):
            name = body.shortstr()
            table[name] = body.value()
        return table

    def array(self) -> list[Any]:
        body = Reader(self.take(self.long()))
        values = []
        while body.pos < len(body.data):
            values.append(body.value())
        return values

    def value(self) -> Any:
        """One typed field value (RabbitMQ's and the 0-9-1 errata's type letters)."""
        kind = chr(self.octet())
        simple = _SIMPLE_TYPES.get(kind)
        if simple is not None:
            return self.unpack(simple)
        if kind == "t":
            return self.octet() != 0
        if kind == "D":
            scale = self.octet()
            return self.unpack("I") / (10**scale)
        if kind == "S":
            return self.longstr().decode("utf-8", "replace")
        if kind == "x":
            return self.longstr()
        if kind == "A":
            return self.array()
        if kind == "F":
            return self.table()
        if kind == "V":
            return None
        raise Malformed(f"unknown field type {kind!r} at offset {self.pos - 1}")


_SIMPLE_TYPES = {
    "b": "b",  # signed 8
    "B": "B",  # unsigned 8
    "s": "h",  # signed 16 (RabbitMQ's reading of 's')
    "u": "H",  # unsigned 16
    "I": "i",  # signed 32
    "i": "I",  # unsigned 32
    "l": "q",  # signed 64
    "L": "Q",  # unsigned 64
    "f": "f",  # float
    "d": "d",  # double
    "T": "Q",  # timestamp: seconds since the epoch, unsigned 64
}


def decode_table(data: bytes) -> dict[str, Any]:
    """A whole encoded field table (with its long size prefix); Malformed if it does not parse."""
    reader = Reader(data)
    table = reader.table()
    if reader.pos != len(data):
        raise Malformed(f"{len(data) - reader.pos} bytes after the table")
    return table


# -- encoding (what a client sends) ----------------------------------------------------------


def shortstr(text: str) -> bytes:
    data = text.encode("utf-8")
    if len(data) > 255:
        raise Malformed("a short string is at most 255 bytes")
    return bytes([len(data)]) + data


def longstr(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def table_body(table: dict[str, Any]) -> bytes:
    """Field-table entries without the size prefix (AMQPLAIN's response is exactly this)."""
    out = bytearray()
    for name, value in table.items():
        out += shortstr(name)
        if isinstance(value, bool):
            out += b"t" + bytes([value])
        elif isinstance(value, dict):
            out += b"F" + encode_table(value)
        else:
            out += b"S" + longstr(str(value).encode("utf-8"))
    return bytes(out)


def encode_table(table: dict[str, Any]) -> bytes:
    return longstr(table_body(table))


def method_frame(method: tuple[int, int], args: bytes = b"") -> bytes:
    payload = struct.pack(">HH", *method) + args
    return struct.pack(">BHI", FRAME_METHOD, 0, len(payload)) + payload + bytes([FRAME_END])


CLIENT_PROPERTIES = {
    "product": "envdoctor",
    "information": "envdoctor readiness probe",
    "connection_name": "envdoctor probe",
    "capabilities": {"authentication_failure_close": True},
}


# -- the protocol header answer ------------------------------------------------------------


def header_version(header: bytes) -> str:
    """The AMQP version an 8-byte protocol header names: "1.0", "0-9-1", "0-8", ...

    Since 0-9-1 the header is "AMQP", protocol id, major, minor, revision (AMQP 1.0 uses ids 0,
    2 for TLS and 3 for SASL); before it, "AMQP", 1, 1, then the version (0-8 wrote 8, 0).
    """
    proto, major, minor, revision = header[4], header[5], header[6], header[7]
    if proto == 1:
        old_major, old_minor = header[6], header[7]
        if old_major == 0:
            return f"0-{old_minor}"
        if old_minor == 0:
            return f"0-{old_major}"
        return f"{old_major}-{old_minor}"
    if major == 0:
        return f"0-{minor}-{revision}"
    version = f"{major}.{minor}" + (f".{revision}" if revision else "")
    layer = {2: " (TLS)", 3: " (SASL)"}.get(proto, "")
    return version + layer


def _other_header(header: bytes) -> ProbeResult:
    version = header_version(header)
    if header == HEADER:
        # Our own header back: a 0-9-1 broker that will not talk to us (it should not happen).
        return ProbeResult(
            State.WRONG_PROTOCOL,
            f"it answered with the protocol header {describe(header)} instead of Connection.Start",
        )
    name = version.split(" ", 1)[0]
    return ProbeResult(
        State.WRONG_PROTOCOL,
        f"an AMQP {version} broker: it answered the 0-9-1 protocol header with its own, "
        f"{describe(header)}",
        protocol=f"AMQP {name}",
    )


def _not_amqp(received: bytes, why: str = "", *, amqp: bool = False) -> ProbeResult:
    """Another protocol answered (`amqp`: AMQP frames, but not the handshake's)."""
    other = "" if amqp else identify(received)
    if other == "TLS":
        # An AMQPS listener answers plain bytes with a TLS alert: right broker, wrong scheme.
        return ProbeResult(
            State.WRONG_PROTOCOL,
            f"the port speaks TLS: it answered the plain AMQP protocol header with a TLS "
            f"record ({describe(received)}); use amqps://",
            protocol="TLS",
        )
    detail = f"it answered the AMQP protocol header with {describe(received)}"
    if why:
        detail += f" ({why})"
    return ProbeResult(State.WRONG_PROTOCOL, detail, protocol=other if other != "AMQP" else "")


# -- frames --------------------------------------------------------------------------------


async def read_method(wire: Wire) -> tuple[tuple[int, int], Reader]:
    """The next method frame on channel 0 (heartbeats skipped): its (class, method) and args."""
    while True:
        head = await wire.read_exactly(7)
        frame_type, channel, size = struct.unpack(">BHI", head)
        if frame_type not in FRAME_TYPES or size > MAX_FRAME:
            raise Malformed(f"not an AMQP frame header ({describe(head)})")
        body = await wire.read_exactly(size + 1)
        if body[-1] != FRAME_END:
            raise Malformed(f"frame end {body[-1]:#04x} instead of 0xce")
        if frame_type == FRAME_HEARTBEAT:
            continue
        if frame_type != FRAME_METHOD or channel != 0:
            raise Malformed(f"a frame of type {frame_type} on channel {channel}")
        reader = Reader(body[:-1])
        method = (reader.short(), reader.short())
        return method, reader


def _method_name(method: tuple[int, int]) -> str:
    return METHOD_NAMES.get(method, f"method {method[0]}.{method[1]}")


def _read_close(reader: Reader) -> tuple[int, str]:
    """Connection.Close's reply code and text; a truncated one still counts as a close."""
    try:
        code = reader.short()
    except Malformed:
        return 0, "(no reply code)"
    try:
        text = reader.shortstr()
    except Malformed:
        text = ""
    return code, text


# -- the probe -----------------------------------------------------------------------------


async def probe(target: Target, deadline: float, log: Log) -> ProbeResult:
    async with await Wire.open(
        target.host, target.port, deadline, tls=target.tls, server_hostname=target.host, log=log
    ) as wire:
        await wire.send(HEADER)
        log("sent the AMQP 0-9-1 protocol header")
        first = await wire.peek(1)
        if not first:
            await wire.read_some()  # raises Closed: the server hung up without a word
        if first == b"A":
            head = await wire.peek(8)
            if len(head) == 8 and head.startswith(b"AMQP"):
                log(f"the server answered with a protocol header: {describe(head)}")
                return _other_header(head)
            log(f"the server answered: {describe(bytes(wire.received))}")
            return _not_amqp(bytes(wire.received))
        if first[0] != FRAME_METHOD:
            log(f"the server answered: {describe(bytes(wire.received))}")
            return _not_amqp(bytes(wire.received))
        try:
            method, reader = await read_method(wire)
            if method == CLOSE:
                # Refused before the handshake (a connection limit, a node shutting down).
                code, text = _read_close(reader)
                log(f"Connection.Close {code} instead of Connection.Start: {text}")
                await _close_ok(wire)
                return _closed_by_broker("the broker", code, text, "the protocol header")
            if method != START:
                why = f"{_method_name(method)}, not Connection.Start"
                return _not_amqp(bytes(wire.received), why, amqp=True)
            start = _parse_start(reader)
        except Malformed as exc:
            log(f"not a valid Connection.Start: {exc}")
            return _not_amqp(bytes(wire.received), str(exc))
        log(
            f"Connection.Start: {start.server} (protocol {start.major}-{start.minor}, "
            f"mechanisms: {' '.join(start.mechanisms) or 'none'})"
        )
        if not target.user:
            return ProbeResult(
                State.READY,
                f"{start.server} accepting connections "
                f"(mechanisms: {' '.join(start.mechanisms) or 'none'})",
                server=start.server,
            )
        return await _login(wire, target, start, log)


@dataclass(frozen=True)
class Start:
    """What Connection.Start said: the broker's protocol version, properties and mechanisms."""

    major: int
    minor: int
    properties: dict[str, Any]
    mechanisms: list[str]
    locales: list[str]

    @property
    def server(self) -> str:
        """Product and version ("RabbitMQ 3.10.8") from the properties, when it gives them."""
        product = _text(self.properties.get("product"))
        version = _text(self.properties.get("version"))
        return " ".join(p for p in (product, version) if p) or "an AMQP 0-9-1 broker"


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value).strip() if value is not None else ""


def _parse_start(reader: Reader) -> Start:
    major, minor = reader.octet(), reader.octet()
    properties = reader.table()
    mechanisms = reader.longstr().decode("utf-8", "replace").split()
    locales = reader.longstr().decode("utf-8", "replace").split()
    return Start(major, minor, properties, mechanisms, locales)


def _scrub(text: str, password: str) -> str:
    """A broker's own words, with the password masked should it ever echo it."""
    return text.replace(password, "***") if password else text


async def _login(wire: Wire, target: Target, start: Start, log: Log) -> ProbeResult:
    user, password = target.user, target.password
    vhost = target.database or "/"
    server = start.server
    if "PLAIN" in start.mechanisms:
        mechanism = "PLAIN"
        response = b"\0" + user.encode("utf-8") + b"\0" + password.encode("utf-8")
    elif "AMQPLAIN" in start.mechanisms:
        mechanism = "AMQPLAIN"
        response = table_body({"LOGIN": user, "PASSWORD": password})
    else:
        offered = " ".join(start.mechanisms) or "none"
        return ProbeResult(
            State.READY,
            f"{server} accepting connections (login not checked: it offers {offered}, "
            "not PLAIN or AMQPLAIN)",
            server=server,
        )
    try:
        vhost_field = shortstr(vhost)
    except Malformed:
        return ProbeResult(
            State.REFUSED_LOGIN, "the vhost name in the URL is longer than 255 bytes", server=server
        )
    locale = start.locales[0] if start.locales else "en_US"
    args = (
        encode_table(CLIENT_PROPERTIES) + shortstr(mechanism) + longstr(response) + shortstr(locale)
    )
    await wire.send(method_frame(START_OK, args))
    log(f'sent Connection.Start-Ok: {mechanism} login as user "{user}"')

    try:
        method, reader = await read_method(wire)
    except Closed:
        log("the broker closed the connection after the login")
        return ProbeResult(
            State.AUTH_REJECTED,
            f'the broker closed the connection after the login of user "{user}"',
            server=server,
        )
    except NoAnswer:
        log("no answer to the login before the deadline")
        return ProbeResult(
            State.NOT_READY,
            f"{server} did not answer the login before the deadline",
            server=server,
        )
    except Malformed as exc:
        return _not_amqp(bytes(wire.received), str(exc))

    if method == CLOSE:
        code, text = await _answer_close(wire, reader, password, log)
        if code == ACCESS_REFUSED:
            return ProbeResult(
                State.AUTH_REJECTED,
                f'user "{user}" was refused: {code} {text}',
                server=server,
                code=str(code),
            )
        return _closed_by_broker(server, code, text, "the login")
    if method != TUNE:
        log(f"{_method_name(method)} instead of Connection.Tune")
        # Connection.Secure (a challenge PLAIN never needs) or anything else: the broker is up
        # and answered in AMQP, but this probe does not go further.
        return ProbeResult(
            State.READY,
            f"{server} accepting connections (login not checked: it answered with "
            f"{_method_name(method)})",
            server=server,
        )
    try:
        channel_max, frame_max, heartbeat = reader.short(), reader.long(), reader.short()
    except Malformed as exc:
        return _not_amqp(bytes(wire.received), str(exc))
    log(
        f"Connection.Tune: credentials accepted (channel-max {channel_max}, frame-max "
        f"{frame_max}, heartbeat {heartbeat} s)"
    )
    await wire.send(
        method_frame(TUNE_OK, struct.pack(">HIH", channel_max, frame_max, 0))
        + method_frame(OPEN, vhost_field + shortstr("") + b"\0")
    )
    log(f'sent Connection.Tune-Ok and Connection.Open for vhost "{vhost}"')
    try:
        method, reader = await read_method(wire)
    except Closed:
        log("the broker closed the connection after Connection.Open")
        return ProbeResult(
            State.REFUSED_LOGIN,
            f'the broker closed the connection when user "{user}" opened vhost "{vhost}"',
            server=server,
        )
    except NoAnswer:
        return ProbeResult(
            State.NOT_READY,
            f'{server} did not answer Connection.Open for vhost "{vhost}" before the deadline',
            server=server,
        )
    except Malformed as exc:
        return _not_amqp(bytes(wire.received), str(exc))
    if method == CLOSE:
        code, text = await _answer_close(wire, reader, password, log)
        if code == NOT_ALLOWED:
            if "not found" in text:
                what = f'vhost "{vhost}" does not exist'
            elif "refused for user" in text:
                what = f'user "{user}" has no access to vhost "{vhost}"'
            else:
                what = f'vhost "{vhost}" does not exist or user "{user}" has no access to it'
            return ProbeResult(
                State.REFUSED_LOGIN, f"{what} ({code} {text})", server=server, code=str(code)
            )
        return _closed_by_broker(server, code, text, f'Connection.Open of vhost "{vhost}"')
    if method != OPEN_OK:
        log(f"{_method_name(method)} instead of Connection.Open-Ok")
        return ProbeResult(
            State.READY,
            f'{server} accepting connections (user "{user}" logged in; vhost "{vhost}" not '
            f"checked: it answered Connection.Open with {_method_name(method)})",
            server=server,
        )
    log("Connection.Open-Ok")
    await _polite_close(wire, log)
    return ProbeResult(
        State.READY,
        f'{server} accepting connections (user "{user}" logged in, vhost "{vhost}" open)',
        server=server,
    )


def _closed_by_broker(who: str, code: int, text: str, after: str) -> ProbeResult:
    """A Connection.Close the handshake did not expect: 320 is a node going away (or refusing
    new connections for now), anything else a refusal of this connection."""
    server = "" if who == "the broker" else who
    if code == CONNECTION_FORCED:
        return ProbeResult(
            State.NOT_READY,
            f"{who} closed the connection after {after}: {code} {text} "
            "(shutting down, or a maintenance mode)",
            server=server,
            code=str(code),
        )
    return ProbeResult(
        State.REFUSED_LOGIN,
        f"{who} closed the connection after {after}: {code} {text}",
        server=server,
        code=str(code),
    )


async def _answer_close(wire: Wire, reader: Reader, password: str, log: Log) -> tuple[int, str]:
    """The broker's Connection.Close (code, text with any echoed password masked), answered
    with Close-Ok."""
    code, text = _read_close(reader)
    text = _scrub(text, password)
    log(f"Connection.Close {code}: {text}")
    await _close_ok(wire)
    return code, text


async def _close_ok(wire: Wire) -> None:
    """Answers the broker's Connection.Close, as the protocol asks; a failure changes nothing."""
    with contextlib.suppress(Exception):  # the broker may already have gone; the verdict is made
        await wire.send(method_frame(CLOSE_OK))


async def _polite_close(wire: Wire, log: Log) -> None:
    """Connection.Close, then the broker's Close-Ok for a short while (so it logs a clean
    close, not "client unexpectedly closed TCP connection")."""
    goodbye = struct.pack(">H", 200) + shortstr("Goodbye") + struct.pack(">HH", 0, 0)
    with contextlib.suppress(Exception):  # best effort: the verdict is made
        await wire.send(method_frame(CLOSE, goodbye))
        wait = min(CLOSE_OK_WAIT, wire.deadline - time.monotonic())
        if wait > 0:
            method, _ = await asyncio.wait_for(read_method(wire), wait)
            if method == CLOSE_OK:
                log("Connection.Close-Ok: closed cleanly")
