"""`http`: an HTTP(S) endpoint answers with the status (and body) a ready service gives.

The request goes through httpx (`envdoctor.probes.http`) under the check's *total* deadline —
connect, TLS, headers and body together — so a server that drips a byte at a time is cut off,
not waited on for minutes. What came back is told apart, each with its own message and fix:
ready (2xx/3xx by default; redirects are reported, not followed), up but needs credentials
(401/403 without a login), credentials rejected, not ready (503), an unexpected status, a body
without the expected text, TLS trouble (a self-signed certificate, https on a plain port), and
every transport failure the other service kinds know (refused, DNS, timeouts, a black hole,
another protocol on the port) in the same words.

The wrong scheme gets the right one as its fix, not "check the port": `https://` on a port the
probe heard answer in plain HTTP says "use http://…", and `http://` on a port that answered
with TLS (an alert, or a hang-up then a completed handshake) says "use https://…".

Secrets: a password in the URL is sent as basic auth and shown as `***`; header values are
never shown (only their names), not even when a server echoes them back in its body.
"""

from __future__ import annotations

import re
import shlex
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

from envdoctor.context import CheckContext
from envdoctor.kinds.service import GRACE, HostVerdict, ServiceKind
from envdoctor.model import CheckSpec, Outcome, Status
from envdoctor.options import Bool, IntOrIntList, Option, Str, StrMap
from envdoctor.units import format_duration, format_elapsed, format_size

_CONTROL = re.compile(r"[\x00-\x20\x7f]")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Header names whose values are credentials, besides secret-looking ones (X-Api-Key, ...).
_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy")


@dataclass(frozen=True)
class HttpTarget:
    """An http(s) URL taken apart: `url` is what is requested (no credentials in it),
    `shown` what reports say (the login masked)."""

    scheme: str
    host: str
    port: int
    url: str
    shown: str
    user: str = ""
    password: str = field(default="", repr=False)
    has_login: bool = False


def parse_http_url(text: str) -> HttpTarget:
    """Parses an http(s) URL; ValueError messages never repeat it (it may hold a password)."""
    from urllib.parse import unquote, urlsplit

    url = text.strip()
    if _CONTROL.search(url):
        raise ValueError("the URL holds spaces or control characters")
    scheme, sep, _rest = url.partition("://")
    if not sep:
        raise ValueError("expected a URL such as http://localhost:8000/health")
    if scheme.lower() not in ("http", "https"):
        shown = scheme if scheme.isascii() and scheme.replace("+", "").isalnum() else "?"
        raise ValueError(f"the URL scheme must be http:// or https:// (got {shown}://)")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError(
            "the URL's host or port is not valid (the port must be a number from 1 to 65535; "
            "an IPv6 address needs brackets)"
        ) from None
    scheme = parts.scheme.lower()
    hostport = parts.netloc.rpartition("@")[2]
    host = parts.hostname or ""
    if not host:
        raise ValueError("the URL names no host (expected http://host:port/path)")
    if port == 0:
        raise ValueError("the port in the URL must be a number from 1 to 65535")
    has_login = "@" in parts.netloc
    user = unquote(parts.username or "")
    password = unquote(parts.password or "")
    path = parts.path or "/"
    query = f"?{parts.query}" if parts.query else ""
    if not has_login:
        login = ""
    elif parts.password is not None:
        login = f"{parts.username or ''}:***@"
    else:
        login = "***@"  # a lone user name is the secret (API tokens are sent that way)
    return HttpTarget(
        scheme=scheme,
        host=host,
        port=port or (443 if scheme == "https" else 80),
        url=f"{scheme}://{hostport}{path}{query}",
        shown=f"{scheme}://{login}{hostport}{path}{query}",
        user=user,
        password=password,
        has_login=has_login,
    )


_PREPARING: weakref.WeakKeyDictionary[Any, dict[bool, Any]] = weakref.WeakKeyDictionary()


async def _prepared(ctx: CheckContext, url: str, verify: bool) -> None:
    """httpx imported and the SSL context built, on a thread, once per process: the first
    http check does not freeze the loop (and every other check's clock) for ~0.2 s. Checks
    that start together wait for the same preparation."""
    import asyncio

    from envdoctor.probes import http as probe

    mode = probe.client_mode(url, verify)[0]
    if probe.prepared(mode):
        return
    pending = _PREPARING.setdefault(asyncio.get_running_loop(), {})
    task = pending.get(mode)
    if task is None:
        task = pending[mode] = asyncio.ensure_future(ctx.run_sync(probe.prepare, mode))
    await asyncio.shield(task)


def _proxy_variables() -> list[str]:
    """The names (never the values) of the proxy variables set in this process, which is
    where httpx reads them."""
    import os

    return sorted(k for k, v in os.environ.items() if k.lower() in _PROXY_VARIABLES and v)


def _endpoint(target: HttpTarget) -> Any:
    from envdoctor.endpoints import Endpoint

    return Endpoint(
        target.scheme,
        ((target.host, target.port),),
        user=target.user,
        password=target.password,
        tls=target.scheme == "https",
        has_password=target.has_login,
    )


def _bytes_count(count: int) -> str:
    return "1 byte" if count == 1 else f"{count} bytes"


def _is_credential(header: str) -> bool:
    from envdoctor.redact import is_secret_name

    return header.lower() in _CREDENTIAL_HEADERS or is_secret_name(header)


class HttpKind(ServiceKind):
    name = "http"
    protocol = "HTTP"
    summary = "An HTTP(S) endpoint answers with the expected status (and body)."
    passes_when = (
        "the status is expected (default: any 2xx or 3xx; redirects are not followed) and, "
        "with `contains`, the body holds that text — all within the timeout"
    )
    schemes = ("http", "https")
    probe_module = "envdoctor.probes.http"
    options = (
        Option(
            "url",
            Str(),
            "`http://` or `https://` URL; a login in it (`https://user:pw@host/`) is sent as "
            "basic auth and never shown.",
            required=True,
        ),
        Option(
            "method",
            Str(r"[A-Za-z][A-Za-z-]*", "an HTTP method such as GET, HEAD or POST"),
            "HTTP method (GET, HEAD, POST, ...); the request has no body.",
            default="GET",
        ),
        Option(
            "expect_status",
            IntOrIntList(),
            "Status code(s) that count as ready (default: any 2xx or 3xx).",
        ),
        Option(
            "contains",
            Str(),
            "Text the body must contain (the first 1 MiB of it is read).",
        ),
        Option(
            "headers",
            StrMap(),
            "Request headers; values may be secrets such as `Bearer ${TOKEN}`: only the names "
            "are ever shown.",
        ),
        Option(
            "verify",
            Bool(),
            "Verify the server's TLS certificate (false for a self-signed one).",
            default=True,
        ),
    )

    def validate(self, options: dict[str, Any]) -> list[tuple[str | None, str]]:
        # Values are never echoed (messages_hide_values, from ServiceKind): they may come from
        # ${VAR} interpolation. A header's name comes from the check module itself.
        problems: list[tuple[str | None, str]] = []
        if options.get("url") is not None:
            try:
                parse_http_url(options["url"])
            except ValueError as exc:
                problems.append(("url", f"option 'url': {exc}"))
        if any(not 100 <= code <= 599 for code in options.get("expect_status") or []):
            problems.append(
                ("expect_status", "option 'expect_status': a status must be from 100 to 599")
            )
        for name, value in (options.get("headers") or {}).items():
            if not _TOKEN.fullmatch(name):
                problems.append(("headers", "option 'headers': a header name is not valid"))
            elif any(c in value for c in "\r\n\x00"):
                problems.append(
                    ("headers", f"option 'headers': the value of {name} holds a line break")
                )
        method = str(options.get("method") or "GET").upper()
        if options.get("contains") is not None and method == "HEAD":
            problems.append(
                ("contains", "option 'contains' needs a body, and HEAD answers have none")
            )
        return problems

    def secrets(self, options: dict[str, Any]) -> list[str]:
        """Values to mask wherever they would show (reports, `explain`'s option listing):
        every header value, the URL's password, and a user name that comes without one
        (then it is the token). For the loader to add to the session's redactor."""
        found = [v for v in (options.get("headers") or {}).values() if len(v) >= 3]
        try:
            target = parse_http_url(options.get("url") or "")
        except ValueError:
            return found
        if target.has_login:
            found.append(target.password or target.user)
        return [s for s in found if len(s) >= 3]

    def endpoint(self, options: dict[str, Any]) -> Any:
        """The `Endpoint` the shared service messages use (address, scheme)."""
        return _endpoint(parse_http_url(options["url"]))

    async def run(self, spec: CheckSpec, ctx: CheckContext) -> Outcome:
        from envdoctor.probes.connect import ProbeError
        from envdoctor.probes.http import HttpRequest, fetch, is_loopback

        try:
            target = parse_http_url(spec.options["url"])
        except ValueError as exc:
            return Outcome(Status.ERROR, f"option 'url': {exc}")
        method = str(spec.options.get("method") or "GET").upper()
        headers: dict[str, str] = dict(spec.options.get("headers") or {})
        request = HttpRequest(
            url=target.url,
            method=method,
            headers=headers,
            auth=(target.user, target.password) if target.has_login else None,
            verify=spec.options.get("verify", True) is not False,
        )
        shown = self._mask(ctx, request, target.shown)
        sent = [f"header {name}" for name in headers]
        if target.has_login:
            sent.append("basic auth from the URL")
        if is_loopback(target.host):
            route = "direct (loopback: proxy variables ignored)"
        elif _proxy_variables():
            route = f"through {'/'.join(_proxy_variables())} unless NO_PROXY names the host"
        else:
            route = "direct (no proxy variable set)"
        ctx.note(f"{method} {shown}" + (f" with {', '.join(sent)}" if sent else "") + f"; {route}")
        deadline = time.monotonic() + max(0.0, ctx.remaining() - GRACE)
        await _prepared(ctx, request.url, request.verify)
        try:
            answer = await fetch(request, deadline, ctx.note)
        except ProbeError as exc:
            verdict = await self._failure(exc, target, request, shown, spec, ctx)
            return Outcome(verdict.status, verdict.message, fix=verdict.fix)
        return self._judge(answer, target, request, shown, spec, ctx)

    # -- a complete answer -----------------------------------------------------------------

    def _judge(
        self,
        answer: Any,
        target: HttpTarget,
        request: Any,
        shown: str,
        spec: CheckSpec,
        ctx: CheckContext,
    ) -> Outcome:
        from envdoctor.probes.http import HttpState, classify, expected_text

        expect = spec.options.get("expect_status")
        contains = spec.options.get("contains")
        credentials = target.has_login or any(_is_credential(h) for h in request.headers)
        state = classify(answer, expect, contains, credentials=credentials)
        said = f"HTTP {answer.status_text} from {shown}"
        where = ""
        if answer.location:
            where = f"redirects to {self._mask(ctx, request, answer.location, 120)}"
        if state is HttpState.READY:
            message = f"{said} in {format_elapsed(answer.elapsed)}"
            if contains is not None:
                message += f", body contains {contains!r}"
            if where and 300 <= answer.status < 400:
                message += f" ({where})"
            return Outcome(Status.PASS, message)
        if state is HttpState.NEEDS_AUTH:
            asks = (answer.www_authenticate or "").split(" ", 1)[0].strip(",")
            example = self._mask(ctx, request, target.shown.replace("://", "://USER:PASSWORD@", 1))
            return Outcome(
                Status.WARN,
                f"{said}: up but needs credentials"
                + (f" ({asks} auth)" if asks and asks.isalnum() else ""),
                fix=(
                    f"put the credentials in the URL: {example}, or in a header: "
                    'headers = { Authorization = "Bearer ${TOKEN}" } (never shown)'
                ),
            )
        if state is HttpState.AUTH_REJECTED:
            why = (
                "the credentials were rejected"
                if answer.status == 401
                else "the credentials sent are not allowed this request"
            )
            return Outcome(
                Status.FAIL,
                f"{said}: {why}",
                fix="check the login in the URL or the credential headers (never shown here)",
            )
        if state is HttpState.NOT_READY:
            retry = answer.retry_after or ""
            message = f"{shown} is not ready ({answer.status_text})"
            if retry.isdigit():
                message += f"; it asks to retry in {retry} s"
            return Outcome(Status.FAIL, message, fix="wait for it: envdoctor check --wait 60s")
        if state is HttpState.UNEXPECTED_STATUS:
            message = f"expected {expected_text(expect)}, got {answer.status_text} from {shown}"
            if where:
                message += f" ({where})"
            return Outcome(Status.FAIL, message, fix=self._status_fix(answer.status, target))
        # BODY_MISMATCH
        read = (
            f"the first {format_size(len(answer.body))} of a longer body read"
            if answer.truncated
            else f"{_bytes_count(len(answer.body))} read"
        )
        message = f"{said}, but the body does not contain {contains!r} ({read})"
        excerpt = self._excerpt(ctx, request, answer.text())
        if excerpt:
            message += f"; it begins {excerpt!r}"
        fix = None
        if not target.has_login and not request.headers:
            fix = f"see what it answers: curl -sS {shlex.quote(target.url)}"
        return Outcome(Status.FAIL, message, fix=fix)

    def _status_fix(self, status: int, target: HttpTarget) -> str | None:
        if status in (404, 410):
            return "check the path in the URL"
        if status == 405:
            return 'check the method (method = "GET", "HEAD", "POST", ...)'
        if 300 <= status < 400:
            return "point the URL at the redirect's target, or add this status to expect_status"
        if status >= 500:
            return "the server failed to answer: look at its logs"
        return None

    # -- no complete answer ----------------------------------------------------------------

    async def _failure(
        self,
        exc: Any,
        target: HttpTarget,
        request: Any,
        shown: str,
        spec: CheckSpec,
        ctx: CheckContext,
    ) -> HostVerdict:
        from envdoctor.probes.connect import ConnectTimeout, DnsError, NetworkError, Refused
        from envdoctor.probes.http import Incomplete, NotHttp, ProxyFailure, SpeaksTls
        from envdoctor.probes.identify import identify
        from envdoctor.probes.wire import Closed, NoAnswer, TlsFailure

        host, port = target.host, target.port
        endpoint = _endpoint(target)
        address = endpoint.address(host, port)
        limit = format_duration(ctx.timeout or ctx.remaining())
        port_fix = self._port_fix(port)
        if isinstance(exc, (Refused, DnsError, ConnectTimeout, NetworkError)):
            return await self.transport_failure(exc, endpoint, host, port, spec, ctx)
        if isinstance(exc, ProxyFailure):
            which = "/".join(_proxy_variables()) or "the environment"
            return HostVerdict(
                address,
                Status.FAIL,
                f"could not reach {shown} through the proxy from {which}: "
                + self._mask(ctx, request, exc.reason, 160),
                fix=f"check {which}, or add {host} to NO_PROXY",
            )
        if isinstance(exc, TlsFailure):
            return self._tls_failure(exc, target, request, address, ctx)
        if isinstance(exc, Incomplete):
            return HostVerdict(
                address,
                Status.FAIL,
                f"no complete answer within {limit} from {shown}: HTTP {exc.status_text} "
                f"arrived, then only {_bytes_count(exc.body_read)} of the body",
                fix=self._slow_fix(),
            )
        if isinstance(exc, SpeaksTls):
            detail = (
                "it closed the plain-text connection without a word, then completed a TLS handshake"
            )
            return HostVerdict(
                address,
                Status.FAIL,
                self._wrong_protocol(address, "TLS", detail),
                fix=self._scheme_fix(ctx, request, target, "https"),
            )
        received = bytes(getattr(exc, "received", b""))
        other = identify(received)
        if other == "TLS" and target.scheme == "http":
            detail = (
                f"it answered the plain HTTP request with {self._bytes(ctx, request, received)}"
            )
            return HostVerdict(
                address,
                Status.FAIL,
                self._wrong_protocol(address, "TLS", detail),
                fix=self._scheme_fix(ctx, request, target, "https"),
            )
        if other and other != "HTTP" and isinstance(exc, (NotHttp, NoAnswer, Closed)):
            detail = f"it sent {self._bytes(ctx, request, received)}"
            return HostVerdict(
                address, Status.FAIL, self._wrong_protocol(address, other, detail), fix=port_fix
            )
        if isinstance(exc, NotHttp):
            if other == "HTTP":
                detail = self._mask(ctx, request, exc.detail, 160)
                return HostVerdict(
                    address, Status.FAIL, f"a malformed HTTP answer from {address}: {detail}"
                )
            detail = f"it sent {self._bytes(ctx, request, received)}"
            return HostVerdict(
                address, Status.FAIL, self._wrong_protocol(address, "", detail), fix=port_fix
            )
        if isinstance(exc, NoAnswer):
            if received:
                return HostVerdict(
                    address,
                    Status.FAIL,
                    f"no complete answer within {limit} from {shown}: only "
                    f"{_bytes_count(len(received))} arrived ({self._bytes(ctx, request, received)})",
                    fix=self._slow_fix(),
                )
            if exc.phase == "tls":
                return HostVerdict(
                    address,
                    Status.FAIL,
                    f"connected to {address}, but no answer within {limit} during the TLS "
                    "handshake: a black hole, or a server that does not speak TLS",
                    fix=port_fix,
                )
            holder = await self._holder(ctx, port, [a.ip for a in exc.attempts] or [host])
            why = (
                f"{holder} holds that port: another server, waiting for the client to speak"
                if holder
                else "a black hole, or a server of another protocol waiting for the client to speak"
            )
            return HostVerdict(
                address,
                Status.FAIL,
                f"connected to {address}, but no answer within {limit}: {why}",
                fix=port_fix,
            )
        if isinstance(exc, Closed):
            holder = await self._holder(ctx, port, [a.ip for a in exc.attempts] or [host])
            said = f"it sent {self._bytes(ctx, request, received)}" if received else ""
            held = f"{holder} holds that port" if holder else ""
            detail = "; ".join(x for x in (said, held) if x)
            message = f"{address} closed the connection without an HTTP answer"
            if detail:
                message += f" ({detail})"
            return HostVerdict(address, Status.FAIL, message, fix=port_fix)
        detail = self._mask(ctx, request, exc.message)
        return HostVerdict(address, Status.FAIL, f"{address}: {detail}")

    def _tls_failure(
        self, exc: Any, target: HttpTarget, request: Any, address: str, ctx: CheckContext
    ) -> HostVerdict:
        from envdoctor.probes.http import PlainHttp
        from envdoctor.probes.identify import identify

        reason = exc.reason
        other = identify(exc.received)
        if isinstance(exc, PlainHttp) or (exc.received and other == "HTTP"):
            # Proof, not a guess: HTTP bytes came back (to the ClientHello, or to a plain
            # request on a second connection while the handshake got nothing).
            answered = self._bytes(ctx, request, exc.received.split(b"\n", 1)[0].rstrip())
            how = (
                "a plain request on a second connection got"
                if isinstance(exc, PlainHttp)
                else "it answered the TLS handshake with"
            )
            return HostVerdict(
                address,
                Status.FAIL,
                f"TLS failed with {address}: {reason}: the port speaks plain HTTP ({how} "
                f"{answered})",
                fix=self._scheme_fix(ctx, request, target, "http"),
            )
        if "wrong version number" in reason or "record layer failure" in reason:
            plain_http = other in ("", "TLS")
            said = (
                "the port speaks plain HTTP?" if plain_http else f"{other} answered in plain text"
            )
            plain = self._mask(ctx, request, target.shown.replace("https://", "http://", 1))
            return HostVerdict(
                address,
                Status.FAIL,
                f"TLS failed with {address}: {reason}: {said}",
                fix=f"if this port speaks plain HTTP, use {plain}"
                if plain_http
                else self._port_fix(target.port),
            )
        if "certificate" in exc.message:
            return HostVerdict(
                address,
                Status.FAIL,
                f"TLS failed with {address}: certificate verification failed: {reason}",
                fix=(
                    "for a self-signed certificate set verify = false in this check; else "
                    "trust the CA that signed it: SSL_CERT_FILE=/path/to/ca.pem"
                ),
            )
        return HostVerdict(
            address,
            Status.FAIL,
            f"TLS failed with {address}: {reason}",
            fix="check that the port speaks TLS (https://), or use http://",
        )

    def _port_fix(self, port: int, protocol: str = "") -> str:
        return f"check the URL's port: {port} does not answer as an HTTP server"

    def _scheme_fix(self, ctx: CheckContext, request: Any, target: HttpTarget, scheme: str) -> str:
        """`the port speaks TLS: use https://…` (or plain HTTP, `http://…`): the check's own
        URL with the other scheme, the login masked, and the port kept (`https://host/` on a
        plain port means `http://host:443/`, not port 80)."""
        netloc, _, tail = target.shown.split("://", 1)[1].partition("/")
        if not re.search(r":\d+$", netloc.rpartition("@")[2]):
            netloc += f":{target.port}"
        url = self._mask(ctx, request, f"{scheme}://{netloc}/{tail}")
        speaks = "TLS" if scheme == "https" else "plain HTTP"
        return f"the port speaks {speaks}: use {url}"

    def _slow_fix(self) -> str:
        return (
            "the server answers too slowly: look at its load, or give the check more time "
            '(timeout = "10s")'
        )

    # -- never a secret --------------------------------------------------------------------

    def _mask(self, ctx: CheckContext, request: Any, text: str, limit: int = 0) -> str:
        """Header values and the login masked, then the session's secrets; shortened last
        (a secret cut in half is still a leak)."""
        masked = ctx.session.redact(request.mask(text)) or ""
        if limit and len(masked) > limit:
            masked = masked[: limit - 1] + "…"
        return masked

    def _bytes(self, ctx: CheckContext, request: Any, data: bytes) -> str:
        from envdoctor.probes.identify import describe

        masked = self._mask(ctx, request, data[:400].decode("latin-1"))
        return describe(masked.encode("latin-1", errors="replace"))

    def _excerpt(self, ctx: CheckContext, request: Any, text: str) -> str:
        flat = " ".join(self._mask(ctx, request, text[:2000]).split())
        return flat if len(flat) <= 60 else flat[:59] + "…"


KIND = HttpKind()
