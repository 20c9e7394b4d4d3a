"""A small JSON cache in the user's cache directory, never in the project (DESIGN.md §11).

Why a cache at all: reading ~100 distributions' metadata is cheap, but asking another
interpreter for its `sys.path` costs a child process (15-20 ms); a valid cache entry answers
in about a millisecond. Everything here is best effort: a cache that cannot be read or
written is a miss, never an error, and the caller notes why in the check's evidence.

Entries are whole JSON documents, one file each, replaced atomically (a temporary file + os.replace)
so a concurrent run or a crash never leaves half a file behind for the next run to trust.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

APP = "envdoctor"


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The user cache directory of envdoctor, by the platform's convention.

    `$XDG_CACHE_HOME` wins everywhere when it is an absolute path (the XDG spec says to
    ignore a relative one); then `%LOCALAPPDATA%\\envdoctor\\Cache` on Windows,
    `~/Library/Caches/envdoctor` on macOS and `~/.cache/envdoctor` elsewhere.
    """
    env = os.environ if environ is None else environ
    xdg = env.get("XDG_CACHE_HOME", "")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / APP
    if sys.platform == "win32":  # pragma: no cover - Windows
        local = env.get("LOCALAPPDATA", "")
        if local and os.path.isabs(local):
            return Path(local) / APP / "Cache"
        return Path.home() / "AppData" / "Local" / APP / "Cache"
    if sys.platform == "darwin":  # pragma: no cover - macOS
        return Path.home() / "Library" / "Caches" / APP
    return Path.home() / ".cache" / APP


def entry_path(section: str, identity: str, *, base: Path | None = None) -> Path:
    """Where the entry for `identity` (e.g. an interpreter path) lives: a hash, so any
    path makes a valid, fixed-length file name."""
    return (base or cache_dir()) / section / f"{fnv1a64(identity):016x}.json"


def fnv1a64(text: str) -> int:
    """A stable 64-bit hash without importing hashlib (3 ms) for a name: the entry itself
    records its identity, so a collision costs a miss, never a wrong answer."""
    value = 0xCBF29CE484222325
    for byte in text.encode("utf-8", "surrogatepass"):
        value = ((value ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return value


def inside(path: Path, directory: Path) -> bool:
    """True when `path` is `directory` or below it (both resolved): the cache must never
    land in the project, even when HOME or XDG_CACHE_HOME points into it."""
    try:
        path.resolve().relative_to(directory.resolve())
    except (ValueError, OSError, RuntimeError):  # RuntimeError: a symlink loop
        return False
    return True


def read_entry(path: Path) -> tuple[Any, str | None]:
    """The decoded entry, or (None, why) for a missing, unreadable or corrupt file."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return None, "no cache entry yet"
    except OSError as exc:
        return None, f"cache entry unreadable ({exc.strerror or type(exc).__name__})"
    try:
        return json.loads(raw), None
    except (ValueError, UnicodeDecodeError):
        return None, "cache entry corrupt (not JSON): ignored"


def write_entry(path: Path, data: Any) -> str | None:
    """Writes the entry atomically; returns why it could not (None on success)."""
    try:
        payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode(
            "utf-8", "surrogatepass"
        )
    except (TypeError, ValueError) as exc:
        return f"cache entry not serialisable ({exc})"
    # Not `tempfile` (11 ms to import): a unique name next to the target, created exclusively.
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        candidate = str(path.parent / f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        fd = os.open(candidate, flags, 0o600)
        tmp = candidate
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        return f"cache not written ({exc.strerror or type(exc).__name__})"
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return None


def prune(directory: Path, keep: int) -> int:
    """Removes all but the `keep` most recently written entries of a section: one entry per
    interpreter ever inspected (temporary venvs included) must not grow without bound.
    Returns how many were removed; never raises."""
    try:
        entries = [e for e in os.scandir(directory) if e.name.endswith(".json")]
        if len(entries) <= keep:
            return 0
        entries.sort(key=lambda e: e.stat().st_mtime_ns, reverse=True)
    except OSError:
        return 0
    removed = 0
    for entry in entries[keep:]:
        with contextlib.suppress(OSError):
            os.unlink(entry.path)
            removed += 1
    return removed
