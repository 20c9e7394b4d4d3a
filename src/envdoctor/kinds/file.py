"""`file`: a path inside the project exists (or, with `exists = false`, does not)."""

from __future__ import annotations

import shlex

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
        path = ctx.project / raw
        want = spec.options["exists"]
        ctx.note(f"looked for {path}")
        present = path.exists()
        what = "directory" if path.is_dir() else "file"
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


KIND = FileKind()
