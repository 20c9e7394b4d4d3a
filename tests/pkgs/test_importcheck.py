"""The import-check driver against real child interpreters that misbehave on purpose.

Each test builds a real venv (pyenv's 3.12, without pip: ~0.1 s) whose site-packages holds a
`.pth` file pointing at a directory of modules the test writes: the child runs with `-I`,
which ignores PYTHONPATH, so a `.pth` file is how a module gets onto the target's path. Fake
but real-format `*.dist-info` directories give the target installed metadata to report.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.conftest import ModTarget, build_mod_target

from envdoctor.pkgs.importcheck import ImportRun, ModuleReport, check_modules
from envdoctor.target import TargetError


@dataclass
class Target(ModTarget):
    project: Path

    def check(self, modules: list[str], **kwargs: object) -> ImportRun:
        return run_check(str(self.python), modules, cwd=self.project, **kwargs)


def run_check(
    python: str,
    modules: list[str],
    *,
    cwd: Path,
    mode: str = "import",
    module_timeout: float = 5.0,
    timeout: float = 30.0,
    safe: bool = False,
    in_process: bool = False,
) -> ImportRun:
    async def go() -> ImportRun:
        return await check_modules(
            python,
            modules,
            mode=mode,
            module_timeout=module_timeout,
            deadline=time.monotonic() + timeout,
            cwd=cwd,
            safe=safe,
            in_process=in_process,
        )

    return asyncio.run(go())


@pytest.fixture
def target(tmp_path: Path) -> Target:
    base = build_mod_target(tmp_path)
    project = tmp_path / "project"
    project.mkdir()
    return Target(base.python, base.site, base.mods, project)


def by_name(run: ImportRun) -> dict[str, ModuleReport]:
    return {r.module: r for r in run.reports}


# -- import mode: the isolation cases ---------------------------------------------------------


def test_every_kind_of_misbehaviour_in_one_check_and_the_rest_still_checked(
    target: Target,
) -> None:
    target.module("good", "VALUE = 1\n")
    target.module("needsdep", "import yaml\n")
    target.dist(
        "needsdep", "1.0", ["needsdep"], ["PyYAML>=5.1", "sphinx ; extra == 'doc'"], record=True
    )
    target.module("badval", "x = 1\nraise ValueError('bad config\\nsecond line')\n")
    target.module("sleeper", "import time\ntime.sleep(60)\n")
    target.module("exits", "import sys\nsys.exit(3)\n")
    target.module("hardexit", "import os\nos._exit(4)\n")
    target.module("aborts", "import os\nos.abort()\n")
    target.module("noisy", "import sys\nfor _ in range(100_000):\n    print('x' * 99)\n")
    target.module("after", "")
    modules = [
        "good", "needsdep", "badval", "sleeper", "exits", "hardexit", "aborts", "noisy", "after",
    ]  # fmt: skip
    started = time.monotonic()
    run = target.check(modules, module_timeout=1.0)
    took = time.monotonic() - started
    assert took < 5, took
    r = by_name(run)
    assert [x.module for x in run.reports] == modules
    assert r["good"].state == "ok"
    assert r["good"].origin == str(target.mods / "good.py")

    dep = r["needsdep"]
    assert (dep.state, dep.error_type, dep.missing) == ("error", "ModuleNotFoundError", "yaml")
    assert dep.message == "No module named 'yaml'"
    assert dep.dist == ("needsdep", "1.0")
    assert "PyYAML>=5.1" in dep.requires
    assert dep.where == f"{target.mods / 'needsdep.py'}:1"

    bad = r["badval"]
    assert (bad.state, bad.error_type, bad.message) == ("error", "ValueError", "bad config")
    assert bad.where == f"{target.mods / 'badval.py'}:2"

    sleeper = r["sleeper"]
    assert (sleeper.state, sleeper.seconds) == ("hung", 1.0)
    assert sleeper.stack[0] == f"{target.mods / 'sleeper.py'}:2 in <module>"

    assert (r["exits"].state, r["exits"].exit_code) == ("exit", 3)
    assert (r["hardexit"].state, r["hardexit"].exit_code) == ("exit", 4)
    aborts = r["aborts"]
    assert (aborts.state, aborts.signal) == ("crashed", "SIGABRT")
    assert aborts.stack[0] == f"{target.mods / 'aborts.py'}:2 in <module>"

    noisy = r["noisy"]
    assert noisy.state == "ok"
    assert noisy.stdout_bytes == 100_000 * 100
    assert r["after"].state == "ok"
    # sleeper, hardexit and aborts each cost the child; sys.exit is caught and costs nothing
    assert run.children == 4
    assert sum("starting a fresh child" in line for line in run.evidence) == 3
    assert run.version == (3, 12, 1)


def test_twenty_modules_use_exactly_one_child_interpreter(target: Target) -> None:
    names = [f"m{i:02d}" for i in range(20)]
    for name in names:
        target.module(name, f"import json\nNAME = {name!r}\n")
    run = target.check(names)
    assert [r.state for r in run.reports] == ["ok"] * 20
    assert run.children == 1
    assert run.evidence == ["1 child interpreter(s) for 20 module(s)"]


def test_sys_exit_is_reported_without_a_restart(target: Target) -> None:
    target.module("quits", "raise SystemExit('goodbye')\n")
    target.module("fine", "")
    run = target.check(["quits", "fine"])
    r = by_name(run)
    assert (r["quits"].state, r["quits"].exit_code) == ("exit", 1)
    assert r["quits"].where == f"{target.mods / 'quits.py'}:1"
    assert r["fine"].state == "ok"
    assert run.children == 1


def test_output_that_imitates_the_protocol_cannot_fool_it(target: Target) -> None:
    fake = '{"e": "done", "m": "liar", "state": "ok"}\\n{"e": "end"}\\n'
    target.module(
        "liar",
        f"""
        import os, sys
        os.write(1, b'{fake}')
        os.write(2, b'{fake}')
        print('{fake}')
        sys.__stdout__.write('{fake}')
        raise RuntimeError('still failing')
        """,
    )
    target.module("next_one", "")
    run = target.check(["liar", "next_one"])
    r = by_name(run)
    assert (r["liar"].state, r["liar"].error_type) == ("error", "RuntimeError")
    assert r["next_one"].state == "ok"
    assert r["liar"].stdout_bytes > 0


def test_a_segfault_is_a_crash_with_its_signal(target: Target) -> None:
    target.module("segv", "import ctypes\nctypes.string_at(0)\n")
    target.module("later", "")
    run = target.check(["segv", "later"])
    r = by_name(run)
    assert (r["segv"].state, r["segv"].signal) == ("crashed", "SIGSEGV")
    assert any("segv.py:2" in frame for frame in r["segv"].stack)
    assert r["later"].state == "ok"
    assert run.children == 2


def test_the_checks_own_deadline_stops_everything_and_says_what_was_left(target: Target) -> None:
    target.module("first", "")
    target.module("stuck", "while True:\n    pass\n")
    target.module("never", "")
    started = time.monotonic()
    run = target.check(["first", "stuck", "never"], module_timeout=30.0, timeout=1.0)
    assert time.monotonic() - started < 2.5
    r = by_name(run)
    assert r["first"].state == "ok"
    assert r["stuck"].state == "late"
    assert r["never"].state == "unchecked"


def test_a_module_that_is_missing_itself(target: Target) -> None:
    run = target.check(["nowhere_to_be_found", "json.nothere"])
    r = by_name(run)
    assert (r["nowhere_to_be_found"].state, r["nowhere_to_be_found"].missing) == (
        "missing",
        "nowhere_to_be_found",
    )
    assert r["nowhere_to_be_found"].where is None
    assert (r["json.nothere"].state, r["json.nothere"].missing) == ("missing", "json.nothere")


def test_installed_metadata_that_claims_a_missing_module_is_reported(target: Target) -> None:
    target.dist("brokendist", "2.0", ["brokenmod"], [], record=True)
    run = target.check(["brokenmod"])
    assert by_name(run)["brokenmod"].claims == ("brokendist",)


def test_a_standard_library_module_for_another_platform(target: Target) -> None:
    run = target.check(["winreg"])
    report = by_name(run)["winreg"]
    assert (report.state, report.stdlib) == ("missing", True)


def test_duplicates_are_checked_once_in_order(target: Target) -> None:
    target.module("a1", "")
    run = target.check(["a1", "json", "a1"])
    assert [r.module for r in run.reports] == ["a1", "json"]


def test_a_target_that_is_not_python_is_a_target_error(tmp_path: Path) -> None:
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 'not python' >&2\nexit 9\n", encoding="utf-8")
    fake.chmod(0o755)
    with pytest.raises(TargetError, match=r"could not run the import check \(exit 9: not python\)"):
        run_check(str(fake), ["json"], cwd=tmp_path)


def test_a_target_that_does_not_exist_is_a_target_error(tmp_path: Path) -> None:
    with pytest.raises(TargetError, match="cannot run"):
        run_check(str(tmp_path / "missing-python"), ["json"], cwd=tmp_path)


def test_the_child_runs_in_the_project_directory(target: Target) -> None:
    target.module("needs_cwd", "open('settings.ini').read()\n")
    (target.project / "settings.ini").write_text("[x]\n", encoding="utf-8")
    assert by_name(target.check(["needs_cwd"]))["needs_cwd"].state == "ok"


# -- find mode ---------------------------------------------------------------------------------


def test_find_looks_in_the_target_not_in_envdoctors_interpreter(target: Target) -> None:
    target.module("here", "")
    run = target.check(["here", "json", "typer", "yaml"], mode="find")
    r = by_name(run)
    assert r["here"].state == "ok"
    assert r["json"].state == "ok"
    # typer is installed where envdoctor runs, not in the target
    assert (r["typer"].state, r["typer"].missing) == ("missing", "typer")
    assert r["yaml"].state == "missing"
    assert run.children == 1


def test_find_runs_no_module_code_even_for_dotted_names(target: Target, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    code = f"open({str(marker)!r}, 'w').close()\n"
    target.module("sidefx.__init__", code)
    target.module("sidefx.sub.__init__", code)
    target.module("sidefx.sub.leaf", code)
    run = target.check(["sidefx", "sidefx.sub.leaf", "sidefx.sub.absent"], mode="find")
    r = by_name(run)
    assert r["sidefx.sub.leaf"].state == "ok"
    assert r["sidefx.sub.leaf"].origin == str(target.mods / "sidefx" / "sub" / "leaf.py")
    assert r["sidefx"].state == "ok"
    # absent: the static search fails, so the parents are imported to be sure
    assert r["sidefx.sub.absent"].state == "missing"
    assert r["sidefx.sub.absent"].imported is None
    assert marker.exists()
    marker.unlink()
    target.check(["sidefx", "sidefx.sub.leaf"], mode="find")
    assert not marker.exists()


def test_find_falls_back_to_importing_a_parent_that_makes_its_submodules(target: Target) -> None:
    target.module(
        "dyn.__init__",
        """
        import sys, types
        sys.modules[__name__ + ".made"] = types.ModuleType(__name__ + ".made")
        """,
    )
    report = by_name(target.check(["dyn.made"], mode="find"))["dyn.made"]
    assert (report.state, report.imported) == ("ok", "dyn")


def test_find_under_safe_does_not_import_a_parent_and_says_so(target: Target) -> None:
    target.module("dyn.__init__", "raise RuntimeError('must not run')\n")
    target.module("plain", "")
    run = target.check(["dyn.made", "plain"], mode="find", safe=True)
    r = by_name(run)
    assert (r["dyn.made"].state, r["dyn.made"].parent) == ("unverified", "dyn")
    assert r["plain"].state == "ok"


def test_find_reports_a_parent_that_fails_when_imported(target: Target) -> None:
    target.module("brokenpkg.__init__", "import yaml\n")
    report = by_name(target.check(["brokenpkg.sub"], mode="find"))["brokenpkg.sub"]
    assert (report.state, report.error_type, report.missing) == (
        "error",
        "ModuleNotFoundError",
        "yaml",
    )


def test_find_in_process_needs_no_child_for_plain_names(tmp_path: Path) -> None:
    run = run_check(
        sys.executable,
        ["json", "typer", "os.path", "no_such_module_xyz"],
        cwd=tmp_path,
        mode="find",
        in_process=True,
    )
    r = by_name(run)
    assert (r["json"].state, r["typer"].state, r["os.path"].state) == ("ok", "ok", "ok")
    assert r["no_such_module_xyz"].state == "missing"
    assert run.children == 0
    assert r["os.path"].imported is None


def test_find_in_process_hands_what_needs_an_import_to_a_child(tmp_path: Path) -> None:
    # email is a package whose submodule `nothere` does not exist: only an import can be sure
    run = run_check(
        sys.executable, ["json", "email.nothere"], cwd=tmp_path, mode="find", in_process=True
    )
    r = by_name(run)
    assert r["json"].state == "ok"
    assert (r["email.nothere"].state, r["email.nothere"].missing) == ("missing", "email.nothere")
    assert run.children == 1
