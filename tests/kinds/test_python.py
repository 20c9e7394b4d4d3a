"""The `python` kind, end to end, against real interpreters on this machine.

Two pyenv interpreters whose versions differ from the one running the tests make every claim
provable: when the report says 3.10.13 or 3.12.1, it inspected the target, not itself.
"""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import CliResult, Project, run_cli

PY310 = Path("/root/.pyenv/versions/3.10.13/bin/python3.10")
PY312 = Path("/root/.pyenv/versions/3.12.1/bin/python3.12")
OURS = platform.python_version()


@pytest.fixture(autouse=True)
def _interpreters() -> None:
    for exe in (PY310, PY312):
        if not exe.is_file():
            pytest.fail(f"{exe} is missing: these tests need pyenv's 3.10.13 and 3.12.1")
    assert OURS not in ("3.10.13", "3.12.1"), "the test interpreter must differ from both targets"


def make_venv(base: Path, where: Path) -> Path:
    """A real virtual environment (no pip: fast) made by `base`; returns its python."""
    subprocess.run([str(base), "-m", "venv", "--without-pip", str(where)], check=True, timeout=60)
    python = where / "bin" / "python"
    assert python.exists()
    return python


def check_of(result: CliResult, check_id: str = "py") -> dict[str, Any]:
    return next(c for c in result.json()["checks"] if c["id"] == check_id)


def py_check(project: Project, body: str = "") -> None:
    project.checks(f'[[check]]\nid = "py"\nkind = "python"\n{body}\n')


def run_json(project: Project, *args: str, env: dict[str, str] | None = None) -> CliResult:
    return project.run("check", "--format", "json", "-v", *args, env=env)


def message_for(project: Project, python: Path, code: int) -> str:
    """The `py` check's message against `python`, once the run exited with `code`."""
    result = run_json(project, "--python", str(python))
    assert result.code == code, result.stdout
    return check_of(result)["message"]


# -- version ------------------------------------------------------------------------------


def test_specifier_that_matches_passes(project: Project) -> None:
    py_check(project, 'version = ">=3.12,<3.13"')
    result = run_json(project, "--python", str(PY312))
    assert result.code == 0, result.stdout
    check = check_of(result)
    assert check["status"] == "pass"
    assert check["message"] == "3.12.1 satisfies >=3.12,<3.13 (checks/envdoctor.toml:4 version)"


def test_specifier_that_does_not_match_fails_with_a_fix(project: Project) -> None:
    py_check(project, 'version = ">=3.11"')
    result = run_json(project, "--python", str(PY310))
    assert result.code == 1
    check = check_of(result)
    assert check["status"] == "fail"
    assert check["message"] == "3.10.13 does not satisfy >=3.11 (checks/envdoctor.toml:4 version)"
    assert "venv" in check["fix"]


def test_console_names_the_target_and_its_version(project: Project) -> None:
    py_check(project, 'version = "<3.11"')
    result = project.run("check", "--python", str(PY310))
    assert result.code == 0
    header = result.stdout.splitlines()[0]
    assert "3.10.13/bin/python3.10 (3.10.13)" in header
    assert OURS not in result.stdout
    assert "Python" in result.stdout


def test_default_from_requires_python(project: Project) -> None:
    project.write(
        "pyproject.toml",
        """
        [project]
        name = "shop"
        requires-python = ">=3.11"
        """,
    )
    py_check(project)
    assert message_for(project, PY310, 1) == (
        "3.10.13 does not satisfy >=3.11 (pyproject.toml:3 requires-python)"
    )
    message = message_for(project, PY312, 0)
    assert message == "3.12.1 satisfies >=3.11 (pyproject.toml:3 requires-python)"


def test_requires_python_wins_over_python_version_file(project: Project) -> None:
    project.write("pyproject.toml", '[project]\nname = "x"\nrequires-python = ">=3.12"\n')
    project.write(".python-version", "3.10\n")
    py_check(project)
    assert "pyproject.toml:3 requires-python" in message_for(project, PY312, 0)


def test_option_wins_over_the_project_files(project: Project) -> None:
    project.write("pyproject.toml", '[project]\nname = "x"\nrequires-python = ">=3.12"\n')
    py_check(project, 'version = "==3.10.*"')
    message = message_for(project, PY310, 0)
    assert message == "3.10.13 satisfies ==3.10.* (checks/envdoctor.toml:4 version)"


def test_python_version_file_minor(project: Project) -> None:
    project.write(".python-version", "3.12\n")
    py_check(project)
    assert message_for(project, PY312, 0) == "3.12.1 satisfies ==3.12.* (.python-version:1)"
    message = message_for(project, PY310, 1)
    assert message == "3.10.13 does not satisfy ==3.12.* (.python-version:1)"


def test_python_version_file_exact_micro(project: Project) -> None:
    project.write(".python-version", "3.12.3\n")
    py_check(project)
    message = message_for(project, PY312, 1)
    assert message == "3.12.1 does not satisfy ==3.12.3 (.python-version:1)"
    project.write(".python-version", "3.12.1\n")
    assert run_json(project, "--python", str(PY312)).code == 0


def test_python_version_file_skips_comments_and_blank_lines(project: Project) -> None:
    project.write(".python-version", "# pinned for CI\n\n3.10\n")
    py_check(project)
    assert message_for(project, PY310, 0) == "3.10.13 satisfies ==3.10.* (.python-version:3)"


def test_python_version_file_with_garbage_is_an_error_with_file_and_line(project: Project) -> None:
    project.write(".python-version", "latest-please\n")
    py_check(project)
    project.write("checks/other.toml", '[[check]]\nid = "other"\nkind = "file"\npath = "checks"\n')
    result = run_json(project, "--python", str(PY312))
    assert result.code == 1
    assert "Traceback" not in result.stdout + result.stderr
    check = check_of(result)
    assert check["status"] == "error"
    assert check["message"] == ".python-version:1: not a Python version: 'latest-please'"
    assert check_of(result, "other")["status"] == "pass"


def test_no_requirement_anywhere_just_reports_the_version(project: Project) -> None:
    py_check(project)
    result = run_json(project, "--python", str(PY312))
    assert result.code == 0
    assert check_of(result)["message"] == "3.12.1"


def test_bad_specifier_option_is_a_config_error_with_file_and_line(project: Project) -> None:
    py_check(project, 'version = ">=3.x"')
    result = project.run("check")
    assert result.code == 2
    assert result.stdout == ""
    assert result.stderr.strip() == (
        "envdoctor: checks/envdoctor.toml:4: check 'py': option 'version': "
        "not a PEP 440 version specifier: '>=3.x' (e.g. \">=3.11\")"
    )


def test_bad_requires_python_is_the_checks_error_with_file_and_line(project: Project) -> None:
    project.write("pyproject.toml", '[project]\nname = "x"\nrequires-python = "three"\n')
    py_check(project)
    result = run_json(project, "--python", str(PY312))
    assert result.code == 1
    check = check_of(result)
    assert check["status"] == "error"
    assert check["message"].startswith("pyproject.toml:3 requires-python: not a version specifier")


def test_specifier_from_an_environment_variable(project: Project) -> None:
    py_check(project, 'version = "${ED_WANTED_PY:->=3.12}"')
    assert run_json(project, "--python", str(PY312)).code == 0
    result = run_json(project, "--python", str(PY312), env={"ED_WANTED_PY": "<3.12"})
    assert result.code == 1
    assert check_of(result)["message"].startswith("3.12.1 does not satisfy <3.12")


# -- implementation -----------------------------------------------------------------------


def test_implementation_matches_case_insensitively(project: Project) -> None:
    py_check(project, 'implementation = "cpython"')
    result = run_json(project, "--python", str(PY312))
    assert result.code == 0
    assert check_of(result)["message"] == "CPython 3.12.1"


def test_wrong_implementation_fails(project: Project) -> None:
    py_check(project, 'implementation = "PyPy"\nversion = ">=3.10"')
    result = run_json(project, "--python", str(PY310))
    assert result.code == 1
    assert check_of(result)["message"] == "implementation is CPython, PyPy required"


# -- virtualenv ---------------------------------------------------------------------------


def test_virtualenv_required_but_system_interpreter(project: Project) -> None:
    py_check(project, "virtualenv = true")
    result = run_json(project, "--python", str(PY312))
    assert result.code == 1
    check = check_of(result)
    assert check["message"] == "not in a virtual environment"
    assert "-m venv .venv" in check["fix"] and ". .venv/bin/activate" in check["fix"]
    assert any(e.startswith("prefix /root/.pyenv/versions/3.12.1") for e in check["evidence"])


def test_virtualenv_false_passes_for_a_system_interpreter(project: Project) -> None:
    py_check(project, "virtualenv = false")
    assert run_json(project, "--python", str(PY312)).code == 0


def test_virtualenv_true_passes_inside_a_venv(project: Project, tmp_path: Path) -> None:
    venv_python = make_venv(PY312, tmp_path / "venv")
    py_check(project, "virtualenv = true")
    result = run_json(project, "--python", str(venv_python))
    assert result.code == 0
    assert check_of(result)["message"] == "3.12.1 in a virtual environment"


def test_virtualenv_false_fails_inside_a_venv(project: Project, tmp_path: Path) -> None:
    venv_python = make_venv(PY310, tmp_path / "venv")
    py_check(project, "virtualenv = false")
    result = run_json(project, "--python", str(venv_python))
    assert result.code == 1
    message = check_of(result)["message"]
    assert message.startswith(f"inside a virtual environment ({tmp_path / 'venv'})")


# -- which interpreter --------------------------------------------------------------------


def test_python_flag_names_the_targets_version_not_ours(project: Project) -> None:
    py_check(project)
    result = run_json(project, "--python", str(PY310))
    data = result.json()
    assert data["python"] == {"executable": str(PY310), "version": "3.10.13"}
    check = check_of(result)
    assert check["message"] == "3.10.13"
    assert f"target {PY310} (--python): CPython 3.10.13" in check["evidence"]
    assert OURS not in result.stdout


def test_python_flag_accepts_a_venv_directory(project: Project, tmp_path: Path) -> None:
    make_venv(PY310, tmp_path / "env310")
    py_check(project)
    result = run_json(project, "--python", str(tmp_path / "env310"))
    assert result.json()["python"] == {
        "executable": str(tmp_path / "env310" / "bin" / "python"),
        "version": "3.10.13",
    }


def test_project_venv_is_found(project: Project) -> None:
    venv_python = make_venv(PY310, project.root / ".venv")
    py_check(project)
    result = run_json(project)
    data = result.json()
    assert data["python"] == {"executable": str(venv_python), "version": "3.10.13"}
    check = check_of(result)
    assert check["message"] == "3.10.13"
    assert f"target {venv_python} (.venv): CPython 3.10.13" in check["evidence"]


def test_project_venv_is_found_with_project_flag(project: Project, tmp_path: Path) -> None:
    venv_python = make_venv(PY312, project.root / ".venv")
    py_check(project, 'version = "==3.12.*"')
    result = run_cli("check", "--project", str(project.root), "--format", "json", cwd=tmp_path)
    assert result.code == 0, result.stdout
    assert result.json()["python"]["executable"] == str(venv_python)


def test_virtual_env_variable_wins_over_project_venv(project: Project, tmp_path: Path) -> None:
    make_venv(PY310, project.root / ".venv")
    active = make_venv(PY312, tmp_path / "active-venv")
    py_check(project)
    result = run_json(project, env={"VIRTUAL_ENV": str(tmp_path / "active-venv")})
    data = result.json()
    assert data["python"] == {"executable": str(active), "version": "3.12.1"}
    assert f"target {active} ($VIRTUAL_ENV): CPython 3.12.1" in check_of(result)["evidence"]


def test_python_flag_wins_over_virtual_env_and_project_venv(
    project: Project, tmp_path: Path
) -> None:
    make_venv(PY310, project.root / ".venv")
    make_venv(PY310, tmp_path / "active-venv")
    py_check(project)
    result = run_json(
        project, "--python", str(PY312), env={"VIRTUAL_ENV": str(tmp_path / "active-venv")}
    )
    assert result.json()["python"] == {"executable": str(PY312), "version": "3.12.1"}


def test_virtual_env_without_an_interpreter_is_a_clear_error(
    project: Project, tmp_path: Path
) -> None:
    (tmp_path / "not-a-venv").mkdir()
    make_venv(PY310, project.root / ".venv")
    py_check(project)
    result = project.run("check", env={"VIRTUAL_ENV": str(tmp_path / "not-a-venv")})
    assert result.code == 1
    assert "there is no interpreter at" in result.stderr and "deactivate it" in result.stderr
    assert "error: $VIRTUAL_ENV is " in result.stdout  # the python check says it too
    assert "3.10" not in result.stdout  # never a silent switch to the project's .venv


def test_missing_python_flag_target_is_one_line(project: Project, tmp_path: Path) -> None:
    py_check(project)
    missing = tmp_path / "nope" / "python"
    result = run_json(project, "--python", str(missing))
    assert result.code == 1
    assert result.stderr.strip() == f"envdoctor: --python {missing}: no such interpreter"
    check = check_of(result)  # a report a CI job can read, with the check in error
    assert check["status"] == "error"
    assert check["message"] == f"--python {missing}: no such interpreter"


def test_python_flag_at_a_program_that_is_not_python(project: Project) -> None:
    py_check(project)
    result = run_json(project, "--python", "/bin/false")
    assert result.code == 1
    check = check_of(result)
    assert check["status"] == "error"
    assert check["message"].startswith("/bin/false is not a working Python interpreter")


def test_a_plain_version_requirement_does_not_import_packaging(project: Any) -> None:
    """~9 ms of every run (DESIGN.md §10): pyspec answers plain release numbers itself."""
    import subprocess
    import sys

    project.checks('[[check]]\nid = "py"\nkind = "python"\nversion = ">=3.8,<4"\n')
    code = "import sys; from envdoctor.cli import main; sys.argv = ['envdoctor', 'check']; main()"
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        cwd=project.root, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert "satisfies >=3.8,<4" in proc.stdout
    assert "packaging" not in proc.stderr


PY27 = Path("/root/.pyenv/versions/2.7.18/bin/python2.7")


def test_a_python_2_target_is_judged_by_its_version(project: Project) -> None:
    """Python 2 rejects the inspection (`-I`), yet its version is the answer a user needs:
    "2.7.18 does not satisfy >=3.8", not "not a working interpreter"."""
    assert PY27.is_file(), f"{PY27} is missing: this test needs pyenv's 2.7.18"
    project.checks(
        '[[check]]\nid = "py"\nkind = "python"\nversion = ">=3.8"\n'
        '[[check]]\nid = "old"\nkind = "python"\nversion = ">=2.7"\n'
    )
    result = run_json(project, "--python", str(PY27))
    assert result.code == 1
    check = check_of(result)
    assert check["status"] == "fail"
    assert check["message"] == "2.7.18 does not satisfy >=3.8 (checks/envdoctor.toml:4 version)"
    assert check["fix"]
    old = check_of(result, "old")  # satisfied, but nothing else can be inspected
    assert old["status"] == "error"
    assert old["message"].endswith(
        "is Python 2.7.18: too old for envdoctor to inspect (Python 3 only)"
    )


def test_python_version_file_saying_system_asks_for_no_version(project: Project) -> None:
    project.write(".python-version", "system\n")
    py_check(project)
    result = run_json(project)
    assert result.code == 0, result.stdout
    assert check_of(result)["message"] == OURS
