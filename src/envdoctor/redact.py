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
    return {
        v for k, v in items if len(v) >= 6 and is_secret_name(k) and v.lower() not in WELL_KNOWN
    }


# What a fix shows for the user to fill in (`redis://USER:PASSWORD@host`): not a secret.
PLACEHOLDER = "PASSWORD"

# The documented default passwords of the servers' own images and tutorials (POSTGRES_PASSWORD
# =postgres, RabbitMQ's guest, MySQL's root, …). As a URL's password they are still `***`; as
# free text they are left alone: they are public, and they are also the words our messages and
# fixes are made of (`postgresql`, `redis-server`, `docker run … redis:7`), which masking them
# would turn into commands that no longer work.
WELL_KNOWN = frozenset(
    {
        *("postgres", "postgresql", "redis", "mysql", "mariadb", "mongo", "mongodb"),
        *("rabbitmq", "guest", "kafka", "memcached", "smtp", "http", "root", "admin"),
        *("password", "secret", "example", "test", "changeme", "default"),
    }
)
# Characters that continue a word: a secret is masked where it stands as a word of its own,
# not inside another (the password `app` leaves `appdb` readable; `hunter2` after `=`, a quote
# or a space is still masked).
_WORD = "A-Za-z0-9_"


def free_text_secret(password: str, user: str = "") -> bool:
    """Whether a URL's password is also masked outside its URL. Not when it is the URL's own
    user name (shown anyway: `postgres:postgres@`) or a well-known default (above)."""
    return bool(password) and password != user and password.lower() not in WELL_KNOWN


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
        # One pass, longest first (a secret that contains another is masked whole), each where
        # it stands as a word: not preceded or followed by a letter, digit or underscore.
        alternatives = "|".join(_as_word(s) for s in self._secrets)
        self._words = re.compile(alternatives) if alternatives else None

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
        if self._words is not None and any(s in text for s in self._secrets):
            text = self._words.sub(MASK, text)
        return text


def _as_word(secret: str) -> str:
    """A pattern for `secret` standing as a word: a word character at its edge may not touch
    another (an edge that is punctuation, such as `-` in `-k3y`, needs no such rule)."""
    before = f"(?<![{_WORD}])" if re.match(f"[{_WORD}]", secret[0]) else ""
    after = f"(?![{_WORD}])" if re.match(f"[{_WORD}]", secret[-1]) else ""
    return f"{before}{re.escape(secret)}{after}"


def url_passwords(text: str) -> list[str]:
    """The passwords of every URL in text that must be masked wherever else they turn up
    (`free_text_secret`: not a URL's own user name, not a well-known default).

    When the whole text is one URL (an option's value), its password runs to the LAST `@`:
    a password with a raw space, `/` or `@` that the in-text pattern would cut short is
    still masked whole."""
    found = [(m["user"], m["pw"]) for m in _URL_USERINFO.finditer(text)]
    whole = _WHOLE_URL.match(text)
    if whole and "@" in whole["rest"]:
        userinfo = whole["rest"][: whole["rest"].rindex("@")]
        if ":" in userinfo:
            user, password = userinfo.split(":", 1)
            found.append((user, password))
    return [p for user, p in found if free_text_secret(p, user)]


_WHOLE_URL = re.compile(r"^\s*[A-Za-z][A-Za-z0-9+.\-]*://(?P<rest>.*)$", re.S)


def redact_url(url: str) -> str:
    """A URL safe to show: the password (if any) replaced by `***`."""
    return Redactor()(url) or url
