"""Budgets of the services issue (issue 4), measured on real processes, medians of N rounds.

- 50 black holes (accept, never answer) probed as `redis` checks with a 1 s timeout: the
  whole `envdoctor check` run (start-up included), budget <= 1.2 s.
- `--wait` detection latency: `envdoctor check --wait 30s` on a `redis` check whose server is
  not there yet; a Redis-speaking listener appears at a random moment; the time from the
  listener's first `listen()` to envdoctor's exit (budget: seen within 0.3 s).
- Side by side, one endpoint each, alternating rounds:
  * a real PostgreSQL (started here on a free port, trust auth): `envdoctor check` with one
    `postgres` check vs `pg_isready -h 127.0.0.1 -p P` (libpq's PQping);
  * a black hole with a 1 s deadline: `envdoctor check` (tcp and postgres kinds) vs
    `pg_isready -t 1` and `wait-for-it -t 1` (Debian's package; installed if missing);
  * an open port: `envdoctor check` (tcp kind) vs `wait-for-it -t 1`.

envdoctor runs from a fresh `pip install .` venv (benchmarks/.venv-bench, as bench_startup.py
builds it), exactly as users run it.

    python3 benchmarks/bench_services.py [--rounds 11] [--venv DIR]
"""

from __future__ import annotations

import argparse
import os
import pwd
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench_startup import _fresh_venv

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class BlackHoles:
    """N listeners that accept and never answer (a thread per listener would be wasteful:
    listen() alone completes the handshake; nothing ever reads)."""

    def __init__(self, count: int) -> None:
        self.socks = []
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sock.listen(1024)
            self.socks.append(sock)
        self.ports = [s.getsockname()[1] for s in self.socks]

    def close(self) -> None:
        for sock in self.socks:
            sock.close()


def redis_like(port: int, stop: threading.Event, started: list[float]) -> None:
    """Answers +PONG to whatever arrives: enough for the redis probe's PING."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(64)
    started.append(time.monotonic())
    server.settimeout(0.05)
    while not stop.is_set():
        try:
            conn, _ = server.accept()
        except OSError:
            continue
        with conn:
            conn.settimeout(1)
            try:
                if conn.recv(4096):
                    conn.sendall(b"+PONG\r\n")
            except OSError:
                pass
    server.close()


def project(checks: str) -> Path:
    root = Path(tempfile.mkdtemp(prefix="bench-services-"))
    (root / "checks").mkdir()
    (root / "checks" / "services.toml").write_text(checks)
    return root


def timed(argv: list[str], cwd: Path | None = None) -> tuple[float, int]:
    started = time.perf_counter()
    proc = subprocess.run(
        argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
    )
    return time.perf_counter() - started, proc.returncode


def start_postgres(base: Path) -> tuple[subprocess.Popen[bytes], int]:
    initdb = shutil.which("initdb") or "/usr/lib/postgresql/15/bin/initdb"
    bindir = Path(initdb).resolve().parent
    user = "postgres" if _has_user("postgres") else "nobody"
    uid, gid = pwd.getpwnam(user).pw_uid, pwd.getpwnam(user).pw_gid
    base.chmod(0o755)
    data = base / "data"
    data.mkdir()
    os.chown(base, uid, gid)
    os.chown(data, uid, gid)
    subprocess.run(
        ["runuser", "-u", user, "--", str(bindir / "initdb"), "-N", "-A", "trust", "-U",
         "postgres", "-D", str(data)],
        check=True, capture_output=True,
    )  # fmt: skip
    port = free_port()
    proc = subprocess.Popen(
        ["runuser", "-u", user, "--", str(bindir / "postgres"), "-D", str(data), "-c",
         "listen_addresses=127.0.0.1", "-c", f"port={port}", "-c",
         f"unix_socket_directories={base}", "-c", "fsync=off"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ok = subprocess.run(
            ["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(port)], check=False
        ).returncode
        if ok == 0:
            return proc, port
        time.sleep(0.05)
    raise SystemExit("postgres did not start")


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def ensure_wait_for_it() -> str:
    found = shutil.which("wait-for-it")
    if found:
        return found
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "wait-for-it"],
        check=True, capture_output=True, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )  # fmt: skip
    return shutil.which("wait-for-it") or "wait-for-it"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--venv", type=Path, default=None)
    args = parser.parse_args()
    venv = args.venv or _fresh_venv()
    envdoctor = str(venv / "bin" / "envdoctor")
    wait_for_it = ensure_wait_for_it()
    load_before = os.getloadavg()

    holes = BlackHoles(50)
    fifty = project(
        "".join(
            f'[[check]]\nid = "hole{i}"\nkind = "redis"\nurl = "redis://127.0.0.1:{p}"\n'
            'timeout = "1s"\n\n'
            for i, p in enumerate(holes.ports)
        )
    )
    one_hole = holes.ports[0]
    tcp_hole = project(f'[[check]]\nid = "h"\nkind = "tcp"\nport = {one_hole}\ntimeout = "1s"\n')
    pg_hole = project(
        f'[[check]]\nid = "h"\nkind = "postgres"\nurl = "postgresql://127.0.0.1:{one_hole}/x"\n'
        'timeout = "1s"\n'
    )
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    open_port = listener.getsockname()[1]
    tcp_open = project(f'[[check]]\nid = "o"\nkind = "tcp"\nport = {open_port}\n')

    pg_base = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    postgres, pg_port = start_postgres(pg_base)
    pg_up = project(
        f'[[check]]\nid = "db"\nkind = "postgres"\n'
        f'url = "postgresql://postgres@127.0.0.1:{pg_port}/postgres"\n'
    )

    rows: dict[str, list[float]] = {}
    verdicts: dict[str, set[int]] = {}
    commands = {
        "envdoctor check: 50 black holes (redis, 1 s)": ([envdoctor, "check", "-q"], fifty),
        "envdoctor check: postgres up": ([envdoctor, "check", "-q"], pg_up),
        "pg_isready: postgres up": (
            ["pg_isready", "-h", "127.0.0.1", "-p", str(pg_port)],
            None,
        ),
        "envdoctor check: tcp kind, black hole": ([envdoctor, "check", "-q"], tcp_hole),
        "envdoctor check: postgres black hole (1 s)": ([envdoctor, "check", "-q"], pg_hole),
        "pg_isready -t 1: black hole": (
            ["pg_isready", "-t", "1", "-h", "127.0.0.1", "-p", str(one_hole)],
            None,
        ),
        "wait-for-it -t 1: black hole": (
            [wait_for_it, "-t", "1", f"127.0.0.1:{one_hole}"],
            None,
        ),
        "envdoctor check: tcp open port": ([envdoctor, "check", "-q"], tcp_open),
        "wait-for-it -t 1: open port": ([wait_for_it, "-t", "1", f"127.0.0.1:{open_port}"], None),
    }
    names = list(commands)
    try:
        for round_no in range(args.rounds):
            shift = round_no % len(names)
            for name in names[shift:] + names[:shift]:
                argv, cwd = commands[name]
                seconds, code = timed(argv, cwd)
                rows.setdefault(name, []).append(seconds)
                verdicts.setdefault(name, set()).add(code)
        latencies = [wait_latency(envdoctor) for _ in range(args.rounds)]
    finally:
        holes.close()
        listener.close()
        postgres.terminate()
        postgres.wait(10)
        shutil.rmtree(pg_base, ignore_errors=True)
        for root in (fifty, tcp_hole, pg_hole, tcp_open, pg_up):
            shutil.rmtree(root, ignore_errors=True)

    print(f"{'command':48} {'median':>9} {'min':>9}  says")
    for name in names:
        values = rows[name]
        said = "/".join("up" if c == 0 else f"not up (exit {c})" for c in sorted(verdicts[name]))
        print(
            f"{name:48} {statistics.median(values) * 1000:7.1f}ms {min(values) * 1000:7.1f}ms"
            f"  {said}"
        )
    print(
        f"{'--wait: listener up -> envdoctor exited':48} "
        f"{statistics.median(latencies) * 1000:7.1f}ms {min(latencies) * 1000:7.1f}ms"
        f"   (max {max(latencies) * 1000:.1f}ms)"
    )
    fifty_median = statistics.median(rows[names[0]])
    wait_median = statistics.median(latencies)
    print()
    print("budget                                         value   budget")
    print(f"50 black holes, whole run                   {fifty_median:7.2f} s  <= 1.2 s "
          f"{'ok' if fifty_median <= 1.2 else 'OVER'}")  # fmt: skip
    print(f"--wait: a service that comes up is seen     {wait_median:7.2f} s  <= 0.3 s "
          f"{'ok' if wait_median <= 0.3 else 'OVER'}")  # fmt: skip
    pg = statistics.median(rows["envdoctor check: postgres up"])
    isready = statistics.median(rows["pg_isready: postgres up"])
    print(f"postgres up: envdoctor / pg_isready        {pg / isready:7.2f}x")
    print()
    print(
        f"{args.rounds} alternating rounds, medians; python {sys.version.split()[0]}; "
        f"load average before/after: {', '.join(f'{x:.2f}' for x in load_before)} / "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )


def wait_latency(envdoctor: str) -> float:
    """Seconds from the service's listen() to the exit of `envdoctor check --wait 30s`."""
    port = free_port()
    root = project(f'[[check]]\nid = "r"\nkind = "redis"\nurl = "redis://127.0.0.1:{port}"\n')
    stop = threading.Event()
    started: list[float] = []
    proc = subprocess.Popen(
        [envdoctor, "check", "-q", "--wait", "30s"],
        cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(0.5 + random.random() * 0.5)  # envdoctor is up and re-trying by now
    server = threading.Thread(target=redis_like, args=(port, stop, started), daemon=True)
    server.start()
    code = proc.wait(60)
    ended = time.monotonic()
    stop.set()
    server.join()
    shutil.rmtree(root, ignore_errors=True)
    if code != 0:
        raise SystemExit(f"--wait run ended with exit {code}")
    return ended - started[0]


if __name__ == "__main__":
    main()
