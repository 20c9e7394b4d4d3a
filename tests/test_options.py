"""Option types: the single source of truth for validation and the JSON Schema."""

from __future__ import annotations

import json
import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envdoctor.errors import ConfigError
from envdoctor.options import (
    COMMON_NAMES,
    COMMON_OPTIONS,
    ID_PATTERN,
    SETTINGS_OPTIONS,
    Bool,
    Choice,
    Duration,
    Int,
    IntOrIntList,
    Number,
    Option,
    OptionType,
    Size,
    Str,
    StrList,
    StrMap,
    did_you_mean,
)

FUZZ = settings(max_examples=200, deadline=None)

ALL_TYPES: list[OptionType] = [
    Str(),
    Str(ID_PATTERN, "an id"),
    Choice("required", "optional"),
    Bool(),
    Int(),
    Int(0, 100),
    Number(),
    Number(minimum=0),
    Duration(),
    Size(),
    StrList(),
    StrList(single=False, non_empty=True),
    StrMap(),
    IntOrIntList(),
]


@pytest.mark.parametrize(
    ("option_type", "value", "result"),
    [
        (Str(), "x", "x"),
        (Str(r"\d+", "digits"), "123", "123"),
        (Choice("a", "b"), "b", "b"),
        (Bool(), False, False),
        (Int(), 3, 3),
        (Int(0, 100), 100, 100),
        (Number(), 2, 2),
        (Number(), 2.5, 2.5),
        (Duration(), "1m30s", 90.0),
        (Size(), "2GB", 2 * 10**9),
        (StrList(), "one", ["one"]),
        (StrList(), ["a", "b"], ["a", "b"]),
        (StrList(), [], []),
        (StrMap(), {"A": "x"}, {"A": "x"}),
        (IntOrIntList(), 0, [0]),
    ],
)
def test_coerce(option_type: OptionType, value: object, result: object) -> None:
    assert option_type.coerce(value) == result


@pytest.mark.parametrize(
    ("option_type", "value", "result"),
    [
        (Int(), "42", 42),
        (Int(), " -7 ", -7),
        (Number(), "1.5", 1.5),
        (Bool(), "true", True),
        (Bool(), "0", False),
        (IntOrIntList(), [0, 1, "2"], [0, 1, 2]),
        (Str(), "x", "x"),
    ],
)
def test_interpolated_text_is_parsed(
    option_type: OptionType, value: object, result: object
) -> None:
    """A value that came through ${VAR} is text: numbers and booleans are parsed from it."""
    assert option_type.coerce_interpolated(value) == result


@pytest.mark.parametrize(
    ("option_type", "value"), [(Int(), "42"), (Number(), "1.5"), (IntOrIntList(), ["2"])]
)
def test_text_written_in_toml_is_not_a_number(option_type: OptionType, value: object) -> None:
    """`port = "5432"` written in TOML is a string: the schema says so, and so does the loader."""
    with pytest.raises(ConfigError):
        option_type.coerce(value)


@pytest.mark.parametrize(
    ("option_type", "value", "message"),
    [
        (Str(), 3, "expected a string, got an integer 3"),
        (Str(), ["x"], "expected a string, got a list ['x']"),
        (Str(r"\d+", "digits"), "x1", "'x1' is not valid: digits"),
        (Choice("required", "optional"), "optinal", "(did you mean 'optional'?)"),
        (Choice("required", "optional"), "REQUIRED", "(did you mean 'required'?)"),
        (Choice("a", "b"), 1, "expected one of 'a', 'b', got 1"),
        (Bool(), "yes", "expected true or false, got a string 'yes'"),
        (Bool(), 1, "expected true or false, got an integer 1"),
        (Int(), True, "expected an integer, got a boolean True"),
        (Int(), 1.5, "expected an integer, got a number 1.5"),
        (Int(), "1.5", "expected an integer"),
        (Int(0, 100), 101, "101 is out of range: expected an integer from 0 to 100"),
        (Int(0, 100), -1, "out of range"),
        (Number(minimum=0), -0.5, "-0.5 is out of range: expected a number >= 0"),
        (Number(), "abc", "expected a number, got a string 'abc'"),
        (Number(), float("nan"), "expected a number"),
        (Number(), False, "expected a number, got a boolean"),
        (Duration(), "5 parsecs", "not a duration"),
        (Size(), "lots", "not a size"),
        (StrList(), [1], "expected a list of strings or a string"),
        (StrList(single=False), "a", "expected a list of strings, got a string"),
        (StrList(non_empty=True), [], "expected a non-empty list"),
        (StrMap(), {"A": 1}, "expected a table of strings"),
        (StrMap(), ["A"], "expected a table of strings, got a list"),
        (IntOrIntList(), [True], "expected an integer or a list of integers"),
        (IntOrIntList(), "x", "expected an integer or a list of integers"),
    ],
)
def test_coerce_errors(option_type: OptionType, value: object, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        option_type.coerce(value)
    assert message in info.value.message


def test_long_values_are_shortened_in_errors() -> None:
    with pytest.raises(ConfigError) as info:
        Bool().coerce("y" * 1000)
    assert len(info.value.message) < 120
    assert "..." in info.value.message


@pytest.mark.parametrize("value", [float("inf"), "inf", 10**400], ids=["inf", "'inf'", "10**400"])
def test_number_rejects_non_finite(value: object) -> None:
    with pytest.raises(ConfigError):
        Number(minimum=0).coerce(value)


@pytest.mark.parametrize(
    ("word", "candidates", "hint"),
    [
        ("pth", ["path", "exists"], " (did you mean 'path'?)"),
        ("fiel", ["python", "file", "env"], " (did you mean 'file'?)"),
        ("ulr", ["url", "host"], " (did you mean 'url'?)"),
        ("DEPENDS-ON", ["depends_on", "id"], " (did you mean 'depends_on'?)"),
        ("zzzzzz", ["path", "exists"], ""),
        ("x", [], ""),
        ("x", [1, None, "x"], " (did you mean 'x'?)"),
    ],
)
def test_did_you_mean(word: str, candidates: list[object], hint: str) -> None:
    assert did_you_mean(word, candidates) == hint


def test_did_you_mean_takes_a_dict() -> None:
    assert did_you_mean("timout", {"timeout": 1, "tags": 2}) == " (did you mean 'timeout'?)"


def test_common_options_are_those_of_design() -> None:
    names = [o.name for o in COMMON_OPTIONS]
    assert names == [
        "id", "kind", "title", "severity", "weight", "tags",
        "timeout", "depends_on", "when", "skip", "fix",
    ]  # fmt: skip
    assert frozenset(names) == COMMON_NAMES
    required = {o.name for o in COMMON_OPTIONS if o.required}
    assert required == {"id", "kind"}
    assert all(o.doc for o in COMMON_OPTIONS)


def test_settings_defaults_coerce() -> None:
    for option in SETTINGS_OPTIONS:
        if option.default is not None:
            option.coerce(option.default)
    names = {o.name for o in SETTINGS_OPTIONS}
    assert names == {"include", "timeout", "min_score", "dotenv"}


@pytest.mark.parametrize("good", ["a", "postgres", "db-1", "svc.redis:6379", "_x", "9lives"])
def test_id_pattern_accepts(good: str) -> None:
    assert re.fullmatch(ID_PATTERN, good)


@pytest.mark.parametrize("bad", ["", "a b", "-a", ".a", "a/b", "a,b", "é"])
def test_id_pattern_rejects(bad: str) -> None:
    assert not re.fullmatch(ID_PATTERN, bad)


def test_option_schema_carries_doc_and_default() -> None:
    option = Option("exists", Bool(), "Whether it must exist.", default=True, interpolate=False)
    assert option.schema() == {
        "type": "boolean",
        "description": "Whether it must exist.",
        "default": True,
    }


def test_interpolated_option_schema_also_takes_a_reference() -> None:
    # Any value may come from ${VAR} (DESIGN.md §3): the editor must not flag "${PORT}".
    schema = Option("port", Int(1, 65535), "The port.").schema()
    assert schema["description"] == "The port."
    assert {"type": "integer", "minimum": 1, "maximum": 65535} in schema["anyOf"]
    reference = next(s for s in schema["anyOf"] if s.get("type") == "string")
    assert re.search(reference["pattern"], "${PORT}")
    assert Option("title", Str(), "A title.").schema() == {
        "type": "string",
        "description": "A title.",
    }


@pytest.mark.parametrize("option_type", ALL_TYPES, ids=lambda t: type(t).__name__)
def test_schema_is_json(option_type: OptionType) -> None:
    schema = option_type.schema()
    assert json.loads(json.dumps(schema)) == schema


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("500ms", True),
        ("2s", True),
        ("1m30s", True),
        ("1.5 h", True),
        ("5", True),
        ("5 parsecs", False),
    ],
)
def test_duration_schema_pattern_agrees_with_parser(text: str, ok: bool) -> None:
    pattern = Duration().schema()["anyOf"][1]["pattern"]
    assert bool(re.match(pattern, text)) is ok
    if ok:
        Duration().coerce(text)


@pytest.mark.parametrize(
    ("text", "ok"),
    [("2GB", True), ("512MiB", True), ("1.5G", True), ("10kb", True), ("2 XB", False)],
)
def test_size_schema_pattern_agrees_with_parser(text: str, ok: bool) -> None:
    pattern = Size().schema()["anyOf"][1]["pattern"]
    assert bool(re.match(pattern, text)) is ok
    if ok:
        Size().coerce(text)


_TOML_VALUES = st.recursive(
    st.text(max_size=10)
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=True)
    | st.booleans(),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@FUZZ
@given(st.sampled_from(ALL_TYPES), _TOML_VALUES)
def test_coerce_raises_only_config_error(option_type: OptionType, value: object) -> None:
    try:
        result = option_type.coerce(value)
    except ConfigError as exc:
        assert exc.message
    else:
        if isinstance(result, float) and not isinstance(option_type, Number):
            assert math.isfinite(result)
