"""The shared corpus of real-world project files, walked by every parser that may meet them.

Each file is fed to every reader a user could point at it (as a check module, a pyproject,
a dotenv file, a .python-version): the only acceptable failures are envdoctor's own errors,
never a traceback. Files of the kind a reader is for must parse cleanly.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import CORPUS, corpus_files
from envdoctor.config import load_config
from envdoctor.dotenv import parse_dotenv, read_dotenv
from envdoctor.errors import ConfigError, ConfigErrors, ProjectFileError
from envdoctor.kinds.python import _from_python_version, _project_requirement
from envdoctor.tomlfile import read_toml

ALL = corpus_files("*")
TOML = corpus_files("*.toml", "*.lock")
PYPROJECTS = corpus_files("pyproject.toml")
DOTENVS = corpus_files(".env*", "*.env", "environment")
PYTHON_VERSIONS = corpus_files(".python-version")


def rel(path: Path) -> str:
    return path.relative_to(CORPUS).as_posix()


def ids(paths: list[Path]) -> list[str]:
    return [rel(p) for p in paths]


def test_the_corpus_is_there() -> None:
    assert len(ALL) >= 100
    assert len(PYPROJECTS) >= 13
    assert len(DOTENVS) >= 10
    assert len(PYTHON_VERSIONS) >= 3


# -- every file through every reader ------------------------------------------------------


@pytest.mark.parametrize("path", ALL, ids=ids(ALL))
def test_every_file_as_toml(path: Path) -> None:
    try:
        doc = read_toml(rel(path), path.read_bytes())
    except ConfigError as exc:
        assert exc.source is not None
        assert exc.source.path == rel(path)
        assert exc.source.line is not None and exc.source.line >= 1
        assert "Traceback" not in str(exc)
    else:
        assert isinstance(doc.data, dict)


@pytest.mark.parametrize("path", ALL, ids=ids(ALL))
def test_every_file_as_a_config_module(path: Path, tmp_path: Path) -> None:
    try:
        config = load_config(tmp_path, [path], {})
    except ConfigErrors as exc:
        assert exc.errors
        for error in exc.errors:
            assert isinstance(error, ConfigError)
            assert error.source is not None
            assert "\n" not in error.message
    else:
        assert config.checks == []  # no corpus file declares envdoctor checks


@pytest.mark.parametrize("path", ALL, ids=ids(ALL))
def test_every_file_as_a_dotenv(path: Path) -> None:
    try:
        result = read_dotenv(path, rel(path))
    except ProjectFileError as exc:
        assert str(exc).startswith(rel(path))
        return
    text = path.read_text(encoding="utf-8", errors="replace")
    line_count = max(1, len(text.splitlines()))
    assert all(1 <= line <= line_count for line in result.lines.values())
    assert all(1 <= line <= line_count for line, _ in result.problems)


@pytest.mark.parametrize("path", ALL, ids=ids(ALL))
def test_every_line_as_a_python_version(path: Path) -> None:
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines()[:200]:
        specifier = _from_python_version(line)
        assert specifier is None or specifier.startswith("==")


# -- TOML files ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", TOML, ids=ids(TOML))
def test_toml_files_parse(path: Path) -> None:
    doc = read_toml(rel(path), path.read_bytes())
    assert doc.data
    for table in doc.tables.values():
        assert table.line >= 1


@pytest.mark.parametrize("path", PYPROJECTS, ids=ids(PYPROJECTS))
def test_pyproject_as_a_config_module(path: Path, tmp_path: Path) -> None:
    config = load_config(tmp_path, [path], {})
    assert config.checks == []
    assert config.files == [str(path)]


# -- pyproject.toml as the project's own ----------------------------------------------------

REQUIRES_PYTHON = {
    "getsentry__self-hosted/pyproject.toml": (">=3.11", "pyproject.toml:6 requires-python"),
    "netbox-community__netbox/pyproject.toml": (">=3.12", "pyproject.toml:11 requires-python"),
    "pallets__flask/pyproject.toml": (">=3.10", "pyproject.toml:22 requires-python"),
    "psf__requests/pyproject.toml": (">=3.10", "pyproject.toml:17 requires-python"),
    "pytest-dev__pytest-testinfra/pyproject.toml": (">=3.9", "pyproject.toml:8 requires-python"),
    "saleor__saleor/pyproject.toml": (">=3.12,<3.13", "pyproject.toml:10 requires-python"),
    "fastapi__full-stack-fastapi-template/backend/pyproject.toml": (
        ">=3.14,<4.0",
        "pyproject.toml:5 requires-python",
    ),
    "langgenius__dify/api/pyproject.toml": ("~=3.12.0", "pyproject.toml:4 requires-python"),
}


def as_project(path: Path, root: Path) -> Path:
    root.mkdir()
    shutil.copyfile(path, root / "pyproject.toml")
    return root


@pytest.mark.parametrize("path", PYPROJECTS, ids=ids(PYPROJECTS))
def test_pyproject_requirement(path: Path, tmp_path: Path) -> None:
    project = as_project(path, tmp_path / "project")
    try:
        found = _project_requirement(project)
    except ProjectFileError as exc:  # allowed by the contract; none of the corpus should need it
        pytest.fail(f"{rel(path)}: {exc}")
    assert found == REQUIRES_PYTHON.get(rel(path), (None, ""))


@pytest.mark.parametrize("path", PYPROJECTS, ids=ids(PYPROJECTS))
def test_pyproject_as_the_projects_pyproject(path: Path, tmp_path: Path) -> None:
    project = as_project(path, tmp_path / "project")
    config = load_config(project, None, {})
    assert config.checks == []
    assert config.settings.timeout == 5.0


@pytest.mark.parametrize("path", ALL, ids=ids(ALL))
def test_every_file_as_a_pyproject(path: Path, tmp_path: Path) -> None:
    project = as_project(path, tmp_path / "project")
    try:
        _project_requirement(project)
    except ProjectFileError as exc:
        assert str(exc).startswith("pyproject.toml")
    try:
        load_config(project, None, {})
    except ConfigErrors as exc:
        assert all(str(e).startswith("pyproject.toml") for e in exc.errors)


@pytest.mark.parametrize("path", ALL, ids=ids(ALL))
def test_every_file_as_a_python_version_file(path: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copyfile(path, project / ".python-version")
    try:
        specifier, origin = _project_requirement(project)
    except ProjectFileError as exc:
        assert str(exc).startswith(".python-version:")
    else:
        assert specifier is None or specifier.startswith("==")
        assert specifier is None or origin.startswith(".python-version:")


# -- dotenv files -------------------------------------------------------------------------


@pytest.mark.parametrize("path", DOTENVS, ids=ids(DOTENVS))
def test_dotenv_files_parse_cleanly(path: Path) -> None:
    result = read_dotenv(path, rel(path))
    assert result.values
    assert result.problems == []
    assert set(result.lines) == set(result.values)


def test_fastapi_dotenv_values() -> None:
    result = read_dotenv(CORPUS / "fastapi__full-stack-fastapi-template" / ".env")
    assert result.values["PROJECT_NAME"] == "Full Stack FastAPI Project"  # quotes removed
    assert result.values["FASTAPI_ENV"] == "development"
    assert result.lines["FASTAPI_ENV"] == 2


def test_corpus_dotenv_drives_interpolation(tmp_path: Path) -> None:
    """A real .env as the `dotenv` setting: values nest, the environment wins, secrets hide."""
    project = tmp_path / "project"
    project.mkdir()
    shutil.copyfile(CORPUS / "fastapi__full-stack-fastapi-template" / ".env", project / ".env")
    (project / "pyproject.toml").write_text('[tool.envdoctor]\ndotenv = ".env"\n', encoding="utf-8")
    (project / "checks").mkdir()
    (project / "checks" / "db.toml").write_text(
        '[[check]]\nid = "db"\nkind = "file"\npath = "${DATABASE_URL}"\ntitle = "${SMTP_HOST}"\n',
        encoding="utf-8",
    )
    dotenv = read_dotenv(project / ".env")
    config = load_config(project, None, {"SMTP_HOST": "mail.internal"})
    db = config.checks[0]
    assert db.problem is None
    assert db.title == "mail.internal"
    password = dotenv.values["POSTGRES_PASSWORD"]
    assert db.options["path"] == f"postgresql://postgres:{password}@localhost:5432/app"
    assert password in config.secrets


# -- .python-version ----------------------------------------------------------------------


@pytest.mark.parametrize("path", PYTHON_VERSIONS, ids=ids(PYTHON_VERSIONS))
def test_python_version_files(path: Path, tmp_path: Path) -> None:
    entries = [
        line.split("#", 1)[0].strip()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.split("#", 1)[0].strip()
    ]
    assert entries
    for entry in entries:
        specifier = _from_python_version(entry)
        assert specifier is not None
        assert specifier in (f"=={entry}.*", f"=={entry}")
    project = tmp_path / "project"
    project.mkdir()
    shutil.copyfile(path, project / ".python-version")
    specifier, origin = _project_requirement(project)
    assert specifier == _from_python_version(entries[0])
    assert origin.startswith(".python-version:")


def test_parse_dotenv_on_every_file_never_raises() -> None:
    for path in ALL:
        parse_dotenv(path.read_text(encoding="utf-8", errors="replace"), rel(path))
