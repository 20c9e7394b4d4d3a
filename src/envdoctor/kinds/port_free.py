"""`port_free`: nothing listens on a TCP port the project's tests want to bind.

"Address already in use" halfway through a test session says nothing about *who* holds the
port; this check names the process (name, pid, address) and says how to stop it. psutil is the
source; when it may not list sockets (AccessDenied, e.g. macOS without root) a real bind()
tells at least whether the port is taken.

The listener scan itself lives in `envdoctor.listeners` (shared with `tcp`).
"""

from __future__ import annotations

import ipaddress
import os
import shlex
import sys

from envdoctor.context import CheckContext
from envdoctor.kinds.base import Kind
from envdoctor.listeners import Listener, describe, find_listeners, owner
from envdoctor.model import CheckSpec, Finding, Outcome, Status
from envdoctor.options import Int, Option, Str


class PortFreeKind(Kind):
    name = "port_free"
    category = "System"
    summary = "A TCP port nothing listens on yet (the tests will bind it)."
    passes_when = "nothing listens on the port (else: which process holds it)"
    options = (
        Option("port", Int(1, 65535), "TCP port that must be free.", required=True),
        Option(
            "host",
            Str(),
            'Only listeners that block binding this address count, e.g. "127.0.0.1" '
            "(default: any address).",
        ),
    )

    async def run(self, spec: CheckSpec, ctx: CheckContext) -> Outcome:
        port: int = spec.options["port"]
        host: str | None = spec.options.get("host")
        where = f"port {port}" + (f" on {host}" if host else "")
        # Fast path without psutil (~15 ms to import): if test binds succeed, nothing listens.
        # Only a failed bind needs psutil, to name the process that holds the port.
        if await ctx.run_sync(_binds_succeed, host, port):
            ctx.note(f"test binds to {host or '0.0.0.0 and [::]'} port {port} succeeded")
            return Outcome(Status.PASS, f"nothing listens on {where}")
        try:
            listeners = await ctx.run_sync(_listeners_blocking, port, host)
        except PermissionError:
            ctx.note("psutil may not list sockets here (access denied); trying to bind instead")
            return await self._by_binding(port, host, where, ctx)
        if not listeners:
            ctx.note(f"no TCP listener on {where}")
            return Outcome(Status.PASS, f"nothing listens on {where}")
        for listener in listeners:
            ctx.note(f"listening: {listener.address} pid {listener.pid} ({listener.name})")
        findings = [
            Finding(
                subject=listener.name or (str(listener.pid) if listener.pid else "unknown"),
                status=Status.FAIL,
                message=f"{owner(listener.pid, listener.name)} listens on {listener.address}",
                found=listener.address,
                expected=f"nothing on {where}",
                fix=_fix([listener], port),
            )
            for listener in listeners
        ]
        return Outcome(
            Status.FAIL,
            f"{where} is in use: {describe(listeners)}",
            findings,
            fix=_fix(listeners, port),
        )

    async def _by_binding(
        self, port: int, host: str | None, where: str, ctx: CheckContext
    ) -> Outcome:
        in_use = await ctx.run_sync(_bind_fails, host or "", port)
        if in_use is None:
            return Outcome(Status.PASS, f"nothing listens on {where} (a test bind succeeded)")
        ctx.note(f"bind to {host or 'any address'}:{port} failed: {in_use}")
        return Outcome(
            Status.FAIL,
            f"{where} is in use ({in_use}); psutil may not see which process holds it",
            fix=_finder_command(port),
        )


def _listeners_blocking(port: int, host: str | None) -> list[Listener]:
    """Listeners that would stop a bind to host:port; AccessDenied becomes PermissionError."""
    import psutil

    try:
        listeners = find_listeners(port)
    except psutil.AccessDenied as exc:
        raise PermissionError(str(exc)) from None
    if not host or host in ("0.0.0.0", "::", "*"):
        return listeners
    wanted = _addresses_of(host)
    return [
        listener
        for listener in listeners
        if listener.wildcard or not wanted or _normal(listener.ip) in wanted
    ]


def _addresses_of(host: str) -> set[str]:
    """The addresses a host name stands for (empty when it does not resolve: count all)."""
    import socket

    try:
        infos = socket.getaddrinfo(host.strip("[]"), None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return set()
    return {_normal(info[4][0]) for info in infos}


def _normal(ip: str) -> str:
    """`::ffff:127.0.0.1` and `127.0.0.1` are one address for this purpose."""
    try:
        parsed = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return ip
    mapped = getattr(parsed, "ipv4_mapped", None)
    return str(mapped or parsed)


def _binds_succeed(host: str | None, port: int) -> bool:
    """True when a server could bind the port: on `host`, or on every IPv4 and IPv6 address."""
    import errno

    if host:
        return _bind_fails(host, port) is None
    if _bind_fails("0.0.0.0", port) is not None:
        return False
    reason = _bind_fails("::", port)
    no_ipv6 = {errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL}
    return reason is None or reason in {os.strerror(code) for code in no_ipv6}


def _bind_fails(host: str, port: int) -> str | None:
    """None when a listening socket could bind host:port, else the OS's reason."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.socket(family, socket.SOCK_STREAM)
    except OSError as exc:  # no IPv6 on this machine
        return exc.strerror or str(exc)
    with sock:
        if family == socket.AF_INET6 and hasattr(socket, "IPV6_V6ONLY"):
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        # SO_REUSEADDR: connections lingering in TIME_WAIT do not hold a port for a server.
        if sys.platform != "win32":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host.strip("[]"), port))
            sock.listen(1)
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def _fix(listeners: list[Listener], port: int) -> str:
    """`kill <pid>`; for docker-proxy, the container that publishes the port."""
    names = {listener.name for listener in listeners}
    if names & {"docker-proxy", "com.docker.backend", "rootlessport"}:
        return f"docker stop $(docker ps -q --filter publish={port})"
    pids = sorted({listener.pid for listener in listeners if listener.pid})
    if not pids or len(pids) < len({listener.pid for listener in listeners}):
        return _finder_command(port)
    return "kill " + " ".join(str(pid) for pid in pids)


def _finder_command(port: int) -> str:
    spec = shlex.quote(f"-iTCP:{port}")
    return f"sudo lsof -nP {spec} -sTCP:LISTEN"


KIND = PortFreeKind()
