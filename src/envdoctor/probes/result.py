"""What a protocol probe found, in words every service kind shares.

A probe knows bytes, not reports: it returns a `ProbeResult` whose `state` says which of the
failure classes of DESIGN.md §4 it saw, and the service kind turns that into a status, a message
and a fix. Transport failures (refused, timed out connecting, DNS, no answer, closed, TLS) are
not results but the `ProbeError`s of `probes.connect` and `probes.wire`, raised by the probe.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class State(str, enum.Enum):
    READY = "ready"
    """Speaks its protocol and accepts connections (and the URL's login, when one was tried)."""

    NEEDS_AUTH = "needs_auth"
    """Up, but wants credentials the URL does not carry (a warn: the service itself is fine)."""

    AUTH_REJECTED = "auth_rejected"
    """Up; the credentials given were rejected (wrong password, unknown user)."""

    REFUSED_LOGIN = "refused_login"
    """Up; refuses this login for another reason: role or database missing, host not allowed."""

    NOT_READY = "not_ready"
    """Up but not serving yet or any more: starting up, shutting down, loading, busy, full."""

    WRONG_PROTOCOL = "wrong_protocol"
    """Something answered, but not in this protocol (`protocol` names it when recognisable)."""


@dataclass(frozen=True)
class ProbeResult:
    """One probe's verdict on one host:port.

    `message` is the probe's own words ("PostgreSQL accepting connections (auth: SCRAM-SHA-256)",
    "database \\"app\\" does not exist"): it never holds a password. `server` names the server
    when the protocol tells ("RabbitMQ 3.10.8", "MariaDB 10.11.6"); `protocol` is what answered
    instead when `state` is WRONG_PROTOCOL ("HTTP", "Redis", ...; "" when unknown); `code` is the
    server's own error code when it gave one (SQLSTATE "3D000", MySQL "1130", Redis "NOAUTH").
    """

    state: State
    message: str
    server: str = ""
    protocol: str = ""
    code: str = ""

    @property
    def ok(self) -> bool:
        return self.state is State.READY


@dataclass(frozen=True)
class Target:
    """One host:port to probe and the login to try there (from the URL; never logged).

    `tls` is an `ssl.SSLContext` when the scheme or the options ask for TLS (typed loosely so
    this module does not import ssl); `params` are the URL's query parameters (`sslmode`, ...).
    """

    host: str
    port: int
    user: str = ""
    password: str = field(default="", repr=False)
    database: str = ""
    tls: Any = None
    params: Mapping[str, str] = field(default_factory=dict)


def wrong_protocol(received: bytes, ours: str, what: str) -> ProbeResult:
    """WRONG_PROTOCOL for bytes that are not `ours`: named when recognisable, else `what` was
    wrong with them. A first glance that said `ours` is overruled by the reply's own fields."""
    from envdoctor.probes.identify import describe, identify

    protocol = identify(received)
    if protocol == ours:
        protocol = ""
    if protocol:
        return ProbeResult(State.WRONG_PROTOCOL, f"it sent {describe(received)}", protocol=protocol)
    return ProbeResult(State.WRONG_PROTOCOL, f"{what} (it sent {describe(received)})")
