"""The loader: every configuration error with its `file:line`, settings, discovery, interpolation.

DESIGN.md §3: errors in check modules stop the run with one clear line each; an unset `${VAR}`
makes that one check `error` instead; values from the environment are never shown.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envdoctor.config import Config, Settings, load_config
from envdoctor.errors import ConfigError, ConfigErrors
from envdoctor.kinds import KINDS
from envdoctor.model import CheckSpec, Severity

if TYPE_CHECKING:
    from conftest import Project

FUZZ = settings(max_examples=200, deadline=None)
SECRET = "s3cr3t-Value-42"


def load(
    project: Project, environ: dict[str, str] | None = None, config: list[Path] | None = None
) -> Config:
    return load_config(project.root, config, environ or {})


def errors(
    project: Project, environ: dict[str, str] | None = None, config: list[Path] | None = None
) -> list[str]:
    with pytest.raises(ConfigErrors) as info:
        load(project, environ, config)
    assert all(isinstance(e, ConfigError) for e in info.value.errors)
    lines = [str(e) for e in info.value.errors]
    assert str(info.value) == "\n".join(lines)
    return lines


def spec(config: Config, check_id: str) -> CheckSpec:
    return next(s for s in config.checks if s.id == check_id)


FILE_CHECK = """
[[check]]
id = "readme"
kind = "file"
path = "README.md"
"""

# -- a good module ------------------------------------------------------------------------


def test_a_full_check(project: Project) -> None:
    project.checks(
        """
        # the project's own files
        [[check]]
        id = "readme"
        kind = "file"
        path = "README.md"

        [[check]]
        id = "no-junk"
        kind = "file"
        title = "No junk file"
        path = "junk.txt"
        exists = false
        severity = "optional"
        weight = 2.5
        tags = ["files", "cleanup"]
        timeout = "1m30s"
        depends_on = ["readme"]
        when = 'sys_platform == "linux"'
        fix = "rm junk.txt"
        """
    )
    config = load(project)
    assert [s.id for s in config.checks] == ["readme", "no-junk"]
    readme, junk = config.checks
    assert readme.kind == "file"
    assert str(readme.source) == "checks/envdoctor.toml:2"
    assert readme.severity is Severity.REQUIRED
    assert readme.options == {"path": "README.md", "exists": True}  # the kind's default filled in
    assert readme.timeout is None
    assert readme.problem is None
    assert junk.title == "No junk file"
    assert junk.display_title == "No junk file"
    assert junk.severity is Severity.OPTIONAL
    assert junk.weight == 2.5
    assert junk.effective_weight == 2.5
    assert junk.tags == ("files", "cleanup")
    assert junk.timeout == 90.0
    assert junk.depends_on == ("readme",)
    assert junk.when == 'sys_platform == "linux"'
    assert junk.fix == "rm junk.txt"
    assert junk.options == {"path": "junk.txt", "exists": False}
    assert str(junk.source) == "checks/envdoctor.toml:7"
    assert str(junk.source_of("exists")) == "checks/envdoctor.toml:12"
    assert str(junk.source_of("when")) == "checks/envdoctor.toml:18"
    assert str(junk.source_of("not-an-option")) == "checks/envdoctor.toml:7"
    assert config.files == ["checks/envdoctor.toml"]
    assert config.settings == Settings()


def test_single_string_tags_and_depends_on(project: Project) -> None:
    project.checks(
        FILE_CHECK
        + '\n[[check]]\nid = "b"\nkind = "file"\npath = "x"\ntags = "t"\ndepends_on = "readme"\n'
    )
    b = spec(load(project), "b")
    assert b.tags == ("t",)
    assert b.depends_on == ("readme",)


def test_skip_option(project: Project) -> None:
    project.checks(FILE_CHECK + 'skip = "not on CI"\n')
    assert load(project).checks[0].skip == "not on CI"


def test_no_modules_no_checks(project: Project) -> None:
    config = load(project)
    assert config.checks == []
    assert config.files == []


def test_empty_module(project: Project) -> None:
    project.checks("# nothing yet\n")
    config = load(project)
    assert config.checks == []
    assert config.files == ["checks/envdoctor.toml"]


def test_inline_array_of_checks(project: Project) -> None:
    project.checks(
        'check = [\n  {id = "a", kind = "file", path = "x"},\n'
        '  {id = "b", kind = "file", path = "y"},\n]\n'
    )
    assert [s.id for s in load(project).checks] == ["a", "b"]


# -- every configuration error, with file:line ---------------------------------------------


def test_bad_toml(project: Project) -> None:
    project.checks('[[check]]\nid = "a"\nkind = "file"\npath = \n')
    [line] = errors(project)
    assert line.startswith("checks/envdoctor.toml:4: invalid TOML: ")


def test_binary_module(project: Project) -> None:
    (project.root / "checks").mkdir()
    (project.root / "checks" / "x.toml").write_bytes(b"\x00\x01binary")
    assert errors(project) == ["checks/x.toml:1: not a TOML file (binary content)"]


def test_non_utf8_module(project: Project) -> None:
    (project.root / "checks").mkdir()
    (project.root / "checks" / "x.toml").write_bytes(b'[[check]]\nid = "caf\xe9"\n')
    assert errors(project) == ["checks/x.toml:2: not a TOML file (not UTF-8 text)"]


def test_unknown_kind(project: Project) -> None:
    project.checks('# c\n[[check]]\nid = "a"\nkind = "fiel"\npath = "x"\n')
    assert errors(project) == [
        "checks/envdoctor.toml:4: unknown kind 'fiel' (did you mean 'file'?)"
    ]


def test_unknown_kind_without_a_close_match(project: Project) -> None:
    project.checks('[[check]]\nid = "a"\nkind = "quantum"\n')
    assert errors(project) == ["checks/envdoctor.toml:3: unknown kind 'quantum'"]


def test_kind_of_wrong_type(project: Project) -> None:
    project.checks('[[check]]\nid = "a"\nkind = 3\n')
    assert errors(project) == ["checks/envdoctor.toml:3: unknown kind 3"]


def test_unknown_option(project: Project) -> None:
    project.checks('[[check]]\nid = "a"\nkind = "file"\npath = "x"\npth = "y"\n')
    assert errors(project) == [
        "checks/envdoctor.toml:5: unknown option 'pth' for kind file (did you mean 'path'?)"
    ]


def test_misspelled_required_option(project: Project) -> None:
    # One line for one mistake: the typo's suggestion already names the missing option.
    project.checks('[[check]]\nid = "a"\nkind = "file"\npth = "x"\n')
    assert errors(project) == [
        "checks/envdoctor.toml:4: unknown option 'pth' for kind file (did you mean 'path'?)",
    ]


def test_missing_required_option(project: Project) -> None:
    project.checks('[[check]]\nid = "a"\nkind = "file"\nexists = true\n')
    assert errors(project) == ["checks/envdoctor.toml:1: check 'a': kind file needs option 'path'"]


def test_missing_required_option_beside_an_unrelated_typo(project: Project) -> None:
    project.checks('[[check]]\nid = "a"\nkind = "file"\nexits = true\n')
    assert errors(project) == [
        "checks/envdoctor.toml:4: unknown option 'exits' for kind file (did you mean 'exists'?)",
        "checks/envdoctor.toml:1: check 'a': kind file needs option 'path'",
    ]


def test_common_option_misspelled(project: Project) -> None:
    project.checks(FILE_CHECK + 'dependson = ["x"]\n')
    assert errors(project) == [
        "checks/envdoctor.toml:5: unknown option 'dependson' for kind file "
        "(did you mean 'depends_on'?)"
    ]


def test_option_in_a_sub_table(project: Project) -> None:
    project.checks(FILE_CHECK + "\n[check.matchh]\nA = 'x'\n")
    [line] = errors(project)
    assert line.startswith("checks/envdoctor.toml:6: unknown option 'matchh' for kind file")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            'exists = "no"',
            "check 'readme': option 'exists': expected true or false, got a string 'no'",
        ),
        ("path2 = 1", "unknown option 'path2' for kind file (did you mean 'path'?)"),
        (
            "tags = 3",
            "check 'readme': option 'tags': expected a list of strings or a string, "
            "got an integer 3",
        ),
        ("tags = [1, 2]", "check 'readme': option 'tags': expected a list of strings"),
        (
            "weight = -1",
            "check 'readme': option 'weight': -1 is out of range: expected a number from 0 to 1000",
        ),
        (
            'weight = "heavy"',
            "check 'readme': option 'weight': expected a number from 0 to 1000, got a string 'heavy'",
        ),
        (
            'severity = "optinal"',
            "check 'readme': option 'severity': expected one of 'required', 'optional', "
            "got 'optinal' (did you mean 'optional'?)",
        ),
        ("title = false", "check 'readme': option 'title': expected a string, got a boolean False"),
        ("fix = []", "check 'readme': option 'fix': expected a string, got a list []"),
        ('timeout = "5 parsecs"', "check 'readme': option 'timeout': not a duration: '5 parsecs'"),
        ("timeout = -1", "check 'readme': option 'timeout': not a duration: -1"),
        ('timeout = "2w"', "check 'readme': option 'timeout': not a duration: '2w'"),
        ("timeout = 1e999", "check 'readme': option 'timeout': not a duration: inf"),
        ("timeout = true", "check 'readme': option 'timeout': expected a duration"),
        ("skip = true", "check 'readme': option 'skip': expected a string, got a boolean True"),
        (
            'when = "sys_platform = linux"',
            "check 'readme': option 'when': not a valid PEP 508 marker: ",
        ),
        ("when = 'python_version >'", "check 'readme': option 'when': not a valid PEP 508 marker"),
        (
            "when = 'no_such_marker == \"1\"'",
            "check 'readme': option 'when': not a valid PEP 508 marker",
        ),
        ("depends_on = [1]", "check 'readme': option 'depends_on': expected a list of strings"),
    ],
)
def test_wrong_values_name_their_line(project: Project, extra: str, message: str) -> None:
    project.checks(FILE_CHECK + "\n\n" + extra + "\n")
    [line] = errors(project)
    assert line.startswith(f"checks/envdoctor.toml:7: {message}")


def test_bad_id(project: Project) -> None:
    project.checks('[[check]]\nkind = "file"\nid = "two words"\npath = "x"\n')
    assert errors(project) == [
        "checks/envdoctor.toml:3: check 'two words': option 'id': 'two words' is not valid: "
        "letters, digits, '_', '-', '.', ':'"
    ]


def test_id_of_wrong_type(project: Project) -> None:
    project.checks('[[check]]\nid = 7\nkind = "file"\npath = "x"\n')
    assert errors(project) == [
        "checks/envdoctor.toml:2: check: option 'id': expected a string, got an integer 7"
    ]


def test_missing_id_and_kind(project: Project) -> None:
    project.checks('[[check]]\nid = "a"\n\n[[check]]\nkind = "file"\npath = "x"\n')
    assert errors(project) == [
        "checks/envdoctor.toml:1: check 'a' has no 'kind' (one of: " + ", ".join(KINDS) + ")",
        "checks/envdoctor.toml:4: check has no 'id'",
    ]


def test_check_that_is_not_a_table(project: Project) -> None:
    project.checks('check = ["a", 1]\n')
    assert errors(project) == [
        "checks/envdoctor.toml:1: each check must be a table",
        "checks/envdoctor.toml:1: each check must be a table",
    ]


def test_table_instead_of_array_of_tables_message(project: Project) -> None:
    project.checks('[check]\nid = "a"\nkind = "file"\npath = "x"\n')
    assert errors(project) == [
        "checks/envdoctor.toml:1: 'check' must be an array of tables: write [[check]], not [check]"
    ]


def test_table_instead_of_array_of_tables(project: Project) -> None:
    project.checks('# one check\n[check]\nid = "a"\nkind = "file"\npath = "x"\n')
    assert errors(project) == [
        "checks/envdoctor.toml:2: 'check' must be an array of tables: write [[check]], not [check]"
    ]


def test_kind_cross_option_validation(project: Project) -> None:
    project.checks('[[check]]\nid = "py"\nkind = "python"\nversion = "at least 3.11"\n')
    assert errors(project) == [
        "checks/envdoctor.toml:4: check 'py': option 'version': not a PEP 440 version specifier: "
        "'at least 3.11' (e.g. \">=3.11\")"
    ]


def test_duplicate_id_across_files(project: Project) -> None:
    project.checks(FILE_CHECK, "checks/a.toml")
    project.checks("# second\n\n" + FILE_CHECK, "checks/b.toml")
    assert errors(project) == [
        "checks/b.toml:5: duplicate id 'readme' (first defined at checks/a.toml:1)"
    ]


def test_duplicate_id_in_one_file(project: Project) -> None:
    project.checks(FILE_CHECK + FILE_CHECK)
    assert errors(project) == [
        "checks/envdoctor.toml:7: duplicate id 'readme' (first defined at checks/envdoctor.toml:1)"
    ]


def test_depends_on_unknown_id(project: Project) -> None:
    project.checks(
        FILE_CHECK + '\n[[check]]\nid = "b"\nkind = "file"\npath = "x"\ndepends_on = ["readm"]\n'
    )
    assert errors(project) == [
        "checks/envdoctor.toml:10: check 'b': depends_on names unknown check 'readm' "
        "(did you mean 'readme'?)"
    ]


def test_depends_on_unknown_id_without_a_close_match(project: Project) -> None:
    project.checks(FILE_CHECK + 'depends_on = ["zzz"]\n')
    assert errors(project) == [
        "checks/envdoctor.toml:5: check 'readme': depends_on names unknown check 'zzz'"
    ]


def test_dependency_cycle(project: Project) -> None:
    project.checks(
        '[[check]]\nid = "a"\nkind = "file"\npath = "x"\ndepends_on = ["b"]\n\n'
        '[[check]]\nid = "b"\nkind = "file"\npath = "x"\ndepends_on = ["a"]\n'
    )
    assert errors(project) == ["checks/envdoctor.toml:5: dependency cycle: a -> b -> a"]


def test_dependency_on_itself(project: Project) -> None:
    project.checks(FILE_CHECK + 'depends_on = ["readme"]\n')
    assert errors(project) == ["checks/envdoctor.toml:5: dependency cycle: readme -> readme"]


def test_longer_cycle_across_files(project: Project) -> None:
    project.checks(
        '[[check]]\nid = "a"\nkind = "file"\npath = "x"\ndepends_on = ["b"]\n', "checks/1.toml"
    )
    project.checks(
        '[[check]]\nid = "b"\nkind = "file"\npath = "x"\ndepends_on = ["c"]\n', "checks/2.toml"
    )
    project.checks(
        '[[check]]\nid = "c"\nkind = "file"\npath = "x"\ndepends_on = ["a"]\n', "checks/3.toml"
    )
    assert errors(project) == ["checks/1.toml:5: dependency cycle: a -> b -> c -> a"]


def test_a_diamond_is_not_a_cycle(project: Project) -> None:
    project.checks(
        '[[check]]\nid = "a"\nkind = "file"\npath = "x"\ndepends_on = ["b", "c"]\n'
        '[[check]]\nid = "b"\nkind = "file"\npath = "x"\ndepends_on = ["d"]\n'
        '[[check]]\nid = "c"\nkind = "file"\npath = "x"\ndepends_on = ["d"]\n'
        '[[check]]\nid = "d"\nkind = "file"\npath = "x"\n'
    )
    assert [s.id for s in load(project).checks] == ["a", "b", "c", "d"]


def test_long_chain_has_no_recursion_limit(project: Project) -> None:
    text = "".join(
        f'[[check]]\nid = "c{i}"\nkind = "file"\npath = "x"\ndepends_on = ["c{i + 1}"]\n'
        for i in range(2000)
    )
    project.checks(text + '[[check]]\nid = "c2000"\nkind = "file"\npath = "x"\n')
    assert len(load(project).checks) == 2001


def test_unknown_top_level_keys(project: Project) -> None:
    project.checks('chek = 1\n\n[foo]\nx = 1\n\n[[chekc]]\nid = "a"\n')
    assert errors(project) == [
        "checks/envdoctor.toml:1: unknown top-level key 'chek' in a check module "
        "(did you mean 'check'?)",
        "checks/envdoctor.toml:3: unknown top-level key 'foo' in a check module",
        "checks/envdoctor.toml:6: unknown top-level key 'chekc' in a check module "
        "(did you mean 'check'?)",
    ]


def test_module_with_a_tool_table_keeps_its_checks(project: Project) -> None:
    project.checks('[tool.other]\ny = 1\n\n[[check]]\nid = "a"\nkind = "fiel"\npath = "x"\n')
    with pytest.raises(ConfigErrors):
        load(project)


def test_every_error_of_one_load_is_reported(project: Project) -> None:
    project.checks(
        '[[check]]\nid = "a"\nkind = "fiel"\n\n'
        '[[check]]\nid = "b"\nkind = "file"\npath = "x"\nulr = "y"\n',
        "checks/a.toml",
    )
    project.checks("[[check]]\nid = ", "checks/b.toml")
    project.write("pyproject.toml", '[tool.envdoctor]\ntimeot = "2s"\n')
    lines = errors(project)
    assert (
        lines[0] == "pyproject.toml:2: unknown setting 'timeot' in [tool.envdoctor] "
        "(did you mean 'timeout'?)"
    )
    assert "checks/a.toml:3: unknown kind 'fiel' (did you mean 'file'?)" in lines
    assert any(line.startswith("checks/a.toml:9: unknown option 'ulr'") for line in lines)
    assert any(line.startswith("checks/b.toml:2: invalid TOML") for line in lines)


def test_error_lines_have_no_traceback(project: Project) -> None:
    project.checks('[[check]]\nid = "a"\nkind = "fiel"\n')
    [line] = errors(project)
    assert "Traceback" not in line
    assert "\n" not in line


# -- settings ------------------------------------------------------------------------------


def test_settings_defaults(project: Project) -> None:
    project.write("pyproject.toml", '[project]\nname = "x"\n')
    settings_ = load(project).settings
    assert settings_.include == ["checks/*.toml"]
    assert settings_.timeout == 5.0
    assert settings_.min_score == 0
    assert settings_.dotenv is None


def test_settings_values(project: Project) -> None:
    project.write(
        "pyproject.toml",
        '[tool.envdoctor]\ninclude = ["more/*.toml"]\ntimeout = "500ms"\nmin_score = 80\n'
        'dotenv = ".env.test"\n',
    )
    settings_ = load(project).settings
    assert settings_ == Settings(
        include=["more/*.toml"], timeout=0.5, min_score=80, dotenv=".env.test"
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('timeot = "2s"', "unknown setting 'timeot' in [tool.envdoctor] (did you mean 'timeout'?)"),
        (
            "minscore = 3",
            "unknown setting 'minscore' in [tool.envdoctor] (did you mean 'min_score'?)",
        ),
        (
            'includes = ["x"]',
            "unknown setting 'includes' in [tool.envdoctor] (did you mean 'include'?)",
        ),
        ("colour = true", "unknown setting 'colour' in [tool.envdoctor]"),
        ('timeout = "soon"', "setting 'timeout': not a duration: 'soon'"),
        (
            "min_score = 101",
            "setting 'min_score': 101 is out of range: expected an integer from 0 to 100",
        ),
        ("min_score = 1.5", "setting 'min_score': expected an integer"),
        ("dotenv = 3", "setting 'dotenv': expected a string, got an integer 3"),
        ("include = [3]", "setting 'include': expected a list of strings"),
    ],
)
def test_bad_settings(project: Project, line: str, message: str) -> None:
    project.write("pyproject.toml", f'[project]\nname = "x"\n\n[tool.envdoctor]\n{line}\n')
    [error] = errors(project)
    assert error.startswith(f"pyproject.toml:5: {message}")


def test_tool_envdoctor_not_a_table(project: Project) -> None:
    project.write("pyproject.toml", "[tool]\nenvdoctor = 3\n")
    [error] = errors(project)
    assert error.endswith("[tool.envdoctor] must be a table")


def test_tool_envdoctor_check_as_a_table(project: Project) -> None:
    project.write(
        "pyproject.toml", '[tool.envdoctor]\ntimeout = "1s"\n\n[tool.envdoctor.check]\nid = "a"\n'
    )
    assert errors(project) == [
        "pyproject.toml:4: 'tool.envdoctor.check' must be an array of tables: "
        "write [[tool.envdoctor.check]], not [tool.envdoctor.check]"
    ]


def test_broken_pyproject_is_a_config_error(project: Project) -> None:
    project.write("pyproject.toml", "[tool\n")
    [error] = errors(project)
    assert error.startswith("pyproject.toml:1: invalid TOML")


# -- where checks come from ----------------------------------------------------------------


def test_pyproject_checks_then_include_globs(project: Project) -> None:
    project.write(
        "pyproject.toml",
        """
        [project]
        name = "shop"

        [tool.envdoctor]
        include = ["more/*.toml", "extra.toml"]

        [[tool.envdoctor.check]]
        id = "p"
        kind = "file"
        path = "x"
        """,
    )
    project.checks('[[check]]\nid = "m2"\nkind = "file"\npath = "x"\n', "more/b.toml")
    project.checks('[[check]]\nid = "m1"\nkind = "file"\npath = "x"\n', "more/a.toml")
    project.checks('[[check]]\nid = "e"\nkind = "file"\npath = "x"\n', "extra.toml")
    project.checks("this is not even TOML", "checks/ignored.toml")  # not included any more
    config = load(project)
    assert [s.id for s in config.checks] == ["p", "m1", "m2", "e"]
    assert config.files == ["pyproject.toml", "more/a.toml", "more/b.toml", "extra.toml"]
    assert str(spec(config, "p").source) == "pyproject.toml:7"


def test_pyproject_check_errors_have_lines(project: Project) -> None:
    project.write(
        "pyproject.toml",
        '[tool.envdoctor]\n\n[[tool.envdoctor.check]]\nid = "p"\nkind = "file"\npath = "x"\n'
        '\n[[tool.envdoctor.check]]\nid = "q"\nkind = "file"\npth = "x"\n',
    )
    assert errors(project) == [
        "pyproject.toml:11: unknown option 'pth' for kind file (did you mean 'path'?)",
    ]


def test_default_include_without_pyproject(project: Project) -> None:
    project.checks(FILE_CHECK, "checks/a.toml")
    project.checks(FILE_CHECK.replace("readme", "other"), "checks/sub/deeper.toml")  # not matched
    config = load(project)
    assert [s.id for s in config.checks] == ["readme"]


def test_include_glob_matching_nothing(project: Project) -> None:
    project.write("pyproject.toml", '[tool.envdoctor]\ninclude = ["nowhere/*.toml", "[bad"]\n')
    assert load(project).checks == []


def test_include_recursive_glob(project: Project) -> None:
    project.write("pyproject.toml", '[tool.envdoctor]\ninclude = ["checks/**/*.toml"]\n')
    project.checks(FILE_CHECK, "checks/sub/deeper.toml")
    assert [s.id for s in load(project).checks] == ["readme"]


def test_include_does_not_load_pyproject_twice(project: Project) -> None:
    project.write(
        "pyproject.toml",
        '[tool.envdoctor]\ninclude = ["*.toml"]\n\n'
        '[[tool.envdoctor.check]]\nid = "p"\nkind = "file"\npath = "x"\n',
    )
    assert [s.id for s in load(project).checks] == ["p"]


def test_config_files_replace_discovery(project: Project, tmp_path: Path) -> None:
    project.write(
        "pyproject.toml",
        '[tool.envdoctor]\ntimeout = "2s"\n\n'
        '[[tool.envdoctor.check]]\nid = "p"\nkind = "file"\npath = "x"\n',
    )
    project.checks('[[check]]\nid = "discovered"\nkind = "file"\npath = "x"\n')
    outside = tmp_path / "elsewhere.toml"
    outside.write_text('[[check]]\nid = "given"\nkind = "file"\npath = "x"\n', encoding="utf-8")
    config = load(project, config=[outside])
    assert [s.id for s in config.checks] == ["given"]
    assert config.files == [str(outside)]
    assert config.settings.timeout == 2.0  # settings still come from the project's pyproject
    assert str(config.checks[0].source) == f"{outside}:1"


def test_config_files_in_order_and_relative_to_cwd(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.checks('[[check]]\nid = "one"\nkind = "file"\npath = "x"\n', "ci/one.toml")
    project.checks('[[check]]\nid = "two"\nkind = "file"\npath = "x"\n', "ci/two.toml")
    monkeypatch.chdir(project.root / "ci")
    config = load(project, config=[Path("two.toml"), Path("one.toml")])
    assert [s.id for s in config.checks] == ["two", "one"]
    assert config.files == ["ci/two.toml", "ci/one.toml"]


def test_config_file_that_is_a_pyproject(project: Project, tmp_path: Path) -> None:
    other = tmp_path / "other" / "pyproject.toml"
    other.parent.mkdir()
    other.write_text(
        '[project]\nname = "o"\n\n[[tool.envdoctor.check]]\nid = "o"\nkind = "file"\npath = "x"\n'
    )
    config = load(project, config=[other])
    assert [s.id for s in config.checks] == ["o"]
    assert str(config.checks[0].source) == f"{other}:4"


def test_missing_config_file(project: Project, tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    assert errors(project, config=[missing]) == [f"{missing}: file not found"]


def test_config_file_that_is_a_directory(project: Project, tmp_path: Path) -> None:
    [error] = errors(project, config=[tmp_path])
    assert error.startswith(f"{tmp_path}: cannot read")


def test_duplicate_between_pyproject_and_module(project: Project) -> None:
    project.write(
        "pyproject.toml", '[[tool.envdoctor.check]]\nid = "readme"\nkind = "file"\npath = "x"\n'
    )
    project.checks("# c\n" + FILE_CHECK)
    assert errors(project) == [
        "checks/envdoctor.toml:4: duplicate id 'readme' (first defined at pyproject.toml:1)"
    ]


# -- interpolation ------------------------------------------------------------------------


def test_interpolation_from_environ(project: Project) -> None:
    project.checks(
        '[[check]]\nid = "a"\nkind = "file"\n'
        'path = "${DIR}/${NAME:-default.txt}"\ntitle = "in ${DIR}"\n'
    )
    a = load(project, {"DIR": "data"}).checks[0]
    assert a.options["path"] == "data/default.txt"
    assert a.title == "in data"
    assert a.variables == ("DIR", "NAME")
    assert a.problem is None


def test_numbers_and_durations_through_interpolation(project: Project) -> None:
    project.checks(FILE_CHECK + 'timeout = "${T:-2s}"\nweight = "${W}"\n')
    a = load(project, {"W": "2"}).checks[0]
    assert a.timeout == 2.0
    assert a.weight == 2.0


def test_id_kind_tags_and_depends_on_are_not_interpolated(project: Project) -> None:
    project.checks('[[check]]\nid = "a"\nkind = "file"\npath = "x"\ntags = ["${T}"]\n')
    assert load(project, {"T": "t"}).checks[0].tags == ("${T}",)


def test_escaped_dollar_is_literal(project: Project) -> None:
    project.checks('[[check]]\nid = "a"\nkind = "file"\npath = "$${HOME}-^a$"\n')
    assert load(project, {"HOME": "/root"}).checks[0].options["path"] == "${HOME}-^a$"


def test_unset_variable_is_a_check_problem_not_an_error(project: Project) -> None:
    project.checks(
        '[[check]]\nid = "db"\nkind = "file"\npath = "${DATABASE_URL}"\n\n'
        '[[check]]\nid = "ok"\nkind = "file"\npath = "x"\n'
    )
    config = load(project, {})
    db = spec(config, "db")
    assert db.problem == "DATABASE_URL is not set"
    assert "path" not in db.options
    assert spec(config, "ok").problem is None


def test_required_variable_message(project: Project) -> None:
    project.checks(FILE_CHECK.replace("README.md", "${DOCS:?run make docs first}"))
    assert load(project).checks[0].problem == "DOCS is not set: run make docs first"


def test_first_problem_wins(project: Project) -> None:
    project.checks(FILE_CHECK.replace("README.md", "${A}") + 'title = "${B}"\n')
    assert load(project).checks[0].problem == "A is not set"


def test_bad_reference_is_a_config_error(project: Project) -> None:
    project.checks(FILE_CHECK + '\ntitle = "${NAME"\n')
    [line] = errors(project)
    assert line.startswith(
        "checks/envdoctor.toml:6: check 'readme': option 'title': bad variable reference"
    )


def test_unterminated_default_is_a_config_error(project: Project) -> None:
    project.checks(FILE_CHECK + 'title = "${NAME:-x"\n')
    [line] = errors(project)
    assert line.startswith("checks/envdoctor.toml:5: check 'readme': option 'title': unterminated")


def test_value_from_environ_that_fails_coercion_is_never_shown(project: Project) -> None:
    project.checks(FILE_CHECK + 'timeout = "${T}"\nweight = "${W}"\n')
    config = load(project, {"T": SECRET, "W": SECRET})
    problem = config.checks[0].problem
    assert (
        problem == "option 'timeout': the value from ${...} is not a duration "
        '("500ms", "2s", "1m" or seconds) (the value of ${T})'
    )
    assert SECRET not in problem


def test_environ_value_of_wrong_type_for_a_bool(project: Project) -> None:
    project.checks(FILE_CHECK + 'exists = "${E}"\n')
    problem = load(project, {"E": SECRET}).checks[0].problem
    assert problem is not None
    assert problem.startswith("option 'exists': the value from ${...} is not")
    assert SECRET not in problem


def test_bad_when_from_environ_never_shows_the_value(project: Project) -> None:
    project.checks(FILE_CHECK + 'when = "${MARKER}"\n')
    try:
        config = load(project, {"MARKER": "sys_platform = " + SECRET})
    except ConfigErrors as exc:
        assert SECRET not in str(exc)
    else:
        assert config.checks[0].problem is not None
        assert SECRET not in config.checks[0].problem


def test_kind_validation_never_shows_environ_values(project: Project) -> None:
    # The python kind's validate() quotes a bad specifier; from ${V} it must not.
    project.checks('[[check]]\nid = "py"\nkind = "python"\nversion = "${V}"\n')
    config = load(project, {"V": SECRET})
    assert (
        config.checks[0].problem
        == "option 'version': the value from ${...} is not valid (the value of ${V})"
    )


def test_a_bad_url_from_the_environment_names_its_variable(project: Project) -> None:
    """With several ${...} URLs in a project, the user must know which one to fix."""
    project.checks('[[check]]\nid = "db"\nkind = "postgres"\nurl = "${DB_URL}"\n')
    config = load(project, {"DB_URL": f"postgresql://app:{SECRET}/x@db/app"})
    problem = config.checks[0].problem
    assert problem is not None and problem.endswith("(the value of ${DB_URL})")
    assert SECRET not in problem


def test_dotenv_values_interpolate_and_the_environment_wins(project: Project) -> None:
    project.write("pyproject.toml", '[tool.envdoctor]\ndotenv = ".env"\n')
    project.write(".env", "DIR=from-dotenv\nNAME=file.txt\nFULL=${DIR}/${NAME}\nDEEP=${UNSET:-d}\n")
    project.checks(
        '[[check]]\nid = "a"\nkind = "file"\npath = "${DIR}/${NAME}"\ntitle = "${FULL} ${DEEP}"\n'
    )
    config = load(project, {"DIR": "from-env"})
    a = config.checks[0]
    assert a.options["path"] == "from-env/file.txt"
    assert a.title == "from-env/file.txt d"
    assert config.variables["NAME"] == "file.txt"
    assert config.variables["DIR"] == "from-env"


def test_dotenv_unresolvable_value_kept_raw(project: Project) -> None:
    project.write("pyproject.toml", '[tool.envdoctor]\ndotenv = ".env"\n')
    project.write(".env", "A=${MISSING}\nB=${bad\n")
    config = load(project)
    assert config.variables["A"] == "${MISSING}"
    assert config.variables["B"] == "${bad"


def test_missing_dotenv_file_is_not_an_error(project: Project) -> None:
    project.write("pyproject.toml", '[tool.envdoctor]\ndotenv = ".env"\n')
    project.checks(FILE_CHECK.replace("README.md", "${X:-y}"))
    assert load(project).checks[0].options["path"] == "y"


def test_binary_dotenv_is_ignored(project: Project) -> None:
    project.write("pyproject.toml", '[tool.envdoctor]\ndotenv = ".env"\n')
    (project.root / ".env").write_bytes(b"A=1\x00")
    project.checks(FILE_CHECK.replace("README.md", "${A:-fallback}"))
    assert load(project).checks[0].options["path"] == "fallback"


def test_dotenv_without_setting_is_not_read(project: Project) -> None:
    project.write(".env", "A=from-dotenv\n")
    project.checks(FILE_CHECK.replace("README.md", "${A:-fallback}"))
    assert load(project).checks[0].options["path"] == "fallback"


def test_problem_never_contains_values(project: Project) -> None:
    project.write("pyproject.toml", '[tool.envdoctor]\ndotenv = ".env"\n')
    project.write(".env", f"DB_PASSWORD={SECRET}\n")
    project.checks(
        FILE_CHECK.replace("README.md", "${DB_PASSWORD}:${MISSING}")
        + 'timeout = "${DB_PASSWORD}"\n'
    )
    config = load(project)
    problem = config.checks[0].problem
    assert problem is not None
    assert SECRET not in problem
    assert SECRET not in repr(config)


# -- secrets ------------------------------------------------------------------------------


def test_secrets_are_collected(project: Project) -> None:
    project.write("pyproject.toml", '[tool.envdoctor]\ndotenv = ".env"\n')
    project.write(".env", "DB_PASSWORD=hunter22\nAPI_TOKEN=tok-123\nPLAIN=visible-value\n")
    project.checks(
        '[[check]]\nid = "a"\nkind = "file"\n'
        'path = "postgresql://app:pg-pass@db:5432/app ${DB_PASSWORD} ${API_TOKEN} ${PLAIN}"\n'
        'fix = "redis-cli -u redis://:redis-pw@localhost:6379"\n'
    )
    config = load(project, {"AWS_SECRET_ACCESS_KEY": "aws-secret", "UNUSED_PASSWORD": "never-read"})
    assert {"pg-pass", "redis-pw", "hunter22", "tok-123"} <= config.secrets
    assert "visible-value" not in config.secrets
    assert "never-read" not in config.secrets  # only variables a check used


def test_secret_from_environ_only_when_used(project: Project) -> None:
    project.checks(FILE_CHECK.replace("README.md", "${APP_SECRET}"))
    config = load(project, {"APP_SECRET": "sh-h-h"})
    assert config.secrets == {"sh-h-h"}


def test_url_without_password_is_not_a_secret(project: Project) -> None:
    project.checks(FILE_CHECK.replace("README.md", "postgresql://app@db/app"))
    assert load(project).secrets == set()


# -- properties ---------------------------------------------------------------------------


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _toml_string(key)


def _toml_string(text: str) -> str:
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_value(value: object) -> str:
    """A tiny TOML emitter: scalars, arrays and inline tables (tomli_w is not installed)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


def _toml_document(top: dict[str, object], checks: list[dict[str, object]]) -> str:
    lines = [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in top.items()]
    for check in checks:
        lines.append("")
        lines.append("[[check]]")
        lines.extend(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in check.items())
    return "\n".join(lines) + "\n"


def test_emitter_round_trips() -> None:
    import tomllib

    doc = {"a": [1, 2.5, 'x"\\\n\x7f', {"b": True}], "é k": {"n": float("inf")}}
    text = _toml_document(doc, [{"id": "a"}])
    assert tomllib.loads(text) == {**doc, "check": [{"id": "a"}]}


# Kinds whose module exists in this checkout (others land in parallel; all are fuzzed once there).
_KINDS = sorted(
    name for name, module in KINDS.items() if importlib.util.find_spec(module) is not None
)
_SCALAR = (
    st.text(max_size=12)
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats()
    | st.booleans()
    | st.sampled_from(
        [
            "${HOST}", "${UNSET}", "${UNSET:-5s}", "${PW}", "${", "$$", "2s", "500ms", "-1s",
            "required", "optional", "x", "README.md", 'sys_platform == "linux"', ">=3.8", "a",
            "b", "postgresql://u:pw@h/db",
        ]
    )
)  # fmt: skip
_VALUE = st.recursive(
    _SCALAR,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
_OPTION_NAMES = st.sampled_from(
    [
        "id", "kind", "title", "severity", "weight", "tags", "timeout", "depends_on", "when",
        "skip", "fix", "path", "exists", "version", "implementation", "virtualenv", "pth", "url",
    ]
) | st.text(min_size=1, max_size=8)  # fmt: skip
_CHECK = st.fixed_dictionaries(
    {},
    optional={
        "id": st.sampled_from(["a", "b", "c"]) | _SCALAR,
        "kind": st.sampled_from([*_KINDS, "fiel", "nope"]) | _SCALAR,
        "depends_on": st.lists(st.sampled_from(["a", "b", "c", "zz"]), max_size=3) | _VALUE,
    },
).flatmap(
    lambda base: st.dictionaries(_OPTION_NAMES, _VALUE, max_size=5).map(
        lambda extra: {**extra, **base}
    )
)
_TOP = st.dictionaries(
    st.sampled_from(["chek", "tool", "x", "include"]) | st.text(max_size=5), _VALUE, max_size=2
)
ENVIRON = {"HOST": "db.local", "PW": SECRET}


def _assert_loads_or_config_errors(text: str | bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "checks").mkdir()
        target = root / "checks" / "x.toml"
        if isinstance(text, bytes):
            target.write_bytes(text)
        else:
            target.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            config = load_config(root, None, ENVIRON)
        except ConfigErrors as exc:
            assert exc.errors
            for error in exc.errors:
                assert isinstance(error, ConfigError)
                assert error.source is not None
                assert error.source.path == "checks/x.toml"
                assert SECRET not in str(error)  # ${PW} is never shown
        else:
            ids = [s.id for s in config.checks]
            assert len(ids) == len(set(ids))
            for check in config.checks:
                assert check.kind in KINDS
                assert set(check.depends_on) <= set(ids)
                if check.problem:
                    assert SECRET not in check.problem
            json.dumps([s.id for s in config.checks])


@FUZZ
@given(st.text())
def test_load_config_on_arbitrary_text(text: str) -> None:
    _assert_loads_or_config_errors(text)


@FUZZ
@given(st.binary(max_size=200))
def test_load_config_on_arbitrary_bytes(raw: bytes) -> None:
    _assert_loads_or_config_errors(raw)


@FUZZ
@given(_TOP, st.lists(_CHECK, max_size=4))
def test_load_config_on_arbitrary_toml(
    top: dict[str, object], checks: list[dict[str, object]]
) -> None:
    _assert_loads_or_config_errors(_toml_document(top, checks))


def test_an_unset_variable_that_dotenv_sets_says_how_to_read_it(tmp_path: Path) -> None:
    (tmp_path / "checks").mkdir()
    (tmp_path / ".env").write_text("DATABASE_URL=postgresql://a:b@h:1/x\n")
    (tmp_path / "checks" / "a.toml").write_text(
        '[[check]]\nid = "db"\nkind = "postgres"\nurl = "${DATABASE_URL}"\n'
    )
    cfg = load_config(tmp_path, environ={})
    (spec,) = cfg.checks
    assert spec.problem == (
        "DATABASE_URL is not set (.env sets it, but ${...} reads only the environment: add "
        'dotenv = ".env" under [tool.envdoctor] in pyproject.toml, or export it)'
    )
