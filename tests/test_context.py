"""What kinds rely on: run_process keeps the deadline and kills the whole process group,
output is capped, run_sync keeps blocking code off the event loop and delivers its result
or its exception.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from envdoctor.context import (
    MAX_OUTPUT,
    CheckContext,
    ProcessResult,
    Session,
    run_process,
    run_sync,
)
from envdoctor.target import Target


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (nothing here reaps orphans)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_gone(pid: int, seconds: float = 2.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not alive(pid):
            return True
        time.sleep(0.02)
    return not alive(pid)


def session(tmp_path: Path) -> Session:
    return Session(tmp_path, Target(Path(sys.executable), "running interpreter"), {})


# -- run_process --------------------------------------------------------------------------


def test_run_process_output_and_status(tmp_path: Path) -> None:
    result = asyncio.run(
        run_process(
            [
                sys.executable,
                "-c",
                "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)",
            ],
            cwd=tmp_path,
            timeout=10,
        )
    )
    assert result.returncode == 3
    assert result.stdout == "out\n"
    assert result.stderr == "err\n"
    assert result.output == "out\n\nerr"
    assert not result.timed_out
    assert result.argv[0] == sys.executable
    assert 0 <= result.duration < 10


def test_run_process_cwd_and_env(tmp_path: Path) -> None:
    code = "import os; print(os.getcwd()); print(os.environ.get('EDT_X'))"
    result = asyncio.run(
        run_process([sys.executable, "-c", code], cwd=tmp_path, timeout=10, env={"EDT_X": "y"})
    )
    assert result.stdout.split() == [str(tmp_path.resolve()), "y"]


def test_run_process_never_uses_a_shell(tmp_path: Path) -> None:
    result = asyncio.run(run_process(["echo", "$HOME", ";", "false"], cwd=tmp_path, timeout=10))
    assert result.stdout == "$HOME ; false\n"
    assert result.returncode == 0


def test_run_process_missing_program(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        asyncio.run(run_process(["/no/such/program"], cwd=tmp_path, timeout=5))


def test_deadline_kills_the_process_group(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = f"sleep 30 & echo $! > {pids}; echo $$ >> {pids}; sleep 30"
    started = time.monotonic()
    result = asyncio.run(run_process(["sh", "-c", script], cwd=tmp_path, timeout=0.5))
    elapsed = time.monotonic() - started
    assert result.timed_out
    assert result.returncode is None
    assert 0.45 <= elapsed < 3
    background, shell = (int(p) for p in pids.read_text().split())
    assert wait_gone(shell)
    assert wait_gone(background)  # the whole group, not only the direct child


def test_timed_out_process_keeps_what_it_printed(tmp_path: Path) -> None:
    result = asyncio.run(
        run_process(
            [sys.executable, "-u", "-c", "print('waiting for db'); import time; time.sleep(30)"],
            cwd=tmp_path,
            timeout=1.0,
        )
    )
    assert result.timed_out
    assert "waiting for db" in result.stdout


def test_deadline_kills_the_group_after_the_leader_exited(tmp_path: Path) -> None:
    # In a child interpreter: the leaked transport's noise must not land in this test run.
    pids = tmp_path / "pids"
    code = (
        "import asyncio, sys\n"
        "from envdoctor.context import run_process\n"
        "r = asyncio.run(run_process(['sh', '-c', sys.argv[1]], cwd=None, timeout=0.5))\n"
        "print(r.timed_out, repr(r.stdout))\n"
    )
    script = f"sleep 30 & echo $! > {pids}; echo started"
    child = subprocess.run(
        [sys.executable, "-c", code, script], capture_output=True, text=True, timeout=30
    )
    background = int(pids.read_text())
    try:
        gone = wait_gone(background, 1.0)
    finally:
        if alive(background):
            os.kill(background, 9)  # ours: started by this test
    assert "started" in child.stdout
    assert child.stderr == ""
    assert gone


def test_output_is_capped(tmp_path: Path) -> None:
    code = "import sys; sys.stdout.write('x' * 1_000_000); sys.stderr.write('y' * 300_000)"
    result = asyncio.run(run_process([sys.executable, "-c", code], cwd=tmp_path, timeout=20))
    assert result.returncode == 0  # drained to the end: the child never blocks on a full pipe
    assert result.stdout == "x" * MAX_OUTPUT
    assert result.stderr == "y" * MAX_OUTPUT


def test_binary_output_is_decoded_with_replacement(tmp_path: Path) -> None:
    code = "import sys; sys.stdout.buffer.write(b'caf\\xe9 \\xff ok')"
    result = asyncio.run(run_process([sys.executable, "-c", code], cwd=tmp_path, timeout=10))
    assert result.stdout == "caf\ufffd \ufffd ok"


def test_zero_or_negative_timeout_still_returns(tmp_path: Path) -> None:
    result = asyncio.run(run_process(["sleep", "5"], cwd=tmp_path, timeout=-1))
    assert result.timed_out


def test_cancelled_run_process_kills_the_child(tmp_path: Path) -> None:
    pids = tmp_path / "pids"

    async def cancel_it() -> None:
        task = asyncio.ensure_future(
            run_process(["sh", "-c", f"echo $$ > {pids}; sleep 30"], cwd=tmp_path, timeout=30)
        )
        while not pids.exists() or not pids.read_text().strip():
            await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(asyncio.wait_for(cancel_it(), 10))
    assert wait_gone(int(pids.read_text()))


def test_process_result_output_joins_streams() -> None:
    assert ProcessResult([], 0, "a\n", "", False, 0).output == "a"
    assert ProcessResult([], 0, "", " b ", False, 0).output == "b"
    assert ProcessResult([], 0, "", "", False, 0).output == ""


# -- CheckContext -------------------------------------------------------------------------


def test_context_deadline_applies_to_processes(tmp_path: Path) -> None:
    ctx = CheckContext(session(tmp_path), deadline=time.monotonic() + 0.3)
    result = asyncio.run(ctx.run_process(["sleep", "10"]))
    assert result.timed_out
    assert ctx.remaining() == 0.0


def test_context_runs_in_the_project(tmp_path: Path) -> None:
    ctx = CheckContext(session(tmp_path), deadline=time.monotonic() + 10)
    result = asyncio.run(ctx.run_process(["pwd"]))
    assert Path(result.stdout.strip()).resolve() == tmp_path.resolve()
    assert ctx.project == tmp_path
    assert 0 < ctx.remaining() <= 10


def test_context_notes(tmp_path: Path) -> None:
    ctx = CheckContext(session(tmp_path), deadline=time.monotonic() + 1)
    ctx.note("tried 127.0.0.1:5432")
    ctx.note("refused")
    assert ctx.evidence == ["tried 127.0.0.1:5432", "refused"]


def test_display_path(tmp_path: Path) -> None:
    s = session(tmp_path)
    assert s.display_path(tmp_path / "a" / "b.txt") == str(Path("a/b.txt"))
    assert s.display_path("/elsewhere/x") == "/elsewhere/x"


# -- run_sync -----------------------------------------------------------------------------


def test_run_sync_returns_the_value() -> None:
    assert asyncio.run(run_sync(lambda a, b: a + b, 2, 3)) == 5


def test_run_sync_runs_off_the_loop_thread() -> None:
    async def which() -> tuple[int, int]:
        return threading.get_ident(), await run_sync(threading.get_ident)

    loop_thread, worker = asyncio.run(which())
    assert loop_thread != worker


class Boom(Exception):
    pass


def test_run_sync_propagates_exceptions() -> None:
    def fail() -> None:
        raise Boom("from the thread")

    with pytest.raises(Boom, match="from the thread"):
        asyncio.run(run_sync(fail))


def test_run_sync_propagates_base_exceptions() -> None:
    def leave() -> None:
        raise SystemExit(4)

    with pytest.raises(SystemExit):
        asyncio.run(run_sync(leave))


def test_run_sync_does_not_block_the_loop() -> None:
    async def both() -> float:
        started = time.monotonic()
        blocking = asyncio.ensure_future(run_sync(time.sleep, 0.3))
        await asyncio.sleep(0.05)  # the loop keeps turning while the thread sleeps
        loop_free = time.monotonic() - started
        await blocking
        return loop_free

    assert asyncio.run(both()) < 0.25


def test_stuck_sync_call_costs_only_its_deadline() -> None:
    release = threading.Event()

    async def bounded() -> None:
        await asyncio.wait_for(run_sync(release.wait, 30), 0.2)

    started = time.monotonic()
    with pytest.raises(asyncio.TimeoutError):
        asyncio.run(bounded())
    assert time.monotonic() - started < 2
    release.set()  # let the daemon thread end
