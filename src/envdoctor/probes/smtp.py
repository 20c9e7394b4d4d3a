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
"""

from __future__ import annotations

import asyncio
import contextlib
import re

from envdoctor.probes.connect import Log, ProbeError
from envdoctor.probes.identify import describe, identify
from envdoctor.probes.result import ProbeResult, State, Target
from envdoctor.probes.wire import Closed, NoAnswer, Wire

MAX_LINE = 4096
"""RFC 5321 allows 512 bytes per reply line; real banners are shorter still."""
MAX_LINES = 100
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
        head = await wire.peek(4)
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
