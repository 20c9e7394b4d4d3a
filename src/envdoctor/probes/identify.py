"""Naming the protocol that answered when it was not the one we spoke.

"Another protocol answered" is only useful with a name: "HTTP answered on the Redis port" sends
the user to their port mapping at once. These are the first bytes each server sends, either
unprompted (MySQL, SMTP, SSH, FTP) or in reply to another protocol's opening (HTTP's status
line, Redis's error line, Postgres's ErrorResponse, AMQP's own header, memcached's ERROR).
"""

from __future__ import annotations

import re

_MYSQL_GREETING = re.compile(rb"^[\s\S]{3}\x00\x0a[0-9]")
_MYSQL_ERROR = re.compile(rb"^[\s\S]{3}[\x00\x01]\xff")


def identify(data: bytes) -> str:
    """The protocol these first bytes belong to, or "" when they are not recognisable."""
    if not data:
        return ""
    head = data[:64]
    if head.startswith(b"HTTP/"):
        return "HTTP"
    if head.startswith(b"SSH-"):
        return "SSH"
    if head.startswith(b"AMQP"):
        return "AMQP"
    if head.startswith((b"-ERR", b"-NOAUTH", b"-WRONGPASS", b"+PONG", b"-DENIED", b"-LOADING")):
        return "Redis"
    if head.startswith((b"ERROR\r\n", b"CLIENT_ERROR", b"SERVER_ERROR", b"VERSION ")):
        return "memcached"
    if re.match(rb"^(220|421|554)[ -]", head):
        if b"FTP" in head.upper():
            return "FTP"
        return "SMTP"
    if head.startswith((b"* OK", b"* PREAUTH")):
        return "IMAP"
    if head.startswith(b"+OK"):
        return "POP3"
    if _MYSQL_GREETING.match(head) or _MYSQL_ERROR.match(head):
        return "MySQL"
    if head[:1] in (b"E", b"R") and len(head) >= 5 and head[1:4] == b"\x00\x00\x00":
        return "PostgreSQL"
    if head[:1] == b"\x16" and head[1:2] == b"\x03":
        return "TLS"
    if head[:1] == b"\x15" and head[1:2] == b"\x03":
        return "TLS"
    if len(head) >= 16 and head[12:16] in (b"\xdd\x07\x00\x00", b"\x01\x00\x00\x00"):
        return "MongoDB"
    if head.lstrip()[:1] in (b"<",) and b"html" in head.lower():
        return "HTTP"
    return ""


def describe(data: bytes, *, limit: int = 40) -> str:
    """The first bytes as evidence: printable, short, never a wall of binary."""
    shown = data[:limit]
    text = repr(shown)[2:-1]
    return text + ("…" if len(data) > limit else "")
