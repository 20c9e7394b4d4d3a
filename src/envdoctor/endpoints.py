"""Service URLs as projects write them, parsed into what a probe needs.

`DATABASE_URL`-style values are the usual source: `postgresql://app:pw@db:5433/app`,
`redis://:pw@localhost/0`, `mongodb://h1,h2:27018/app`, `kafka://k1:9092,k2:9092`. The port the
URL names is the port probed (tools that ignore it are one reason this project exists); a URL
without one gets its scheme's default. Several hosts in one URL are each probed.

Parsing is by hand, not `urllib.parse.urlsplit`: that rejects multi-host netlocs with ports
and bracketed IPv6 lists. Errors are `ValueError`s whose text never repeats the URL (it may
hold a password, and comes from `${VAR}` interpolation).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote

# scheme -> (default port, TLS from the first byte)
SCHEMES: dict[str, tuple[int, bool]] = {
    "postgresql": (5432, False),
    "postgres": (5432, False),
    "redis": (6379, False),
    "rediss": (6379, True),
    "mysql": (3306, False),
    "mariadb": (3306, False),
    "mongodb": (27017, False),
    "amqp": (5672, False),
    "amqps": (5671, True),
    "kafka": (9092, False),
    "memcached": (11211, False),
    "smtp": (25, False),
    "smtps": (465, True),
    "http": (80, False),
    "https": (443, True),
}


RAW_USERINFO = (
    "the user or password in the URL holds a raw '/', '?', '#' or '@' that cuts the URL in the "
    "wrong place: percent-encode them (%2F, %3F, %23, %40), as database drivers expect too"
)


@dataclass(frozen=True)
class Endpoint:
    """One service URL: every host:port it names, and the login it carries (never shown)."""

    scheme: str
    hosts: tuple[tuple[str, int], ...]
    user: str = ""
    password: str = field(default="", repr=False)
    database: str = ""
    tls: bool = False
    params: Mapping[str, str] = field(default_factory=dict)
    has_password: bool = False

    def address(self, host: str, port: int) -> str:
        """`host:port` / `[::1]:port`, as users write it."""
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def shown(self, host: str | None = None, port: int | None = None) -> str:
        """The URL with the password masked (`***`): safe in any report or log."""
        user = self.user
        if self.has_password:
            user = f"{user}:***"
        auth = f"{user}@" if user else ""
        if host is None or port is None:
            where = ",".join(self.address(h, p) for h, p in self.hosts)
        else:
            where = self.address(host, port)
        path = f"/{self.database}" if self.database else ""
        return f"{self.scheme}://{auth}{where}{path}"


def parse_url(url: str, schemes: tuple[str, ...]) -> Endpoint:
    """Parses `url`, whose scheme must be one of `schemes` (ValueError otherwise)."""
    text = url.strip()
    scheme, sep, rest = text.partition("://")
    scheme = scheme.lower()
    if not sep:
        raise ValueError(f"expected a URL such as {schemes[0]}://localhost:{_port(schemes[0])}")
    if scheme not in schemes:
        wanted = ", ".join(f"{s}://" for s in schemes)
        shown = scheme if scheme.isascii() and scheme.replace("+", "").isalnum() else "?"
        raise ValueError(f"the URL scheme must be {wanted} (got {shown}://)")
    default_port, tls = SCHEMES[scheme]
    whole = rest
    rest = rest.partition("#")[0]
    rest, _, query = rest.partition("?")
    netloc, slash, path = rest.partition("/")
    if "@" in path.split("/")[0]:
        raise ValueError(RAW_USERINFO)  # "u:pa/ss@host": the '/' cut the login in two
    userinfo, at, hostlist = netloc.rpartition("@")
    user = password = ""
    has_password = False
    if at:
        raw_user, colon, raw_password = userinfo.partition(":")
        user = unquote(raw_user)
        password = unquote(raw_password)
        has_password = bool(colon)
    try:
        hosts = tuple(_host_port(part, default_port) for part in hostlist.split(","))
    except ValueError:
        if "@" in whole[len(netloc) :]:
            raise ValueError(RAW_USERINFO) from None  # "u:pa?ss@host", "u:pa#ss@host"
        raise
    params = dict(parse_qsl(query, keep_blank_values=True)) if query else {}
    database = unquote(path.strip("/")) if slash else ""
    return Endpoint(
        scheme=scheme,
        hosts=hosts,
        user=user,
        password=password,
        database=database,
        tls=tls,
        params=params,
        has_password=has_password,
    )


def _port(scheme: str) -> int:
    return SCHEMES.get(scheme, (0, False))[0]


def _host_port(part: str, default_port: int) -> tuple[str, int]:
    part = part.strip()
    if not part:
        raise ValueError(
            "the URL names no host (expected scheme://host:port; Unix sockets are not probed)"
        )
    if part.startswith("["):
        host, sep, rest = part[1:].partition("]")
        if not sep or not host:
            raise ValueError("an IPv6 address in a URL needs the form [::1]:port")
        if rest and not rest.startswith(":"):
            raise ValueError("unexpected text after an IPv6 address in the URL")
        port_text = rest[1:] if rest else ""
    else:
        host, colon, port_text = part.rpartition(":")
        if not colon:
            host, port_text = part, ""
        elif ":" in host:
            raise ValueError("an IPv6 address in a URL needs brackets, e.g. [::1]:5432")
    if not host:
        raise ValueError("the URL names no host (expected scheme://host:port)")
    if host.lower().startswith("%2f") or host.startswith("/"):  # libpq: a socket directory
        raise ValueError(
            "the host in the URL is a Unix socket directory: Unix sockets are not probed "
            "(use the server's TCP host and port, e.g. localhost:5432)"
        )
    if any(c in host for c in "/ \t@%"):
        raise ValueError("the host in the URL is not a valid host name")
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError("the port in the URL must be a number from 1 to 65535")
    return host, int(port_text)
