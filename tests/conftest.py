"""Shared test helpers: temp projects and the installed `envdoctor` console script.

End-to-end tests run the console script as a subprocess, exactly as users do, so they catch
what in-process tests cannot: entry points, start-up imports, exit codes, stdout vs stderr.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# Real servers (and faithful fakes) for the service kinds: session fixtures, one module each.
pytest_plugins = [
    "tests.servers.postgres",
    "tests.servers.redis",
    "tests.servers.memcached",
    "tests.servers.mariadb",
    "tests.servers.rabbitmq",
    "tests.servers.smtp",
    "tests.servers.mongo_fake",
    "tests.servers.kafka_fake",
    "tests.servers.hostile",
]

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


# -- pip-less targets with modules the test writes ----------------------------------------

PY312 = Path("/root/.pyenv/versions/3.12.1/bin/python3.12")


@dataclass
class ModTarget:
    """A real venv of pyenv's 3.12 (no pip: ~0.1 s) whose `.pth` file puts `mods` on the path:
    the child runs with `-I`, which ignores PYTHONPATH, so a `.pth` file is how a module the
    test writes gets onto the target's path."""

    python: Path
    site: Path
    mods: Path

    def module(self, name: str, code: str = "") -> None:
        path = self.mods / (name.replace(".", "/") + ".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(code).lstrip("\n"), encoding="utf-8")

    def dist(
        self,
        name: str,
        version: str,
        top_level: list[str],
        requires: list[str],
        *,
        record: bool = False,
    ) -> None:
        """An installed distribution's metadata, as pip writes it (`record`: an empty RECORD)."""
        info = self.site / f"{name}-{version}.dist-info"
        info.mkdir()
        lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
        lines += [f"Requires-Dist: {r}" for r in requires]
        (info / "METADATA").write_text("\n".join(lines) + "\n", encoding="utf-8")
        (info / "top_level.txt").write_text("\n".join(top_level) + "\n", encoding="utf-8")
        if record:
            (info / "RECORD").write_text("", encoding="utf-8")


def build_mod_target(tmp_path: Path) -> ModTarget:
    """A fresh ModTarget under `tmp_path` (venv/ and mods/)."""
    if not PY312.is_file():
        pytest.fail(f"{PY312} is missing: these tests need pyenv's 3.12.1")
    root = tmp_path / "venv"
    subprocess.run([str(PY312), "-m", "venv", "--without-pip", str(root)], check=True, timeout=60)
    site = next(root.glob("lib/python3.*/site-packages"))
    mods = tmp_path / "mods"
    mods.mkdir()
    (site / "testmods.pth").write_text(f"{mods}\n", encoding="utf-8")
    return ModTarget(root / "bin" / "python", site, mods)


# -- real sockets -------------------------------------------------------------------------


def closed_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on: bound, then released."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@contextmanager
def full_backlog(host: str = "127.0.0.1", port: int = 0) -> Iterator[int]:
    """listen(0) with the accept queue filled by never-accepted connections: the kernel drops
    new SYNs, so a connect hangs."""
    server = socket.socket()
    fillers: list[socket.socket] = []
    try:
        server.bind((host, port))
        server.listen(0)
        port = int(server.getsockname()[1])
        for _ in range(20):
            probe = socket.socket()
            probe.settimeout(0.1)
            try:
                probe.connect((host, port))
            except TimeoutError:
                probe.close()
                break
            fillers.append(probe)  # it got in: it now fills the queue too
        else:
            pytest.fail("could not fill the listen backlog")
        yield port
    finally:
        for sock in fillers:
            sock.close()
        server.close()
