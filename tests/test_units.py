"""Durations and sizes: every form DESIGN.md §3 promises, and nothing but ConfigError otherwise.

These parsers take raw TOML values and command-line strings, so the property tests throw
arbitrary text, numbers and containers at them: the only acceptable failure is ConfigError.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envdoctor.errors import ConfigError
from envdoctor.units import (
    MAX_SECONDS,
    format_duration,
    format_elapsed,
    format_size,
    parse_duration,
    parse_size,
)

FUZZ = settings(max_examples=200, deadline=None)

# -- durations ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("2s", 2.0),
        ("1m", 60.0),
        ("1m30s", 90.0),
        (5, 5.0),
        (0.5, 0.5),
        ("1.5s", 1.5),
        ("2h", 7200.0),
        ("0", 0.0),
        ("5", 5.0),
        ("2.5", 2.5),
        (".5s", 0.5),
        ("  2s  ", 2.0),
        ("2S", 2.0),
        ("1 m 30 s", 90.0),
        ("5 ms", 0.005),
        ("2sec", 2.0),
        ("3min", 180.0),
        ("1h30m", 5400.0),
        (0, 0.0),
    ],
)
def test_duration_forms(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


def test_duration_returns_float_for_int() -> None:
    value = parse_duration(5)
    assert isinstance(value, float)
    assert value == 5.0


@pytest.mark.parametrize(
    "value",
    [
        -1,
        -0.5,
        "-1s",
        "-2",
        float("nan"),
        float("inf"),
        float("-inf"),
        "nan",
        "inf",
        True,
        False,
        [1],
        ["2s"],
        {"s": 1},
        None,
        "5 parsecs",
        "",
        "   ",
        "s",
        "ms",
        "1e3",
        "2 seconds",
        "1m30",
        "1.2.3s",
        "s2",
        "2s!",
        "١٢",  # Arabic-Indic digits: not ASCII digits
        "1" * 400,  # a number that overflows to inf
    ],
)
def test_duration_rejects(value: object) -> None:
    with pytest.raises(ConfigError) as info:
        parse_duration(value)
    assert info.value.message


def test_duration_error_says_what_is_expected() -> None:
    with pytest.raises(ConfigError, match=r"not a duration: '5 parsecs'.*500ms"):
        parse_duration("5 parsecs")
    with pytest.raises(ConfigError, match=r"expected a duration .* got True"):
        parse_duration(True)
    with pytest.raises(ConfigError, match=">= 0"):
        parse_duration(-1)


def test_duration_longer_than_a_week() -> None:
    assert parse_duration(MAX_SECONDS) == MAX_SECONDS
    with pytest.raises(ConfigError, match="longer than a week"):
        parse_duration("169h")


def test_duration_error_shortens_long_values() -> None:
    with pytest.raises(ConfigError) as info:
        parse_duration("x" * 500)
    assert len(str(info.value)) < 200


def test_duration_huge_integer_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        parse_duration(10**400)


# -- sizes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("2GB", 2 * 10**9),
        ("512MiB", 512 * 2**20),
        ("1.5G", int(1.5 * 2**30)),
        (1024, 1024),
        ("10kb", 10_000),
        ("1PB", 10**15),
        ("1PiB", 2**50),
        ("1P", 2**50),
        ("10KB", 10_000),
        ("10 kB", 10_000),
        ("1KiB", 1024),
        ("1k", 1024),
        ("512M", 512 * 2**20),
        ("2T", 2 * 2**40),
        ("1TB", 10**12),
        ("1GiB", 2**30),
        ("100", 100),
        ("100b", 100),
        ("0", 0),
        (0, 0),
        (1.5, 1),
    ],
)
def test_size_forms(text: object, size: int) -> None:
    result = parse_size(text)
    assert isinstance(result, int)
    assert result == size


@pytest.mark.parametrize(
    "value",
    [
        -1,
        "-1GB",
        float("nan"),
        float("inf"),
        True,
        False,
        None,
        [1024],
        {"gb": 1},
        "",
        "GB",
        "2 parsecs",
        "2XB",
        "2GBs",
        "1e3",
        "2 G B",
        2**70,  # more than 2**63 bytes
        "99999999999TiB",
    ],
)
def test_size_rejects(value: object) -> None:
    with pytest.raises(ConfigError) as info:
        parse_size(value)
    assert info.value.message


def test_size_error_says_what_is_expected() -> None:
    with pytest.raises(ConfigError, match=r"not a size: '2 parsecs'.*512MiB"):
        parse_size("2 parsecs")
    with pytest.raises(ConfigError, match="too large"):
        parse_size(2**70)


def test_size_huge_integer_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        parse_size(10**400)


# -- formatting ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.25, "250 ms"),
        (0.0, "0 ms"),
        (1.0, "1.0 s"),
        (59.94, "59.9 s"),
        (60, "1 min"),
        (125, "2 min 5 s"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1536, "1.5 KiB"),
        (2**30, "1.0 GiB"),
        (2**40, "1.0 TiB"),
        (2**60, "1024.0 PiB"),
    ],
)
def test_format_size(size: int, text: str) -> None:
    assert format_size(size) == text


# -- properties ---------------------------------------------------------------------------

# Everything parse_duration/parse_size may be fed: TOML scalars and containers, CLI strings.
# Integers stay within TOML's 64-bit range (huge ones are the xfail tests above).
_SCALARS = (
    st.text()
    | st.floats()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.none()
    | st.booleans()
)
_ANYTHING = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
)
_DURATION_LIKE = st.from_regex(
    r"\s*(\d{1,4}(\.\d{0,3})?|\.\d{1,3})\s*(ms|s|sec|m|min|h|MS|S)?\s*", fullmatch=True
)
_SIZE_LIKE = st.from_regex(
    r"\s*\d{1,6}(\.\d{0,3})?\s*(|b|kb|mb|gb|k|m|g|kib|mib|GiB|KB)\s*", fullmatch=True
)


@FUZZ
@given(_ANYTHING | _DURATION_LIKE)
def test_parse_duration_raises_only_config_error(value: object) -> None:
    try:
        seconds = parse_duration(value)
    except ConfigError as exc:
        assert exc.message
    else:
        assert isinstance(seconds, float)
        assert math.isfinite(seconds)
        assert 0 <= seconds <= MAX_SECONDS


@FUZZ
@given(_ANYTHING | _SIZE_LIKE)
def test_parse_size_raises_only_config_error(value: object) -> None:
    try:
        size = parse_size(value)
    except ConfigError as exc:
        assert exc.message
    else:
        assert isinstance(size, int)
        assert 0 <= size <= 2**63


@FUZZ
@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(["ms", "s", "m", "h"]))
def test_duration_units_scale(number: int, unit: str) -> None:
    factor = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
    expected = number * factor
    if expected > MAX_SECONDS:
        with pytest.raises(ConfigError):
            parse_duration(f"{number}{unit}")
    else:
        assert parse_duration(f"{number}{unit}") == pytest.approx(expected)


@FUZZ
@given(st.integers(min_value=0, max_value=59), st.integers(min_value=0, max_value=59))
def test_minutes_and_seconds_add_up(minutes: int, seconds: int) -> None:
    assert parse_duration(f"{minutes}m{seconds}s") == pytest.approx(minutes * 60 + seconds)


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.0004, "0.4 ms"), (0.012, "12 ms"), (0.5, "500 ms"), (1.25, "1.2 s")]
)
def test_format_elapsed(seconds: float, text: str) -> None:
    assert format_elapsed(seconds) == text
