"""A connection a protocol probe speaks over: bytes in and out under one absolute deadline.

Probes need three things asyncio's streams do not give them together: every read bounded by
the *check's* deadline (not a per-read timeout that a dripping server resets forever), the bytes
received so far when things go wrong (to recognise the protocol that answered instead), and TLS
started at any point of a conversation (PostgreSQL asks with SSLRequest first) on every Python
we support. So a `Wire` drives a non-blocking socket directly, with TLS done through
`ssl.SSLObject` over memory buffers.

Failures are `ProbeError`s, like the connect errors, so a kind handles one hierarchy:
`NoAnswer` (connected, the deadline struck while waiting: a black hole, or a server waiting for
the client to speak), `Closed` (the server hung up), `TlsFailure` (handshake or certificate).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import time
from typing import Any

from envdoctor.probes.connect import Attempt, Log, ProbeError, _ip, connect_socket

MAX_READ = 65536


class NoAnswer(ProbeError):
    """Connected, but the deadline struck while waiting for the server (phase "read" or "tls")."""

    phase = "read"

    def __init__(self, message: str, *, received: bytes = b"", **kw: Any) -> None:
        super().__init__(message, **kw)
        self.received = received


class Closed(ProbeError):
    """The server closed the connection; `received` is everything it sent before that."""

    phase = "read"

    def __init__(self, message: str, *, received: bytes = b"", **kw: Any) -> None:
        super().__init__(message, **kw)
        self.received = received


class TlsFailure(ProbeError):
    """The TLS handshake failed: `reason` is OpenSSL's (or the certificate check's) own words."""

    phase = "tls"

    def __init__(self, message: str, *, reason: str, received: bytes = b"", **kw: Any) -> None:
        super().__init__(message, **kw)
        self.reason = reason
        self.received = received


_CONTEXTS: dict[bool, ssl.SSLContext] = {}


def tls_context(verify: bool = True) -> ssl.SSLContext:
    """One client context per process and mode: loading the CA store costs tens of ms."""
    context = _CONTEXTS.get(verify)
    if context is None:
        if verify:
            context = ssl.create_default_context()
        else:  # nothing to verify against: no CA store to load (~50 ms)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        _CONTEXTS[verify] = context
    return context


class Wire:
    """One open connection with a deadline; see the module docstring."""

    def __init__(
        self, sock: socket.socket, host: str, port: int, peer: str, deadline: float, log: Log
    ) -> None:
        self.sock = sock
        self.host = host
        self.port = port
        self.peer = peer
        self.deadline = deadline
        self.log = log
        self.received = bytearray()
        """Every plaintext byte the server sent, for recognising a protocol after the fact."""
        self.connect_elapsed = 0.0
        self._buffer = bytearray()
        self._ssl: ssl.SSLObject | None = None
        self._incoming: ssl.MemoryBIO | None = None
        self._outgoing: ssl.MemoryBIO | None = None
        self._eof = False

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        deadline: float,
        *,
        tls: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        log: Log | None = None,
    ) -> Wire:
        """Connects (DnsError/Refused/ConnectTimeout/NetworkError) and, with `tls`, handshakes."""
        note = log or (lambda _text: None)
        sock, peer, elapsed = await connect_socket(
            host, port, deadline - time.monotonic(), log=note
        )
        # Probes speak in small request/answer steps: Nagle's algorithm against the server's
        # delayed ACK would stall each multi-part step (a TLS login) by ~40 ms.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        wire = cls(sock, host, port, peer, deadline, note)
        wire.connect_elapsed = elapsed
        if tls is not None:
            try:
                await wire.start_tls(tls, server_hostname or host)
            except BaseException:
                wire.close()
                raise
        return wire

    async def __aenter__(self) -> Wire:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    @property
    def tls(self) -> bool:
        return self._ssl is not None

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def _kw(self) -> dict[str, Any]:
        # The address that answered the handshake: a kind may look up who listens there.
        attempt = Attempt(self.peer, "connected", self.connect_elapsed, _ip(self.peer))
        return {"host": self.host, "port": self.port, "attempts": (attempt,)}

    # -- raw socket -------------------------------------------------------------------------

    async def _sendall(self, data: bytes) -> None:
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(loop.sock_sendall(self.sock, data), max(0.0, self.left()))
        except asyncio.TimeoutError:
            raise NoAnswer(
                "timed out sending to the server", received=bytes(self.received), **self._kw()
            ) from None
        except OSError as exc:
            raise Closed(
                f"the server closed the connection ({exc.strerror or exc})",
                received=bytes(self.received),
                **self._kw(),
            ) from None

    async def _recv(self, phase: str = "read") -> bytes:
        """Raw bytes from the socket, b"" at EOF; NoAnswer when the deadline strikes first."""
        loop = asyncio.get_running_loop()
        left = self.left()
        if left <= 0:
            raise NoAnswer(
                "no answer before the deadline",
                received=bytes(self.received),
                phase=phase,
                **self._kw(),
            )
        try:
            return await asyncio.wait_for(loop.sock_recv(self.sock, MAX_READ), left)
        except asyncio.TimeoutError:
            raise NoAnswer(
                "no answer before the deadline",
                received=bytes(self.received),
                phase=phase,
                **self._kw(),
            ) from None
        except ConnectionResetError:
            return b""
        except OSError as exc:
            raise Closed(
                f"the connection failed: {exc.strerror or exc}",
                received=bytes(self.received),
                **self._kw(),
            ) from None

    # -- TLS --------------------------------------------------------------------------------

    async def start_tls(self, context: ssl.SSLContext, server_hostname: str | None) -> None:
        """Handshakes over the open connection (now, or after a plaintext SSLRequest)."""
        self._incoming, self._outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        # An IP address is fine here: it is matched against the certificate's IP names.
        self._ssl = context.wrap_bio(
            self._incoming, self._outgoing, server_hostname=server_hostname or None
        )
        raw = bytearray()  # what came back in the handshake: plain text names another protocol
        while True:
            try:
                self._ssl.do_handshake()
                break
            except ssl.SSLWantReadError:
                await self._flush_tls()
                data = await self._recv(phase="tls")
                if not data:
                    raise TlsFailure(
                        "the server closed the connection during the TLS handshake",
                        reason="connection closed during the handshake",
                        received=bytes(raw),
                        **self._kw(),
                    ) from None
                raw += data[: MAX_READ - len(raw)]
                self._incoming.write(data)
            except ssl.SSLCertVerificationError as exc:
                reason = exc.verify_message or exc.reason or str(exc)
                raise TlsFailure(
                    f"certificate verification failed: {reason}", reason=reason, **self._kw()
                ) from None
            except ssl.SSLError as exc:
                reason = _ssl_reason(exc)
                raise TlsFailure(
                    f"TLS handshake failed: {reason}",
                    reason=reason,
                    received=bytes(raw),
                    **self._kw(),
                ) from None
        await self._flush_tls()
        self.log(f"TLS established ({self._ssl.version()})")

    async def _flush_tls(self) -> None:
        assert self._outgoing is not None
        data = self._outgoing.read()
        if data:
            await self._sendall(data)

    # -- plaintext API ----------------------------------------------------------------------

    async def send(self, data: bytes) -> None:
        if self._ssl is None:
            await self._sendall(data)
            return
        self._ssl.write(data)
        await self._flush_tls()

    async def _fill(self) -> bool:
        """Appends what arrives next to the buffer; False at end of stream."""
        if self._eof:
            return False
        if self._ssl is None:
            data = await self._recv()
        else:
            data = await self._tls_read()
        if not data:
            self._eof = True
            return False
        self._buffer += data
        self.received += data
        return True

    async def _tls_read(self) -> bytes:
        assert self._ssl is not None and self._incoming is not None
        while True:
            try:
                return self._ssl.read(MAX_READ)
            except ssl.SSLWantReadError:
                await self._flush_tls()
                data = await self._recv()
                if not data:
                    return b""
                self._incoming.write(data)
            except ssl.SSLZeroReturnError:
                return b""
            except ssl.SSLError as exc:
                reason = _ssl_reason(exc)
                raise TlsFailure(f"TLS error: {reason}", reason=reason, **self._kw()) from None

    def _closed(self, wanted: str) -> Closed:
        got = len(self.received)
        said = "without answering" if not got else f"after {got} bytes"
        return Closed(
            f"the server closed the connection {said} (expected {wanted})",
            received=bytes(self.received),
            **self._kw(),
        )

    async def read_some(self) -> bytes:
        """Whatever is buffered or arrives next (at least one byte)."""
        if not self._buffer and not await self._fill():
            raise self._closed("an answer")
        data = bytes(self._buffer)
        self._buffer.clear()
        return data

    async def read_exactly(self, count: int) -> bytes:
        while len(self._buffer) < count:
            if not await self._fill():
                raise self._closed(f"{count} bytes")
        data = bytes(self._buffer[:count])
        del self._buffer[:count]
        return data

    async def read_until(self, separator: bytes = b"\r\n", limit: int = MAX_READ) -> bytes:
        """Up to and including `separator`; Closed if the server stops or `limit` is passed."""
        while True:
            index = self._buffer.find(separator)
            if index >= 0:
                end = index + len(separator)
                data = bytes(self._buffer[:end])
                del self._buffer[:end]
                return data
            if len(self._buffer) > limit:
                raise Closed(
                    f"no line end in the first {limit} bytes",
                    received=bytes(self.received),
                    **self._kw(),
                )
            if not await self._fill():
                raise self._closed("a line")

    async def peek(self, count: int = 1) -> bytes:
        """At least `count` bytes (fewer at EOF) without consuming them."""
        while len(self._buffer) < count and await self._fill():
            pass
        return bytes(self._buffer[:count])


async def tls_answer(host: str, port: int, deadline: float, log: Log) -> bytes | str:
    """ "TLS" when host:port completes a TLS handshake on a connection of its own, or answers
    it with a TLS alert (a TLS server that dislikes our hello is still one); else the plain
    bytes it sent back (b"": none). For a plain-text probe whose server hung up without a word
    or stayed silent: is it a TLS port (`rediss://`, `https://`, `smtps://` was meant)?
    Certificates are not checked: the question is only which protocol listens."""
    from envdoctor.probes.identify import identify

    try:
        async with await Wire.open(
            host, port, deadline, tls=tls_context(verify=False), server_hostname=host, log=log
        ):
            return "TLS"
    except TlsFailure as exc:
        return "TLS" if identify(exc.received) == "TLS" else exc.received
    except ProbeError:
        return b""


def _ssl_reason(exc: ssl.SSLError) -> str:
    reason = getattr(exc, "reason", None)
    if reason:
        return str(reason).replace("_", " ").lower()
    return str(exc) or type(exc).__name__
