"""The shape of a kind: what it checks, its options, and how it explains itself.

A kind is one module defining one `Kind` subclass instance named `KIND`, plus one line in
`kinds/__init__.py`. Module level stays import-light: heavy libraries are imported in `run`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from envdoctor.context import CheckContext
from envdoctor.model import CheckSpec, Outcome
from envdoctor.options import Option


class Kind:
    name: ClassVar[str]
    category: ClassVar[str]
    summary: ClassVar[str]
    passes_when: ClassVar[str]
    options: ClassVar[tuple[Option, ...]] = ()
    # For the reference docs: when this kind runs programs or project code (see runs_code).
    safe_mode_note: ClassVar[str | None] = None

    def validate(self, options: dict[str, Any]) -> list[tuple[str | None, str]]:
        """Cross-option rules (e.g. "host or address"): (option name or None, message) each."""
        return []

    def default_timeout(self, spec: CheckSpec) -> float | None:
        """A kind-specific default deadline; None means the settings' default."""
        return None

    def runs_code(self, spec: CheckSpec) -> bool:
        """True when the check runs project code or programs: skipped under `--safe`."""
        return False

    async def run(self, spec: CheckSpec, ctx: CheckContext) -> Outcome:
        raise NotImplementedError

    def option(self, name: str) -> Option | None:
        return next((o for o in self.options if o.name == name), None)
