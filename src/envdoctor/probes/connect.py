"""Opening a TCP connection under one total deadline, and saying exactly why it failed.

Every service probe starts here. The fix a user needs depends on *why* a connection failed: a
refused port wants the service started, a timeout while connecting wants a firewall, a host or a
full backlog looked at, a DNS failure wants a typo fixed. So failures are a small hierarchy of
`ProbeError`s, each carrying the `phase` it happened in; protocol probes built on top add their
own phases ("read", "handshake", ...) to the same hierarchy.

The name is resolved on a daemon thread, not with `loop.getaddrinfo`: that runs on asyncio's
default executor, which `asyncio.run` joins at exit, so one hung resolver would keep envdoctor
running long past every deadline. Addresses are then tried the "happy eyeballs" way (RFC 8305):
IPv6 and IPv4 interleaved, the next attempt started when the previous one fails or has not
answered within `STAGGER`, all inside the one total deadline, first success wins.

Pure standard library: no psutil, no drivers, nothing about reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno as errno_codes
import ipaddress
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

STAGGER = 0.25
"""Seconds to wait for one address before also trying the next (RFC 8305's 250 ms)."""

_NOT_FOUND = {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)}

Log = Callable[[str], None]


def format_address(host: str, port: int) -> str:
    """`127.0.0.1:5432`, `[::1]:5432`, `db.example:5432`: an address as users write it."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass(frozen=True)
class Attempt:
    """One address tried: what came back and how long it took (evidence for `explain`)."""

    address: str
    outcome: str
    elapsed: float
    ip: str = ""


class ProbeError(Exception):
    """A probe could not get its answer; `phase` says where ("resolve", "connect", ...)."""

    phase = "connect"

    def __init__(
        self,
        message: str,
        *,
        host: str,
        port: int,
        elapsed: float = 0.0,
        attempts: tuple[Attempt, ...] = (),
        phase: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.host = host
        self.port = port
        self.elapsed = elapsed
        self.attempts = attempts
        if phase is not None:
            self.phase = phase

    @property
    def target(self) -> str:
        return format_address(self.host, self.port)

    @property
    def addresses(self) -> list[str]:
        """The addresses tried, in order."""
        return [a.address for a in self.attempts]


class DnsError(ProbeError):
    """The name did not resolve: `not_found` for NXDOMAIN-style answers, else a lookup failure."""

    phase = "resolve"

    def __init__(self, message: str, *, reason: str, not_found: bool, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.reason = reason
        self.not_found = not_found


class Refused(ProbeError):
    """The host answered with a reset: reachable, but nothing accepts on that port."""


class ConnectTimeout(ProbeError):
    """The deadline struck before a connection existed (phase "resolve" or "connect")."""


class NetworkError(ProbeError):
    """Any other OS error while connecting: unreachable network or host, no IPv6, ..."""

    def __init__(self, message: str, *, errno: int | None, strerror: str, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.errno = errno
        self.strerror = strerror


class Connection(NamedTuple):
    """An open connection; `elapsed` is the TCP handshake time of the address that answered."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    peer: str
    elapsed: float


class Socket(NamedTuple):
    """A connected non-blocking socket, for probes that drive the bytes themselves (`wire`)."""

    sock: socket.socket
    peer: str
    elapsed: float


async def connect(host: str, port: int, timeout: float, *, log: Log | None = None) -> Connection:
    """Connects to host:port within `timeout` seconds in total (resolution included).

    Raises DnsError, Refused, ConnectTimeout or NetworkError; `log` receives one line per step.
    """
    sock, peer, elapsed = await connect_socket(host, port, timeout, log=log)
    try:
        reader, writer = await asyncio.open_connection(sock=sock)
    except BaseException:
        sock.close()
        raise
    return Connection(reader, writer, peer, elapsed)


async def connect_socket(host: str, port: int, timeout: float, *, log: Log | None = None) -> Socket:
    """`connect`, but the caller gets the bare non-blocking socket (same errors, same deadline)."""
    note = log or (lambda _text: None)
    started = time.monotonic()
    deadline = started + max(0.0, timeout)
    host = host.strip()
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    infos = await _resolve(bare, port, deadline, started, note)
    addresses = _interleave(infos)
    if not is_ip_literal(bare):
        note(f"{bare} resolved to {', '.join(a[1][0] for a in addresses)}")
    return await _race(bare, port, addresses, deadline, started, note)


def is_ip_literal(host: str) -> bool:
    """An IP address written out (a zone id allowed): no resolver needed, nothing to explain."""
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


async def _resolve(
    host: str, port: int, deadline: float, started: float, note: Log
) -> list[tuple[int, Any]]:
    """(family, sockaddr) pairs for host; literal addresses never touch the resolver."""
    kw: dict[str, Any] = {"host": host, "port": port}

    def fail(exc: BaseException) -> DnsError:
        elapsed = time.monotonic() - started
        if isinstance(exc, socket.gaierror):
            code = exc.args[0] if exc.args else None
            reason = exc.strerror or str(exc)
            found = code in _NOT_FOUND
            message = f"DNS lookup of {host} failed: {reason}"
            return DnsError(message, reason=reason, not_found=found, elapsed=elapsed, **kw)
        reason = (
            "not a valid host name"
            if isinstance(exc, UnicodeError)
            else str(exc) or type(exc).__name__
        )
        message = f"cannot resolve {host}: {reason}"
        return DnsError(message, reason=reason, not_found=False, elapsed=elapsed, **kw)

    if not host:
        raise DnsError("no host name given", reason="empty host name", not_found=True, **kw)
    flags = socket.AI_NUMERICHOST if is_ip_literal(host) else 0
    try:
        if flags:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=flags)
        else:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise asyncio.TimeoutError
            infos = await asyncio.wait_for(_getaddrinfo_on_thread(host, port), remaining)
    except asyncio.TimeoutError:
        elapsed = time.monotonic() - started
        note(f"resolving {host}: no answer within {elapsed * 1000:.0f} ms")
        message = f"timed out resolving {host}"
        raise ConnectTimeout(message, phase="resolve", elapsed=elapsed, **kw) from None
    except (OSError, UnicodeError, ValueError) as exc:
        error = fail(exc)
        note(f"resolving {host}: {error.reason}")
        raise error from None
    families = (socket.AF_INET, socket.AF_INET6)
    pairs = [(info[0], info[4]) for info in infos if info[0] in families]
    if not pairs:
        message = f"{host} has no IPv4 or IPv6 address"
        raise DnsError(message, reason="no address", not_found=True, **kw)
    return pairs


async def _getaddrinfo_on_thread(host: str, port: int) -> list[Any]:
    """socket.getaddrinfo on a daemon thread: a stuck resolver costs the deadline, not the exit."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[list[Any]] = loop.create_future()

    def deliver(value: Any, exc: BaseException | None) -> None:
        if future.done():
            return
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(value)

    def work() -> None:
        try:
            value, exc = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM), None
        except BaseException as caught:  # delivered to the awaiting probe
            value, exc = None, caught
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits any more
            loop.call_soon_threadsafe(deliver, value, exc)

    threading.Thread(target=work, name="envdoctor-resolve", daemon=True).start()
    return await future


def _interleave(infos: list[tuple[int, Any]]) -> list[tuple[int, Any]]:
    """Unique addresses, families alternating, first family first (RFC 8305 section 4)."""
    seen: set[Any] = set()
    by_family: dict[int, list[tuple[int, Any]]] = {}
    for family, sockaddr in infos:
        if sockaddr not in seen:
            seen.add(sockaddr)
            by_family.setdefault(family, []).append((family, sockaddr))
    queues = list(by_family.values())
    out: list[tuple[int, Any]] = []
    while any(queues):
        for queue in queues:
            if queue:
                out.append(queue.pop(0))
    return out


async def _attempt(family: int, sockaddr: Any) -> tuple[socket.socket, float]:
    """One TCP handshake; the socket is closed on any failure or cancellation."""
    started = time.monotonic()
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, sockaddr)
    except BaseException:
        sock.close()
        raise
    return sock, time.monotonic() - started


async def _race(
    host: str,
    port: int,
    addresses: list[tuple[int, Any]],
    deadline: float,
    started: float,
    note: Log,
) -> Socket:
    """Staggered attempts under one deadline; the first handshake that completes wins."""
    attempts: list[Attempt] = []
    failures: list[tuple[str, OSError]] = []
    pending: dict[asyncio.Task[tuple[socket.socket, float]], tuple[str, float]] = {}
    queue = list(addresses)
    winner: tuple[socket.socket, float, str] | None = None
    try:
        while winner is None:
            now = time.monotonic()
            if queue and now < deadline:
                family, sockaddr = queue.pop(0)
                label = format_address(sockaddr[0], port)
                pending[asyncio.ensure_future(_attempt(family, sockaddr))] = (label, now)
            if not pending:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            wait = min(STAGGER, remaining) if queue else remaining
            done, _ = await asyncio.wait(
                list(pending), timeout=wait, return_when=asyncio.FIRST_COMPLETED
            )
            for task in done:
                label, began = pending.pop(task)
                exc = task.exception()
                if exc is None:
                    sock, elapsed = task.result()
                    if winner is None:
                        winner = (sock, elapsed, label)
                        attempts.append(Attempt(label, "connected", elapsed, _ip(label)))
                        note(f"{label}: connected in {elapsed * 1000:.1f} ms")
                    else:
                        sock.close()
                    continue
                elapsed = time.monotonic() - began
                error = exc if isinstance(exc, OSError) else OSError(None, str(exc))
                failures.append((label, error))
                refused = isinstance(error, ConnectionRefusedError)
                outcome = "refused" if refused else _strerror(error)
                attempts.append(Attempt(label, outcome, elapsed, _ip(label)))
                note(f"{label}: {outcome} after {elapsed * 1000:.1f} ms")
    finally:
        why = "no answer before the deadline" if winner is None else "abandoned: another answered"
        for task, (label, began) in pending.items():
            task.cancel()
            waited = time.monotonic() - began
            attempts.append(Attempt(label, why, waited, _ip(label)))
            note(f"{label}: {why} ({waited * 1000:.0f} ms)")
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
    elapsed_total = time.monotonic() - started
    kw: dict[str, Any] = {
        "host": host,
        "port": port,
        "elapsed": elapsed_total,
        "attempts": tuple(attempts),
    }
    if winner is not None:
        sock, elapsed, label = winner
        return Socket(sock, label, elapsed)
    timed_out = bool(pending) or not failures or any(_is_timeout(e) for _l, e in failures)
    if timed_out:
        raise ConnectTimeout(f"timed out connecting to {format_address(host, port)}", **kw)
    refused = [label for label, e in failures if isinstance(e, ConnectionRefusedError)]
    if refused:
        raise Refused(f"connection refused by {', '.join(refused)}", **kw)
    label, error = failures[0]
    text = _strerror(error)
    message = f"cannot connect to {label}: {text}"
    raise NetworkError(message, errno=error.errno, strerror=text, **kw)


def _ip(label: str) -> str:
    """The bare address of a `format_address` label."""
    host = label.rpartition(":")[0]
    return host[1:-1] if host.startswith("[") else host


def _is_timeout(error: OSError) -> bool:
    return isinstance(error, TimeoutError) or error.errno == errno_codes.ETIMEDOUT


def _strerror(error: OSError) -> str:
    if error.strerror:
        return str(error.strerror)
    if error.errno:
        return os.strerror(error.errno)
    return str(error) or type(error).__name__
