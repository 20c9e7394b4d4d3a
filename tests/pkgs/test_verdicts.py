"""A passing `packages` check is remembered until anything it read changes (pkgs/verdicts.py).

Real venvs and real files; each run is a fresh Session, as separate `envdoctor check` runs are.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import Venv, build_venv

from envdoctor.context import CheckContext, Session
from envdoctor.errors import Source
from envdoctor.kinds.packages import KIND
from envdoctor.model import CheckSpec, Outcome, Status
from envdoctor.target import Target

HIT = "verdict cache: hit (nothing it read has changed since it passed)"


@pytest.fixture
def venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """Its own venv: the tests install into it."""
    return build_venv(tmp_path_factory.mktemp("verdicts") / "venv", ["six==1.16.0"])


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "envdoctor" / "verdicts"


def run(
    project: Path, python: Path, *, use_cache: bool = True, verbose: bool = False, **options: Any
) -> tuple[Outcome, list[str]]:
    session = Session(project=project, target=Target(python, "--python"), environ={})
    session.use_cache, session.verbose = use_cache, verbose
    ctx = CheckContext(session, deadline=time.monotonic() + 60, timeout=60)
    spec = CheckSpec("pkgs", "packages", Source("checks/a.toml", 1), options=options)
    return asyncio.run(KIND.run(spec, ctx)), ctx.evidence


def write_old(path: Path, text: str) -> None:
    """Written, then dated 10 s back: a file changed "just now" is never remembered."""
    path.write_text(text)
    old = time.time() - 10
    os.utime(path, (old, old))


def project_with(tmp_path: Path, text: str) -> Path:
    project = tmp_path / "proj"
    project.mkdir(exist_ok=True)
    write_old(project / "requirements.txt", text)
    return project


def test_second_run_is_a_hit_with_the_same_answer(tmp_path: Path, venv: Venv, cache: Path) -> None:
    project = project_with(tmp_path, "six==1.16.0\n")
    first, evidence = run(project, venv.python, requirements=["requirements.txt"])
    assert first.status is Status.PASS and HIT not in evidence
    assert len(list(cache.glob("*.json"))) == 1
    second, evidence = run(project, venv.python, requirements=["requirements.txt"])
    assert HIT in evidence
    assert (second.status, second.message) == (first.status, first.message)


def test_a_changed_requirements_file_is_a_miss(tmp_path: Path, venv: Venv, cache: Path) -> None:
    project = project_with(tmp_path, "six==1.16.0\n")
    run(project, venv.python, requirements=["requirements.txt"])
    write_old(project / "requirements.txt", "six==1.16.0\nattrs\n")
    outcome, evidence = run(project, venv.python, requirements=["requirements.txt"])
    assert "verdict cache: miss (a requirements file changed)" in evidence
    assert outcome.status is Status.FAIL  # attrs is not installed: the real answer


def test_an_included_file_counts_too(tmp_path: Path, venv: Venv, cache: Path) -> None:
    project = project_with(tmp_path, "-r base.txt\n")
    write_old(project / "base.txt", "six\n")
    run(project, venv.python, requirements=["requirements.txt"])
    write_old(project / "base.txt", "six>=99\n")
    outcome, evidence = run(project, venv.python, requirements=["requirements.txt"])
    assert outcome.status is Status.FAIL and HIT not in evidence


def test_an_install_into_the_target_is_a_miss(tmp_path: Path, venv: Venv, cache: Path) -> None:
    project = project_with(tmp_path, "six==1.16.0\n")
    run(project, venv.python, requirements=["requirements.txt"])
    venv.pip("uninstall", "-y", "six")
    outcome, evidence = run(project, venv.python, requirements=["requirements.txt"])
    assert "verdict cache: miss (the environment changed)" in evidence
    assert outcome.status is Status.FAIL


def test_a_variable_the_file_names_is_part_of_the_key(
    tmp_path: Path, venv: Venv, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIX_SPEC", "==1.16.0")
    project = project_with(tmp_path, "six${SIX_SPEC}\n")
    assert run(project, venv.python, requirements=["requirements.txt"])[0].status is Status.PASS
    monkeypatch.setenv("SIX_SPEC", ">=99")
    outcome, evidence = run(project, venv.python, requirements=["requirements.txt"])
    assert "verdict cache: miss (a variable the requirements name changed)" in evidence
    assert outcome.status is Status.FAIL
    for entry in cache.glob("*.json"):
        text = entry.read_text()
        assert ">=99" not in text and "==1.16.0" not in text  # values: only their hash


def test_other_options_are_another_entry(tmp_path: Path, venv: Venv, cache: Path) -> None:
    project = project_with(tmp_path, "six\n")
    run(project, venv.python, requirements=["requirements.txt"])
    _, evidence = run(project, venv.python, requirements=["requirements.txt"], consistent=False)
    assert HIT not in evidence


def test_failures_verbose_runs_and_no_cache_are_not_remembered(
    tmp_path: Path, venv: Venv, cache: Path
) -> None:
    project = project_with(tmp_path, "attrs\n")
    run(project, venv.python, requirements=["requirements.txt"])
    assert not list(cache.glob("*.json"))  # a failure is not kept
    write_old(project / "requirements.txt", "six\n")
    run(project, venv.python, verbose=True, requirements=["requirements.txt"])
    run(project, venv.python, use_cache=False, requirements=["requirements.txt"])
    assert not list(cache.glob("*.json"))
    run(project, venv.python, requirements=["requirements.txt"])
    _, evidence = run(project, venv.python, use_cache=False, requirements=["requirements.txt"])
    assert HIT not in evidence and not any("verdict cache" in e for e in evidence)


def test_a_file_changed_just_now_is_not_remembered(tmp_path: Path, venv: Venv, cache: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "requirements.txt").write_text("six\n")
    _, evidence = run(project, venv.python, requirements=["requirements.txt"])
    assert "verdict cache: not written (a requirements file changed just now)" in evidence


def test_a_corrupt_entry_is_a_miss(tmp_path: Path, venv: Venv, cache: Path) -> None:
    project = project_with(tmp_path, "six\n")
    run(project, venv.python, requirements=["requirements.txt"])
    (entry,) = cache.glob("*.json")
    entry.write_text("{not json")
    outcome, evidence = run(project, venv.python, requirements=["requirements.txt"])
    assert outcome.status is Status.PASS
    assert any(e.startswith("verdict cache: miss (cache entry corrupt") for e in evidence)
