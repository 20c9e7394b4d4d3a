"""Who listens on a TCP port of this machine, via psutil: for `port_free` (who holds it) and
`tcp` (why a local port refused: nothing listens, or something listens on another address).

Blocking and psutil-backed: callers run it on a thread (`ctx.run_sync`) and only when the
answer is needed, so psutil is never imported on the hot path.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from envdoctor.context import CheckContext


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
        f"{owner(pid, name)} on {' and '.join(addresses)}"
        for (pid, name), addresses in by_owner.items()
    )


def owner(pid: int | None, name: str | None) -> str:
    if pid is None:
        return "a process of another user (pid not visible)"
    return f"{name or 'a process'} (pid {pid})"


def listeners_named(names: tuple[str, ...]) -> list[Listener]:
    """Every TCP listener whose process name starts with one of `names` ("postgres", "redis")."""
    found = set()
    for ip, port, pid in _listening_sockets():
        name = _process_name(pid)
        if name and name.lower().startswith(names):
            found.add(Listener(ip, port, pid, name))
    return sorted(found, key=lambda x: (x.port, x.pid or 0, x.ip))


def refused_hint(port: int, ips: list[str], processes: tuple[str, ...] = ()) -> str | None:
    """Why a port of this machine refused, in one clause: nothing listens on it (and, when
    `processes` names the server's programs, where such a process does listen), or what
    listens on it on another address. None when the refused address is not this machine's.
    Blocking; raises PermissionError when the OS will not list sockets."""
    import ipaddress

    import psutil

    local = {"0.0.0.0", "::"}
    for addresses in psutil.net_if_addrs().values():
        local.update(a.address.split("%", 1)[0] for a in addresses)
    tried = [ip.split("%", 1)[0] for ip in ips]

    def loopback(ip: str) -> bool:
        try:
            return ipaddress.ip_address(ip).is_loopback
        except ValueError:
            return False

    if not any(ip in local or loopback(ip) for ip in tried):
        return None
    try:
        listeners = find_listeners(port)
        elsewhere = [x for x in listeners_named(processes) if x.port != port] if processes else []
    except psutil.AccessDenied as exc:
        raise PermissionError(str(exc) or "access denied") from None
    if listeners:
        return f"listening on port {port}: {describe(listeners)}"
    hint = f"nothing listens on port {port}"
    if elsewhere:
        owners = list(dict.fromkeys(x.pid for x in elsewhere))
        shown = [x for x in elsewhere if x.pid in owners[:SHOWN_OWNERS]]
        more = len(owners) - SHOWN_OWNERS
        hint += f"; {describe(shown)}" + (f" (and {more} more)" if more > 0 else "")
    return hint


SHOWN_OWNERS = 2  # "a postgres process listens on 5433": a hint, not an inventory


async def local_hint(
    ctx: CheckContext, port: int, ips: list[str], grace: float, processes: tuple[str, ...] = ()
) -> str | None:
    """`refused_hint` on a thread, within the check's deadline less `grace`; None when psutil
    cannot tell (noted as evidence: a hint must never turn a clear "refused" into an error)."""
    try:
        return await asyncio.wait_for(
            ctx.run_sync(refused_hint, port, ips, processes),
            max(0.001, ctx.remaining() - grace),
        )
    except asyncio.TimeoutError:
        ctx.note("psutil did not answer before the deadline")
    except PermissionError as exc:
        ctx.note(f"psutil may not list sockets here: {exc}")
    except Exception as exc:
        ctx.note(f"psutil could not list sockets: {type(exc).__name__}: {exc}")
    return None
