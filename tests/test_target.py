"""The target interpreter: chosen in DESIGN.md §4 order, inspected once, described truthfully."""

from __future__ import annotations

import asyncio
import os
import platform
import sys
from pathlib import Path

import pytest

from envdoctor.context import Session
from envdoctor.target import (
    Target,
    TargetError,
    TargetInfo,
    parse_info,
    resolve_target,
    running_info,
)

OTHER_PYTHON = Path("/root/.pyenv/versions/3.12.1/bin/python3.12")
BIN = "Scripts" if os.name == "nt" else "bin"
EXE = "python.exe" if os.name == "nt" else "python"


def fake_venv(root: Path, version: str = "3.12.1", key: str = "version") -> Path:
    """A directory shaped like a venv whose python is a link to a real interpreter."""
    (root / BIN).mkdir(parents=True)
    python = root / BIN / EXE
    python.symlink_to(OTHER_PYTHON)
    (root / "pyvenv.cfg").write_text(
        f"home = {OTHER_PYTHON.parent}\ninclude-system-site-packages = false\n{key} = {version}\n",
        encoding="utf-8",
    )
    return python


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    return root


def test_other_interpreter_is_present() -> None:
    # The machine this suite is written for has it; the inspection tests below need it.
    assert OTHER_PYTHON.is_file()


# -- resolve_target order -----------------------------------------------------------------


def test_python_option_file(project_dir: Path) -> None:
    target = resolve_target(project_dir, str(OTHER_PYTHON), {"VIRTUAL_ENV": "/elsewhere"})
    assert target.executable == OTHER_PYTHON
    assert target.reason == "--python"


def test_python_option_directory(project_dir: Path, tmp_path: Path) -> None:
    python = fake_venv(tmp_path / "venv")
    target = resolve_target(project_dir, str(tmp_path / "venv"), {})
    assert target.executable == python
    assert target.reason == "--python"


def test_python_option_relative_path(
    project_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_venv(tmp_path / "venv")
    monkeypatch.chdir(tmp_path)
    target = resolve_target(project_dir, "venv", {})
    assert target.executable.is_absolute()
    assert target.executable == tmp_path / "venv" / BIN / EXE


def test_python_option_wins_over_everything(project_dir: Path, tmp_path: Path) -> None:
    fake_venv(project_dir / ".venv")
    fake_venv(tmp_path / "active")
    target = resolve_target(
        project_dir, str(OTHER_PYTHON), {"VIRTUAL_ENV": str(tmp_path / "active")}
    )
    assert target.reason == "--python"


@pytest.mark.parametrize("bad", ["/no/such/python", "/no/such/dir/"])
def test_bad_python_option(project_dir: Path, bad: str) -> None:
    with pytest.raises(TargetError, match=f"--python {bad}: no such interpreter"):
        resolve_target(project_dir, bad, {})


def test_python_option_directory_without_interpreter(project_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(TargetError, match="no such interpreter"):
        resolve_target(project_dir, str(tmp_path), {})


def test_python_option_not_executable(project_dir: Path, tmp_path: Path) -> None:
    script = tmp_path / "python"
    script.write_text("#!/bin/sh\n", encoding="utf-8")
    script.chmod(0o644)
    with pytest.raises(TargetError, match="not executable"):
        resolve_target(project_dir, str(script), {})


def test_virtual_env(project_dir: Path, tmp_path: Path) -> None:
    python = fake_venv(tmp_path / "active")
    fake_venv(project_dir / ".venv")
    target = resolve_target(project_dir, None, {"VIRTUAL_ENV": str(tmp_path / "active")})
    assert target.executable == python
    assert target.reason == "$VIRTUAL_ENV"


def test_a_stale_virtual_env_is_an_error_not_another_interpreter(
    project_dir: Path, tmp_path: Path
) -> None:
    fake_venv(project_dir / ".venv")
    with pytest.raises(
        TargetError, match=r"\$VIRTUAL_ENV is .*gone, but that directory does not exist"
    ):
        resolve_target(project_dir, None, {"VIRTUAL_ENV": str(tmp_path / "gone")})


def test_a_broken_dot_venv_is_an_error(project_dir: Path) -> None:
    (project_dir / ".venv" / "bin").mkdir(parents=True)
    (project_dir / ".venv" / "bin" / "python").symlink_to("/nonexistent/python3.9")
    with pytest.raises(TargetError, match=r"broken link to /nonexistent/python3\.9"):
        resolve_target(project_dir, None, {})


def test_dot_venv(project_dir: Path) -> None:
    python = fake_venv(project_dir / ".venv")
    target = resolve_target(project_dir, None, {})
    assert target.executable == python
    assert target.reason == ".venv"


def test_running_interpreter_last(project_dir: Path) -> None:
    target = resolve_target(project_dir, None, {"VIRTUAL_ENV": ""})
    assert target.executable == Path(sys.executable)
    assert target.reason == "running interpreter"
    assert target.is_running_interpreter


def test_is_running_interpreter() -> None:
    assert Target(Path(sys.executable), "x").is_running_interpreter
    assert not Target(OTHER_PYTHON, "x").is_running_interpreter
    assert not Target(Path("/no/such/python"), "x").is_running_interpreter


def test_same_binary_in_another_venv_is_not_the_running_one(tmp_path: Path) -> None:
    # Another venv built on the same base binary is a different environment.
    (tmp_path / "other" / BIN).mkdir(parents=True)
    link = tmp_path / "other" / BIN / EXE
    link.symlink_to(os.path.realpath(sys.executable))
    (tmp_path / "other" / "pyvenv.cfg").write_text("version = 3.0.0\n", encoding="utf-8")
    assert not Target(link, "x").is_running_interpreter


# -- cheap_version ------------------------------------------------------------------------


def test_cheap_version_of_the_running_interpreter() -> None:
    assert Target(Path(sys.executable), "x").cheap_version() == platform.python_version()


@pytest.mark.parametrize(
    ("key", "value", "version"),
    [
        ("version", "3.12.1", "3.12.1"),
        ("version_info", "3.12.1.final.0", "3.12.1"),
        ("version", "3.13", "3.13"),
    ],
)
def test_cheap_version_from_pyvenv_cfg(tmp_path: Path, key: str, value: str, version: str) -> None:
    python = fake_venv(tmp_path / "venv", value, key)
    assert Target(python, "x").cheap_version() == version


def test_cheap_version_without_pyvenv_cfg() -> None:
    assert Target(OTHER_PYTHON, "x").cheap_version() is None


def test_cheap_version_with_unreadable_cfg(tmp_path: Path) -> None:
    python = fake_venv(tmp_path / "venv")
    (tmp_path / "venv" / "pyvenv.cfg").unlink()
    (tmp_path / "venv" / "pyvenv.cfg").mkdir()
    assert Target(python, "x").cheap_version() is None


# -- inspection ---------------------------------------------------------------------------


def test_running_info() -> None:
    info = running_info()
    assert info.version == platform.python_version()
    assert info.version_info == tuple(sys.version_info[:3])
    assert info.implementation == platform.python_implementation()
    assert info.markers["sys_platform"] == sys.platform
    assert info.markers["python_version"] == f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert info.in_virtualenv == (sys.prefix != sys.base_prefix)


def test_session_inspects_another_interpreter(project_dir: Path) -> None:
    session = Session(project_dir, Target(OTHER_PYTHON, "--python"), {})

    async def twice() -> tuple[TargetInfo, TargetInfo]:
        return await asyncio.gather(session.target_info(), session.target_info())

    first, second = asyncio.run(twice())
    assert first is second  # inspected once per run
    assert first.version == "3.12.1"
    assert first.version_info == (3, 12, 1)
    assert first.implementation == "CPython"
    assert first.markers["python_version"] == "3.12"
    assert not first.in_virtualenv
    assert session.target_info_result is first


def test_session_inspects_a_venv_of_another_interpreter(project_dir: Path) -> None:
    python = fake_venv(project_dir / ".venv")
    session = Session(project_dir, resolve_target(project_dir, None, {}), {})
    info = asyncio.run(session.target_info())
    assert info.version == "3.12.1"
    assert info.in_virtualenv
    assert Path(info.prefix) == project_dir / ".venv"
    assert python.exists()


def test_session_with_the_running_interpreter(project_dir: Path) -> None:
    session = Session(project_dir, Target(Path(sys.executable), "running interpreter"), {})
    assert asyncio.run(session.target_info()).version == platform.python_version()


def test_not_a_python(project_dir: Path, tmp_path: Path) -> None:
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 'I am not python' >&2\nexit 3\n", encoding="utf-8")
    fake.chmod(0o755)
    session = Session(project_dir, resolve_target(project_dir, str(fake), {}), {})
    with pytest.raises(
        TargetError, match=r"is not a working Python interpreter \(exit 3: I am not python\)"
    ):
        asyncio.run(session.target_info())


def test_interpreter_printing_garbage(project_dir: Path, tmp_path: Path) -> None:
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho hello\n", encoding="utf-8")
    fake.chmod(0o755)
    session = Session(project_dir, resolve_target(project_dir, str(fake), {}), {})
    with pytest.raises(TargetError, match="not a Python interpreter"):
        asyncio.run(session.target_info())


@pytest.mark.parametrize("output", ["", "not json", "[]", '{"executable": "x"}', "{}\n", "null"])
def test_parse_info_rejects_foreign_output(output: str) -> None:
    with pytest.raises(TargetError):
        parse_info(output)


def test_parse_info_reads_the_last_line() -> None:
    import json

    data = {
        "executable": "/x/python",
        "version": "3.9.18",
        "version_info": [3, 9, 18],
        "implementation": "CPython",
        "prefix": "/x",
        "base_prefix": "/y",
        "markers": {"python_version": "3.9"},
    }
    info = parse_info("sitecustomize says hi\n" + json.dumps(data) + "\n")
    assert info.version_info == (3, 9, 18)
    assert info.in_virtualenv
    assert info.markers == {"python_version": "3.9"}
