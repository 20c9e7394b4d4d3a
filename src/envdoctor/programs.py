"""Programs on this machine: whether a name is a path, and the command that installs one.

Shared by the `binary` and `command` kinds (a program that is missing or too old gets the
same advice whichever check found it). Best guesses for the fix line only: never run.
"""

from __future__ import annotations

import os
import shlex
import sys

# Programs whose package is not named after them (best guesses for the fix line only).
_APT_PACKAGES = {
    "psql": "postgresql-client",
    "pg_isready": "postgresql-client",
    "pg_dump": "postgresql-client",
    "redis-cli": "redis-tools",
    "mysql": "default-mysql-client",
    "node": "nodejs",
    "docker": "docker.io",
    "rg": "ripgrep",
    "fd": "fd-find",
    "convert": "imagemagick",
    "dig": "dnsutils",
    "ssh": "openssh-client",
}
_BREW_PACKAGES = {
    "psql": "libpq",
    "pg_isready": "libpq",
    "pg_dump": "libpq",
    "redis-cli": "redis",
    "redis-server": "redis",
    "rg": "ripgrep",
    "convert": "imagemagick",
}


def is_path(name: str) -> bool:
    """A program named by a path (run as is) rather than a name looked up on PATH."""
    return os.sep in name or (os.altsep is not None and os.altsep in name) or name.startswith("~")


def install_hint(name: str) -> str:
    """Best guess at the command that installs `name` on this system."""
    return _package_manager(name, "install", "install") or (
        f"install {name} with your system's package manager and make sure it is on PATH"
    )


def upgrade_hint(name: str) -> str | None:
    """The same for a program that is there but too old (None for a program named by path)."""
    return None if is_path(name) else _package_manager(name, "upgrade", "install --only-upgrade")


def _package_manager(name: str, brew_verb: str, apt_verb: str) -> str | None:
    if sys.platform == "darwin":
        return f"brew {brew_verb} {shlex.quote(_BREW_PACKAGES.get(name, name))}"
    if os.path.exists("/etc/debian_version"):
        return f"sudo apt-get {apt_verb} {shlex.quote(_APT_PACKAGES.get(name, name))}"
    return None
