"""`imports`, end to end through the installed CLI, against targets envdoctor is not installed in.

Two kinds of target: a real venv with a real package installed without its dependencies
(arrow 1.3.0 without python-dateutil: shared, from `venv_factory`), and fast pip-less venvs of
pyenv's 3.12 whose `.pth` file puts a directory of modules the test writes on the path (the
child runs with `-I`, so PYTHONPATH would be ignored).
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import CliResult, ModTarget, Project, Venv, build_mod_target

from envdoctor.context import CheckContext, Session
from envdoctor.errors import Source
from envdoctor.kinds import get_kind
from envdoctor.model import CheckSpec, Outcome, Status
from envdoctor.target import Target

KIND = get_kind("imports")


@pytest.fixture
def target(tmp_path: Path) -> ModTarget:
    return build_mod_target(tmp_path)


@pytest.fixture
def arrow(venv_factory: Any) -> Venv:
    """A real venv with arrow installed and its dependency python-dateutil missing."""
    venv: Venv = venv_factory("imports-arrow", [], no_deps=["arrow==1.3.0"])
    return venv


def imports_check(modules: list[str], extra: str = "", check_id: str = "imp") -> str:
    return (
        f'[[check]]\nid = "{check_id}"\nkind = "imports"\n'
        f"modules = {json.dumps(modules)}\n{extra}\n"
    )


def run_json(project: Project, python: Path, *args: str) -> tuple[CliResult, dict[str, Any]]:
    result = project.run("check", "--format", "json", "--python", str(python), *args)
    assert result.stdout, result.stderr
    return result, result.json()


def check_of(report: dict[str, Any], check_id: str = "imp") -> dict[str, Any]:
    return next(c for c in report["checks"] if c["id"] == check_id)


def findings(check: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["subject"]: f for f in check["findings"]}


# -- import mode: every isolation case in one check ---------------------------------------------


def test_import_mode_reports_every_kind_of_casualty_in_one_check(
    project: Project, target: ModTarget
) -> None:
    target.module("good", "VALUE = 1\n")
    target.module("needsdep", "import yaml\n")
    target.dist("needsdep", "1.0", ["needsdep"], ["PyYAML>=5.1"])
    target.module("badval", "raise ValueError('bad config')\n")
    target.module("sleeper", "import time\ntime.sleep(60)\n")
    target.module("exits", "import sys\nsys.exit(3)\n")
    target.module("aborts", "import os\nos.abort()\n")
    target.module("noisy", "print('x' * 10_000_000)\n")
    target.module("last", "")
    modules = ["good", "needsdep", "badval", "sleeper", "exits", "aborts", "noisy", "last"]
    project.checks(imports_check(modules, 'mode = "import"\nmodule_timeout = "1s"'))
    started = time.monotonic()
    result, report = run_json(project, target.python, "-v")
    assert time.monotonic() - started < 8
    assert result.code == 1
    check = check_of(report)
    assert check["status"] == "fail"
    assert check["message"] == (
        "5 of 8 modules fail to import: needsdep (ModuleNotFoundError), badval (ValueError), "
        "sleeper (hung), exits (exited), aborts (crashed)"
    )
    f = findings(check)
    assert f["good"]["status"] == "pass"
    assert f["good"]["message"].startswith("imported in ")
    assert f["needsdep"]["message"] == (
        "ModuleNotFoundError: No module named 'yaml' (provided by PyYAML, required by needsdep)"
    )
    assert f["needsdep"]["found"] == "needsdep 1.0"
    assert f["needsdep"]["source"] == f"{target.mods / 'needsdep.py'}:1"
    python = shlex.quote(str(target.python))
    assert f["needsdep"]["fix"] == f"{python} -m pip install 'PyYAML>=5.1'"
    assert f["badval"]["message"] == "ValueError: bad config"
    assert f["badval"]["source"] == f"{target.mods / 'badval.py'}:1"
    assert f["sleeper"]["message"] == "hung: no answer within 1 s"
    assert f["sleeper"]["source"] == f"{target.mods / 'sleeper.py'}:2"
    assert f["exits"]["message"] == "exited the interpreter with status 3 while importing"
    assert f["aborts"]["message"] == "crashed the interpreter (SIGABRT)"
    assert f["aborts"]["source"] == f"{target.mods / 'aborts.py'}:2"
    # the flood passes; the noise is only evidence
    assert f["noisy"]["status"] == "pass"
    noise = "noisy: printed 9.5 MiB to stdout and 0 B to stderr while importing (discarded)"
    assert noise in check["evidence"]
    assert f["last"]["status"] == "pass"
    assert check["fix"] == f"{python} -m pip install 'PyYAML>=5.1'"
    # sleeper and aborts each cost the child; the others share it
    assert "3 child interpreter(s) for 8 module(s)" in check["evidence"]


def test_passes_are_listed_only_with_verbose(project: Project, target: ModTarget) -> None:
    target.module("fine", "")
    project.checks(imports_check(["fine", "json"], 'mode = "import"'))
    result, report = run_json(project, target.python)
    assert result.code == 0
    check = check_of(report)
    assert (check["status"], check["message"], check["findings"]) == (
        "pass",
        "2 modules import",
        [],
    )
    _, verbose = run_json(project, target.python, "-v")
    assert [f["subject"] for f in check_of(verbose)["findings"]] == ["fine", "json"]


def test_twenty_modules_are_imported_by_one_child(project: Project, target: ModTarget) -> None:
    names = [f"mod{i:02d}" for i in range(20)]
    for name in names:
        target.module(name, "import json, decimal\n")
    project.checks(imports_check(names, 'mode = "import"'))
    result, report = run_json(project, target.python, "-v")
    assert result.code == 0
    check = check_of(report)
    assert check["message"] == "20 modules import"
    assert "1 child interpreter(s) for 20 module(s)" in check["evidence"]


def test_explain_shows_the_noise_and_where_a_hang_was(project: Project, target: ModTarget) -> None:
    target.module("chatty", "import sys\nsys.stderr.write('e' * 2048)\n")
    target.module("stuck", "import time\n\ndef wait():\n    time.sleep(30)\n\nwait()\n")
    project.checks(imports_check(["chatty", "stuck"], 'mode = "import"\nmodule_timeout = 0.5'))
    result = project.run("explain", "imp", "--python", str(target.python))
    assert "chatty: printed 0 B to stdout and 2.0 KiB to stderr" in result.stdout
    assert "hung: no answer within 500 ms" in result.stdout
    assert f"stuck:   at {target.mods / 'stuck.py'}:4 in wait" in result.stdout


# -- find mode ----------------------------------------------------------------------------------


def test_find_mode_against_a_real_venv_that_is_not_envdoctors(
    project: Project, arrow: Venv
) -> None:
    project.checks(imports_check(["arrow", "json", "typer", "yaml", "cv2", "arrow.parser"]))
    result, report = run_json(project, arrow.python, "-v")
    assert result.code == 1
    check = check_of(report)
    assert check["message"] == "3 of 6 modules not found: typer, yaml, cv2"
    f = findings(check)
    assert f["arrow"]["status"] == "pass"
    assert f["arrow"]["message"].startswith(f"found at {arrow.root}")
    assert f["arrow.parser"]["status"] == "pass"
    assert f["json"]["status"] == "pass"
    # typer is where envdoctor runs, not in the target
    assert f["typer"]["message"] == "not found: no installed or known distribution provides it"
    assert f["typer"]["fix"] is None
    assert f["yaml"]["message"] == "not found (provided by PyYAML)"
    assert f["cv2"]["message"] == "not found (provided by opencv-python)"
    python = shlex.quote(str(arrow.python))
    # named by the table: one command; a bare name (typer) is never advised (typosquatting)
    assert check["fix"] == f"{python} -m pip install PyYAML opencv-python"


def test_import_mode_names_the_missing_dependency_of_a_real_package(
    project: Project, arrow: Venv
) -> None:
    project.checks(imports_check(["arrow"], 'mode = "import"'))
    result, report = run_json(project, arrow.python)
    assert result.code == 1
    f = findings(check_of(report))["arrow"]
    assert f["message"] == (
        "ModuleNotFoundError: No module named 'dateutil' "
        "(provided by python-dateutil, required by arrow)"
    )
    assert f["found"] == "arrow 1.3.0"
    assert f["fix"] == f"{shlex.quote(str(arrow.python))} -m pip install 'python-dateutil>=2.7.0'"


def test_find_mode_in_a_uv_project_suggests_uv_when_uv_is_on_path(
    project: Project, target: ModTarget, tmp_path: Path
) -> None:
    project.write("uv.lock", "version = 1\n")
    project.checks(imports_check(["yaml"]))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "uv").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "uv").chmod(0o755)
    args = ("check", "--format", "json", "--python", str(target.python), "-v")
    with_uv = project.run(*args, env={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"})
    python = shlex.quote(str(target.python))
    assert check_of(with_uv.json())["fix"] == f"uv pip install --python {python} PyYAML"
    without = check_of(project.run(*args, env={"PATH": str(tmp_path)}).json())
    assert without["fix"] == f"{python} -m pip install PyYAML"
    note = "uv.lock is present but uv is not on PATH: the fix uses the target's pip"
    assert note in without["evidence"]


def test_find_mode_explains_missing_standard_library_modules(
    project: Project, target: ModTarget
) -> None:
    project.checks(imports_check(["distutils", "imp", "winreg", "json.nothere"]))
    _, report = run_json(project, target.python)
    f = findings(check_of(report))
    assert f["distutils"]["message"] == (
        "not found: removed from the standard library in Python 3.12 (provided by setuptools)"
    )
    assert f["imp"]["message"] == "not found: removed from the standard library in Python 3.12"
    assert f["imp"]["fix"] is None
    windows_only = "not found: a standard-library module that exists on Windows only"
    assert f["winreg"]["message"] == windows_only
    assert f["json.nothere"]["message"] == "not found: json has no module 'nothere'"


def test_find_mode_describes_built_in_modules_and_namespace_packages(
    project: Project, target: ModTarget
) -> None:
    (target.mods / "nspkg" / "inner").mkdir(parents=True)
    (target.mods / "nspkg" / "inner" / "leaf.py").write_text("", encoding="utf-8")
    project.checks(imports_check(["sys", "nspkg", "nspkg.inner.leaf"]))
    result, report = run_json(project, target.python, "-v")
    assert result.code == 0
    f = findings(check_of(report))
    assert f["sys"]["message"] == "found (built-in)"
    assert f["nspkg"]["message"] == "found (namespace package)"
    leaf = target.mods / "nspkg" / "inner" / "leaf.py"
    assert f["nspkg.inner.leaf"]["message"] == f"found at {leaf}"


def test_find_mode_says_when_a_distribution_name_was_used(
    project: Project, target: ModTarget
) -> None:
    project.checks(imports_check(["beautifulsoup4"]))
    _, report = run_json(project, target.python)
    f = findings(check_of(report))["beautifulsoup4"]
    assert f["message"] == (
        "not found: 'beautifulsoup4' is a distribution name; its import name is 'bs4'"
    )


def test_find_mode_reports_a_broken_install(project: Project, target: ModTarget) -> None:
    target.dist("gonedist", "2.0", ["gonemod"], [])
    project.checks(imports_check(["gonemod"]))
    _, report = run_json(project, target.python)
    check = check_of(report)
    f = findings(check)["gonemod"]
    assert f["message"] == (
        "not found, although gonedist is installed and declares it (a broken install)"
    )
    python = shlex.quote(str(target.python))
    assert check["fix"] == f"{python} -m pip install gonedist --force-reinstall --no-deps"


# -- --safe -------------------------------------------------------------------------------------


def test_safe_skips_import_mode_but_not_find_mode(project: Project, target: ModTarget) -> None:
    marker = project.root / "ran"
    target.module("sideeffect", f"open({str(marker)!r}, 'w').close()\n")
    target.module("dyn.__init__", f"open({str(marker)!r}, 'w').close()\n")
    project.checks(
        imports_check(["sideeffect"], 'mode = "import"', check_id="real")
        + imports_check(["sideeffect", "yaml", "dyn.made"], check_id="found")
    )
    result, report = run_json(project, target.python, "--safe", "-v")
    assert result.code == 1
    real, found = check_of(report, "real"), check_of(report, "found")
    assert (real["status"], real["message"]) == ("skip", "not run under --safe")
    assert found["status"] == "fail"
    f = findings(found)
    assert f["sideeffect"]["status"] == "pass"
    assert f["yaml"]["message"] == "not found (provided by PyYAML)"
    assert f["dyn.made"]["status"] == "skip"
    assert f["dyn.made"]["message"] == "not verified under --safe: finding it means importing dyn"
    assert not marker.exists()


# -- options ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (
            'modules = ["foo-bar"]',
            "option 'modules': 'foo-bar' is not a module name (a dotted Python name, e.g. yaml "
            "or google.protobuf); did you mean 'foo_bar'?",
        ),
        (
            'modules = ["scikit-learn"]',
            "option 'modules': 'scikit-learn' is not a module name (a dotted Python name, e.g. "
            "yaml or google.protobuf): it is a distribution name, import it as 'sklearn'",
        ),
        ('modules = ["a..b"]', "option 'modules': 'a..b' is not a module name"),
        ("modules = []", "option 'modules': expected a non-empty list"),
        ('modules = ["x"]\nmode = "imprt"', "(did you mean 'import'?)"),
        ('modules = ["x"]\nmodule_timeout = 0', "option 'module_timeout': must be more than 0"),
        ("", "kind imports needs option 'modules'"),
    ],
)
def test_bad_options_are_configuration_errors(project: Project, body: str, error: str) -> None:
    project.checks(f'[[check]]\nid = "imp"\nkind = "imports"\n{body}\n')
    result = project.run("check")
    assert result.code == 2
    assert "checks/envdoctor.toml:" in result.stderr
    assert error in result.stderr


def test_a_single_module_may_be_a_string(project: Project, target: ModTarget) -> None:
    project.checks('[[check]]\nid = "imp"\nkind = "imports"\nmodules = "json"\n')
    result, report = run_json(project, target.python)
    assert (result.code, check_of(report)["message"]) == (0, "1 module found")


def spec_of(**options: Any) -> CheckSpec:
    values = {"mode": "find", "module_timeout": 5.0, **options}
    return CheckSpec("imp", "imports", Source("checks/envdoctor.toml", 1), options=values)


def test_import_mode_has_its_own_default_timeout_and_runs_code() -> None:
    assert KIND.default_timeout(spec_of(modules=["x"], mode="import")) == 60.0
    assert KIND.default_timeout(spec_of(modules=["x"])) is None
    assert KIND.runs_code(spec_of(modules=["x"], mode="import"))
    assert not KIND.runs_code(spec_of(modules=["x"]))


# -- actions for `envdoctor fix --apply` ----------------------------------------------------------


def run_kind(
    project: Path, python: Path, timeout: float = 30, **options: Any
) -> tuple[Outcome, list[str]]:
    session = Session(project=project, target=Target(python, "--python"), environ={})
    ctx = CheckContext(session, deadline=time.monotonic() + timeout, timeout=timeout)
    return asyncio.run(KIND.run(spec_of(**options), ctx)), ctx.evidence


def test_install_steps_are_actions_and_other_failures_are_not(
    tmp_path: Path, target: ModTarget
) -> None:
    target.module("needs_jwt", "import jwt\n")
    target.module("raises", "raise RuntimeError('no')\n")
    modules = ["needs_jwt", "yaml", "raises", "private_thing"]
    outcome, _ = run_kind(tmp_path, target.python, modules=modules, mode="import")
    assert outcome.status is Status.FAIL
    # a name nobody vouched for (private_thing) is never fetched by `fix --apply`
    assert outcome.actions == [[str(target.python), "-m", "pip", "install", "PyJWT", "PyYAML"]]
    # a bare import name is not advised at all, not even as text (dependency confusion)
    assert outcome.fix == shlex.join(outcome.actions[0])
    assert "private_thing" not in outcome.fix
    assert outcome.findings[-1].message == (
        "not found: no installed or known distribution provides it"
    )
    assert outcome.findings[-1].fix is None


def test_a_passing_check_has_no_actions_and_runs_in_process_for_envdoctors_own_python(
    tmp_path: Path,
) -> None:
    outcome, evidence = run_kind(tmp_path, Path(sys.executable), modules=["json", "typer"])
    assert (outcome.status, outcome.message, outcome.actions) == (
        Status.PASS,
        "2 modules found",
        [],
    )
    assert evidence[0].endswith("in-process (the target runs envdoctor)")
    assert not any("child interpreter" in line for line in evidence)


# -- advice for names nobody vouches for ------------------------------------------------------


def test_a_missing_dependency_with_an_unknown_name_gets_no_install_advice(
    tmp_path: Path, target: ModTarget
) -> None:
    target.module("app", "import internal_helpers\n")
    outcome, _ = run_kind(tmp_path, target.python, modules=["app"], mode="import")
    (finding,) = outcome.findings
    assert finding.message == (
        "ModuleNotFoundError: No module named 'internal_helpers' "
        "(no installed or known distribution provides it)"
    )
    assert (finding.fix, outcome.fix, outcome.actions) == (None, None, [])


def test_a_name_the_project_declares_is_installed_as_declared(
    tmp_path: Path, target: ModTarget
) -> None:
    """`requests` is in no table, but the project's own requirements.txt declares it: that
    declaration vouches for the name, so the fix installs it as declared."""
    (tmp_path / "requirements.txt").write_text("requests>=2.31\n", encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "app"\nversion = "1"\ndependencies = []\n'
        '[project.optional-dependencies]\ntest = ["six==1.16.0"]\n',
        encoding="utf-8",
    )
    outcome, _ = run_kind(tmp_path, target.python, modules=["requests", "six", "private_thing"])
    f = {finding.subject: finding for finding in outcome.findings}
    assert f["requests"].message == (
        "not found (provided by requests, declared in requirements.txt:1)"
    )
    assert f["six"].message == "not found (provided by six, declared in pyproject.toml:6)"
    assert f["private_thing"].fix is None
    assert outcome.actions == [
        [str(target.python), "-m", "pip", "install", "requests>=2.31", "six==1.16.0"]
    ]


def test_a_name_an_installed_distribution_requires_is_installed_as_required(
    tmp_path: Path, target: ModTarget
) -> None:
    """requests installed without idna: requests' own metadata vouches for idna."""
    info = target.site / "requests-2.31.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\n"
        "Requires-Dist: idna (<4,>=2.5)\nRequires-Dist: inhouse-extra ; extra == 'x'\n",
        encoding="utf-8",
    )
    outcome, _ = run_kind(tmp_path, target.python, modules=["idna", "inhouse_extra"])
    f = {finding.subject: finding for finding in outcome.findings}
    assert f["idna"].message == "not found (provided by idna, required by requests 2.31.0)"
    assert f["idna"].fix == shlex.join([str(target.python), "-m", "pip", "install", "idna<4,>=2.5"])
    assert f["inhouse_extra"].fix is None  # an extra's line vouches for nothing installed
    assert outcome.actions == [[str(target.python), "-m", "pip", "install", "idna<4,>=2.5"]]


def test_a_local_package_that_is_not_on_sys_path_is_named(
    tmp_path: Path, target: ModTarget
) -> None:
    (tmp_path / "mypkg").mkdir()
    (tmp_path / "mypkg" / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "src" / "otherpkg").mkdir(parents=True)
    outcome, _ = run_kind(tmp_path, target.python, modules=["mypkg", "otherpkg.core", "nope"])
    f = {finding.subject: finding for finding in outcome.findings}
    advice = "but not importable: install the project (pip install -e .) or put it on sys.path"
    assert f["mypkg"].message == (
        "not found: no installed or known distribution provides it; "
        f"found in the project at ./mypkg {advice}"
    )
    assert f["otherpkg.core"].message.endswith(f"found in the project at ./src/otherpkg {advice}")
    assert f["nope"].message == "not found: no installed or known distribution provides it"
    assert (outcome.fix, outcome.actions) == (None, [])


def test_a_module_added_to_the_standard_library_later_gets_a_version_aware_hint(
    tmp_path: Path,
) -> None:
    py310 = Path("/root/.pyenv/versions/3.10.13/bin/python3.10")
    outcome, _ = run_kind(tmp_path, py310, modules=["tomllib", "zoneinfo"])
    f = {finding.subject: finding for finding in outcome.findings}
    assert f["tomllib"].message == (
        "not found: in the standard library from Python 3.11 (the target is 3.10); "
        "on older Pythons use tomli"
    )
    assert f["tomllib"].fix is None
    assert outcome.message == "1 of 2 modules not found: tomllib"
    assert outcome.actions == []


# -- find mode: a hanging parent and honest counts ---------------------------------------------


def test_find_mode_reports_a_hanging_parent_as_hung_and_checks_the_rest(
    tmp_path: Path, target: ModTarget
) -> None:
    target.module("slowpkg.__init__", "import time\ntime.sleep(60)\n")
    target.module("fine", "")
    started = time.monotonic()
    outcome, evidence = run_kind(
        tmp_path, target.python, timeout=3, modules=["slowpkg.sub", "fine", "json", "gone"]
    )
    assert time.monotonic() - started < 3
    f = {finding.subject: finding for finding in outcome.findings}
    assert f["slowpkg.sub"].message == "hung: no answer within 1.5 s"
    assert f["gone"].message == "not found: no installed or known distribution provides it"
    assert outcome.message == "1 of 4 modules not found: gone; 1 hung: slowpkg.sub"
    note = "each module's deadline: 1.5 s (half the check's 3 s), so one that hangs leaves time"
    assert any(line.startswith(note) for line in evidence)


def test_when_the_deadline_runs_out_the_counts_say_so(tmp_path: Path, target: ModTarget) -> None:
    target.module("hang1.__init__", "import time\ntime.sleep(60)\n")
    target.module("hang2.__init__", "import time\ntime.sleep(60)\n")
    outcome, _ = run_kind(
        tmp_path,
        target.python,
        timeout=2,
        modules=["hang1.x", "hang2.x", "json", "gone1", "gone2"],
    )
    assert outcome.status is Status.FAIL
    # json is found on the target's path without the child; the missing ones need the child,
    # which the hangs kept busy until the deadline.
    assert outcome.message == (
        "1 of 5 modules hung: hang1.x; 1 unfinished: hang2.x; 2 not checked: gone1, gone2"
    )


# -- find mode without a child: the target's own path, searched from here ----------------------


def test_find_mode_needs_no_child_when_everything_is_on_the_path(
    tmp_path: Path, target: ModTarget
) -> None:
    target.module("app.__init__")
    target.module("app.models")
    outcome, evidence = run_kind(
        tmp_path, target.python, modules=["json", "_json", "app", "app.models", "sys"]
    )
    assert outcome.status is Status.PASS, outcome.message
    assert outcome.message == "5 modules found"
    assert any(
        e.startswith("found 5 module(s) on the target's sys.path from here") for e in evidence
    )
    assert not any("child interpreter" in e for e in evidence)


def test_what_only_the_target_can_find_still_goes_to_its_child(
    tmp_path: Path, target: ModTarget
) -> None:
    """A meta-path finder installed by a .pth file (how setuptools' editable installs work):
    invisible on the path, found by the target's child."""
    target.module(
        "_hook_finder",
        """
        import importlib.abc, importlib.util, sys
        class Finder(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name == "magicmod":
                    return importlib.util.spec_from_loader(name, loader=None, origin="magic")
                return None
        sys.meta_path.insert(0, Finder())
        """,
    )
    (target.site / "hook.pth").write_text("import _hook_finder\n")
    outcome, evidence = run_kind(tmp_path, target.python, modules=["json", "magicmod", "gone"])
    found = {f.subject: f.status for f in outcome.findings}
    assert found["magicmod"] is Status.PASS
    assert found["gone"] is Status.FAIL
    assert any("2 left for the target itself" in e for e in evidence)
    assert any("1 child interpreter(s)" in e for e in evidence)
