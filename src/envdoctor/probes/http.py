"""HTTP(S) readiness through httpx, under one total deadline, over envdoctor's own sockets.

Why it is built this way:

- **A total deadline.** httpx's timeouts are per step: a server that drips one byte every
  0.5 s held `httpx.get(url, timeout=1.0)` for 50 s (field notes). Here every byte goes through
  a `Wire` (probes/wire.py), whose every read and write stops at the check's *absolute*
  deadline, and the whole exchange — pool, request, headers, body — is also wrapped in
  `asyncio.wait_for` a moment later, for anything that is not a socket read.
- **Failures in the words every service kind uses.** httpx connects through a network backend
  of ours (httpcore's public `AsyncNetworkBackend` interface, duck-typed so httpcore is not
  imported here) built on `probes.connect`/`probes.wire`: a refused port, a DNS failure or a
  connect timeout is the same `ProbeError` the other kinds explain (with the addresses tried),
  a TLS failure carries OpenSSL's own reason, and the bytes a server sent are at hand when they
  are not HTTP, so `identify` can name Redis or PostgreSQL on the port.
- **One client per event loop and TLS mode.** Building a client with its own SSL context costs
  35–65 ms of certificate loading and blocks the loop (50 probes: 2.3 s against a 1 s
  deadline). Clients are created lazily, share one SSL context per verify mode, and are closed
  when the loop shuts down (see `_close_at_loop_end`). Connections are not kept alive: a
  readiness probe must see a fresh accept, and nothing idle is left open between `--wait`
  rounds.
- **The wrong scheme is named, not guessed at.** `https://` on a plain-HTTP port: the server
  answers the ClientHello in HTTP (a wrong-version TLS failure with `HTTP/` bytes), or — when it
  waits for the end of a request line that a ClientHello never sends (uvicorn, anything built on
  h11) — a plain `HEAD /` on a second connection, sent once the handshake has been silent for a
  moment, gets an HTTP status line: `PlainHttp`. `http://` on a TLS port: the server answers
  with a TLS alert (named by `identify`), or hangs up without a byte (Python's ssl, OpenSSL's
  s_server) and a TLS handshake on a second connection then completes: `SpeaksTls`.
- **A server that speaks first is heard.** MySQL greets on connect and resets the connection
  when our request arrives; its greeting is still in the socket, so a failed write reads what
  is there before giving up, and an empty write (h11's end of a body-less request) is not sent.
- **No proxy for loopback.** With `HTTP_PROXY` set, a default client sends a 127.0.0.1 probe
  to the proxy. Loopback targets (127.0.0.0/8, ::1, localhost) get a client that trusts no
  proxy variable; remote hosts keep the environment's proxies and `NO_PROXY`, read by httpx's
  own rules (as `trust_env=True` would: httpx skips that itself once given a transport).

httpx and httpcore are imported inside functions only: this module is loaded by the `http`
kind when a check runs, never at start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import enum
import importlib
import importlib.util
import ipaddress
import select
import ssl
import sys
import threading
import time
import weakref
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from envdoctor.probes.connect import ConnectTimeout, Log, ProbeError, format_address
from envdoctor.probes.identify import describe, identify
from envdoctor.probes.result import ProbeResult, State, Target
from envdoctor.probes.wire import Closed, NoAnswer, TlsFailure, Wire, tls_answer

BODY_LIMIT = 1024 * 1024
"""Bytes of a body read at most: enough for any health page, bounded for any server."""

SLACK = 0.05
"""The outer `wait_for` strikes this long after the deadline the sockets obey, so the precise
reason (NoAnswer with the bytes received) normally wins over a bare timeout."""

DEFAULT_PORTS = {"http": 80, "https": 443}

PLAIN_PATIENCE = 0.5
"""Seconds of silence after the ClientHello (at most 30% of what is left) before a plain
request on a second connection asks whether the port speaks plain HTTP."""

TLS_CHECK = 0.5
"""At least this long (else four connect times) for the TLS handshake that follows a silent
hang-up of an http:// request; a server that waits for more gets no longer than that."""


# -- what is asked, what came back ---------------------------------------------------------


@dataclass(frozen=True)
class HttpRequest:
    """One request: `url` carries no credentials (`auth` does), header values are secrets."""

    url: str
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    auth: tuple[str, str] | None = field(default=None, repr=False)
    verify: bool = True
    body_limit: int = BODY_LIMIT

    @property
    def secrets(self) -> list[str]:
        """Strings never to show, even where a server echoes them: header values and the
        password (the user name too when it comes alone: then it is the token)."""
        found = [v for v in self.headers.values() if len(v) >= 3]
        if self.auth:
            user, password = self.auth
            found += [s for s in (password or user,) if len(s) >= 3]
        return found

    def mask(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text


@dataclass(frozen=True)
class HttpAnswer:
    """A complete answer: status line, the few headers the verdict needs, the body (capped)."""

    status: int
    reason: str
    http_version: str
    body: bytes = b""
    truncated: bool = False
    elapsed: float = 0.0
    location: str | None = None
    content_type: str = ""
    retry_after: str | None = None
    www_authenticate: str | None = None

    @property
    def status_text(self) -> str:
        """`404 Not Found`: the standard phrase when there is one, else the server's."""
        return f"{self.status} {phrase(self.status, self.reason)}".rstrip()

    def text(self) -> str:
        """The body as text, in the charset the server declared (UTF-8 otherwise)."""
        charset = "utf-8"
        for part in self.content_type.split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                charset = value.strip('"')
        try:
            return self.body.decode(charset, errors="replace")
        except LookupError:
            return self.body.decode("utf-8", errors="replace")


def phrase(status: int, reason: str = "") -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return reason


class Incomplete(NoAnswer):
    """The status line and headers arrived, the body did not finish before the deadline."""

    def __init__(self, message: str, *, status: int, reason: str, body_read: int, **kw: Any):
        super().__init__(message, **kw)
        self.status = status
        self.reason = reason
        self.body_read = body_read

    @property
    def status_text(self) -> str:
        return f"{self.status} {phrase(self.status, self.reason)}".rstrip()


class NotHttp(ProbeError):
    """The server answered, but not in HTTP (`received`: what it sent; `protocol`: its name
    when `identify` knows it, "HTTP" for a malformed HTTP answer, "" when unknown)."""

    phase = "read"

    def __init__(self, message: str, *, received: bytes, detail: str, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.received = received
        self.detail = detail
        self.protocol = identify(received)


class PlainHttp(TlsFailure):
    """https:// on a plain-HTTP port that stayed silent on the ClientHello, while a plain
    request on a second connection was answered in HTTP (`received`: that status line)."""


class SpeaksTls(Closed):
    """http:// on a TLS port: the server hung up on the plain request without a byte, and a
    TLS handshake on a second connection then completed (or was answered with a TLS alert)."""


class ProxyFailure(ProbeError):
    """The request went through a proxy from the environment, and that failed."""

    phase = "proxy"

    def __init__(self, message: str, *, reason: str, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.reason = reason


# -- loopback ------------------------------------------------------------------------------


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 (and its IPv4-mapped form), `localhost` and `*.localhost` (RFC 6761),
    and the unspecified address, which reaches this machine too."""
    name = host.strip().strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_unspecified


# -- the sockets httpx reads from ----------------------------------------------------------


@dataclass
class _Tracker:
    """What one request did so far: the streams it opened (with every byte received), and
    whether the answer's head arrived. Found by the backend through a context variable: the
    request runs in the probe's own task."""

    deadline: float
    log: Log
    host: str
    port: int
    streams: list[_WireStream] = field(default_factory=list)
    attempted: bool = False  # our backend was asked to connect (False: a proxy was used)
    status: int = 0
    reason: str = ""
    body_read: int = 0

    @property
    def received(self) -> bytes:
        return bytes(self.streams[-1].wire.received) if self.streams else b""

    def kw(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port}


_TRACKER: contextvars.ContextVar[_Tracker | None] = contextvars.ContextVar(
    "envdoctor_http_tracker", default=None
)


class _WireStream:
    """httpcore's `AsyncNetworkStream` over a `Wire`: the deadline is the Wire's."""

    def __init__(self, wire: Wire) -> None:
        self.wire = wire

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        # peek() returns b"" at a clean end of stream, where httpcore wants b""; read_some then
        # hands over what peek buffered (at most one socket read: <= httpcore's max_bytes).
        if not await self.wire.peek(1):
            return b""
        _refuse_other_protocols(self.wire)
        return await self.wire.read_some()

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return  # h11's end of a body-less request: nothing to send, nothing to fail on
        try:
            await self.wire.send(buffer)
        except Closed:
            # A server that spoke first (MySQL's greeting) and reset the connection when our
            # request came: what it said is still in the socket, and names it.
            with contextlib.suppress(ProbeError):
                await self.wire.peek(1)
            if not self.wire.received:
                raise
            _refuse_other_protocols(self.wire)
            # An HTTP answer came before the hang-up (a 400 to a request it would not read):
            # httpcore reads it next.

    async def aclose(self) -> None:
        self.wire.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> _WireStream:
        try:
            await _handshake(self.wire, ssl_context, server_hostname)
        except BaseException:
            self.wire.close()  # httpcore closes only the streams it got back
            raise
        return self

    def get_extra_info(self, info: str) -> Any:
        sock = self.wire.sock
        if info == "is_readable":  # an idle pooled connection the server has closed
            try:
                return bool(select.select([sock], [], [], 0)[0])
            except (OSError, ValueError):
                return True
        if info == "socket":
            return sock
        try:
            if info == "server_addr":
                return sock.getpeername()
            if info == "client_addr":
                return sock.getsockname()
        except OSError:
            return None
        return None  # "ssl_object": None means HTTP/1.1, the only version spoken here


async def _handshake(wire: Wire, context: ssl.SSLContext, server_hostname: str | None) -> None:
    """The TLS handshake; when the server stays silent past `PLAIN_PATIENCE`, a plain request
    on a second connection runs alongside it, and an HTTP answer there ends it (`PlainHttp`)."""
    handshake = asyncio.ensure_future(wire.start_tls(context, server_hostname))
    plain: asyncio.Future[bytes] | None = None
    try:
        patience = min(PLAIN_PATIENCE, 0.3 * max(0.0, wire.left()))
        done, _ = await asyncio.wait({handshake}, timeout=patience)
        if handshake not in done:
            wire.log(
                f"no answer to the TLS handshake after {patience * 1000:.0f} ms: asking in "
                "plain HTTP on a second connection"
            )
            plain = asyncio.ensure_future(_plain_status_line(wire))
            done, _ = await asyncio.wait({handshake, plain}, return_when=asyncio.FIRST_COMPLETED)
            line = plain.result() if handshake not in done else b""
            if line:
                wire.log(
                    f"plain HTTP answered while the TLS handshake got nothing: {describe(line)}"
                )
                raise PlainHttp(
                    "no answer to the TLS handshake, but a plain HTTP request was answered",
                    reason="no answer to the TLS handshake",
                    received=line,
                    host=wire.host,
                    port=wire.port,
                )
        await handshake
    finally:
        for task in (handshake, plain):
            if task is not None and not task.done():
                task.cancel()
        await asyncio.gather(
            *(t for t in (handshake, plain) if t is not None), return_exceptions=True
        )


async def _plain_status_line(wire: Wire) -> bytes:
    """The status line a plain `HEAD /` gets on a second connection to wire's port; b"" when
    what comes back (if anything) is not HTTP."""
    host = f"[{wire.host}]" if ":" in wire.host else wire.host
    request = (
        f"HEAD / HTTP/1.1\r\nHost: {host}:{wire.port}\r\nUser-Agent: envdoctor\r\n"
        "Connection: close\r\n\r\n"
    ).encode("ascii", "replace")
    try:
        async with await Wire.open(wire.host, wire.port, wire.deadline, log=wire.log) as plain:
            await plain.send(request)
            line = await plain.read_until(b"\n", 256)
    except ProbeError:
        return b""
    return line.rstrip(b"\r\n") if line.startswith(b"HTTP/") else b""


def _refuse_other_protocols(wire: Wire) -> None:
    """Every HTTP/1.x answer starts with `HTTP/`. h11 waits for a whole head (up to a blank
    line) before it judges, so a Redis answering `-ERR` line after line would hold the probe
    until the deadline: the first bytes settle it at once."""
    head = bytes(wire.received[:16]).lstrip(b"\r\n")
    if head and not (head.startswith(b"HTTP/") or b"HTTP/".startswith(head)):
        received = bytes(wire.received)
        raise NotHttp(
            "the answer does not start with HTTP/",
            received=received,
            detail="the answer does not start with HTTP/",
            host=wire.host,
            port=wire.port,
        )


class _WireBackend:
    """httpcore's `AsyncNetworkBackend`: connections through `Wire.open` (probes.connect)."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> _WireStream:
        tracker = _TRACKER.get()
        if tracker is None:  # not through `fetch`: still never without a deadline
            deadline, log = time.monotonic() + (timeout or 10.0), None
        else:
            tracker.attempted = True
            deadline, log = tracker.deadline, tracker.log
        wire = await Wire.open(host, port, deadline, log=log)
        stream = _WireStream(wire)
        if tracker is not None:
            tracker.streams.append(stream)
        return stream

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> _WireStream:
        raise NotImplementedError("Unix sockets are not probed")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


# -- clients: one per event loop, TLS mode and proxy policy --------------------------------

_SSL: dict[bool, ssl.SSLContext] = {}
_LOCK = threading.Lock()  # `prepare` may run on a thread while the loop asks for a context
_WARM = False


def ssl_context(verify: bool) -> ssl.SSLContext:
    """One context per process and verify mode; only verifying ones load the CA store.

    Not the one `probes.wire.tls_context` shares with the other kinds: httpcore sets ALPN
    ("http/1.1") on the context it is given, which must not leak into a Redis handshake.
    """
    context = _SSL.get(verify)
    if context is not None:
        return context
    with _LOCK:
        context = _SSL.get(verify)
        if context is None:
            if verify:
                context = ssl.create_default_context()
            else:
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            _SSL[verify] = context
    return context


def client_mode(url: str, verify: bool) -> tuple[bool, bool]:
    """(verify, direct): which shared client a URL uses. Plain http:// on loopback never
    does TLS, so it takes the cheap non-verifying context (no CA store to load)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    direct = is_loopback(parts.hostname or "")
    return verify and (parts.scheme.lower() == "https" or not direct), direct


def prepared(verify: bool) -> bool:
    """True when `prepare(verify)` has nothing left to do."""
    return _WARM and verify in _SSL


def prepare(verify: bool) -> None:
    """The slow first-use work, blocking, meant for a thread (the `http` kind runs it with
    `ctx.run_sync`) so the event loop keeps serving other checks meanwhile: importing httpx
    and httpcore (~100 ms), what httpcore loads lazily, and the SSL context (35-65 ms)."""
    global _WARM
    if not _WARM:
        importlib.import_module("httpx")
        importlib.import_module("httpcore")
        _warm_up()
        _WARM = True
    ssl_context(verify)


@dataclass
class _LoopClients:
    clients: dict[tuple[bool, bool], Any] = field(default_factory=dict)
    closer: Any = None


_BY_LOOP: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopClients] = (
    weakref.WeakKeyDictionary()
)


async def _close_at_loop_end(state: _LoopClients) -> AsyncIterator[None]:
    """Closes the loop's clients when it shuts down, without a hook in the runner.

    `asyncio.run` ends with `loop.shutdown_asyncgens()`, which `aclose()`s every async
    generator still suspended: this one waits at its `yield` for exactly that.
    """
    try:
        yield
    finally:
        clients = list(state.clients.values())
        state.clients.clear()
        for client in clients:
            # Closing must never turn a finished run into a crash.
            with contextlib.suppress(Exception):
                await client.aclose()


async def shared_client(verify: bool, direct: bool) -> Any:
    """The loop's `httpx.AsyncClient` for this TLS mode; `direct` ignores proxy variables."""
    loop = asyncio.get_running_loop()
    state = _BY_LOOP.get(loop)
    if state is None:
        state = _BY_LOOP[loop] = _LoopClients()
        state.closer = _close_at_loop_end(state)
        await state.closer.__anext__()  # now registered with the loop's shutdown_asyncgens
    client = state.clients.get((verify, direct))
    if client is None:
        client = state.clients[(verify, direct)] = _new_client(verify, direct)
    return client


async def aclose_clients() -> None:
    """Closes the running loop's clients now (the loop's shutdown does it otherwise)."""
    state = _BY_LOOP.pop(asyncio.get_running_loop(), None)
    if state is not None and state.closer is not None:
        await state.closer.aclose()


def _new_client(verify: bool, direct: bool) -> Any:
    import httpcore
    import httpx

    _warm_up()

    from envdoctor import __version__

    context = ssl_context(verify)
    transport = httpx.AsyncHTTPTransport(verify=context, trust_env=False, retries=0)
    # httpx offers no network_backend argument: its pool is rebuilt with ours (httpcore's
    # public constructor). No keep-alive: every probe sees a fresh connection.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=context,
        max_connections=None,
        max_keepalive_connections=0,
        http1=True,
        http2=False,
        retries=0,
        network_backend=_WireBackend(),
    )
    return httpx.AsyncClient(
        transport=transport,
        mounts={} if direct else _environment_proxies(context),
        trust_env=False,  # proxies: the mounts above; CA files: the context
        follow_redirects=False,
        timeout=None,  # the deadline is ours, total, not httpx's per step
        headers={"User-Agent": f"envdoctor/{__version__}", "Accept-Encoding": "identity"},
    )


def _environment_proxies(context: ssl.SSLContext) -> dict[str, Any]:
    """The proxies HTTP_PROXY/HTTPS_PROXY/ALL_PROXY name, minus NO_PROXY, as httpx mounts.

    httpx reads them itself only when it builds its own transport (`trust_env` is ignored
    once a transport is given), so the same rules are applied here with httpx's own parser;
    a `None` mount (a NO_PROXY host) means our direct transport.
    """
    import httpx

    try:
        from httpx._utils import get_environment_proxies
    except ImportError:  # pragma: no cover - moved in a later httpx: fall back to urllib's
        from urllib.request import getproxies

        found = getproxies()
        proxies: dict[str, str | None] = {
            f"{scheme}://": found[scheme]
            for scheme in ("http", "https", "all")
            if found.get(scheme)
        }
    else:
        proxies = get_environment_proxies()
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    return {
        pattern: None
        if url is None
        else httpx.AsyncHTTPTransport(proxy=url, verify=context, limits=limits, retries=0)
        for pattern, url in proxies.items()
    }


def _warm_up() -> None:
    """Imports what httpcore loads lazily on its first request (anyio's asyncio backend, for
    its locks: ~50 ms): paid once, before any request's clock starts, not inside the first
    answer's time."""
    with contextlib.suppress(ImportError):
        importlib.import_module("anyio._backends._asyncio")
    # httpcore runs `import sniffio` on every lock it takes (six times a request); anyio no
    # longer needs sniffio, and when it is absent each attempt searches all of sys.path again
    # (~140 ms of CPU for 50 checks). A None entry makes the import fail at once, as Python
    # documents for sys.modules; httpcore then assumes asyncio, which is right here.
    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]


# -- one request ---------------------------------------------------------------------------


async def fetch(request: HttpRequest, deadline: float, log: Log) -> HttpAnswer:
    """Sends `request` and reads the whole answer (body capped) before `deadline` (absolute
    `time.monotonic()`). Raises the `ProbeError`s of connect/wire (Refused, DnsError,
    ConnectTimeout, NetworkError, NoAnswer, Closed, TlsFailure), or `Incomplete`, `NotHttp`,
    `ProxyFailure`."""
    import httpx

    url = httpx.URL(request.url)
    host = url.host
    port = url.port or DEFAULT_PORTS.get(url.scheme, 80)
    client = await shared_client(*client_mode(request.url, request.verify))
    tracker = _Tracker(deadline, log, host, port)
    token = _TRACKER.set(tracker)
    try:
        left = max(0.0, deadline - time.monotonic())
        return await asyncio.wait_for(_exchange(client, request, tracker), left + SLACK)
    except asyncio.TimeoutError:
        raise _timed_out(tracker) from None
    except NoAnswer:
        if tracker.status:
            raise _incomplete(tracker) from None
        raise
    except Closed as exc:
        if exc.received or isinstance(exc, SpeaksTls):
            raise
        raise await _silent_close(exc, url.scheme, tracker) from None
    except ProbeError:
        raise
    except httpx.HTTPError as exc:
        detail = request.mask(str(exc) or type(exc).__name__)
        if not tracker.attempted:
            raise ProxyFailure(
                f"the proxy failed: {detail}",
                reason=f"{type(exc).__name__}: {detail}",
                **tracker.kw(),
            ) from None
        if isinstance(exc, (httpx.RemoteProtocolError, httpx.DecodingError)):
            received = tracker.received
            if not received:
                closed = Closed(
                    "the server closed the connection without answering", **tracker.kw()
                )
                raise await _silent_close(closed, url.scheme, tracker) from None
            raise NotHttp(
                f"not an HTTP answer: {detail}", received=received, detail=detail, **tracker.kw()
            ) from None
        raise NotHttp(
            f"the exchange failed: {detail}",
            received=tracker.received,
            detail=detail,
            **tracker.kw(),
        ) from None
    finally:
        _TRACKER.reset(token)


async def _exchange(client: Any, request: HttpRequest, tracker: _Tracker) -> HttpAnswer:
    import httpx

    started = time.monotonic()
    built = client.build_request(request.method, request.url, headers=dict(request.headers))
    kw: dict[str, Any] = {}
    if request.auth is not None:
        kw["auth"] = httpx.BasicAuth(*request.auth)
    response = await client.send(built, stream=True, follow_redirects=False, **kw)
    try:
        tracker.status, tracker.reason = response.status_code, response.reason_phrase
        kind = response.headers.get("content-type")
        tracker.log(
            f"answer: {response.http_version} {response.status_code} {response.reason_phrase}"
            + (f" ({kind})" if kind else "")
        )
        body = bytearray()
        truncated = False
        if request.method != "HEAD":
            async for chunk in response.aiter_bytes():
                body += chunk
                tracker.body_read = len(body)
                if len(body) > request.body_limit:
                    truncated = True
                    del body[request.body_limit :]
                    break
        elapsed = time.monotonic() - started
        rest = f" (first {len(body)} read, the rest left)" if truncated else ""
        tracker.log(f"body: {len(body)} bytes{rest}; complete in {elapsed * 1000:.1f} ms")
    finally:
        await response.aclose()
    headers = response.headers
    return HttpAnswer(
        status=response.status_code,
        reason=response.reason_phrase,
        http_version=response.http_version,
        body=bytes(body),
        truncated=truncated,
        elapsed=elapsed,
        location=headers.get("location"),
        content_type=headers.get("content-type", ""),
        retry_after=headers.get("retry-after"),
        www_authenticate=headers.get("www-authenticate"),
    )


async def _silent_close(closed: Closed, scheme: str, tracker: _Tracker) -> Closed:
    """`closed`, or `SpeaksTls` when the port that hung up on a plain request without a byte
    completes a TLS handshake (within `TLS_CHECK`: a server that waits for more is no TLS
    server, and must not cost the whole deadline)."""
    if scheme != "http" or not tracker.streams:
        return closed
    elapsed = tracker.streams[-1].wire.connect_elapsed
    limit = min(tracker.deadline, time.monotonic() + max(TLS_CHECK, 4 * elapsed))
    tracker.log("closed without a word: trying a TLS handshake to see whether the port speaks TLS")
    if await tls_answer(tracker.host, tracker.port, limit, tracker.log) == "TLS":
        return SpeaksTls(
            "the server closed the plain-text connection without a word, then completed a TLS "
            "handshake",
            received=b"",
            host=closed.host,
            port=closed.port,
            attempts=closed.attempts,
        )
    return closed


def _incomplete(tracker: _Tracker) -> Incomplete:
    return Incomplete(
        "the body did not finish before the deadline",
        status=tracker.status,
        reason=tracker.reason,
        body_read=tracker.body_read,
        received=tracker.received,
        **tracker.kw(),
    )


def _timed_out(tracker: _Tracker) -> ProbeError:
    """The outer deadline struck (the sockets' own normally strike first): say where."""
    if tracker.status:
        return _incomplete(tracker)
    if tracker.streams:
        return NoAnswer("no answer before the deadline", received=tracker.received, **tracker.kw())
    if not tracker.attempted:
        return ProxyFailure(
            "no answer through the proxy before the deadline",
            reason="no answer before the deadline",
            **tracker.kw(),
        )
    where = format_address(tracker.host, tracker.port)
    return ConnectTimeout(f"timed out connecting to {where}", **tracker.kw())


# -- what the answer means -----------------------------------------------------------------


class HttpState(str, enum.Enum):
    READY = "ready"
    """An expected status (default: 2xx/3xx) and, when asked, the text in the body."""
    NEEDS_AUTH = "needs_auth"
    """401/403 and no credentials were sent: up, but the check needs a login."""
    AUTH_REJECTED = "auth_rejected"
    """401/403 although credentials were sent."""
    NOT_READY = "not_ready"
    """503: up, but says it cannot serve yet."""
    UNEXPECTED_STATUS = "unexpected_status"
    BODY_MISMATCH = "body_mismatch"


def expected_text(expect: Sequence[int] | None) -> str:
    """`2xx or 3xx`, `200`, `200 or 204`, `200, 201 or 204`."""
    if not expect:
        return "2xx or 3xx"
    codes = [str(c) for c in dict.fromkeys(expect)]
    return codes[0] if len(codes) == 1 else f"{', '.join(codes[:-1])} or {codes[-1]}"


def classify(
    answer: HttpAnswer,
    expect: Sequence[int] | None = None,
    contains: str | None = None,
    *,
    credentials: bool = False,
) -> HttpState:
    """The verdict on a complete answer; `credentials`: the request carried a login."""
    status = answer.status
    expected = status in expect if expect else 200 <= status < 400
    if not expected:
        if status in (401, 403):
            return HttpState.AUTH_REJECTED if credentials else HttpState.NEEDS_AUTH
        if status == 503:
            return HttpState.NOT_READY
        return HttpState.UNEXPECTED_STATUS
    if (
        contains is not None
        and contains not in answer.text()
        and (contains.encode("utf-8") not in answer.body)
    ):
        return HttpState.BODY_MISMATCH
    return HttpState.READY


# -- the probe contract of the service kinds -----------------------------------------------


async def probe(target: Target, deadline: float, log: Log) -> ProbeResult:
    """`GET /` on target's host:port (TLS when `target.tls` is set): the shared probe contract,
    for callers that have only a host and a port. The `http` kind uses `fetch` (a whole URL)."""
    scheme = "https" if target.tls is not None else "http"
    host = f"[{target.host}]" if ":" in target.host else target.host
    verify = target.tls is None or target.tls.verify_mode != ssl.CERT_NONE
    login = (target.user, target.password) if target.user or target.password else None
    request = HttpRequest(f"{scheme}://{host}:{target.port}/", auth=login, verify=verify)
    try:
        answer = await fetch(request, deadline, log)
    except SpeaksTls:
        return ProbeResult(
            State.WRONG_PROTOCOL,
            "it closed the plain-text connection without a word, then completed a TLS "
            "handshake: use https://",
            protocol="TLS",
        )
    except NotHttp as exc:
        from envdoctor.probes.identify import describe

        if exc.protocol == "HTTP":
            return ProbeResult(State.WRONG_PROTOCOL, f"a malformed HTTP answer: {exc.detail}")
        return ProbeResult(
            State.WRONG_PROTOCOL, f"it sent {describe(exc.received)}", protocol=exc.protocol
        )
    state = classify(answer, credentials=login is not None)
    said = f"HTTP {answer.status_text}"
    if state is HttpState.READY:
        return ProbeResult(State.READY, f"HTTP server answered {answer.status_text}")
    if state is HttpState.NEEDS_AUTH:
        return ProbeResult(State.NEEDS_AUTH, said, code=str(answer.status))
    if state is HttpState.AUTH_REJECTED:
        return ProbeResult(State.AUTH_REJECTED, said, code=str(answer.status))
    if answer.status >= 500:
        return ProbeResult(State.NOT_READY, said, code=str(answer.status))
    # Any other status still proves an HTTP server that accepts connections.
    return ProbeResult(State.READY, f"HTTP server answered {answer.status_text}")
