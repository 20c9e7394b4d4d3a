"""`mysql` end to end: the installed CLI against a real MariaDB, URLs from the environment with
a canary password that must not appear in any output, and fixes that really repair the server."""

from __future__ import annotations

import shlex
from typing import Any

from tests.conftest import Project, closed_port
from tests.kinds._helpers import reported
from tests.servers.mariadb import (
    APP_CANARY,
    APP_PASSWORD,
    APP_USER,
    DATABASE,
    LIMITED_PASSWORD,
    LIMITED_USER,
    Mariadb,
)
from tests.servers.smtp import SmtpServer

SECRETS = (APP_PASSWORD, APP_CANARY, LIMITED_PASSWORD)


def check_url(project: Project, url: str, *more_secrets: str) -> dict[str, Any]:
    """Runs the check as JSON, console and `explain` with DATABASE_URL=url; returns the JSON
    check after asserting that no secret shows in any of the three (stdout or stderr)."""
    project.checks('[[check]]\nid = "db"\nkind = "mysql"\nurl = "${DATABASE_URL}"\n')
    return reported(project, "db", {"DATABASE_URL": url}, (*SECRETS, *more_secrets))


def statement(fix: str) -> str:
    """The SQL of a `mysql ... -e '<statement>'` fix, as the shell would pass it."""
    argv = shlex.split(fix)
    assert argv[0] == "mysql" and argv[-2] == "-e"
    return argv[-1]


def test_login_from_database_url_passes(project: Project, mariadb: Mariadb) -> None:
    found = check_url(project, mariadb.url(APP_USER, APP_PASSWORD, DATABASE))
    assert found["status"] == "pass"
    assert found["code"] == 0
    version = mariadb.sql("SELECT VERSION()").strip().split("-")[0]
    assert found["message"].startswith(
        f"MariaDB {version} accepting connections (login as {APP_USER} to {DATABASE} accepted) "
        f"at 127.0.0.1:{mariadb.port} in "
    )
    assert "greeting: MariaDB" in found["explain"]
    assert "login accepted; sent COM_QUIT" in found["explain"]


def test_wrong_password_fails_and_is_not_shown(project: Project, mariadb: Mariadb) -> None:
    found = check_url(project, mariadb.url(APP_USER, LIMITED_PASSWORD, DATABASE))
    assert found["status"] == "fail"
    assert found["message"] == (
        f"MySQL at 127.0.0.1:{mariadb.port} rejected the credentials: access denied for user "
        f"{APP_USER} (error 1045: Access denied for user '{APP_USER}'@'127.0.0.1' "
        "(using password: YES))"
    )
    assert found["fix"] == "check the user and password in the URL (they are never shown here)"


def test_missing_database_fix_creates_it(project: Project, mariadb: Mariadb) -> None:
    url = mariadb.url(APP_USER, APP_PASSWORD, "app_orders")
    found = check_url(project, url)
    assert found["status"] == "fail"
    assert found["message"] == (
        f"MySQL is up at 127.0.0.1:{mariadb.port} but refuses this login: database app_orders "
        "does not exist (error 1049: Unknown database 'app_orders')"
    )
    assert found["fix"] == (
        f"mysql -h 127.0.0.1 -P {mariadb.port} -u root -p -e 'CREATE DATABASE `app_orders`'"
    )
    mariadb.sql(statement(found["fix"]))
    try:
        assert check_url(project, url)["status"] == "pass"
    finally:
        mariadb.sql("DROP DATABASE app_orders")


def test_database_without_privilege_fix_grants_it(project: Project, mariadb: Mariadb) -> None:
    url = mariadb.url(LIMITED_USER, LIMITED_PASSWORD, DATABASE)
    found = check_url(project, url)
    assert found["status"] == "fail"
    assert found["message"].startswith(
        f"MySQL is up at 127.0.0.1:{mariadb.port} but refuses this login: user {LIMITED_USER} "
        f"may not use database {DATABASE} "
    )
    account = f"`{LIMITED_USER}`@`127.0.0.1`"
    assert statement(found["fix"]) == (
        f"CREATE DATABASE IF NOT EXISTS `{DATABASE}`; "
        f"GRANT ALL PRIVILEGES ON `{DATABASE}`.* TO {account}"
    )
    mariadb.sql(statement(found["fix"]))
    try:
        assert check_url(project, url)["status"] == "pass"
    finally:
        mariadb.sql(f"REVOKE ALL PRIVILEGES ON `{DATABASE}`.* FROM {account}")


def test_user_without_password_in_url_is_a_warning(project: Project, mariadb: Mariadb) -> None:
    found = check_url(project, mariadb.url(APP_USER, None, DATABASE))
    assert found["status"] == "warn"
    assert found["code"] == 0  # up, just not usable as written: a warning, still ready
    assert found["message"].startswith(
        f"MySQL is up at 127.0.0.1:{mariadb.port} but needs credentials the URL does not carry: "
        f"user {APP_USER} needs a password"
    )
    # (The redactor masks the placeholder too: "USER:***@" today.)
    assert found["fix"].startswith("put the credentials in the URL: mysql://USER:")
    assert found["fix"].endswith(f"@127.0.0.1:{mariadb.port}/{DATABASE}")


def test_host_not_allowed_fixes_lead_to_a_pass(
    project: Project, mariadb_no_tcp_users: Mariadb
) -> None:
    db = mariadb_no_tcp_users
    password = "s3t-by-the-admin"
    url = db.url(APP_USER, password, DATABASE)
    found = check_url(project, url, password)
    assert found["status"] == "fail"
    assert found["message"] == (
        f"MySQL is up at 127.0.0.1:{db.port} but refuses this login: no account on the server "
        "may connect from this host (error 1130: Host '127.0.0.1' is not allowed to connect to "
        "this MariaDB server)"
    )
    # Run on the server itself: this host is the one it refuses.
    assert found["fix"] == (
        'mysql -u root -p -e \'CREATE USER `app`@`127.0.0.1` IDENTIFIED BY "PASSWORD"; '
        f"GRANT ALL PRIVILEGES ON `{DATABASE}`.* TO `app`@`127.0.0.1`'"
    )
    db.sql(statement(found["fix"]).replace('"PASSWORD"', f'"{password}"'))
    try:
        # The account exists now; the database it was granted does not, and says so.
        second = check_url(project, url, password)
        assert second["status"] == "fail"
        assert "(error 1049: " in second["message"]
        db.sql(statement(second["fix"]))
        assert check_url(project, url, password)["status"] == "pass"
    finally:
        db.sql(f"DROP USER `app`@`127.0.0.1`; DROP DATABASE IF EXISTS `{DATABASE}`")


def test_too_many_connections_is_not_ready(project: Project, mariadb: Mariadb) -> None:
    with mariadb.exhausted():
        found = check_url(project, mariadb.url())
    assert found["status"] == "fail"
    assert found["message"] == (
        f"MySQL at 127.0.0.1:{mariadb.port} is not ready: too many connections: every one of "
        "max_connections is in use; close idle clients or raise max_connections "
        "(error 1040: Too many connections)"
    )


def test_host_and_port_options_without_url(project: Project, mariadb: Mariadb) -> None:
    project.checks(
        f'[[check]]\nid = "db"\nkind = "mysql"\nhost = "127.0.0.1"\nport = {mariadb.port}\n'
    )
    result = project.run("check", "--format", "json")
    assert result.code == 0, result.stdout + result.stderr
    (found,) = result.json()["checks"]
    assert found["status"] == "pass"
    assert "accepting connections (auth: mysql_native_password) at 127.0.0.1:" in found["message"]


def test_mariadb_scheme(project: Project, mariadb: Mariadb) -> None:
    found = check_url(project, mariadb.url(APP_USER, APP_PASSWORD, DATABASE, scheme="mariadb"))
    assert found["status"] == "pass"


def test_smtp_on_the_port_is_named(project: Project, smtp_server: SmtpServer) -> None:
    found = check_url(project, f"mysql://{APP_USER}:{APP_CANARY}@127.0.0.1:{smtp_server.port}/x")
    assert found["status"] == "fail"
    assert found["message"].startswith(
        f"SMTP answered at 127.0.0.1:{smtp_server.port}, not MySQL (it sent 220 mail.envdoctor"
    )
    assert found["fix"].startswith(f"check the port: {smtp_server.port} ")
    assert found["fix"].endswith("(MySQL's usual port is 3306)")


def test_refused_names_how_to_start_it(project: Project) -> None:
    port = closed_port()
    found = check_url(project, f"mysql://{APP_USER}:{APP_CANARY}@127.0.0.1:{port}/app")
    assert found["status"] == "fail"
    assert found["message"].startswith(
        f"refused at 127.0.0.1:{port}; nothing listens on port {port}"
    )
    assert found["fix"] == "sudo systemctl start mariadb"
