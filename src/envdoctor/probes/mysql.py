"""MySQL / MariaDB: the server speaks first, with a greeting or an error packet.

Every packet is a 3-byte little-endian length, a sequence id and a payload. A server that is up
sends a protocol-10 greeting (`0x0a`, its NUL-terminated version, a scramble seed, its default
auth plugin); one that will not talk to us sends an error packet instead (`0xff`, a 2-byte code:
1040 too many connections, 1129 host blocked, 1130 host not allowed).

The probe always completes the handshake rather than hanging up after the greeting: a client
that leaves mid-handshake counts against the server's `max_connect_errors`, and a `--wait` loop
polling a remote server four times a second would get this machine blocked (error 1129) within
half a minute, as load-balancer TCP checks famously do. With a user in the URL the login is the
real one (mysql_native_password, or caching_sha2_password's fast path: SHA-1/SHA-256 scrambles
with hashlib), so a wrong password (1045) and a missing database (1049) are told apart; without
one it logs in as `envdoctor` with no password, and "access denied" is as good a sign of life
as the greeting. Either way it ends with COM_QUIT when the login is accepted.

No TLS: a server that insists on it says so (error 3159, or an account `REQUIRE SSL`), and that
is reported. The password and the scramble are never logged.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from envdoctor.probes.connect import Log
from envdoctor.probes.identify import describe, identify
from envdoctor.probes.result import ProbeResult, State, Target
from envdoctor.probes.wire import Closed, NoAnswer, Wire

MAX_FIRST_PACKET = 1 << 16
"""A greeting is ~100 bytes, an error a few hundred: a text banner read as a length is > 2 MB."""
MAX_PACKET = 1 << 20
"""Replies during login are small; anything bigger is not a MySQL server talking to us."""
MAX_ROUNDS = 4
"""Auth switch and "more data" exchanges before we stop: real servers need at most two."""

PROBE_USER = "envdoctor"
"""The user a URL without one logs in as: refusal proves the server is up just as well."""

# Capability flags (include/mysql_com.h)
CLIENT_LONG_PASSWORD = 0x1
CLIENT_LONG_FLAG = 0x4
CLIENT_CONNECT_WITH_DB = 0x8
CLIENT_PROTOCOL_41 = 0x200
CLIENT_TRANSACTIONS = 0x2000
CLIENT_SECURE_CONNECTION = 0x8000
CLIENT_PLUGIN_AUTH = 0x80000

CHARSET_UTF8MB4 = 45
COM_QUIT = b"\x01"

NATIVE = "mysql_native_password"
CACHING_SHA2 = "caching_sha2_password"
SUPPORTED_PLUGINS = (NATIVE, CACHING_SHA2)

# Errors that mean "up, but not serving (yet / any more / right now)".
NOT_READY_ERRORS = {
    1040: "too many connections: every one of max_connections is in use; close idle clients "
    "or raise max_connections",
    1041: "the server is out of memory",
    1053: "the server is shutting down",
    1135: "the server cannot create a thread for this connection (out of resources)",
    1203: "this user has reached max_user_connections",
    1226: "this user has used up one of its resource limits (max_user_connections, ...)",
    3032: "the server is in offline mode",
}


class NotMysql(Exception):
    """The bytes are not a MySQL packet: another protocol answered."""


@dataclass(frozen=True)
class Greeting:
    """The parts of a protocol-10 greeting the probe uses."""

    version: str
    product: str
    number: str
    connection_id: int
    capabilities: int
    seed: bytes
    plugin: str

    @property
    def server(self) -> str:
        return f"{self.product} {self.number}".strip()


@dataclass(frozen=True)
class ServerError:
    code: int
    sqlstate: str
    message: str

    @property
    def text(self) -> str:
        """`error 1049: Unknown database 'x'`: the server's own words, as evidence."""
        return f"error {self.code}: {self.message}" if self.message else f"error {self.code}"


# -- bytes ---------------------------------------------------------------------------------


def server_name(version: str) -> tuple[str, str]:
    """("MariaDB", "10.11.6") from "5.5.5-10.11.6-MariaDB-0+deb12u1"; ("MySQL", "8.0.36")."""
    text = version[6:] if version.startswith("5.5.5-") else version
    lower = text.lower()
    match = re.match(r"\d+(?:\.\d+)*", text)
    number = match.group(0) if match else text[:40]
    if "mariadb" in lower:
        return "MariaDB", number
    tidb = re.search(r"tidb-v?(\d+(?:\.\d+)*)", lower)
    if tidb:
        return "TiDB", tidb.group(1)
    return "MySQL", number


def parse_greeting(payload: bytes) -> Greeting:
    """A protocol-10 greeting (ValueError/IndexError when it is cut short)."""
    end = payload.index(b"\x00", 1)
    version = payload[1:end].decode("latin-1")
    pos = end + 1
    connection_id = int.from_bytes(payload[pos : pos + 4], "little")
    pos += 4
    seed = payload[pos : pos + 8]
    pos += 9  # 8 bytes of seed and a filler
    capabilities = int.from_bytes(payload[pos : pos + 2], "little")
    pos += 2
    plugin = ""
    if len(payload) > pos:
        capabilities |= int.from_bytes(payload[pos + 3 : pos + 5], "little") << 16
        seed_length = payload[pos + 5]
        pos += 16  # charset, status (2), upper capabilities (2), seed length, 10 reserved
        if capabilities & CLIENT_SECURE_CONNECTION:
            count = max(13, seed_length - 8)
            seed += payload[pos : pos + count].rstrip(b"\x00")
            pos += count
        if capabilities & CLIENT_PLUGIN_AUTH:
            plugin = payload[pos:].split(b"\x00", 1)[0].decode("ascii", "replace")
    product, number = server_name(version)
    return Greeting(version, product, number, connection_id, capabilities, seed, plugin)


def parse_error(payload: bytes) -> ServerError:
    """An error packet: `0xff`, a 2-byte code, then `#` + SQLSTATE (protocol 4.1) and text."""
    code = int.from_bytes(payload[1:3], "little")
    rest = payload[3:]
    sqlstate = ""
    if rest[:1] == b"#" and len(rest) >= 6:
        sqlstate = rest[1:6].decode("ascii", "replace")
        rest = rest[6:]
    return ServerError(code, sqlstate, _clean(rest.decode("utf-8", "replace")))


def _clean(text: str, limit: int = 300) -> str:
    text = "".join(c if c.isprintable() else " " for c in text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _xor(left: bytes, right: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(left, right, strict=True))


def scramble(plugin: str, password: str, seed: bytes) -> bytes:
    """The auth response for `plugin` (one of SUPPORTED_PLUGINS); empty for no password."""
    if not password:
        return b""
    secret = password.encode("utf-8")
    nonce = seed[:20]
    if plugin == CACHING_SHA2:
        stage1 = hashlib.sha256(secret).digest()
        stage2 = hashlib.sha256(stage1).digest()
        return _xor(stage1, hashlib.sha256(stage2 + nonce).digest())
    stage1 = hashlib.sha1(secret).digest()
    stage2 = hashlib.sha1(stage1).digest()
    return _xor(stage1, hashlib.sha1(nonce + stage2).digest())


def handshake_response(
    greeting: Greeting, user: str, database: str, plugin: str, auth: bytes
) -> bytes:
    """HandshakeResponse41: capabilities, max packet, charset, user, auth data, db, plugin."""
    flags = (
        CLIENT_LONG_PASSWORD
        | CLIENT_LONG_FLAG
        | CLIENT_PROTOCOL_41
        | CLIENT_TRANSACTIONS
        | CLIENT_SECURE_CONNECTION
    )
    if greeting.capabilities & CLIENT_PLUGIN_AUTH:
        flags |= CLIENT_PLUGIN_AUTH
    if database:
        flags |= CLIENT_CONNECT_WITH_DB
    body = bytearray()
    body += flags.to_bytes(4, "little")
    body += (1 << 24).to_bytes(4, "little")
    body += bytes([CHARSET_UTF8MB4]) + bytes(23)
    body += user.encode("utf-8") + b"\x00"
    body += bytes([len(auth)]) + auth
    if database:
        body += database.encode("utf-8") + b"\x00"
    if flags & CLIENT_PLUGIN_AUTH:
        body += plugin.encode("ascii") + b"\x00"
    return bytes(body)


def packet(sequence: int, payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "little") + bytes([sequence & 0xFF]) + payload


async def read_packet(wire: Wire, *, first: bool = False) -> tuple[int, bytes]:
    """(sequence id, payload); NotMysql when the header cannot be a MySQL packet's."""
    header = await wire.read_exactly(4)
    length = int.from_bytes(header[:3], "little")
    if length == 0 or length > (MAX_FIRST_PACKET if first else MAX_PACKET):
        raise NotMysql
    if first:
        # Decide on the first payload byte, not after waiting for a length that never comes.
        kind = await wire.peek(1)
        if kind not in (b"\x0a", b"\xff"):
            raise NotMysql
    return header[3], await wire.read_exactly(length)


# -- the probe -----------------------------------------------------------------------------


async def probe(target: Target, deadline: float, log: Log) -> ProbeResult:
    """Reads the greeting (or the error packet sent instead), then completes the handshake."""
    async with await Wire.open(
        target.host, target.port, deadline, tls=target.tls, server_hostname=target.host, log=log
    ) as wire:
        try:
            _seq, payload = await read_packet(wire, first=True)
        except NotMysql:
            return _wrong_protocol(bytes(wire.received), log)
        if payload[0] == 0xFF:
            error = parse_error(payload)
            log(f"the server sent an error packet instead of a greeting: {error.text}")
            return _error_result(error, Greeting("", "", "", 0, 0, b"", ""), target, login=False)
        try:
            greeting = parse_greeting(payload)
        except (ValueError, IndexError):
            return _wrong_protocol(bytes(wire.received), log)
        log(
            f"greeting: {greeting.server} (version {greeting.version!r}), protocol 10, "
            f"connection id {greeting.connection_id}, auth plugin {greeting.plugin or 'none named'}"
        )
        needed = CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION
        if greeting.capabilities & needed != needed:
            log("the server predates protocol 4.1 authentication: no login attempted")
            return ProbeResult(
                State.READY,
                f"{greeting.server} accepting connections",
                server=greeting.server,
            )
        try:
            return await _login(wire, greeting, target, log)
        except NotMysql:
            log(f"unexpected bytes during the login: {describe(bytes(wire.received)[-40:])}")
            return _ready(greeting, target, "not verified: the server's reply was not understood")
        except Closed:
            log("the server closed the connection during the login")
            return ProbeResult(
                State.NOT_READY,
                "it sent its greeting, then closed the connection during the login",
                server=greeting.server,
            )
        except NoAnswer:
            log("no answer to the login before the deadline")
            return ProbeResult(
                State.NOT_READY,
                "it sent its greeting, then did not answer the login before the deadline",
                server=greeting.server,
            )


def _wrong_protocol(received: bytes, log: Log) -> ProbeResult:
    log(f"not a MySQL packet: {describe(received)}")
    other = identify(received)
    if other == "MySQL":  # a malformed greeting: framing right, contents not
        other = ""
    return ProbeResult(
        State.WRONG_PROTOCOL,
        f"it sent {describe(received)}",
        protocol=other,
    )


async def _login(wire: Wire, greeting: Greeting, target: Target, log: Log) -> ProbeResult:
    user = target.user or PROBE_USER
    database = target.database if target.user else ""
    password = target.password if target.user else ""
    plugin = greeting.plugin if greeting.plugin in SUPPORTED_PLUGINS else NATIVE
    auth = scramble(plugin, password, greeting.seed)
    if target.user:
        where = f" to database {database!r}" if database else ""
        how = f"with {plugin}" if password else "with no password (the URL has none)"
        log(f"sent a login as {user!r}{where} {how}")
    else:
        log(
            f"sent a login as {user!r} with no password: the URL names no user, and a complete "
            "handshake keeps this host off the server's max_connect_errors count"
        )
    await wire.send(packet(1, handshake_response(greeting, user, database, plugin, auth)))
    seed = greeting.seed
    for _round in range(MAX_ROUNDS):
        seq, reply = await read_packet(wire)
        kind = reply[0]
        if kind == 0x00:
            log("login accepted; sent COM_QUIT")
            await wire.send(packet(0, COM_QUIT))
            return _ready(greeting, target, "accepted")
        if kind == 0xFF:
            error = parse_error(reply)
            log(f"the server refused the login: {error.text}")
            return _error_result(error, greeting, target, login=True)
        if kind == 0xFE:  # AuthSwitchRequest: plugin name and a fresh seed
            if len(reply) == 1:
                log("the server asked for the pre-4.1 password hash (mysql_old_password)")
                return _ready(greeting, target, "not verified: the account uses the pre-4.1 hash")
            name, _, data = reply[1:].partition(b"\x00")
            plugin = name.decode("ascii", "replace")
            seed = data.rstrip(b"\x00") or seed
            log(f"the server switched the login to auth plugin {plugin}")
            if plugin not in SUPPORTED_PLUGINS:
                return await _finish_unsupported(wire, seq, plugin, greeting, target, log)
            await wire.send(packet(seq + 1, scramble(plugin, password, seed)))
            continue
        if kind == 0x01 and plugin == CACHING_SHA2 and len(reply) >= 2:
            if reply[1] == 3:  # fast authentication succeeded: an OK packet follows
                continue
            if reply[1] == 4:
                log("caching_sha2_password wants full authentication (TLS or RSA): not done")
                return _ready(
                    greeting,
                    target,
                    "not verified: caching_sha2_password full authentication needs TLS",
                )
        log(f"unexpected reply during the login: {describe(reply)}")
        return _ready(greeting, target, "not verified: the server's reply was not understood")
    return _ready(greeting, target, "not verified: too many authentication rounds")


async def _finish_unsupported(
    wire: Wire, seq: int, plugin: str, greeting: Greeting, target: Target, log: Log
) -> ProbeResult:
    """Ends a login we cannot complete with an empty answer rather than a hang-up.

    MariaDB switches logins of unknown users to a plugin of its choice (so users cannot be
    enumerated), and an ed25519 or PAM account asks for what we do not speak. The empty
    answer makes it a refused login, which the server does not hold against this host, where
    hanging up would count towards max_connect_errors.
    """
    await wire.send(packet(seq + 1, b""))
    try:
        _seq, reply = await read_packet(wire)
    except (NotMysql, Closed, NoAnswer):
        reply = b""
    if reply[:1] == b"\x00":  # an account without a password takes the empty answer
        log("answered it with an empty response: login accepted; sent COM_QUIT")
        await wire.send(packet(0, COM_QUIT))
        return _ready(greeting, target, "accepted")
    if reply[:1] == b"\xff":
        error = parse_error(reply)
        log(f"answered it with an empty response; the server said {error.text}")
        if error.code in NOT_READY_ERRORS:
            return _error_result(error, greeting, target, login=True)
    return _ready(greeting, target, f"not verified: the account uses auth plugin {plugin}")


def _ready(greeting: Greeting, target: Target, login: str) -> ProbeResult:
    """READY, naming the login when the URL gave one."""
    text = f"{greeting.server} accepting connections"
    if target.user:
        into = f" to {target.database}" if target.database else ""
        text += f" (login as {target.user}{into} {login})"
    elif greeting.plugin:
        text += f" (auth: {greeting.plugin})"
    return ProbeResult(State.READY, text, server=greeting.server)


def _error_result(
    error: ServerError, greeting: Greeting, target: Target, *, login: bool
) -> ProbeResult:
    """What an error packet means, before the greeting (`login` False) or after our login."""
    code = str(error.code)
    server = greeting.server

    def result(state: State, words: str) -> ProbeResult:
        return ProbeResult(state, f"{words} ({error.text})", server=server, code=code)

    if error.code in NOT_READY_ERRORS:
        return result(State.NOT_READY, NOT_READY_ERRORS[error.code])
    if error.code == 1129:
        return result(
            State.REFUSED_LOGIN,
            "this host is blocked after too many interrupted connections (max_connect_errors)",
        )
    if error.code == 1130:
        return result(State.REFUSED_LOGIN, "no account on the server may connect from this host")
    if not login:
        return result(State.NOT_READY, f"the server refused the connection with error {code}")
    if not target.user:
        # Our own `envdoctor` login was refused, as expected: the server is up and talking.
        return _ready(greeting, target, "")
    if error.code == 1045:
        if not target.password and "using password: no" in error.message.lower():
            return result(State.NEEDS_AUTH, f"user {target.user} needs a password")
        return result(State.AUTH_REJECTED, f"access denied for user {target.user}")
    if error.code == 1049:
        return result(State.REFUSED_LOGIN, f"database {target.database} does not exist")
    if error.code == 1044:
        return result(
            State.REFUSED_LOGIN,
            f"user {target.user} may not use database {target.database} "
            "(it does not exist, or no privilege on it)",
        )
    if error.code in (1820, 1862):
        return result(State.REFUSED_LOGIN, f"the password of user {target.user} has expired")
    if error.code in (3118, 4151):
        return result(State.REFUSED_LOGIN, f"the account {target.user} is locked")
    if error.code == 3159:
        return result(State.REFUSED_LOGIN, "the server only accepts TLS connections")
    return result(State.REFUSED_LOGIN, f"the server refused the login with error {code}")
