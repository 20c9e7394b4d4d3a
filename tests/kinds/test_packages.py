"""The `packages` kind, end to end through the CLI, against real virtual environments.

Every target is a venv envdoctor is NOT installed in, named with `--python`, as users will run
it: real distributions at pinned versions, broken on purpose (a missing package, a too-old one,
an extra's dependency missing, a dependency removed by `--no-deps`), and bare venvs of other
Python versions so that markers provably follow the target, not envdoctor's own interpreter.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import CliResult, Project, Venv

from envdoctor.context import CheckContext, Session
from envdoctor.target import Target

PY310 = Path("/root/.pyenv/versions/3.10.13/bin/python3.10")
PY312 = Path("/root/.pyenv/versions/3.12.1/bin/python3.12")

GOOD = [
    "requests==2.31.0",
    "urllib3==2.2.1",
    "idna==3.6",
    "certifi==2024.2.2",
    "charset-normalizer==3.3.2",
    "six==1.16.0",
]


@pytest.fixture
def good(venv_factory: Any) -> Venv:
    """requests and six with all their dependencies: consistent, and no PySocks."""
    return venv_factory("packages-good", GOOD)


@pytest.fixture
def no_deps(venv_factory: Any) -> Venv:
    """requests installed with --no-deps: its four dependencies are missing."""
    return venv_factory("packages-no-deps", [], no_deps=["requests==2.31.0"])


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Venvs of Python 3.10 and 3.12 (not envdoctor's 3.11), without pip, each holding one
    hand-written distribution whose requirement only applies before 3.11."""
    out = {}
    for version, base in (("3.10", PY310), ("3.12", PY312)):
        if not base.is_file():
            pytest.fail(f"{base} is missing: these tests need pyenv's {version}")
        root = tmp_path_factory.mktemp(f"bare{version}")
        subprocess.run([str(base), "-m", "venv", "--without-pip", str(root)], check=True)
        site = root / "lib" / f"python{version}" / "site-packages"
        info = site / "oldtool-1.0.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(
            "Metadata-Version: 2.1\nName: oldtool\nVersion: 1.0\n"
            'Requires-Dist: tomli>=1; python_version < "3.11"\n'
            'Requires-Dist: pytest; extra == "test"\n\nThe body.\n'
        )
        (info / "RECORD").write_text("oldtool-1.0.dist-info/METADATA,,\n")
        (info / "INSTALLER").write_text("pip\n")
        out[version] = root / "bin" / "python"
    assert platform.python_version_tuple()[:2] == ("3", "11"), "targets must differ from ours"
    return out


def packages_check(project: Project, body: str = "", check_id: str = "pkgs") -> None:
    project.checks(f'[[check]]\nid = "{check_id}"\nkind = "packages"\n{body}\n')


def run_json(project: Project, python: Path, *args: str) -> CliResult:
    return project.run("check", "--format", "json", "--python", str(python), "--no-cache", *args)


def check_of(result: CliResult, check_id: str = "pkgs") -> dict[str, Any]:
    return next(c for c in result.json()["checks"] if c["id"] == check_id)


def by_subject(check: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["subject"]: f for f in check["findings"]}


# -- requirements files --------------------------------------------------------------------


def test_satisfied_requirements_pass(project: Project, good: Venv) -> None:
    project.write(
        "requirements.txt",
        """
        # the app
        requests==2.31.0 \\
            --hash=sha256:58cd2187c01e70e6e26505bca751777aa9f2ee0b7f4300988b709f44e013003f
        --index-url https://pypi.org/simple
        Six>=1.16  # inline comment, name not normalised
        charset_normalizer>=3
        """,
    )
    packages_check(project, 'requirements = "requirements.txt"')
    result = run_json(project, good.python, "-v")
    assert result.code == 0, result.stdout + result.stderr
    check = check_of(result)
    assert check["status"] == "pass"
    assert check["message"] == "3 requirements met; environment consistent"
    passed = by_subject(check)
    assert passed["six"]["found"] == "1.16.0"
    assert passed["six"]["source"] == "requirements.txt:5"
    assert passed["charset-normalizer"]["status"] == "pass"
    evidence = "\n".join(check["evidence"])
    assert str(good.python) in evidence
    assert "read requirements.txt" in evidence
    assert "inspection cache: miss" in evidence
    assert result.json()["python"]["executable"].startswith(str(good.root))


def test_missing_and_too_old_packages_fail_with_one_combined_fix(
    project: Project, good: Venv
) -> None:
    project.write("requirements.txt", "requests==2.31.0\nhvac>=1.0\nsix>=1.17\n")
    packages_check(project, 'requirements = ["requirements.txt"]')
    result = run_json(project, good.python)
    assert result.code == 1
    check = check_of(result)
    assert check["status"] == "fail"
    assert check["message"] == "2 of 3 requirements not met; environment consistent"
    findings = by_subject(check)
    assert set(findings) == {"hvac", "six"}
    hvac = findings["hvac"]
    assert (hvac["status"], hvac["message"]) == ("fail", "not installed")
    assert (hvac["expected"], hvac["found"], hvac["source"]) == (
        ">=1.0",
        None,
        "requirements.txt:2",
    )
    assert hvac["fix"] == f"{good.python} -m pip install 'hvac>=1.0'"
    six = findings["six"]
    assert six["message"] == "1.16.0 installed, requirements.txt:3 wants >=1.17"
    assert (six["expected"], six["found"]) == (">=1.17", "1.16.0")
    assert check["fix"] == f"{good.python} -m pip install 'hvac>=1.0' 'six>=1.17'"


def test_console_shows_each_problem_and_the_fix(project: Project, good: Venv) -> None:
    project.write("requirements.txt", "hvac>=1.0\n")
    packages_check(project, 'requirements = "requirements.txt"')
    result = project.run("check", "--python", str(good.python), "--no-cache")
    assert result.code == 1
    assert "Packages" in result.stdout
    assert "1 of 1 requirement not met; environment consistent" in result.stdout
    line = next(ln for ln in result.stdout.splitlines() if ln.strip().startswith("hvac"))
    assert "not installed (expected >=1.0; requirements.txt:1)" in line
    assert f"fix: {good.python} -m pip install 'hvac>=1.0'" in result.stdout


def test_fix_apply_would_run_the_install_argv_into_the_target(project: Project, good: Venv) -> None:
    project.write("requirements.txt", "hvac>=1.0\nsix>=1.17\n")
    packages_check(project, 'requirements = "requirements.txt"')
    script = project.run("fix", "--python", str(good.python))
    assert f"{good.python} -m pip install 'hvac>=1.0' 'six>=1.17'" in script.stdout.splitlines()
    # Without --yes and without a terminal nothing runs, but the steps are shown as argv.
    refused = project.run("fix", "--apply", "--python", str(good.python))
    assert refused.code == 1
    assert f"  {good.python} -m pip install 'hvac>=1.0' 'six>=1.17'\n" in refused.stderr


def test_uv_lock_makes_the_fix_a_uv_command(project: Project, good: Venv, tmp_path: Path) -> None:
    project.write("uv.lock", "version = 1\n")
    project.write("requirements.txt", "hvac\n")
    packages_check(project, 'requirements = "requirements.txt"')
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "uv").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "uv").chmod(0o755)
    path = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
    result = project.run(
        "check", "--format", "json", "--python", str(good.python), "--no-cache", env={"PATH": path}
    )
    assert check_of(result)["fix"] == f"uv pip install --python {good.python} hvac"


def test_uv_lock_without_uv_on_path_falls_back_to_pip_and_says_why(
    project: Project, good: Venv, tmp_path: Path
) -> None:
    project.write("uv.lock", "version = 1\n")
    project.write("requirements.txt", "hvac\n")
    packages_check(project, 'requirements = "requirements.txt"')
    (tmp_path / "empty").mkdir()
    result = project.run(
        "check",
        "--format",
        "json",
        "--python",
        str(good.python),
        "--no-cache",
        "-v",
        env={"PATH": str(tmp_path / "empty")},
    )
    check = check_of(result)
    assert check["fix"] == f"{good.python} -m pip install hvac"
    assert (
        "uv.lock is present but uv is not on PATH: the fix uses the target's pip"
        in check["evidence"]
    )


def test_a_missing_extra_dependency_is_found(project: Project, good: Venv) -> None:
    project.write("requirements.txt", "requests[socks]==2.31.0\n")
    packages_check(project, 'requirements = "requirements.txt"')
    result = run_json(project, good.python)
    assert result.code == 1
    check = check_of(result)
    assert check["message"] == "1 of 1 requirement not met; environment consistent"
    finding = by_subject(check)["pysocks"]
    assert finding["message"] == "not installed (needed by requests[socks], requirements.txt:1)"
    assert finding["expected"] == "!=1.5.7,>=1.5.6"
    assert check["fix"] == f"{good.python} -m pip install 'pysocks!=1.5.7,>=1.5.6'"


def test_a_constraint_limits_a_requirement(project: Project, good: Venv) -> None:
    project.write("requirements.txt", "-c constraints/pins.txt\nsix\n")
    project.write("constraints/pins.txt", "six<1.16\nhvac==2.0  # not required: ignored\n")
    packages_check(project, 'requirements = "requirements.txt"')
    check = check_of(run_json(project, good.python, "-v"))
    assert check["status"] == "fail"
    finding = by_subject(check)["six"]
    assert finding["message"] == "1.16.0 installed, constraint constraints/pins.txt:1 wants <1.16"
    assert finding["source"] == "constraints/pins.txt:1"
    assert "read requirements.txt, constraints/pins.txt" in "\n".join(check["evidence"])


def test_url_and_vcs_lines_are_satisfied_by_the_installed_name(
    project: Project, good: Venv
) -> None:
    project.write(
        "requirements.txt",
        """
        six @ https://files.pythonhosted.org/packages/six-1.16.0-py2.py3-none-any.whl
        git+https://github.com/psf/requests@v2.31.0#egg=requests
        """,
    )
    packages_check(project, 'requirements = "requirements.txt"')
    check = check_of(run_json(project, good.python, "-v"))
    assert (check["status"], check["message"]) == (
        "pass",
        "2 requirements met; environment consistent",
    )
    for finding in check["findings"]:
        assert "the URL is not compared" in finding["message"]


def test_an_editable_whose_name_is_unknown_is_shown_as_not_verified(
    project: Project, good: Venv
) -> None:
    project.write("lib/setup.py", "from setuptools import setup\nsetup()\n")
    project.write("requirements.txt", "six\n-e ./lib\n")
    packages_check(project, 'requirements = "requirements.txt"')
    check = check_of(run_json(project, good.python))
    assert check["status"] == "pass"
    assert check["message"] == "1 requirement met; 1 not verified; environment consistent"
    skipped = [f for f in check["findings"] if f["status"] == "skip"]
    assert len(skipped) == 1
    assert skipped[0]["message"].startswith("not verified: editable install whose name is unknown")
    assert skipped[0]["source"] == "requirements.txt:2"


# -- consistency ----------------------------------------------------------------------------


def test_an_uninstalled_dependency_is_found_by_consistency(project: Project, no_deps: Venv) -> None:
    project.write("requirements.txt", "requests==2.31.0\n")
    packages_check(project, 'requirements = "requirements.txt"')
    result = run_json(project, no_deps.python)
    assert result.code == 1
    check = check_of(result)
    assert check["message"] == "1 requirement met; 4 consistency problems"
    findings = by_subject(check)
    assert set(findings) == {"certifi", "charset-normalizer", "idna", "urllib3"}
    urllib3 = findings["urllib3"]
    assert urllib3["message"] == "needed by requests 2.31.0: urllib3<3,>=1.21.1, not installed"
    assert (urllib3["expected"], urllib3["found"]) == ("<3,>=1.21.1", None)
    fix = check["fix"]
    assert fix.startswith(f"{no_deps.python} -m pip install ")
    for spec in ("'urllib3<3,>=1.21.1'", "'idna<4,>=2.5'", "'certifi>=2017.4.17'"):
        assert spec in fix


def test_consistent_false_checks_only_the_requirements(project: Project, no_deps: Venv) -> None:
    project.write("requirements.txt", "requests==2.31.0\n")
    packages_check(project, 'requirements = "requirements.txt"\nconsistent = false')
    check = check_of(run_json(project, no_deps.python))
    assert (check["status"], check["message"]) == ("pass", "1 requirement met")


# -- markers follow the target ------------------------------------------------------------


MARKED = """
tomli>=1; python_version < "3.11"
exceptiongroup; python_version >= "3.11"
"""


def test_markers_are_evaluated_for_a_310_target(project: Project, bare: dict[str, Path]) -> None:
    project.write("requirements.txt", MARKED)
    packages_check(project, 'requirements = "requirements.txt"')
    check = check_of(run_json(project, bare["3.10"]))
    # envdoctor runs on 3.11, where the answer would be the opposite.
    assert check["status"] == "fail"
    # The requirement, and oldtool's own requirement (a consistency problem on 3.10 only).
    assert check["message"] == "1 of 1 requirement not met; 1 consistency problem"
    found = [(f["subject"], f["message"], f["source"]) for f in check["findings"]]
    assert found == [
        ("tomli", "not installed", "requirements.txt:1"),
        ("tomli", "needed by oldtool 1.0: tomli>=1, not installed", None),
    ]
    # No pip in this venv: the fix bootstraps it first, and installs tomli once.
    python = bare["3.10"]
    assert check["fix"] == f"{python} -m ensurepip && {python} -m pip install 'tomli>=1'"


def test_markers_are_evaluated_for_a_312_target(project: Project, bare: dict[str, Path]) -> None:
    project.write("requirements.txt", MARKED)
    packages_check(project, 'requirements = "requirements.txt"')
    check = check_of(run_json(project, bare["3.12"]))
    findings = by_subject(check)
    assert set(findings) == {"exceptiongroup"}
    assert findings["exceptiongroup"]["source"] == "requirements.txt:2"
    assert check["message"] == "1 of 1 requirement not met; environment consistent"


# -- bad project files ----------------------------------------------------------------------


def test_a_malformed_line_is_an_error_with_file_and_line_and_the_run_goes_on(
    project: Project, good: Venv
) -> None:
    project.write("requirements.txt", "six\nrequests = 2.31.0\n")
    project.checks(
        """
        [[check]]
        id = "pkgs"
        kind = "packages"
        requirements = "requirements.txt"

        [[check]]
        id = "readme"
        kind = "file"
        path = "requirements.txt"
        """
    )
    result = run_json(project, good.python)
    assert result.code == 1
    check = check_of(result)
    assert check["status"] == "error"
    assert check["message"].startswith("requirements.txt:2: ")
    assert check_of(result, "readme")["status"] == "pass"


def test_a_missing_requirements_file_is_an_error(project: Project, good: Venv) -> None:
    packages_check(project, 'requirements = ["requirements/dev.txt"]')
    check = check_of(run_json(project, good.python))
    assert check["status"] == "error"
    assert "requirements/dev.txt" in check["message"]


def test_an_include_cycle_is_an_error(project: Project, good: Venv) -> None:
    project.write("a.txt", "six\n-r b.txt\n")
    project.write("b.txt", "-r a.txt\n")
    packages_check(project, 'requirements = "a.txt"')
    check = check_of(run_json(project, good.python))
    assert check["status"] == "error"
    assert "a.txt" in check["message"] and "b.txt" in check["message"]


def test_a_bad_pyproject_option_value_is_a_configuration_error(project: Project) -> None:
    packages_check(project, "pyproject = 3")
    result = project.run("check")
    assert result.code == 2
    assert "checks/envdoctor.toml:4" in result.stderr
    assert "true, false or a path" in result.stderr


# -- pyproject -------------------------------------------------------------------------------

PYPROJECT = """
[project]
name = "demo"
version = "0.1"
dependencies = [
    "requests>=2.31",
]

[project.optional-dependencies]
socks = ["requests[socks]"]
docs = ["sphinx>=7"]

[dependency-groups]
test = ["six>=1.16", {include-group = "lint"}]
lint = ["hvac>=1.0"]
"""


def test_pyproject_dependencies_are_the_default(project: Project, good: Venv) -> None:
    project.write("pyproject.toml", PYPROJECT)
    project.write("requirements.txt", "hvac\n")  # not read: pyproject declares dependencies
    packages_check(project)
    result = run_json(project, good.python, "-v")
    check = check_of(result)
    assert (check["status"], check["message"]) == (
        "pass",
        "1 requirement met; environment consistent",
    )
    assert by_subject(check)["requests"]["source"] == "pyproject.toml:5"


def test_requirements_txt_is_the_default_without_pyproject_dependencies(
    project: Project, good: Venv
) -> None:
    project.write("pyproject.toml", "[tool.other]\nx = 1\n")
    project.write("requirements.txt", "hvac\n")
    packages_check(project)
    check = check_of(run_json(project, good.python))
    assert by_subject(check)["hvac"]["source"] == "requirements.txt:1"


def test_nothing_to_check_is_an_error(project: Project, good: Venv) -> None:
    packages_check(project)
    check = check_of(run_json(project, good.python))
    assert (check["status"], check["message"]) == (
        "error",
        "nothing to check: set requirements or pyproject",
    )


def test_pyproject_extras_and_groups_with_include_group(project: Project, good: Venv) -> None:
    project.write("pyproject.toml", PYPROJECT)
    packages_check(project, 'pyproject = true\nextras = ["socks"]\ngroups = ["test"]')
    result = run_json(project, good.python)
    check = check_of(result)
    assert check["status"] == "fail"
    # requests, requests[socks], six, hvac: the socks extra and the included lint group fail.
    assert check["message"] == "2 of 4 requirements not met; environment consistent"
    findings = by_subject(check)
    assert set(findings) == {"pysocks", "hvac"}
    assert findings["pysocks"]["message"].startswith("not installed (needed by requests[socks], ")
    assert findings["hvac"]["message"] == "not installed"
    assert findings["hvac"]["source"].startswith("pyproject.toml:")


def test_pyproject_false_with_groups_checks_only_the_groups(project: Project, good: Venv) -> None:
    project.write("pyproject.toml", PYPROJECT.replace('"requests>=2.31"', '"zzz-absent"'))
    packages_check(project, 'pyproject = false\ngroups = ["lint"]')
    check = check_of(run_json(project, good.python))
    assert set(by_subject(check)) == {"hvac"}
    assert check["message"] == "1 of 1 requirement not met; environment consistent"


# -- fix commands that work (local paths, indexes, masked URLs) -----------------------------


def test_local_paths_in_the_fix_are_absolute_keep_extras_and_are_listed_once(
    project: Project, good: Venv
) -> None:
    project.write("pyproject.toml", '[project]\nname = "myproj"\nversion = "1"\n')
    project.write("localpkg/pyproject.toml", '[project]\nname = "localpkg"\nversion = "1"\n')
    project.write("requirements/dev.txt", "-e .[test]\n-e ./localpkg\n./localpkg\n")
    packages_check(project, 'requirements = "requirements/dev.txt"')
    check = check_of(run_json(project, good.python))
    root = project.root.resolve()
    assert check["message"] == "2 of 2 requirements not met; environment consistent"
    assert [f["subject"] for f in check["findings"]] == ["myproj", "localpkg"]
    argv = [str(good.python), "-m", "pip", "install", "-e", f"{root}[test]", "-e"]
    argv.append(str(root / "localpkg"))
    assert check["fix"] == shlex.join(argv)
    assert f"-e '{root}[test]'" in check["fix"]
    assert by_subject(check)["localpkg"]["fix"] == shlex.join([*argv[:4], *argv[-2:]])


def test_a_file_that_sets_an_index_is_installed_with_dash_r(project: Project, good: Venv) -> None:
    project.write("requirements.txt", "--extra-index-url https://pkgs.example.com/simple\nhvac\n")
    packages_check(project, 'requirements = "requirements.txt"')
    check = check_of(run_json(project, good.python))
    top = str(project.root.resolve() / "requirements.txt")
    wanted = shlex.join([str(good.python), "-m", "pip", "install", "-r", top])
    assert check["fix"] == wanted
    assert by_subject(check)["hvac"]["fix"] == wanted


def test_a_url_with_a_masked_password_is_installed_with_dash_r(
    project: Project, good: Venv
) -> None:
    project.write("requirements.txt", "-r base.txt\n")
    project.write(
        "base.txt", "private @ https://deploy:hunter2-pass@example.com/private-1.0.tar.gz\n"
    )
    packages_check(project, 'requirements = "requirements.txt"')
    check = check_of(run_json(project, good.python))
    top = str(project.root.resolve() / "requirements.txt")
    assert check["fix"] == shlex.join([str(good.python), "-m", "pip", "install", "-r", top])
    assert "hunter2-pass" not in json.dumps(check)
    assert "***" not in check["fix"]


# -- statuses -------------------------------------------------------------------------------


def test_an_undeclared_extra_is_a_warning_like_pip(project: Project, good: Venv) -> None:
    project.write("requirements.txt", "requests[nonexistent]==2.31.0\n")
    packages_check(project, 'requirements = "requirements.txt"')
    result = run_json(project, good.python)
    check = check_of(result)
    assert (result.code, check["status"]) == (0, "warn")
    assert check["message"] == "1 requirement met; environment consistent"
    assert check["findings"][0]["message"] == "requests 2.31.0 has no extra 'nonexistent'"


def test_an_editable_path_that_does_not_exist_is_an_error_at_its_line(
    project: Project, good: Venv
) -> None:
    project.write("requirements.txt", "six\n-e ./nonexistent\n")
    packages_check(project, 'requirements = "requirements.txt"')
    check = check_of(run_json(project, good.python))
    assert check["status"] == "error"
    (finding,) = check["findings"]
    assert (finding["status"], finding["source"]) == ("error", "requirements.txt:2")
    assert "./nonexistent is not a directory" in finding["message"]


def test_a_distribution_with_broken_metadata_is_installed_but_broken(
    project: Project, tmp_path: Path
) -> None:
    root = tmp_path / "venv"
    subprocess.run([str(PY312), "-m", "venv", "--without-pip", str(root)], check=True)
    site = root / "lib" / "python3.12" / "site-packages"
    (site / "brokenpkg-1.0.dist-info").mkdir()
    (site / "brokenpkg-1.0.dist-info" / "RECORD").write_text("")
    project.write("requirements.txt", "brokenpkg>=1\n")
    packages_check(project, 'requirements = "requirements.txt"\nconsistent = false')
    python = root / "bin" / "python"
    check = check_of(run_json(project, python))
    (finding,) = check["findings"]
    assert finding["message"] == (
        f"installed but its metadata is broken (no METADATA: {site}/brokenpkg-1.0.dist-info)"
    )
    reinstall = [str(python), "-m", "pip", "install", "brokenpkg>=1", "--force-reinstall"]
    assert finding["fix"] == shlex.join([*reinstall, "--no-deps"])
    assert check["fix"].endswith(shlex.join([*reinstall, "--no-deps"]))


# -- secrets in error messages, externally managed targets (the kind run directly) ----------


def test_an_invalid_line_is_quoted_with_secrets_masked(project: Project, good: Venv) -> None:
    project.write("requirements.txt", "six\nmypkg = tok-5ecr3t-value\n")
    packages_check(project, 'requirements = "requirements.txt"')
    result = project.run(
        "check",
        "--format",
        "json",
        "--python",
        str(good.python),
        "--no-cache",
        env={"API_TOKEN": "tok-5ecr3t-value"},
    )
    check = check_of(result)
    assert check["status"] == "error"
    assert check["message"].startswith("requirements.txt:2: invalid requirement 'mypkg = ***'")
    assert "tok-5ecr3t-value" not in result.stdout + result.stderr


def test_a_line_of_an_env_named_file_is_never_quoted(project: Project, good: Venv) -> None:
    project.write(".env.requirements", "six\nSOME_SETTING = abc-not-a-secret-name\n")
    packages_check(project, 'requirements = ".env.requirements"')
    result = run_json(project, good.python)
    check = check_of(result)
    assert check["message"] == (
        ".env.requirements:2: not a valid requirements line (not quoted: the file is named "
        "like an environment file and may hold secrets)"
    )
    assert "abc-not-a-secret-name" not in result.stdout + result.stderr


def test_an_externally_managed_target_gets_a_venv_fix_and_no_action(tmp_path: Path) -> None:
    from envdoctor.kinds.packages import _outcome
    from envdoctor.pkgs.environment import Environment
    from envdoctor.pkgs.evaluate import check_requirements
    from envdoctor.pkgs.requirements import Req
    from envdoctor.target import TargetInfo

    stdlib = tmp_path / "usr" / "lib" / "python3.12"
    stdlib.mkdir(parents=True)
    (stdlib / "EXTERNALLY-MANAGED").write_text("[externally-managed]\nError=use a venv\n")
    info = TargetInfo(
        "/usr/bin/python3",
        "3.12.1",
        (3, 12, 1),
        "CPython",
        "/usr",
        "/usr",
        markers={"python_version": "3.12"},
        stdlib=str(stdlib),
    )
    env = Environment(info=info, site_dirs=[], distributions={})
    session = Session(project=tmp_path, target=Target(Path("/usr/bin/python3"), "PATH"), environ={})
    ctx = CheckContext(session, deadline=time.monotonic() + 5, timeout=5)
    hvac = Req("hvac", "hvac>=1", ">=1", (), None, None, False, "requirements.txt:1")
    outcome = _outcome(ctx, env, check_requirements([hvac], env), None)
    venv = tmp_path.resolve() / ".venv"
    wanted = f"/usr/bin/python3 -m venv {venv} && {venv}/bin/python -m pip install 'hvac>=1'"
    assert (outcome.fix, outcome.actions) == (wanted, [])
    assert outcome.findings[0].fix == wanted
    assert any("externally managed (PEP 668" in line for line in ctx.evidence)
