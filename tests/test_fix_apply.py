"""`envdoctor fix --apply` end to end: it really repairs a broken venv, and never runs unasked.

The unit tests of envdoctor.fixes show which steps would run; only a real venv shows that the
step is the right one: the right interpreter, specs pip accepts, a re-check that sees the
installs (the inspection cache must not hide them), and the exit code a CI job relies on. The
venv is one envdoctor is not installed in, named with `--python`, as users run it.
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest
from tests.conftest import Project, Venv, build_venv, run_cli

# What requests 2.31.0 declares (Requires-Dist), as pip must receive it.
REQUESTS_DEPS = {
    "charset-normalizer<4,>=2",
    "idna<4,>=2.5",
    "urllib3<3,>=1.21.1",
    "certifi>=2017.4.17",
}


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """requests installed --no-deps (its four dependencies missing), pip present, no six.

    Module scoped, so one build serves both tests: the apply test repairs only what the
    other test's assertions do not depend on (iniconfig is never installed by either)."""
    root = tmp_path_factory.mktemp("fix-apply") / "venv"
    return build_venv(root, [], no_deps=["requests==2.31.0"])


def requirements_project(project: Project, *lines: str) -> None:
    project.write("requirements.txt", "\n".join(lines) + "\n")
    project.checks(
        """
        [[check]]
        id = "pkgs"
        kind = "packages"
        requirements = "requirements.txt"
        """
    )


def install_line(script: str, python: Path) -> list[str]:
    """The words of the one script line that installs into the target."""
    lines = [line for line in script.splitlines() if line.startswith(f"{python} -m pip install")]
    assert len(lines) == 1, script
    return shlex.split(lines[0])


def imports_in(venv: Venv, *modules: str) -> bool:
    code = "import " + ", ".join(modules)
    return subprocess.run([str(venv.python), "-c", code], capture_output=True).returncode == 0


def test_apply_without_yes_and_without_a_terminal_runs_nothing(
    project: Project, broken: Venv
) -> None:
    requirements_project(project, "requests==2.31.0", "iniconfig==2.0.0")
    python = str(broken.python)

    result = project.run("fix", "--apply", "--python", python)  # stdin is /dev/null

    assert result.code == 1, result.stderr
    assert "not applied" in result.stderr and "--yes" in result.stderr
    assert "-m pip install" in result.stderr  # it says what it would have run...
    assert f"$ {python}" not in result.stderr  # ...and did not run it
    assert "Ready" not in result.stdout
    assert not imports_in(broken, "iniconfig")
    assert project.run("check", "--python", python).code == 1


def test_apply_yes_repairs_the_venv_and_the_recheck_says_ready(
    project: Project, broken: Venv
) -> None:
    requirements_project(project, "requests==2.31.0", "six==1.16.0")
    python = str(broken.python)

    before = project.run("check", "--python", python)  # also fills the inspection cache
    assert before.code == 1, before.stdout + before.stderr
    assert "six" in before.stdout and "not installed" in before.stdout
    assert "requirements.txt:2" in before.stdout
    lines = before.stdout.splitlines()
    for dependency in ("idna", "urllib3", "certifi", "charset-normalizer"):
        assert any(
            line.split()[:1] == [dependency] and "needed by requests 2.31.0" in line
            for line in lines
        ), before.stdout

    script = project.run("fix", "--python", python)
    assert script.code == 0, script.stderr
    words = install_line(script.stdout, broken.python)
    assert words[:4] == [python, "-m", "pip", "install"]
    assert set(words[4:]) == {"six==1.16.0", *REQUESTS_DEPS}
    assert not imports_in(broken, "six")  # printing the script runs nothing

    applied = project.run("fix", "--apply", "--yes", "--python", python, timeout=600)
    assert applied.code == 0, applied.stdout + applied.stderr
    assert f"$ {shlex.join(words)}" in applied.stderr
    summary = [line for line in applied.stdout.splitlines() if line.startswith("Ready")]
    assert summary, applied.stdout
    assert imports_in(broken, "requests", "six", "idna", "urllib3", "certifi", "charset_normalizer")

    after = project.run("check", "--python", python)  # the cache from `before` must not hide it
    assert after.code == 0, after.stdout + after.stderr
    assert "2 requirements met; environment consistent" in after.stdout


def tiny_wheel(directory: Path, name: str = "tinypkg", version: str = "1.0") -> Path:
    """A real, minimal wheel (one module), made by hand: no build backend, no index."""
    import base64
    import hashlib
    import zipfile

    directory.mkdir(parents=True, exist_ok=True)
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}.py": "VALUE = 1\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{info}/RECORD,,")
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
        archive.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return wheel


def test_apply_from_another_directory_installs_a_file_with_relative_paths(
    project: Project, broken: Venv, tmp_path: Path
) -> None:
    """A requirements file that sets an index is installed whole (`pip install -r`), and pip
    resolves its relative paths from the working directory: the script and --apply both run
    from the project, wherever envdoctor was started."""
    tiny_wheel(project.root / "wheels")
    project.write(
        "reqs/dev.txt",
        "--extra-index-url file:///nonexistent-envdoctor-index/simple\n"
        "./wheels/tinypkg-1.0-py3-none-any.whl\n",
    )
    project.checks(
        """
        [[check]]
        id = "pkgs"
        kind = "packages"
        requirements = "reqs/dev.txt"
        consistent = false
        """
    )
    python = str(broken.python)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    args = ("--project", str(project.root), "--python", python)

    script = run_cli("fix", *args, cwd=elsewhere)
    assert script.code == 0, script.stderr
    assert f"cd {shlex.quote(str(project.root))} || exit 1" in script.stdout.splitlines()
    assert "-r" in install_line(script.stdout, broken.python)

    applied = run_cli("fix", "--apply", "--yes", *args, cwd=elsewhere, timeout=600)
    assert applied.code == 0, applied.stdout + applied.stderr
    assert imports_in(broken, "tinypkg")
