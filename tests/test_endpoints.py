"""Service URLs: every scheme's default port, the port the URL names, several hosts, logins."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envdoctor.endpoints import SCHEMES, Endpoint, parse_url

ALL = tuple(SCHEMES)


@pytest.mark.parametrize(
    ("url", "hosts"),
    [
        ("postgresql://localhost/app", (("localhost", 5432),)),
        ("postgres://db:5433/app", (("db", 5433),)),
        ("redis://localhost", (("localhost", 6379),)),
        ("rediss://cache:6380/0", (("cache", 6380),)),
        ("mysql://127.0.0.1", (("127.0.0.1", 3306),)),
        ("mariadb://h:3307/x", (("h", 3307),)),
        ("mongodb://h1,h2:27018/app", (("h1", 27017), ("h2", 27018))),
        ("amqp://rabbit", (("rabbit", 5672),)),
        ("amqps://rabbit", (("rabbit", 5671),)),
        ("kafka://k1:9092,k2:9093", (("k1", 9092), ("k2", 9093))),
        ("memcached://m", (("m", 11211),)),
        ("smtp://mail", (("mail", 25),)),
        ("smtps://mail", (("mail", 465),)),
        ("http://web", (("web", 80),)),
        ("https://web:8443/health", (("web", 8443),)),
        ("redis://[::1]:6380", (("::1", 6380),)),
        ("postgresql://[::1]/app", (("::1", 5432),)),
        ("POSTGRESQL://Host:1/x", (("Host", 1),)),
    ],
)
def test_hosts_and_default_ports(url: str, hosts: tuple[tuple[str, int], ...]) -> None:
    assert parse_url(url, ALL).hosts == hosts


def test_login_database_and_query_are_read_and_the_password_never_shown() -> None:
    ep = parse_url("postgresql://app:s%40cret@db:5433/my%20db?sslmode=require", ALL)
    assert (ep.user, ep.password, ep.database) == ("app", "s@cret", "my db")
    assert ep.params == {"sslmode": "require"}
    assert ep.shown() == "postgresql://app:***@db:5433/my db"
    assert "s@cret" not in repr(ep) and "cret" not in ep.shown()


def test_redis_password_only_and_tls_schemes() -> None:
    ep = parse_url("rediss://:pw@cache/2", ALL)
    assert (ep.user, ep.password, ep.has_password, ep.tls, ep.database) == (
        "",
        "pw",
        True,
        True,
        "2",
    )
    assert ep.shown() == "rediss://:***@cache:6379/2"
    plain = parse_url("redis://cache", ALL)
    assert (plain.has_password, plain.tls) == (False, False)


def test_a_password_with_at_signs_keeps_the_last_at_as_the_separator() -> None:
    ep = parse_url("redis://user:p@ss@host:1", ALL)
    assert (ep.user, ep.password, ep.hosts) == ("user", "p@ss", (("host", 1),))


def test_shown_for_one_host() -> None:
    ep = parse_url("mongodb://u:pw@h1,h2:27018/app", ALL)
    assert ep.shown("h2", 27018) == "mongodb://u:***@h2:27018/app"
    assert ep.address("::1", 1) == "[::1]:1"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("localhost:5432", "expected a URL such as postgresql://localhost:5432"),
        ("mysql://localhost", "the URL scheme must be postgresql://, postgres:// (got mysql://)"),
        ("postgresql://", "the URL names no host"),
        ("postgresql:///app", "the URL names no host"),
        ("postgresql://h:99999/app", "the port in the URL must be a number from 1 to 65535"),
        ("postgresql://h:abc/app", "the port in the URL must be a number from 1 to 65535"),
        ("postgresql://::1/app", "needs brackets"),
        ("postgresql://[::1/app", "needs the form [::1]:port"),
        ("postgresql://h1,,h2/app", "the URL names no host"),
        ("postgresql://u@%2Fvar%2Frun%2Fpostgresql:5432/app", "Unix sockets are not probed"),
        ("postgresql://u@%2ftmp/app", "is a Unix socket directory"),
    ],
)
def test_errors_say_what_is_wrong_without_repeating_the_url(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=None) as caught:
        parse_url(url, ("postgresql", "postgres"))
    assert message in str(caught.value)


def test_an_error_never_quotes_a_password() -> None:
    with pytest.raises(ValueError) as caught:
        parse_url("postgresql://u:canary-pw@h:notaport/db", ("postgresql",))
    assert "canary" not in str(caught.value)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_parse_never_raises_anything_but_value_error(text: str) -> None:
    try:
        result = parse_url(text, ALL)
    except ValueError:
        return
    assert isinstance(result, Endpoint)
    assert all(1 <= port <= 65535 for _host, port in result.hosts)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(ALL),
    st.text(alphabet=st.characters(blacklist_characters="@/:?#,[]", codec="utf-8"), max_size=20),
    st.lists(
        st.tuples(st.from_regex(r"[a-z][a-z0-9.-]{0,20}", fullmatch=True), st.integers(1, 65535)),
        min_size=1,
        max_size=3,
    ),
)
def test_round_trip_of_well_formed_urls(scheme: str, password: str, hosts: list) -> None:
    netloc = ",".join(f"{h}:{p}" for h, p in hosts)
    from urllib.parse import quote

    ep = parse_url(f"{scheme}://u:{quote(password, safe='')}@{netloc}/db", ALL)
    assert ep.hosts == tuple(hosts)
    assert ep.password == password
    assert "***" in ep.shown()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://app:Xq1@hunter2/Zz9@127.0.0.1:61432/appdb",  # raw '@' and '/'
        "postgresql://app:pa?ss@127.0.0.1:61432/appdb",
        "postgresql://app:pa#ss@127.0.0.1:61432/appdb",
    ],
)
def test_a_raw_reserved_character_in_the_password_is_refused_not_misread(url: str) -> None:
    """Never a host made of a piece of the password (that would be looked up in DNS)."""
    with pytest.raises(ValueError) as caught:
        parse_url(url, ("postgresql",))
    message = str(caught.value)
    assert message.startswith("the user or password in the URL holds a raw")
    assert "percent-encode" in message
    assert not any(part in message for part in ("hunter2", "Zz9", "Xq1", "pa?ss", "pa#ss"))


def test_an_at_sign_in_a_query_is_not_a_login() -> None:
    assert parse_url("http://h/p?email=a@b.com", ALL).hosts == (("h", 80),)
