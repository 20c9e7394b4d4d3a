"""`disk`: enough free space where the project (or its data) lives.

Tests that build images, write fixtures or start databases fail late and obscurely on a full
disk ("No space left on device" inside a container log); this says so up front, with the
filesystem and the amount. The space counted is what an unprivileged user may still write
(statvfs f_bavail), as psutil reports it, not the root-reserved remainder.
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from envdoctor.context import CheckContext
from envdoctor.kinds.base import Kind
from envdoctor.model import CheckSpec, Outcome, Status
from envdoctor.options import Option, Size, Str
from envdoctor.units import format_size


@dataclass(frozen=True)
class Usage:
    measured: Path
    mount: Path
    free: int
    total: int


class DiskKind(Kind):
    name = "disk"
    category = "System"
    summary = "Free space on the filesystem holding a path."
    passes_when = "at least `min_free` is free on the filesystem holding `path`"
    options = (
        Option(
            "path",
            Str(),
            "Path whose filesystem is measured, relative to the project directory "
            "(a path that does not exist yet is measured at its nearest existing parent).",
            default=".",
        ),
        Option(
            "min_free", Size(), 'Space that must be free, e.g. "2GB" or "512MiB".', required=True
        ),
    )

    async def run(self, spec: CheckSpec, ctx: CheckContext) -> Outcome:
        raw: str = spec.options.get("path") or "."
        wanted: int = spec.options["min_free"]
        path = ctx.project / os.path.expanduser(raw)
        usage = await ctx.run_sync(_usage, path)
        if usage.measured != path:
            ctx.note(f"{path} does not exist; measured {usage.measured}")
        ctx.note(
            f"{usage.measured}: filesystem {usage.mount}, {usage.free} bytes free "
            f"of {usage.total}, {wanted} required"
        )
        free, need = format_size(usage.free), format_size(wanted)
        if usage.free >= wanted:
            return Outcome(Status.PASS, f"{free} free on {usage.mount} (needs {need})")
        return Outcome(
            Status.FAIL,
            f"only {free} free on {usage.mount} (of {format_size(usage.total)}), "
            f"needs {need} for {raw}",
            fix=_largest_command(usage.mount),
        )


def _usage(path: Path) -> Usage:
    """Free space on the nearest existing path (blocking: a dead NFS mount can hang).

    statvfs's f_bavail is what psutil.disk_usage reports as free (space an unprivileged user
    can use); calling it directly saves importing psutil on the hot path.
    """
    measured = path.resolve()
    while not measured.exists() and measured != measured.parent:
        measured = measured.parent
    mount = measured
    while not os.path.ismount(mount) and mount != mount.parent:
        mount = mount.parent
    if hasattr(os, "statvfs"):
        st = os.statvfs(measured)
        return Usage(measured, mount, st.f_bavail * st.f_frsize, st.f_blocks * st.f_frsize)
    import psutil  # pragma: no cover - Windows

    usage = psutil.disk_usage(str(measured))  # pragma: no cover - Windows
    return Usage(measured, mount, int(usage.free), int(usage.total))  # pragma: no cover


def _largest_command(mount: Path) -> str:
    """What to look at first: the biggest directories on that filesystem."""
    where = shlex.quote(str(mount))
    if sys.platform == "win32":  # pragma: no cover - Windows
        return f"dir /s {where}"
    return f"du -xh -d 1 {where} 2>/dev/null | sort -h | tail -n 15"


KIND = DiskKind()
