"""The `env` kind, end to end: names checked, values never shown, project files never crash it."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import CliResult, Project, corpus_files, run_cli

from envdoctor.dotenv import read_dotenv

# Values that must never reach any output: a real secret would look like these.
CANARY = "canary-Vx8q-s3cr3t"
CANARY_EXAMPLE = "canary-example-9Tz"
CANARY_DOTENV = "canary-dotenv-4Kp"


def env_check(project: Project, options: str) -> None:
    """Write one check `env` of kind `env` with these option lines, the first at line 4."""
    project.checks('[[check]]\nid = "env"\nkind = "env"\n' + textwrap.dedent(options).lstrip("\n"))


def check_of(result: CliResult, check_id: str = "env") -> dict[str, Any]:
    data = result.json()
    return next(c for c in data["checks"] if c["id"] == check_id)


def findings_by_subject(check: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["subject"]: f for f in check["findings"]}


def unset_env(*names: str) -> dict[str, str]:
    """An environment for run_cli where `names` are surely absent (clean_env copies os.environ)."""
    for name in names:
        assert name not in os.environ, f"test variable {name} leaked in from the outer environment"
    return {}


# -- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "fragments"),
    [
        (
            'dotenv = ".env"',
            ["checks/envdoctor.toml:1:", "at least one of 'required', 'example', 'match'"],
        ),
        ('required = ["HOME", ""]', ["checks/envdoctor.toml:4:", "option 'required'"]),
        (
            'requird = ["HOME"]',
            ["unknown option 'requird' for kind env (did you mean 'required'?)"],
        ),
    ],
    ids=["needs-one-of-required-example-match", "empty-required-name", "unknown-option"],
)
def test_bad_options_are_config_errors(
    project: Project, options: str, fragments: list[str]
) -> None:
    env_check(project, options)
    result = project.run("check")
    assert result.code == 2
    for fragment in fragments:
        assert fragment in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_bad_regex_is_a_config_error_naming_the_option(project: Project) -> None:
    env_check(
        project,
        """
        required = ["HOME"]
        match = { PORT = "[0-9" }
        """,
    )
    result = project.run("check")
    assert result.code == 2
    line = next(x for x in result.stderr.splitlines() if "match" in x)
    assert line.startswith("envdoctor: checks/envdoctor.toml:5:")
    assert "option 'match'" in line
    assert "PORT" in line
    assert "not a valid regular expression" in line


def test_listed_with_its_source(project: Project) -> None:
    env_check(project, 'required = ["HOME"]')
    listed = project.run("list")
    assert listed.code == 0
    row = next(line for line in listed.stdout.splitlines() if line.startswith("env "))
    assert row.split() == ["env", "env", "required", "checks/envdoctor.toml:1"]


# -- required -----------------------------------------------------------------------------


def test_required_all_set_passes(project: Project) -> None:
    env_check(project, 'required = ["ED_ONE", "ED_TWO"]')
    result = project.run("check", "--format", "json", "-v", env={"ED_ONE": "1", "ED_TWO": "2"})
    assert result.code == 0, result.stdout + result.stderr
    check = check_of(result)
    assert check["status"] == "pass"
    assert check["message"] == "2 variables set"
    assert {f["subject"]: f["status"] for f in check["findings"]} == {
        "ED_ONE": "pass",
        "ED_TWO": "pass",
    }
    assert check["fix"] is None


def test_required_missing_and_empty_fail_with_names_and_sources(project: Project) -> None:
    env_check(project, 'required = ["ED_SET", "ED_EMPTY", "ED_UNSET"]')
    result = project.run(
        "check", "--format", "json", env={"ED_SET": "x", "ED_EMPTY": "", **unset_env("ED_UNSET")}
    )
    assert result.code == 1
    check = check_of(result)
    assert check["status"] == "fail"
    assert check["message"] == "2 of 3 variables missing: ED_EMPTY, ED_UNSET"
    found = findings_by_subject(check)
    assert set(found) == {"ED_EMPTY", "ED_UNSET"}  # passes only with -v
    assert found["ED_EMPTY"]["message"] == "set but empty"
    assert found["ED_UNSET"]["message"] == "not set"
    assert found["ED_UNSET"]["source"] == "checks/envdoctor.toml:4"
    assert found["ED_UNSET"]["status"] == "fail"
    assert "ED_EMPTY, ED_UNSET" in check["fix"]


def test_console_layout_of_a_failure(project: Project) -> None:
    env_check(project, 'required = ["ED_UNSET_A"]')
    result = project.run("check", env=unset_env("ED_UNSET_A"))
    assert result.code == 1
    assert "Environment" in result.stdout
    assert "1 of 1 variable missing: ED_UNSET_A" in result.stdout
    assert "ED_UNSET_A" in result.stdout and "not set (checks/envdoctor.toml:4)" in result.stdout
    assert "fix: set ED_UNSET_A in .env (or export it in your shell)" in result.stdout


def test_many_missing_names_are_abbreviated_in_the_message(project: Project) -> None:
    names = [f"ED_MANY_{i}" for i in range(8)]
    env_check(project, f"required = {json.dumps(names)}")
    result = project.run("check", "--format", "json", env=unset_env(*names))
    check = check_of(result)
    assert check["message"].startswith("8 of 8 variables missing: ED_MANY_0")
    assert check["message"].endswith("and 3 more")
    assert len(check["findings"]) == 8


# -- match --------------------------------------------------------------------------------


def test_match_passes_and_fails_without_showing_the_value(project: Project) -> None:
    env_check(
        project,
        r"""
        match = { ED_PORT = '\d+', ED_MODE = "dev|prod", ED_GONE = ".*" }
        """,
    )
    result = project.run(
        "check",
        "--format",
        "json",
        "-v",
        env={"ED_PORT": "5432", "ED_MODE": CANARY, **unset_env("ED_GONE")},
    )
    assert result.code == 1
    assert CANARY not in result.stdout + result.stderr
    check = check_of(result)
    found = findings_by_subject(check)
    assert found["ED_PORT"]["status"] == "pass"
    assert found["ED_MODE"]["status"] == "fail"
    assert found["ED_MODE"]["message"] == "does not match dev|prod"
    assert found["ED_MODE"]["expected"] is None and found["ED_MODE"]["found"] is None
    assert found["ED_MODE"]["source"] == "checks/envdoctor.toml:4"
    assert found["ED_GONE"]["message"] == "not set"
    assert "ED_MODE does not match the expected pattern" in check["message"]
    assert "1 of 3 variables missing: ED_GONE" in check["message"]
    assert check["fix"] == (
        "set ED_GONE in .env (or export it in your shell); change ED_MODE so it matches its "
        "pattern where it is set (the environment wins over .env)"
    )


def test_match_is_a_full_match(project: Project) -> None:
    env_check(project, r"match = { ED_PORT = '\d+' }")
    assert project.run("check", env={"ED_PORT": "5432x"}).code == 1
    assert project.run("check", env={"ED_PORT": "5432"}).code == 0


def test_regex_with_anchors_and_dollar_is_not_interpolated(project: Project) -> None:
    env_check(project, r"match = { ED_URL = '^postgres(ql)?://.+$' }")
    result = project.run("check", env={"ED_URL": "postgresql://db/app"})
    assert result.code == 0, result.stdout + result.stderr


# -- example ------------------------------------------------------------------------------


def test_example_keys_are_required_with_their_line(project: Project) -> None:
    project.write(
        ".env.example",
        f"""
        # copy to .env
        ED_EX_A={CANARY_EXAMPLE}
        export ED_EX_B=

        ED_EX_C="quoted"
        """,
    )
    env_check(project, 'example = ".env.example"')
    env = {"ED_EX_A": CANARY, **unset_env("ED_EX_B", "ED_EX_C")}
    result = project.run("check", "--format", "json", "-v", env=env)
    assert result.code == 1
    out = result.stdout + result.stderr
    assert CANARY not in out and CANARY_EXAMPLE not in out
    check = check_of(result)
    found = findings_by_subject(check)
    assert found["ED_EX_A"]["status"] == "pass"
    assert found["ED_EX_A"]["source"] == ".env.example:2"
    assert found["ED_EX_B"]["source"] == ".env.example:3"
    assert found["ED_EX_C"]["source"] == ".env.example:5"
    assert check["message"] == "2 of 3 variables missing: ED_EX_B, ED_EX_C"
    # No .env yet: copy the example; ED_EX_B has no example value, so it still needs one.
    assert check["fix"] == "cp .env.example .env, then set ED_EX_B in .env"
    assert any(".env.example: 3 names" in e for e in check["evidence"])


def test_example_fix_when_dotenv_exists_names_the_variables(project: Project) -> None:
    project.write(".env.example", "ED_EX_D=1\nED_EX_E=2\n")
    project.write(".env", "OTHER=1\n")
    env_check(
        project,
        """
        example = ".env.example"
        dotenv = ".env"
        """,
    )
    result = project.run("check", "--format", "json", env=unset_env("ED_EX_D", "ED_EX_E"))
    check = check_of(result)
    assert check["fix"] == "set ED_EX_D, ED_EX_E in .env (or export them in your shell)"


def test_example_fix_uses_the_checks_own_dotenv_name(project: Project) -> None:
    project.write("config/app.env.example", "ED_EX_F=value\n")
    env_check(
        project,
        """
        example = "config/app.env.example"
        dotenv = "config/app.env"
        """,
    )
    result = project.run("check", "--format", "json", env=unset_env("ED_EX_F"))
    check = check_of(result)
    assert check["fix"] == "cp config/app.env.example config/app.env"


def test_fix_from_another_directory_changes_into_the_project(
    project: Project, tmp_path: Path
) -> None:
    project.write(".env.example", "ED_EX_G=value\n")
    env_check(project, 'example = ".env.example"')
    result = run_cli(
        "check",
        "--project",
        str(project.root),
        "--format",
        "json",
        cwd=tmp_path,
        env=unset_env("ED_EX_G"),
    )
    check = check_of(result)
    assert check["fix"].startswith(f"cd {project.root} && cp .env.example .env")


def test_example_and_required_together_count_each_name_once(project: Project) -> None:
    project.write(".env.example", "ED_BOTH=1\nED_EX_ONLY=2\n")
    env_check(
        project,
        """
        required = ["ED_BOTH"]
        example = ".env.example"
        """,
    )
    result = project.run("check", "--format", "json", env=unset_env("ED_BOTH", "ED_EX_ONLY"))
    check = check_of(result)
    assert check["message"] == "2 of 2 variables missing: ED_BOTH, ED_EX_ONLY"
    found = findings_by_subject(check)
    assert found["ED_BOTH"]["source"] == "checks/envdoctor.toml:4"  # asked first by `required`
    assert found["ED_EX_ONLY"]["source"] == ".env.example:2"


def test_missing_example_file_is_an_error_with_the_path(project: Project) -> None:
    env_check(
        project,
        """
        example = "nowhere/.env.example"

        [[check]]
        id = "other"
        kind = "env"
        required = ["HOME"]
        """,
    )
    result = project.run("check", "--format", "json")
    assert result.code == 1
    check = check_of(result)
    assert check["status"] == "error"
    assert check["message"] == "nowhere/.env.example: file not found"
    assert check_of(result, "other")["status"] == "pass"  # the run went on


def test_example_that_is_a_directory_is_an_error(project: Project) -> None:
    (project.root / ".env.example").mkdir()
    env_check(project, 'example = ".env.example"')
    check = check_of(project.run("check", "--format", "json"))
    assert check["status"] == "error"
    assert ".env.example" in check["message"] and "directory" in check["message"]


def test_malformed_example_lines_are_errors_with_file_and_line(project: Project) -> None:
    project.write(
        ".env.example",
        f"""
        ED_OK_1=1
        this line is {CANARY_EXAMPLE} nonsense
        ED_BAD="unterminated {CANARY_EXAMPLE}
        """,
    )
    env_check(project, 'example = ".env.example"')
    result = project.run("check", "--format", "json", env={"ED_OK_1": "1"})
    assert result.code == 1
    assert CANARY_EXAMPLE not in result.stdout + result.stderr
    check = check_of(result)
    assert check["status"] == "error"
    errors = [f for f in check["findings"] if f["status"] == "error"]
    assert [(f["subject"], f["source"], f["message"]) for f in errors] == [
        (".env.example", ".env.example:2", "not a KEY=value line"),
        (".env.example", ".env.example:3", 'unterminated " quote'),
    ]
    assert "2 malformed lines in .env.example" in check["message"]


def test_binary_example_file_is_an_error_not_a_crash(project: Project) -> None:
    (project.root / ".env.example").write_bytes(b"A=1\n\x00\xff\xfe\n")
    env_check(project, 'example = ".env.example"')
    check = check_of(project.run("check", "--format", "json"))
    assert check["status"] == "error"
    assert check["message"] == ".env.example: binary file, not a dotenv file"


def test_example_that_never_ends_costs_the_check_its_timeout(project: Project) -> None:
    os.mkfifo(project.root / ".env.example")  # open() blocks until a writer comes: never
    env_check(
        project,
        """
        example = ".env.example"
        timeout = "300ms"

        [[check]]
        id = "other"
        kind = "env"
        required = ["HOME"]
        """,
    )
    result = project.run("check", "--format", "json", timeout=30)
    assert result.code == 1
    check = check_of(result)
    assert check["status"] == "fail"
    assert check["message"].startswith("timed out after 300")
    assert check_of(result, "other")["status"] == "pass"


# -- dotenv -------------------------------------------------------------------------------


def test_dotenv_values_count_as_set(project: Project) -> None:
    project.write(".env", f"ED_DOT_A={CANARY_DOTENV}\nED_DOT_B=${{ED_DOT_A}}-suffix\n")
    env_check(
        project,
        """
        required = ["ED_DOT_A", "ED_DOT_B"]
        dotenv = ".env"
        """,
    )
    result = project.run("check", "--format", "json", "-v", env=unset_env("ED_DOT_A", "ED_DOT_B"))
    assert result.code == 0, result.stdout
    assert CANARY_DOTENV not in result.stdout + result.stderr
    check = check_of(result)
    assert check["message"] == "2 variables set"
    assert "ED_DOT_A: set (.env:1)" in check["evidence"]


def test_real_environment_wins_over_the_dotenv_file(project: Project) -> None:
    project.write(".env", "ED_PORT_W=not-a-number\nED_PORT_L=5432\n")
    env_check(
        project,
        r"""
        dotenv = ".env"
        match = { ED_PORT_W = '\d+', ED_PORT_L = '\d+' }
        """,
    )
    result = project.run(
        "check", "--format", "json", "-v", env={"ED_PORT_W": "6543", "ED_PORT_L": "nope"}
    )
    check = check_of(result)
    found = findings_by_subject(check)
    assert found["ED_PORT_W"]["status"] == "pass"  # the environment's 6543, not the file's
    assert found["ED_PORT_L"]["status"] == "fail"  # the environment's "nope", not the file's
    assert "ED_PORT_W: set (environment)" in check["evidence"]
    assert "nope" not in result.stdout and "not-a-number" not in result.stdout


def test_empty_environment_value_is_not_replaced_by_the_dotenv(project: Project) -> None:
    project.write(".env", "ED_EMPTY_ENV=from-file\n")
    env_check(
        project,
        """
        required = ["ED_EMPTY_ENV"]
        dotenv = ".env"
        """,
    )
    result = project.run("check", "--format", "json", env={"ED_EMPTY_ENV": ""})
    found = findings_by_subject(check_of(result))
    assert found["ED_EMPTY_ENV"]["message"] == "set but empty"


def test_missing_dotenv_file_is_fine_and_said_in_evidence(project: Project) -> None:
    env_check(
        project,
        """
        required = ["HOME"]
        dotenv = ".env.local"
        """,
    )
    result = project.run("check", "--format", "json", "-v")
    assert result.code == 0
    check = check_of(result)
    assert check["status"] == "pass"
    assert "dotenv .env.local not found: values from the environment only" in check["evidence"]


def test_malformed_dotenv_lines_are_errors(project: Project) -> None:
    project.write(".env", "ED_DOT_OK=1\n=nokey\n")
    env_check(
        project,
        """
        required = ["ED_DOT_OK"]
        dotenv = ".env"
        """,
    )
    result = project.run("check", "--format", "json", env=unset_env("ED_DOT_OK"))
    check = check_of(result)
    assert check["status"] == "error"
    assert [(f["subject"], f["source"]) for f in check["findings"] if f["status"] == "error"] == [
        (".env", ".env:2")
    ]
    assert check["message"] == "1 malformed line in .env"


def test_settings_dotenv_counts_too(project: Project) -> None:
    project.write(
        "pyproject.toml",
        """
        [tool.envdoctor]
        dotenv = "settings.env"
        """,
    )
    project.write("settings.env", f"ED_SETTINGS={CANARY_DOTENV}\n")
    env_check(project, 'required = ["ED_SETTINGS"]')
    result = project.run("check", "--format", "json", "-v", env=unset_env("ED_SETTINGS"))
    assert result.code == 0, result.stdout
    check = check_of(result)
    assert "ED_SETTINGS: set (settings dotenv)" in check["evidence"]
    assert CANARY_DOTENV not in result.stdout


def test_example_path_through_interpolation(project: Project) -> None:
    project.write("envs/ci.example", "ED_INTERP=1\n")
    env_check(project, 'example = "envs/${ED_STAGE:-ci}.example"')
    result = project.run("check", "--format", "json", env={"ED_INTERP": "1"})
    assert result.code == 0, result.stdout
    assert check_of(result)["message"] == "1 variable set"


# -- secrets never shown ------------------------------------------------------------------


def _secret_project(project: Project) -> dict[str, str]:
    project.write(
        ".env.example",
        f"ED_SECRET_TOKEN={CANARY_EXAMPLE}\nED_DB_PASSWORD={CANARY_EXAMPLE}\nED_ABSENT=\n",
    )
    project.write(".env", f"ED_DB_PASSWORD={CANARY_DOTENV}\nED_API_KEY={CANARY_DOTENV}x\n")
    env_check(
        project,
        r"""
        example = ".env.example"
        dotenv = ".env"
        required = ["ED_API_KEY"]
        match = { ED_SECRET_TOKEN = '[0-9]+', ED_API_KEY = 'sk-.*', ED_DB_PASSWORD = '.{3,}' }
        """,
    )
    return {"ED_SECRET_TOKEN": CANARY, **unset_env("ED_ABSENT", "ED_API_KEY", "ED_DB_PASSWORD")}


def test_canary_values_never_appear_in_any_output(project: Project) -> None:
    env = _secret_project(project)
    runs = [
        project.run("check", env=env),
        project.run("check", "-v", env=env),
        project.run("check", "--format", "json", env=env),
        project.run("check", "--format", "json", "-v", env=env),
        project.run("explain", "env", env=env),
    ]
    for result in runs:
        assert result.code == 1, result.stdout + result.stderr
        assert "ED_SECRET_TOKEN" in result.stdout  # the names are shown...
        for canary in (CANARY, CANARY_EXAMPLE, CANARY_DOTENV):
            assert canary not in result.stdout  # ...the values never
            assert canary not in result.stderr
    check = check_of(runs[3])
    found = findings_by_subject(check)
    assert found["ED_SECRET_TOKEN"]["message"] == "does not match [0-9]+"
    assert found["ED_API_KEY"]["message"] == "does not match sk-.*"
    assert found["ED_DB_PASSWORD"]["status"] == "pass"
    assert found["ED_ABSENT"]["message"] == "not set"


def test_canary_values_stay_out_of_output_files(project: Project, tmp_path: Path) -> None:
    env = _secret_project(project)
    out = tmp_path / "report.json"
    result = project.run("check", "--format", "json", "-v", "--output", str(out), env=env)
    assert result.code == 1
    text = out.read_text(encoding="utf-8")
    assert "ED_SECRET_TOKEN" in text
    for canary in (CANARY, CANARY_EXAMPLE, CANARY_DOTENV):
        assert canary not in text


# -- the shared corpus --------------------------------------------------------------------


def test_every_corpus_dotenv_file_as_example_and_as_dotenv(project: Project) -> None:
    files = corpus_files(".env*", "*.env")
    assert files, "the corpus has no dotenv files"
    blocks = []
    for index, path in enumerate(files):
        quoted = json.dumps(str(path))
        blocks.append(
            f'[[check]]\nid = "example-{index}"\nkind = "env"\nexample = {quoted}\n\n'
            f'[[check]]\nid = "dotenv-{index}"\nkind = "env"\nrequired = ["HOME"]\n'
            f"dotenv = {quoted}\n"
        )
    project.write("checks/envdoctor.toml", "\n".join(blocks))
    for fmt in ("console", "json"):
        result = project.run("check", "--format", fmt, "-v", timeout=120)
        assert result.code in (0, 1), result.stderr
        assert "Traceback" not in result.stdout + result.stderr
        assert "crashed" not in result.stdout
        assert "internal error" not in result.stderr
    data = result.json()
    assert len(data["checks"]) == 2 * len(files)
    for check in data["checks"]:
        assert check["status"] in ("pass", "fail", "error"), check
        if check["status"] == "error":  # only malformed lines, each with file:line
            bad = [f for f in check["findings"] if f["status"] == "error"]
            assert bad and all(":" in (f["source"] or "") for f in bad), check
        if check["id"].startswith("dotenv-"):
            assert [f["subject"] for f in check["findings"] if f["status"] != "error"] == ["HOME"]
    # The names of an example file are all checked: one finding per key the file names; and
    # none of the files' values shows up (a value that is also part of a path or name excused).
    shown_anyway = " ".join([*map(str, files), *(k for p in files for k in read_dotenv(p).values)])
    values = {v for p in files for v in read_dotenv(p).values.values() if len(v) >= 6}
    leaked = [v for v in values if v in result.stdout and v not in shown_anyway]
    assert values and not leaked
    for index, path in enumerate(files):
        parsed = read_dotenv(path)
        check = next(c for c in data["checks"] if c["id"] == f"example-{index}")
        named = {f["subject"] for f in check["findings"] if f["status"] in ("pass", "fail")}
        assert named == set(parsed.lines), path


def test_the_fix_it_suggests_makes_it_pass(project: Project) -> None:
    """`cp .env.example .env`, then filling it in, is enough: .env is read by default."""
    project.write(".env.example", "DATABASE_URL=\nDEBUG=1\n")
    project.checks('[[check]]\nid = "settings"\nkind = "env"\nexample = ".env.example"\n')
    first = project.run("check", "-f", "json")
    assert first.json()["checks"][0]["fix"] == "cp .env.example .env, then set DATABASE_URL in .env"
    (project.root / ".env").write_text("DATABASE_URL=postgresql://localhost/app\nDEBUG=1\n")
    second = project.run("check", "-f", "json")
    assert second.code == 0, second.stdout
    assert second.json()["checks"][0]["status"] == "pass"
