"""What a kind may use while it runs: the project, the target interpreter, a deadline, helpers.

The helpers exist so that no kind can forget a deadline: `run_process` kills the child's whole
process group when time runs out, and `run_sync` runs blocking code on a daemon thread so a
stuck call costs the check its timeout, never the whole run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from envdoctor.redact import Redactor
from envdoctor.target import Target, TargetError, TargetInfo, parse_info, running_info

T = TypeVar("T")

MAX_OUTPUT = 64 * 1024
INSPECT_TIMEOUT = 10.0


class TargetTimeout(TargetError, asyncio.TimeoutError):
    """The target did not answer in time: a timeout to the runner (the check `fail`s "timed out
    after …"), a TargetError to code that asks the target directly."""


@dataclass
class ProcessResult:
    argv: list[str]
    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool
    duration: float

    @property
    def output(self) -> str:
        return (self.stdout + ("\n" if self.stdout and self.stderr else "") + self.stderr).strip()


@dataclass
class Session:
    """Shared by every check of one run."""

    project: Path
    target: Target
    environ: Mapping[str, str]
    verbose: bool = False
    safe: bool = False
    use_cache: bool = True  # --no-cache turns it off: inspect the target afresh
    dotenv: str | None = None  # [tool.envdoctor] dotenv: its values are already in `environ`
    # Masks secrets; kinds call it before they shorten text (a cut secret is still a leak).
    redact: Redactor = field(default_factory=Redactor)
    _target_task: asyncio.Task[TargetInfo] | None = field(default=None, repr=False)
    target_info_result: TargetInfo | None = None

    async def target_info(self) -> TargetInfo:
        """Inspects the target once per run, however many checks ask."""
        if self._target_task is None:
            self._target_task = asyncio.ensure_future(self._inspect())
        return await asyncio.shield(self._target_task)

    async def _inspect(self) -> TargetInfo:
        if self.target.problem:
            raise TargetError(self.target.problem)
        if self.target.is_running_interpreter:
            info = running_info()
        elif cached := self._cached_info():
            info = cached
        else:
            from envdoctor.target import INSPECT_SCRIPT

            result = await run_process(
                [str(self.target.executable), "-I", "-c", INSPECT_SCRIPT],
                cwd=self.project,
                timeout=INSPECT_TIMEOUT,
            )
            if result.timed_out:
                raise TargetError(
                    f"{self.target.executable} did not answer within {INSPECT_TIMEOUT:.0f} s"
                )
            if result.returncode != 0:
                await self._too_old()
                last = result.output.splitlines()[-1] if result.output else "no output"
                if len(last) > 160 or "sys.implementation" in last:  # it echoed our script back
                    last = "not Python's answer"
                raise TargetError(
                    f"{self.target.executable} is not a working Python interpreter "
                    f"(exit {result.returncode}: {last})"
                )
            info = parse_info(result.stdout, self.target.executable)
        self.target_info_result = info
        return info

    async def _too_old(self) -> None:
        """Raises TooOld when the target is a Python 2 (which rejects `-I`): "2.7.18 does not
        satisfy >=3.8" says more than "not a working interpreter"."""
        import re

        from envdoctor.target import VERSION_SCRIPT, TooOld

        asked = await run_process(
            [str(self.target.executable), "-c", VERSION_SCRIPT], cwd=self.project, timeout=5.0
        )
        version = asked.stdout.strip() if asked.returncode == 0 else ""
        if re.fullmatch(r"[12]\.\d+\.\d+", version):
            raise TooOld(self.target.executable, version)

    def _cached_info(self) -> TargetInfo | None:
        """Another interpreter's facts from the environment cache: no child process at all."""
        if not self.use_cache:
            return None
        from envdoctor.pkgs.environment import cached_target_info

        return cached_target_info(self)

    def display_path(self, path: Path | str) -> str:
        """A path as the user would write it: relative to the project when inside it."""
        p = Path(path)
        try:
            return str(p.resolve().relative_to(self.project.resolve()))
        except (ValueError, OSError, RuntimeError):  # outside the project; a symlink loop
            return str(p)


@dataclass
class CheckContext:
    """One check's view of the session, with its own deadline and evidence log."""

    session: Session
    deadline: float
    timeout: float = 0.0  # the whole deadline this check was given, for messages
    evidence: list[str] = field(default_factory=list)

    @property
    def project(self) -> Path:
        return self.session.project

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def note(self, text: str) -> None:
        """Records what was tried and what came back, for `explain`."""
        self.evidence.append(text)

    async def target_info(self) -> TargetInfo:
        """The session's one inspection of the target, waited for within this check's deadline."""
        try:
            return await asyncio.wait_for(self.session.target_info(), max(self.remaining(), 0.001))
        except asyncio.TimeoutError:
            raise TargetTimeout(
                f"{self.session.target.executable} did not answer before the check's deadline"
            ) from None

    async def run_sync(self, fn: Callable[..., T], *args: Any) -> T:
        return await run_sync(fn, *args)

    async def run_process(
        self, argv: list[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None
    ) -> ProcessResult:
        return await run_process(argv, cwd=cwd or self.project, timeout=self.remaining(), env=env)


async def run_sync(fn: Callable[..., T], *args: Any) -> T:
    """Runs blocking code on a daemon thread: a hang never keeps envdoctor from exiting."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def deliver(setter: Callable[[Any], None], value: Any) -> None:
        if not future.done():
            setter(value)

    def work() -> None:
        try:
            value = fn(*args)
        except BaseException as exc:  # delivered to the awaiting check, not lost
            setter, value = future.set_exception, exc
        else:
            setter = future.set_result
        # The run may be over (a timeout) and the loop closed: then nobody wants the value.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(deliver, setter, value)

    threading.Thread(
        target=work, name=f"envdoctor-{getattr(fn, '__name__', 'sync')}", daemon=True
    ).start()
    return await future


async def run_process(
    argv: list[str],
    *,
    cwd: Path | None,
    timeout: float,
    env: Mapping[str, str] | None = None,
) -> ProcessResult:
    """Runs argv (never a shell) with a total deadline; output is capped, not unbounded.

    On timeout the whole process group is killed and reaped, and what the child printed so
    far is kept (it often says why it hung).
    """
    started = time.monotonic()
    deadline = started + timeout
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=str(cwd) if cwd else None,
        env=dict(env) if env is not None else None,
        start_new_session=os.name != "nt",
    )
    out, err = bytearray(), bytearray()

    async def drain(stream: asyncio.StreamReader | None, kept: bytearray) -> None:
        # Keep the *end* of the output, capped: that is where a failing program says why.
        if stream is None:
            return
        while chunk := await stream.read(65536):
            kept += chunk
            if len(kept) > MAX_OUTPUT:
                del kept[: len(kept) - MAX_OUTPUT]

    gathered = asyncio.gather(drain(proc.stdout, out), drain(proc.stderr, err), proc.wait())
    # Retrieve the outcome even when we are cancelled, so asyncio never logs it on stderr.
    gathered.add_done_callback(lambda f: f.cancelled() or f.exception())
    timed_out = False
    try:
        await asyncio.wait_for(gathered, timeout=max(deadline - time.monotonic(), 0.001))
    except asyncio.TimeoutError:
        timed_out = True
        await _kill_and_reap(proc)
    except asyncio.CancelledError:
        # Reap even when cancelled: a transport left behind warns on stderr at loop close.
        await _kill_and_reap(proc)
        raise
    return ProcessResult(
        [str(a) for a in argv],
        None if timed_out else proc.returncode,
        out.decode("utf-8", errors="replace"),
        err.decode("utf-8", errors="replace"),
        timed_out,
        time.monotonic() - started,
    )


async def _kill_and_reap(proc: asyncio.subprocess.Process) -> None:
    _kill(proc)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(proc.wait(), 1.0)
    # Close the pipes now, not when the loop is gone (that warns on stderr at exit).
    transport = getattr(proc, "_transport", None)
    if transport is not None:
        transport.close()


def _kill(proc: asyncio.subprocess.Process) -> None:
    """Kills the child's whole process group: a leader that exited may leave children behind."""
    if os.name == "nt" and proc.returncode is not None:  # pragma: no cover - Windows
        return
    try:
        if os.name != "nt":
            os.killpg(proc.pid, signal.SIGKILL)
        else:  # pragma: no cover - Windows
            proc.kill()
    except (ProcessLookupError, PermissionError):
        pass
