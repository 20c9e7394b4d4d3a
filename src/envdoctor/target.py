"""Which interpreter the `python`, `packages` and `imports` checks speak about, and what it is.

Order (DESIGN.md §4): `--python PATH`; `$VIRTUAL_ENV`; `./.venv`; the interpreter running
envdoctor. Another interpreter is inspected by one small child process (`-I`, a deadline, no
installs); the running one is inspected in-process for free.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envdoctor.errors import EnvdoctorError

_BIN = "Scripts" if os.name == "nt" else "bin"
_EXE = "python.exe" if os.name == "nt" else "python"

# Runs inside the target: stdlib only, works on every Python envdoctor may be asked about.
INSPECT_SCRIPT = r"""
import importlib.machinery, json, os, platform, site, sys
impl = sys.implementation
iver = "{0.major}.{0.minor}.{0.micro}".format(impl.version)
if impl.version.releaselevel != "final":
    iver += impl.version.releaselevel[0] + str(impl.version.serial)
markers = {
    "implementation_name": impl.name,
    "implementation_version": iver,
    "os_name": os.name,
    "platform_machine": platform.machine(),
    "platform_release": platform.release(),
    "platform_system": platform.system(),
    "platform_version": platform.version(),
    "python_full_version": platform.python_version(),
    "platform_python_implementation": platform.python_implementation(),
    "python_version": ".".join(platform.python_version_tuple()[:2]),
    "sys_platform": sys.platform,
}
# sys.path as a normal start would have it: `-I` leaves out PYTHONPATH and the user site
# directory; both are added back exactly where `site` would put them (the user site only when
# `site` would enable it), without executing the `import` lines of the user site's .pth files.
def user_site_enabled():
    if os.environ.get("PYTHONNOUSERSITE"):
        return False
    if hasattr(os, "getuid") and (os.getuid() != os.geteuid() or os.getgid() != os.getegid()):
        return False
    exe_dir = os.path.dirname(os.path.abspath(sys.executable))
    for cfg in (os.path.join(exe_dir, "pyvenv.cfg"),
                os.path.join(os.path.dirname(exe_dir), "pyvenv.cfg")):
        if os.path.isfile(cfg):
            system = "true"
            try:
                with open(cfg, encoding="utf-8") as f:
                    for line in f:
                        key, sep, value = line.partition("=")
                        if sep and key.strip().lower() == "include-system-site-packages":
                            system = value.strip().lower()
            except (OSError, ValueError):
                pass
            return system == "true"
    return True

def pth_dirs(sitedir):
    found = []
    try:
        names = sorted(n for n in os.listdir(sitedir) if n.endswith(".pth"))
    except OSError:
        return found
    for name in names:
        try:
            with open(os.path.join(sitedir, name), encoding="utf-8", errors="replace") as f:
                for line in f:
                    line = line.rstrip()
                    if not line or line.startswith("#") or line.startswith(("import ", "import\t")):
                        continue
                    found.append(os.path.join(sitedir, line))
        except OSError:
            pass
    return found

path = [p for p in sys.path if p]
user = None
if hasattr(site, "getusersitepackages") and user_site_enabled():
    user = site.getusersitepackages()
    prefixes = set(site.getsitepackages()) if hasattr(site, "getsitepackages") else set()
    at = next((i for i, p in enumerate(path) if p in prefixes), len(path))
    path[at:at] = [user] + pth_dirs(user)
extra = [os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
print(json.dumps({
    "path": extra + path,
    "stdlib": os.path.dirname(os.__file__),
    "user_site": user,
    "executable": sys.executable,
    "version": platform.python_version(),
    "version_info": list(sys.version_info[:3]),
    "implementation": platform.python_implementation(),
    "prefix": sys.prefix,
    "base_prefix": getattr(sys, "base_prefix", sys.prefix),
    "real_prefix": getattr(sys, "real_prefix", None),
    "markers": markers,
    "ext": list(importlib.machinery.EXTENSION_SUFFIXES),
    "builtins": sorted(sys.builtin_module_names),
}))
"""


class TargetError(EnvdoctorError):
    """The target interpreter is missing or is not Python."""


class TooOld(TargetError):
    """A Python too old to inspect (Python 2: no `-I`, no f-strings): its version is known."""

    def __init__(self, executable: object, version: str) -> None:
        super().__init__(
            f"{executable} is Python {version}: too old for envdoctor to inspect (Python 3 only)"
        )
        self.version = version


# What any Python, 2.x included, answers: its version and nothing else.
VERSION_SCRIPT = "import sys; sys.stdout.write('%d.%d.%d' % tuple(sys.version_info[:3]))"


@dataclass
class TargetInfo:
    executable: str
    version: str
    version_info: tuple[int, int, int]
    implementation: str
    prefix: str
    base_prefix: str
    markers: dict[str, str] = field(default_factory=dict)
    sys_path: tuple[str, ...] = ()  # as a normal start of the target would have it
    stdlib: str = ""
    # What finding a module on its path needs besides the path (pkgs/pathfind.py); empty when
    # not known (then only the target itself can find modules).
    extension_suffixes: tuple[str, ...] = ()
    builtin_modules: tuple[str, ...] = ()

    @property
    def in_virtualenv(self) -> bool:
        return os.path.realpath(self.prefix) != os.path.realpath(self.base_prefix)


@dataclass
class Target:
    """An interpreter path plus why it was chosen ("--python", "$VIRTUAL_ENV", ".venv", …)."""

    executable: Path
    reason: str
    # Why this target cannot be used (a missing --python, a stale $VIRTUAL_ENV): the checks
    # that need it say so as their error, the others still run, and the run is not ready.
    problem: str | None = None

    @property
    def is_running_interpreter(self) -> bool:
        try:
            return os.path.samefile(self.executable, sys.executable) and _same_prefix(
                self.executable
            )
        except OSError:
            return False

    def cheap_version(self) -> str | None:
        """The version without running anything: ours, or the venv's pyvenv.cfg."""
        if self.problem:
            return None
        if self.is_running_interpreter:
            return platform.python_version()
        cfg = self.executable.parent.parent / "pyvenv.cfg"
        try:
            for line in cfg.read_text(encoding="utf-8", errors="replace").splitlines():
                key, _, value = line.partition("=")
                if key.strip() in ("version_info", "version"):
                    parts = value.strip().split(".")
                    return ".".join(parts[:3])
        except OSError:
            pass
        return None


def _same_prefix(executable: Path) -> bool:
    # The same binary may serve two venvs (symlinks): only the running one if prefixes agree.
    venv_root = executable.parent.parent
    if (venv_root / "pyvenv.cfg").exists():
        return os.path.realpath(venv_root) == os.path.realpath(sys.prefix)
    return os.path.realpath(sys.prefix) == os.path.realpath(sys.base_prefix)


def resolve_target(
    project: Path, python: str | None, environ: dict[str, str] | os._Environ[str]
) -> Target:
    """Chooses the target as DESIGN.md §4 says; raises TargetError for a bad `--python`."""
    target = choose_target(project, python, environ)
    if target.problem:
        raise TargetError(target.problem)
    return target


def choose_target(
    project: Path, python: str | None, environ: dict[str, str] | os._Environ[str]
) -> Target:
    """The target as DESIGN.md §4 chooses it; one that cannot be used carries its `problem`
    (never a silent switch to envdoctor's own interpreter)."""
    if python:
        path = Path(python).expanduser()
        if path.is_dir():
            path = path / _BIN / _EXE
        if not path.is_file():
            return Target(path.absolute(), "--python", f"--python {python}: no such interpreter")
        if not os.access(path, os.X_OK):
            return Target(path.absolute(), "--python", f"--python {python}: not executable")
        return Target(path.absolute(), "--python")
    venv = environ.get("VIRTUAL_ENV")
    if venv:
        candidate = Path(venv) / _BIN / _EXE
        if candidate.is_file():
            return Target(candidate, "$VIRTUAL_ENV")
        # A stale activation must not quietly turn into "check envdoctor's own interpreter".
        problem = (
            f"$VIRTUAL_ENV is {venv}, but {_broken(candidate)}: deactivate it, or recreate it "
            f"(python3 -m venv --clear {venv})"
        )
        return Target(candidate, "$VIRTUAL_ENV", problem)
    candidate = project / ".venv" / _BIN / _EXE
    if candidate.is_file():
        return Target(candidate.absolute(), ".venv")
    if (project / ".venv" / "pyvenv.cfg").exists() or candidate.is_symlink():
        problem = (
            f"the project's .venv is broken: {_broken(candidate)}; recreate it "
            "(python3 -m venv --clear .venv) or name an interpreter with --python"
        )
        return Target(candidate.absolute(), ".venv", problem)
    return Target(Path(sys.executable), "running interpreter")


def _broken(candidate: Path) -> str:
    """Why a venv's interpreter path does not work, in the user's terms."""
    if candidate.is_symlink():
        try:
            return f"{candidate} is a broken link to {os.readlink(candidate)}"
        except OSError:
            return f"{candidate} is a broken link"
    if not candidate.parent.parent.exists():
        return "that directory does not exist"
    return f"there is no interpreter at {candidate}"


def running_info() -> TargetInfo:
    """The running interpreter, described without a child process."""
    namespace: dict[str, Any] = {}
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(INSPECT_SCRIPT, namespace)  # the same script the child runs, for one truth
    return info_from_dict(json.loads(buffer.getvalue()))


def parse_info(output: str, executable: object = "the target") -> TargetInfo:
    """Reads the child's JSON; raises TargetError when the output is not ours."""
    try:
        return info_from_dict(json.loads(output.strip().splitlines()[-1]))
    except (ValueError, IndexError, KeyError, TypeError, AttributeError):
        said = output.strip().splitlines()[0][:80] if output.strip() else "nothing"
        raise TargetError(
            f"{executable} is not a Python interpreter (asked for its version, it printed {said!r})"
        ) from None


def info_from_dict(data: dict[str, Any]) -> TargetInfo:
    """From the inspection's JSON, or from a cached `asdict(TargetInfo)` (`sys_path`, ...)."""
    return TargetInfo(
        executable=str(data["executable"]),
        version=str(data["version"]),
        version_info=tuple(int(x) for x in data["version_info"][:3]),  # type: ignore[arg-type]
        implementation=str(data["implementation"]),
        prefix=str(data["prefix"]),
        base_prefix=str(data["base_prefix"]),
        markers={str(k): str(v) for k, v in data["markers"].items()},
        sys_path=tuple(str(p) for p in data.get("path", data.get("sys_path", ()))),
        stdlib=str(data.get("stdlib", "")),
        extension_suffixes=tuple(
            str(s) for s in data.get("ext", data.get("extension_suffixes", ()))
        ),
        builtin_modules=tuple(
            str(s) for s in data.get("builtins", data.get("builtin_modules", ()))
        ),
    )
