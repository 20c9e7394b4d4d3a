"""A `.env` reader: what docker compose and python-dotenv accept, with line numbers.

It never raises on content: malformed lines come back as `problems` (line, reason) so the
`env` kind can report them with `file:line` while settings-level interpolation just skips them.
Values are secrets by default: nothing here formats them into a message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from envdoctor.errors import ProjectFileError, Source
from envdoctor.lines import split_lines

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


@dataclass
class DotenvFile:
    path: str
    values: dict[str, str] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    problems: list[tuple[int, str]] = field(default_factory=list)


def read_dotenv(path: Path, display: str | None = None) -> DotenvFile:
    """Parses a dotenv file; raises ProjectFileError only when it cannot be read at all."""
    shown = display or str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ProjectFileError(f"cannot read: {exc.strerror or exc}", Source(shown)) from None
    if b"\0" in raw:
        raise ProjectFileError("binary file, not a dotenv file", Source(shown))
    return parse_dotenv(raw.decode("utf-8", errors="replace"), shown)


def parse_dotenv(text: str, path: str = ".env") -> DotenvFile:
    result = DotenvFile(path)
    lines = split_lines(text.removeprefix("\ufeff"))
    i = 0
    while i < len(lines):
        lineno, line = i + 1, lines[i].strip()
        i += 1
        if not line or line.startswith("#"):
            continue
        if line.startswith("export ") or line.startswith("export\t"):
            line = line[7:].lstrip()
        key_match = _KEY.match(line)
        rest = line[key_match.end() :].lstrip() if key_match else ""
        if not key_match or not rest.startswith("="):
            result.problems.append((lineno, "not a KEY=value line"))
            continue
        key, rest = key_match.group(0), rest[1:].lstrip()
        if rest[:1] in ('"', "'"):
            quote = rest[0]
            body = rest[1:]
            resume = i
            # A quoted value may span lines until its closing quote.
            while _closing(body, quote) < 0 and i < len(lines):
                body += "\n" + lines[i]
                i += 1
            end = _closing(body, quote)
            if end < 0:  # report it, and read on from the next line: nothing else is lost
                result.problems.append((lineno, f"unterminated {quote} quote"))
                i = resume
                continue
            value = body[:end]
            if quote == '"':
                value = re.sub(
                    r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), value
                )
        else:
            value = re.split(r"\s+#", rest, maxsplit=1)[0].rstrip()
        result.values[key] = value
        result.lines[key] = lineno
    return result


def _closing(body: str, quote: str) -> int:
    i = 0
    while i < len(body):
        if body[i] == "\\" and quote == '"':
            i += 2
            continue
        if body[i] == quote:
            return i
        i += 1
    return -1
