"""The `file` kind, end to end: present, absent, directories, and paths through ${VAR}."""

from __future__ import annotations

from typing import Any

from tests.conftest import CliResult, Project


def check_of(result: CliResult, check_id: str = "f") -> dict[str, Any]:
    return next(c for c in result.json()["checks"] if c["id"] == check_id)


def file_check(project: Project, body: str) -> None:
    project.checks(f'[[check]]\nid = "f"\nkind = "file"\n{body}\n')


def test_existing_file_passes(project: Project) -> None:
    project.write("manage.py", "print('hi')\n")
    file_check(project, 'path = "manage.py"')
    result = project.run("check", "--format", "json", "-v")
    assert result.code == 0
    check = check_of(result)
    assert check["status"] == "pass"
    assert check["message"] == "manage.py exists (file)"
    assert f"looked for {project.root / 'manage.py'}" in check["evidence"]


def test_existing_directory_passes_and_says_directory(project: Project) -> None:
    (project.root / "migrations" / "versions").mkdir(parents=True)
    file_check(project, 'path = "migrations/versions"')
    result = project.run("check", "--format", "json")
    assert result.code == 0
    assert check_of(result)["message"] == "migrations/versions exists (directory)"


def test_missing_file_fails(project: Project) -> None:
    file_check(project, 'path = "config/settings.local.py"')
    result = project.run("check", "--format", "json")
    assert result.code == 1
    check = check_of(result)
    assert check["status"] == "fail"
    assert check["message"] == "config/settings.local.py not found in the project directory"


def test_missing_file_console_lines_and_own_fix(project: Project) -> None:
    file_check(project, 'path = "local.cfg"\nfix = "cp local.cfg.example local.cfg"')
    result = project.run("check")
    assert result.code == 1
    assert "Files" in result.stdout
    assert "local.cfg not found in the project directory" in result.stdout
    assert "fix: cp local.cfg.example local.cfg" in result.stdout


def test_absent_as_required_passes(project: Project) -> None:
    file_check(project, 'path = "celerybeat.pid"\nexists = false')
    result = project.run("check", "--format", "json")
    assert result.code == 0
    assert check_of(result)["message"] == "celerybeat.pid is absent, as required"


def test_present_but_must_be_absent_fails_with_rm(project: Project) -> None:
    project.write("stale lock.pid", "123\n")
    file_check(project, 'path = "stale lock.pid"\nexists = false')
    result = project.run("check", "--format", "json")
    assert result.code == 1
    check = check_of(result)
    assert check["message"] == "stale lock.pid exists but must not"
    assert check["fix"] == "rm 'stale lock.pid'"


def test_directory_that_must_be_absent_fails_with_rm_r(project: Project) -> None:
    (project.root / "build").mkdir()
    file_check(project, 'path = "build"\nexists = false')
    check = check_of(project.run("check", "--format", "json"))
    assert check["status"] == "fail"
    assert check["fix"] == "rm -r build"


def test_absolute_path(project: Project, tmp_path: Any) -> None:
    outside = tmp_path / "shared-data"
    outside.mkdir()
    file_check(project, f'path = "{outside}"')
    result = project.run("check", "--format", "json")
    assert result.code == 0
    assert check_of(result)["message"] == f"{outside} exists (directory)"


def test_path_through_an_environment_variable(project: Project) -> None:
    project.write("data/fixtures.json", "{}\n")
    file_check(project, 'path = "${ED_DATA_DIR}/fixtures.json"')
    assert project.run("check", env={"ED_DATA_DIR": "data"}).code == 0
    result = project.run("check", "--format", "json", env={"ED_DATA_DIR": "elsewhere"})
    assert result.code == 1
    message = check_of(result)["message"]
    assert message == "elsewhere/fixtures.json not found in the project directory"


def test_path_variable_with_default(project: Project) -> None:
    project.write("data/fixtures.json", "{}\n")
    file_check(project, 'path = "${ED_DATA_DIR_UNSET:-data}/fixtures.json"')
    result = project.run("check", "--format", "json")
    assert result.code == 0
    assert check_of(result)["message"] == "data/fixtures.json exists (file)"


def test_unset_path_variable_is_that_checks_error_not_a_crash(project: Project) -> None:
    file_check(project, 'path = "${ED_DATA_DIR_UNSET}/fixtures.json"')
    project.write(
        "checks/more.toml",
        '[[check]]\nid = "other"\nkind = "file"\npath = "checks"\n',
    )
    result = project.run("check", "--format", "json")
    assert result.code == 1
    assert "Traceback" not in result.stderr
    check = check_of(result)
    assert check["status"] == "error"
    assert check["message"] == "ED_DATA_DIR_UNSET is not set"
    assert check_of(result, "other")["status"] == "pass"


def test_path_from_the_settings_dotenv(project: Project) -> None:
    project.write("pyproject.toml", '[tool.envdoctor]\ndotenv = ".env"\n')
    project.write(".env", "ED_FIXTURE_DIR=certs\n")
    (project.root / "certs").mkdir()
    file_check(project, 'path = "${ED_FIXTURE_DIR}"')
    result = project.run("check", "--format", "json")
    assert result.code == 0
    assert check_of(result)["message"] == "certs exists (directory)"


def test_missing_path_option_is_a_config_error(project: Project) -> None:
    file_check(project, "exists = true")
    result = project.run("check")
    assert result.code == 2
    assert "checks/envdoctor.toml:1: check 'f': kind file needs option 'path'" in result.stderr


def test_exists_must_be_a_boolean(project: Project) -> None:
    file_check(project, 'path = "x"\nexists = "no"')
    result = project.run("check")
    assert result.code == 2
    assert "checks/envdoctor.toml:5:" in result.stderr
    assert "option 'exists'" in result.stderr and "true or false" in result.stderr
