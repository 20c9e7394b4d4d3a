"""The shared half of every protocol-aware service kind (postgres, redis, mysql, ...).

A service kind is data plus one probe: its URL schemes, default port, the names of its server
processes, how to start it; the probe (`envdoctor.probes.<name>`) speaks the protocol. This
module turns what the probe found — a `ProbeResult`, or a `ProbeError` for the transport — into
the failure classes of DESIGN.md §4, each with its own message and fix, the same way for every
service. Several hosts in one URL are probed concurrently, each within the check's deadline.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
import time
from dataclasses import dataclass
from typing import Any, ClassVar

from envdoctor.context import CheckContext
from envdoctor.kinds.base import Kind
from envdoctor.model import CheckSpec, Finding, Outcome, Status, worst
from envdoctor.options import Bool, Int, Option, Str
from envdoctor.units import format_duration, format_elapsed


def _tls_schemes() -> dict[str, bool]:
    from envdoctor.endpoints import SCHEMES

    return {scheme: tls for scheme, (_port, tls) in SCHEMES.items()}


# How long before the probe's deadline a still-waiting probe starts looking up who holds a
# port of this machine (see _probe_host).
EARLY_LOOKUP = 0.3

# How far past the check's deadline the lookup of a silent port's holder may go (the runner
# stops a kind 0.1 s after its deadline).
HOLDER_MARGIN = 0.06

# The probe stops this much before the check's deadline, so the precise reason is always ours,
# never the runner's generic "timed out" (as in the tcp kind).
GRACE = 0.02

SERVICE_OPTIONS = (
    Option(
        "url",
        Str(),
        "Service URL, usually `${DATABASE_URL}`-style; credentials in it are used, never shown. "
        "Several hosts (`h1:p1,h2:p2`) are each probed.",
    ),
    Option("host", Str(), "Host name or IP address (instead of `url`; default: localhost)."),
    Option("port", Int(1, 65535), "TCP port (instead of `url`; default: the scheme's port)."),
    Option(
        "verify",
        Bool(),
        "Verify the server's TLS certificate (TLS schemes only; default true).",
    ),
)


@dataclass
class HostVerdict:
    """One host's outcome, before the per-URL summary."""

    address: str
    status: Status
    message: str
    fix: str | None = None
    holder: str = ""  # the process psutil saw on a silent / hung-up port of this machine

    def foreign(self, ours: tuple[str, ...]) -> bool:
        """Whether the holder is a known server of another protocol (then hints about our
        own protocol's quirks, like "requires TLS", do not apply)."""
        name = _holder_name(self.holder)
        return bool(name) and name in KNOWN_SERVERS and not name.startswith(ours)


# Process names of well-known servers -> what they speak: a silent port's holder, named.
KNOWN_SERVERS = {
    "postgres": "PostgreSQL",
    "redis-server": "Redis",
    "mariadbd": "MySQL/MariaDB",
    "mysqld": "MySQL",
    "memcached": "memcached",
    "beam.smp": "AMQP (RabbitMQ)",
    "mongod": "MongoDB",
    "mongos": "MongoDB",
    "nginx": "HTTP",
    "httpd": "HTTP",
    "apache2": "HTTP",
    "sshd": "SSH",
    "exim4": "SMTP",
    "master": "SMTP (postfix)",
}


def _speaks(holder: str) -> str:
    """`postgres (pid 12)` -> `, a PostgreSQL server`, for holders we know."""
    name = _holder_name(holder)
    if name not in KNOWN_SERVERS:
        return ""
    what = KNOWN_SERVERS[name]
    return f", {article(what)} {what} server"


def article(word: str) -> str:
    """ "an" before a vowel sound: an AMQP, an SMTP, an HTTP (letters said one by one); a
    Redis, a MySQL, a memcached."""
    spelled = len(word) > 1 and word[:2].isupper()  # an initialism: F, H, L, M, N, R, S, X
    return "an" if word[:1] in "AEIOU" or (spelled and word[:1] in "FHLMNRSX") else "a"


def _holder_name(holder: str) -> str:
    return holder.split(" (pid", 1)[0].lower()


def _stuck(holder: str, address: str) -> tuple[str, str]:
    """For a silent port held by a server of the very protocol asked for: not "another
    server", but that server not answering (a long command or script, a save or a load that
    blocks it, or a stopped process), and where to look."""
    import re

    found = re.search(r"pid (\d+)", holder)
    pid = found[1] if found else "PID"
    message = (
        f"{holder}{_speaks(holder)} holds that port but does not answer: it is busy (a long "
        "command or script, a save or a load) or stopped"
    )
    fix = (
        f"see what the server at {address} is doing (its log; `ps -o stat= -p {pid}` says T "
        f"when stopped: kill -CONT {pid}); restart it if it is stuck"
    )
    return message, fix


class ServiceKind(Kind):
    """Base of the protocol kinds; subclasses set the class attributes and `KIND`."""

    category = "Services"
    protocol: ClassVar[str]
    """Display name of the protocol: "PostgreSQL", "Redis", ..."""
    schemes: ClassVar[tuple[str, ...]]
    """URL schemes this kind accepts; the first is the one its messages use."""
    probe_module: ClassVar[str]
    """Module with `async def probe(target, deadline, log) -> ProbeResult`."""
    processes: ClassVar[tuple[str, ...]] = ()
    """Process names of its servers, for "a postgres process listens on 5433"."""
    start_hints: ClassVar[tuple[tuple[str, str], ...]] = ()
    """(platform: a `sys.platform` prefix, the usual command that starts this server) pairs."""
    docker_image: ClassVar[str] = ""
    """Image for a `docker run` hint when no start command fits the platform ("postgres:16")."""
    container_port: ClassVar[int] = 0
    options: ClassVar[tuple[Option, ...]] = SERVICE_OPTIONS
    messages_hide_values = True  # URL errors never repeat the URL (endpoints.py)

    @property
    def default_port(self) -> int:
        from envdoctor.endpoints import SCHEMES

        return SCHEMES[self.schemes[0]][0]

    def validate(self, options: dict[str, Any]) -> list[tuple[str | None, str]]:
        # Values are never echoed: they may come from ${VAR} interpolation.
        url = options.get("url")
        if url is not None and (options.get("host") is not None or options.get("port")):
            return [("url", "give either 'url' or 'host'/'port', not both")]
        if url is None and options.get("host") is None and options.get("port") is None:
            return [(None, f"kind {self.name} needs option 'url' (or 'host' and 'port')")]
        if url is not None:
            try:
                self.endpoint(options)
            except ValueError as exc:
                return [("url", f"option 'url': {exc}")]
        elif options.get("host") is not None and not str(options["host"]).strip():
            return [("host", "option 'host' must not be empty")]
        return []

    def endpoint(self, options: dict[str, Any]) -> Any:
        """The `Endpoint` the options describe (ValueError for a bad URL)."""
        from envdoctor.endpoints import Endpoint, parse_url

        if options.get("url") is not None:
            return parse_url(options["url"], self.schemes)
        host = (options.get("host") or "localhost").strip()
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        port = options.get("port") or self.default_port
        from envdoctor.endpoints import SCHEMES

        return Endpoint(self.schemes[0], ((host, int(port)),), tls=SCHEMES[self.schemes[0]][1])

    def tls_context(self, endpoint: Any, options: dict[str, Any]) -> Any:
        """An SSLContext when the scheme speaks TLS from the first byte, else None."""
        if not endpoint.tls:
            return None
        from envdoctor.probes.wire import tls_context

        return tls_context(verify=options.get("verify", True) is not False)

    def login_fix(self, result: Any, endpoint: Any, host: str, port: int) -> str | None:
        """A fix for a refused login (role or database missing, ...); kinds that know one."""
        return None

    def not_ready_fix(self, result: Any, endpoint: Any, host: str, port: int) -> str | None:
        """The fix for a server that is up but not serving (starting, loading, full, ...)."""
        return "wait for it: envdoctor check --wait 60s"

    def auth_fix(self, result: Any, endpoint: Any, host: str, port: int) -> str | None:
        """The fix for rejected credentials; kinds whose servers say more override it."""
        return "check the user and password in the URL (they are never shown here)"

    # `verdict` and `transport_failure` below are hooks too: a kind may override them to add
    # its own words to the shared ones (calling super()).

    async def run(self, spec: CheckSpec, ctx: CheckContext) -> Outcome:
        try:
            endpoint = self.endpoint(spec.options)
        except ValueError as exc:
            return Outcome(Status.ERROR, f"option 'url': {exc}")
        probe = importlib.import_module(self.probe_module).probe
        budget = ctx.remaining()
        # The probe stops a little before the check's deadline, so the message, the holder
        # lookup and the fix are ours even when the event loop runs late under load.
        deadline = time.monotonic() + max(0.0, budget - max(GRACE, min(0.1, budget * 0.05)))
        tls = self.tls_context(endpoint, spec.options)
        verdicts = await asyncio.gather(
            *(
                self._probe_host(probe, endpoint, host, port, tls, deadline, spec, ctx)
                for host, port in endpoint.hosts
            )
        )
        if len(verdicts) == 1:
            only = verdicts[0]
            return Outcome(only.status, only.message, fix=only.fix)
        status = worst(v.status for v in verdicts)
        findings = [
            Finding(v.address, v.status, v.message, fix=v.fix)
            for v in verdicts
            if v.status is not Status.PASS
        ]
        ready = sum(v.status is Status.PASS for v in verdicts)
        if status is Status.PASS:
            message = f"{self.protocol} ready on all {len(verdicts)} hosts: " + "; ".join(
                v.message for v in verdicts
            )
        else:
            message = f"{ready} of {len(verdicts)} {self.protocol} hosts ready: " + "; ".join(
                f"{v.address}: {v.message}" for v in verdicts if v.status is not Status.PASS
            )
        fixes = [v.fix for v in verdicts if v.fix]
        return Outcome(status, message, findings, fix=fixes[0] if fixes else None)

    async def _probe_host(
        self,
        probe: Any,
        endpoint: Any,
        host: str,
        port: int,
        tls: Any,
        deadline: float,
        spec: CheckSpec,
        ctx: CheckContext,
    ) -> HostVerdict:
        from envdoctor.probes.connect import ProbeError
        from envdoctor.probes.result import Target

        address = endpoint.address(host, port)
        target = Target(
            host=host,
            port=port,
            user=endpoint.user,
            password=endpoint.password,
            database=endpoint.database,
            tls=tls,
            params=endpoint.params,
        )
        started = time.monotonic()

        several = len(endpoint.hosts) > 1

        def log(text: str) -> None:
            # connect's own lines already name the address; other lines need it when a URL
            # names several hosts.
            ctx.note(f"{address}: {text}" if several and not text.startswith(address) else text)

        # A probe still waiting shortly before its deadline is likely to end "no answer": who
        # holds the port (a psutil scan, on a thread) is then looked up while it waits, so the
        # message can name the process even on a busy machine. Fast runs never pay for it.
        timer = None
        if _maybe_local(host):
            timer = asyncio.get_running_loop().call_later(
                max(0.0, deadline - EARLY_LOOKUP - time.monotonic()),
                self._start_holder_lookup,
                ctx,
                port,
            )
        try:
            result = await probe(target, deadline, log)
        except ProbeError as exc:
            return await self.transport_failure(exc, endpoint, host, port, spec, ctx)
        finally:
            if timer is not None:
                timer.cancel()
        elapsed = time.monotonic() - started
        return self.verdict(result, endpoint, host, port, elapsed, ctx)

    # -- turning findings into words -------------------------------------------------------

    def verdict(
        self, result: Any, endpoint: Any, host: str, port: int, elapsed: float, ctx: CheckContext
    ) -> HostVerdict:
        from envdoctor.probes.result import State

        address = endpoint.address(host, port)
        took = format_elapsed(elapsed)
        state = result.state
        if state is State.READY:
            return HostVerdict(address, Status.PASS, f"{result.message} at {address} in {took}")
        if state is State.NEEDS_AUTH:
            return HostVerdict(
                address,
                Status.WARN,
                f"{self.protocol} is up at {address} but needs credentials the URL does not "
                f"carry: {result.message}",
                fix=f"put the credentials in the URL: {self.credential_example(endpoint, host, port)}",
            )
        if state is State.AUTH_REJECTED:
            return HostVerdict(
                address,
                Status.FAIL,
                f"{self.protocol} at {address} rejected the credentials: {result.message}",
                fix=self.auth_fix(result, endpoint, host, port),
            )
        if state is State.REFUSED_LOGIN:
            return HostVerdict(
                address,
                Status.FAIL,
                f"{self.protocol} is up at {address} but refuses this login: {result.message}",
                fix=self.login_fix(result, endpoint, host, port),
            )
        if state is State.NOT_READY:
            return HostVerdict(
                address,
                Status.FAIL,
                f"{self.protocol} at {address} is not ready: {result.message}",
                fix=self.not_ready_fix(result, endpoint, host, port),
            )
        # WRONG_PROTOCOL
        return HostVerdict(
            address,
            Status.FAIL,
            self._wrong_protocol(address, result.protocol, result.message),
            fix=self._port_fix(port, result.protocol),
        )

    def _wrong_protocol(self, address: str, protocol: str, detail: str) -> str:
        if protocol:
            text = f"{protocol} answered at {address}, not {self.protocol}"
        else:
            text = f"something answered at {address}, but not in the {self.protocol} protocol"
        return f"{text} ({detail})" if detail else text

    def plain_fix(self, endpoint: Any) -> str | None:
        """For a TLS URL whose port speaks plain text: the kind's plain scheme, if it has one."""
        plain = [s for s in self.schemes if not _tls_schemes().get(s)]
        if endpoint.tls and plain:
            return f"the port speaks plain text: use {plain[0]}:// instead of {endpoint.scheme}://"
        return None

    def _port_fix(self, port: int, protocol: str = "") -> str:
        if protocol == "TLS":
            secure = [s for s in self.schemes if _tls_schemes().get(s)]
            if secure:
                return f"the port speaks TLS: use {secure[0]}:// in the URL"
        usual = f" ({self.protocol}'s usual port is {self.default_port})"
        return f"check the port: {port} does not speak {self.protocol}" + (
            usual if port != self.default_port else ""
        )

    def credential_example(self, endpoint: Any, host: str, port: int) -> str:
        address = endpoint.address(host, port)
        path = f"/{endpoint.database}" if endpoint.database else ""
        from envdoctor.redact import PLACEHOLDER

        return f"{endpoint.scheme}://USER:{PLACEHOLDER}@{address}{path}"

    async def transport_failure(
        self, exc: Any, endpoint: Any, host: str, port: int, spec: CheckSpec, ctx: CheckContext
    ) -> HostVerdict:
        from envdoctor.probes.connect import ConnectTimeout, DnsError, NetworkError, Refused
        from envdoctor.probes.identify import describe, identify
        from envdoctor.probes.wire import Closed, NoAnswer, TlsFailure

        address = endpoint.address(host, port)
        limit = format_duration(ctx.timeout or ctx.remaining())
        if isinstance(exc, Refused):
            from envdoctor.listeners import local_hint

            ips = [a.ip for a in exc.attempts]
            hint = await local_hint(ctx, port, ips, GRACE, self.processes)
            message = f"refused at {address}" + (f"; {hint}" if hint else "")
            return HostVerdict(address, Status.FAIL, message, fix=await self._start_fix(port, ctx))
        if isinstance(exc, DnsError):
            if exc.not_found:
                return HostVerdict(
                    address,
                    Status.FAIL,
                    f"DNS name not found: {host}",
                    fix=f"check the host name {host!r} in the URL",
                )
            return HostVerdict(address, Status.FAIL, f"DNS lookup failed for {host}: {exc.reason}")
        if isinstance(exc, ConnectTimeout):
            where = "resolving" if exc.phase == "resolve" else "connecting to"
            return HostVerdict(
                address,
                Status.FAIL,
                f"timed out after {limit} {where} {address}",
                fix="check the host, the port and any firewall between here and there",
            )
        if isinstance(exc, NetworkError):
            return HostVerdict(address, Status.FAIL, f"cannot connect to {address}: {exc.strerror}")
        if isinstance(exc, TlsFailure):
            other = identify(exc.received)
            message = f"TLS failed with {address}: {exc.reason}"
            if other:
                message += f" ({other} answered in plain text)"
            plain = other or "wrong version number" in exc.reason
            if "certificate" in exc.reason or "certificate" in exc.message:
                fix = "fix the server's certificate, or set verify = false for a self-signed one"
            elif plain:
                fix = self.plain_fix(endpoint) or "check that the port speaks TLS"
            else:
                fix = "check that the port speaks TLS, or set verify = false for a self-signed "
                fix += "certificate"
            return HostVerdict(address, Status.FAIL, message, fix=fix)
        if isinstance(exc, NoAnswer):
            other = identify(exc.received)
            if other and other != self.protocol:
                return HostVerdict(
                    address,
                    Status.FAIL,
                    self._wrong_protocol(address, other, f"it sent {describe(exc.received)}"),
                    fix=self._port_fix(port, other),
                )
            if exc.phase == "tls" and not exc.received:
                return HostVerdict(
                    address,
                    Status.FAIL,
                    f"connected to {address}, but no answer to the TLS handshake within {limit}: "
                    "the port may speak plain text (a plain-text server waits for a request)",
                    fix=self.plain_fix(endpoint) or self._port_fix(port),
                )
            during = "the TLS handshake" if exc.phase == "tls" else f"the {self.protocol} reply"
            got = f" (got only {describe(exc.received)})" if exc.received else ""
            holder = await self._holder(ctx, port, [a.ip for a in exc.attempts] or [host])
            if holder and _holder_name(holder) in KNOWN_SERVERS and self._serves(holder):
                why, fix = _stuck(holder, address)
                return HostVerdict(
                    address,
                    Status.FAIL,
                    f"connected to {address}, but no answer within {limit} waiting for "
                    f"{during}{got}: {why}",
                    fix=fix,
                    holder=holder,
                )
            why = (
                f"{holder}{_speaks(holder)} holds that port: another server, waiting for the "
                "client to speak"
                if holder
                else "a black hole, or a server of another protocol waiting for the client to speak"
            )
            return HostVerdict(
                address,
                Status.FAIL,
                f"connected to {address}, but no answer within {limit} waiting for {during}{got}: "
                + why,
                fix=self._port_fix(port),
                holder=holder or "",
            )
        if isinstance(exc, Closed):
            other = identify(exc.received)
            if other and other != self.protocol:
                detail = f"it sent {describe(exc.received)} and closed"
                return HostVerdict(
                    address,
                    Status.FAIL,
                    self._wrong_protocol(address, other, detail),
                    fix=self._port_fix(port, other),
                )
            holder = await self._holder(ctx, port, [a.ip for a in exc.attempts] or [host])
            said = f"it sent {describe(exc.received)}" if exc.received else ""
            held = f"{holder}{_speaks(holder)} holds that port" if holder else ""
            detail = "; ".join(x for x in (said, held) if x)
            return HostVerdict(
                address,
                Status.FAIL,
                f"{address} closed the connection without {article(self.protocol)} {self.protocol} answer"
                + (f" ({detail})" if detail else ""),
                fix=self._port_fix(port),
                holder=holder or "",
            )
        return HostVerdict(address, Status.FAIL, f"{address}: {exc.message}")

    def _serves(self, holder: str) -> bool:
        """Whether the holder's process is one of this kind's own servers."""
        return _holder_name(holder).startswith(self.processes) if self.processes else False

    def _start_holder_lookup(self, ctx: CheckContext, port: int) -> None:
        from envdoctor.listeners import local_hint

        lookups = ctx.__dict__.setdefault("_holder_lookups", {})
        if port not in lookups:
            task = asyncio.ensure_future(local_hint(ctx, port, ["127.0.0.1"], -HOLDER_MARGIN))
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
            lookups[port] = task

    async def _holder(self, ctx: CheckContext, port: int, ips: list[str]) -> str | None:
        """For a silent port of this machine: the process listening there ("redis-server
        (pid 12)"), which names the protocol that waits for us to speak first."""
        from envdoctor.listeners import local_hint

        # The probe used the whole deadline; the runner's hard stop comes 0.1 s after it
        # (runner.GRACE), and a listener scan takes milliseconds: look within that margin,
        # or take the lookup started while the probe was still waiting.
        early = ctx.__dict__.get("_holder_lookups", {}).get(port)
        try:
            if early is not None:
                hint = await asyncio.wait_for(
                    asyncio.shield(early), max(0.001, ctx.remaining() + HOLDER_MARGIN)
                )
            else:
                hint = await local_hint(ctx, port, ips, -HOLDER_MARGIN)
        except asyncio.TimeoutError:
            return None
        prefix = f"listening on port {port}: "
        if not hint or not hint.startswith(prefix):
            return None
        return hint[len(prefix) :].split(" on ", 1)[0]

    async def _start_fix(self, port: int, ctx: CheckContext) -> str | None:
        """`docker compose up -d <service>` when the project's compose file publishes the port,
        else the platform's usual way to start this server."""
        found = await compose_fix(ctx, port)
        if found is not None:
            return found
        for platform, command in self.start_hints:
            if sys.platform.startswith(platform):
                return command
        if self.docker_image:
            inner = self.container_port or self.default_port
            return f"docker run -d -p {port}:{inner} {self.docker_image}"
        return None


async def compose_fix(ctx: CheckContext, port: int) -> str | None:
    """`docker compose up -d <service>` when the project's compose file publishes `port` (for
    every kind whose refused port a compose service could fix: tcp too). The file is read on a
    thread within the check's deadline: a big one takes a while to parse."""
    try:
        from envdoctor.compose import find_publisher

        found = await asyncio.wait_for(
            ctx.run_sync(find_publisher, ctx.project, port),
            max(0.001, ctx.remaining() - GRACE),
        )
    except asyncio.TimeoutError:
        ctx.note("the compose file was not read before the deadline")
        return None
    except Exception as exc:  # a hint must never turn a clear "refused" into an error
        ctx.note(f"could not read the compose file: {type(exc).__name__}: {exc}")
        return None
    return found.up_command() if found is not None else None


def _maybe_local(host: str) -> bool:
    """Whether `host` names this machine without a lookup (a psutil scan can explain it)."""
    import ipaddress

    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(
        ".localhost"
    ):
        return True
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified
