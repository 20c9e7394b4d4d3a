"""Option definitions: the one source of truth for validation, `envdoctor schema` and the docs.

Every kind declares its options as `Option`s; the loader coerces raw TOML values through them,
`schema.py` turns the same objects into JSON Schema, and the reference docs are checked against
them, so the three can never disagree.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from envdoctor.errors import ConfigError
from envdoctor.units import parse_duration, parse_size


def _range_text(minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f" from {minimum} to {maximum}"
    if minimum is not None:
        return f" >= {minimum}"
    if maximum is not None:
        return f" <= {maximum}"
    return ""


def _type_name(value: Any) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
    }.get(type(value), type(value).__name__)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class OptionType:
    """How one kind of value is validated, described and expressed in JSON Schema."""

    name = "value"

    def coerce(self, value: Any) -> Any:
        raise NotImplementedError

    def coerce_interpolated(self, value: Any) -> Any:
        """A value that came through ${VAR}: always text, so numbers and booleans are parsed."""
        return self.coerce(value)

    def schema(self) -> dict[str, Any]:
        raise NotImplementedError

    def fail(self, value: Any) -> ConfigError:
        return ConfigError(f"expected {self.name}, got {_type_name(value)} {_short(value)}")


class Str(OptionType):
    name = "a string"

    def __init__(self, pattern: str | None = None, hint: str = "") -> None:
        self.pattern = pattern
        self.hint = hint

    def coerce(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise self.fail(value)
        if self.pattern and not re.fullmatch(self.pattern, value):
            raise ConfigError(
                f"{_short(value)} is not valid{': ' + self.hint if self.hint else ''}"
            )
        return value

    def schema(self) -> dict[str, Any]:
        return {"type": "string", **({"pattern": f"^(?:{self.pattern})$"} if self.pattern else {})}


class Choice(OptionType):
    def __init__(self, *values: str) -> None:
        self.values = values
        self.name = "one of " + ", ".join(repr(v) for v in values)

    def coerce(self, value: Any) -> Any:
        if value not in self.values:
            hint = did_you_mean(str(value), self.values) if isinstance(value, str) else ""
            raise ConfigError(f"expected {self.name}, got {_short(value)}{hint}")
        return value

    def schema(self) -> dict[str, Any]:
        return {"enum": list(self.values)}


class Bool(OptionType):
    name = "true or false"

    def coerce_interpolated(self, value: Any) -> Any:
        text = str(value).strip().lower()
        if text in ("true", "1", "yes", "on"):
            return True
        if text in ("false", "0", "no", "off"):
            return False
        raise self.fail(value)

    def coerce(self, value: Any) -> Any:
        if not isinstance(value, bool):
            raise self.fail(value)
        return value

    def schema(self) -> dict[str, Any]:
        return {"type": "boolean"}


class Int(OptionType):
    def __init__(self, minimum: int | None = None, maximum: int | None = None) -> None:
        self.minimum, self.maximum = minimum, maximum
        self.name = "an integer" + _range_text(minimum, maximum)

    def coerce_interpolated(self, value: Any) -> Any:
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            value = int(value)
        return self.coerce(value)

    def coerce(self, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(value)
        if (self.minimum is not None and value < self.minimum) or (
            self.maximum is not None and value > self.maximum
        ):
            raise ConfigError(f"{value} is out of range: expected {self.name}")
        return value

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "integer"}
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        return out


class Number(OptionType):
    def __init__(self, minimum: float | None = None, maximum: float | None = None) -> None:
        self.minimum, self.maximum = minimum, maximum
        self.name = "a number" + _range_text(minimum, maximum)

    def coerce_interpolated(self, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise self.fail(value) from None
        return self.coerce(value)

    def coerce(self, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(value)
        try:
            finite = math.isfinite(value)
        except OverflowError:  # an integer too large for a float
            finite = False
        if not finite:
            raise ConfigError(f"expected a number, got {_short(value)} (it must be finite)")
        if (self.minimum is not None and value < self.minimum) or (
            self.maximum is not None and value > self.maximum
        ):
            raise ConfigError(f"{value} is out of range: expected {self.name}")
        return value

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "number"}
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        return out


class Duration(OptionType):
    name = 'a duration ("500ms", "2s", "1m" or seconds)'

    def coerce(self, value: Any) -> Any:
        return parse_duration(value)

    def schema(self) -> dict[str, Any]:
        number = r"(\d+(\.\d*)?|\.\d+)"
        unit = "(" + "|".join(_anycase(u) for u in ("ms", "sec", "min", "s", "m", "h")) + ")"
        part = rf"{number}\s*{unit}\s*"
        return {
            "anyOf": [
                {"type": "number", "minimum": 0},
                {"type": "string", "pattern": rf"^\s*({number}\s*|({part})+)$"},
            ]
        }


def _anycase(word: str) -> str:
    """A case-insensitive regex for JSON Schema, whose ECMA regexes have no (?i)."""
    return "".join(f"[{c.lower()}{c.upper()}]" for c in word)


class Size(OptionType):
    name = 'a size ("2GB", "512MiB" or bytes)'

    def coerce(self, value: Any) -> Any:
        return parse_size(value)

    def schema(self) -> dict[str, Any]:
        return {
            "anyOf": [
                {"type": "number", "minimum": 0},
                {
                    "type": "string",
                    "pattern": r"^\s*(\d+(\.\d*)?|\.\d+)\s*([kKmMgGtTpP]i?[bB]?|[bB])?\s*$",
                },
            ]
        }


class StrList(OptionType):
    """A list of strings; `single=True` also takes one bare string (as a one-item list)."""

    def __init__(self, single: bool = True, non_empty: bool = False) -> None:
        self.single, self.non_empty = single, non_empty
        self.name = "a list of strings" + (" or a string" if single else "")

    def coerce(self, value: Any) -> Any:
        if isinstance(value, str) and self.single:
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(value)
        if self.non_empty and not value:
            raise ConfigError("expected a non-empty list")
        return list(value)

    def schema(self) -> dict[str, Any]:
        items: dict[str, Any] = {"type": "array", "items": {"type": "string"}}
        if self.non_empty:
            items["minItems"] = 1
        return {"anyOf": [{"type": "string"}, items]} if self.single else items


class StrMap(OptionType):
    """A TOML table of string values (headers, name -> regex)."""

    name = "a table of strings"

    def coerce(self, value: Any) -> Any:
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise self.fail(value)
        return dict(value)

    def schema(self) -> dict[str, Any]:
        return {"type": "object", "additionalProperties": {"type": "string"}}


class IntOrIntList(OptionType):
    """One integer or a list of them (exit statuses)."""

    name = "an integer or a list of integers"

    def coerce_interpolated(self, value: Any) -> Any:
        values = value if isinstance(value, list) else [value]
        try:
            return [Int().coerce_interpolated(v) for v in values]
        except ConfigError:
            raise self.fail(value) from None

    def coerce(self, value: Any) -> Any:
        values = value if isinstance(value, list) else [value]
        try:
            return [Int().coerce(v) for v in values]
        except ConfigError:
            raise self.fail(value) from None

    def schema(self) -> dict[str, Any]:
        return {"anyOf": [{"type": "integer"}, {"type": "array", "items": {"type": "integer"}}]}


@dataclass(frozen=True)
class Option:
    """One option of a check: its name, type, default and what it means (for docs and schema)."""

    name: str
    type: OptionType
    doc: str
    default: Any = None
    required: bool = False
    interpolate: bool = True

    def coerce(self, value: Any) -> Any:
        return self.type.coerce(value)

    def schema(self) -> dict[str, Any]:
        out = dict(self.type.schema())
        if self.interpolate and out.get("type") != "string":
            # Any value may come from ${VAR} (DESIGN.md §3): a string holding one is valid too.
            out = {"anyOf": [out, {"type": "string", "pattern": r"\$\{"}]}
        out["description"] = self.doc
        if self.default is not None:
            out["default"] = self.default
        return out


ID_PATTERN = r"[A-Za-z0-9_][A-Za-z0-9_.:\-]*"

COMMON_OPTIONS: tuple[Option, ...] = (
    Option(
        "id",
        Str(ID_PATTERN, "letters, digits, '_', '-', '.', ':'"),
        "Unique name of the check across all modules.",
        required=True,
        interpolate=False,
    ),
    Option(
        "kind", Str(), "What is checked; see the kinds reference.", required=True, interpolate=False
    ),
    Option("title", Str(), "Human title shown in reports (default: the id)."),
    Option(
        "severity",
        Choice("required", "optional"),
        "`required` checks decide readiness; `optional` ones only lower the score.",
        default="required",
        interpolate=False,
    ),
    Option(
        "weight",
        Number(minimum=0, maximum=1000),
        "Score weight; overrides the severity's (3 required, 1 optional).",
    ),
    Option("tags", StrList(), "Labels for `--only`/`--skip`.", interpolate=False),
    Option(
        "timeout", Duration(), "Total deadline of the check: connect, read and retries included."
    ),
    Option(
        "depends_on",
        StrList(),
        "Ids of checks that must pass first; otherwise this one is `blocked`.",
        interpolate=False,
    ),
    Option(
        "when",
        Str(),
        'PEP 508 marker evaluated for the target interpreter, e.g. `sys_platform == "linux"`; false means `skip`.',
    ),
    Option("skip", Str(), "A reason: the check is always skipped, with this reason."),
    Option("fix", Str(), "The command that fixes a failure; overrides the kind's own hint."),
)
COMMON_NAMES = frozenset(o.name for o in COMMON_OPTIONS)

SETTINGS_OPTIONS: tuple[Option, ...] = (
    Option(
        "include",
        StrList(),
        "Glob patterns of check modules, relative to the project directory.",
        default=["checks/*.toml"],
        interpolate=False,
    ),
    Option("timeout", Duration(), "Default per-check timeout.", default="5s"),
    Option("min_score", Int(0, 100), "Not ready below this score.", default=0),
    Option(
        "dotenv",
        Str(),
        "A dotenv file whose values are used for ${VAR} interpolation (never printed).",
        interpolate=False,
    ),
)


def did_you_mean(word: str, candidates: object) -> str:
    """` (did you mean 'url'?)` when a close candidate exists, else ``."""
    import difflib

    names = [c for c in candidates if isinstance(c, str)]  # type: ignore[attr-defined]
    close = difflib.get_close_matches(word, names, n=1, cutoff=0.6)
    if not close:
        lowered = {n.lower().replace("-", "_"): n for n in names}
        hit = lowered.get(word.lower().replace("-", "_"))
        close = [hit] if hit else []
    return f" (did you mean '{close[0]}'?)" if close else ""
