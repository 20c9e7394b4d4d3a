"""`mysql`: a MySQL or MariaDB server greets with protocol 10 and its version.

The server speaks first: its greeting proves it is up and names the version; an error packet
instead says why it will not talk (1040 too many connections, 1129 host blocked, 1130 host not
allowed). With a user in the URL the probe logs in (the password is used, never shown), so a
wrong password (1045), a missing database (1049) and a database the user may not use (1044)
each get their own message, and the fixes below give the statement that repairs them.
"""

from __future__ import annotations

import re
from typing import Any

from envdoctor.kinds.service import ServiceKind

_ACCOUNT = re.compile(r"for user '([^']*)'@'([^']*)'")
_HOST = re.compile(r"Host '([^']*)'")


def sql_identifier(name: str) -> str:
    """`name` quoted as a MySQL identifier (backticks doubled)."""
    return "`" + name.replace("`", "``") + "`"


def sql_account(user: str, host: str) -> str:
    """`user`@`host`: backticks rather than quotes, so the shell quoting stays readable."""
    return f"{sql_identifier(user)}@{sql_identifier(host)}"


def mysql_command(statement: str, host: str | None = None, port: int | None = None) -> str:
    """`mysql [-h H -P P] -u root -p -e '<statement>'`, shell-quoted for copy and paste."""
    import shlex

    argv = ["mysql"]
    if host is not None and port is not None and (host, port) != ("localhost", 3306):
        argv += ["-h", host, "-P", str(port)]
    argv += ["-u", "root", "-p", "-e", statement]
    return shlex.join(argv)


class MysqlKind(ServiceKind):
    name = "mysql"
    protocol = "MySQL"
    summary = (
        "A MySQL or MariaDB server greets with its protocol and version (and takes this login)."
    )
    passes_when = (
        "the server's greeting packet (protocol 10) arrives, not an error packet "
        "(and, with a user in the URL, the login is accepted)"
    )
    schemes = ("mysql", "mariadb")
    probe_module = "envdoctor.probes.mysql"
    processes = ("mysqld", "mariadbd", "mariadb")
    start_hints = (
        ("linux", "sudo systemctl start mariadb"),
        ("darwin", "brew services start mysql"),
    )
    docker_image = "mysql:8"
    container_port = 3306

    def not_ready_fix(self, result: Any, endpoint: Any, host: str, port: int) -> str | None:
        if result.code in ("1040", "1203"):  # full: waiting helps only if clients go away
            return "close idle clients, or raise max_connections (SET GLOBAL max_connections=...)"
        return super().not_ready_fix(result, endpoint, host, port)

    def login_fix(self, result: Any, endpoint: Any, host: str, port: int) -> str | None:
        """The statement an administrator runs; never the password (`PASSWORD` stands in)."""
        code = result.code
        database = endpoint.database
        if code == "1049" and database:
            return mysql_command(f"CREATE DATABASE {sql_identifier(database)}", host, port)
        if code == "1044" and database:
            found = _ACCOUNT.search(result.message)
            user, client = found.groups() if found else (endpoint.user, "%")
            account = sql_account(user, client)
            statement = (
                f"CREATE DATABASE IF NOT EXISTS {sql_identifier(database)}; "
                f"GRANT ALL PRIVILEGES ON {sql_identifier(database)}.* TO {account}"
            )
            return mysql_command(statement, host, port)
        if code == "1129":
            # Run on the database server: this host cannot connect until the block is lifted.
            return "mysqladmin -u root -p flush-hosts"
        if code == "1130":
            found = _HOST.search(result.message)
            client = found.group(1) if found else "%"
            account = sql_account(endpoint.user or "USER", client)
            scope = f"{sql_identifier(database)}.*" if database else "*.*"
            statement = (
                f'CREATE USER {account} IDENTIFIED BY "PASSWORD"; '
                f"GRANT ALL PRIVILEGES ON {scope} TO {account}"
            )
            # Also on the server itself: connections from here are what it refuses.
            return mysql_command(statement)
        return None


KIND = MysqlKind()
