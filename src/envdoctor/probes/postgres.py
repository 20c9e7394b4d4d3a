"""PostgreSQL: a StartupMessage (protocol 3.0), the authentication the server asks for, and its
answer, read the way libpq reads it.

An open port proves nothing and an SSLRequest only proves a listener (a server shutting down
still answers it), so the probe always sends the StartupMessage with the URL's user and
database. The server then asks for authentication (`R`), or says why it will not talk (`E`
with a SQLSTATE: 57P03 starting up / shutting down / standby, 53300 full, 28000 role or
pg_hba, 3D000 database, 28P01 password). Without a password in the URL an authentication
request is the answer (the server is up and wants credentials); with one, the probe completes
cleartext, md5 or SCRAM-SHA-256 (RFC 5802/7677, the server's signature verified) and reads on
to ReadyForQuery, because a wrong password and a missing database only part ways after
authentication. A trust login is read to ReadyForQuery too: the server checks the role and the
database only after `AuthenticationOk`.

`sslmode` in the URL works as in libpq: `disable`; `allow` (plain, TLS when pg_hba wants it);
`prefer`, the default (SSLRequest; `S` → TLS without verification, `N` → plain; a failed
handshake or a pg_hba refusal over TLS → plain again); `require` (TLS or nothing);
`verify-ca`/`verify-full` (certificate checked against `sslrootcert`, else the system store;
`verify-full` also checks the host name).

Nothing secret is ever logged or returned: not the password, the md5 hash or the SCRAM proof.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import secrets
import socket
import ssl
import struct
import threading
from dataclasses import dataclass
from typing import Any, cast

from envdoctor.probes.connect import Log, ProbeError
from envdoctor.probes.identify import describe, identify
from envdoctor.probes.result import ProbeResult, State, Target
from envdoctor.probes.wire import NoAnswer, TlsFailure, Wire, tls_context

PROTOCOL_3_0 = 196608
SSL_REQUEST = struct.pack("!ii", 8, 80877103)
TERMINATE = b"X\x00\x00\x00\x04"
MAX_ITERATIONS = 1_000_000
INLINE_ITERATIONS = 20_000
"""PBKDF2 costs about 1 µs per iteration: PostgreSQL's default 4096 is computed on the loop,
more on a thread (bounded by the deadline); beyond MAX_ITERATIONS the probe gives up."""
MAX_MESSAGE = 1 << 20
"""Longer than any message a server sends before ReadyForQuery: a bigger "length" means the
bytes are not PostgreSQL (memcached's `ERROR\\r\\n` reads as 'E' with a length of 1.3 GB)."""

# The first byte of every backend message the probe can meet before ReadyForQuery.
_BACKEND_TYPES = frozenset(b"REvNSKZ")

SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")

# Authentication request codes and their body length (None: variable).
_AUTH_BODY = {0: 4, 2: 4, 3: 4, 5: 8, 6: 4, 7: 4, 8: None, 9: 4, 10: None, 11: None, 12: None}
_AUTH_NAMES = {
    0: "trust",
    2: "Kerberos V5",
    3: "password (cleartext)",
    5: "MD5",
    6: "SCM credentials",
    7: "GSSAPI",
    9: "SSPI",
    10: "SASL",
}

# SQLSTATEs the server sends before it will serve anyone: what each means in words.
_NOT_READY_CODES = {
    "57P03": "not accepting connections",
    "53300": "too many connections",
    "57P01": "shutting down",
    "57P02": "crash shutdown",
    "53000": "out of resources",
}
_AUTH_REJECTED_CODES = {"28P01"}


class _NotPostgres(Exception):
    """The bytes that came back are not a PostgreSQL backend message."""


@dataclass(frozen=True)
class ServerError:
    """The fields of an ErrorResponse that say what went wrong (never any client secret)."""

    severity: str
    code: str
    message: str
    detail: str = ""
    hint: str = ""

    def text(self) -> str:
        """The message, with the detail when there is one ("... connections. Hot standby mode
        is disabled"), as the server's own words."""
        return self.message + (f". {self.detail.rstrip('.')}" if self.detail else "")


@dataclass
class _Session:
    """What one connection learned, for the final message."""

    auth: str = ""
    tls: str = ""
    version: str = ""


async def probe(target: Target, deadline: float, log: Log) -> ProbeResult:
    """Speaks to target.host:target.port until the server says whether this login would work."""
    mode = (target.params.get("sslmode") or "prefer").strip().lower()
    if mode not in SSLMODES:
        raise ValueError(f"sslmode must be one of {', '.join(SSLMODES)}")
    user = target.user or target.params.get("user") or "postgres"
    database = target.database or target.params.get("dbname") or user
    # libpq's order: prefer/require/verify-* ask for TLS first; disable/allow start plain.
    first_tls = mode not in ("disable", "allow")
    result = await _attempt(target, deadline, log, mode, user, database, first_tls, retry=True)
    if isinstance(result, _Retry):
        log(f"trying again {'with' if result.tls else 'without'} TLS ({result.why})")
        result = await _attempt(
            target, deadline, log, mode, user, database, result.tls, retry=False
        )
    return cast(ProbeResult, result)  # retry=False: no second fallback, as in libpq


@dataclass(frozen=True)
class _Retry:
    """libpq would connect once more, `tls` saying whether with TLS, because `why`."""

    tls: bool
    why: str


async def _attempt(
    target: Target,
    deadline: float,
    log: Log,
    mode: str,
    user: str,
    database: str,
    use_tls: bool,
    *,
    retry: bool,
) -> ProbeResult | _Retry:
    """One connection; a `_Retry` (only when `retry`) where libpq would try the other way."""
    session = _Session()
    async with await Wire.open(
        target.host, target.port, deadline, server_hostname=target.host, log=log
    ) as wire:
        # Small writes follow each other (TLS Finished, then the StartupMessage): without
        # TCP_NODELAY, Nagle holds the second until the server's delayed ACK, ~40 ms.
        with contextlib.suppress(OSError):
            wire.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if use_tls:
            try:
                refused = await _negotiate_tls(wire, target, mode, session, log)
            except _NotPostgres:
                return _wrong_protocol(wire)
            except TlsFailure as exc:
                if mode == "prefer" and retry:
                    return _Retry(False, f"the TLS handshake failed: {exc.reason}")
                raise
            if refused is not None:
                return refused
        parameters = {"user": user, "database": database, "application_name": "envdoctor"}
        await wire.send(_startup_message(parameters))
        log(
            f'sent StartupMessage (protocol 3.0, user "{user}", database "{database}"'
            f"{', over TLS' if wire.tls else ''})"
        )
        try:
            result = await _converse(wire, target, user, session, log)
        except _NotPostgres:
            return _wrong_protocol(wire)
    if (
        retry
        and result.code == "28000"
        and "pg_hba.conf" in result.message
        and not result.message.startswith("pg_hba.conf rejects")
    ):
        if mode == "allow" and not use_tls:
            return _Retry(True, "no pg_hba.conf entry without encryption")
        # Only when this attempt really was encrypted: a server that answered N to the
        # SSLRequest already heard the plain StartupMessage, and would answer it the same.
        if mode == "prefer" and session.tls:
            return _Retry(False, "no pg_hba.conf entry for a TLS connection")
    return result


async def _negotiate_tls(
    wire: Wire, target: Target, mode: str, session: _Session, log: Log
) -> ProbeResult | None:
    """SSLRequest, then TLS on 'S'; a ProbeResult when the answer already decides."""
    await wire.send(SSL_REQUEST)
    log("sent SSLRequest")
    answer = await wire.read_exactly(1)
    # A PostgreSQL server sends its one byte and waits; more bytes mean another protocol
    # (a MySQL greeting 78 or 83 bytes long starts with 'N' or 'S'), or an injection.
    extra = len(wire.received) > 1
    if answer == b"N":
        if extra:
            raise _NotPostgres
        log("the server answered N: it does not accept TLS")
        if mode in ("require", "verify-ca", "verify-full"):
            return ProbeResult(
                State.REFUSED_LOGIN,
                f"the server does not offer TLS (it answered N to SSLRequest; sslmode={mode} "
                "requires TLS)",
                code="sslmode",
            )
        return None
    if answer == b"S":
        if extra:
            if identify(bytes(wire.received)) not in ("", "PostgreSQL"):
                raise _NotPostgres
            # Bytes after 'S' and before the handshake were not encrypted: someone else's.
            raise TlsFailure(
                "unencrypted data after the server's TLS answer",
                reason="unencrypted data after the SSLRequest answer",
                received=bytes(wire.received),
                host=target.host,
                port=target.port,
            )
        log("the server answered S: starting TLS")
        await wire.start_tls(_tls_context(target, mode), target.host)
        session.tls = "TLS"
        return None
    if answer == b"E":
        # A server too old for SSLRequest says so with an ErrorResponse, then hangs up.
        error = await _read_error_body(wire)
        return _error_result(error)
    raise _NotPostgres


_VERIFYING: dict[tuple[str, str], ssl.SSLContext] = {}
_UNVERIFIED: list[ssl.SSLContext] = []


def unverified_context() -> ssl.SSLContext:
    """Encryption without a certificate check (libpq's prefer/require), built without loading
    the system CA store it would never use: that load costs ~50 ms on the first probe."""
    if not _UNVERIFIED:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        _UNVERIFIED.append(context)
    return _UNVERIFIED[0]


def _tls_context(target: Target, mode: str) -> ssl.SSLContext:
    """The caller's context if it gave one; else what the sslmode asks for (one per process
    and setting: loading a CA store costs tens of milliseconds)."""
    if target.tls is not None:
        return target.tls  # type: ignore[no-any-return]
    if mode not in ("verify-ca", "verify-full"):
        return unverified_context()
    root = target.params.get("sslrootcert", "")
    cafile = None if root in ("", "system") else root
    if cafile is None and mode == "verify-full":
        return tls_context(verify=True)
    context = _VERIFYING.get((mode, root))
    if context is None:
        try:
            context = ssl.create_default_context(cafile=cafile)
        except (OSError, ssl.SSLError) as exc:
            why = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc)
            raise TlsFailure(
                f"cannot load the sslrootcert file: {why}",
                reason=f"cannot load the sslrootcert file ({why})",
                host=target.host,
                port=target.port,
            ) from None
        context.check_hostname = mode == "verify-full"
        _VERIFYING[(mode, root)] = context
    return context


def _startup_message(parameters: dict[str, str]) -> bytes:
    body = b"".join(
        key.encode() + b"\x00" + value.encode("utf-8") + b"\x00"
        for key, value in parameters.items()
    )
    body += b"\x00"
    return struct.pack("!ii", 8 + len(body), PROTOCOL_3_0) + body


async def _read_message(wire: Wire, *, first: bool = False) -> tuple[bytes, bytes]:
    """(type byte, body); `_NotPostgres` when the bytes cannot be a backend message."""
    kind = await wire.read_exactly(1)
    if kind[0] not in _BACKEND_TYPES:
        raise _NotPostgres
    (length,) = struct.unpack("!I", await wire.read_exactly(4))
    if length < 4 or length > MAX_MESSAGE:
        raise _NotPostgres
    if first and kind not in (b"R", b"E", b"v", b"N"):
        raise _NotPostgres
    return kind, await wire.read_exactly(length - 4)


async def _read_error_body(wire: Wire) -> ServerError:
    (length,) = struct.unpack("!I", await wire.read_exactly(4))
    if length < 4 or length > MAX_MESSAGE:
        raise _NotPostgres
    return _parse_error(await wire.read_exactly(length - 4))


def _parse_error(body: bytes) -> ServerError:
    """The fields of an ErrorResponse/NoticeResponse; `_NotPostgres` unless it is one: NUL-
    terminated fields ending in an empty one, with a five-character SQLSTATE and a message.
    (Another protocol's bytes can start with 'E' and a plausible length.)"""
    if not body.endswith(b"\x00\x00"):
        raise _NotPostgres
    fields: dict[str, str] = {}
    for part in body[:-2].split(b"\x00"):
        if not part:
            raise _NotPostgres
        fields[chr(part[0])] = part[1:].decode("utf-8", "replace")
    code = fields.get("C", "")
    if len(code) != 5 or not code.isalnum() or "M" not in fields:
        raise _NotPostgres
    return ServerError(
        severity=fields.get("V") or fields.get("S", ""),
        code=fields.get("C", ""),
        message=fields.get("M", "").strip(),
        detail=fields.get("D", "").strip(),
        hint=fields.get("H", "").strip(),
    )


async def _converse(
    wire: Wire, target: Target, user: str, session: _Session, log: Log
) -> ProbeResult:
    """Reads the server's answers, authenticating when it asks and we can, to a decision."""
    first = True
    while True:
        kind, body = await _read_message(wire, first=first)
        first = False
        if kind == b"E":
            error = _parse_error(body)
            log(f"ErrorResponse {error.severity} {error.code}: {error.text()}")
            return _error_result(error)
        if kind == b"N":
            log(f"NoticeResponse: {_parse_error(body).message}")
            continue
        if kind == b"v":
            newest, count = struct.unpack("!ii", body[:8]) if len(body) >= 8 else (0, 0)
            log(f"NegotiateProtocolVersion: the server speaks 3.{newest} ({count} options unknown)")
            continue
        if kind == b"S":
            name, _, rest = body.partition(b"\x00")
            if name == b"server_version":
                session.version = rest.split(b"\x00", 1)[0].decode("utf-8", "replace")
            continue
        if kind == b"K":
            continue
        if kind == b"Z":
            log("ReadyForQuery: the login works")
            await _terminate(wire)
            return _ready(session)
        # kind == b"R"
        if len(body) < 4:
            raise _NotPostgres
        (code,) = struct.unpack("!i", body[:4])
        if code not in _AUTH_BODY or _AUTH_BODY[code] not in (None, len(body)):
            raise _NotPostgres  # e.g. a MySQL greeting whose length byte happens to be 'R'
        if code == 0:
            session.auth = session.auth or "trust"
            log(f"AuthenticationOk ({session.auth})")
            continue
        decided = await _authenticate(wire, target, user, code, body[4:], session, log)
        if decided is not None:
            return decided


async def _authenticate(
    wire: Wire,
    target: Target,
    user: str,
    code: int,
    data: bytes,
    session: _Session,
    log: Log,
) -> ProbeResult | None:
    """Answers one authentication request; a ProbeResult when the probe must stop here."""
    if code == 3:
        session.auth = "password (cleartext)"
    elif code == 5:
        session.auth = "MD5"
    elif code == 10:
        mechanisms = [m.decode("ascii", "replace") for m in data.split(b"\x00") if m]
        log(f"the server asks for SASL authentication ({', '.join(mechanisms)})")
        if "SCRAM-SHA-256" not in mechanisms:
            return ProbeResult(
                State.NEEDS_AUTH,
                f'user "{user}" must authenticate with SASL ({", ".join(mechanisms)}), '
                "which envdoctor cannot perform",
                code="SASL",
            )
        session.auth = "SCRAM-SHA-256"
    elif code in (11, 12):
        # SASLContinue/SASLFinal are handled inside _scram; here they are out of order.
        raise _NotPostgres
    else:
        name = _AUTH_NAMES.get(code, f"authentication method {code}")
        log(f"the server asks for {name} authentication")
        return ProbeResult(
            State.NEEDS_AUTH,
            f'user "{user}" must authenticate with {name}, which envdoctor cannot perform '
            "(the server is up)",
        )
    if code != 10:
        log(f"the server asks for {session.auth} authentication")
    if not target.password:
        # Closing now leaves nothing in the server log (libpq does the same on a first try).
        return ProbeResult(
            State.NEEDS_AUTH,
            f'user "{user}" must authenticate with {session.auth}, and the URL has no password',
            code=session.auth,
        )
    if code == 3:
        await wire.send(_message(b"p", target.password.encode("utf-8") + b"\x00"))
        log("sent the password (not shown)")
        return None
    if code == 5:
        if len(data) < 4:
            raise _NotPostgres
        inner = hashlib.md5(target.password.encode("utf-8") + user.encode("utf-8")).hexdigest()
        outer = hashlib.md5(inner.encode("ascii") + data[:4]).hexdigest()
        await wire.send(_message(b"p", b"md5" + outer.encode("ascii") + b"\x00"))
        log("sent the MD5 password hash (not shown)")
        return None
    return await _scram(wire, target, session, log)


async def _scram(wire: Wire, target: Target, session: _Session, log: Log) -> ProbeResult | None:
    """SCRAM-SHA-256 without channel binding (`n,,`): RFC 5802 section 3 and RFC 7677.

    We announce "client does not support channel binding" even when the server also offers
    SCRAM-SHA-256-PLUS: `y` would tell the server we think it cannot do it, and it would
    rightly take that as a downgrade attack.
    """
    nonce = base64.b64encode(secrets.token_bytes(18)).decode("ascii")
    client_first_bare = f"n=,r={nonce}"
    initial = ("n,," + client_first_bare).encode("ascii")
    payload = b"SCRAM-SHA-256\x00" + struct.pack("!i", len(initial)) + initial
    await wire.send(_message(b"p", payload))
    log("sent SCRAM client-first message")

    kind, body = await _read_message(wire)
    if kind == b"E":
        return _logged_error(body, log)
    if kind != b"R" or len(body) < 4 or struct.unpack("!i", body[:4])[0] != 11:
        raise _NotPostgres
    server_first = body[4:].decode("utf-8", "replace")
    attrs = _scram_attributes(server_first)
    server_nonce, salt_text, iterations_text = attrs.get("r"), attrs.get("s"), attrs.get("i")
    if (
        "m" in attrs
        or not server_nonce
        or not salt_text
        or not iterations_text
        or not iterations_text.isdigit()
    ):
        return _bad_scram("the server's SCRAM first message is malformed")
    if not server_nonce.startswith(nonce) or len(server_nonce) <= len(nonce):
        return _bad_scram("the server's SCRAM nonce does not extend ours")
    try:
        salt = base64.b64decode(salt_text, validate=True)
    except ValueError:
        return _bad_scram("the server's SCRAM salt is not base64")
    iterations = int(iterations_text)
    if not 1 <= iterations <= MAX_ITERATIONS:
        return _bad_scram(
            f"the server asks for {iterations} SCRAM iterations (envdoctor computes at most "
            f"{MAX_ITERATIONS})"
        )
    log(f"SCRAM server-first message: {iterations} iterations")

    args = (target.password, client_first_bare, server_first, salt)
    if iterations <= INLINE_ITERATIONS:
        final, expected = scram_final(*args)
    else:
        final, expected = await _off_loop(scram_final, args, wire)
    await wire.send(_message(b"p", final.encode("ascii")))
    log("sent SCRAM client-final message with the proof (not shown)")

    kind, body = await _read_message(wire)
    if kind == b"E":
        return _logged_error(body, log)
    if kind != b"R" or len(body) < 4 or struct.unpack("!i", body[:4])[0] != 12:
        raise _NotPostgres
    final_attrs = _scram_attributes(body[4:].decode("utf-8", "replace"))
    if "e" in final_attrs:
        return _bad_scram(f"the server ended SCRAM with an error: {final_attrs['e']}")
    if not hmac.compare_digest(expected, final_attrs.get("v", "")):
        return _bad_scram(
            "the server's SCRAM signature does not match: it does not know this user's "
            "password (not the server you expect?)"
        )
    log("SCRAM server signature verified")
    return None


def scram_final(
    password: str, client_first_bare: str, server_first: str, salt: bytes
) -> tuple[str, str]:
    """(client-final message with the proof, the server signature to expect), RFC 5802 §3.

    Pure arithmetic, separate from the conversation so the RFC 7677 test vector can check it.
    """
    attrs = _scram_attributes(server_first)
    iterations = int(attrs["i"])
    salted = hashlib.pbkdf2_hmac("sha256", saslprep(password), salt, iterations)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    stored_key = hashlib.sha256(client_key).digest()
    without_proof = f"c=biws,r={attrs['r']}"
    auth_message = f"{client_first_bare},{server_first},{without_proof}".encode()
    signature = hmac.digest(stored_key, auth_message, "sha256")
    proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
    final = f"{without_proof},p={base64.b64encode(proof).decode('ascii')}"
    server_key = hmac.digest(salted, b"Server Key", "sha256")
    expected = base64.b64encode(hmac.digest(server_key, auth_message, "sha256")).decode("ascii")
    return final, expected


async def _off_loop(fn: Any, args: tuple[Any, ...], wire: Wire) -> Any:
    """`fn(*args)` on a daemon thread, awaited until the wire's deadline: a costly key
    derivation must not stall the other probes on the loop, nor outlive the run."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def deliver(value: Any, exc: BaseException | None) -> None:
        if not future.done():
            if exc is not None:
                future.set_exception(exc)
            else:
                future.set_result(value)

    def work() -> None:
        try:
            value, exc = fn(*args), None
        except BaseException as caught:  # delivered to the awaiting probe
            value, exc = None, caught
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits any more
            loop.call_soon_threadsafe(deliver, value, exc)

    threading.Thread(target=work, name="envdoctor-scram", daemon=True).start()
    try:
        return await asyncio.wait_for(future, max(0.0, wire.left()))
    except asyncio.TimeoutError:
        raise NoAnswer(
            "the deadline struck while computing the SCRAM proof",
            received=bytes(wire.received),
            host=wire.host,
            port=wire.port,
        ) from None


def _scram_attributes(text: str) -> dict[str, str]:
    attrs: dict[str, str] = {}
    for part in text.split(","):
        name, eq, value = part.partition("=")
        if eq and len(name) == 1:
            attrs.setdefault(name, value)
    return attrs


def _bad_scram(why: str) -> ProbeResult:
    return ProbeResult(State.AUTH_REJECTED, why, code="SCRAM")


def _logged_error(body: bytes, log: Log) -> ProbeResult:
    error = _parse_error(body)
    log(f"ErrorResponse {error.severity} {error.code}: {error.text()}")
    return _error_result(error)


def _message(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack("!i", len(payload) + 4) + payload


async def _terminate(wire: Wire) -> None:
    """A polite goodbye, so the server logs no 'unexpected EOF'; failure here changes nothing."""
    with contextlib.suppress(ProbeError):
        await wire.send(TERMINATE)


def _ready(session: _Session) -> ProbeResult:
    version = session.version.split()[0] if session.version else ""
    server = f"PostgreSQL {version}" if version else "PostgreSQL"
    how = f"auth: {session.auth or 'trust'}"
    if session.tls:
        how += f", {session.tls}"
    return ProbeResult(State.READY, f"{server} accepting connections ({how})", server=server)


def _error_result(error: ServerError) -> ProbeResult:
    code = error.code
    said = error.text() or "an error without a message"
    if code in _NOT_READY_CODES:
        reason = _not_ready_reason(error)
        return ProbeResult(
            State.NOT_READY, f"{reason} (the server says: {said}; SQLSTATE {code})", code=code
        )
    shown = f"{said} (SQLSTATE {code})" if code else said
    if code in _AUTH_REJECTED_CODES:
        return ProbeResult(State.AUTH_REJECTED, shown, code=code)
    return ProbeResult(State.REFUSED_LOGIN, shown, code=code)


def _not_ready_reason(error: ServerError) -> str:
    """Which of 57P03's states (and the other not-now codes) the server is in, in words."""
    text = error.message.lower()
    detail = error.detail.lower()
    if error.code == "53300":
        return "too many connections"
    if error.code in ("57P01", "57P02") or "shutting down" in text:
        return "shutting down"
    if "starting up" in text:
        return "starting up"
    if "not yet accepting" in text:
        return "a standby in recovery, not yet consistent enough to accept connections"
    if "recovery mode" in text:
        return "in recovery after a crash"
    if "not accepting connections" in text and "hot standby" in detail:
        # A standby and a server in archive recovery say the same: both are named.
        return (
            "a standby, or a server in archive recovery, that does not accept connections "
            "(hot_standby = off)"
        )
    return _NOT_READY_CODES.get(error.code, "not accepting connections")


def _wrong_protocol(wire: Wire) -> ProbeResult:
    received = bytes(wire.received)
    other = identify(received)
    if other == "PostgreSQL":
        other = ""  # it started like one, then broke the framing
    return ProbeResult(
        State.WRONG_PROTOCOL,
        f"it answered {describe(received)}" if received else "it answered nothing usable",
        protocol=other,
    )


def saslprep(password: str) -> bytes:
    """The password as PostgreSQL's SCRAM hashes it: SASLprep (RFC 4013), or the raw bytes when
    the password is ASCII or SASLprep would reject it (what the server does, so both agree)."""
    raw = password.encode("utf-8")
    if password.isascii():
        return raw
    import stringprep
    import unicodedata

    mapped = "".join(
        " " if stringprep.in_table_c12(ch) else ch
        for ch in password
        if not stringprep.in_table_b1(ch)
    )
    normal = unicodedata.normalize("NFKC", mapped)
    if not normal:
        return raw
    prohibited = (
        stringprep.in_table_a1,
        stringprep.in_table_c12,
        stringprep.in_table_c21_c22,
        stringprep.in_table_c3,
        stringprep.in_table_c4,
        stringprep.in_table_c5,
        stringprep.in_table_c6,
        stringprep.in_table_c7,
        stringprep.in_table_c8,
        stringprep.in_table_c9,
    )
    if any(test(ch) for ch in normal for test in prohibited):
        return raw
    rand_al = [stringprep.in_table_d1(ch) for ch in normal]
    if any(rand_al):
        if any(stringprep.in_table_d2(ch) for ch in normal):
            return raw
        if not (rand_al[0] and rand_al[-1]):
            return raw
    return normal.encode("utf-8")
