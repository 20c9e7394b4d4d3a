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
    # True when `validate` never quotes an option's value: then a value that came through
    # ${VAR} and is invalid gets the kind's own words ("the port in the URL must be ..."),
    # not a generic "the value from ${...} is not valid".
    messages_hide_values: ClassVar[bool] = False

    def validate(self, options: dict[str, Any]) -> list[tuple[str | None, str]]:
        """Cross-option rules (e.g. "host or address"): (option name or None, message) each."""
        return []

    def default_timeout(self, spec: CheckSpec) -> float | None:
        """A kind-specific default deadline; None means the settings' default."""
        return None

    def secrets(self, options: dict[str, Any]) -> list[str]:
        """Option values that are secrets whatever their name (an HTTP header's value, a token
        given as a URL's user): masked in every report, log and `explain`, like URL passwords."""
        return []

    def runs_code(self, spec: CheckSpec) -> bool:
        """True when the check runs project code or programs: skipped under `--safe`."""
        return False

    async def run(self, spec: CheckSpec, ctx: CheckContext) -> Outcome:
        raise NotImplementedError

    def option(self, name: str) -> Option | None:
        return next((o for o in self.options if o.name == name), None)
