"""Secrets never shown: every string a report carries passes through here first.

URL passwords become `***` wherever they appear (`postgresql://app:***@db/app`), and the values of
secret-looking variables used for interpolation are replaced wherever they would leak.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

# The password runs to the *last* '@' before the path: `u:p@ss@host` hides `p@ss` whole.
_URL_USERINFO = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^/@:\s]*):(?P<pw>[^/\s]+)@"
)
# Credentials passed as query parameters: ?password=…&api_key=…&token=…
_QUERY_SECRET = re.compile(
    r"(?P<key>[?&;][^=&;#\s]*(?:pass|pwd|token|secret|key|auth|signature|credential)[^=&;#\s]*=)"
    r"(?P<value>[^&;#\s]+)",
    re.IGNORECASE,
)
# Name parts whose values are secrets wherever they turn up (an API key echoed by a command).
# By part, not by substring: PWD/OLDPWD are paths, SSH_AUTH_SOCK a socket, MONKEY no key.
_SECRET_PARTS = frozenset(
    {
        *("PASS", "PASSWORD", "PASSWD", "PWD", "PASSPHRASE"),
        *("SECRET", "SECRETS", "TOKEN", "TOKENS", "KEY", "KEYS", "APIKEY"),
        *("CREDENTIAL", "CREDENTIALS", "PRIVATE", "SIGNATURE"),
    }
)
_NOT_SECRET = frozenset({"PWD", "OLDPWD"})
MASK = "***"


def is_secret_name(name: str) -> bool:
    upper = name.upper()
    if upper in _NOT_SECRET:
        return False
    parts = re.split(r"[^A-Z0-9]+", upper)
    return any(
        part in _SECRET_PARTS or part.endswith(("PASSWORD", "PASSWD", "SECRET", "TOKEN", "APIKEY"))
        for part in parts
    )


def secret_values(variables: dict[str, str] | object) -> set[str]:
    """Values of the variables whose names look secret (long enough to mask without noise)."""
    items = variables.items() if hasattr(variables, "items") else []  # type: ignore[attr-defined]
    return {v for k, v in items if len(v) >= 6 and is_secret_name(k)}


# What a fix shows for the user to fill in (`redis://USER:PASSWORD@host`): not a secret.
PLACEHOLDER = "PASSWORD"


def _mask_userinfo(match: re.Match[str]) -> str:
    if match["pw"] == PLACEHOLDER:
        return match[0]
    return f"{match['scheme']}{match['user']}:{MASK}@"


@dataclass
class Redactor:
    secrets: Iterable[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        # Longest first, so a secret that contains another is masked whole.
        self._secrets = sorted({s for s in self.secrets if len(s) >= 3}, key=len, reverse=True)
        self._splittable = [
            s for s in self._secrets if any(c in s for c in "@/ \t\n") and not _WHOLE_URL.match(s)
        ]

    def __call__(self, text: str | None) -> str | None:
        if not text:
            return text
        # A known secret with a raw '@', '/' or space is masked whole first: the URL pattern
        # (which stops at such characters) would split it and leave the rest in view. Other
        # secrets go last, so a secret-named variable holding a URL still shows its host.
        for secret in self._splittable:
            if secret in text:
                text = text.replace(secret, MASK)
        text = _URL_USERINFO.sub(_mask_userinfo, text)
        text = _QUERY_SECRET.sub(lambda m: f"{m['key']}{MASK}", text)
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text


def url_passwords(text: str) -> list[str]:
    """The passwords of every URL in text (to mask them wherever else they turn up).

    When the whole text is one URL (an option's value), its password runs to the LAST `@`:
    a password with a raw space, `/` or `@` that the in-text pattern would cut short is
    still masked whole."""
    found = [m["pw"] for m in _URL_USERINFO.finditer(text)]
    whole = _WHOLE_URL.match(text)
    if whole and "@" in whole["rest"]:
        userinfo = whole["rest"][: whole["rest"].rindex("@")]
        if ":" in userinfo:
            found.append(userinfo.split(":", 1)[1])
    return [p for p in found if p]


_WHOLE_URL = re.compile(r"^\s*[A-Za-z][A-Za-z0-9+.\-]*://(?P<rest>.*)$", re.S)


def redact_url(url: str) -> str:
    """A URL safe to show: the password (if any) replaced by `***`."""
    return Redactor()(url) or url
