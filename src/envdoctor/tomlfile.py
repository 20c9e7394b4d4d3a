"""Reading TOML with line numbers, which `tomllib` does not give.

`tomllib` validates and parses; a light line scanner then maps each `[[check]]` table (and each
key inside it) to its line, so every configuration error can say `file:line`.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from typing import Any

from envdoctor.errors import ConfigError, Source
from envdoctor.lines import split_lines

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_END = re.compile(r"\s*\(at end of document\)\s*$")
_ARRAY_HEADER = re.compile(r"^\s*\[\[(.+?)\]\]\s*(?:#.*)?$")
_TABLE_HEADER = re.compile(r"^\s*\[([^\[].*?)\]\s*(?:#.*)?$")
_KEY = re.compile(r"""^\s*("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_\-]+)\s*[.=]""")


@dataclass
class TableLines:
    """Where one table starts and where each of its keys (or sub-tables) is written."""

    line: int
    keys: dict[str, int] = field(default_factory=dict)


@dataclass
class LocatedToml:
    data: dict[str, Any]
    tables: dict[str, TableLines]
    arrays: dict[str, list[TableLines]]


def read_toml(path_display: str, raw: bytes) -> LocatedToml:
    """Parses TOML bytes; raises ConfigError with `file:line` for anything that is not TOML."""
    if b"\0" in raw:
        raise ConfigError("not a TOML file (binary content)", Source(path_display, 1))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError("not a TOML file (not UTF-8 text)", Source(path_display, line)) from None
    text = text.removeprefix("\ufeff")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        line: int | None = None
        at = _AT.search(message)
        if at:
            line = int(at.group(1))
            message = message[: at.start()] + f" (column {at.group(2)})"
        elif _END.search(message):
            line = max(1, text.count("\n") + (0 if text.endswith("\n") else 1))
            message = _END.sub(" (at end of file)", message)
        raise ConfigError(f"invalid TOML: {message}", Source(path_display, line)) from None
    except (RecursionError, ValueError) as exc:  # pathological nesting, bad numbers
        raise ConfigError(f"invalid TOML: {exc}", Source(path_display, 1)) from None
    tables, arrays = _scan(text)
    return LocatedToml(data, tables, arrays)


def _name(raw: str) -> str:
    parts = re.findall(r"""\s*("(?:[^"\\]|\\.)*"|'[^']*'|[^.\s]+)\s*(?:\.|$)""", raw)
    return ".".join(p.strip("\"'") for p in parts)


def _scan(text: str) -> tuple[dict[str, TableLines], dict[str, list[TableLines]]]:
    """Maps tables, array-of-table elements and keys to lines.

    A small lexer keeps just enough state (strings, multi-line strings, comments, bracket
    depth) that a header or key is recognised only where TOML could have one: at the start of
    a line, outside strings and outside a multi-line array or inline table.
    """
    tables: dict[str, TableLines] = {"": TableLines(1)}
    arrays: dict[str, list[TableLines]] = {}
    current: TableLines | None = tables[""]
    prefix = ""  # key prefix inside a sub-table of an array element: [check.headers] -> "headers"
    state = _State()
    for number, line in enumerate(split_lines(text), start=1):
        if state.multiline is None and state.depth == 0:
            if match := _ARRAY_HEADER.match(line):
                name = _name(match.group(1))
                current = TableLines(number)
                arrays.setdefault(name, []).append(current)
                prefix = ""
                continue
            if match := _TABLE_HEADER.match(line):
                name = _name(match.group(1))
                owner = next(
                    (a for a in sorted(arrays, key=len, reverse=True) if name.startswith(a + ".")),
                    None,
                )
                if owner is not None and arrays[owner]:
                    current = arrays[owner][-1]
                    prefix = name[len(owner) + 1 :].split(".")[0]
                    current.keys.setdefault(prefix, number)
                else:
                    current = tables.setdefault(name, TableLines(number))
                    prefix = ""
                continue
            if current is not None and (match := _KEY.match(line)):
                key = match.group(1).strip("\"'")
                current.keys.setdefault(prefix or key, number)
        state.feed(line)
    return tables, arrays


class _State:
    """Where the lexer is at the end of a line: inside a multi-line string, or brackets deep."""

    def __init__(self) -> None:
        self.multiline: str | None = None
        self.depth = 0

    def feed(self, line: str) -> None:
        i, n = 0, len(line)
        while i < n:
            if self.multiline is not None:
                end = _find_close(line, i, self.multiline)
                if end < 0:
                    return
                self.multiline, i = None, end
                continue
            ch = line[i]
            if ch == "#":
                return
            if line.startswith('"""', i) or line.startswith("'''", i):
                self.multiline, i = line[i : i + 3], i + 3
            elif ch in "\"'":
                end = _find_close(line, i + 1, ch)
                i = n if end < 0 else end
            else:
                if ch in "[{":
                    self.depth += 1
                elif ch in "]}":
                    self.depth = max(0, self.depth - 1)
                i += 1


def _find_close(line: str, i: int, quote: str) -> int:
    """Index just past the closing `quote` from i (basic strings honour backslashes), or -1."""
    escapes = quote.startswith('"')
    while i < len(line):
        if escapes and line[i] == "\\":
            i += 2
            continue
        if line.startswith(quote, i):
            end = i + len(quote)
            while len(quote) == 3 and line.startswith(quote[0], end) and end - i < 5:
                end += 1  # up to two quotes may close a multi-line string: """""
            return end
        i += 1
    return -1
