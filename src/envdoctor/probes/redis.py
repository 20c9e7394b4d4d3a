"""Redis: AUTH (when the URL carries credentials), SELECT (a database in the path), then PING.

`+PONG` is the only proof that a Redis server is serving: an open port, or even a Redis
error line, is not. Everything else a Redis server can say instead has its own meaning, and
its own state here: `-NOAUTH` (a password is needed), `-WRONGPASS` / `-ERR invalid password`
(rejected), `-LOADING` / `-BUSY` / `-MASTERDOWN` (up, not serving yet), `-DENIED` (protected
mode refuses non-loopback clients), `-ERR DB index is out of range` (no such database). A
port that hangs up on plain text without a word but completes a TLS handshake is a TLS-only
Redis reached with `redis://`: that is said, instead of a bare "closed".

The commands go out in one write as RESP arrays — not inline commands — so a password with
spaces or quotes arrives intact, and the whole conversation is one round trip. Replies come
back in order; the first that is not a success decides.

Secrets: the AUTH command is never logged, and every server line that is logged or returned
passes through `_scrub` first, because a server that does not know AUTH echoes its arguments
(`-ERR unknown command 'AUTH', with args beginning with: 'the-password'`).
"""

from __future__ import annotations

from envdoctor.probes.connect import Log
from envdoctor.probes.identify import describe, identify
from envdoctor.probes.result import ProbeResult, State, Target
from envdoctor.probes.wire import Closed, Wire, tls_answer

# First bytes of a RESP2/RESP3 reply; anything else is another protocol.
_RESP_TYPES = frozenset(b"+-:$*_,#!=(%~>|")
_LINE_LIMIT = 8192


def command(*args: str) -> bytes:
    """One command as a RESP array of bulk strings: binary-safe, so spaces and quotes survive."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg.encode("utf-8")
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class _Foreign(Exception):
    """The server's bytes are not RESP: another protocol answered."""


async def probe(target: Target, deadline: float, log: Log) -> ProbeResult:
    """PING (after AUTH and SELECT when the URL asks for them) on one host:port."""
    # (command name, how the evidence names it, its bytes): the AUTH line is never shown.
    steps: list[tuple[str, str, bytes]] = []
    user = target.user if target.password else ""
    if target.password:
        args = ("AUTH", user, target.password) if user else ("AUTH", target.password)
        who = f" as {user}" if user else ""
        steps.append(("AUTH", f"AUTH{who} (password not shown)", command(*args)))
    database = target.database.strip("/")
    if database and database != "0":
        steps.append(("SELECT", f"SELECT {database}", command("SELECT", database)))
    steps.append(("PING", "PING", command("PING")))
    async with await Wire.open(
        target.host, target.port, deadline, tls=target.tls, server_hostname=target.host, log=log
    ) as wire:
        await wire.send(b"".join(data for _, _, data in steps))
        log(f"sent {', '.join(said for _, said, _ in steps)} in one write")
        for name, _, _ in steps:
            try:
                line = await _reply(wire)
            except _Foreign:
                return _foreign(bytes(wire.received), target, log)
            except Closed as closed:
                if target.tls is not None or closed.received:
                    raise
                log("closed without a word: trying a TLS handshake to see whether it speaks TLS")
                if await tls_answer(target.host, target.port, deadline, log) == "TLS":
                    return ProbeResult(
                        State.WRONG_PROTOCOL,
                        "it closed the plain-text connection without a word, then completed "
                        "a TLS handshake: use rediss://",
                        protocol="TLS",
                    )
                raise
            shown = _scrub(line, target)
            log(f"{name}: {describe(shown.encode('utf-8', 'replace'), limit=120)}")
            verdict = _judge(name, shown, user, database)
            if verdict is not None:
                if verdict.state is State.WRONG_PROTOCOL:
                    return _foreign(bytes(wire.received), target, log, verdict.message)
                return verdict
    extra = []
    if user:
        extra.append(f"logged in as {user}")
    elif target.password:
        extra.append("password accepted")
    if database and database != "0":
        extra.append(f"database {database}")
    suffix = f" ({', '.join(extra)})" if extra else ""
    return ProbeResult(State.READY, f"Redis answered PONG{suffix}", server="Redis")


async def _reply(wire: Wire) -> str:
    """The next reply's first line (a bulk string's body instead); _Foreign for non-RESP bytes."""
    head = await wire.peek(1)
    if not head:
        await wire.read_exactly(1)  # raises Closed with what was received
    if head[0] not in _RESP_TYPES:
        raise _Foreign
    raw = await wire.read_until(b"\r\n", limit=_LINE_LIMIT)
    line = raw[:-2].decode("utf-8", "replace")
    if line[:1] == "$" and line[1:].isdigit() and int(line[1:]) <= _LINE_LIMIT:
        body = await wire.read_exactly(int(line[1:]) + 2)
        return "+" + body[:-2].decode("utf-8", "replace")  # a bulk string reads as a simple one
    return line


def _judge(step: str, line: str, user: str, database: str) -> ProbeResult | None:
    """None when `line` is the success this step expects; else the verdict it stands for."""
    expected = "+PONG" if step == "PING" else "+OK"
    if line == expected:
        return None
    if not line.startswith("-"):
        return ProbeResult(
            State.WRONG_PROTOCOL, f"{step} was answered {describe(line.encode())}, not {expected}"
        )
    code, _, text = line[1:].partition(" ")
    words = text.strip().rstrip(".")
    common = _common_error(code, words)
    if common is not None:
        return common
    if step == "AUTH":
        return _auth_error(code, words, line, user)
    if step == "SELECT":
        return _select_error(code, words, database)
    if code == "NOPERM":
        # The login worked and the server serves; this user may just not run PING.
        return ProbeResult(
            State.READY,
            f"Redis accepted the login ({user or 'default'} may not run PING)",
            server="Redis",
            code=code,
        )
    return ProbeResult(State.NOT_READY, f"PING failed: {line[1:]}", server="Redis", code=code)


def _common_error(code: str, words: str) -> ProbeResult | None:
    """The errors any command can meet: not authenticated, loading, busy, protected, full."""
    if code == "NOAUTH":
        return ProbeResult(
            State.NEEDS_AUTH,
            "the server requires a password, or an ACL user and password (NOAUTH)",
            server="Redis",
            code=code,
        )
    if code == "LOADING":
        return ProbeResult(
            State.NOT_READY, "loading the dataset into memory (LOADING)", server="Redis", code=code
        )
    if code == "BUSY":
        return ProbeResult(
            State.NOT_READY,
            "busy running a script or function (BUSY): it answers nothing else until that ends "
            "or SCRIPT KILL / FUNCTION KILL stops it",
            server="Redis",
            code=code,
        )
    if code == "MASTERDOWN":
        return ProbeResult(
            State.NOT_READY,
            "a replica whose link to its master is down, with replica-serve-stale-data no "
            "(MASTERDOWN)",
            server="Redis",
            code=code,
        )
    if code == "DENIED":
        return ProbeResult(
            State.REFUSED_LOGIN,
            "protected mode (DENIED): the server has no password and accepts only loopback clients",
            server="Redis",
            code=code,
        )
    if code == "ERR" and "max number of clients reached" in words:
        return ProbeResult(
            State.NOT_READY,
            "too many connections (max number of clients reached)",
            server="Redis",
            code=code,
        )
    return None


def _auth_error(code: str, words: str, line: str, user: str) -> ProbeResult:
    who = f"user {user}: " if user else ""
    lowered = words.lower()
    if code == "WRONGPASS":
        return ProbeResult(
            State.AUTH_REJECTED, f"{who}{words} (WRONGPASS)", server="Redis", code=code
        )
    if "without any password configured" in lowered or "no password is set" in lowered:
        return ProbeResult(
            State.AUTH_REJECTED,
            "the server has no password set, so AUTH with one is an error (clients that send it "
            "fail too): remove the password from the URL",
            server="Redis",
            code=code,
        )
    if "invalid password" in lowered:
        return ProbeResult(State.AUTH_REJECTED, "invalid password", server="Redis", code=code)
    if user and "wrong number of arguments" in lowered:
        return ProbeResult(
            State.AUTH_REJECTED,
            "this server predates ACL users (Redis < 6): AUTH takes a password only; leave "
            "the user out of the URL (nothing before the colon)",
            server="Redis",
            code=code,
        )
    return ProbeResult(State.AUTH_REJECTED, f"AUTH failed: {line[1:]}", server="Redis", code=code)


def _select_error(code: str, words: str, database: str) -> ProbeResult:
    lowered = words.lower()
    if "out of range" in lowered or "invalid db index" in lowered:
        message = f"database {database} does not exist ({words})"
    elif "cluster mode" in lowered:
        message = f"database {database}: a Redis Cluster node has only database 0 ({words})"
    elif code == "NOPERM":
        message = f"this user may not SELECT database {database} ({words})"
    else:
        message = f"SELECT {database} failed: {code} {words}".rstrip()
    return ProbeResult(State.REFUSED_LOGIN, message, server="Redis", code=code)


def _foreign(received: bytes, target: Target, log: Log, detail: str = "") -> ProbeResult:
    """WRONG_PROTOCOL, naming what answered when its bytes tell (never "Redis": a RESP line
    that is not the reply Redis gives is not Redis)."""
    shown = describe(_scrub_bytes(received, target))
    log(f"not a Redis reply: {shown}")
    protocol = identify(received)
    if protocol == "Redis":
        protocol = ""
    if detail:
        return ProbeResult(State.WRONG_PROTOCOL, detail, protocol=protocol)
    if protocol == "TLS":
        return ProbeResult(
            State.WRONG_PROTOCOL,
            f"the port speaks TLS (it sent {shown}): use rediss://",
            protocol="TLS",
        )
    return ProbeResult(State.WRONG_PROTOCOL, f"it sent {shown}", protocol=protocol)


def _scrub(text: str, target: Target) -> str:
    """The server's words without the password, should it echo AUTH's arguments back."""
    if target.password and target.password in text:
        text = text.replace(target.password, "***")
    return text


def _scrub_bytes(data: bytes, target: Target) -> bytes:
    secret = target.password.encode("utf-8") if target.password else b""
    return data.replace(secret, b"***") if secret else data
