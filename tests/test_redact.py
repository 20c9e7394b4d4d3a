"""Secrets never shown: URL passwords and secret literals are masked in every string."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envdoctor.redact import MASK, Redactor, redact_url, secret_values, url_passwords

FUZZ = settings(max_examples=200, deadline=None)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://app:pw@db:5432/app", "postgresql://app:***@db:5432/app"),
        ("postgres://app:pw@db/app", "postgres://app:***@db/app"),
        ("postgresql+asyncpg://u:p4ss@h/d", "postgresql+asyncpg://u:***@h/d"),
        ("postgresql+psycopg2://u:p4ss@h/d", "postgresql+psycopg2://u:***@h/d"),
        ("redis://:pw@localhost:6379/0", "redis://:***@localhost:6379/0"),
        ("rediss://default:pw@h:6380", "rediss://default:***@h:6380"),
        ("amqp://guest:guest@rabbit:5672/%2F", "amqp://guest:***@rabbit:5672/%2F"),
        ("amqps://u:pw@mq", "amqps://u:***@mq"),
        ("mongodb://root:example@mongo:27017", "mongodb://root:***@mongo:27017"),
        (
            "mongodb+srv://u:pw@cluster0.x.net/db?retryWrites=true",
            "mongodb+srv://u:***@cluster0.x.net/db?retryWrites=true",
        ),
        ("mysql://root:secret@127.0.0.1:3306/app", "mysql://root:***@127.0.0.1:3306/app"),
        ("mysql+pymysql://root:secret@db/app", "mysql+pymysql://root:***@db/app"),
        ("kafka://u:pw@broker:9092", "kafka://u:***@broker:9092"),
        ("smtp://user:pw@mail:25", "smtp://user:***@mail:25"),
        ("memcached://u:pw@cache", "memcached://u:***@cache"),
        ("http://admin:admin@localhost:9093/-/ready", "http://admin:***@localhost:9093/-/ready"),
        ("https://user:tok-en.123@example.com", "https://user:***@example.com"),
        ("ftp://anon:e%40mail@files", "ftp://anon:***@files"),
        ("x://user:pa:ss@h", "x://user:***@h"),
    ],
)
def test_url_passwords_are_masked(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert Redactor()(url) == shown


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://app@db:5432/app",  # user only
        "redis://localhost:6379/0",
        "https://host:8443/path",
        "http://host:8080/a@b",  # '@' in the path is not userinfo
        "mysql://root:@db/app",  # empty password: nothing to hide
        "mailto:someone@example.com",
        "plain text with a colon: and an @ sign",
    ],
)
def test_urls_without_password_are_untouched(url: str) -> None:
    assert redact_url(url) == url


def test_several_urls_in_one_message() -> None:
    text = "tried postgresql://a:one@x/db then redis://:two@y:6379 (both refused)"
    assert (
        Redactor()(text) == "tried postgresql://a:***@x/db then redis://:***@y:6379 (both refused)"
    )


def test_secret_literals_are_replaced_everywhere() -> None:
    redactor = Redactor({"hunter22", "tok-123"})
    text = "AUTH hunter22 failed; header Bearer tok-123; again hunter22"
    assert redactor(text) == "AUTH *** failed; header Bearer ***; again ***"


def test_longest_secret_first() -> None:
    redactor = Redactor({"secret", "secret-extended"})
    assert redactor("secret-extended and secret") == "*** and ***"


def test_short_secrets_are_not_masked() -> None:
    # One or two characters would mask half of every message.
    redactor = Redactor({"a", "pw", ""})
    assert redactor("a pw") == "a pw"


def test_none_and_empty_pass_through() -> None:
    redactor = Redactor({"secret"})
    assert redactor(None) is None
    assert redactor("") == ""


def test_secrets_from_any_iterable() -> None:
    redactor = Redactor(iter(["abc-secret"]))
    assert redactor("x abc-secret") == "x ***"
    assert redactor("x abc-secret") == "x ***"  # the iterable is read once, kept


def test_mask() -> None:
    assert MASK == "***"


def test_password_with_a_raw_at_sign() -> None:
    assert redact_url("postgres://u:p@ss@h/db") == "postgres://u:***@h/db"


_PASSWORD = st.text(
    alphabet=st.characters(
        blacklist_characters="/@ \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0",
        blacklist_categories=("Cs", "Zs", "Zl", "Zp"),
    ),
    min_size=1,
    max_size=20,
)
_USER = st.from_regex(r"[A-Za-z0-9_.\-]{0,8}", fullmatch=True)
_SCHEME = st.sampled_from(
    ["postgresql", "redis", "amqp", "mongodb+srv", "mysql+pymysql", "http", "s3"]
)


@FUZZ
@given(_SCHEME, _USER, _PASSWORD, st.text(max_size=10), st.text(max_size=10))
def test_password_never_survives(
    scheme: str, user: str, password: str, before: str, after: str
) -> None:
    text = f"{before} {scheme}://{user}:{password}@host:1/db {after}"
    shown = Redactor()(text)
    assert shown is not None
    assert f"{scheme}://{user}:{MASK}@host:1/db" in shown


@FUZZ
@given(st.text())
def test_redactor_never_raises_and_is_idempotent(text: str) -> None:
    redactor = Redactor({"s3cr3t"})
    once = redactor(text)
    assert redactor(once) == once
    assert re.search(r"(?<![A-Za-z0-9_])s3cr3t(?![A-Za-z0-9_])", once or "") is None


def test_the_fill_in_placeholder_of_a_fix_is_not_a_secret() -> None:
    assert (
        Redactor()("put it in: redis://USER:PASSWORD@h:1") == "put it in: redis://USER:PASSWORD@h:1"
    )
    assert Redactor()("redis://u:PASSWORD2@h") == "redis://u:***@h"
    # a real password that happens to be the placeholder is still masked (a known secret)
    assert Redactor({"PASSWORD"})("redis://u:PASSWORD@h") == "redis://u:***@h"


def test_a_whole_url_option_gives_its_password_up_to_the_last_at() -> None:
    from envdoctor.redact import url_passwords

    assert "CANARY b" in url_passwords("http://u:CANARY b@h/x")
    assert "Xq1@hunter2/Zz9" in url_passwords("postgresql://app:Xq1@hunter2/Zz9@127.0.0.1/db")
    secrets = url_passwords("postgresql://app:Xq1@hunter2/Zz9@127.0.0.1/db")
    shown = Redactor(set(secrets))("url = 'postgresql://app:Xq1@hunter2/Zz9@127.0.0.1/db'")
    assert "hunter2" not in shown and "Zz9" not in shown and "Xq1" not in shown


def test_a_secret_is_masked_as_a_word_not_inside_other_words() -> None:
    """The password `app` must not turn the database `appdb` into `***db`, nor `user` into
    `us***r` for a password `ser`: a message stays readable and a fix stays a command."""
    redactor = Redactor({"app", "ser", "hunter22"})
    assert redactor('database "appdb" of user "app"') == 'database "appdb" of user "***"'
    assert redactor("invalid username-password pair") == "invalid username-password pair"
    assert redactor("pw=hunter22; 'hunter22' hunter22.") == "pw=***; '***' ***."


def test_a_secret_with_punctuation_at_its_edge_is_masked_wherever_it_stands() -> None:
    assert Redactor({"-k3y!"})("x-k3y!y") == "x***y"


@pytest.mark.parametrize(
    ("url", "free"),
    [
        ("postgresql://postgres:postgres@db/app", []),  # the user name, shown anyway
        ("amqp://guest:guest@mq", []),
        ("redis://:redis@cache", []),  # a documented default: public
        ("mysql://app:Root@db", []),
        ("postgresql://app:s3cr3t-Canary@db/app", ["s3cr3t-Canary"]),
    ],
)
def test_which_url_passwords_are_masked_outside_their_url(url: str, free: list[str]) -> None:
    assert set(url_passwords(url)) == set(free)
    assert ":***@" in redact_url(url)  # in the URL itself, always


def test_fixes_and_product_names_survive_a_default_password() -> None:
    config_secrets = set(url_passwords("postgresql://postgres:postgres@127.0.0.1:5432/nosuch"))
    config_secrets |= secret_values({"POSTGRES_PASSWORD": "postgres", "API_TOKEN": "tok-7f3a9"})
    redactor = Redactor(config_secrets)
    fix = "createdb -h 127.0.0.1 -p 5432 -U postgres --owner postgres nosuch"
    assert redactor(fix) == fix
    assert redactor("sudo systemctl start postgresql") == "sudo systemctl start postgresql"
    assert redactor("echo tok-7f3a9") == "echo ***"
