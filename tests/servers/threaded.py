"""A scripted TCP server for the tests: each accepted connection runs a plain blocking function
on its own daemon thread of the test process.

For peers whose script is easiest to write as straight-line socket code (a TLS echo, a server
that answers with what it got, an HTTP server that drips its reply). Peers that only misbehave
in one of the usual ways are in hostile.py, on one asyncio loop.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

Handle = Callable[[socket.socket, threading.Event], None]
"""`handle(conn, stop)`: talks to one client; `stop` is set when the server closes."""


@dataclass
class RawServer:
    port: int
    connections: int = 0

    def url(self, path: str = "/", scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"


@contextlib.contextmanager
def serve(handle: Handle) -> Iterator[RawServer]:
    """Accepts on a free port of 127.0.0.1; each connection is handled by `handle(conn, stop)` on
    its own daemon thread, and closed when it returns (an OSError there only ends that
    connection). Leaving the block stops the accept loop, sets `stop` and closes every
    connection."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    listener.settimeout(0.05)
    state = RawServer(listener.getsockname()[1])
    stop = threading.Event()
    open_conns: list[socket.socket] = []

    def accept_loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            state.connections += 1
            open_conns.append(conn)
            threading.Thread(target=_guarded, args=(handle, conn, stop), daemon=True).start()

    thread = threading.Thread(target=accept_loop, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        stop.set()
        thread.join(5)
        listener.close()
        for conn in open_conns:
            with contextlib.suppress(OSError):
                conn.close()


def _guarded(handle: Handle, conn: socket.socket, stop: threading.Event) -> None:
    with contextlib.suppress(OSError), conn:
        handle(conn, stop)
