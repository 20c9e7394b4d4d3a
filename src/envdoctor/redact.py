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
MASK = "***"


@dataclass
class Redactor:
    secrets: Iterable[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        # Longest first, so a secret that contains another is masked whole.
        self._secrets = sorted({s for s in self.secrets if len(s) >= 3}, key=len, reverse=True)

    def __call__(self, text: str | None) -> str | None:
        if not text:
            return text
        text = _URL_USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text


def url_passwords(text: str) -> list[str]:
    """The passwords of every URL in text (to mask them wherever else they turn up)."""
    return [m["pw"] for m in _URL_USERINFO.finditer(text)]


def redact_url(url: str) -> str:
    """A URL safe to show: the password (if any) replaced by `***`."""
    return Redactor()(url) or url
