"""Every configuration and usage error, end to end: exit 2, one line per error, `file:line`.

DESIGN.md §3: errors in the check modules stop the run with exit 2 and one clear line per error,
no traceback, ever, for anything a user can type; stdout stays empty (it only ever carries a
report). Each case writes a temp project, runs the installed console script and compares every
line of stderr with what the user must see.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import pytest
from tests.conftest import CliResult, Project, run_cli

CHECK = '[[check]]\nid = "a"\nkind = "file"\npath = "x"\n'


@dataclass
class Case:
    """Files to write (path -> text), the arguments, and each expected stderr line.

    Lines are literal text after the `envdoctor: ` prefix, unless they start with `re:`.
    """

    id: str
    files: dict[str, str]
    lines: list[str]
    args: tuple[str, ...] = ("check",)
    extra: dict[str, str] = field(default_factory=dict)


def assert_error_lines(result: CliResult, expected: list[str]) -> None:
    assert result.code == 2, (result.code, result.stdout, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == len(expected), result.stderr
    for line, want in zip(lines, expected, strict=True):
        assert line.startswith("envdoctor: "), line
        text = line[len("envdoctor: ") :]
        if want.startswith("re:"):
            assert re.fullmatch(want[3:], text), (text, want)
        else:
            assert text == want


MODULE = "checks/envdoctor.toml"

CONFIG_CASES = [
    Case(
        "unknown-option",
        {MODULE: '[[check]]\nid = "a"\nkind = "file"\n\n# the path\n\npth = "README.md"\n'},
        [
            # the typo's suggestion names the missing option: no second line about it
            f"{MODULE}:7: unknown option 'pth' for kind file (did you mean 'path'?)",
        ],
    ),
    Case(
        "unknown-option-only",
        {MODULE: CHECK + "exist = false\n"},
        [f"{MODULE}:5: unknown option 'exist' for kind file (did you mean 'exists'?)"],
    ),
    Case(
        "bad-toml",
        {MODULE: '[[check]]\nid = "a"\nkind = "file"\npath = "x\n'},
        [rf"re:{re.escape(MODULE)}:4: invalid TOML: .+"],
    ),
    Case(
        "bad-toml-at-end",
        {MODULE: '[[check]]\nid = "a"\nkind = "file"\npath = \n'},
        [rf"re:{re.escape(MODULE)}:4: invalid TOML: .+"],
    ),
    Case(
        "not-utf8",
        {},
        [f"{MODULE}:1: not a TOML file (not UTF-8 text)"],
    ),
    Case(
        "unknown-kind",
        {MODULE: '[[check]]\nid = "a"\nkind = "fil"\npath = "x"\n'},
        [f"{MODULE}:3: unknown kind 'fil' (did you mean 'file'?)"],
    ),
    Case(
        "kind-not-a-string",
        {MODULE: '[[check]]\nid = "a"\nkind = 5\n'},
        [f"{MODULE}:3: unknown kind 5"],
    ),
    Case(
        "missing-id",
        {MODULE: CHECK + '\n[[check]]\nkind = "file"\npath = "x"\n'},
        [f"{MODULE}:6: check has no 'id'"],
    ),
    Case(
        "missing-kind",
        {MODULE: '[[check]]\nid = "a"\npath = "x"\n'},
        [r"re:" + re.escape(f"{MODULE}:1: check 'a' has no 'kind' (one of: ") + r".*\bfile\b.*\)"],
    ),
    Case(
        "missing-required-option",
        {MODULE: '[[check]]\nid = "a"\nkind = "file"\nexists = false\n'},
        [f"{MODULE}:1: check 'a': kind file needs option 'path'"],
    ),
    Case(
        "duplicate-id-across-files",
        {"checks/a.toml": CHECK, "checks/b.toml": "# second module\n\n" + CHECK},
        ["checks/b.toml:4: duplicate id 'a' (first defined at checks/a.toml:1)"],
    ),
    Case(
        "duplicate-id-pyproject-and-module",
        {
            "pyproject.toml": '[tool.envdoctor]\n[[tool.envdoctor.check]]\nid = "a"\n'
            'kind = "file"\npath = "x"\n',
            MODULE: CHECK,
        },
        [f"{MODULE}:2: duplicate id 'a' (first defined at pyproject.toml:2)"],
    ),
    Case(
        "depends-on-unknown",
        {MODULE: CHECK + 'depends_on = ["bb"]\n\n[[check]]\nid = "b"\nkind = "file"\npath = "x"\n'},
        [f"{MODULE}:5: check 'a': depends_on names unknown check 'bb' (did you mean 'b'?)"],
    ),
    Case(
        "depends-on-cycle",
        {
            MODULE: CHECK + 'depends_on = ["b"]\n\n[[check]]\nid = "b"\nkind = "file"\n'
            'path = "x"\ndepends_on = ["a"]\n'
        },
        [f"{MODULE}:5: dependency cycle: a -> b -> a"],
    ),
    Case(
        "depends-on-itself",
        {MODULE: CHECK + 'depends_on = "a"\n'},
        [f"{MODULE}:5: dependency cycle: a -> a"],
    ),
    Case(
        "wrong-types-one-line-each",
        {
            MODULE: '[[check]]\nid = "a"\nkind = "file"\npath = 3\nexists = "yes"\n'
            'timeout = "soon"\nseverity = "requird"\nweight = -1\ntags = [1]\n'
        },
        [
            f"{MODULE}:4: check 'a': option 'path': expected a string, got an integer 3",
            f"{MODULE}:5: check 'a': option 'exists': expected true or false, got a string 'yes'",
            f"re:{re.escape(MODULE)}:6: check 'a': option 'timeout': not a duration: 'soon' .*",
            f"{MODULE}:7: check 'a': option 'severity': expected one of 'required', 'optional', "
            "got 'requird' (did you mean 'required'?)",
            f"{MODULE}:8: check 'a': option 'weight': -1 is out of range: expected a number from 0 to 1000",
            f"re:{re.escape(MODULE)}:9: check 'a': option 'tags': expected a list of strings.*",
        ],
    ),
    Case(
        "bad-when-marker",
        {MODULE: CHECK + 'when = "sys_platform === 3"\n'},
        [f"re:{re.escape(MODULE)}:5: check 'a': option 'when': not a valid PEP 508 marker: .+"],
    ),
    Case(
        "bad-python-specifier",
        {MODULE: '[[check]]\nid = "py"\nkind = "python"\nversion = "banana"\n'},
        [
            f"{MODULE}:4: check 'py': option 'version': not a PEP 440 version specifier: "
            "'banana' (e.g. \">=3.11\")"
        ],
    ),
    Case(
        "bad-id",
        {MODULE: '[[check]]\nid = "has space"\nkind = "file"\npath = "x"\n'},
        [f"re:{re.escape(MODULE)}:2: check 'has space': option 'id': 'has space' is not valid.*"],
    ),
    Case(
        "id-not-a-string",
        {MODULE: '[[check]]\nid = 5\nkind = "file"\npath = "x"\n'},
        [f"{MODULE}:2: check: option 'id': expected a string, got an integer 5"],
    ),
    Case(
        "table-instead-of-array",
        {MODULE: '[check]\nid = "a"\nkind = "file"\npath = "x"\n'},
        [f"{MODULE}:1: 'check' must be an array of tables: write [[check]], not [check]"],
    ),
    Case(
        "unknown-top-level-key",
        {MODULE: "# checks\n" + CHECK.replace("[[check]]", "[[chek]]")},
        [f"{MODULE}:2: unknown top-level key 'chek' in a check module (did you mean 'check'?)"],
    ),
    Case(
        "bad-variable-reference",
        {MODULE: '[[check]]\nid = "a"\nkind = "file"\npath = "${BAD"\n'},
        [f"re:{re.escape(MODULE)}:4: check 'a': option 'path': bad variable reference .+"],
    ),
    Case(
        "errors-in-two-files-all-reported",
        {
            "checks/a.toml": CHECK + 'ulr = "x"\n',
            "checks/b.toml": '[[check]]\nid = "b"\nkind = "flie"\n',
        },
        [
            "checks/a.toml:5: unknown option 'ulr' for kind file",
            "checks/b.toml:3: unknown kind 'flie' (did you mean 'file'?)",
        ],
    ),
    Case(
        "pyproject-check-unknown-option",
        {
            "pyproject.toml": '[project]\nname = "x"\n\n[tool.envdoctor]\n\n'
            '[[tool.envdoctor.check]]\nid = "a"\nkind = "file"\npaht = "x"\n'
        },
        [
            "pyproject.toml:9: unknown option 'paht' for kind file (did you mean 'path'?)",
        ],
    ),
    Case(
        "pyproject-bad-settings",
        {
            "pyproject.toml": '[tool.envdoctor]\ntimeout = "fast"\nmin_score = 200\n'
            "incldue = []\ndotenv = 4\n",
            MODULE: CHECK,
        },
        [
            r"re:pyproject\.toml:2: setting 'timeout': not a duration: 'fast' .*",
            "pyproject.toml:3: setting 'min_score': 200 is out of range: expected an integer "
            "from 0 to 100",
            "pyproject.toml:4: unknown setting 'incldue' in [tool.envdoctor] "
            "(did you mean 'include'?)",
            "pyproject.toml:5: setting 'dotenv': expected a string, got an integer 4",
        ],
    ),
    Case(
        "pyproject-bad-toml",
        {"pyproject.toml": '[project]\nname = "x"\nversion = \n', MODULE: CHECK},
        [r"re:pyproject\.toml:3: invalid TOML: .+"],
    ),
    Case(
        "pyproject-check-table",
        {"pyproject.toml": "[tool.envdoctor]\ncheck = 3\n"},
        [
            "pyproject.toml:2: 'tool.envdoctor.check' must be an array of tables: "
            "write [[tool.envdoctor.check]], not [tool.envdoctor.check]"
        ],
    ),
    Case(
        "config-file-missing",
        {MODULE: CHECK},
        ["nope.toml: file not found"],
        args=("check", "--config", "nope.toml"),
    ),
    Case(
        "config-file-bad",
        {MODULE: CHECK, "ci/extra.toml": CHECK.replace('"a"', '"b"') + "severity = 3\n"},
        [
            "ci/extra.toml:5: check 'b': option 'severity': expected one of 'required', "
            "'optional', got 3"
        ],
        args=("check", "--config", "ci/extra.toml"),
    ),
]


@pytest.mark.parametrize("case", CONFIG_CASES, ids=[c.id for c in CONFIG_CASES])
def test_configuration_error(project: Project, case: Case) -> None:
    for path, text in case.files.items():
        project.write(path, text)
    if case.id == "not-utf8":
        (project.root / "checks").mkdir()
        (project.root / MODULE).write_bytes(b"\xff\xfe[[check]]\nid = 'a'\n")
    assert_error_lines(project.run(*case.args, env=case.extra), case.lines)


@pytest.mark.parametrize("command", [("list",), ("explain", "a")])
def test_list_and_explain_report_configuration_errors_the_same_way(
    project: Project, command: tuple[str, ...]
) -> None:
    project.checks(CHECK + 'pth = "README.md"\n')
    assert_error_lines(
        project.run(*command),
        [f"{MODULE}:5: unknown option 'pth' for kind file (did you mean 'path'?)"],
    )


def test_deeply_nested_toml_is_an_error_not_a_crash(project: Project) -> None:
    project.checks(CHECK + "z = " + "[" * 5000 + "]" * 5000 + "\n")
    result = project.run("check")
    assert result.code == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"envdoctor: {MODULE}:")
    assert len(result.stderr.splitlines()) == 1


# -- usage errors -------------------------------------------------------------------------

USAGE_CASES = [
    Case(
        "unknown-option",
        {MODULE: CHECK},
        [r"re:No such option: --bogus.*\(see 'envdoctor check --help'\)"],
        args=("check", "--bogus"),
    ),
    Case(
        "unknown-command",
        {MODULE: CHECK},
        [r"re:No such command 'chek'\..*check.*"],
        args=("chek",),
    ),
    Case(
        "only-unknown",
        {MODULE: CHECK},
        ["--only/--skip: no check id or tag 'nosuch'"],
        args=("check", "--only", "nosuch"),
    ),
    Case(
        "only-unknown-did-you-mean",
        {MODULE: CHECK.replace('"a"', '"readme"')},
        ["--only/--skip: no check id or tag 'readm' (did you mean 'readme'?)"],
        args=("check", "--only", "readm"),
    ),
    Case(
        "skip-unknown",
        {MODULE: CHECK},
        ["--only/--skip: no check id or tag 'nosuch'"],
        args=("check", "--skip", "nosuch"),
    ),
    Case(
        "selection-empty",
        {MODULE: CHECK},
        ["--only/--skip left no checks to run"],
        args=("check", "--only", "a", "--skip", "a"),
    ),
    Case(
        "timeout-not-a-duration",
        {MODULE: CHECK},
        [r"re:--timeout: not a duration: 'abc' .*"],
        args=("check", "--timeout", "abc"),
    ),
    Case(
        "timeout-negative",
        {MODULE: CHECK},
        [r"re:--timeout: not a duration: '-1' .*"],
        args=("check", "--timeout=-1"),
    ),
    Case(
        "explain-timeout",
        {MODULE: CHECK},
        [r"re:--timeout: not a duration: 'zz' .*"],
        args=("explain", "a", "--timeout", "zz"),
    ),
    Case(
        "min-score-out-of-range",
        {MODULE: CHECK},
        [r"re:Invalid value for '--min-score': 101 .*"],
        args=("check", "--min-score", "101"),
    ),
    Case(
        "unknown-format",
        {MODULE: CHECK},
        [r"re:Invalid value for '--format'.*'xml'.*"],
        args=("check", "--format", "xml"),
    ),
    Case(
        "project-missing",
        {},
        ["--project does-not-exist: not a directory"],
        args=("check", "--project", "does-not-exist"),
    ),
    Case(
        "project-missing-list",
        {},
        ["--project does-not-exist: not a directory"],
        args=("list", "--project", "does-not-exist"),
    ),
    Case("no-checks-at-all", {}, [r"re:no checks defined.*"]),
    Case("empty-module", {MODULE: "# nothing yet\n"}, [r"re:no checks defined.*"]),
    Case("list-no-checks", {MODULE: ""}, [r"re:no checks defined.*"], args=("list",)),
]


@pytest.mark.parametrize("case", USAGE_CASES, ids=[c.id for c in USAGE_CASES])
def test_usage_error(project: Project, case: Case) -> None:
    for path, text in case.files.items():
        project.write(path, text)
    assert_error_lines(project.run(*case.args, env=case.extra), case.lines)


def test_empty_timeout_is_rejected(project: Project) -> None:
    project.checks(CHECK)
    result = project.run("check", "--timeout", "")
    assert result.code == 2
    assert result.stderr.startswith("envdoctor: --timeout: not a duration")


def test_output_into_a_path_that_cannot_be_created(project: Project) -> None:
    project.checks(CHECK)
    project.write("README.md", "x\n")
    result = project.run("check", "--output", "README.md/report.json")
    assert result.code == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("envdoctor: --output README.md/report.json: ")
    assert len(result.stderr.splitlines()) == 1


def test_missing_python_interpreter_is_one_line_and_the_run_is_not_ready(
    project: Project,
) -> None:
    # A bad --python is exit 1 on purpose: the environment lacks that interpreter. The report
    # is still written (CI parses it), and no check that passes can make the run ready.
    project.checks(CHECK)
    project.write("x", "")  # the file check passes: only the target is wrong
    missing = project.root / "nope" / "python"
    result = project.run("check", "--python", str(missing))
    assert result.code == 1
    assert result.stderr == f"envdoctor: --python {missing}: no such interpreter\n"
    assert result.stdout.splitlines()[-1].startswith("Not ready · score 100/100 · the target")
    doc = json.loads(project.run("check", "--python", str(missing), "--format", "json").stdout)
    assert doc["ready"] is False
    assert doc["reasons"] == [
        f"the target interpreter cannot be used: --python {missing}: no such interpreter"
    ]


def test_bare_command_prints_help_and_exits_2(project: Project) -> None:
    result = run_cli(cwd=project.root)
    assert result.code == 2
    assert "Usage: envdoctor" in result.stdout
    for command in ("check", "list", "explain", "schema"):
        assert re.search(rf"^\s+{command}\s", result.stdout, re.M), command


def test_help_exits_0(project: Project) -> None:
    result = project.run("check", "--help")
    assert result.code == 0
    for flag in (
        "--config",
        "--project",
        "--python",
        "--only",
        "--skip",
        "--format",
        "--output",
        "--timeout",
        "--min-score",
        "--strict",
        "--quiet",
        "--verbose",
    ):
        assert flag in result.stdout, flag
