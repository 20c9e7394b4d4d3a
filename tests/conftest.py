"""Shared test helpers: temp projects and the installed `envdoctor` console script.

End-to-end tests run the console script as a subprocess, exactly as users do, so they catch
what in-process tests cannot: entry points, start-up imports, exit codes, stdout vs stderr.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus"


def envdoctor_executable() -> str:
    """The console script installed next to the interpreter running the tests."""
    candidate = Path(sys.executable).parent / ("envdoctor.exe" if os.name == "nt" else "envdoctor")
    if candidate.exists():
        return str(candidate)
    found = shutil.which("envdoctor")
    if not found:
        pytest.fail("the envdoctor console script is not installed (run scripts/test)")
    return found


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


@dataclass
class Project:
    """A throwaway project directory with helpers to write files into it."""

    root: Path

    def write(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    def checks(self, text: str, name: str = "checks/envdoctor.toml") -> Path:
        return self.write(name, text)

    def run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 60) -> CliResult:
        return run_cli(*args, cwd=self.root, env=env, timeout=timeout)


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The caller's environment without what would change envdoctor's choices or colours."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIRTUAL_ENV", "NO_COLOR", "CI", "FORCE_COLOR")
    }
    env["NO_COLOR"] = "1"
    env.update(extra or {})
    return env


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> CliResult:
    proc = subprocess.run(
        [envdoctor_executable(), *args],
        cwd=cwd,
        env=clean_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Every envdoctor run of the test session caches under a temp dir, not ~/.cache."""
    previous = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))
    yield
    if previous is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = previous


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "project"
    root.mkdir()
    return Project(root)


def corpus_files(*patterns: str) -> list[Path]:
    """Every corpus file matching any glob pattern (the corpus must be present: it is shared/)."""
    if not CORPUS.is_dir():
        pytest.fail(f"the shared corpus is missing at {CORPUS}")
    found: set[Path] = set()
    for pattern in patterns:
        found.update(p for p in CORPUS.rglob(pattern) if p.is_file())
    return sorted(found)


# -- real virtual environments ------------------------------------------------------------


@dataclass
class Venv:
    root: Path

    @property
    def python(self) -> Path:
        return self.root / ("Scripts/python.exe" if os.name == "nt" else "bin/python")

    def pip(self, *args: str) -> None:
        subprocess.run(
            [str(self.python), "-m", "pip", "--disable-pip-version-check", "-q", *args],
            check=True,
            timeout=900,
            stdin=subprocess.DEVNULL,
        )


def build_venv(
    root: Path, packages: list[str], *, python: str | None = None, no_deps: list[str] = ()
) -> Venv:
    """A real venv with real packages at pinned versions (`no_deps`: installed without their
    dependencies, to break the environment on purpose)."""
    subprocess.run([python or sys.executable, "-m", "venv", str(root)], check=True, timeout=300)
    venv = Venv(root)
    if packages:
        venv.pip("install", *packages)
    if no_deps:
        venv.pip("install", "--no-deps", *no_deps)
    return venv


@pytest.fixture(scope="session")
def venv_factory(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """`venv_factory(name, packages, no_deps=(), python=None)`: built once per session and
    shared by every test that asks for the same name; tests must not modify it (make a fresh
    one with build_venv for that)."""
    cache: dict[str, Venv] = {}
    base = tmp_path_factory.mktemp("venvs")

    def make(
        name: str, packages: list[str], no_deps: list[str] = (), python: str | None = None
    ) -> Venv:
        if name not in cache:
            cache[name] = build_venv(
                base / name, list(packages), python=python, no_deps=list(no_deps)
            )
        return cache[name]

    return make
