"""The `.env` reader: the syntax compose and python-dotenv accept, with line numbers."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envdoctor.dotenv import parse_dotenv, read_dotenv
from envdoctor.errors import ProjectFileError

FUZZ = settings(max_examples=200, deadline=None)


def values(text: str) -> dict[str, str]:
    return parse_dotenv(text).values


@pytest.mark.parametrize(
    ("line", "value"),
    [
        ("A=1", "1"),
        ("A = spaced  ", "spaced"),
        ("A=", ""),
        ('A=""', ""),
        ("A=''", ""),
        ('A="double quoted"', "double quoted"),
        ("A='single quoted'", "single quoted"),
        ('A="keeps # inside quotes"', "keeps # inside quotes"),
        ("A='keeps # inside quotes'", "keeps # inside quotes"),
        ("A=value # inline comment", "value"),
        ("A=value\t# tab before comment", "value"),
        ("A=value#not-a-comment", "value#not-a-comment"),
        ("A=http://x/#frag", "http://x/#frag"),
        ('A="x" # comment after quotes', "x"),
        (r'A="line\nbreak"', "line\nbreak"),
        (r'A="tab\there"', "tab\there"),
        (r'A="a \"quote\""', 'a "quote"'),
        (r'A="back\\slash"', "back\\slash"),
        (r'A="dollar \$"', "dollar $"),
        (r'A="unknown \q kept"', "unknown \\q kept"),
        (r"A='single \n is raw'", "single \\n is raw"),
        ("A=${OTHER}", "${OTHER}"),  # interpolation is the loader's job, not the reader's
        ("A=a=b=c", "a=b=c"),
        ("export A=exported", "exported"),
        ("export\tA=exported", "exported"),
        ("  export   A = x", "x"),
        ("A=postgresql://u:pw@h:5432/db", "postgresql://u:pw@h:5432/db"),
    ],
)
def test_values(line: str, value: str) -> None:
    assert values(line) == {"A": value}


def test_keys_may_hold_dots_and_dashes() -> None:
    assert values("app.name-x=1") == {"app.name-x": "1"}


def test_comments_and_blank_lines() -> None:
    result = parse_dotenv("# a comment\n\n   # indented comment\nA=1\n\n")
    assert result.values == {"A": "1"}
    assert result.lines == {"A": 4}
    assert result.problems == []


def test_line_numbers() -> None:
    result = parse_dotenv("# header\nA=1\n\nexport B=2\nC='x'\n")
    assert result.lines == {"A": 2, "B": 4, "C": 5}


def test_multi_line_double_quoted() -> None:
    result = parse_dotenv('A="first\nsecond\nthird"\nB=after\n')
    assert result.values == {"A": "first\nsecond\nthird", "B": "after"}
    assert result.lines == {"A": 1, "B": 4}


def test_multi_line_single_quoted() -> None:
    result = parse_dotenv("KEY='-----BEGIN KEY-----\nabc\n-----END KEY-----'\nB=1\n")
    assert result.values["KEY"] == "-----BEGIN KEY-----\nabc\n-----END KEY-----"
    assert result.lines["B"] == 4


def test_escaped_quote_does_not_close() -> None:
    assert values('A="say \\"hi\\"\nstill A"\n') == {"A": 'say "hi"\nstill A'}


def test_later_definition_wins() -> None:
    result = parse_dotenv("A=1\nA=2\n")
    assert result.values == {"A": "2"}
    assert result.lines == {"A": 2}


def test_crlf_line_endings() -> None:
    assert values("A=1\r\nB=two\r\n") == {"A": "1", "B": "two"}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("just words", (1, "not a KEY=value line")),
        ("A=1\n=novalue", (2, "not a KEY=value line")),
        ("A=1\n\n1ABC=x", (3, "not a KEY=value line")),
        ("export", (1, "not a KEY=value line")),
        ("A:1", (1, "not a KEY=value line")),
        ("A=1\nB='open", (2, "unterminated ' quote")),
        ('A=1\nB="open\nmore', (2, 'unterminated " quote')),
    ],
)
def test_problems_have_line_numbers(text: str, problem: tuple[int, str]) -> None:
    result = parse_dotenv(text)
    assert problem in result.problems
    assert result.values.get("A", "1") == "1"


def test_problems_never_hold_values() -> None:
    result = parse_dotenv("SECRET='s3cr3t-value\nnot a line s3cr3t-value\n")
    assert result.problems
    assert all("s3cr3t" not in reason for _, reason in result.problems)


def test_unterminated_quote_does_not_swallow_the_rest() -> None:
    result = parse_dotenv("A='open\nB=2\nbad line\n")
    assert result.values.get("B") == "2"
    assert (3, "not a KEY=value line") in result.problems


def test_only_newlines_end_lines() -> None:
    result = parse_dotenv('A="x\u2028y"\nB=1\x0cC=2\nD=3\n')
    assert result.values["A"] == "x\u2028y"
    assert "C" not in result.values
    assert result.lines["D"] == 3


def test_read_dotenv(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("A=1\nB='two'\n", encoding="utf-8")
    result = read_dotenv(path, ".env")
    assert result.path == ".env"
    assert result.values == {"A": "1", "B": "two"}


def test_read_dotenv_tolerates_bad_utf8(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_bytes(b"A=caf\xe9\nB=2\n")
    result = read_dotenv(path)
    assert result.values["B"] == "2"
    assert result.values["A"].startswith("caf")


def test_read_dotenv_strips_bom(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_bytes(b"\xef\xbb\xbfA=1\nB=2\n")
    result = read_dotenv(path)
    assert result.values == {"A": "1", "B": "2"}
    assert result.problems == []


def test_read_dotenv_binary_file(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_bytes(b"A=1\x00\x01\x02")
    with pytest.raises(ProjectFileError, match="binary") as info:
        read_dotenv(path, ".env")
    assert str(info.value.source) == ".env"


def test_read_dotenv_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ProjectFileError, match="cannot read") as info:
        read_dotenv(tmp_path / "absent.env", "absent.env")
    assert str(info.value).startswith("absent.env: ")


def test_read_dotenv_directory(tmp_path: Path) -> None:
    with pytest.raises(ProjectFileError, match="cannot read"):
        read_dotenv(tmp_path)


# -- properties ---------------------------------------------------------------------------

_LINES = st.lists(
    st.sampled_from(
        [
            "A=1",
            "export B=2",
            "C='x",
            'D="y',
            "E=z # c",
            "#",
            "",
            "  ",
            "=",
            "'",
            '"',
            "\\",
            'F="a\\"',
            "x y",
        ]
    )
    | st.text(max_size=20),
    max_size=12,
).map("\n".join)


@FUZZ
@given(st.text() | _LINES)
def test_parse_dotenv_never_raises(text: str) -> None:
    result = parse_dotenv(text)
    line_count = max(1, len(text.splitlines()))
    assert set(result.lines) == set(result.values)
    assert all(1 <= line <= line_count for line in result.lines.values())
    assert all(1 <= line <= line_count for line, _ in result.problems)


@FUZZ
@given(
    st.dictionaries(
        st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True),
        st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=20),
        max_size=6,
    )
)
def test_double_quoted_values_round_trip(data: dict[str, str]) -> None:
    def quote(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    text = "\n".join(f"{key}={quote(value)}" for key, value in data.items())
    assert parse_dotenv(text).values == data
