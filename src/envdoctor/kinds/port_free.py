"""`port_free`: nothing listens on a TCP port the project's tests want to bind.

"Address already in use" halfway through a test session says nothing about *who* holds the
port; this check names the process (name, pid, address) and says how to stop it. psutil is the
source; when it may not list sockets (AccessDenied, e.g. macOS without root) a real bind()
tells at least whether the port is taken.

`find_listeners` and `describe` are shared with `tcp`, which uses them to explain a refused
local port.
"""

from __future__ import annotations

import ipaddress
import os
import shlex
import sys
import threading
import time
from dataclasses import dataclass

from envdoctor.context import CheckContext
from envdoctor.kinds.base import Kind
from envdoctor.model import CheckSpec, Finding, Outcome, Status
from envdoctor.options import Int, Option, Str


@dataclass(frozen=True)
class Listener:
    """One listening TCP socket; `pid`/`name` are None when the OS will not say."""

    ip: str
    port: int
    pid: int | None
    name: str | None

    @property
    def address(self) -> str:
        return f"[{self.ip}]:{self.port}" if ":" in self.ip else f"{self.ip}:{self.port}"

    @property
    def wildcard(self) -> bool:
        return self.ip in ("0.0.0.0", "::", "")


def find_listeners(port: int) -> list[Listener]:
    """Every TCP listener on `port`, any address. Blocking; raises psutil.AccessDenied."""
    found = {
        Listener(ip, port, pid, _process_name(pid))
        for ip, listen_port, pid in _listening_sockets()
        if listen_port == port
    }
    return sorted(found, key=lambda x: (x.pid or 0, x.ip))


_SCAN_LOCK = threading.Lock()
_SCAN: tuple[float, list[tuple[str, int, int | None]]] | None = None
_SCAN_TTL = 0.5


def _listening_sockets() -> list[tuple[str, int, int | None]]:
    """(ip, port, pid) of every TCP listener. One scan serves every check for a moment: a
    system-wide socket scan costs milliseconds, and a run may explain many refused ports."""
    global _SCAN
    import psutil

    with _SCAN_LOCK:
        if _SCAN is not None and time.monotonic() - _SCAN[0] < _SCAN_TTL:
            return _SCAN[1]
        sockets = [
            (conn.laddr.ip, conn.laddr.port, conn.pid)
            for conn in psutil.net_connections(kind="tcp")
            if conn.status == psutil.CONN_LISTEN and conn.laddr
        ]
        _SCAN = (time.monotonic(), sockets)
        return sockets


def _process_name(pid: int | None) -> str | None:
    if not pid:
        return None
    import psutil

    try:
        return str(psutil.Process(pid).name())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def describe(listeners: list[Listener]) -> str:
    """`postgres (pid 12) on 0.0.0.0:5432 and [::]:5432`, one clause per process."""
    by_owner: dict[tuple[int | None, str | None], list[str]] = {}
    for listener in listeners:
        by_owner.setdefault((listener.pid, listener.name), []).append(listener.address)
    return ", ".join(
        f"{_owner(pid, name)} on {' and '.join(addresses)}"
        for (pid, name), addresses in by_owner.items()
    )


def _owner(pid: int | None, name: str | None) -> str:
    if pid is None:
        return "a process of another user (pid not visible)"
    return f"{name or 'a process'} (pid {pid})"


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
                message=f"{_owner(listener.pid, listener.name)} listens on {listener.address}",
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
