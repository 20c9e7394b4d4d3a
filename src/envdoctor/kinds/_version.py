"""Reading a version number out of a program's free-form `--version` output.

Every tool prints its version its own way ("git version 2.39.5", "psql (PostgreSQL) 15.18 (…)",
"redis-server v=7.0.15 sha=…", "ffmpeg version n6.1", "v20.20.2"), so instead of one parser per
tool we take the first version-looking token and keep only its numeric dotted part, which is
what a PEP 440 specifier can be compared with. Only `re` at module level: kinds import this
eagerly.
"""

from __future__ import annotations

import re

# A dotted number not glued to a previous digit or dot: "2.39.5", "v=7.0.15" -> "7.0.15",
# "n6.1" -> "6.1", "OpenSSH_9.2p1" -> "9.2", "go1.21.5" -> "1.21.5", "1.2.3rc1" -> "1.2.3".
_DOTTED = re.compile(r"(?<![\d.])(\d+(?:\.\d+)+)")
# Only when nothing dotted exists: a lone integer that looks meant as a version ("v20",
# "version 17", or the whole output), never an integer inside a hash, a date or a key=value.
_BARE = re.compile(r"(?:^|(?<=\s))(?:[vV]|version\s+)?(\d+)(?![\w.:\-/])", re.IGNORECASE)


def extract_version(text: str) -> str | None:
    """The first version-looking token of `text` (numeric dotted part only), or None."""
    match = _DOTTED.search(text)
    if match:
        return match.group(1)
    stripped = text.strip()
    if stripped.isdigit():
        return stripped
    for bare in _BARE.finditer(text):
        token = bare.group(0).strip()
        if token[:1] in "vV" or token.lower().startswith("version"):
            return bare.group(1)
    return None
