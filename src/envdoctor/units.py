"""Durations ("500ms", "2s", "1m30s", 5) and sizes ("2GB", "512MiB", 1024) as users write them.

Both parsers accept exactly what DESIGN.md §3 promises and raise only `ConfigError`, whatever
the input: they are fed straight from TOML and from `--timeout`/`--wait` on the command line.
"""

from __future__ import annotations

import math
import re

from envdoctor.errors import ConfigError

_DURATION_UNITS = {
    "ms": 0.001,
    "s": 1.0,
    "sec": 1.0,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(ms|sec|min|s|m|h)", re.ASCII)
_NUMBER = re.compile(r"(\d+(?:\.\d*)?|\.\d+)", re.ASCII)

# Decimal units as disk vendors write them; binary ones as the kernel counts; a bare letter
# (512M, 2G) means binary, as in `docker run --memory`.
_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "pb": 10**15,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
    "pib": 2**50,
    "k": 2**10,
    "m": 2**20,
    "g": 2**30,
    "t": 2**40,
    "p": 2**50,
}
_SIZE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)", re.ASCII)

MAX_SECONDS = 7 * 24 * 3600.0


def parse_duration(value: object) -> float:
    """Seconds from a duration; raises ConfigError for anything that is not one."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError(f'expected a duration such as "500ms", "2s" or "1m", got {_show(value)}')
    if isinstance(value, (int, float)):
        seconds = _float(value)
    else:
        text = value.strip().lower()
        if _NUMBER.fullmatch(text):
            seconds = float(text)
        else:
            pos, seconds, compact = 0, 0.0, text.replace(" ", "")
            for match in _DURATION_PART.finditer(compact):
                if match.start() != pos:
                    break
                seconds += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
                pos = match.end()
            if pos != len(compact) or not compact:
                raise ConfigError(
                    f'not a duration: {_show(value)} (use e.g. "500ms", "2s", "1m" or a number of seconds)'
                )
    if math.isnan(seconds) or math.isinf(seconds) or seconds < 0:
        raise ConfigError(f"not a duration: {_show(value)} (must be a finite number >= 0)")
    if seconds > MAX_SECONDS:
        raise ConfigError(f"duration {_show(value)} is longer than a week")
    return seconds


def parse_size(value: object) -> int:
    """Bytes from a size; raises ConfigError for anything that is not one."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError(f'expected a size such as "2GB" or "512MiB", got {_show(value)}')
    if isinstance(value, (int, float)):
        number, factor = _float(value), 1
    else:
        match = _SIZE.fullmatch(value.strip().lower())
        if not match or match.group(2) not in _SIZE_UNITS:
            raise ConfigError(
                f'not a size: {_show(value)} (use e.g. "2GB", "512MiB" or a number of bytes)'
            )
        number, factor = float(match.group(1)), _SIZE_UNITS[match.group(2)]
    if math.isnan(number) or math.isinf(number) or number < 0:
        raise ConfigError(f"not a size: {_show(value)} (must be a finite number >= 0)")
    result = number * factor
    if result > 2**63:
        raise ConfigError(f"size {_show(value)} is too large")
    return int(result)


def _float(value: int | float) -> float:
    """TOML integers are unbounded: one too large for a float is "too large", not a crash."""
    try:
        return float(value)
    except OverflowError:
        raise ConfigError(f"{_show(value)} is too large") from None


def format_duration(seconds: float) -> str:
    """Human form used in messages: "250 ms", "1.0 s", "2 min 5 s"."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def format_size(size: float) -> str:
    """Binary units, one decimal: "1.5 GiB"."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(size) < 1024 or unit == "PiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} PiB"  # pragma: no cover - loop always returns


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def format_elapsed(seconds: float) -> str:
    """Connect times as people compare them: "0.4 ms", "12 ms", "1.2 s"."""
    if seconds < 0.01:
        return f"{seconds * 1000:.1f} ms"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return format_duration(seconds)
