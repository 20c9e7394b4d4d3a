"""The user cache: where it lives on each platform's convention, atomic writes, and a cache
that cannot be read or written being a miss with a reason, never an exception."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from envdoctor import cache


def test_xdg_cache_home_wins_when_absolute(tmp_path: Path) -> None:
    assert cache.cache_dir({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "envdoctor"


def test_relative_xdg_cache_home_is_ignored() -> None:
    # The XDG spec: a relative path is invalid. It would also land in the current directory,
    # which is usually the project.
    assert cache.cache_dir({"XDG_CACHE_HOME": "cache"}) == cache.cache_dir({})
    assert cache.cache_dir({"XDG_CACHE_HOME": ""}) == cache.cache_dir({})


def test_platform_default() -> None:
    expected = {
        "darwin": Path.home() / "Library" / "Caches" / "envdoctor",
        "win32": Path.home() / "AppData" / "Local" / "envdoctor" / "Cache",
    }.get(sys.platform, Path.home() / ".cache" / "envdoctor")
    assert cache.cache_dir({}) == expected


def test_cache_dir_reads_the_process_environment(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() == tmp_path / "xdg" / "envdoctor"


def test_entry_path_is_stable_and_distinct(tmp_path: Path) -> None:
    a = cache.entry_path("environments", "/venv/a/bin/python", base=tmp_path)
    assert a == cache.entry_path("environments", "/venv/a/bin/python", base=tmp_path)
    assert a != cache.entry_path("environments", "/venv/b/bin/python", base=tmp_path)
    assert a.parent == tmp_path / "environments"
    assert a.name.endswith(".json") and len(a.stem) == 16
    # Any path makes a valid file name, even one with separators and odd characters.
    odd = cache.entry_path(
        "environments", "C:\\Program Files\\Python\u00e9\\python.exe\udcff", base=tmp_path
    )
    assert odd.parent == tmp_path / "environments" and "\\" not in odd.name


def test_fnv1a64_known_values() -> None:
    # Reference values of 64-bit FNV-1a: the file names must not change between versions.
    assert cache.fnv1a64("") == 0xCBF29CE484222325
    assert cache.fnv1a64("a") == 0xAF63DC4C8601EC8C
    assert cache.fnv1a64("foobar") == 0x85944171F73967E8


def test_round_trip_creates_the_directory(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "entry.json"
    data = {"name": "caf\u00e9", "list": [1, 2.5, None, True], "nested": {"k": "v"}}
    assert cache.write_entry(path, data) is None
    assert cache.read_entry(path) == (data, None)
    assert json.loads(path.read_text(encoding="utf-8")) == data


def test_write_replaces_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    path = tmp_path / "entry.json"
    for i in range(5):
        assert cache.write_entry(path, {"i": i}) is None
    assert cache.read_entry(path) == ({"i": 4}, None)
    assert os.listdir(tmp_path) == ["entry.json"]


def test_missing_entry_is_a_miss(tmp_path: Path) -> None:
    data, why = cache.read_entry(tmp_path / "nope.json")
    assert data is None and why == "no cache entry yet"


def test_corrupt_entry_is_a_miss(tmp_path: Path) -> None:
    for raw in (b"{not json", b"\xff\xfe\x00garbage", b""):
        path = tmp_path / "entry.json"
        path.write_bytes(raw)
        data, why = cache.read_entry(path)
        assert data is None
        assert why is not None and "corrupt" in why


def test_unreadable_entry_is_a_miss(tmp_path: Path) -> None:
    path = tmp_path / "entry.json"
    path.mkdir()  # a directory where the file should be: unreadable even for root
    data, why = cache.read_entry(path)
    assert data is None
    assert why is not None and "unreadable" in why


def test_unwritable_cache_reports_why_and_cleans_up(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    why = cache.write_entry(blocker / "sub" / "entry.json", {"a": 1})  # parent is a file
    assert why is not None and why.startswith("cache not written")
    target = tmp_path / "dir-entry.json"
    target.mkdir()  # os.replace onto a directory fails after the temporary file exists
    why = cache.write_entry(target, {"a": 1})
    assert why is not None and why.startswith("cache not written")
    assert sorted(os.listdir(tmp_path)) == ["dir-entry.json", "file"]  # no temporary left


def test_unserialisable_data_is_reported(tmp_path: Path) -> None:
    why = cache.write_entry(tmp_path / "e.json", {"x": object()})
    assert why is not None and "not serialisable" in why
    assert not (tmp_path / "e.json").exists()


def test_inside(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / ".cache").mkdir(parents=True)
    assert cache.inside(project / ".cache" / "envdoctor", project)
    assert cache.inside(project, project)
    assert not cache.inside(tmp_path / "elsewhere", project)
    link = tmp_path / "link"
    link.symlink_to(project)
    assert cache.inside(link / ".cache", project)  # resolved: a symlink does not hide it


def test_prune_keeps_the_most_recent(tmp_path: Path) -> None:
    for i in range(10):
        path = tmp_path / f"{i:02d}.json"
        assert cache.write_entry(path, {"i": i}) is None
        os.utime(path, ns=(i * 10**9, i * 10**9))
    (tmp_path / "not-an-entry.txt").write_text("kept")
    assert cache.prune(tmp_path, keep=4) == 6
    assert sorted(os.listdir(tmp_path)) == [
        "06.json",
        "07.json",
        "08.json",
        "09.json",
        "not-an-entry.txt",
    ]
    assert cache.prune(tmp_path, keep=4) == 0
    assert cache.prune(tmp_path / "missing", keep=1) == 0
