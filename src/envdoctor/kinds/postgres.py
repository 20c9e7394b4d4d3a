"""`postgres`: a PostgreSQL server answers its own protocol, and says whether this login would work.

An open port proves nothing; a StartupMessage with the URL's user and database does: the server
answers with an authentication request (up), `57P03` (starting up, shutting down, a standby not
accepting connections), or another error that names what is wrong with this login (role or
database missing, password rejected). With a password in the URL the probe completes cleartext,
md5 or SCRAM-SHA-256 authentication, so a wrong password and a missing database are told apart.

TLS follows the URL's `sslmode` as libpq does (default `prefer`); `sslrootcert` names the CA
file for `verify-ca`/`verify-full`, and `verify = false` turns certificate checks off. A refused
login gets the command that fixes it where there is one: `createdb` for a missing database,
`createuser` for a missing role, the pg_hba.conf line for a client the server has no entry for.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from envdoctor.kinds.service import ServiceKind

_HBA_HOST = re.compile(r'host "([^"]+)"')


ADMIN = "postgres"  # the superuser initdb and the official images create


class PostgresKind(ServiceKind):
    name = "postgres"
    protocol = "PostgreSQL"
    summary = "A PostgreSQL server answers its own protocol and accepts this login."
    passes_when = (
        "the server answers a StartupMessage with an authentication request (and, with a "
        "password in the URL, accepts it and the database), read to ReadyForQuery"
    )
    schemes = ("postgresql", "postgres")
    probe_module = "envdoctor.probes.postgres"
    processes = ("postgres", "postmaster")
    start_hints = (
        ("linux", "sudo systemctl start postgresql"),
        ("darwin", "brew services start postgresql"),
    )
    docker_image = "postgres:16"
    container_port = 5432

    def endpoint(self, options: dict[str, Any]) -> Any:
        """The base endpoint, with the URL's `sslmode` checked (libpq rejects a typo too)."""
        endpoint = super().endpoint(options)
        mode = endpoint.params.get("sslmode")
        if mode is not None:
            from envdoctor.probes.postgres import SSLMODES

            if mode.strip().lower() not in SSLMODES:
                # The value is not echoed: the URL may come from ${DATABASE_URL}.
                raise ValueError(f"the URL's sslmode must be one of {', '.join(SSLMODES)}")
        return endpoint

    def tls_context(self, endpoint: Any, options: dict[str, Any]) -> Any:
        """None: TLS is negotiated in-band (SSLRequest), as `sslmode` says. `verify = false`
        hands the probe a non-verifying context for that upgrade, whatever the sslmode."""
        if options.get("verify") is False:
            from envdoctor.probes.postgres import unverified_context

            return unverified_context()
        return None

    def not_ready_fix(self, result: Any, endpoint: Any, host: str, port: int) -> str | None:
        """Waiting helps a server that is starting; not a standby kept closed, nor one that is
        shutting down (it will refuse next, until someone starts it again)."""
        if "hot_standby = off" in result.message:
            return (
                "point the URL at the primary, or set hot_standby = on on this server (a "
                "server in archive recovery accepts connections once recovery ends)"
            )
        if "shutting down" in result.message:
            return "start it again once it has stopped (pg_ctl start, or your service manager)"
        return super().not_ready_fix(result, endpoint, host, port)

    def login_fix(self, result: Any, endpoint: Any, host: str, port: int) -> str | None:
        user = endpoint.user or endpoint.params.get("user") or "postgres"
        database = endpoint.database or endpoint.params.get("dbname") or user
        where = ["-h", host, "-p", str(port)]
        message = result.message
        # As an administrator (the URL's own role may not create databases or roles), for
        # the URL's role; a role the URL gives a password gets one asked for (never shown).
        if result.code == "3D000":
            return shlex.join(["createdb", *where, "-U", ADMIN, "--owner", user, database])
        if result.code == "28000" and message.startswith("role "):
            ask = ["--pwprompt"] if endpoint.has_password else []
            return shlex.join(["createuser", *where, "-U", ADMIN, "--login", *ask, user])
        if result.code == "28000" and message.startswith("pg_hba.conf rejects"):
            return (
                f"pg_hba.conf has a reject line for this client, user {user!r} and database "
                f"{database!r}: remove or narrow it, then reload (SELECT pg_reload_conf())"
            )
        if result.code == "28000" and "no pg_hba.conf entry" in message:
            found = _HBA_HOST.search(message)
            client = found.group(1) if found else "CLIENT_ADDRESS"
            mask = "/128" if ":" in client else "/32"
            return (
                f"add to pg_hba.conf: host {database} {user} {client}{mask} scram-sha-256 "
                "(then reload: SELECT pg_reload_conf())"
            )
        if result.code == "sslmode":
            return (
                "turn TLS on in the server (ssl = on, with a certificate), or use "
                "sslmode=prefer in the URL"
            )
        return None


KIND = PostgresKind()
