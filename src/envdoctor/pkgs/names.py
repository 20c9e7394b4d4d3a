"""Which distribution provides an import name, when the two names differ.

`import yaml` fails and the fix is `pip install PyYAML`: nothing in the import system says so.
The target's installed metadata (top_level.txt / RECORD, read inside the target by the child
of `importcheck`) names the distribution of a module that *exists*; for a module that is
missing, nothing installed can name it, so a table of the common cases where the import name
is not the distribution name fills the gap. A name that is in neither is assumed to be its own
distribution (that is the rule for most of PyPI), and is said to be a guess.

Pure data and string logic: no packaging import, so the kind stays cheap when all is well.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# Import name (top-level, or dotted where a namespace is shared) -> distribution to install.
# Only names whose PEP 503 forms differ belong here: `pydantic_settings` needs no entry.
IMPORT_TO_DIST: dict[str, str] = {
    "yaml": "PyYAML",
    "_yaml": "PyYAML",
    "cv2": "opencv-python",
    "PIL": "Pillow",
    "sklearn": "scikit-learn",
    "skimage": "scikit-image",
    "bs4": "beautifulsoup4",
    "jwt": "PyJWT",
    "dotenv": "python-dotenv",
    "dateutil": "python-dateutil",
    "google.protobuf": "protobuf",
    "google.cloud.storage": "google-cloud-storage",
    "google.cloud.bigquery": "google-cloud-bigquery",
    "googleapiclient": "google-api-python-client",
    "grpc": "grpcio",
    "attr": "attrs",
    "magic": "python-magic",
    "serial": "pyserial",
    "usb": "pyusb",
    "OpenSSL": "pyOpenSSL",
    "Crypto": "pycryptodome",
    "Cryptodome": "pycryptodomex",
    "nacl": "PyNaCl",
    "docx": "python-docx",
    "pptx": "python-pptx",
    "jose": "python-jose",
    "ldap": "python-ldap",
    "MySQLdb": "mysqlclient",
    "psycopg2": "psycopg2-binary",
    "git": "GitPython",
    "github": "PyGithub",
    "gitlab": "python-gitlab",
    "zmq": "pyzmq",
    "gi": "PyGObject",
    "cairo": "pycairo",
    "Levenshtein": "python-Levenshtein",
    "fitz": "PyMuPDF",
    "Xlib": "python-xlib",
    "wx": "wxPython",
    "OpenGL": "PyOpenGL",
    "socks": "PySocks",
    "slugify": "python-slugify",
    "multipart": "python-multipart",
    "websocket": "websocket-client",
    "dns": "dnspython",
    "kafka": "kafka-python",
    "memcache": "python-memcached",
    "telegram": "python-telegram-bot",
    "discord": "discord.py",
    "engineio": "python-engineio",
    "socketio": "python-socketio",
    "Bio": "biopython",
    "hamcrest": "PyHamcrest",
    "xdist": "pytest-xdist",
    "mpl_toolkits": "matplotlib",
    "pylab": "matplotlib",
    "pkg_resources": "setuptools",
    "_cffi_backend": "cffi",
    "win32api": "pywin32",
    "win32con": "pywin32",
    "pythoncom": "pywin32",
    "RPi": "RPi.GPIO",
    "faiss": "faiss-cpu",
    "ffmpeg": "ffmpeg-python",
    "snappy": "python-snappy",
    "consul": "python-consul",
}

# What the message says when the table's install name is one of several good answers.
DISPLAY: dict[str, str] = {
    "psycopg2": "psycopg2 (or psycopg2-binary)",
}

# Modules that left the standard library: (Python version that removed it, replacement dist).
REMOVED_STDLIB: dict[str, tuple[tuple[int, int], str | None]] = {
    "distutils": ((3, 12), "setuptools"),
    "imp": ((3, 12), None),
    "asyncore": ((3, 12), "pyasyncore"),
    "asynchat": ((3, 12), "pyasynchat"),
    "cgi": ((3, 13), "legacy-cgi"),
    "cgitb": ((3, 13), "legacy-cgi"),
}

# Modules that joined the standard library later: (first Python version, backport to use before).
# `import tomllib` on 3.10 is not fixed by installing anything: the code must import the
# backport under its own name (or run on a newer Python), so this is a hint, never a pip fix.
ADDED_STDLIB: dict[str, tuple[tuple[int, int], str | None]] = {
    "tomllib": ((3, 11), "tomli"),
    "zoneinfo": ((3, 9), "backports.zoneinfo"),
    "graphlib": ((3, 9), "graphlib_backport"),
    "importlib.metadata": ((3, 8), "importlib_metadata"),
    "importlib.resources": ((3, 7), "importlib_resources"),
    "dataclasses": ((3, 7), "dataclasses"),
    "contextvars": ((3, 7), "contextvars"),
}

# Standard-library modules that exist only when Python was built with a system library.
STDLIB_BUILD_DEPS: dict[str, str] = {
    "tkinter": "Tk (Debian/Ubuntu: apt-get install python3-tk, or tk-dev before building Python)",
    "_tkinter": "Tk (Debian/Ubuntu: apt-get install python3-tk, or tk-dev before building Python)",
    "sqlite3": "SQLite (libsqlite3-dev before building Python)",
    "_sqlite3": "SQLite (libsqlite3-dev before building Python)",
    "ssl": "OpenSSL (libssl-dev before building Python)",
    "_ssl": "OpenSSL (libssl-dev before building Python)",
    "lzma": "liblzma (liblzma-dev before building Python)",
    "_lzma": "liblzma (liblzma-dev before building Python)",
    "bz2": "bzip2 (libbz2-dev before building Python)",
    "_bz2": "bzip2 (libbz2-dev before building Python)",
    "readline": "GNU readline (libreadline-dev before building Python)",
    "ctypes": "libffi (libffi-dev before building Python)",
    "_ctypes": "libffi (libffi-dev before building Python)",
    "curses": "ncurses (libncurses-dev before building Python)",
    "_curses": "ncurses (libncurses-dev before building Python)",
    "zlib": "zlib (zlib1g-dev before building Python)",
    "_uuid": "libuuid (uuid-dev before building Python)",
    "dbm": "gdbm (libgdbm-dev before building Python)",
}

# Standard-library modules that exist on one family of platforms only.
PLATFORM_ONLY: dict[str, str] = {
    **dict.fromkeys(
        ("winreg", "msvcrt", "winsound", "_winapi", "_overlapped", "nt", "msilib", "_msi"),
        "Windows",
    ),
    **dict.fromkeys(
        ("fcntl", "grp", "pwd", "termios", "tty", "pty", "resource", "posix", "syslog"),
        "Unix",
    ),
    **dict.fromkeys(("crypt", "spwd", "nis", "_posixsubprocess", "_posixshmem"), "Unix"),
}

# Shared libraries whose absence makes a binary wheel fail at import -> the OS package.
SHARED_LIBS: dict[str, str] = {
    "libGL.so.1": "libgl1",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libpq.so.5": "libpq5",
    "libmagic.so.1": "libmagic1",
    "libsndfile.so.1": "libsndfile1",
    "libgomp.so.1": "libgomp1",
    "libzbar.so.0": "libzbar0",
}

_NAME_PART = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def canonical(name: str) -> str:
    """PEP 503 normalisation (`Python_Dotenv` == `python-dotenv`), without importing packaging."""
    return re.sub(r"[-_.]+", "-", name).lower()


def top_level(module: str) -> str:
    return module.split(".", 1)[0]


def table_dist(module: str) -> str | None:
    """The table's distribution for `module` or its longest dotted prefix in the table."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        found = IMPORT_TO_DIST.get(".".join(parts[:end]))
        if found:
            return found
    return None


def import_name_for(dist: str) -> str | None:
    """The import name of a distribution the table knows (`scikit-learn` -> `sklearn`)."""
    wanted = canonical(dist)
    for module, provider in IMPORT_TO_DIST.items():
        if canonical(provider) == wanted and not module.startswith("_"):
            return module
    return None


def requirement_name(line: str) -> str:
    """The distribution name at the start of a Requires-Dist line ("" when there is none)."""
    match = _NAME_PART.match(line)
    return match.group(1) if match else ""


@dataclass(frozen=True)
class Provider:
    """Who would provide a missing import name, and how sure we are."""

    dist: str  # what to pip install (may carry a specifier from a Requires-Dist line)
    display: str  # what the message says ("psycopg2 (or psycopg2-binary)")
    source: str  # "table" | "requirement" | "installed" | "guess"
    required_by: str | None = None  # the distribution whose Requires-Dist names it

    @property
    def reinstall(self) -> bool:
        """Installed, yet the module is gone: the fix is a reinstall, not an install."""
        return self.source == "installed"


def provider_for(
    missing: str,
    *,
    requires: Iterable[str] = (),
    required_by: str | None = None,
    claims: Iterable[str] = (),
) -> Provider:
    """The distribution to install for a missing import name.

    `requires` are the raw Requires-Dist lines of the distribution whose import failed (the
    missing module is most likely one of them: then the requirement's own specifier is used);
    `claims` are installed distributions that declare the missing top-level name (installed,
    yet the module is gone: a broken install, to be reinstalled).
    """
    top = top_level(missing)
    from_table = table_dist(missing)
    claimed = list(claims)
    candidates = {canonical(c) for c in (from_table, top, missing) if c}
    for line in requires:
        name = requirement_name(line)
        if name and canonical(name) in candidates:
            spec = line.split(";", 1)[0]
            spec = name if "@" in spec else re.sub(r"[\s()]+", "", spec)
            return Provider(spec, DISPLAY.get(top, name), "requirement", required_by)
    # A top-level name an installed distribution declares: installed, yet gone (reinstall).
    # For a dotted name the table is more precise (`google` is shared by many distributions).
    if claimed and "." not in missing:
        return Provider(claimed[0], claimed[0], "installed")
    if from_table:
        return Provider(from_table, DISPLAY.get(top, from_table), "table")
    if claimed:
        return Provider(claimed[0], claimed[0], "installed")
    return Provider(top, top, "guess")


def removed_from_stdlib(
    module: str, version: tuple[int, ...] | None
) -> tuple[str, str | None] | None:
    """("3.12", replacement dist or None) when `module` left the standard library by `version`."""
    entry = REMOVED_STDLIB.get(top_level(module))
    if entry is None or version is None or tuple(version[:2]) < entry[0]:
        return None
    (major, minor), replacement = entry
    return f"{major}.{minor}", replacement


def added_to_stdlib(module: str, version: tuple[int, ...] | None) -> tuple[str, str | None] | None:
    """("3.11", backport or None) when `module` joined the standard library after `version`."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        entry = ADDED_STDLIB.get(".".join(parts[:end]))
        if entry is not None:
            break
    else:
        return None
    if version is None or tuple(version[:2]) >= entry[0]:
        return None
    (major, minor), backport = entry
    return f"{major}.{minor}", backport


def missing_shared_library(message: str) -> tuple[str, str] | None:
    """(library, Debian package) when an ImportError says a shared library cannot be opened."""
    match = re.search(r"(lib[\w.+-]*\.so(?:\.\d+)*)", message)
    if not match:
        return None
    library = match.group(1)
    return library, SHARED_LIBS.get(library, "")
