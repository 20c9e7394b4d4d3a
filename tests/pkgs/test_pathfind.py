"""Finding modules on another interpreter's sys.path from here: every answer it gives must be
the target's own answer (compared with the real 3.12 target), and it must stay silent (None)
where only the target can tell."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from tests.conftest import build_mod_target

from envdoctor.pkgs.pathfind import PathFinder
from envdoctor.target import INSPECT_SCRIPT, info_from_dict


def tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_modules_packages_namespaces_and_what_it_leaves_to_the_target(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    tree(a, {
        "mod.py": "", "pkg/__init__.py": "", "pkg/sub.py": "", "pkg/deep/__init__.py": "",
        "pkg/deep/leaf.py": "", "ns/one.py": "", "fast.abi9-x.so": "", "plain.py": "",
    })  # fmt: skip
    tree(b, {"ns/two.py": "", "later.py": "", "mod.py": ""})
    finder = PathFinder([str(a), str(tmp_path / "missing-dir"), str(b)], [".abi9-x.so"], ["sys"])
    assert finder.find("mod") == str(a / "mod.py")  # the first on the path wins
    assert finder.find("pkg") == str(a / "pkg" / "__init__.py")
    assert finder.find("pkg.sub") == str(a / "pkg" / "sub.py")
    assert finder.find("pkg.deep.leaf") == str(a / "pkg" / "deep" / "leaf.py")
    assert finder.find("ns") == "namespace package"
    assert finder.find("ns.one") == str(a / "ns" / "one.py")
    assert finder.find("ns.two") == str(b / "ns" / "two.py")  # portions from both entries
    assert finder.find("fast") == str(a / "fast.abi9-x.so")
    assert finder.find("later") == str(b / "later.py")
    assert finder.find("sys") == "built-in"
    # Not vouched for: only the target can tell (a .pth finder, a zip, code in a parent).
    assert finder.find("nowhere") is None
    assert finder.find("pkg.nowhere") is None
    assert finder.find("plain.child") is None
    assert finder.find("sys.child") is None


def test_foreign_extension_suffixes_are_not_ours(tmp_path: Path) -> None:
    tree(tmp_path, {"speedups.cpython-399-x86_64-linux-gnu.so": ""})
    assert (
        PathFinder([str(tmp_path)], [".cpython-311-x86_64-linux-gnu.so"], []).find("speedups")
        is None
    )
    assert PathFinder([str(tmp_path)], [".cpython-399-x86_64-linux-gnu.so"], []).find(
        "speedups"
    ) == str(tmp_path / "speedups.cpython-399-x86_64-linux-gnu.so")


NAMES = [
    "json", "_json", "os", "sqlite3", "_sqlite3", "asyncio.subprocess", "email.mime.text",
    "xml.etree.ElementTree", "sys", "_io", "math", "tomllib", "zoneinfo", "idlelib",
    "encodings.utf_8", "lib2to3", "distutils", "mymod", "mypkg.sub", "nspkg.part",
    "not_there", "json.not_there",
]  # fmt: skip


def test_agrees_with_the_real_target_of_another_python_version(tmp_path: Path) -> None:
    """A 3.12 target (we are 3.11): what it finds here is exactly what the target finds."""
    target = build_mod_target(tmp_path)
    target.module("mymod")
    target.module("mypkg.__init__")
    target.module("mypkg.sub")
    target.module("nspkg.part")
    out = subprocess.run(
        [str(target.python), "-I", "-c", INSPECT_SCRIPT],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    info = info_from_dict(json.loads(out.stdout.strip().splitlines()[-1]))
    assert info.version_info[:2] == (3, 12) and info.extension_suffixes and info.builtin_modules
    code = (
        "import importlib.util, json, sys\n"
        "out = {}\n"
        "for n in sys.argv[1:]:\n"
        "    try:\n"
        "        s = importlib.util.find_spec(n)\n"
        "    except ModuleNotFoundError:\n"
        "        s = None\n"
        "    out[n] = None if s is None else ('namespace package' if s.origin in (None, 'namespace')"
        " else s.origin)\n"
        "print(json.dumps(out))\n"
    )
    real = json.loads(
        subprocess.run(
            [str(target.python), "-I", "-c", code, *NAMES],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
    )
    finder = PathFinder(info.sys_path, info.extension_suffixes, info.builtin_modules)
    answered = 0
    for name in NAMES:
        mine = finder.find(name)
        if mine is None:
            continue  # left to the target: never wrong, only slower
        answered += 1
        expected = real[name]
        if expected == "built-in" or mine == "built-in":
            assert expected == mine, name
        elif expected == "frozen":  # 3.11+ freezes some stdlib modules that are also on disk
            assert Path(mine).stem in (name.rpartition(".")[2], "__init__"), name
        else:
            assert expected is not None and Path(mine) == Path(expected), name
    assert real["_json"].endswith(".cpython-312-x86_64-linux-gnu.so")
    assert finder.find("_json") == real["_json"]  # the target's suffix, not ours
    assert finder.find("not_there") is None and real["not_there"] is None
    assert answered >= len(NAMES) - 4


@pytest.mark.parametrize("name", ["", ".", "a..b", ".rel", "x" * 300])
def test_odd_names_never_raise(tmp_path: Path, name: str) -> None:
    result = PathFinder([str(tmp_path)], [".so"], []).find(name)
    assert result is None
