"""Finds or really imports modules in the target interpreter, surviving modules that misbehave.

Two halves:

- `CHILD_SCRIPT` runs inside the target (`python -I -c CHILD_SCRIPT MODE SAFE MODULE...`):
  stdlib only, Python 3.7+ syntax, because the target may be any interpreter. It reports one
  JSON line per module on a private duplicate of its stdout, *before* ("start") and *after*
  ("done") each module, so the parent always knows which module is running. Everything a
  module prints goes to counting sinks (Python-level) or /dev/null (fd 1), never into the
  protocol; fd 2 stays a pipe to the parent so `faulthandler` can say where a crash or a hang
  happened. It ends with `os._exit(0)`: atexit handlers and non-daemon threads that imports
  left behind cannot keep it alive.
- `check_modules` (the parent) starts ONE child for all modules (DESIGN.md §10), enforces each
  module's own deadline inside the overall one, and when a module kills or hangs the child
  (`os._exit`, abort, segfault, an endless loop) reports it as such and starts a fresh child for
  the modules that are left. `sys.exit` raises SystemExit, which the child catches: reported,
  no restart needed.

`find` mode locates modules without running their code: a dotted name is resolved through its
parents' `__path__` found by the import system's own finders, not by importing the parents;
only when that fails (a package that builds its `__path__` or submodules at import time, like
`six.moves`) does it fall back to `importlib.util.find_spec`, which imports the parents, and
under `--safe` it reports such a name as not verified instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envdoctor.target import TargetError, TargetInfo

# -- the child ------------------------------------------------------------------------------

CHILD_FILENAME = "<envdoctor-importcheck>"

CHILD_SCRIPT = r'''
import os, sys

_DISTS = None


def _dists():
    """Top-level import name -> distribution names, from the target's own metadata."""
    global _DISTS
    if _DISTS is not None:
        return _DISTS
    _DISTS = {}
    try:
        import importlib.metadata as md
    except ImportError:
        return _DISTS
    try:
        _DISTS = dict(md.packages_distributions())
        return _DISTS
    except Exception:
        pass
    try:  # Python < 3.10: the same rule by hand (top_level.txt, else the RECORD's files)
        for dist in md.distributions():
            name = dist.metadata["Name"]
            tops = set((dist.read_text("top_level.txt") or "").split())
            if not tops:
                for f in dist.files or ():
                    parts = str(f).replace("\\", "/").split("/")
                    if len(parts) > 1 and not parts[0].endswith((".dist-info", ".egg-info")):
                        tops.add(parts[0])
                    elif parts[0].endswith(".py"):
                        tops.add(parts[0][:-3])
            for top in tops:
                _DISTS.setdefault(top, []).append(name)
    except Exception:
        pass
    return _DISTS


def _dist_of(top):
    """(name, version, Requires-Dist lines) of the distribution providing `top`, or None."""
    names = _dists().get(top) or []
    if not names:
        return None
    try:
        import importlib.metadata as md
        dist = md.distribution(names[0])
        return [names[0], dist.version or "", list(dist.requires or [])[:300]]
    except Exception:
        return [names[0], "", []]


def _first_line(exc):
    try:
        text = str(exc)
    except Exception:
        text = "(unprintable message)"
    text = text.strip().splitlines()[0] if text.strip() else ""
    return text if len(text) <= 300 else text[:297] + "..."


def _where(exc):
    """file:line where the exception was raised: the innermost frame that is not importlib's."""
    if isinstance(exc, SyntaxError) and exc.filename and exc.lineno:
        return "%s:%s" % (exc.filename, exc.lineno)
    import importlib
    machinery = os.path.dirname(importlib.__file__) + os.sep
    tb, last = exc.__traceback__, None
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if not filename.startswith(("<", machinery)):
            last = "%s:%d" % (filename, tb.tb_lineno)
        tb = tb.tb_next
    return last


def _missing_info(name):
    top = name.split(".")[0]
    stdlib = top in getattr(sys, "stdlib_module_names", ())
    return {"claims": list(_dists().get(top) or []), "stdlib": stdlib}


def _failure(name, exc):
    if isinstance(exc, SystemExit):
        code = exc.code
        if code is None:
            code = 0
        elif isinstance(code, bool):
            code = int(code)
        elif not isinstance(code, int):
            code = 1
        return {"state": "exit", "code": code, "where": _where(exc)}
    out = {"state": "error", "type": type(exc).__name__, "msg": _first_line(exc),
           "where": _where(exc)}
    missing = getattr(exc, "name", None) if isinstance(exc, ModuleNotFoundError) else None
    if not isinstance(missing, str):
        missing = None
    if missing:
        out["missing"] = missing
        if name == missing or name.startswith(missing + "."):
            out["state"] = "missing"
            out["where"] = None
            out.update(_missing_info(missing))
            return out
        out["claims"] = _missing_info(missing)["claims"]
    dist = _dist_of(name.split(".")[0])
    if dist:
        out["dist"] = dist[:2]
        if missing:
            out["requires"] = dist[2]
    return out


def _meta_find(name, path):
    """What the import system would find for `name` under the parent's `path`, importing nothing."""
    for finder in sys.meta_path:
        find = getattr(finder, "find_spec", None)
        if find is None:
            continue
        spec = find(name, path)
        if spec is not None:
            return spec
    return None


def _locations(spec):
    """A package's search path as a plain list (None for a module).

    A namespace package's path object recomputes itself from its parent module, which is not
    imported here: its own first computation (`_path`) is what the import would use.
    """
    locations = spec.submodule_search_locations
    if locations is None:
        return None
    try:
        return list(locations)
    except Exception:
        return list(getattr(locations, "_path", None) or [])


def _namespace(spec):
    return spec.submodule_search_locations is not None and spec.origin in (None, "namespace")


def _origin(spec, module=None):
    if module is not None and getattr(module, "__file__", None):
        return module.__file__
    origin = getattr(spec, "origin", None)
    if origin in (None, "namespace") and getattr(spec, "submodule_search_locations", None):
        return "namespace package"
    return origin


def _find(name, allow_import):
    """Where `name` is, walking its parents' search paths instead of importing them."""
    parts = name.split(".")
    parent = ".".join(parts[:-1])
    path = None
    for end in range(1, len(parts) + 1):
        sub = ".".join(parts[:end])
        module = sys.modules.get(sub)
        if module is not None:
            spec = getattr(module, "__spec__", None)
            path = getattr(module, "__path__", None)
        else:
            if end == 1:
                spec = _meta_find(sub, None)
            elif path is None:  # the parent is a plain module: only its code could tell
                spec = None
            else:
                try:
                    spec = _meta_find(sub, path)
                except Exception:  # a finder that wants the parent imported: the fallback
                    spec = None
            if spec is None:
                break
            if end < len(parts) and _namespace(spec):
                # A namespace package has no code; its children's finders look it up in
                # sys.modules, so import it (this runs nothing).
                import importlib
                module = importlib.import_module(sub)
                path = list(module.__path__)
            else:
                path = _locations(spec)
        if end == len(parts):
            return {"state": "ok", "origin": _origin(spec, module)}
    if end == 1:
        out = {"state": "missing", "missing": name.split(".")[0]}
        out.update(_missing_info(name))
        return out
    if not allow_import:
        return {"state": "unverified", "parent": parent}
    import importlib, importlib.util
    importlib.import_module(parent)  # runs the parents' code: exceptions are reported
    module = sys.modules.get(name)  # a submodule the parent made (six.moves-style)
    if module is not None:
        spec = getattr(module, "__spec__", None)
    else:
        spec = importlib.util.find_spec(name)
    if module is None and spec is None:
        out = {"state": "missing", "missing": name}
        out.update(_missing_info(name))
        return out
    return {"state": "ok", "origin": _origin(spec, module), "imported": parent}


def _import(name):
    import importlib
    module = importlib.import_module(name)
    return {"state": "ok", "origin": getattr(module, "__file__", None)}


def _sink(devnull):
    """A text stream that counts what is written and keeps none of it (a flood costs nothing)."""
    import io

    class Counter(io.RawIOBase):
        count = 0

        def writable(self):
            return True

        def write(self, data):
            size = memoryview(data).nbytes
            self.count += size
            return size

        def fileno(self):
            return devnull

        def isatty(self):
            return False

    raw = Counter()
    text = io.TextIOWrapper(io.BufferedWriter(raw), encoding="utf-8", errors="backslashreplace")
    return text, raw


def _esc(c):
    o = ord(c)
    if c == '"':
        return '\\"'
    if c == '\\':
        return '\\\\'
    if 0x20 <= o < 0x7f:
        return c
    if o > 0xffff:
        o -= 0x10000
        return "\\u%04x\\u%04x" % (0xd800 + (o >> 10), 0xdc00 + (o & 0x3ff))
    return "\\u%04x" % o


def _dumps(v):
    """JSON without `import json` (which pulls in `re`: ~8 ms of every child)."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(int(v))
    if isinstance(v, float):
        return repr(v) if v == v and v not in (float("inf"), float("-inf")) else "null"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(_dumps(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(_dumps(str(k)) + ":" + _dumps(x) for k, x in v.items()) + "}"
    return '"' + "".join(_esc(c) for c in str(v)) + '"'


def _main():
    import time
    mode, safe, modules = sys.argv[1], sys.argv[2] == "1", sys.argv[3:]
    proto = os.dup(1)  # not inheritable: programs the modules start never get it
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 1)
    if hasattr(os, "register_at_fork"):
        def _forget():
            try:
                os.close(proto)
            except OSError:
                pass
        os.register_at_fork(after_in_child=_forget)
    try:  # where a crash happened, and (SIGUSR1 from the parent) where a hang is stuck
        import faulthandler, signal
        faulthandler.enable(2)
        if hasattr(signal, "SIGUSR1"):
            faulthandler.register(signal.SIGUSR1, file=2, all_threads=False)
    except Exception:
        pass
    out_text, out = _sink(devnull)
    err_text, err = _sink(devnull)
    sys.stdout = sys.__stdout__ = out_text
    sys.stderr = sys.__stderr__ = err_text
    dumps, write, clock = _dumps, os.write, time.perf_counter

    def send(message):
        data = (dumps(message) + "\n").encode("utf-8")
        while data:
            data = data[write(proto, data):]

    send({"e": "hello", "v": list(sys.version_info[:3])})
    for name in modules:
        send({"e": "start", "m": name})
        before = out.count, err.count
        started = clock()
        try:
            result = _import(name) if mode == "import" else _find(name, not safe)
        except BaseException as exc:
            try:
                result = _failure(name, exc)
            except Exception:  # describing it failed: still report the type
                result = {"state": "error", "type": type(exc).__name__, "msg": ""}
        seconds = clock() - started
        for text in (out_text, err_text):
            try:
                text.flush()
            except Exception:
                pass
        result.update(e="done", m=name, t=seconds, out=out.count - before[0],
                      err=err.count - before[1])
        send(result)
    send({"e": "end"})
    os._exit(0)


if __name__ == "__main__":
    _main()
'''


# -- the parent -----------------------------------------------------------------------------

# What a module's import ended as. "ok" passes; "unverified" is a skip (--safe, find mode);
# the rest fail. "late": the check's own deadline struck while it ran; "unchecked": never tried.
STATES = ("ok", "missing", "error", "exit", "crashed", "hung", "late", "unchecked", "unverified")

STDERR_KEPT = 32 * 1024
READ_LIMIT = 1 << 20
TRACE_WAIT = 0.25  # how long a hung child gets to print where it is stuck


@dataclass
class ModuleReport:
    """One module's answer, as plain data; `kinds/imports.py` turns it into a Finding."""

    module: str
    state: str
    seconds: float | None = None
    origin: str | None = None
    error_type: str | None = None
    message: str | None = None
    where: str | None = None
    missing: str | None = None  # ModuleNotFoundError.name
    exit_code: int | None = None
    signal: str | None = None
    stdout_bytes: int = 0
    stderr_bytes: int = 0
    dist: tuple[str, str] | None = None  # the failing module's own distribution, version
    requires: tuple[str, ...] = ()  # that distribution's Requires-Dist lines
    claims: tuple[str, ...] = ()  # installed distributions declaring the missing top-level name
    stdlib: bool = False  # the missing name belongs to the standard library
    stack: tuple[str, ...] = ()  # where a crash or a hang happened (faulthandler), innermost first
    parent: str | None = None  # find mode: the parent that would have to be imported
    imported: str | None = None  # find mode: a parent that was imported to find it

    @property
    def ok(self) -> bool:
        return self.state == "ok"


@dataclass
class ImportRun:
    reports: list[ModuleReport]
    children: int = 0  # child interpreters started (DESIGN.md §10: one when none fails)
    version: tuple[int, ...] | None = None  # the target's version, as the child reported it
    evidence: list[str] = field(default_factory=list)


async def check_modules(
    python: str,
    modules: list[str],
    *,
    mode: str,
    module_timeout: float,
    deadline: float,
    cwd: Path,
    safe: bool = False,
    in_process: bool = False,
    env: Mapping[str, str] | None = None,
    info: TargetInfo | None = None,
) -> ImportRun:
    """Checks `modules` in the target `python`; `deadline` is a time.monotonic() instant.

    `in_process` (find mode only, when the target IS the running interpreter) resolves what
    can be resolved without importing anything right here, and leaves only the rest to a child.
    With `info` (find mode, another target), modules found on the target's own sys.path by
    `pathfind` need no child either; the rest still go to one.
    """
    run = ImportRun([])
    done: dict[str, ModuleReport] = {}
    remaining = list(dict.fromkeys(modules))
    if in_process and mode == "find":
        import sys

        from envdoctor.context import run_sync

        run.version = tuple(sys.version_info[:3])
        for report in await run_sync(_find_in_process, remaining):
            if report.state != "unverified" or safe:
                done[report.module] = report
        remaining = [m for m in remaining if m not in done]
        if done:
            run.evidence.append(f"resolved {len(done)} module(s) in-process, importing nothing")
    elif mode == "find" and info is not None and info.extension_suffixes:
        found = _find_on_path(remaining, info)
        done.update((r.module, r) for r in found)
        remaining = [m for m in remaining if m not in done]
        if found:
            run.version = info.version_info
            run.evidence.append(
                f"found {len(found)} module(s) on the target's sys.path from here, running "
                "nothing" + (f"; {len(remaining)} left for the target itself" if remaining else "")
            )
    stalls = 0
    while remaining:
        if deadline - time.monotonic() <= 0.01:
            break
        reports = await _run_child(
            run, python, remaining, mode, safe, module_timeout, deadline, cwd, env
        )
        for report in reports:
            done[report.module] = report
        left = [m for m in remaining if m not in done]
        stalls = stalls + 1 if len(left) == len(remaining) else 0
        if stalls >= 2:  # a child that dies between modules, twice, without progress
            break
        if left and deadline - time.monotonic() > 0.01:
            run.evidence.append(f"starting a fresh child for the {len(left)} module(s) left")
        remaining = left
    for name in remaining:
        done[name] = ModuleReport(name, "unchecked")
    run.reports = [done[m] for m in dict.fromkeys(modules)]
    if run.children:
        run.evidence.append(f"{run.children} child interpreter(s) for {len(run.reports)} module(s)")
    return run


_IN_PROCESS: dict[str, Any] = {}
_IN_PROCESS_LOCK = threading.Lock()


def _find_in_process(modules: list[str]) -> list[ModuleReport]:
    """find mode in envdoctor's own interpreter (the target): the child's code, no child."""
    import importlib

    with _IN_PROCESS_LOCK:
        namespace = _IN_PROCESS
        if not namespace:
            namespace["__name__"] = "envdoctor_importcheck"  # not "__main__": runs nothing
            exec(compile(CHILD_SCRIPT, CHILD_FILENAME, "exec"), namespace)
        # `fix --apply` installs, then re-checks in this same process: forget what was seen
        namespace["_DISTS"] = None
        importlib.invalidate_caches()
    out = []
    for name in modules:
        started = time.perf_counter()
        try:
            result = namespace["_find"](name, False)
        except Exception as exc:  # a finder that raises: reported, like in the child
            try:
                result = namespace["_failure"](name, exc)
            except Exception:
                result = {"state": "error", "type": type(exc).__name__, "msg": ""}
        result["t"] = time.perf_counter() - started
        out.append(_report(name, result))
    return out


def _find_on_path(modules: list[str], info: TargetInfo) -> list[ModuleReport]:
    """The modules `pathfind` can vouch for on the target's sys.path (only found ones)."""
    from envdoctor.pkgs.pathfind import PathFinder

    finder = PathFinder(info.sys_path, info.extension_suffixes, info.builtin_modules)
    out = []
    for name in modules:
        started = time.perf_counter()
        try:
            origin = finder.find(name)
        except (OSError, ValueError, ImportError):
            origin = None
        if origin is not None:
            data = {"state": "ok", "origin": origin, "t": time.perf_counter() - started}
            out.append(_report(name, data))
    return out


def _report(name: str, data: dict[str, Any]) -> ModuleReport:
    """A ModuleReport from the child's "done" message (defensive: the child is not trusted)."""

    def text(key: str) -> str | None:
        value = data.get(key)
        return str(value) if value is not None else None

    dist = data.get("dist")
    state = str(data.get("state", "error"))
    return ModuleReport(
        module=name,
        state=state if state in STATES else "error",
        seconds=_float(data.get("t")),
        origin=text("origin"),
        error_type=text("type"),
        message=text("msg"),
        where=text("where"),
        missing=text("missing"),
        exit_code=_int(data.get("code")),
        stdout_bytes=_int(data.get("out")) or 0,
        stderr_bytes=_int(data.get("err")) or 0,
        dist=(str(dist[0]), str(dist[1])) if isinstance(dist, list) and len(dist) >= 2 else None,
        requires=tuple(str(r) for r in data.get("requires") or ()),
        claims=tuple(str(c) for c in data.get("claims") or ()),
        stdlib=bool(data.get("stdlib")),
        parent=text("parent"),
        imported=text("imported"),
    )


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


async def _run_child(
    run: ImportRun,
    python: str,
    modules: list[str],
    mode: str,
    safe: bool,
    module_timeout: float,
    deadline: float,
    cwd: Path,
    env: Mapping[str, str] | None,
) -> list[ModuleReport]:
    """One child for `modules`: the reports of those it finished, plus at most one casualty."""
    argv = [python, "-I", "-c", CHILD_SCRIPT, mode, "1" if safe else "0", *modules]
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=str(cwd),
            env=dict(env) if env is not None else None,
            start_new_session=os.name != "nt",
            limit=READ_LIMIT,
        )
    except OSError as exc:
        raise TargetError(f"cannot run {python}: {exc.strerror or exc}") from None
    run.children += 1
    stderr = bytearray()
    drain = asyncio.ensure_future(_drain(proc.stderr, stderr))
    reports: list[ModuleReport] = []
    current: str | None = None
    started = 0.0
    hello = ended = False
    timed_out: str | None = None  # "module" or "check"
    try:
        while True:
            now = time.monotonic()
            limit = deadline if current is None else min(deadline, started + module_timeout)
            try:
                line = await asyncio.wait_for(
                    proc.stdout.readline(),  # type: ignore[union-attr]
                    max(limit - now, 0.001),
                )
            except asyncio.TimeoutError:
                module_deadline = current is not None and started + module_timeout <= deadline
                timed_out = "module" if module_deadline else "check"
                break
            except ValueError:  # a line past READ_LIMIT: not our protocol any more
                break
            if not line:
                break
            try:
                message = json.loads(line)
            except ValueError:
                continue
            event = message.get("e") if isinstance(message, dict) else None
            if event == "hello":
                hello = True
                version = message.get("v")
                if isinstance(version, list) and all(isinstance(v, int) for v in version):
                    run.version = tuple(version)
            elif event == "start":
                current, started = str(message.get("m")), time.monotonic()
            elif event == "done":
                reports.append(_report(str(message.get("m")), message))
                current = None
            elif event == "end":
                ended = True
                break
        if timed_out == "module" and os.name != "nt" and deadline - time.monotonic() > TRACE_WAIT:
            await _ask_for_stack(proc, stderr)
    finally:
        returncode = await _finish(proc, drain, gently=ended)
    stack = _stack(stderr)
    if current is not None:
        if timed_out == "module":
            casualty = ModuleReport(current, "hung", seconds=module_timeout, stack=stack)
            run.evidence.append(f"{current}: no answer within {module_timeout:g} s, child killed")
        elif timed_out == "check":
            elapsed = time.monotonic() - started
            casualty = ModuleReport(current, "late", seconds=elapsed, stack=stack)
            run.evidence.append(f"{current}: the check's deadline struck, child killed")
        else:
            casualty = _casualty(current, returncode, started, stack)
            run.evidence.append(
                f"{current}: the child ended ({_describe_exit(returncode)}) while importing it"
            )
        reports.append(casualty)
    elif not ended and not hello and not timed_out:
        tail = _last_line(stderr)
        code = "killed" if returncode is None else f"exit {returncode}"
        raise TargetError(
            f"{python} could not run the import check ({code}: {tail or 'no output'})"
        )
    elif not ended and not timed_out:
        run.evidence.append(f"the child ended between modules ({_describe_exit(returncode)})")
    return reports


def _casualty(
    module: str, returncode: int | None, started: float, stack: tuple[str, ...]
) -> ModuleReport:
    seconds = time.monotonic() - started
    if returncode is not None and returncode < 0:
        return ModuleReport(
            module, "crashed", seconds=seconds, signal=_signal_name(-returncode), stack=stack
        )
    return ModuleReport(module, "exit", seconds=seconds, exit_code=returncode, stack=stack)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "killed"
    if returncode < 0:
        return f"killed by {_signal_name(-returncode)}"
    return f"status {returncode}"


async def _drain(stream: asyncio.StreamReader | None, kept: bytearray) -> None:
    """Reads the child's fd 2 to the end, keeping only the last STDERR_KEPT bytes."""
    if stream is None:
        return
    while chunk := await stream.read(65536):
        kept += chunk
        if len(kept) > STDERR_KEPT:
            del kept[: len(kept) - STDERR_KEPT]


async def _ask_for_stack(proc: asyncio.subprocess.Process, stderr: bytearray) -> None:
    """SIGUSR1 makes the child's faulthandler print where it is stuck; wait briefly for it."""
    size = len(stderr)
    with contextlib.suppress(ProcessLookupError, PermissionError, AttributeError):
        os.kill(proc.pid, signal.SIGUSR1)
    end = time.monotonic() + TRACE_WAIT
    quiet_since = None
    while time.monotonic() < end:
        await asyncio.sleep(0.01)
        if len(stderr) > size and b"File " in stderr[size:]:
            if quiet_since is None:
                quiet_since = (len(stderr), time.monotonic())
            elif quiet_since[0] == len(stderr) and time.monotonic() - quiet_since[1] > 0.02:
                return
            else:
                quiet_since = (len(stderr), time.monotonic())


async def _finish(
    proc: asyncio.subprocess.Process, drain: asyncio.Future[None], *, gently: bool
) -> int | None:
    """Ends the child and whatever it started (its process group), reaps it, closes pipes.

    After a clean "end" the child is exiting by itself: give it a moment, so its status is
    its own; otherwise kill at once. The group is killed in both cases: a module may have
    started programs that would outlive the check.
    """
    if gently:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(proc.wait()), 0.5)
    _kill_group(proc)
    with contextlib.suppress(asyncio.TimeoutError, Exception):
        await asyncio.wait_for(asyncio.shield(proc.wait()), 1.0)
    with contextlib.suppress(asyncio.TimeoutError, Exception):
        await asyncio.wait_for(asyncio.shield(drain), 0.2)
    drain.cancel()
    transport = getattr(proc, "_transport", None)
    if transport is not None:
        transport.close()
    return proc.returncode


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    try:
        if os.name != "nt":
            os.killpg(proc.pid, signal.SIGKILL)
        elif proc.returncode is None:  # pragma: no cover - Windows
            proc.kill()
    except (ProcessLookupError, PermissionError):
        pass


_FRAME = re.compile(r'File "(?P<file>[^"]*)", line (?P<line>\d+)(?: in (?P<func>\S+))?')


def _stack(stderr: bytearray) -> tuple[str, ...]:
    """The frames of the last faulthandler dump on fd 2 as "file:line in f", innermost first.

    Frames of the import machinery and of the child script itself ("<frozen ...>",
    "<string>") say nothing about the module and are left out.
    """
    text = stderr.decode("utf-8", errors="replace")
    dump = max(text.rfind("Fatal Python error"), text.rfind("Stack (most recent"))
    if dump < 0:
        return ()
    current = text.find("Current thread", dump)  # the thread that crashed, among several
    start = current if current >= 0 else dump
    frames = []
    for line in text[start:].splitlines()[1:]:
        match = _FRAME.search(line)
        if match is None:
            if frames and not line.strip():
                break
            continue
        if not match["file"].startswith("<"):
            func = f" in {match['func']}" if match["func"] else ""
            frames.append(f"{match['file']}:{match['line']}{func}")
    return tuple(frames[:12])


def _last_line(stderr: bytearray) -> str:
    text = stderr.decode("utf-8", errors="replace")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""
