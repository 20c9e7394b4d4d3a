"""SMTP: the server speaks first, and its greeting says whether it takes mail.

RFC 5321 §4.3.1: the greeting is `220` (ready; the text names the host and usually the
software), or `554` / `421` (up, but rejecting this connection: blocklisted, overloaded, in
maintenance). It may span several lines (`220-first`, ..., `220 last`). Anything else on the
port is another protocol: an FTP server also greets with `220`, but names itself.

After a complete greeting the probe says `QUIT` (and gives the `221` a moment) rather than
dropping the line, as a polite client does. A greeting left unfinished is never answered: a
postfix `postscreen` sends `220-` and pauses on purpose, and a client that speaks into that
pause is marked as a spammer. If the deadline strikes in that pause, the `220-` already proves
an SMTP server that is up.

Implicit TLS (`smtps://`, port 465) is the kind's choice: the Target then carries an SSL
context and the Wire handshakes before the first byte of SMTP.

The reverse slip — `smtp://` on an implicit-TLS port — looks like a black hole: an SMTPS server
says nothing until it gets a ClientHello. SMTP servers greet at once, so when a plain-text
connection has stayed silent for a moment (`TLS_PATIENCE`), a TLS handshake is tried on a second
connection while the first one keeps waiting: a handshake that completes (or a TLS alert) names
the port as TLS and the fix is `smtps://`. Plain bytes in answer to that ClientHello name the
protocol on the port instead (an HTTP server's 400). The first connection still never speaks:
a greeting that starts late (a slow reverse lookup, an empty postscreen banner) is read as
usual, and an SMTP reply to the ClientHello (exim's "synchronization error") proves nothing.
A port that hangs up without a word gets the same handshake, as the redis probe does.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time

from envdoctor.probes.connect import Log, ProbeError
from envdoctor.probes.identify import describe, identify
from envdoctor.probes.result import ProbeResult, State, Target
from envdoctor.probes.wire import Closed, NoAnswer, Wire, tls_answer

MAX_LINE = 4096
"""RFC 5321 allows 512 bytes per reply line; real banners are shorter still."""
MAX_LINES = 100
TLS_PATIENCE = 0.5
"""Seconds of silence (at most 30% of what is left) before a TLS handshake is tried on a second
connection: SMTP servers greet within milliseconds, SMTPS servers never do in plain text."""
TLS_CHECK = 0.5
"""At least this long (else four connect times) for the handshake after a silent hang-up."""
QUIT_GRACE = 0.25
"""Seconds to wait for the `221` after QUIT: politeness, never a reason to be late."""

_LINE = re.compile(rb"^(\d{3})([ -]?)(.*?)\r?\n?$", re.S)
_START = re.compile(rb"^\d{3}(?:[\- \r\n]|$)")
REJECTING = ("421", "554")


def parse_line(line: bytes) -> tuple[str, bool, str] | None:
    """(code, more lines follow, text) for one reply line; None when it is not one."""
    match = _LINE.match(line)
    if match is None:
        return None
    code, sep, text = match.groups()
    return code.decode(), sep == b"-", _clean(text.decode("utf-8", "replace"))


def _clean(text: str, limit: int = 160) -> str:
    text = "".join(c if c.isprintable() else " " for c in text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def probe(target: Target, deadline: float, log: Log) -> ProbeResult:
    """Reads the (possibly multi-line) greeting, then says QUIT when it was complete."""
    async with await Wire.open(
        target.host, target.port, deadline, tls=target.tls, server_hostname=target.host, log=log
    ) as wire:
        try:
            head = await _first_bytes(wire, target, deadline, log)
            if not head:  # a hang-up without a byte: no greeting, not "another protocol"
                await wire.read_exactly(1)  # raises Closed
        except Closed as closed:
            if target.tls is not None or closed.received:
                raise
            limit = min(deadline, time.monotonic() + max(TLS_CHECK, 4 * wire.connect_elapsed))
            log("closed without a greeting: trying a TLS handshake to see whether it speaks TLS")
            if await tls_answer(target.host, target.port, limit, log) == "TLS":
                return ProbeResult(
                    State.WRONG_PROTOCOL,
                    "it closed the plain-text connection without a greeting, then completed "
                    "a TLS handshake: use smtps://",
                    protocol="TLS",
                )
            raise
        if isinstance(head, ProbeResult):
            return head
        if not _START.match(head):
            return _wrong_protocol(bytes(wire.received), log)
        lines: list[tuple[str, str]] = []
        complete = hung_up = False
        try:
            while len(lines) < MAX_LINES:
                parsed = parse_line(await wire.read_until(b"\n", MAX_LINE))
                if parsed is None or (lines and parsed[0] != lines[0][0]):
                    return _wrong_protocol(bytes(wire.received), log)
                code, more, text = parsed
                lines.append((code, text))
                if not more:
                    complete = True
                    break
        except (NoAnswer, Closed) as exc:
            if not lines:
                raise
            hung_up = isinstance(exc, Closed)
            how = "the server hung up" if hung_up else "the deadline struck"
            log(f"{how} after {len(lines)} greeting line(s), before the greeting ended")
        code, text = lines[0]
        log(f"greeting: {code} {text}" + (f" (+{len(lines) - 1} lines)" if len(lines) > 1 else ""))
        if hung_up and code == "220":
            return ProbeResult(
                State.NOT_READY,
                f"it hung up in the middle of its greeting ({code} {text})",
                code=code,
            )
        result = _verdict(code, text, lines, complete, bool(target.tls), bytes(wire.received), log)
        if complete and result.state is not State.WRONG_PROTOCOL:
            await _quit(wire, log)
        return result


async def _first_bytes(
    wire: Wire, target: Target, deadline: float, log: Log
) -> bytes | ProbeResult:
    """The greeting's first bytes (b"" at a hang-up), or the verdict of the TLS handshake tried
    on a second connection when this one stays silent (see the module docstring)."""
    if target.tls is not None:
        return await wire.peek(4)
    greeting = asyncio.ensure_future(wire.peek(4))
    check: asyncio.Future[bytes | str] | None = None
    try:
        patience = min(TLS_PATIENCE, 0.3 * max(0.0, deadline - time.monotonic()))
        done, _ = await asyncio.wait({greeting}, timeout=patience)
        if greeting in done:
            return greeting.result()
        log(f"no greeting after {patience * 1000:.0f} ms: trying TLS on a second connection")
        check = asyncio.ensure_future(tls_answer(target.host, target.port, deadline, log))
        done, _ = await asyncio.wait({greeting, check}, return_when=asyncio.FIRST_COMPLETED)
        if greeting in done:
            return greeting.result()
        answer = check.result()
        if answer == "TLS":
            return ProbeResult(
                State.WRONG_PROTOCOL,
                "it sent no greeting in plain text, but completed a TLS handshake on a "
                "second connection: the server expects TLS first (implicit TLS, as on port "
                "465): use smtps://",
                protocol="TLS",
            )
        other = identify(answer) if isinstance(answer, bytes) else ""
        if other and other not in ("SMTP", "TLS"):
            log(f"a TLS handshake was answered in plain text: {describe(answer)}")
            return ProbeResult(
                State.WRONG_PROTOCOL,
                "it sent no greeting, and answered a TLS handshake on a second connection "
                f"with {describe(answer)}",
                protocol=other,
            )
        return await greeting
    finally:
        for task in (greeting, check):
            if task is not None and not task.done():
                task.cancel()
        await asyncio.gather(
            *(t for t in (greeting, check) if t is not None), return_exceptions=True
        )


def _verdict(
    code: str,
    text: str,
    lines: list[tuple[str, str]],
    complete: bool,
    tls: bool,
    received: bytes,
    log: Log,
) -> ProbeResult:
    if code in REJECTING:
        words = f"rejecting connections: {code} {text}".strip()
        return ProbeResult(State.NOT_READY, words, code=code)
    if code != "220" or (identify(received) == "FTP" and b"SMTP" not in received.upper()):
        return _wrong_protocol(received, log)
    host, _, software = text.partition(" ")
    name = f"SMTP server {host}" if host else "SMTP server"
    if software:
        name += f" ({software})"
    message = f"{name} ready" + (" over TLS" if tls else "")
    if not complete:
        message += f" (its greeting was still unfinished after {len(lines)} line(s))"
    return ProbeResult(State.READY, message, server=software or host, code=code)


def _wrong_protocol(received: bytes, log: Log) -> ProbeResult:
    log(f"not an SMTP greeting: {describe(received)}")
    other = identify(received)
    if other == "SMTP":  # a reply code SMTP servers do not greet with
        other = ""
    return ProbeResult(State.WRONG_PROTOCOL, f"it sent {describe(received)}", protocol=other)


async def _quit(wire: Wire, log: Log) -> None:
    """QUIT, and a short wait for `221`; nothing here can change the verdict."""
    with contextlib.suppress(ProbeError, asyncio.TimeoutError, OSError):
        await wire.send(b"QUIT\r\n")
        reply = await asyncio.wait_for(
            wire.read_until(b"\n", MAX_LINE), max(0.0, min(QUIT_GRACE, wire.left()))
        )
        parsed = parse_line(reply)
        log(f"sent QUIT; the server answered {parsed[0] if parsed else describe(reply)}")
        return
    log("sent QUIT")
