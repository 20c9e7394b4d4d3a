"""TOML with line numbers: where each `[[check]]` and each key is, and `file:line` for bad TOML."""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envdoctor.errors import ConfigError
from envdoctor.tomlfile import read_toml

FUZZ = settings(max_examples=200, deadline=None)


def toml(text: str) -> bytes:
    return textwrap.dedent(text).lstrip("\n").encode("utf-8")


MODULE = toml(
    """
    # services
    [[check]]
    id = "postgres"   # comment
    kind = "postgres"
    url = "${DATABASE_URL:-postgresql://localhost:5432/app}"

    [[check]]
    id = "api"
    kind = "http"
    "quoted-key" = 1
    match.ONE = "x"
    headers = { Accept = "text/plain" }
    tags = [
      "a",
      "b",
    ]
    fix = "docker compose up -d"
    """
)


def test_array_tables_and_their_keys() -> None:
    doc = read_toml("checks/services.toml", MODULE)
    assert [t.line for t in doc.arrays["check"]] == [2, 7]
    first, second = doc.arrays["check"]
    assert first.keys == {"id": 3, "kind": 4, "url": 5}
    assert second.keys["id"] == 8
    assert second.keys["quoted-key"] == 10
    assert second.keys["match"] == 11  # a dotted key counts as its first part
    assert second.keys["headers"] == 12
    assert second.keys["tags"] == 13
    assert second.keys["fix"] == 17
    assert doc.data["check"][1]["match"] == {"ONE": "x"}


def test_sub_table_of_an_array_element_belongs_to_that_element() -> None:
    doc = read_toml(
        "m.toml",
        toml(
            """
            [[check]]
            id = "a"
            [check.match]
            NAME = ".*"
            [[check]]
            id = "b"
            [check.headers]
            X = "1"
            """
        ),
    )
    first, second = doc.arrays["check"]
    assert first.keys == {"id": 2, "match": 3}
    assert second.keys == {"id": 6, "headers": 7}
    assert "check.match" not in doc.tables


def test_tool_envdoctor_in_pyproject() -> None:
    doc = read_toml(
        "pyproject.toml",
        toml(
            """
            [project]
            name = "shop"
            requires-python = ">=3.11"

            [tool.envdoctor]
            timeout = "2s"
            include = ["checks/*.toml"]

            [[tool.envdoctor.check]]
            id = "python"
            kind = "python"

            [tool.envdoctor.check.extra]
            a = 1

            [[tool.envdoctor.check]]
            id = "env"
            """
        ),
    )
    assert doc.tables["project"].keys == {"name": 2, "requires-python": 3}
    assert doc.tables["tool.envdoctor"].line == 5
    assert doc.tables["tool.envdoctor"].keys == {"timeout": 6, "include": 7}
    checks = doc.arrays["tool.envdoctor.check"]
    assert [c.line for c in checks] == [9, 16]
    assert checks[0].keys == {"id": 10, "kind": 11, "extra": 13}
    assert checks[1].keys == {"id": 17}


def test_top_level_keys_and_headers_with_spaces() -> None:
    doc = read_toml(
        "m.toml", toml('title = "x"\n[ "quoted table" . sub ]\nk = 1\n[[ check ]]\nid="a"\n')
    )
    assert doc.tables[""].keys == {"title": 1}
    assert doc.tables["quoted table.sub"].keys == {"k": 3}
    assert doc.arrays["check"][0].keys == {"id": 5}


def test_multi_line_strings_are_not_scanned() -> None:
    doc = read_toml(
        "m.toml",
        toml(
            '''
            [[check]]
            id = "a"
            doc = """
            [[check]]
            id = "not a table"
            """
            lit = \'\'\'
            [check.match]
            \'\'\'
            kind = "file"
            [[check]]
            id = "b"
            '''
        ),
    )
    assert [t.line for t in doc.arrays["check"]] == [1, 11]
    assert doc.arrays["check"][0].keys == {"id": 2, "doc": 3, "lit": 7, "kind": 10}


def test_one_line_triple_quoted_string() -> None:
    doc = read_toml("m.toml", toml('[[check]]\nid = """a"""\nkind = "file"\n[[check]]\nid = "b"\n'))
    assert [t.line for t in doc.arrays["check"]] == [1, 4]


def test_bom_is_ignored() -> None:
    doc = read_toml("m.toml", b"\xef\xbb\xbf[[check]]\nid = 'a'\n")
    assert doc.data == {"check": [{"id": "a"}]}
    assert doc.arrays["check"][0].line == 1


def test_crlf() -> None:
    doc = read_toml("m.toml", b"[[check]]\r\nid = 'a'\r\n\r\n[[check]]\r\nid = 'b'\r\n")
    assert [t.line for t in doc.arrays["check"]] == [1, 4]


def test_triple_quote_in_a_comment() -> None:
    doc = read_toml("m.toml", toml('# see """ below\n[[check]]\nid = "a"\n[[check]]\nid = "b"\n'))
    assert [t.line for t in doc.arrays["check"]] == [2, 4]


def test_nested_array_element_is_not_a_header() -> None:
    doc = read_toml(
        "m.toml", toml('[[check]]\nid = "a"\nrun = [\n  ["a", "b"]\n]\nkind = "file"\n')
    )
    assert doc.arrays["check"][0].keys == {"id": 2, "run": 3, "kind": 6}


def test_line_separator_in_a_comment() -> None:
    doc = read_toml("m.toml", "# a\u2028b\n[[check]]\nid = 'a'\n".encode())
    assert doc.arrays["check"][0].line == 2


# -- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ('[[check]]\nid = "a"\nkind = \n', 3, "Invalid value"),
        ('[[check]]\nid = "a"\nid = "b"\n', 3, "overwrite"),
        ('a = 1\n\n[check\nid = "a"\n', 3, "table"),
        ('a = "unterminated', 1, "Unterminated string"),
        ('a = 1\nb = "x\n', 2, ""),
        ('\n\nx = """\nabc', 4, "end of file"),
        ("[[check]]\n[check]\n", 2, ""),
        ("a = 0x\n", 1, ""),
        ("= 1\n", 1, ""),
    ],
)
def test_bad_toml_names_the_line(text: str, line: int, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        read_toml("checks/bad.toml", text.encode())
    error = info.value
    assert error.source is not None
    assert error.source.path == "checks/bad.toml"
    assert error.source.line == line
    assert error.message.startswith("invalid TOML: ")
    assert words in error.message
    assert str(error).startswith(f"checks/bad.toml:{line}: invalid TOML")
    assert "(at line" not in error.message  # tomllib's own position is turned into ours


def test_binary_input() -> None:
    with pytest.raises(ConfigError, match="binary") as info:
        read_toml("checks/x.toml", b"\x7fELF\x02\x01\x01\x00\x00\x00")
    assert str(info.value).startswith("checks/x.toml:1: ")


def test_non_utf8_input_names_the_line() -> None:
    with pytest.raises(ConfigError, match="not UTF-8") as info:
        read_toml("checks/x.toml", b'a = 1\nb = 2\nc = "caf\xe9"\n')
    assert info.value.source is not None
    assert info.value.source.line == 3


def test_utf16_input() -> None:
    with pytest.raises(ConfigError):
        read_toml("checks/x.toml", '[[check]]\nid = "a"\n'.encode("utf-16"))


def test_deep_nesting_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="invalid TOML"):
        read_toml("x.toml", b"a = " + b"[" * 5000 + b"]" * 5000)


def test_empty_document() -> None:
    doc = read_toml("x.toml", b"")
    assert doc.data == {}
    assert doc.arrays == {}


# -- properties ---------------------------------------------------------------------------

_TOMLISH = st.lists(
    st.sampled_from(
        [
            "[[check]]",
            "[check]",
            "[check.match]",
            "[tool.envdoctor]",
            "[[tool.envdoctor.check]]",
            'id = "a"',
            "id = 1",
            'kind = "file"',
            '"""',
            "'''",
            "x = [",
            "]",
            "a.b = 1",
            "# c",
            "= 1",
            "[",
            '"q" = 2',
            "t = {a = 1}",
            "n = 1e999",
            "d = 1979-05-27",
        ]
    )
    | st.text(max_size=15),
    max_size=12,
).map("\n".join)


def _check_located(doc_lines: int, doc: object) -> None:
    tables = doc.tables  # type: ignore[attr-defined]
    arrays = doc.arrays  # type: ignore[attr-defined]
    for located in [*tables.values(), *(t for ts in arrays.values() for t in ts)]:
        assert 1 <= located.line <= max(1, doc_lines)
        assert all(1 <= line <= max(1, doc_lines) for line in located.keys.values())


@FUZZ
@given(st.binary())
def test_read_toml_bytes_raises_only_config_error(raw: bytes) -> None:
    try:
        doc = read_toml("x.toml", raw)
    except ConfigError as exc:
        assert exc.source is not None
        assert exc.source.path == "x.toml"
    else:
        assert isinstance(doc.data, dict)


@FUZZ
@given(st.text() | _TOMLISH)
def test_read_toml_text_raises_only_config_error(text: str) -> None:
    try:
        doc = read_toml("x.toml", text.encode("utf-8", errors="surrogatepass"))
    except ConfigError as exc:
        assert exc.source is not None
        assert exc.source.line is None or exc.source.line >= 1
    else:
        assert isinstance(doc.data, dict)
        _check_located(len(text.splitlines()), doc)
