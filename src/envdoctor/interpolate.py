"""`${VAR}` interpolation, as in shells and compose files, for every string in a check module.

Supported: `${VAR}`, `${VAR:-default}` (unset or empty), `${VAR-default}` (unset),
`${VAR:?message}` / `${VAR?message}` (required), nesting inside defaults, and `$$` for a literal
`$`. A lone `$` (as in a regex) is left alone. An unset variable without a default is not a
crash: it raises `MissingVariable`, which the loader turns into that check's `error`.
Values are never put into error messages: they may be secrets.

`compose=True` is Docker Compose's dialect of the same grammar, for reading compose files:
`$NAME` too, `${VAR:+alt}` / `${VAR+alt}`, and an unset variable is empty, never an error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from envdoctor.errors import ConfigError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class MissingVariable(Exception):
    """A `${VAR}` with no value and no default; `str()` is the user-facing reason."""

    def __init__(self, name: str, message: str | None = None) -> None:
        super().__init__(message or f"{name} is not set")
        self.name = name


@dataclass
class Interpolator:
    """Expands strings against `variables`; remembers which names it read (for explanations)."""

    variables: Mapping[str, str]
    used: set[str] = field(default_factory=set)
    compose: bool = False
    _depth: int = field(default=0, repr=False)

    def expand(self, text: str) -> str:
        if "$" not in text:
            return text
        value, end = self._expand(text, 0, inside=False)
        assert end == len(text)
        return value

    def expand_value(self, value: object) -> object:
        """Expands strings inside lists and tables too; other values pass through."""
        if isinstance(value, str):
            return self.expand(value)
        if isinstance(value, list):
            return [self.expand_value(v) for v in value]
        if isinstance(value, dict):
            return {k: self.expand_value(v) for k, v in value.items()}
        return value

    def _expand(self, text: str, pos: int, *, inside: bool) -> tuple[str, int]:
        out: list[str] = []
        while pos < len(text):
            ch = text[pos]
            if inside and ch == "}":
                return "".join(out), pos
            if ch != "$":
                out.append(ch)
                pos += 1
                continue
            nxt = text[pos + 1 : pos + 2]
            if nxt == "$":
                out.append("$")
                pos += 2
            elif nxt == "{":
                value, pos = self._substitution(text, pos + 2)
                out.append(value)
            elif self.compose:
                match = _NAME.match(text, pos + 1)
                if not match:
                    raise ConfigError("a '$' that starts no variable (write '$$' for a dollar)")
                self.used.add(match.group(0))
                out.append(self.variables.get(match.group(0), ""))
                pos = match.end()
            else:
                out.append("$")
                pos += 1
        if inside:
            raise ConfigError(f"unterminated '${{' in {text!r}")
        return "".join(out), pos

    def _substitution(self, text: str, pos: int) -> tuple[str, int]:
        match = _NAME.match(text, pos)
        if not match:
            raise ConfigError(f"bad variable reference in {text!r}: expected a name after '${{'")
        name, pos = match.group(0), match.end()
        self.used.add(name)
        value = self.variables.get(name)
        if text.startswith("}", pos):
            if value is None:
                if self.compose:
                    return "", pos + 1
                raise MissingVariable(name)
            return value, pos + 1
        for op in (":-", "-", ":?", "?", *((":+", "+") if self.compose else ())):
            if text.startswith(op, pos):
                break
        else:
            raise ConfigError(
                f"bad variable reference '${{{name}{text[pos : pos + 1]}' in {text!r}: "
                "use ${VAR}, ${VAR:-default} or ${VAR:?message}"
            )
        start = pos + len(op)
        end = _closing_brace(text, start)
        unset = value is None or (op.startswith(":") and value == "")
        if op.endswith("+"):  # compose's alternative: the argument when set, else nothing
            return (self._nested(text, start, end) if not unset else ""), end + 1
        if not unset:  # the default is not even looked at, as in a shell
            return value, end + 1  # type: ignore[return-value]
        if op.endswith("-"):
            return self._nested(text, start, end), end + 1
        if self.compose:  # compose would refuse the file; reading it, the value is empty
            return "", end + 1
        # The message is shown as written: expanding it could reveal another variable's value.
        message = text[start:end]
        raise MissingVariable(name, f"{name} is not set" + (f": {message}" if message else ""))

    def _nested(self, text: str, start: int, end: int) -> str:
        """A default or alternative, itself expanded (nesting has a limit, not a stack overflow)."""
        if self._depth >= MAX_NESTING:
            raise ConfigError(f"interpolation nested more than {MAX_NESTING} deep in {text!r}")
        self._depth += 1
        try:
            value, _ = self._expand(text[: end + 1], start, inside=True)
        finally:
            self._depth -= 1
        return value


MAX_NESTING = 20


def _closing_brace(text: str, pos: int) -> int:
    """Index of the `}` that closes the reference whose argument starts at `pos`."""
    depth = 0
    while pos < len(text):
        if text.startswith("$$", pos):
            pos += 2
            continue
        if text.startswith("${", pos):
            depth += 1
            pos += 2
            continue
        if text[pos] == "}":
            if depth == 0:
                return pos
            depth -= 1
        pos += 1
    raise ConfigError(f"unterminated '${{' in {text!r}")


def expand_dotenv(values: Mapping[str, str], environ: Mapping[str, str]) -> dict[str, str]:
    """A dotenv file's values with their ${VAR} references expanded, as python-dotenv and
    compose do: against the environment, then the file's own keys. A reference that cannot be
    resolved leaves that value as written (a dotenv file is not a check module)."""
    interpolator = Interpolator({**values, **environ})
    expanded: dict[str, str] = {}
    for key, value in values.items():
        try:
            expanded[key] = interpolator.expand(value)
        except (MissingVariable, ConfigError):
            expanded[key] = value
    return expanded
