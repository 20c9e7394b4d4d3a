"""`file`: a path inside the project exists (or, with `exists = false`, does not)."""

from __future__ import annotations

import os
import shlex
import stat
from pathlib import Path

from envdoctor.context import CheckContext
from envdoctor.kinds.base import Kind
from envdoctor.model import CheckSpec, Outcome, Status
from envdoctor.options import Bool, Option, Str


class FileKind(Kind):
    name = "file"
    category = "Files"
    summary = "A file or directory, relative to the project directory."
    passes_when = "the path exists (or is absent, with exists = false)"
    options = (
        Option(
            "path",
            Str(),
            "Path relative to the project directory (absolute paths allowed).",
            required=True,
        ),
        Option(
            "exists",
            Bool(),
            "Whether the path must exist (true) or must be absent (false).",
            default=True,
        ),
    )

    async def run(self, spec: CheckSpec, ctx: CheckContext) -> Outcome:
        raw = spec.options["path"]
        path = ctx.project / Path(raw).expanduser()
        want = spec.options["exists"]
        ctx.note(f"looked for {path}")
        try:
            # stat on a thread: a path on a dead network mount must cost only this check's timeout
            mode = await ctx.run_sync(_mode, path)
        except OSError as exc:
            return Outcome(Status.ERROR, f"cannot check {raw}: {exc.strerror or exc}")
        present = mode is not None
        what = _what(mode)
        if present and want:
            return Outcome(Status.PASS, f"{raw} exists ({what})")
        if not present and not want:
            return Outcome(Status.PASS, f"{raw} is absent, as required")
        if want:
            return Outcome(Status.FAIL, f"{raw} not found in the project directory")
        return Outcome(
            Status.FAIL,
            f"{raw} exists but must not",
            fix=f"rm -r {shlex.quote(raw)}" if what == "directory" else f"rm {shlex.quote(raw)}",
        )


def _mode(path: Path) -> int | None:
    """The path's st_mode (following symlinks), None when it does not exist."""
    import errno

    try:
        return os.stat(path).st_mode
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return None
        if exc.errno == errno.ELOOP:
            raise OSError(exc.errno, "symbolic link loop") from None
        raise


def _what(mode: int | None) -> str:
    if mode is None:
        return "absent"
    for test, name in (
        (stat.S_ISDIR, "directory"),
        (stat.S_ISREG, "file"),
        (stat.S_ISFIFO, "named pipe"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
    ):
        if test(mode):
            return name
    return "special file"


KIND = FileKind()
