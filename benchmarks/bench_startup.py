"""Start-up budget of the foundation issue, as ratios against `python -c "import typer"`.

Runs, alternating, for N rounds: the typer import (the floor for a typer CLI), `envdoctor
--version`, and `envdoctor check` on a 10-check module of the first kinds; prints medians, the
ratios against the budgets (<= 1.5x and <= 2x) and each command's peak RSS (budget 80 MB).

It measures what users run: a fresh venv with `pip install .` (not editable; pip writes the
bytecode), built under benchmarks/.venv-bench unless `--venv DIR` names an existing one.

    python3 benchmarks/bench_startup.py [--rounds 21] [--venv DIR]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

CHECKS = """
[[check]]
id = "python"
kind = "python"
version = ">=3.10"

[[check]]
id = "readme"
kind = "file"
path = "README.md"

[[check]]
id = "no-lock"
kind = "file"
path = "poetry.lock"
exists = false

[[check]]
id = "env"
kind = "env"
required = ["HOME", "PATH"]

[[check]]
id = "sh"
kind = "binary"
name = "sh"

[[check]]
id = "true"
kind = "command"
run = ["true"]

[[check]]
id = "listener"
kind = "tcp"
host = "127.0.0.1"
port = {port}

[[check]]
id = "disk"
kind = "disk"
path = "."
min_free = "10MB"

[[check]]
id = "memory"
kind = "memory"
min_available = "100MB"

[[check]]
id = "free-port"
kind = "port_free"
port = {free_port}
"""


def run(argv: list[str], cwd: Path) -> tuple[float, int, int]:
    """Wall seconds, exit status and peak RSS (KiB) of one child, measured with wait4."""
    started = time.perf_counter()
    pid = _spawn_in(argv, cwd)
    _, status, usage = os.wait4(pid, 0)
    return time.perf_counter() - started, os.waitstatus_to_exitcode(status), usage.ru_maxrss


def _spawn_in(argv: list[str], cwd: Path) -> int:
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.chdir(cwd)
            fd = os.open(os.devnull, os.O_WRONLY)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    return pid


def _fresh_venv() -> Path:
    """benchmarks/.venv-bench with a regular (non-editable) install of this checkout."""
    repo = Path(__file__).resolve().parent.parent
    venv = repo / "benchmarks" / ".venv-bench"
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "--force-reinstall",
            "--no-deps",
            str(repo),
        ],
        check=True,
    )
    subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            str(repo),
        ],
        check=True,
    )
    return venv


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--venv", type=Path, help="an existing venv with envdoctor installed")
    args = parser.parse_args()

    venv = args.venv.resolve() if args.venv else _fresh_venv()
    python = str(venv / "bin" / "python")
    envdoctor = str(venv / "bin" / "envdoctor")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    free_port = probe.getsockname()[1]
    probe.close()
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        (project / "README.md").write_text("bench\n")
        (project / "checks").mkdir()
        (project / "checks" / "bench.toml").write_text(
            textwrap.dedent(CHECKS)
            .replace("{port}", str(listener.getsockname()[1]))
            .replace("{free_port}", str(free_port))
        )
        commands = {
            "python -c 'import typer'": [python, "-c", "import typer"],
            "envdoctor --version": [envdoctor, "--version"],
            "envdoctor check (10 checks)": [envdoctor, "check", "--project", str(project)],
        }
        for argv in commands.values():  # warm the page cache and .pyc files once
            run(argv, project)
        code = run(commands["envdoctor check (10 checks)"], project)[1]
        if code != 0:
            print(
                f"envdoctor check exited {code} on the bench project; run it by hand to see why",
                file=sys.stderr,
            )
            return 1
        times: dict[str, list[float]] = {name: [] for name in commands}
        rss: dict[str, int] = dict.fromkeys(commands, 0)
        for _ in range(args.rounds):
            for name, argv in commands.items():
                wall, _, peak = run(argv, project)
                times[name].append(wall)
                rss[name] = max(rss[name], peak)
    listener.close()

    floor = statistics.median(times["python -c 'import typer'"])
    budgets = {"envdoctor --version": 1.5, "envdoctor check (10 checks)": 2.0}
    print(f"{'command':32} {'median':>9} {'ratio':>7} {'budget':>7} {'peak RSS':>9}")
    ok = True
    for name in commands:
        median = statistics.median(times[name])
        ratio = median / floor
        budget = budgets.get(name)
        verdict = "" if budget is None else ("ok" if ratio <= budget else "OVER")
        ok &= verdict != "OVER" and rss[name] <= 80 * 1024
        print(
            f"{name:32} {median * 1000:7.1f}ms {ratio:6.2f}x {('<= ' + str(budget) + 'x') if budget else '':>7} "
            f"{rss[name] / 1024:7.1f}MB {verdict}"
        )
    version = subprocess.run(
        [python, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True, text=True
    )
    print(f"\n{args.rounds} alternating rounds, medians; python {version.stdout.strip()} in {venv}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
