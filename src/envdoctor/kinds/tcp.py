"""`tcp`: a TCP endpoint accepts connections, and if not, why not.

The cheapest service check, and the one every protocol check starts with, so the reasons it
tells apart matter: refused (start the service), timed out while connecting (a firewall, a
wrong host, a full backlog), DNS name not found (a typo), any other network error (the OS's own
words). For a refused port on this machine, psutil adds what is listening, if anything: often
the service is up, but on another address.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from envdoctor.context import CheckContext
from envdoctor.kinds.base import Kind
from envdoctor.model import CheckSpec, Outcome, Status
from envdoctor.options import Int, Option, Str
from envdoctor.units import format_duration, format_elapsed

DEFAULT_HOST = "localhost"

# The probe stops this much before the check's deadline (the runner's hard stop comes a little
# after it), so the precise reason ("timed out ... connecting") is always ours, never the
# runner's generic "timed out", even when the loop is busy with many checks.
GRACE = 0.02


def parse_address(text: str) -> tuple[str, int]:
    """`host:port` or `[v6]:port` -> (host, port); ValueError with a reason otherwise."""
    text = text.strip()
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise ValueError('an IPv6 address needs the form "[::1]:5432"')
        port_text = rest[1:]
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep:
            raise ValueError('expected "host:port", e.g. "localhost:5432"')
        if ":" in host:
            raise ValueError('an IPv6 address needs brackets, e.g. "[::1]:5432"')
    if not host:
        raise ValueError('the host is missing: expected "host:port", e.g. "localhost:5432"')
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError("the port must be a number from 1 to 65535")
    return host, int(port_text)


def endpoint(options: dict[str, Any]) -> tuple[str, int]:
    """(host, port) from `address`, or from `host` and `port` (host defaulting to localhost)."""
    if options.get("address"):
        return parse_address(options["address"])
    if options.get("port") is None:
        raise ValueError("needs option 'port' (or 'address')")
    return options.get("host") or DEFAULT_HOST, int(options["port"])


class TcpKind(Kind):
    name = "tcp"
    category = "Services"
    summary = "A TCP endpoint accepts connections."
    passes_when = "a TCP connection succeeds within the timeout"
    options = (
        Option("host", Str(), "Host name or IP address (default: localhost)."),
        Option("port", Int(1, 65535), "TCP port (required unless `address` is given)."),
        Option(
            "address",
            Str(),
            'Host and port in one string, e.g. "localhost:5432" or "[::1]:5432" '
            "(instead of `host` and `port`).",
        ),
    )

    def validate(self, options: dict[str, Any]) -> list[tuple[str | None, str]]:
        # Values are never echoed: they may come from ${VAR} interpolation.
        has_address = options.get("address") is not None
        if has_address and (options.get("host") is not None or options.get("port") is not None):
            return [("address", "give either 'address' or 'host' and 'port', not both")]
        if has_address:
            try:
                parse_address(options["address"])
            except ValueError as exc:
                return [("address", f"option 'address': {exc}")]
            return []
        if options.get("port") is None:
            where = "host" if options.get("host") is not None else None
            return [(where, "kind tcp needs option 'port' (or 'address')")]
        if options.get("host") is not None and not options["host"].strip():
            return [("host", "option 'host' must not be empty")]
        return []

    async def run(self, spec: CheckSpec, ctx: CheckContext) -> Outcome:
        from envdoctor.listeners import local_hint
        from envdoctor.probes.connect import (
            ConnectTimeout,
            DnsError,
            NetworkError,
            Refused,
            connect,
            format_address,
            is_ip_literal,
        )

        try:
            host, port = endpoint(spec.options)
        except ValueError as exc:
            return Outcome(Status.ERROR, f"option 'address': {exc}")
        host = host.strip()
        bare = host[1:-1] if host.startswith("[") else host
        target = format_address(bare, port)
        budget = ctx.remaining()
        # Name the deadline as configured ("1.0 s"), not what was left of it once this kind
        # was loaded ("990 ms").
        limit = format_duration(ctx.timeout or budget)
        try:
            conn = await connect(bare, port, budget - min(GRACE, budget / 10), log=ctx.note)
        except Refused as exc:
            ips = [a.ip for a in exc.attempts]
            where = target if ips == [bare] else f"{target} ({', '.join(ips)})"
            hint = await local_hint(ctx, port, ips, GRACE)
            from envdoctor.kinds.service import compose_fix

            return Outcome(
                Status.FAIL,
                f"refused at {where}" + (f"; {hint}" if hint else ""),
                fix=await compose_fix(ctx, port),
            )
        except ConnectTimeout as exc:
            if exc.phase == "resolve":
                message = f"timed out after {limit} resolving {bare}"
            else:
                tried = [a.ip for a in exc.attempts]
                shown = "" if tried in ([bare], []) else f" ({', '.join(tried)})"
                message = f"timed out after {limit} connecting to {target}{shown}"
            return Outcome(Status.FAIL, message)
        except DnsError as exc:
            if exc.not_found:
                return Outcome(Status.FAIL, f"DNS name not found: {bare}")
            return Outcome(Status.FAIL, f"DNS lookup failed for {bare}: {exc.reason}")
        except NetworkError as exc:
            return Outcome(Status.FAIL, f"cannot connect to {target}: {exc.strerror}")
        conn.writer.close()
        with contextlib.suppress(OSError, asyncio.TimeoutError):
            await asyncio.wait_for(conn.writer.wait_closed(), min(0.1, _left(ctx)))
        shown = conn.peer if is_ip_literal(bare) else f"{target} ({conn.peer})"
        return Outcome(Status.PASS, f"connected to {shown} in {format_elapsed(conn.elapsed)}")


def _left(ctx: CheckContext) -> float:
    """Time left for a step, stopping GRACE short of the runner's own deadline."""
    return max(0.001, ctx.remaining() - GRACE)


KIND = TcpKind()
