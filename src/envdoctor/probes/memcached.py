"""memcached: `version` answered `VERSION x.y.z` (after the auth-file login when one is needed).

`version` is the one command every memcached answers in its text protocol, without touching
the cache. With an auth file on (`-Y`, memcached 1.6) every command is first answered
`CLIENT_ERROR unauthenticated`: up, but it wants a login. When the URL carries one, the probe
logs in the auth-file way — a `set` whose data is `user password`, which such a server consumes
as the login and never stores — and asks `version` again. The login is only sent after the
server asked for it: on a server without an auth file that `set` would write into the cache.

`ERROR` alone is how a memcached answers a command it does not know; since every memcached
knows `version`, a bare `ERROR` here means another text protocol answered.
"""

from __future__ import annotations

from envdoctor.probes.connect import Log
from envdoctor.probes.identify import describe, identify
from envdoctor.probes.result import ProbeResult, State, Target
from envdoctor.probes.wire import Wire

_LINE_LIMIT = 4096
_AUTH_KEY = b"envdoctor"  # the key of the auth-file login `set`: consumed, never stored


class _Foreign(Exception):
    """The bytes are not a memcached text reply."""


async def probe(target: Target, deadline: float, log: Log) -> ProbeResult:
    """`version` on one host:port; the auth-file login first when the server asks for one."""
    async with await Wire.open(
        target.host, target.port, deadline, tls=target.tls, server_hostname=target.host, log=log
    ) as wire:
        await wire.send(b"version\r\n")
        log("sent version")
        try:
            line = await _line(wire, log)
            if _unauthenticated(line) and target.password:
                return await _login(wire, target, log)
        except _Foreign:
            return _foreign(bytes(wire.received), target)
        return _judge(line, bytes(wire.received), target)


async def _login(wire: Wire, target: Target, log: Log) -> ProbeResult:
    """The auth-file login (`set <key> 0 0 <n>` + `user password`), then `version` again.

    Two more round trips, but only for a server that asked for a login."""
    if not target.user:
        return ProbeResult(
            State.AUTH_REJECTED,
            "the auth-file login needs a user and a password (memcached://USER:PASSWORD@…); "
            "the URL has a password only",
            server="memcached",
        )
    token = f"{target.user} {target.password}".encode()
    # Not pipelined with `version`: memcached 1.6 then answers only the second command, and
    # "authentication failure" is lost behind "unauthenticated".
    await wire.send(b"set %s 0 0 %d\r\n%s\r\n" % (_AUTH_KEY, len(token), token))
    log(f"sent the auth-file login as {target.user} (password not shown)")
    reply = await _line(wire, log)
    if reply == "STORED":
        await wire.send(b"version\r\n")
        log("sent version")
        line = await _line(wire, log)
        result = _judge(line, bytes(wire.received), target)
        if result.ok:
            return ProbeResult(
                State.READY, f"{result.message} (logged in as {target.user})", server=result.server
            )
        return result
    if reply.startswith("CLIENT_ERROR"):
        words = reply.partition(" ")[2]
        return ProbeResult(
            State.AUTH_REJECTED,
            f"user {target.user}: {words or 'login refused'}",
            server="memcached",
            code="CLIENT_ERROR",
        )
    return _judge(reply, bytes(wire.received), target)


async def _line(wire: Wire, log: Log) -> str:
    """The next reply line without its CRLF; _Foreign when the bytes are not text lines."""
    head = await wire.peek(1)
    if not head:
        await wire.read_exactly(1)  # raises Closed with what was received
    if not head.isascii() or not head.isalpha():
        raise _Foreign
    raw = await wire.read_until(b"\r\n", limit=_LINE_LIMIT)
    line = raw[:-2].decode("utf-8", "replace")
    log(f"got {describe(raw[:-2], limit=80)}")
    return line


def _unauthenticated(line: str) -> bool:
    return line.startswith("CLIENT_ERROR") and "unauthenticated" in line


def _judge(line: str, received: bytes, target: Target) -> ProbeResult:
    if line.startswith("VERSION "):
        version = line[8:].strip()
        return ProbeResult(
            State.READY, f"memcached {version} answered version", server=f"memcached {version}"
        )
    if _unauthenticated(line):
        return ProbeResult(
            State.NEEDS_AUTH,
            "the server requires a login (auth file on: CLIENT_ERROR unauthenticated)",
            server="memcached",
            code="CLIENT_ERROR",
        )
    if line.startswith("ERROR") and "too many open connections" in line.lower():
        return ProbeResult(
            State.NOT_READY,
            "too many open connections (its -c limit is reached)",
            server="memcached",
            code="ERROR",
        )
    if line.startswith("SERVER_ERROR"):
        return ProbeResult(
            State.NOT_READY,
            f"server error: {line.partition(' ')[2] or line}",
            server="memcached",
            code="SERVER_ERROR",
        )
    if line.startswith("CLIENT_ERROR"):
        return ProbeResult(
            State.REFUSED_LOGIN,
            f"the server refused version: {line}",
            server="memcached",
            code="CLIENT_ERROR",
        )
    if line == "ERROR":
        return ProbeResult(
            State.WRONG_PROTOCOL,
            "it answered ERROR to version, which every memcached knows: another text protocol",
        )
    return _foreign(received, target)


def _foreign(received: bytes, target: Target) -> ProbeResult:
    protocol = identify(received)
    if protocol == "memcached":  # memcached-looking words, but not an answer to `version`
        protocol = ""
    secret = target.password.encode("utf-8") if target.password else b""
    shown = describe(received.replace(secret, b"***") if secret else received)
    if protocol == "TLS":
        return ProbeResult(
            State.WRONG_PROTOCOL, f"the port speaks TLS (it sent {shown})", protocol="TLS"
        )
    return ProbeResult(State.WRONG_PROTOCOL, f"it sent {shown}", protocol=protocol)
