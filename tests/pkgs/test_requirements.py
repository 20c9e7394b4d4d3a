"""Requirements files as pip reads them, and pyproject.toml dependencies, case by case.

Every grammar case is a small real file in tmp_path and the assertion is the exact `Req` (or
the exact error with its `file:line`): the packages check reports these fields verbatim, so a
wrong line number or an unmasked password is a user-visible bug, not a detail.
"""

from __future__ import annotations

import os
import tempfile
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envdoctor.errors import ProjectFileError
from envdoctor.pkgs.requirements import (
    REMOTE_INCLUDE,
    UNKNOWN_ARCHIVE,
    UNKNOWN_EDITABLE,
    UNKNOWN_URL,
    Req,
    _fast,
    canonical,
    parse_requirements,
    pyproject_requirements,
)


def write(root: Path, name: str, text: str | bytes) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def parse(root: Path, text: str | bytes | None = None, name: str = "requirements.txt") -> list[Req]:
    if text is not None:
        write(root, name, text)
    return parse_requirements(Path(name), root)


def fails(root: Path, text: str | bytes | None = None, name: str = "requirements.txt") -> str:
    """The error as the check shows it: `file:line: message`."""
    with pytest.raises(ProjectFileError) as caught:
        parse(root, text, name)
    return str(caught.value)


def R(
    name: str,
    text: str,
    source: str,
    *,
    specifier: str = "",
    extras: tuple[str, ...] = (),
    marker: str | None = None,
    url: str | None = None,
    editable: bool = False,
    constraint: bool = False,
    unverified: str | None = None,
) -> Req:
    return Req(name, text, specifier, extras, marker, url, editable, source, constraint, unverified)


# -- plain requirements, names, specifiers -------------------------------------------------


def test_pins_ranges_and_pep503_names(tmp_path: Path) -> None:
    reqs = parse(
        tmp_path,
        """
        Django==4.2
        zope.interface>=5
        A_b-C.d==1.0
        ruamel.yaml
        pytest>=2.8.0,<10
        requests ~= 2.31
        foo==1.0.*
        PySocks>=1.5.6, !=1.5.7
        """,
    )
    S = "requirements.txt"
    assert reqs == [
        R("django", "Django==4.2", f"{S}:1", specifier="==4.2"),
        R("zope-interface", "zope.interface>=5", f"{S}:2", specifier=">=5"),
        R("a-b-c-d", "A_b-C.d==1.0", f"{S}:3", specifier="==1.0"),
        R("ruamel-yaml", "ruamel.yaml", f"{S}:4"),
        R("pytest", "pytest>=2.8.0,<10", f"{S}:5", specifier="<10,>=2.8.0"),
        R("requests", "requests ~= 2.31", f"{S}:6", specifier="~=2.31"),
        R("foo", "foo==1.0.*", f"{S}:7", specifier="==1.0.*"),
        R("pysocks", "PySocks>=1.5.6, !=1.5.7", f"{S}:8", specifier="!=1.5.7,>=1.5.6"),
    ]


def test_extras_are_canonicalised_and_sorted(tmp_path: Path) -> None:
    reqs = parse(tmp_path, "uvicorn[Standard,http_tools]>=0.29\npsycopg[c,pool]==3.3.4\n")
    assert reqs == [
        R(
            "uvicorn",
            "uvicorn[Standard,http_tools]>=0.29",
            "requirements.txt:1",
            specifier=">=0.29",
            extras=("http-tools", "standard"),
        ),
        R(
            "psycopg",
            "psycopg[c,pool]==3.3.4",
            "requirements.txt:2",
            specifier="==3.3.4",
            extras=("c", "pool"),
        ),
    ]


def test_markers_with_and_without_spaces(tmp_path: Path) -> None:
    reqs = parse(
        tmp_path,
        """
        exceptiongroup>=1.3.0; python_version < '3.11'
        brotli>=1.0.0;platform_python_implementation=="CPython"
        pydantic>=2.12.0a1 ; python_version >= "3.14"
        couchbase>=3.0.0; platform_python_implementation!='PyPy' and (platform_system != 'Windows' or python_version < '3.10')
        """,  # noqa: E501
    )
    assert [(r.name, r.specifier, r.marker, r.source) for r in reqs] == [
        ("exceptiongroup", ">=1.3.0", 'python_version < "3.11"', "requirements.txt:1"),
        ("brotli", ">=1.0.0", 'platform_python_implementation == "CPython"', "requirements.txt:2"),
        ("pydantic", ">=2.12.0a1", 'python_version >= "3.14"', "requirements.txt:3"),
        (
            "couchbase",
            ">=3.0.0",
            'platform_python_implementation != "PyPy" and '
            '(platform_system != "Windows" or python_version < "3.10")',
            "requirements.txt:4",
        ),
    ]
    assert reqs[1].text == 'brotli>=1.0.0;platform_python_implementation=="CPython"'


def test_an_unset_variable_left_as_written_is_named(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("ED_UNSET_PIN", raising=False)
    assert fails(tmp_path, "idna==${ED_UNSET_PIN}\n") == (
        "requirements.txt:1: invalid requirement 'idna==${ED_UNSET_PIN}': Expected semicolon "
        "(after name with no version specifier) or end (ED_UNSET_PIN is not set)"
    )


def test_invalid_requirement_names_file_line_and_the_reason(tmp_path: Path) -> None:
    assert fails(tmp_path, "six\nsix==1.0 xyz\n") == (
        "requirements.txt:2: invalid requirement 'six==1.0 xyz': "
        "Expected comma (within version specifier), semicolon (after version specifier) or end"
    )
    assert fails(tmp_path, "six=1.0\n") == (
        "requirements.txt:1: invalid requirement 'six=1.0': Expected semicolon (after name with "
        "no version specifier) or end (= is not a valid operator: did you mean ==?)"
    )
    assert fails(tmp_path, "foo>1.0.*\n").startswith(
        "requirements.txt:1: invalid requirement 'foo>1.0.*': "
    )


def test_invalid_marker(tmp_path: Path) -> None:
    assert fails(tmp_path, "six; python_version >>> '3'\n") == (
        "requirements.txt:1: invalid environment marker in \"six; python_version >>> '3'\": "
        "Expected a marker variable or quoted string"
    )


# -- comments, continuations, line numbers -------------------------------------------------


def test_comments_whole_and_inline_but_not_inside_a_url_fragment(tmp_path: Path) -> None:
    reqs = parse(
        tmp_path,
        """
        # a comment
          # an indented comment
        six==1.16.0 # pinned because
        https://example.org/p/pkg-2.0.tar.gz#egg=pkg
        idna==3.6\t# after a tab
        """,
    )
    assert reqs == [
        R("six", "six==1.16.0", "requirements.txt:3", specifier="==1.16.0"),
        R(
            "pkg",
            "https://example.org/p/pkg-2.0.tar.gz#egg=pkg",
            "requirements.txt:4",
            url="https://example.org/p/pkg-2.0.tar.gz#egg=pkg",
        ),
        R("idna", "idna==3.6", "requirements.txt:5", specifier="==3.6"),
    ]


def test_a_hash_sign_glued_to_a_name_is_not_a_comment(tmp_path: Path) -> None:
    # pip: '#' starts a comment only at the start of a line or after whitespace
    assert fails(tmp_path, "idna#not-a-comment\n").startswith(
        "requirements.txt:1: invalid requirement 'idna#not-a-comment'"
    )


def test_continuations_take_the_number_of_their_first_line(tmp_path: Path) -> None:
    reqs = parse(
        tmp_path,
        "six\\\n==1.16.0\n"  # 1-2
        "idna \\\n  >=3 \\\n  # a comment ends the continuation\n"  # 3-5
        "certifi\n"  # 6
        "# a comment line ending in a backslash does not continue \\\n"  # 7
        "attrs\n"  # 8
        "last\\",  # 9: a backslash at the very end
    )
    assert [(r.name, r.specifier, r.source) for r in reqs] == [
        ("six", "==1.16.0", "requirements.txt:1"),
        ("idna", ">=3", "requirements.txt:3"),
        ("certifi", "", "requirements.txt:6"),
        ("attrs", "", "requirements.txt:8"),
        ("last", "", "requirements.txt:9"),
    ]


def test_hashed_pip_compile_output(tmp_path: Path) -> None:
    reqs = parse(
        tmp_path,
        """
        #
        # pip-compile --generate-hashes
        #
        alembic==1.4.3 \\
            --hash=sha256:4e02ed2aa796bd179965041afa092c55b51fb077de19d61835673cc80672c01c
            # via -r requirements/main.in
        amqp==2.6.1 \\
            --hash=sha256:aa7f313fb887c91f15474c1229907a04dac0b8135822d6603437803424c0aa59 \\
            --hash=sha384:70cdb10628468ff14e57ec2f751c7aa9e48e7e3651cfd62d431213c0c4e58f21 \\
            --hash sha512:abc
            # via kombu
        """,
    )
    assert reqs == [
        R("alembic", "alembic==1.4.3", "requirements.txt:4", specifier="==1.4.3"),
        R("amqp", "amqp==2.6.1", "requirements.txt:7", specifier="==2.6.1"),
    ]


def test_a_tab_before_an_option_is_part_of_the_requirement_as_in_pip(tmp_path: Path) -> None:
    message = fails(tmp_path, "six==1.16.0\t--hash=sha256:abc\n")
    assert message.startswith("requirements.txt:1: invalid requirement 'six==1.16.0\\t--hash=")


def test_pip_splits_lines_at_form_feeds_but_numbers_stay_an_editors(tmp_path: Path) -> None:
    reqs = parse(tmp_path, "six==1.16.0\x0cidna\ncertifi\n")
    assert [(r.name, r.source) for r in reqs] == [
        ("six", "requirements.txt:1"),
        ("idna", "requirements.txt:1"),
        ("certifi", "requirements.txt:2"),
    ]


def test_crlf_and_no_trailing_newline(tmp_path: Path) -> None:
    reqs = parse(tmp_path, b"six==1.16.0\r\nidna \\\r\n >=3\r\n\r\ncertifi")
    assert [(r.name, r.specifier, r.source) for r in reqs] == [
        ("six", "==1.16.0", "requirements.txt:1"),
        ("idna", ">=3", "requirements.txt:2"),
        ("certifi", "", "requirements.txt:5"),
    ]


def test_comment_only_and_empty_files(tmp_path: Path) -> None:
    assert parse(tmp_path, "# nothing here\n\n   \n") == []
    assert parse(tmp_path, b"") == []


# -- options -------------------------------------------------------------------------------


def test_option_lines_are_accepted_and_ignored(tmp_path: Path) -> None:
    reqs = parse(
        tmp_path,
        """
        --index-url https://pypi.org/simple
        -i https://pypi.org/simple
        --extra-index-url=https://example.org/simple
        --find-links ./wheels
        -f ./wheels
        --pre
        --trusted-host example.org
        --no-binary :all:
        --only-binary=:none:
        --prefer-binary
        --require-hashes
        --use-feature=fast-deps
        --no-index
        --index https://abbreviated.example.org/simple
        -ihttps://attached.example.org/simple
        six==1.16.0 --hash=sha256:abc --config-settings=a=b -C k=v --global-option=x
        """,
    )
    assert reqs == [R("six", "six==1.16.0", "requirements.txt:16", specifier="==1.16.0")]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("--foo", "no such option: --foo"),
        ("--pr", "ambiguous option: --pr (--pre, --prefer-binary?)"),
        ("-r", "-r option requires 1 argument"),
        ("--index-url", "--index-url option requires 1 argument"),
        ("--pre=1", "--pre option does not take a value"),
        ("-Z", "no such option: -Z"),
        ("six --install-option=x", "no such option: --install-option"),
        ("six --hash=md5:abc", "Allowed hash algorithms for --hash are sha256, sha384, sha512."),
        (
            "six --hash=abc",
            "Arguments to --hash must be a hash name followed by a value, like "
            "--hash=sha256:abcde...",
        ),
        ("six -C abc", "Arguments to -C must be of the form KEY=VAL"),
        ("--no-binary --pre", "--no-binary / --only-binary option requires 1 argument."),
        (
            "six --hash='sha256:abc",
            "cannot split the options (No closing quotation): --hash='sha256:abc",
        ),
    ],
)
def test_option_errors_are_pips(tmp_path: Path, line: str, message: str) -> None:
    assert fails(tmp_path, f"six\n{line}\n") == f"requirements.txt:2: {message}"


def test_quoted_option_values(tmp_path: Path) -> None:
    reqs = parse(tmp_path, "six --config-settings=\"--build-option=--x y\" --global-option 'a b'\n")
    assert reqs == [R("six", "six", "requirements.txt:1")]


def test_words_after_options_and_options_after_a_requirement_are_ignored(tmp_path: Path) -> None:
    # pip: a line with a requirement ignores -r/-e; leftover words of an option line too
    reqs = parse(tmp_path, "six -r not-there.txt\n--pre idna\n-- certifi\n")
    assert reqs == [R("six", "six", "requirements.txt:1")]


# -- includes ------------------------------------------------------------------------------


def test_every_spelling_of_an_include_relative_to_the_including_file(tmp_path: Path) -> None:
    write(tmp_path, "reqs/base.txt", "-r deps/a.txt\n-rdeps/b.txt\n--requirement=deps/c.txt\n")
    write(tmp_path, "reqs/deps/a.txt", "aaa\n")
    write(tmp_path, "reqs/deps/b.txt", "# b\nbbb==1\n")
    write(tmp_path, "reqs/deps/c.txt", "--requirement ../d.txt\n")
    write(tmp_path, "reqs/d.txt", "ddd\n")
    reqs = parse(tmp_path, "first\n-r reqs/base.txt\nlast\n")
    assert [(r.name, r.source) for r in reqs] == [
        ("first", "requirements.txt:1"),
        ("aaa", "reqs/deps/a.txt:1"),
        ("bbb", "reqs/deps/b.txt:2"),
        ("ddd", "reqs/d.txt:1"),
        ("last", "requirements.txt:3"),
    ]


def test_constraints_files_and_what_they_include(tmp_path: Path) -> None:
    write(tmp_path, "constraints.txt", "six<2\n-r more.txt\n-c nested.txt\n")
    write(tmp_path, "more.txt", "idna\n")  # pip: -r inside a constraints file requires
    write(tmp_path, "nested.txt", "certifi<2030\n")
    reqs = parse(tmp_path, "-c constraints.txt\n--constraint=constraints.txt\nsix\n")
    assert reqs == [
        R("six", "six<2", "constraints.txt:1", specifier="<2", constraint=True),
        R("idna", "idna", "more.txt:1"),
        R("certifi", "certifi<2030", "nested.txt:1", specifier="<2030", constraint=True),
        R("six", "six", "requirements.txt:3"),
    ]


def test_a_diamond_of_includes_yields_each_requirement_once(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", "-r common.txt\naaa\n")
    write(tmp_path, "b.txt", "-r common.txt\nbbb\n")
    write(tmp_path, "common.txt", "six\n")
    reqs = parse(tmp_path, "-r a.txt\n-r b.txt\n-r common.txt\n")
    assert [(r.name, r.source) for r in reqs] == [
        ("six", "common.txt:1"),
        ("aaa", "a.txt:2"),
        ("bbb", "b.txt:2"),
    ]


def test_a_missing_include_is_an_error_at_the_including_line(tmp_path: Path) -> None:
    write(tmp_path, "reqs/base.txt", "six\n\n-r extras/redis.txt\n")
    assert fails(tmp_path, "-r reqs/base.txt\n") == (
        "reqs/base.txt:3: requirements file reqs/extras/redis.txt: not found "
        "(included with -r extras/redis.txt)"
    )
    assert fails(tmp_path, "-c nothere.txt\n") == (
        "requirements.txt:1: constraints file nothere.txt: not found (included with -c nothere.txt)"
    )


def test_include_cycles_are_named(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", "aaa\n-r sub/b.txt\n")
    write(tmp_path, "sub/b.txt", "bbb\n-r ../a.txt\n")
    assert fails(tmp_path, "-r a.txt\n") == (
        "sub/b.txt:2: include cycle: a.txt -> sub/b.txt -> a.txt (-r ../a.txt)"
    )
    assert fails(tmp_path, "six\n-r requirements.txt\n") == (
        "requirements.txt:2: include cycle: requirements.txt -> requirements.txt "
        "(-r requirements.txt)"
    )


def test_a_symlinked_cycle_is_still_a_cycle(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", "-r link.txt\n")
    (tmp_path / "link.txt").symlink_to(tmp_path / "a.txt")
    assert fails(tmp_path, name="a.txt") == ("a.txt:1: include cycle: a.txt -> a.txt (-r link.txt)")


def test_an_include_from_a_url_is_not_fetched(tmp_path: Path) -> None:
    reqs = parse(tmp_path, "-r https://user:s3cret@example.org/reqs.txt\n")
    assert reqs == [
        R(
            "",
            "-r https://user:***@example.org/reqs.txt",
            "requirements.txt:1",
            url="https://user:***@example.org/reqs.txt",
            unverified=REMOTE_INCLUDE,
        )
    ]


def test_an_include_as_a_file_url(tmp_path: Path) -> None:
    other = write(tmp_path, "elsewhere/x.txt", "six\n")
    reqs = parse(tmp_path, f"-r {other.as_uri()}\n")
    assert reqs == [R("six", "six", "elsewhere/x.txt:1")]


def test_the_top_file_missing_or_a_directory(tmp_path: Path) -> None:
    assert fails(tmp_path, name="nothere.txt") == (
        "nothere.txt: requirements file nothere.txt: not found"
    )
    (tmp_path / "adir").mkdir()
    assert fails(tmp_path, "-r adir\n") == (
        "requirements.txt:1: requirements file adir: is a directory, not a file "
        "(included with -r adir)"
    )


# -- editables -----------------------------------------------------------------------------


def test_editable_local_paths_read_their_name(tmp_path: Path) -> None:
    write(tmp_path, "lib/pyproject.toml", '[project]\nname = "My_Lib"\n')
    write(tmp_path, "legacy/setup.cfg", "[metadata]\nname = Legacy.Pkg\n")
    write(tmp_path, "legacy/setup.py", "")
    write(tmp_path, "anon/setup.py", "")
    reqs = parse(
        tmp_path,
        """
        -e ./lib
        --editable=./lib[Dev_X,b]
        -e legacy
        -e ./anon
        -e ./not-checked-out
        """,
    )
    S = "requirements.txt"
    assert reqs == [
        R("my-lib", "./lib", f"{S}:1", url="./lib", editable=True),
        R("my-lib", "./lib[Dev_X,b]", f"{S}:2", url="./lib", extras=("b", "dev-x"), editable=True),
        R("legacy-pkg", "legacy", f"{S}:3", url="legacy", editable=True),
        R(
            "",
            "./anon",
            f"{S}:4",
            url="./anon",
            editable=True,
            unverified=f"{UNKNOWN_EDITABLE}: neither anon/pyproject.toml [project] nor "
            "anon/setup.cfg [metadata] names it",
        ),
        R(
            "",
            "./not-checked-out",
            f"{S}:5",
            url="./not-checked-out",
            editable=True,
            unverified=f"{UNKNOWN_EDITABLE}: ./not-checked-out is not a directory in the project",
        ),
    ]


def test_editable_paths_are_relative_to_the_project_like_pips_cwd(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", '[project]\nname = "myproj"\n')
    write(tmp_path, "requirements/dev.txt", "-e .[test]\n")
    reqs = parse_requirements(Path("requirements/dev.txt"), tmp_path)
    assert reqs == [
        R("myproj", ".[test]", "requirements/dev.txt:1", url=".", extras=("test",), editable=True)
    ]


def test_local_paths_carry_their_absolute_path_for_fix_commands(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", '[project]\nname = "myproj"\n')
    write(tmp_path, "lib/pyproject.toml", '[project]\nname = "lib"\n')
    write(tmp_path, "dist/w-1.0-py3-none-any.whl", "")
    write(
        tmp_path, "requirements/dev.txt", "-e .[test]\n./lib\n./dist/w-1.0-py3-none-any.whl\nsix\n"
    )
    reqs = parse_requirements(Path("requirements/dev.txt"), tmp_path)
    root = os.path.abspath(tmp_path)
    assert [r.path for r in reqs] == [
        root,
        os.path.join(root, "lib"),
        os.path.join(root, "dist", "w-1.0-py3-none-any.whl"),
        None,
    ]
    assert reqs[0].extras == ("test",)


def test_editable_vcs_urls(tmp_path: Path) -> None:
    reqs = parse(
        tmp_path,
        """
        -e git+https://github.com/a/b.git#egg=Foo_Bar[x]
        -e git+https://github.com/a/b.git@v1#egg=baz&subdirectory=s
        -e git://example.org/repo#egg=old
        """,
    )
    assert reqs == [
        R(
            "foo-bar",
            "git+https://github.com/a/b.git#egg=Foo_Bar[x]",
            "requirements.txt:1",
            extras=("x",),
            url="git+https://github.com/a/b.git#egg=Foo_Bar[x]",
            editable=True,
        ),
        R(
            "baz",
            "git+https://github.com/a/b.git@v1#egg=baz&subdirectory=s",
            "requirements.txt:2",
            url="git+https://github.com/a/b.git@v1#egg=baz&subdirectory=s",
            editable=True,
        ),
        R(
            "old",
            "git://example.org/repo#egg=old",
            "requirements.txt:3",
            url="git+git://example.org/repo#egg=old",
            editable=True,
        ),
    ]


def test_editable_errors_are_pips(tmp_path: Path) -> None:
    assert fails(tmp_path, "-e git+https://github.com/a/b.git\n") == (
        "requirements.txt:1: -e git+https://github.com/a/b.git: pip cannot tell the name of an "
        "editable VCS URL: add #egg=<name> to it"
    )
    assert fails(tmp_path, "-e https://example.org/x.tar.gz\n") == (
        "requirements.txt:1: -e https://example.org/x.tar.gz: not a valid editable requirement; "
        "it should be a path to a local project or a VCS URL (git+, hg+, svn+ or bzr+)"
    )


def test_editable_file_url(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    write(tmp_path, "lib/pyproject.toml", '[project]\nname = "lib"\n')
    reqs = parse(tmp_path, f"-e {lib.as_uri()}\n-e {lib.as_uri()}#egg=named\n")
    assert [(r.name, r.editable, r.unverified) for r in reqs] == [
        ("lib", True, None),
        ("named", True, None),
    ]


# -- URLs, PEP 508 `name @ url`, archives, local directories -------------------------------


def test_pep508_direct_references(tmp_path: Path) -> None:
    reqs = parse(
        tmp_path,
        """
        foo @ https://example.org/foo.tar.gz
        Bar[X] @ git+https://github.com/a/b.git ; python_version < '3.8'
        priv @ https://deploy:hunter22@example.org/priv-1.0.tar.gz
        """,
    )
    assert reqs == [
        R(
            "foo",
            "foo @ https://example.org/foo.tar.gz",
            "requirements.txt:1",
            url="https://example.org/foo.tar.gz",
        ),
        R(
            "bar",
            "Bar[X] @ git+https://github.com/a/b.git ; python_version < '3.8'",
            "requirements.txt:2",
            extras=("x",),
            marker='python_version < "3.8"',
            url="git+https://github.com/a/b.git",
        ),
        R(
            "priv",
            "priv @ https://deploy:***@example.org/priv-1.0.tar.gz",
            "requirements.txt:3",
            url="https://deploy:***@example.org/priv-1.0.tar.gz",
        ),
    ]


def test_url_lines(tmp_path: Path) -> None:
    reqs = parse(
        tmp_path,
        """
        https://example.org/p/Foo_Bar-1.0-py3-none-any.whl
        https://example.org/p/pkg-2.0.tar.gz#egg=pkg[extra]
        git+https://github.com/a/b.git#egg=named; python_version>'3'
        git+https://github.com/celery/kombu.git
        git+https://ghp_0123456789abcdefghij@github.com/org/private.git#egg=private
        """,
    )
    assert reqs == [
        R(
            "foo-bar",
            "https://example.org/p/Foo_Bar-1.0-py3-none-any.whl",
            "requirements.txt:1",
            specifier="==1.0",
            url="https://example.org/p/Foo_Bar-1.0-py3-none-any.whl",
        ),
        R(
            "pkg",
            "https://example.org/p/pkg-2.0.tar.gz#egg=pkg[extra]",
            "requirements.txt:2",
            extras=("extra",),
            url="https://example.org/p/pkg-2.0.tar.gz#egg=pkg[extra]",
        ),
        R(
            "named",
            "git+https://github.com/a/b.git#egg=named; python_version>'3'",
            "requirements.txt:3",
            marker='python_version > "3"',
            url="git+https://github.com/a/b.git#egg=named",
        ),
        R(
            "",
            "git+https://github.com/celery/kombu.git",
            "requirements.txt:4",
            url="git+https://github.com/celery/kombu.git",
            unverified=UNKNOWN_URL,
        ),
        R(
            "private",
            "git+https://***@github.com/org/private.git#egg=private",
            "requirements.txt:5",
            url="git+https://***@github.com/org/private.git#egg=private",
        ),
    ]


@pytest.mark.parametrize(
    ("line", "name", "specifier"),
    [
        ("https://example.org/f/Some_Pkg-1.2.tar.gz", "some-pkg", "==1.2"),
        ("https://example.org/f/python-dateutil-2.8.2.tar.gz", "python-dateutil", "==2.8.2"),
        ("https://example.org/f/pkg-1.0rc1.zip", "pkg", "==1.0rc1"),
        ("https://example.org/f/pkg-latest.tar.gz", "", ""),  # no version: not guessed
        ("https://example.org/f/archive.tar.gz", "", ""),
        ("git+https://example.org/r/pkg-1.0.tar.gz", "", ""),  # a repository, not a file
    ],
)
def test_an_sdist_url_is_named_by_its_file_name(
    tmp_path: Path, line: str, name: str, specifier: str
) -> None:
    (req,) = parse(tmp_path, line)
    assert (req.name, req.specifier) == (name, specifier)
    assert (req.unverified is None) == bool(name)


def test_archives_and_local_directories(tmp_path: Path) -> None:
    write(tmp_path, "lib/pyproject.toml", '[project]\nname = "lib"\n')
    write(tmp_path, "dist/foo-1.0-py2.py3-none-any.whl", b"PK")
    reqs = parse(
        tmp_path,
        """
        ./lib
        ./lib[dev]
        ./dist/foo-1.0-py2.py3-none-any.whl
        ./dist/not_built_yet-2.0-py3-none-any.whl
        ./dist/foo-1.0.tar.gz
        foo.zip
        name @ ./x.whl
        """,
    )
    S = "requirements.txt"
    assert reqs == [
        R("lib", "./lib", f"{S}:1", url="./lib"),
        R("lib", "./lib[dev]", f"{S}:2", url="./lib", extras=("dev",)),
        R(
            "foo",
            "./dist/foo-1.0-py2.py3-none-any.whl",
            f"{S}:3",
            specifier="==1.0",
            url="./dist/foo-1.0-py2.py3-none-any.whl",
        ),
        R(
            "not-built-yet",
            "./dist/not_built_yet-2.0-py3-none-any.whl",
            f"{S}:4",
            specifier="==2.0",
            url="./dist/not_built_yet-2.0-py3-none-any.whl",
        ),
        # an sdist's file name says its name and version (PEP 625), as a wheel's does
        R("foo", "./dist/foo-1.0.tar.gz", f"{S}:5", specifier="==1.0", url="./dist/foo-1.0.tar.gz"),
        # pip reads a name ending in an archive extension as a file name
        R("", "foo.zip", f"{S}:6", url="foo.zip", unverified=UNKNOWN_ARCHIVE),
        R("name", "name @ ./x.whl", f"{S}:7", url="./x.whl"),
    ]


def test_path_errors_are_pips(tmp_path: Path) -> None:
    (tmp_path / "notapackage").mkdir()
    assert fails(tmp_path, "./notapackage\n") == (
        "requirements.txt:1: directory './notapackage' is not installable: neither setup.py "
        "nor pyproject.toml is in it"
    )
    assert fails(tmp_path, "./missing\n") == (
        "requirements.txt:1: invalid requirement './missing': Expected package name at the "
        "start of dependency specifier (it looks like a path, but no such file or directory "
        "is in the project)"
    )
    assert fails(tmp_path, "./foo.whl\n") == (
        "requirements.txt:1: 'foo.whl' is not a valid wheel filename (in './foo.whl')"
    )


def test_constraints_only_limit_named_versions(tmp_path: Path) -> None:
    write(tmp_path, "lib/setup.py", "")
    cases = {
        "six[x]==1.0": "'six[x]==1.0': constraints cannot have extras (pip refuses them)",
        "-e ./lib": "-e ./lib: editable requirements are not allowed as constraints",
        "./lib": "'./lib': unnamed requirements are not allowed as constraints",
    }
    for line, message in cases.items():
        write(tmp_path, "c.txt", f"{line}\n")
        assert fails(tmp_path, "-c c.txt\n") == f"c.txt:1: {message}"


# -- environment variables -----------------------------------------------------------------


def test_env_vars_are_expanded_like_pip_but_never_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIX_VERSION", "1.16.0")
    monkeypatch.setenv("GH_TOKEN", "ghp_supersecretvalue0123")
    monkeypatch.setenv("EMPTY_VAR", "")
    monkeypatch.delenv("UNSET_VAR", raising=False)
    reqs = parse(
        tmp_path,
        """
        six==${SIX_VERSION}
        private @ git+https://${GH_TOKEN}@github.com/org/private.git
        -e git+https://${GH_TOKEN}@github.com/org/lib.git#egg=lib
        """,
    )
    assert reqs == [
        R("six", "six==${SIX_VERSION}", "requirements.txt:1", specifier="==1.16.0"),
        R(
            "private",
            "private @ git+https://${GH_TOKEN}@github.com/org/private.git",
            "requirements.txt:2",
            url="git+https://${GH_TOKEN}@github.com/org/private.git",
        ),
        R(
            "lib",
            "git+https://${GH_TOKEN}@github.com/org/lib.git#egg=lib",
            "requirements.txt:3",
            url="git+https://${GH_TOKEN}@github.com/org/lib.git#egg=lib",
            editable=True,
        ),
    ]
    # unset or empty: left as written, as pip does (so the line is then invalid)
    assert fails(tmp_path, "idna${EMPTY_VAR}\n").startswith(
        "requirements.txt:1: invalid requirement 'idna${EMPTY_VAR}'"
    )
    monkeypatch.setenv("SECRET_SUFFIX", "!!hunter2-secret")
    message = fails(tmp_path, "six${SECRET_SUFFIX}\n")
    assert "${SECRET_SUFFIX}" in message and "hunter2" not in message
    monkeypatch.setenv("REQ_DIR", "/private/secret-dir-name")
    message = fails(tmp_path, "-r ${REQ_DIR}/base.txt\n")
    assert "secret-dir-name" not in message
    assert message.endswith(": not found (included with -r ${REQ_DIR}/base.txt)")


# -- encodings and binary files ------------------------------------------------------------


def test_boms_and_a_coding_line(tmp_path: Path) -> None:
    text = "six==1.16.0\nidna\n"
    for raw in (
        b"\xef\xbb\xbf" + text.encode("utf-8"),
        b"\xff\xfe" + text.encode("utf-16-le"),  # what PowerShell's `pip freeze >` writes
        b"\xfe\xff" + text.encode("utf-16-be"),
        b"\xff\xfe\x00\x00" + text.encode("utf-32-le"),
        b"# -*- coding: latin-1 -*-\nsix==1.16.0 # \xe9t\xe9\nidna\n",
    ):
        reqs = parse(tmp_path, raw)
        assert [r.name for r in reqs] == ["six", "idna"], raw


def test_binary_and_undecodable_files(tmp_path: Path) -> None:
    assert fails(tmp_path, b"six\nidna\x00\x01\x02\n") == (
        "requirements.txt:2: not a requirements file: binary content"
    )
    assert fails(tmp_path, b"six\n\nidna\xff\xfe==1\n") == (
        "requirements.txt:3: not a requirements file: not utf-8 text"
    )
    assert fails(tmp_path, b"# coding: no-such-codec\nsix\n") == (
        "requirements.txt:1: unknown encoding 'no-such-codec'"
    )


# -- the fast path is exactly packaging's reading ------------------------------------------

_NAMES = st.sampled_from(["a", "Foo", "zope.interface", "A_b-C", "x1", "ruamel.yaml", "B-"])
_OPS = st.sampled_from(["==", "!=", ">=", "<=", "~=", ">", "<", "===", "=", ""])
_VERSIONS = st.sampled_from(
    [
        "1",
        "1.0",
        "2.31.0",
        "1.0a1",
        "1.0rc2",
        "1.0.post1",
        "1.0.dev3",
        "1.0a1.post2.dev3",
        "01.0",
        "1.0.*",
        "1.*",
        "1.0a1.*",
        "1.0+local",
        "1!2.0",
        "1.0RC1",
        "",
        "x",
    ]
)
_WS = st.sampled_from(["", " ", "\t", "  "])


@st.composite
def _requirement_like(draw: st.DrawFn) -> str:
    clauses = draw(st.lists(st.tuples(_WS, _OPS, _WS, _VERSIONS, _WS), max_size=3))
    spec = ",".join(f"{a}{op}{b}{v}{c}" for a, op, b, v, c in clauses)
    extras = draw(
        st.one_of(
            st.just(""),
            st.lists(_NAMES, min_size=1, max_size=3).map(lambda names: "[" + ",".join(names) + "]"),
        )
    )
    return f"{draw(_NAMES)}{draw(_WS)}{extras}{draw(_WS)}{spec}"


@given(_requirement_like())
@settings(max_examples=400, deadline=None)
def test_the_fast_path_reads_exactly_what_packaging_reads(text: str) -> None:
    from packaging.requirements import InvalidRequirement, Requirement

    fast = _fast(text.strip())
    try:
        req = Requirement(text.strip())
    except InvalidRequirement:
        assert fast is None, text
        return
    if fast is not None:
        assert fast == (
            canonical(req.name),
            tuple(sorted({canonical(e) for e in req.extras})),
            str(req.specifier),
        ), text


# -- never a traceback ---------------------------------------------------------------------

_FRAGMENTS = st.sampled_from(
    [
        "six",
        "==",
        "1.0",
        ">=",
        ",",
        ";",
        " ; ",
        "python_version < '3'",
        "[",
        "]",
        "@",
        " @ ",
        "#",
        " #",
        "#egg=",
        "\\",
        "\\\n",
        "\n",
        "\r\n",
        "\t",
        " ",
        "-r ",
        "-c ",
        "-e ",
        "-r",
        "-e",
        "--hash=sha256:",
        "--hash=",
        "--index-url ",
        "--pre",
        "--",
        "-",
        "'",
        '"',
        "${X}",
        "${",
        "git+https://",
        "https://",
        "file:",
        "./",
        "../",
        "/",
        ".",
        "x.whl",
        "a-1.0-py3-none-any.whl",
        ".tar.gz",
        "requirements.txt",
        "other.txt",
        "\x0c",
        "\u2028",
        "é",
        "\x00",
        "(",
        ")",
        "and",
        "extra == 'x'",
        "~=",
        "===",
        "*",
        ".*",
        "user:pw@",
        "C:\\",
        "-C",
        "k=v",
    ]
)
_TEXT = st.one_of(st.text(max_size=200), st.lists(_FRAGMENTS, max_size=40).map("".join))


@given(_TEXT, _TEXT)
@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_text_gives_requirements_or_a_project_file_error(main: str, other: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "requirements.txt").write_text(main, encoding="utf-8", newline="")
        (root / "other.txt").write_text(other, encoding="utf-8", newline="")
        try:
            reqs = parse_requirements(Path("requirements.txt"), root)
        except ProjectFileError as exc:
            assert exc.source is not None and exc.source.path
            assert str(exc).startswith(exc.source.path)
        else:
            for req in reqs:
                assert req.name == canonical(req.name)
                assert req.source.startswith(("requirements.txt:", "other.txt:"))
                assert req.name or req.unverified


# -- pyproject.toml ------------------------------------------------------------------------

PYPROJECT = """\
[project]
name = "Demo_Proj"
dependencies = [
    "requests>=2.31",  # a comment
    'attrs',
    "typing-extensions; python_version < '3.11'",
    \"\"\"
click>=8\"\"\",
]

[project.optional-dependencies]
Socks = ["PySocks>=1.5.6, !=1.5.7"]
test = [
  "pytest>=8",
  "demo-proj[socks]; sys_platform != 'win32'",
]
empty = []
dev = ["Demo_Proj[test]"]

[dependency-groups]
lint = ["ruff"]
Typing = ["mypy", {include-group = "lint"}]
ci = [{include-group = "typing"}, "demo-proj[socks]"]
"""


def pyproject(root: Path, text: str = PYPROJECT, **kwargs: object) -> list[Req]:
    (root / "pyproject.toml").write_text(text, encoding="utf-8")
    return pyproject_requirements(Path("pyproject.toml"), root, **kwargs)  # type: ignore[arg-type]


def pyproject_fails(root: Path, text: str = PYPROJECT, **kwargs: object) -> str:
    with pytest.raises(ProjectFileError) as caught:
        pyproject(root, text, **kwargs)
    return str(caught.value)


def test_pyproject_dependencies_with_their_lines(tmp_path: Path) -> None:
    assert pyproject(tmp_path) == [
        R("requests", "requests>=2.31", "pyproject.toml:4", specifier=">=2.31"),
        R("attrs", "attrs", "pyproject.toml:5"),
        R(
            "typing-extensions",
            "typing-extensions; python_version < '3.11'",
            "pyproject.toml:6",
            marker='python_version < "3.11"',
        ),
        R("click", "click>=8", "pyproject.toml:7", specifier=">=8"),
    ]


def test_pyproject_extras_and_self_references(tmp_path: Path) -> None:
    reqs = pyproject(tmp_path, dependencies=False, extras=["DEV", "socks"])
    assert reqs == [
        R("pytest", "pytest>=8", "pyproject.toml:14", specifier=">=8"),
        # dev -> demo-proj[test] -> demo-proj[socks] (under its marker) -> PySocks
        R(
            "pysocks",
            "PySocks>=1.5.6, !=1.5.7",
            "pyproject.toml:12",
            specifier="!=1.5.7,>=1.5.6",
            marker='sys_platform != "win32"',
        ),
        R("pysocks", "PySocks>=1.5.6, !=1.5.7", "pyproject.toml:12", specifier="!=1.5.7,>=1.5.6"),
    ]
    every = pyproject(tmp_path, dependencies=False, extras=["*"])
    assert {r.name for r in every} == {"pysocks", "pytest"}


def test_pyproject_groups_with_include_group(tmp_path: Path) -> None:
    reqs = pyproject(tmp_path, dependencies=False, groups=["ci"])
    assert reqs == [
        R("mypy", "mypy", "pyproject.toml:22"),
        R("ruff", "ruff", "pyproject.toml:21"),
        R("demo-proj", "demo-proj[socks]", "pyproject.toml:23", extras=("socks",)),
    ]
    assert [r.name for r in pyproject(tmp_path, dependencies=False, groups=["*"])] == [
        "ruff",
        "mypy",
        "demo-proj",
    ]


def test_pyproject_unknown_extras_and_groups_name_what_exists(tmp_path: Path) -> None:
    assert pyproject_fails(tmp_path, extras=["docs"]) == (
        "pyproject.toml:11: unknown extra 'docs' (extras declared: Socks, dev, empty, test)"
    )
    assert pyproject_fails(tmp_path, groups=["docs"]) == (
        "pyproject.toml:20: unknown dependency group 'docs' (groups declared: Typing, ci, lint)"
    )
    assert pyproject_fails(tmp_path, "[project]\nname = 'x'\n", groups=["dev"]) == (
        "pyproject.toml: unknown dependency group 'dev': pyproject.toml has no "
        "[dependency-groups] table"
    )


def test_pyproject_group_cycles_and_bad_entries(tmp_path: Path) -> None:
    cyclic = '[dependency-groups]\na = [{include-group = "b"}]\nb = ["x", {include-group = "a"}]\n'
    assert pyproject_fails(tmp_path, cyclic, groups=["a"]) == (
        "pyproject.toml:2: dependency group cycle: a -> b -> a"
    )
    unknown = '[dependency-groups]\na = ["x",\n  {include-group = "nope"}]\n'
    assert pyproject_fails(tmp_path, unknown, groups=["a"]) == (
        "pyproject.toml:3: dependency group 'a' includes unknown group 'nope' (groups declared: a)"
    )
    bad = '[dependency-groups]\na = [{other = "x"}]\n'
    assert pyproject_fails(tmp_path, bad, groups=["a"]) == (
        "pyproject.toml:2: dependency group 'a': {'other': 'x'} is neither a requirement string "
        'nor {include-group = "..."}'
    )


def test_pyproject_without_a_project_table(tmp_path: Path) -> None:
    tool_only = "[tool.curlylint]\ninclude = 'x'\n"
    assert pyproject(tmp_path, tool_only) == []
    assert pyproject(tmp_path, tool_only, extras=["*"], groups=["*"]) == []
    assert pyproject_fails(tmp_path, tool_only, extras=["test"]) == (
        "pyproject.toml: unknown extra 'test': pyproject.toml has no [project]"
    )
    groups_only = '[dependency-groups]\ndev = ["pytest"]\n'
    assert pyproject(tmp_path, groups_only, groups=["dev"]) == [
        R("pytest", "pytest", "pyproject.toml:2")
    ]


def test_pyproject_dynamic_dependencies_are_unverified(tmp_path: Path) -> None:
    text = '[project]\nname = "x"\ndynamic = ["version", "dependencies"]\n'
    assert pyproject(tmp_path, text) == [
        R(
            "",
            "[project].dependencies",
            "pyproject.toml:3",
            unverified="[project].dependencies declared dynamic: the build backend computes "
            "them, pyproject.toml does not list them",
        )
    ]


def test_pyproject_errors(tmp_path: Path) -> None:
    assert pyproject_fails(tmp_path, '[project]\ndependencies = [\n  "ok",\n  "bad bad"\n]\n') == (
        "pyproject.toml:4: invalid requirement 'bad bad': Expected semicolon (after name with no "
        "version specifier) or end"
    )
    assert pyproject_fails(tmp_path, '[project]\ndependencies = "requests"\n') == (
        "pyproject.toml:2: [project].dependencies must be a list of requirement strings"
    )
    assert pyproject_fails(tmp_path, "[project\n").startswith("pyproject.toml:1: invalid TOML")
    os.remove(tmp_path / "pyproject.toml")
    with pytest.raises(ProjectFileError, match=r"pyproject\.toml: not found"):
        pyproject_requirements(Path("pyproject.toml"), tmp_path)


def test_pyproject_inline_optional_dependencies_fall_back_to_the_key_line(tmp_path: Path) -> None:
    text = '[project]\nname = "x"\noptional-dependencies = {test = ["pytest", "cov"]}\n'
    reqs = pyproject(tmp_path, text, dependencies=False, extras=["test"])
    assert [(r.name, r.source) for r in reqs] == [
        ("pytest", "pyproject.toml:3"),
        ("cov", "pyproject.toml:3"),
    ]


def test_secrets_in_url_query_strings_are_masked(tmp_path: Path) -> None:
    reqs = parse(tmp_path, "pkg @ https://example.org/pkg-1.0.tar.gz?token=abc123secret&x=1\n")
    assert reqs[0].text == "pkg @ https://example.org/pkg-1.0.tar.gz?token=***&x=1"
    assert reqs[0].url == "https://example.org/pkg-1.0.tar.gz?token=***&x=1"
    message = fails(tmp_path, "-e https://example.org/x.tar.gz?api_key=abc123secret\n")
    assert "abc123secret" not in message and "api_key=***" in message
