"""Inspecting the target's environment: real venvs and real site directories, checked against
what the target's own importlib.metadata and pip say; the cache and the per-run memo.

One venv with real pip installs (pinned packages, a pre-release, an editable install of a
local hatchling project) comes from `venv_factory` and is never modified. Everything else uses
`--without-pip` venvs (well under a second each): pip is run into them from outside with
`pip --python`, and site directories with hand-made metadata (egg-info, egg-link, corrupt
files, duplicates) are added to the target's sys.path the way users add them, with a .pth
file that the real interpreter processes.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from envdoctor import cache
from envdoctor.context import CheckContext, Session
from envdoctor.pkgs.environment import (
    CACHE_KEEP,
    CACHE_SECTION,
    RACY_NS,
    Dist,
    Environment,
    cached_target_info,
    canonical,
    duplicates_in_place,
    forget_environment,
    import_names,
    inspect_environment,
    top_level_of,
)
from envdoctor.target import Target, TargetError

PY312 = "/root/.pyenv/versions/3.12.1/bin/python3.12"
PY310 = "/root/.pyenv/versions/3.10.13/bin/python3.10"
PY38 = "/root/.pyenv/versions/3.8.18/bin/python3.8"

BASIC = ["requests==2.31.0", "urllib3==2.0.0a4", "six==1.16.0"]

# What the target itself believes: importlib.metadata, first on sys.path wins.
TRUTH = r"""
import json, re, sys
import importlib.metadata as m
seen = {}
for d in m.distributions():
    name = d.metadata["Name"]
    if not name:
        continue
    key = re.sub(r"[-_.]+", "-", name).lower()
    if key not in seen:
        seen[key] = {"version": d.version, "requires": d.requires or []}
print(json.dumps(seen))
"""


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own cache directory: nothing lands in the real ~/.cache."""
    base = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(base))
    return base / "envdoctor"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    return root


# -- helpers ---------------------------------------------------------------------------------


def session_for(python: Path | str, project: Path, *, use_cache: bool = True) -> Session:
    return Session(project, Target(Path(python), "--python"), {}, use_cache=use_cache)


def inspect(
    python: Path | str | None = None,
    project: Path | None = None,
    *,
    session: Session | None = None,
    use_cache: bool = True,
    timeout: float = 60,
) -> tuple[Environment, CheckContext]:
    session = session or session_for(python, project, use_cache=use_cache)  # type: ignore[arg-type]
    ctx = CheckContext(session, deadline=time.monotonic() + timeout)
    return asyncio.run(inspect_environment(ctx)), ctx


def bare_venv(root: Path, python: str = sys.executable) -> Path:
    """A real venv without pip (fast): an interpreter whose site-packages we may fill."""
    subprocess.run([python, "-m", "venv", "--without-pip", str(root)], check=True, timeout=120)
    return root / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def purelib(python: Path | str) -> Path:
    out = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return Path(out.stdout.strip())


def truth(python: Path | str, cwd: Path) -> dict[str, Any]:
    """The target's own view (it inherits this process's environment, PYTHONPATH included)."""
    out = subprocess.run(
        [str(python), "-c", TRUTH],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        cwd=cwd,
    )
    return json.loads(out.stdout)


def pip_list(python: Path | str) -> dict[str, str]:
    out = subprocess.run(
        [str(python), "-m", "pip", "list", "--format", "json", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return {canonical(d["name"]): d["version"] for d in json.loads(out.stdout)}


def write_dist(
    site: Path,
    name: str,
    version: str,
    *,
    requires: tuple[str, ...] = (),
    extras: tuple[str, ...] = (),
    top_level: tuple[str, ...] | None = None,
    record: tuple[str, ...] | None = None,
) -> Path:
    """A dist-info directory as a wheel installer leaves it."""
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines += [f"Provides-Extra: {e}" for e in extras]
    lines += [f"Requires-Dist: {r}" for r in requires]
    (info / "METADATA").write_text("\n".join(lines) + "\n\nThe README.\n", encoding="utf-8")
    if top_level is not None:
        (info / "top_level.txt").write_text("".join(f"{t}\n" for t in top_level))
    if record is not None:
        (info / "RECORD").write_text("".join(f"{r},sha256=x,1\n" for r in record))
    return info


def settle(*dirs: Path) -> None:
    """Waits until the directories are older than the racy window, so a scan of them is
    cached (a directory modified within the window may change again unseen: not cached)."""
    deadline = time.time() + 5
    while time.time() < deadline:
        newest = max(os.stat(d).st_mtime_ns for d in dirs)
        if newest < time.time_ns() - 2 * RACY_NS:
            return
        time.sleep(0.05)


def pip_into(python: Path, *args: str) -> None:
    """Real pip, run into a venv that has none (`pip --python`): faster than ensurepip."""
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "-q", *args],
        check=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def versions(env: Environment) -> dict[str, str]:
    return {name: d.version for name, d in env.distributions.items()}


# -- real venvs: exactly what pip and importlib.metadata see --------------------------------


TINY_PYPROJECT = """
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "Tiny_Editable"
version = "0.3.0.dev1"
dependencies = ["six>=1.16"]

[project.optional-dependencies]
Fast_Path = ["attrs"]

[tool.hatch.build.targets.wheel]
packages = ["src/tiny_editable"]
"""


@pytest.fixture(scope="module")
def basic(venv_factory, tmp_path_factory):  # type: ignore[no-untyped-def]
    """Pinned packages (with their dependencies), a pre-release, and `pip install -e` of a
    tiny local project: one venv, built once."""
    source = tmp_path_factory.mktemp("editable") / "tiny"
    (source / "src" / "tiny_editable").mkdir(parents=True)
    (source / "src" / "tiny_editable" / "__init__.py").write_text("VALUE = 1\n")
    (source / "pyproject.toml").write_text(TINY_PYPROJECT)
    return venv_factory("environment-basic", [*BASIC, "-e", str(source)])


def test_a_venv_lists_exactly_its_distributions(basic, project: Path) -> None:  # type: ignore[no-untyped-def]
    env, ctx = inspect(basic.python, project)
    assert versions(env) == pip_list(basic.python)
    for name, version in (
        ("requests", "2.31.0"),
        ("six", "1.16.0"),
        ("tiny-editable", "0.3.0.dev1"),
        ("idna", None),
        ("certifi", None),
        ("charset-normalizer", None),
    ):
        assert name in env.distributions
        if version:
            assert env.distributions[name].version == version
    site = str(purelib(basic.python))
    assert env.site_dirs == [site]
    assert all(d.location == site for d in env.distributions.values())
    assert env.from_cache is False
    assert any("read from disk" in note for note in ctx.evidence)


def test_requires_dist_and_extras_match_importlib(basic, project: Path) -> None:  # type: ignore[no-untyped-def]
    env, _ = inspect(basic.python, project)
    expected = truth(basic.python, project)
    assert set(expected) == set(env.distributions)
    for name, seen in expected.items():
        dist = env.distributions[name]
        assert list(dist.requires) == seen["requires"], name
        assert dist.version == seen["version"], name
    requests = env.distributions["requests"]
    assert "urllib3 (<3,>=1.21.1)" in requests.requires  # raw, as the METADATA has it
    assert set(requests.provides_extras) == {"security", "socks", "use-chardet-on-py3"}
    assert requests.display_name == "requests"
    assert env.distributions["charset-normalizer"].display_name in (
        "charset-normalizer",
        "charset_normalizer",
    )


def test_pre_release_version_is_read_as_written(basic, project: Path) -> None:  # type: ignore[no-untyped-def]
    env, _ = inspect(basic.python, project)
    assert env.distributions["urllib3"].version == "2.0.0a4"


def test_markers_are_the_targets(basic, project: Path) -> None:  # type: ignore[no-untyped-def]
    env, _ = inspect(basic.python, project)
    assert env.info.executable == str(basic.python)
    assert env.info.markers["python_version"] == f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert env.info.in_virtualenv


@pytest.mark.parametrize(
    ("base", "version"), [(PY312, "3.12.1"), (PY310, "3.10.13"), (PY38, "3.8.18")]
)
def test_another_interpreter_is_inspected_through_a_child(
    tmp_path: Path, project: Path, base: str, version: str
) -> None:
    # 3.8 too: the child script must run on every Python a project may still use.
    python = bare_venv(tmp_path / "venv", base)
    site = purelib(python)
    write_dist(site, "oldtool", "1.0", requires=('tomli>=1; python_version < "3.11"',))
    env, _ = inspect(python, project)
    assert env.info.version == version
    assert env.info.markers["python_full_version"] == version
    assert env.info.markers["python_version"] == version.rsplit(".", 1)[0]
    assert env.info.markers["python_full_version"] != sys.version.split()[0]
    assert env.site_dirs == [str(site)]
    assert str(site).endswith(f"python{version.rsplit('.', 1)[0]}/site-packages")
    assert env.distributions["oldtool"].requires == ('tomli>=1; python_version < "3.11"',)
    assert {n: s["version"] for n, s in truth(python, project).items()} == versions(env)


def test_the_running_interpreter_is_inspected_in_process(project: Path) -> None:
    import importlib.metadata

    session = Session(project, Target(Path(sys.executable), "running interpreter"), {})
    assert session.target.is_running_interpreter
    env, _ = inspect(session=session)
    expected: dict[str, str] = {}
    for d in importlib.metadata.distributions():
        expected.setdefault(canonical(d.metadata["Name"]), d.version)
    assert versions(env) == expected
    assert env.distributions["envdoctor"].location in env.site_dirs
    assert env.info.executable == sys.executable


def test_a_target_that_is_not_python_is_a_clear_error(tmp_path: Path, project: Path) -> None:
    with pytest.raises(TargetError):
        inspect("/bin/true", project)


def test_a_hung_target_costs_the_checks_deadline_not_more(tmp_path: Path, project: Path) -> None:
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\nexec sleep 30\n")
    fake.chmod(0o755)
    started = time.monotonic()
    with pytest.raises(TargetError, match="deadline"):
        inspect(fake, project, timeout=0.5)
    assert time.monotonic() - started < 5


# -- hand-made site directories ----------------------------------------------------------------


def test_editable_install_is_found(basic, project: Path) -> None:  # type: ignore[no-untyped-def]
    env, _ = inspect(basic.python, project)
    dist = env.distributions["tiny-editable"]
    assert dist.display_name == "Tiny_Editable"
    assert dist.version == "0.3.0.dev1"  # a pre-release too
    assert dist.requires[0] == "six>=1.16"
    assert dist.provides_extras == ("fast-path",)
    assert dist.location == str(purelib(basic.python))


def test_egg_info_directories_and_files(tmp_path: Path, project: Path) -> None:
    python = bare_venv(tmp_path / "venv")
    eggs = tmp_path / "eggs"
    info = eggs / "Eggy-1.2-py3.11.egg-info"
    info.mkdir(parents=True)
    (info / "PKG-INFO").write_text(
        "Metadata-Version: 1.2\nName: Eggy\nVersion: 1.2\nProvides-Extra: fast\n\nbody\n"
    )
    (info / "requires.txt").write_text(
        'six>=1.0\nattrs\n\n[:python_version < "3"]\nfutures\n\n[fast]\nujson>=1\n\n'
        '[test:sys_platform == "linux"]\npytest>=7\n'
    )
    (info / "top_level.txt").write_text("eggy\n")
    (eggs / "plainegg-0.9-py3.11.egg-info").write_text(
        "Metadata-Version: 1.1\nName: plainegg\nVersion: 0.9\nSummary: a distutils-era egg\n"
    )
    site = purelib(python)
    (site / "eggs.pth").write_text(f"{eggs}\n")
    env, _ = inspect(python, project)
    eggy = env.distributions["eggy"]
    assert eggy.version == "1.2"
    assert eggy.top_level == ("eggy",)
    assert set(eggy.provides_extras) == {"fast", "test"}
    assert eggy.location == str(eggs)
    assert env.distributions["plainegg"].version == "0.9"
    assert env.distributions["plainegg"].requires == ()
    assert env.site_dirs == [str(eggs)]
    # The requirements read exactly as the target's importlib.metadata converts requires.txt.
    expected = truth(python, project)
    assert list(eggy.requires) == expected["eggy"]["requires"]
    assert set(expected) == set(env.distributions)


def test_old_style_egg_link(tmp_path: Path, project: Path) -> None:
    python = bare_venv(tmp_path / "venv")
    site = purelib(python)
    checkout = tmp_path / "checkout"
    info = checkout / "legacy_dev.egg-info"
    info.mkdir(parents=True)
    (info / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: legacy-dev\nVersion: 0.1.dev0\n")
    (info / "requires.txt").write_text("six\n")
    (site / "legacy-dev.egg-link").write_text(f"{checkout}\n.")
    env, _ = inspect(python, project)
    dist = env.distributions["legacy-dev"]
    assert (dist.version, dist.requires, dist.location) == ("0.1.dev0", ("six",), str(site))
    assert dist.path == str(info)
    # With the easy-install.pth line setuptools writes too: still one distribution, no shadow.
    (site / "easy-install.pth").write_text(f"{checkout}\n")
    forget = tmp_path / "other-project"
    forget.mkdir()
    env, ctx = inspect(python, forget)
    assert list(env.distributions) == ["legacy-dev"]
    assert env.shadowed == []
    assert not any("shadowed" in note for note in ctx.evidence)


def test_first_on_sys_path_wins(tmp_path: Path, project: Path) -> None:
    python = bare_venv(tmp_path / "venv")
    site = purelib(python)
    first, second = tmp_path / "first", tmp_path / "second"
    write_dist(first, "Dup.Name", "2.0")
    write_dist(second, "dup_name", "1.0")
    write_dist(second, "only-second", "3.0")
    pth = site / "dirs.pth"
    pth.write_text(f"{first}\n{second}\n")
    env, ctx = inspect(python, project, use_cache=False)
    assert versions(env) == {"dup-name": "2.0", "only-second": "3.0"}
    assert env.distributions["dup-name"].display_name == "Dup.Name"
    assert [(d.name, d.version, d.location) for d in env.shadowed] == [
        ("dup-name", "1.0", str(second))
    ]
    assert env.site_dirs == [str(first), str(second)]
    assert any("shadowed" in note and str(second) in note for note in ctx.evidence)
    assert {n: s["version"] for n, s in truth(python, project).items()} == versions(env)

    pth.write_text(f"{second}\n{first}\n")  # the other order: the other one wins
    env, _ = inspect(python, project, use_cache=False)
    assert env.distributions["dup-name"].version == "1.0"
    assert {n: s["version"] for n, s in truth(python, project).items()} == versions(env)


def test_two_metadata_directories_in_one_place_read_as_python_reads_them(
    tmp_path: Path, project: Path
) -> None:
    """A hand-made copy or a half-finished install leaves two `*.dist-info` of one name side
    by side: the version envdoctor reports is the one importlib (and pip) report, whatever
    their names sort to, and the other is known as stale."""
    python = bare_venv(tmp_path / "venv")
    site = purelib(python)
    write_dist(site, "six", "1.16.0")
    write_dist(site, "six", "1.10.0")  # sorts first by name
    env, ctx = inspect(python, project, use_cache=False)
    assert versions(env) == {n: s["version"] for n, s in truth(python, project).items()}
    used = env.distributions["six"]
    pairs = duplicates_in_place(env)
    assert [(a.version, b.version) for a, b in pairs] == [
        (used.version, ({"1.16.0", "1.10.0"} - {used.version}).pop())
    ]
    assert any("two metadata directories" in note for note in ctx.evidence)


def test_pythonpath_comes_first(tmp_path: Path, project: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    python = bare_venv(tmp_path / "venv")
    write_dist(purelib(python), "shared", "1.0")
    extra = tmp_path / "extra"
    write_dist(extra, "shared", "9.0")
    monkeypatch.setenv("PYTHONPATH", str(extra))
    env, _ = inspect(python, project)
    assert env.distributions["shared"].version == "9.0"
    assert env.site_dirs[0] == str(extra)
    assert truth(python, project)["shared"]["version"] == "9.0"


def test_user_site_only_when_the_target_would_use_it(
    tmp_path: Path, project: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    userbase = tmp_path / "userbase"
    user_site = userbase / "lib" / "python3.12" / "site-packages"
    write_dist(user_site, "user-probe", "1.0")
    monkeypatch.setenv("PYTHONUSERBASE", str(userbase))
    monkeypatch.delenv("PYTHONNOUSERSITE", raising=False)

    env, _ = inspect(PY312, project)  # a base interpreter: the user site is on
    assert env.distributions["user-probe"].location == str(user_site)
    assert "user-probe" in truth(PY312, project)
    assert env.site_dirs.index(str(user_site)) < len(env.site_dirs) - 1  # before site-packages

    monkeypatch.setenv("PYTHONNOUSERSITE", "1")
    env, _ = inspect(PY312, project)
    assert "user-probe" not in env.distributions
    monkeypatch.delenv("PYTHONNOUSERSITE")

    venv = bare_venv(tmp_path / "venv", PY312)  # a venv without system site: the user site is off
    env, _ = inspect(venv, project)
    assert "user-probe" not in env.distributions
    assert "user-probe" not in truth(venv, project)


def test_corrupt_metadata_is_skipped_with_a_note(tmp_path: Path, project: Path) -> None:
    python = bare_venv(tmp_path / "venv")
    site = purelib(python)
    garbage = site / "garbage-1.0.dist-info"
    garbage.mkdir()
    (garbage / "METADATA").write_bytes(bytes(range(256)) * 20)
    noise = site / "noise-1.0.dist-info"
    noise.mkdir()
    (noise / "METADATA").write_bytes(b"\xff\xfe\xfd this is not metadata at all \x80\x81\n" * 50)
    nameless = site / "nameless-1.0.dist-info"
    nameless.mkdir()
    (nameless / "METADATA").write_text("Metadata-Version: 2.1\nSummary: no name or version\n")
    only_version = site / "only_version-2.0.dist-info"
    only_version.mkdir()
    (only_version / "METADATA").write_text("Metadata-Version: 2.1\nVersion: 2.0\n")
    (site / "empty-1.0.dist-info").mkdir()
    (site / "afile-1.0.dist-info").write_text("Name: afile\nVersion: 1.0\n")
    bad_name = site / "bad-1.0.dist-info"
    bad_name.mkdir()
    (bad_name / "METADATA").write_text("Name: bad name!\nVersion: 1.0\n")
    latin = site / "latin-1.0.dist-info"
    latin.mkdir()
    (latin / "METADATA").write_bytes(b"Name: latin\nVersion: 1.0\nAuthor: Jos\xe9\n\n")
    crlf = site / "crlf-1.0.dist-info"
    crlf.mkdir()
    (crlf / "METADATA").write_bytes(
        b"Metadata-Version: 2.1\r\nName: crlf\r\nVersion: 1.0\r\nRequires-Dist: six\r\n"
        b"Classifier: A\r\n  folded continuation\r\n\r\nRequires-Dist: evil-from-the-body\r\n"
    )
    write_dist(site, "good", "1.0", requires=("six>=1",))

    env, ctx = inspect(python, project)
    assert versions(env) == {"only-version": "2.0", "latin": "1.0", "crlf": "1.0", "good": "1.0"}
    assert env.distributions["crlf"].requires == ("six",)
    assert env.distributions["good"].requires == ("six>=1",)
    skipped = [note for note in ctx.evidence if "skipped" in note]
    for name in ("garbage", "noise", "nameless", "empty", "afile", "bad"):
        assert any(f"{name}-1.0.dist-info" in note for note in skipped), name
    assert any("only_version" in note and "from the directory" in note for note in ctx.evidence)


def test_headers_only_even_with_a_huge_body(tmp_path: Path) -> None:
    from envdoctor.pkgs.environment import read_distribution

    site = tmp_path / "site"
    info = write_dist(site, "big", "1.0", requires=("a", "b"))
    with open(info / "METADATA", "a", encoding="utf-8") as f:
        f.write(("Requires-Dist: body-line\n" + "x" * 200 + "\n") * 20000)  # ~4.5 MB of body
    notes: list[str] = []
    dist = read_distribution(str(site), info.name, notes)
    assert dist is not None and dist.requires == ("a", "b") and notes == []


# -- import names (lazy) -----------------------------------------------------------------------


def test_top_level_from_top_level_txt_or_record(tmp_path: Path, project: Path) -> None:
    python = bare_venv(tmp_path / "venv")
    site = purelib(python)
    write_dist(site, "with-tl", "1.0", top_level=("withtl", "_withtl_c"))
    write_dist(
        site,
        "from-record",
        "1.0",
        record=(
            "from_record/__init__.py",
            "from_record/sub/x.py",
            "from_record-1.0.dist-info/METADATA",
            "single_module.py",
            "_speedups.cpython-311-x86_64-linux-gnu.so",
            "__pycache__/single_module.cpython-311.pyc",
            "../../bin/from-record",
            "from_record-1.0.data/scripts/x",
            "__editable___from_record_1_0_finder.py",
            "extras.pth",
        ),
    )
    env, _ = inspect(python, project)
    with_tl = env.distributions["with-tl"]
    assert with_tl.top_level == ("withtl", "_withtl_c") == top_level_of(with_tl)
    from_record = env.distributions["from-record"]
    assert from_record.top_level == ()  # RECORD is read only when asked
    assert top_level_of(from_record) == ("from_record", "single_module", "_speedups")
    names = import_names(env)
    assert names["from_record"] == ["from-record"] and names["withtl"] == ["with-tl"]
    assert import_names(env) is names


# -- the cache -------------------------------------------------------------------------------


def entry_for(python: Path, private_cache: Path) -> Path:
    path = os.path.join(os.path.realpath(os.path.dirname(os.path.abspath(python))), python.name)
    return cache.entry_path(CACHE_SECTION, path, base=private_cache)


def test_second_run_is_a_cache_hit(basic, project: Path, private_cache: Path) -> None:  # type: ignore[no-untyped-def]
    settle(purelib(basic.python))
    first, _ = inspect(basic.python, project)
    second, ctx = inspect(basic.python, project)
    assert (first.from_cache, second.from_cache) == (False, True)
    assert second.distributions == first.distributions
    assert second.site_dirs == first.site_dirs
    assert second.info == first.info
    assert any("from the cache" in note for note in ctx.evidence)
    assert entry_for(basic.python, private_cache).is_file()
    # The session can have the TargetInfo from the cache too, without a child.
    assert cached_target_info(session_for(basic.python, project)) == first.info
    assert cached_target_info(session_for(basic.python, project, use_cache=False)) is None


def test_pip_install_and_uninstall_invalidate_the_cache(tmp_path: Path, project: Path) -> None:
    python = bare_venv(tmp_path / "venv")
    site = purelib(python)
    write_dist(site, "already-there", "1.0")
    settle(site)
    inspect(python, project)
    assert inspect(python, project)[0].from_cache

    pip_into(python, "install", "iniconfig==2.0.0")
    env, ctx = inspect(python, project)
    assert not env.from_cache
    assert env.distributions["iniconfig"].version == "2.0.0"
    assert any("changed" in note for note in ctx.evidence)
    settle(site)
    assert inspect(python, project)[0].from_cache

    pip_into(python, "uninstall", "-y", "iniconfig")
    env, _ = inspect(python, project)
    assert not env.from_cache
    assert versions(env) == {"already-there": "1.0"}


# A cache hit reuses the target's sys.path without asking the target: everything that decides
# that sys.path is watched, or a hit would answer for a sys.path the target no longer has.


def cached_then(python: Path, project: Path, *paths: Path) -> Environment:
    """Inspects until the answer comes from the cache (after the paths settle): the state a
    user is in when they change something between two runs."""
    settle(*paths)
    inspect(python, project)
    env, _ = inspect(python, project)
    assert env.from_cache
    return env


def test_a_pth_file_added_after_caching_is_seen(tmp_path: Path, project: Path) -> None:
    """Trial (a): a .pth file pointing at a directory holding pluggy was not seen on a hit."""
    python = bare_venv(tmp_path / "venv")
    site = purelib(python)
    write_dist(site, "already-there", "1.0")
    extra = tmp_path / "extra"
    write_dist(extra, "pluggy", "1.4.0")
    assert "pluggy" not in cached_then(python, project, site, extra).distributions

    (site / "extra.pth").write_text(f"{extra}\n")
    assert cached_target_info(session_for(python, project)) is None  # its sys.path is stale
    env, ctx = inspect(python, project)
    assert not env.from_cache
    assert env.distributions["pluggy"].version == "1.4.0"
    assert env.distributions["pluggy"].location == str(extra)
    assert {n: s["version"] for n, s in truth(python, project).items()} == versions(env)
    assert any("sys.path or a site directory changed" in note for note in ctx.evidence)
    # The new state is cached in turn, and answers the same.
    assert versions(cached_then(python, project, site, extra)) == versions(env)


@pytest.mark.parametrize("initially", ["empty", "missing"])
def test_pip_install_target_into_a_directory_on_sys_path(
    tmp_path: Path, project: Path, initially: str
) -> None:
    """Trial (b): `pip install --target DIR` into a directory a .pth file names. An empty
    directory holds no distributions, and a missing one is not even on sys.path yet."""
    python = bare_venv(tmp_path / "venv")
    site = purelib(python)
    target = tmp_path / "target"
    if initially == "empty":
        target.mkdir()
    (site / "target.pth").write_text(f"{target}\n")
    before = cached_then(python, project, site, *([target] if target.exists() else []))
    assert before.distributions == {}

    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
         "--no-deps", "--target", str(target), "pluggy==1.4.0"],
        check=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    env, _ = inspect(python, project)
    assert not env.from_cache
    assert (
        versions(env)
        == {"pluggy": "1.4.0"}
        == {n: s["version"] for n, s in truth(python, project).items()}
    )
    assert env.site_dirs == [str(target)]
    assert versions(cached_then(python, project, site, target)) == {"pluggy": "1.4.0"}


def test_removing_the_pth_file_drops_its_directory(tmp_path: Path, project: Path) -> None:
    """Trial (c): after the .pth file is gone, its directory's distributions are not counted."""
    python = bare_venv(tmp_path / "venv")
    site = purelib(python)
    extra = tmp_path / "extra"
    write_dist(extra, "pluggy", "1.4.0")
    pth = site / "extra.pth"
    pth.write_text(f"{extra}\n")
    assert "pluggy" in cached_then(python, project, site, extra, pth).distributions

    pth.unlink()
    env, _ = inspect(python, project)
    assert not env.from_cache
    assert "pluggy" not in env.distributions
    assert "pluggy" not in truth(python, project)
    assert "pluggy" not in cached_then(python, project, site).distributions


def test_a_pth_file_rewritten_in_place_is_seen(tmp_path: Path, project: Path) -> None:
    """setuptools rewrites easy-install.pth in place: the site directory's mtime stays, only
    the file's changes."""
    python = bare_venv(tmp_path / "venv")
    site = purelib(python)
    one, two = tmp_path / "one", tmp_path / "two"
    write_dist(one, "first", "1.0")
    write_dist(two, "second", "2.0")
    pth = site / "easy-install.pth"
    pth.write_text(f"{one}\n")
    cached_then(python, project, site, one, two, pth)
    site_mtime = site.stat().st_mtime_ns

    with open(pth, "a") as f:  # in place: the same inode
        f.write(f"{two}\n")
    assert site.stat().st_mtime_ns == site_mtime
    env, _ = inspect(python, project)
    assert not env.from_cache
    assert versions(env) == {"first": "1.0", "second": "2.0"}
    assert {n: s["version"] for n, s in truth(python, project).items()} == versions(env)


def test_setup_py_develop_install_bump_and_uninstall(tmp_path: Path, project: Path) -> None:
    """Trial (d): `setup.py develop` writes an egg-link, adds the checkout to easy-install.pth
    (rewritten in place) and keeps the egg-info in the checkout, where `egg_info` rewrites
    PKG-INFO in place on a version bump; `develop -u` removes the link and the line."""
    python = bare_venv(tmp_path / "venv")
    site = purelib(python)
    checkout = tmp_path / "checkout"
    info = checkout / "legacy_dev.egg-info"
    info.mkdir(parents=True)
    pkg_info = info / "PKG-INFO"
    pkg_info.write_text("Metadata-Version: 2.1\nName: legacy-dev\nVersion: 0.1\n")
    pth = site / "easy-install.pth"
    pth.write_text("import sys; sys.__plen = len(sys.path)\n")
    assert cached_then(python, project, site, checkout, info, pkg_info, pth).distributions == {}

    # develop
    (site / "legacy-dev.egg-link").write_text(f"{checkout}\n.")
    with open(pth, "a") as f:
        f.write(f"{checkout}\n")
    env, _ = inspect(python, project)
    assert not env.from_cache
    assert versions(env) == {"legacy-dev": "0.1"}
    assert {n: s["version"] for n, s in truth(python, project).items()} == versions(env)
    assert str(checkout) in env.info.sys_path
    cached_then(python, project, site, checkout, info, pkg_info, pth)

    # a version bump: `egg_info` rewrites PKG-INFO in place, no directory changes
    with open(pkg_info, "r+") as f:
        text = f.read().replace("Version: 0.1", "Version: 0.2")
        f.seek(0)
        f.write(text)
    env, _ = inspect(python, project)
    assert not env.from_cache
    assert versions(env) == {"legacy-dev": "0.2"}
    cached_then(python, project, site, checkout, info, pkg_info, pth)

    # develop -u
    (site / "legacy-dev.egg-link").unlink()
    pth.write_text("import sys; sys.__plen = len(sys.path)\n")
    env, _ = inspect(python, project)
    assert not env.from_cache
    assert env.distributions == {}
    assert truth(python, project) == {}
    assert str(checkout) not in env.info.sys_path


def test_pythonpath_changes_and_its_missing_entries_are_watched(
    tmp_path: Path, project: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    python = bare_venv(tmp_path / "venv")
    site = purelib(python)
    extra, later = tmp_path / "extra", tmp_path / "later"
    write_dist(extra, "from-extra", "1.0")
    cached_then(python, project, site, extra)

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(extra), str(later)]))
    env, _ = inspect(python, project)
    assert not env.from_cache and versions(env) == {"from-extra": "1.0"}
    cached_then(python, project, site, extra)

    write_dist(later, "from-later", "2.0")  # a PYTHONPATH entry that did not exist is created
    env, _ = inspect(python, project)
    assert not env.from_cache
    assert versions(env) == {"from-extra": "1.0", "from-later": "2.0"}
    assert {n: s["version"] for n, s in truth(python, project).items()} == versions(env)


def test_a_sys_path_learnt_before_a_pth_appeared_is_not_cached(
    tmp_path: Path, project: Path
) -> None:
    """Within one run the target is asked once; if a .pth file appears after that, the scan
    uses the sys.path the run has, but must not cache it as matching the new .pth file."""
    python = bare_venv(tmp_path / "venv")
    site = purelib(python)
    extra = tmp_path / "extra"
    write_dist(extra, "late", "1.0")
    settle(site, extra)
    session = session_for(python, project)
    inspect(session=session)
    (site / "late.pth").write_text(f"{extra}\n")
    settle(site)
    forget_environment(session)  # the same run asks again (its TargetInfo is the old one)
    _, ctx = inspect(session=session)
    assert any("sys.path changed while it was read" in note for note in ctx.evidence)
    env, _ = inspect(python, project)  # the next run asks the target again
    assert not env.from_cache
    assert versions(env) == {"late": "1.0"}


def test_a_user_site_created_later_is_seen(tmp_path: Path, project: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    userbase = tmp_path / "userbase"
    monkeypatch.setenv("PYTHONUSERBASE", str(userbase))
    monkeypatch.delenv("PYTHONNOUSERSITE", raising=False)
    env = cached_then(Path(PY312), project, purelib(PY312))
    assert "user-probe" not in env.distributions

    user_site = userbase / "lib" / "python3.12" / "site-packages"
    write_dist(user_site, "user-probe", "1.0")
    env, _ = inspect(PY312, project)
    assert not env.from_cache
    assert env.distributions["user-probe"].location == str(user_site)
    assert "user-probe" in truth(PY312, project)


def test_no_cache_bypasses_reading_but_still_writes(
    basic, project: Path, private_cache: Path
) -> None:  # type: ignore[no-untyped-def]
    settle(purelib(basic.python))
    inspect(basic.python, project)
    entry = entry_for(basic.python, private_cache)
    entry.write_text(entry.read_text().replace('"2.31.0"', '"0.0.1"'))  # a stale answer
    env, ctx = inspect(basic.python, project, use_cache=False)
    assert not env.from_cache
    assert env.distributions["requests"].version == "2.31.0"
    assert any("--no-cache" in note for note in ctx.evidence)
    assert '"0.0.1"' not in entry.read_text()  # the fresh result replaced it
    assert inspect(basic.python, project)[0].from_cache


@pytest.mark.parametrize("damage", ["garbage", "wrong-shape", "directory", "truncated"])
def test_a_damaged_cache_is_ignored(  # type: ignore[no-untyped-def]
    basic, project: Path, private_cache: Path, damage: str
) -> None:
    settle(purelib(basic.python))
    fresh, _ = inspect(basic.python, project)
    entry = entry_for(basic.python, private_cache)
    good = entry.read_text()
    if damage == "garbage":
        entry.write_bytes(b"\x00\xffnot json")
    elif damage == "wrong-shape":
        data = json.loads(good)
        data["dists"] = [["only", "three", "fields"]]
        entry.write_text(json.dumps(data))
    elif damage == "truncated":
        entry.write_text(good[: len(good) // 2])
    else:
        entry.unlink()
        entry.mkdir()  # neither readable nor writable as a file
    env, ctx = inspect(basic.python, project)
    assert not env.from_cache
    assert env.distributions == fresh.distributions
    assert any(note.startswith("environment cache:") for note in ctx.evidence)
    if damage != "directory":
        assert inspect(basic.python, project)[0].from_cache  # rewritten, good again


def test_xdg_cache_home_is_respected_and_the_project_untouched(  # type: ignore[no-untyped-def]
    basic, project: Path, tmp_path: Path, monkeypatch
) -> None:
    (project / "requirements.txt").write_text("requests==2.31.0\n")
    before = {p: p.stat().st_mtime_ns for p in project.rglob("*")} | {
        project: project.stat().st_mtime_ns
    }
    elsewhere = tmp_path / "elsewhere"
    monkeypatch.setenv("XDG_CACHE_HOME", str(elsewhere))
    settle(purelib(basic.python))
    inspect(basic.python, project)
    assert inspect(basic.python, project)[0].from_cache
    written = list((elsewhere / "envdoctor" / CACHE_SECTION).iterdir())
    assert len(written) == 1 and written[0].suffix == ".json"
    after = {p: p.stat().st_mtime_ns for p in project.rglob("*")} | {
        project: project.stat().st_mtime_ns
    }
    assert after == before


def test_a_cache_directory_inside_the_project_is_not_used(  # type: ignore[no-untyped-def]
    basic, project: Path, monkeypatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(project / ".cache"))
    env, ctx = inspect(basic.python, project)
    assert not env.from_cache
    assert not (project / ".cache").exists()
    assert any("inside the project" in note for note in ctx.evidence)


def test_a_recently_changed_site_dir_is_not_cached(tmp_path: Path, project: Path) -> None:
    python = bare_venv(tmp_path / "venv")
    site = purelib(python)
    write_dist(site, "fresh", "1.0")
    # Modified "just now" as the scan sees it (a change within the same timestamp tick as
    # the scan could go unseen by a later mtime comparison): used, but not cached.
    soon = time.time_ns() + 3 * RACY_NS
    os.utime(site, ns=(soon, soon))
    _, ctx = inspect(python, project)
    assert any("changed just now" in note for note in ctx.evidence)
    assert not inspect(python, project)[0].from_cache
    settle(site)
    inspect(python, project)
    assert inspect(python, project)[0].from_cache


def test_old_entries_are_pruned(tmp_path: Path, project: Path, private_cache: Path) -> None:
    section = private_cache / CACHE_SECTION
    for i in range(CACHE_KEEP + 10):
        assert cache.write_entry(section / f"{i:016x}.json", {"key": {}}) is None
        os.utime(section / f"{i:016x}.json", ns=(10**9, 10**9))  # long ago
    python = bare_venv(tmp_path / "venv")
    settle(purelib(python))
    inspect(python, project)
    assert entry_for(python, private_cache).is_file()  # the newest is kept
    assert len(list(section.iterdir())) == CACHE_KEEP


# -- one inspection per run --------------------------------------------------------------------


def test_one_inspection_shared_by_every_check(basic, project: Path) -> None:  # type: ignore[no-untyped-def]
    session = session_for(basic.python, project)

    async def three_checks() -> list[Environment]:
        ctxs = [CheckContext(session, deadline=time.monotonic() + 60) for _ in range(3)]
        envs = await asyncio.gather(*(inspect_environment(c) for c in ctxs))
        assert all(any(n.startswith("environment:") for n in c.evidence) for c in ctxs)
        return list(envs)

    envs = asyncio.run(three_checks())
    assert envs[0] is envs[1] is envs[2]
    again, _ = inspect(session=session)  # a later event loop of the same run: still the same
    assert again is envs[0]
    forget_environment(session)
    assert inspect(session=session)[0] is not envs[0]


def test_the_memo_notices_an_install_during_the_run(tmp_path: Path, project: Path) -> None:
    python = bare_venv(tmp_path / "venv")
    site = purelib(python)
    write_dist(site, "before", "1.0")
    settle(site)
    session = session_for(python, project)

    async def check_install_check() -> tuple[Environment, Environment, Environment]:
        first = await inspect_environment(CheckContext(session, time.monotonic() + 60))
        same = await inspect_environment(CheckContext(session, time.monotonic() + 60))
        write_dist(site, "after", "2.0")  # what `fix --apply` does between two checks
        later = await inspect_environment(CheckContext(session, time.monotonic() + 60))
        return first, same, later

    first, same, later = asyncio.run(check_install_check())
    assert first is same
    assert set(first.distributions) == {"before"}
    assert set(later.distributions) == {"before", "after"}


def test_timing_of_a_hundred_distributions(tmp_path: Path, project: Path) -> None:
    """Budget (DESIGN.md §10): the scan is a small part of a run; a cache hit is nearly free."""
    python = bare_venv(tmp_path / "venv")
    site = purelib(python)
    for i in range(100):
        requires = tuple(f"dep{j}>={j}.0; extra == 'x{j}'" for j in range(i % 12))
        write_dist(site, f"dist-{i}", f"1.{i}.0", requires=requires, top_level=(f"d{i}",))
    settle(site)
    miss, _ = inspect(python, project)
    hit, _ = inspect(python, project)
    assert len(miss.distributions) == 100 and hit.from_cache
    assert hit.distributions == miss.distributions
    assert hit.seconds < 0.25  # measured: about 1.5 ms; generous for a loaded CI machine


def test_dist_is_hashable_and_keeps_the_interface() -> None:
    d = Dist("a-b", "A_B", "1.0", ("c",), ("x",), "/site")
    assert d.top_level == () and d.path == ""
    assert {d: 1}[d] == 1
