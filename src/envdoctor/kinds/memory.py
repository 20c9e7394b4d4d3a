"""`memory`: enough memory available to start what the tests need.

A test session that starts Postgres, Redis and a browser on a small CI runner gets OOM-killed
without a word; this compares what the kernel says is *available* (free plus reclaimable
cache, psutil's `virtual_memory().available`), not the misleading "free" figure.
"""

from __future__ import annotations

import sys

from envdoctor.context import CheckContext
from envdoctor.kinds.base import Kind
from envdoctor.model import CheckSpec, Outcome, Status
from envdoctor.options import Option, Size
from envdoctor.units import format_size


class MemoryKind(Kind):
    name = "memory"
    category = "System"
    summary = "Memory available to new processes."
    passes_when = "at least `min_available` of memory is available"
    options = (
        Option(
            "min_available",
            Size(),
            'Memory that must be available, e.g. "2GB" or "512MiB".',
            required=True,
        ),
    )

    async def run(self, spec: CheckSpec, ctx: CheckContext) -> Outcome:
        wanted: int = spec.options["min_available"]
        available, total = await ctx.run_sync(_memory)
        ctx.note(f"{available} bytes available of {total}, {wanted} required")
        have, need = format_size(available), format_size(wanted)
        if available >= wanted:
            return Outcome(Status.PASS, f"{have} available (needs {need})")
        return Outcome(
            Status.FAIL,
            f"only {have} available of {format_size(total)}, needs {need}",
            fix=_largest_command(),
        )


def _memory() -> tuple[int, int]:
    """(available, total) bytes. On Linux straight from /proc/meminfo's MemAvailable, which is
    what psutil reports there, without its import cost; elsewhere psutil."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            fields = dict(line.split(":", 1) for line in handle if ":" in line)
        return _kib(fields["MemAvailable"]), _kib(fields["MemTotal"])
    except (OSError, KeyError, ValueError):
        pass
    import psutil

    vm = psutil.virtual_memory()
    return int(vm.available), int(vm.total)


def _kib(field: str) -> int:
    return int(field.split()[0]) * 1024


def _largest_command() -> str:
    """What to look at first: the processes holding the most memory."""
    if sys.platform == "darwin":  # pragma: no cover - macOS
        return "ps aux -m | head -n 11"
    if sys.platform == "win32":  # pragma: no cover - Windows
        return 'tasklist /fi "memusage gt 200000"'
    return "ps aux --sort=-rss | head -n 11"


KIND = MemoryKind()
